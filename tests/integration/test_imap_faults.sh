#!/bin/bash
# An IMAP server that dies in the middle of a copy (design.md section 7):
# Dovecot is killed (SIGKILL to every process of it) while cp -a writes into
# the mount — once between messages, once while it receives an APPEND — and
# started again after longer than the mount's timeout. cp must report errors
# and nothing may hang (every tool runs under timeout); the mount stays
# usable; an rsync -aX re-run then completes, and every Message-ID is on the
# server exactly once, with the source's bytes.
#
#   MAILFS_BIN=build/mount-tools/mailfs bash tests/integration/test_imap_faults.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$MAILFS_SOURCE_DIR/tests/support/imap_it.sh"
imap_it_init
command -v rsync >/dev/null || skip "rsync is not installed"
command -v setfattr >/dev/null || skip "setfattr (attr) is not installed"

TIMEOUT=5          # the mount's -o timeout
OUTAGE=9           # seconds the server stays dead (longer than TIMEOUT)

imap_gen alice 10 31 --huge-mb 0
dovecot_start || die "dovecot did not start"
imap_need_rw

# ---------------------------------------------------------------------------
# Source tree (owned by nobody): Small/ with 240 messages with unique
# Message-IDs, Big/ with 3 messages of 24 MiB; every file named as mailfs
# will list it, mtime = internal date, flags as xattrs.
SRC="$IT_TMP/src"
python3 - "$SRC" "$MAILFS_SOURCE_DIR" <<'EOF' || die "source generation failed"
import datetime, os, sys
src, top = sys.argv[1], sys.argv[2]
sys.path[:0] = [top + "/tests/gen", top + "/tests/support"]
import gen_imap_account as g
import mailname
gen = g.Gen(31)
start = datetime.datetime(2021, 5, 1, tzinfo=datetime.timezone.utc)
FLAGS = ["\\Seen", "", "\\Answered \\Seen", "\\Flagged \\Seen $Work"]

def write(folder, items):
    os.makedirs(os.path.join(src, folder), exist_ok=True)
    entries = []
    for ident, data, when in items:
        crlf = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        entries.append((ident, __import__("hashlib").sha256(crlf).hexdigest(),
                        mailname.message_base_name(crlf, when)))
    names = mailname.expected_names(entries)
    for k, (ident, data, when) in enumerate(items):
        p = os.path.join(src, folder, names[ident])
        with open(p, "wb") as f:
            f.write(data)
        os.utime(p, (when, when))
        if FLAGS[k % 4]:
            os.setxattr(p, "user.mail.flags", FLAGS[k % 4].encode())

small, seen = [], set()
i = 0
while len(small) < 240:
    dt = start + datetime.timedelta(hours=i)
    data, kind = gen.message(i, dt)
    i += 1
    fields = mailname.header_fields(mailname.header_block(data))
    mid = mailname.first_field(fields, "message-id")
    token = mailname.message_id_token(mid) if mid is not None else ""
    if not token or token in seen:
        continue
    seen.add(token)
    small.append((i, data, int(dt.timestamp()) + 60))
write("Small", small)
big = [(k, gen.huge(10000 + k, start + datetime.timedelta(days=k), 24),
        int((start + datetime.timedelta(days=k)).timestamp()) + 60) for k in range(3)]
write("Big", big)
EOF
chown -R nobody:nogroup "$SRC"

# killer.py MASTER_PIDFILE WHAT DIR [N]: waits (60 s at most) until Dovecot
# has stored N messages in the maildir folder DIR (WHAT=stored), or is
# receiving one into DIR/tmp (WHAT=receiving), then SIGKILLs the master and
# every process below it, at once.
cat >"$IT_TMP/killer.py" <<'EOF'
import os, signal, sys, time
pidfile, what, d = sys.argv[1], sys.argv[2], sys.argv[3]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 0
master = int(open(pidfile).read())

def count(sub):
    try:
        return len(os.listdir(os.path.join(d, sub)))
    except OSError:
        return 0

def receiving():
    try:
        return any(os.path.getsize(os.path.join(d, "tmp", f)) > 0 for f in os.listdir(os.path.join(d, "tmp")))
    except OSError:
        return False

end = time.time() + 60
while time.time() < end:
    if (what == "stored" and count("cur") + count("new") >= n) or (what == "receiving" and receiving()):
        os.kill(master, signal.SIGSTOP)
        kids = {}
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    s = open("/proc/%s/stat" % p).read()
                except OSError:
                    continue
                kids.setdefault(int(s[s.rindex(")") + 2:].split()[1]), []).append(int(p))
        todo, procs = [master], []
        while todo:
            p = todo.pop()
            procs.append(p)
            todo.extend(kids.get(p, []))
        for p in procs:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        print("killed %d dovecot processes (%s: stored %d)" % (len(procs), what, count("cur") + count("new")))
        sys.exit(0)
    time.sleep(0.003)
print("condition never met (%s in %s)" % (what, d))
sys.exit(1)
EOF

A="$IT_TMP/alice"
imap_mount alice imaps "$A" "rw,timeout=$TIMEOUT,dir_cache_ttl=2" || die "cannot mount alice"
MD=$(dovecot_maildir alice)

# outage FOLDER KILLER_ARGS... : runs the killer, keeps the server dead for
# $OUTAGE seconds while checking that the mount answers (its root, and FOLDER,
# not listed before, which needs the server: an error within the deadline,
# never a hang), then starts it again.
outage() {
  local t0 t1 rc folder=$1
  shift
  check "Dovecot killed at the chosen moment" python3 "$IT_TMP/killer.py" "$DOVECOT_DIR/run/master.pid" "$@" || return 1
  rm -f "$DOVECOT_DIR/run/master.pid"
  t0=$SECONDS
  timeout 60 ls "$A" >"$IT_TMP/ls-during.out" 2>&1
  rc=$?
  IT_CHECKS=$((IT_CHECKS + 1))
  if [ $rc -eq 124 ]; then
    fail "ls of the mount hung while the server was down"
  elif grep -q "Transport endpoint is not connected" "$IT_TMP/ls-during.out"; then
    fail "the mount died: $(cat "$IT_TMP/ls-during.out")"
  else
    pass "ls of the mount answered in $((SECONDS - t0)) s while the server was down (exit $rc)"
  fi
  t1=$SECONDS
  timeout 60 ls "$A/$folder" >"$IT_TMP/ls-folder.out" 2>&1
  rc=$?
  IT_CHECKS=$((IT_CHECKS + 1))
  if [ $rc -eq 124 ]; then
    fail "ls of the unlisted folder $folder hung while the server was down"
  elif [ $rc -eq 0 ]; then
    pass "ls of the unlisted folder $folder answered (the daemon had it already)"
  elif grep -Eq "Input/output error|Connection timed out" "$IT_TMP/ls-folder.out" &&
       [ $((SECONDS - t1)) -le $((3 * TIMEOUT + 5)) ]; then
    pass "ls of the unlisted folder $folder failed in $((SECONDS - t1)) s: $(head -c 120 "$IT_TMP/ls-folder.out")"
  else
    fail "ls of the unlisted folder $folder: exit $rc after $((SECONDS - t1)) s: $(head -c 200 "$IT_TMP/ls-folder.out")"
  fi
  sleep $((OUTAGE - (SECONDS - t0) > 0 ? OUTAGE - (SECONDS - t0) : 0))
  dovecot_start || die "dovecot did not restart"
  log "dovecot restarted"
}

# run_cp NAME SRC DST: cp -a in the background under timeout; sets CP_PID.
run_cp() {
  CP_NAME=$1
  timeout 300 cp -a "$2" "$3" >"$IT_TMP/$1.out" 2>&1 &
  CP_PID=$!
}

# cp_reported NAME: cp must have failed (not hung: timeout's 124) with an error.
cp_reported() {
  local rc
  wait "$CP_PID"
  rc=$?
  IT_CHECKS=$((IT_CHECKS + 1))
  if [ $rc -eq 124 ]; then
    fail "$1: cp hung (killed by timeout after 300 s)"
  elif [ $rc -eq 0 ]; then
    fail "$1: cp reported no error although the server died under it"
  else
    pass "$1: cp reported errors (exit $rc): $(grep -m1 -E 'error|timed out' "$IT_TMP/$CP_NAME.out" | cut -c1-150)"
  fi
}

# ---- between messages -----------------------------------------------------
run_cp copyA "$SRC/Small/." "$A/CopyA/"
outage Sent stored "$MD/CopyA" 60
cp_reported "kill between messages"

# ---- during an APPEND -------------------------------------------------------
run_cp copyB "$SRC/Big/." "$A/CopyB/"
outage Drafts receiving "$MD/CopyB"
cp_reported "kill during an APPEND"
check "the mount is still mounted" mountpoint -q "$A"

# ---- the re-run completes ---------------------------------------------------
check "rsync -aX re-run of Small completes" timeout 300 rsync -aX "$SRC/Small/" "$A/CopyA/"
check "rsync -aX re-run of Big completes" timeout 300 rsync -aX "$SRC/Big/" "$A/CopyB/"

# every Message-ID of the source exactly once on the server, with its bytes
probe alice snapshot --prefix CopyA >"$IT_TMP/copyA.json" || fail "snapshot failed"
probe alice snapshot --prefix CopyB >"$IT_TMP/copyB.json" || fail "snapshot failed"
check_once() {
  python3 - "$1" "$2" <<'EOF'
import collections, hashlib, json, os, sys
sys.path.insert(0, os.environ["PYTHONPATH"].split(":")[0])
import mailname
src, snap = sys.argv[1], sys.argv[2]
want = {}
for fn in os.listdir(src):
    data = open(os.path.join(src, fn), "rb").read()
    crlf = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    mid = mailname.message_id_token(mailname.first_field(
        mailname.header_fields(mailname.header_block(data)), "message-id"))
    want[mid] = hashlib.sha256(crlf).hexdigest()
got = collections.Counter()
shas = {}
for f in json.load(open(snap)):
    for x in f["messages"] or []:
        got[x["msgid"]] += 1
        shas[x["msgid"]] = x["sha"]
bad = []
for mid, sha in want.items():
    if got[mid] != 1:
        bad.append("%s on the server %d times" % (mid, got[mid]))
    elif shas[mid] != sha:
        bad.append("%s: bytes differ" % mid)
for mid in got:
    if mid not in want:
        bad.append("%s: not in the source" % mid)
for b in bad[:20]:
    print(b)
print("%d source messages, %d on the server, %d problems" % (len(want), sum(got.values()), len(bad)))
sys.exit(1 if bad else 0)
EOF
}
check "every Message-ID of Small is on the server exactly once, with its bytes" check_once "$SRC/Small" "$IT_TMP/copyA.json"
check "every Message-ID of Big is on the server exactly once, with its bytes" check_once "$SRC/Big" "$IT_TMP/copyB.json"
check "a further rsync -aX transfers nothing" \
  bash -c "rsync -aX --stats '$SRC/Small/' '$A/CopyA/' | grep -q '^Number of regular files transferred: 0$'"
check "the mount shows exactly the server's account" probe alice check-mount "$A"

stop_mount "$A"
expect_eq "the daemon exits 0 (nothing left unstored)" "$?" 0
grep -E "outcome unknown|NOT STORED" "${IT_LOGS[$A]:-/dev/null}" | head -n 5
it_finish
