#!/bin/bash
# An IMAP server that dies in the middle of a copy (design.md section 7):
# Dovecot is killed (SIGKILL to every process of it) while cp -a writes into
# the mount — once between messages, once while it receives an APPEND — and
# started again after longer than the mount's timeout. cp must report errors
# and nothing may hang (every tool runs under timeout); the mount stays
# usable; an rsync -aX re-run then completes, and every Message-ID is on the
# server exactly once, with the source's bytes. Then, through a proxy, the
# connection drops right after the server stored an APPEND: the daemon must
# find the message, report success and create no duplicate.
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
        crlf = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        p = os.path.join(src, folder, names[ident])
        with open(p, "wb") as f:
            f.write(crlf)     # as the server will serve them: a re-run can be a no-op
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
rsync -aX --stats --itemize-changes "$SRC/Small/" "$A/CopyA/" >"$IT_TMP/rsync3.out" 2>&1
expect_eq "a further rsync -aX transfers nothing" \
  "$(sed -n 's/^Number of regular files transferred: //p' "$IT_TMP/rsync3.out")" 0 ||
  grep -v '^\.' "$IT_TMP/rsync3.out" | head -n 12 | sed 's/^/    /' >&2
# ---- the connection drops after the server stored an APPEND -----------------
# A proxy between the daemon and Dovecot (plain IMAP, so it sees commands)
# passes everything through but swallows the server's OK to the 5th APPEND
# and closes the connection: the message is on the server, the daemon never
# heard so. design.md section 7: it must find the message after reconnecting
# (no duplicate), and the commit then succeeds.
# proxy.py PORT UPSTREAM NTH LOG BLACKOUT: passes IMAP through, swallows the
# server's OK to the NTH APPEND and drops that connection, then for BLACKOUT
# seconds closes every new connection at once (the server unreachable).
cat >"$IT_TMP/proxy.py" <<'EOF'
import re, socket, sys, threading
import time
port, upstream, nth, logf = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
blackout = float(sys.argv[5])
state = {"appends": 0, "tag": None, "dropped": False, "until": 0.0}
lock = threading.Lock()
conns = set()

def note(s):
    with lock, open(logf, "a") as f:
        f.write(s + "\n")

LIT = re.compile(rb"\{(\d+)\+?\}\r?\n$")

def client_to_server(c, u, dead):
    f = c.makefile("rb")
    try:
        while not dead.is_set():
            line = f.readline()
            if not line:
                break
            parts = line.split(None, 2)
            if len(parts) >= 2 and parts[1].upper() == b"APPEND":
                with lock:
                    state["appends"] += 1
                    if state["appends"] == nth and not state["dropped"]:
                        state["tag"] = parts[0]
            u.sendall(line)
            m = LIT.search(line)
            if m:
                u.sendall(f.read(int(m.group(1))))
    except OSError:
        pass
    dead.set()

def server_to_client(c, u, dead):
    f = u.makefile("rb")
    try:
        while not dead.is_set():
            line = f.readline()
            if not line:
                break
            with lock:
                tag = state["tag"]
            if tag is not None and line.startswith(tag + b" OK"):
                with lock:
                    state["dropped"] = True
                    state["tag"] = None
                    state["until"] = time.time() + blackout
                    others = list(conns) if blackout > 0 else []
                note("DROPPED after " + line.decode("latin-1").strip())
                for x in others:       # unreachable: every session goes
                    try:
                        x.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                break
            c.sendall(line)
            m = LIT.search(line)
            if m:
                c.sendall(f.read(int(m.group(1))))
    except OSError:
        pass
    dead.set()

def serve(c):
    with lock:
        closed = time.time() < state["until"]
    if closed:                 # the server is unreachable for a while
        note("REFUSED a connection")
        c.close()
        return
    u = socket.create_connection(("127.0.0.1", upstream))
    with lock:
        conns.update((c, u))
    dead = threading.Event()
    t = threading.Thread(target=client_to_server, args=(c, u, dead), daemon=True)
    t.start()
    server_to_client(c, u, dead)
    with lock:
        conns.difference_update((c, u))
    for s in (c, u):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(16)
note("READY")
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
PROXY_PORT=$(_dovecot_free_port)
PROXY_PID=""
# start_proxy NTH BLACKOUT LOG
start_proxy() {
  [ -n "$PROXY_PID" ] && { kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null; }
  PROXY_LOG=$3
  python3 "$IT_TMP/proxy.py" "$PROXY_PORT" "$IMAP_PORT" "$1" "$PROXY_LOG" "$2" >>"$IT_TMP/proxy.out" 2>&1 &
  PROXY_PID=$!
  wait_for 10 grep -qs READY "$PROXY_LOG" || die "the proxy did not start"
}
start_proxy 5 0 "$IT_TMP/proxy1.log"
mkdir -p "$IT_TMP/srcP"
find "$SRC/Small" -type f | sort | head -n 20 | while read -r f; do cp -a "$f" "$IT_TMP/srcP/"; done
P="$IT_TMP/proxied"
start_mount "imap://carol@127.0.0.1:$PROXY_PORT" "$P" \
  "tls=none,rw,timeout=$TIMEOUT,passfile=$IT_TMP/carol.pass,cache_dir=$IT_TMP/cache-proxied" ||
  die "cannot mount carol through the proxy"
timeout 120 cp -a "$IT_TMP/srcP/." "$P/CopyP/" >"$IT_TMP/cpP.out" 2>&1
rc=$?
check "the proxy dropped the connection after the server's OK to an APPEND" grep -q DROPPED "$IT_TMP/proxy1.log"
expect_eq "cp -a succeeds: the lost APPEND is found on the server ($(head -c 200 "$IT_TMP/cpP.out"))" "$rc" 0
probe carol snapshot --prefix CopyP >"$IT_TMP/copyP.json" || fail "snapshot failed"
check "every Message-ID is on the server exactly once after the lost OK" check_once "$IT_TMP/srcP" "$IT_TMP/copyP.json"
check "the mount lists every message of CopyP" test "$(find "$P/CopyP" -type f | wc -l)" -eq 20
stop_mount "$P"
expect_eq "the proxied daemon exits 0" "$?" 0

# The same lost OK, but the server then stays unreachable for longer than the
# timeout: the outcome cannot be checked, so cp gets an error ("outcome
# unknown", section 7). Once the server is back, an rsync -aX re-run must
# complete without storing the message a second time.
start_proxy 5 $((TIMEOUT * 3)) "$IT_TMP/proxy2.log"
start_mount "imap://carol@127.0.0.1:$PROXY_PORT" "$P" \
  "tls=none,rw,timeout=$TIMEOUT,passfile=$IT_TMP/carol.pass,cache_dir=$IT_TMP/cache-proxied2" ||
  die "cannot mount carol through the proxy"
timeout 300 cp -a "$IT_TMP/srcP/." "$P/CopyQ/" >"$IT_TMP/cpQ.out" 2>&1
rc=$?
check "the proxy dropped the connection after the OK, then refused connections" \
  grep -q REFUSED "$IT_TMP/proxy2.log"
IT_CHECKS=$((IT_CHECKS + 1))
if [ $rc -eq 124 ]; then fail "cp hung while the server was unreachable"; else
  pass "cp finished while the server was unreachable (exit $rc: $(head -n 1 "$IT_TMP/cpQ.out" | cut -c1-160))"; fi
sleep $((TIMEOUT * 3))
check "rsync -aX re-run after the server is back completes" \
  timeout 300 rsync -aX "$IT_TMP/srcP/" "$P/CopyQ/"
probe carol snapshot --prefix CopyQ >"$IT_TMP/copyQ.json" || fail "snapshot failed"
check "every Message-ID is on the server exactly once after outcome unknown and a re-run" \
  check_once "$IT_TMP/srcP" "$IT_TMP/copyQ.json"
stop_mount "$P"
expect_eq "the proxied daemon exits 0 (2)" "$?" 0
kill "$PROXY_PID" 2>/dev/null
wait "$PROXY_PID" 2>/dev/null

check "the mount shows exactly the server's account" probe alice check-mount "$A"

stop_mount "$A"
expect_eq "the daemon exits 0 (nothing left unstored)" "$?" 0
grep -E "outcome unknown|NOT STORED" "${IT_LOGS[$A]:-/dev/null}" | head -n 5
it_finish
