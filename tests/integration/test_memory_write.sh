#!/bin/bash
# Writes through a real mount of the in-memory store ("memory:"), with the
# tools users use: cp -a, rsync -aX, mv, cat, setfattr, rm, rmdir.  The
# source trees belong to another user (nobody) while the tools run as root,
# so chown reaches the mount and flags and dates must still arrive.
#
#   MAILFS_BIN=build/mount-tools/mailfs bash tests/integration/test_memory_write.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init
[ "$(id -u)" -eq 0 ] || skip "runs as root (chown of the source tree to nobody)"
command -v setfattr >/dev/null || skip "setfattr (attr) is not installed"
command -v rsync >/dev/null || skip "rsync is not installed"
touch "$IT_TMP/xattr-probe"
setfattr -n user.probe -v 1 "$IT_TMP/xattr-probe" 2>/dev/null ||
  skip "$IT_TMP does not support user.* xattrs"

export PYTHONPATH="$MAILFS_SOURCE_DIR/tests/support${PYTHONPATH:+:$PYTHONPATH}"

# ---------------------------------------------------------------------------
# make_tree.py DIR META: writes .eml files below DIR, named by the rules of
# design.md section 3 (a few on purpose not), and META lines
# "relative path<TAB>flags<TAB>date for touch -d" for the shell to apply.
cat >"$IT_TMP/make_tree.py" <<'PYEOF'
import base64, datetime, os, random, sys
import mailname

out, meta_path = sys.argv[1], sys.argv[2]
r = random.Random(42)
meta = []

def when(i):
    return datetime.datetime(2001, 1, 1) + datetime.timedelta(days=37 * i, seconds=3671 * i)

def rfc_date(dt, zone="+0000"):
    return dt.strftime("%a, %d %b %Y %H:%M:%S ") + zone

def message(subject_hdr, dt=None, mid=None, frm="Ann Park <ann@example.com>",
            body="Hello.\r\n", extra=b"", attach=None):
    h = ["From: " + frm, "To: Bob Jones <bob@example.net>"]
    if subject_hdr is not None:
        h.append("Subject: " + subject_hdr)
    if dt is not None:
        h.append("Date: " + rfc_date(dt))
    if mid:
        h.append("Message-ID: <%s>" % mid)
    h.append("MIME-Version: 1.0")
    if attach is None:
        h.append("Content-Type: text/plain; charset=utf-8")
        h.append("Content-Transfer-Encoding: 8bit")
        return ("\r\n".join(h) + "\r\n\r\n").encode() + body.encode() + extra
    b = "=_b_%08x" % r.getrandbits(32)
    h.append('Content-Type: multipart/mixed; boundary="%s"' % b)
    parts = ["--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n" % (b, body)]
    name, data = attach
    enc = base64.encodebytes(data).decode().replace("\n", "\r\n")
    parts.append("--%s\r\nContent-Type: application/octet-stream\r\n"
                 "Content-Disposition: attachment; filename=\"%s\"\r\n"
                 "Content-Transfer-Encoding: base64\r\n\r\n%s" % (b, name, enc))
    return ("\r\n".join(h) + "\r\n\r\n" + "".join(parts) + "--%s--\r\n" % b).encode()

FLAGS = ["\\Seen", "\\Seen \\Flagged", "", "\\Answered \\Seen", "\\Seen $Label1",
         "\\Draft", "\\Flagged $Work \\Seen"]

def add(folder, data, mtime_dt, flags, name=None, lf=False):
    if lf:
        data = data.replace(b"\r\n", b"\n")
    os.makedirs(os.path.join(out, folder), exist_ok=True)
    ts = int((mtime_dt - datetime.datetime(1970, 1, 1)).total_seconds())
    if name is None:
        crlf = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        name = mailname.message_base_name(crlf, ts) + ".eml"
    rel = os.path.join(folder, name)
    with open(os.path.join(out, rel), "wb") as f:
        f.write(data)
    meta.append("%s\t%s\t%s" % (rel, flags, mtime_dt.strftime("%Y-%m-%d %H:%M:%S UTC")))
    return rel

i = 0
def nxt():
    global i
    i += 1
    return i

folders = ["INBOX", "Sent", "Archive/2003", "Archive/2004/Q1",
           "R\u00e9pertoire \u00e9t\u00e9", "50%25 off"]
mode = sys.argv[3] if len(sys.argv) > 3 else "full"
for folder in folders:
    for k in range(4):
        n = nxt()
        dt = when(n)
        subj = r.choice(["Lunch on Friday?", "Quarterly numbers", "Re: status",
                         "=?UTF-8?Q?Caf=C3=A9_r=C3=A9sum=C3=A9?= %d" % n,
                         "=?ISO-8859-1?Q?Gr=FC=DFe?= aus Berlin",
                         "A rather long subject line that goes on and on and on "
                         "well past the eighty byte limit %d" % n,
                         "folded\r\n subject line %d" % n])
        subj = "%s #%d" % (subj, n) if r.random() < 0.5 else subj
        attach = None
        if k == 3:
            attach = ("data-%d.bin" % n, bytes(r.getrandbits(8) for _ in range(r.choice([10, 3000, 70000]))))
        add(folder, message(subj, dt, "msg%d@example.com" % n, body="Body %d\r\nline two\r\n" % n,
                            attach=attach),
            dt + datetime.timedelta(minutes=5), FLAGS[n % len(FLAGS)])
# No Date: the name takes the mtime; no Message-ID: the key takes date|from|subject.
add("INBOX", message("No date header", None, "nodate@example.com"),
    datetime.datetime(2005, 6, 7, 8, 9, 10), "\\Seen")
add("INBOX", message("No message id", when(50), None, frm='"Park, Ann" <Ann.Park@Example.COM>'),
    when(50), "")
if mode == "full":
    # Written under arbitrary names: listed under their own names later.
    add("INBOX", message("Arbitrary file name", when(60), "arb1@example.com"), when(60),
        "\\Seen", name="whatever-1.eml")
    add("Sent", message("Another arbitrary name", when(61), "arb2@example.com"), when(61),
        "", name="whatever-2.eml")
    # Bare LF line ends: stored as CRLF.
    add("lf", message("Bare LF message", when(70), "lf1@example.com",
                      body="one\r\ntwo\r\nthree\r\n"), when(70), "\\Seen", lf=True)
    add("lf", message("Bare LF multipart", when(71), "lf2@example.com",
                      attach=("x.bin", b"\0\1\2" * 100)), when(71), "\\Flagged", lf=True)
with open(meta_path, "w") as f:
    f.write("\n".join(meta) + "\n")
PYEOF

# verify_copy.py SRC DST: every message of SRC is in DST under its own name
# (collisions within a folder included), with CRLF-normalised bytes, the
# same mtime (whole seconds) and the same flags (normalised order).
cat >"$IT_TMP/verify_copy.py" <<'PYEOF'
import errno, hashlib, os, stat, sys
import mailname

src, dst = sys.argv[1], sys.argv[2]
SYSTEM = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"]

def norm_flags(s):
    items = s.split()
    sysf = [f for f in SYSTEM if f in items]
    kw = sorted(f for f in items if f not in SYSTEM and f != "\\Recent")
    return " ".join(sysf + kw)

def flags(p):
    try:
        return os.getxattr(p, "user.mail.flags").decode()
    except OSError as e:
        if e.errno == errno.ENODATA:
            return ""
        raise

bad = []
n = 0
for dirpath, dirs, files in os.walk(src):
    rel = os.path.relpath(dirpath, src)
    emls = sorted(f for f in files if f.endswith(".eml"))
    if not emls:
        continue
    entries = []
    info = {}
    for f in emls:
        p = os.path.join(dirpath, f)
        data = open(p, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        mt = int(os.stat(p).st_mtime)
        entries.append((f, hashlib.sha256(data).hexdigest(), mailname.message_base_name(data, mt)))
        info[f] = (data, mt, norm_flags(flags(p)))
    names = mailname.expected_names(entries)
    ddir = os.path.join(dst, rel)
    try:
        listed = sorted(x for x in os.listdir(ddir) if x.endswith(".eml"))
    except OSError as e:
        bad.append("%s: cannot list: %s" % (ddir, e))
        continue
    if sorted(names.values()) != listed:
        bad.append("%s: listing %r, expected %r" % (ddir, listed, sorted(names.values())))
    for f in emls:
        n += 1
        data, mt, fl = info[f]
        q = os.path.join(ddir, names[f])
        try:
            got = open(q, "rb").read()
            st = os.stat(q)
        except OSError as e:
            bad.append("%s: %s" % (q, e))
            continue
        if got != data:
            bad.append("%s: bytes differ from %s (%d vs %d bytes)" % (q, f, len(got), len(data)))
        if st.st_size != len(got):
            bad.append("%s: st_size %d, %d bytes read" % (q, st.st_size, len(got)))
        if int(st.st_mtime) != mt:
            bad.append("%s: mtime %d, expected %d" % (q, st.st_mtime, mt))
        if flags(q) != fl:
            bad.append("%s: flags %r, expected %r" % (q, flags(q), fl))
        if stat.S_IMODE(st.st_mode) != 0o600:
            bad.append("%s: mode %o, expected 600" % (q, stat.S_IMODE(st.st_mode)))
for p in bad[:100]:
    print("MISMATCH: " + p)
print("verify_copy: %d messages, %d problems" % (n, len(bad)))
sys.exit(1 if bad or n == 0 else 0)
PYEOF

# apply_meta DIR META: flags with setfattr, dates with touch -d.
apply_meta() {
  local dir=$1 rel fl dt
  while IFS=$'\t' read -r rel fl dt; do
    [ -n "$rel" ] || continue
    if [ -n "$fl" ]; then
      setfattr -n user.mail.flags -v "$fl" "$dir/$rel" || die "setfattr on $dir/$rel"
    fi
    touch -d "$dt" "$dir/$rel" || die "touch -d on $dir/$rel"
  done <"$2"
}

# make_source NAME [minimal]: a tree of messages owned by nobody.
make_source() {
  local dir="$IT_TMP/$1"
  python3 "$IT_TMP/make_tree.py" "$dir" "$dir.meta" "${2:-full}" || die "make_tree.py failed"
  apply_meta "$dir" "$dir.meta"
  chown -R nobody: "$dir" || die "chown -R nobody"
  chmod -R go-rwx "$dir"
}

# write_py PATH PYTHON-BYTES-EXPR: write and close in one process (errors of
# close() become the exit status and message).
write_close() {
  python3 - "$@" <<'PYEOF'
import os, sys
path, data = sys.argv[1], sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
try:
    os.write(fd, data)
finally:
    try:
        os.close(fd)
    except OSError as e:
        print("close: %s" % os.strerror(e.errno))
        sys.exit(1)
PYEOF
}

count_eml() { find "$1" -maxdepth 1 -type f -name '*.eml' | wc -l; }

# ---------------------------------------------------------------------------
MNT="$IT_TMP/mnt"
start_mount memory: "$MNT" "rw,cache_dir=$IT_TMP/cache" || die "cannot mount memory:"

# 1. cp -a of a tree owned by nobody.
make_source src
check "cp -a of a tree owned by nobody into the mount" cp -a "$IT_TMP/src" "$MNT/cpa"
check "cp -a: names, bytes (LF -> CRLF), mtimes, flags" \
  python3 "$IT_TMP/verify_copy.py" "$IT_TMP/src" "$MNT/cpa"
check "cp -a: mailname.py check of the mount" python3 "$MAILNAME" check "$MNT"
check "the name used to write keeps resolving" stat "$MNT/cpa/INBOX/whatever-1.eml"
expect_eq "folders are mode 0700" "$(find "$MNT/cpa" -type d ! -perm 0700 | head -n 3)" ""
expect_eq "no dot files are visible" "$(find "$MNT" -name '.*' | head -n 3)" ""

# 2. rsync -aX, twice (the second transfers nothing).
make_source rsrc minimal
check "rsync -aX into the mount" rsync -aX "$IT_TMP/rsrc/" "$MNT/rs/"
check "rsync -aX: names, bytes, mtimes, flags" \
  python3 "$IT_TMP/verify_copy.py" "$IT_TMP/rsrc" "$MNT/rs"
out=$(rsync -aX --stats "$IT_TMP/rsrc/" "$MNT/rs/" 2>&1)
rc=$?
expect_eq "second rsync -aX exit status" "$rc" 0
expect_eq "second rsync -aX transfers no file" \
  "$(printf '%s\n' "$out" | sed -n 's/^Number of regular files transferred: //p')" 0
expect_eq "rsync leaves no dot-temp files" "$(find "$MNT" -name '.*' | head -n 3)" ""
check "mailname.py check after rsync" python3 "$MAILNAME" check "$MNT"

# 3. mv inside the mount, across folders; rename in place is refused.
f=$(cd "$MNT/cpa/INBOX" && ls | grep -v '^whatever' | grep '\.eml$' | head -n 1)
before_flags=$(getfattr -n user.mail.flags --only-values "$MNT/cpa/INBOX/$f" 2>/dev/null)
before_mtime=$(stat -c %Y "$MNT/cpa/INBOX/$f")
before_sum=$(sha256sum <"$MNT/cpa/INBOX/$f")
check "mv between folders of the mount" mv "$MNT/cpa/INBOX/$f" "$MNT/cpa/Sent/"
[ -e "$MNT/cpa/INBOX/$f" ] && fail "mv: $f still in INBOX"
expect_eq "mv: bytes kept" "$(sha256sum <"$MNT/cpa/Sent/$f" 2>&1)" "$before_sum"
expect_eq "mv: mtime kept" "$(stat -c %Y "$MNT/cpa/Sent/$f" 2>&1)" "$before_mtime"
expect_eq "mv: flags kept" "$(getfattr -n user.mail.flags --only-values "$MNT/cpa/Sent/$f" 2>/dev/null)" "$before_flags"
expect_fail_with "rename of a committed message in its folder: EPERM" "Operation not permitted" \
  mv -T "$MNT/cpa/Sent/$f" "$MNT/cpa/Sent/renamed.eml"
check "mv of a folder within the mount" mv "$MNT/cpa/Archive/2004" "$MNT/cpa/Moved"
check "moved folder keeps its messages" test "$(count_eml "$MNT/cpa/Moved/Q1")" -eq 4

# 4. mv across mounts: local -> mount and mount -> local.
mkdir -p "$IT_TMP/local" "$IT_TMP/back"
cp -a "$IT_TMP/rsrc/Sent/." "$IT_TMP/local/"
chown -R nobody: "$IT_TMP/local"
lf=$(cd "$IT_TMP/local" && ls | head -n 1)
lflags=$(getfattr -n user.mail.flags --only-values "$IT_TMP/local/$lf" 2>/dev/null)
lmtime=$(stat -c %Y "$IT_TMP/local/$lf")
mkdir "$MNT/incoming"
check "mv local -> mount" mv "$IT_TMP/local/$lf" "$MNT/incoming/"
[ -e "$IT_TMP/local/$lf" ] && fail "mv local -> mount: the source is still there"
expect_eq "mv local -> mount: mtime" "$(stat -c %Y "$MNT/incoming/$lf" 2>&1)" "$lmtime"
expect_eq "mv local -> mount: flags" "$(getfattr -n user.mail.flags --only-values "$MNT/incoming/$lf" 2>/dev/null)" "$lflags"
check "mv local folder -> mount" mv "$IT_TMP/local" "$MNT/incoming/fromlocal"
[ -e "$IT_TMP/local" ] && fail "mv of a local folder: the source is still there"
check "mv mount -> local" mv "$MNT/incoming/$lf" "$IT_TMP/back/"
[ -e "$MNT/incoming/$lf" ] && fail "mv mount -> local: still in the mount"
expect_eq "mv mount -> local: mtime" "$(stat -c %Y "$IT_TMP/back/$lf" 2>&1)" "$lmtime"
expect_eq "mv mount -> local: flags" "$(getfattr -n user.mail.flags --only-values "$IT_TMP/back/$lf" 2>/dev/null)" "$lflags"
check "mv mount -> local: bytes" cmp "$IT_TMP/back/$lf" "$IT_TMP/rsrc/Sent/$lf"
check "mv mount folder -> local" mv "$MNT/incoming/fromlocal" "$IT_TMP/back/fromlocal"
[ -e "$MNT/incoming/fromlocal" ] && fail "mv of a mount folder: still in the mount"

# 5. Incomplete content is never stored.
mkdir "$MNT/partial"
n0=$(count_eml "$MNT/partial")
HDR='From: a@example.com\r\nSubject: partial\r\nMessage-ID: <partial@example.com>\r\nMIME-Version: 1.0\r\n'
expect_fail_with "no header/body separator: close fails with EIO" "Input/output error" \
  write_close "$MNT/partial/nosep.eml" "${HDR}X-Last: header\r\n"
expect_fail_with "truncated multipart: close fails with EIO" "Input/output error" \
  write_close "$MNT/partial/trunc.eml" "${HDR}Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhalf a mess"
expect_fail_with "not an RFC 5322 message: close fails with EINVAL" "Invalid argument" \
  write_close "$MNT/partial/notmail.eml" "this is not a mail message at all\r\n\r\njust text\r\n"
# cp of a truncated file fails at close.
printf "${HDR}Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\r\ntext\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\nAAAA" \
  >"$IT_TMP/trunc.eml"
expect_fail_with "cp of a truncated multipart fails" "Input/output error" \
  cp "$IT_TMP/trunc.eml" "$MNT/partial/cp-trunc.eml"
# A writer killed mid-message (like cat > file and SIGKILL).
(python3 - "$MNT/partial/killed.eml" <<'PYEOF'
import os, signal, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"From: a@example.com\r\nSubject: killed\r\nContent-Type: multipart/mixed; boundary=\"q\"\r\n\r\n--q\r\n\r\nhalf")
os.kill(os.getpid(), signal.SIGKILL)
PYEOF
true) 2>/dev/null
# cp killed while it waits for more input from a FIFO.
mkfifo "$IT_TMP/fifo"
python3 -c '
import sys, time
with open(sys.argv[1], "wb") as f:
    f.write(b"From: a@example.com\r\nSubject: killed cp\r\nContent-Type: multipart/mixed; boundary=\"q\"\r\n\r\n--q\r\n\r\nhalf of it")
    f.flush()
    time.sleep(30)
' "$IT_TMP/fifo" &
feeder=$!
cp "$IT_TMP/fifo" "$MNT/partial/killed-cp.eml" &
cpid=$!
sleep 1
kill -9 "$cpid" 2>/dev/null
wait "$cpid" 2>/dev/null
kill "$feeder" 2>/dev/null
wait "$feeder" 2>/dev/null
# The FLUSH of a killed process reaches the daemon asynchronously (the kernel
# does not wait for the reply): give the failed commits up to 5 s to land.
for _ in $(seq 1 50); do
  [ -e "$MNT/partial/killed.eml" ] || [ -e "$MNT/partial/killed-cp.eml" ] || break
  sleep 0.1
done
expect_eq "nothing incomplete was stored" "$(count_eml "$MNT/partial")" "$n0"
for nm in nosep trunc notmail cp-trunc killed killed-cp; do
  [ -e "$MNT/partial/$nm.eml" ] && fail "failed write $nm.eml still resolves"
done
check "mailname.py check after failed writes" python3 "$MAILNAME" check "$MNT"

# 6. One Message-ID, two messages, both orders; and byte-identical copies.
python3 - "$IT_TMP/dups" <<'PYEOF'
import os, sys
d = sys.argv[1]
os.makedirs(d)
common = ("From: Ann <ann@example.com>\r\nTo: bob@example.net\r\nSubject: Same name\r\n"
          "Date: Mon, 3 Mar 2003 10:00:00 +0000\r\nMessage-ID: <same@example.com>\r\n\r\n")
for name, body in (("a.eml", "first version\r\n"), ("b.eml", "second version\r\n"),
                   ("c1.eml", "identical\r\n"), ("c2.eml", "identical\r\n")):
    with open(os.path.join(d, name), "wb") as f:
        f.write((common + body).encode())
PYEOF
touch -d "2003-03-03 10:00:00 UTC" "$IT_TMP"/dups/*.eml
chown -R nobody: "$IT_TMP/dups"
mkdir "$MNT/dupAB" "$MNT/dupBA" "$MNT/dupCC"
check "copy A then B" bash -c 'cp -a "$1/a.eml" "$2/dupAB/" && cp -a "$1/b.eml" "$2/dupAB/"' _ "$IT_TMP/dups" "$MNT"
check "copy B then A" bash -c 'cp -a "$1/b.eml" "$2/dupBA/" && cp -a "$1/a.eml" "$2/dupBA/"' _ "$IT_TMP/dups" "$MNT"
check "copy two byte-identical messages" bash -c 'cp -a "$1/c1.eml" "$2/dupCC/" && cp -a "$1/c2.eml" "$2/dupCC/"' _ "$IT_TMP/dups" "$MNT"
base="2003-03-03 100000 Same name [$(printf 'same@example.com' | sha256sum | cut -c1-8)]"
ha=$(sha256sum <"$IT_TMP/dups/a.eml" | cut -c1-8)
hb=$(sha256sum <"$IT_TMP/dups/b.eml" | cut -c1-8)
hc=$(sha256sum <"$IT_TMP/dups/c1.eml" | cut -c1-8)
want_ab=$(printf '%s\n' "$base ~$ha.eml" "$base ~$hb.eml" | sort)
expect_eq "A then B: both kept with ~hash names" "$(ls "$MNT/dupAB" | sort)" "$want_ab"
expect_eq "B then A: the same two names" "$(ls "$MNT/dupBA" | sort)" "$want_ab"
expect_eq "byte-identical copies: ~hash and ~hash-2" "$(ls "$MNT/dupCC" | sort)" \
  "$(printf '%s\n' "$base ~$hc-2.eml" "$base ~$hc.eml" | sort)"
check "collision folders pass mailname.py check" python3 "$MAILNAME" check "$MNT"

# 7. xattrs on a committed message.
f=$(find "$MNT/cpa/Sent" -name '*.eml' | head -n 1)
check "setfattr user.mail.flags" setfattr -n user.mail.flags -v '$Zeta \Flagged' "$f"
expect_eq "flags are shown in the normal order" \
  "$(getfattr -n user.mail.flags --only-values --absolute-names "$f" 2>&1)" '\Flagged $Zeta'
expect_fail_with "setting \\Deleted answers EINVAL" "Invalid argument" \
  setfattr -n user.mail.flags -v '\Deleted' "$f"
expect_fail_with "other user.* xattrs answer ENOTSUP" "Operation not supported" \
  setfattr -n user.other -v x "$f"
check "setting user.mail.id is accepted and ignored" setfattr -n user.mail.id -v x "$f"

# 8. unlink, rmdir.
n=$(count_eml "$MNT/cpa/INBOX")
check "rm of a message" rm "$(find "$MNT/cpa/INBOX" -name '*.eml' | head -n 1)"
expect_eq "rm: one message less" "$(count_eml "$MNT/cpa/INBOX")" "$((n - 1))"
expect_fail_with "rmdir of a non-empty folder fails" "not empty" rmdir "$MNT/cpa/INBOX"
check "mkdir + rmdir of an empty folder" bash -c 'mkdir "$1/empty" && rmdir "$1/empty" && ! test -e "$1/empty"' _ "$MNT/cpa"
# When one of two colliding messages goes, the other takes the plain name.
check "rm of one of two colliding messages" rm "$MNT/dupAB/$base ~$ha.eml"
expect_eq "the remaining message takes the plain name" "$(ls "$MNT/dupAB")" "$base.eml"
check "its bytes are the other message's" cmp "$MNT/dupAB/$base.eml" "$IT_TMP/dups/b.eml"
check "rm of the last message, then rmdir" bash -c 'rm "$1/$2.eml" && rmdir "$1"' _ "$MNT/dupAB" "$base"
[ -e "$MNT/dupAB" ] && fail "rmdir left $MNT/dupAB"
# rm -r reads the folder first: a name that changed when its neighbour went
# must still resolve.
check "rm -r of a folder with colliding messages" bash -c 'mkdir "$1" && cp "$2/a.eml" "$2/b.eml" "$1/" && rm -r "$1" && ! test -e "$1"' _ "$MNT/dupRM" "$IT_TMP/dups"
check "rm -r of a folder tree" rm -r "$MNT/cpa/Moved"
[ -e "$MNT/cpa/Moved" ] && fail "rm -r left $MNT/cpa/Moved"

stop_mount "$MNT"
rc=$?
expect_eq "unmount: daemon exit status 0" "$rc" 0
if grep -q "NOT STORED" "$IT_TMP/mnt.log"; then
  fail "the daemon logged NOT STORED:"
  grep "NOT STORED" "$IT_TMP/mnt.log" | sed 's/^/    /' >&2
fi

# 9. A dot-temp file never renamed: NOT STORED at unmount, non-zero exit.
MNT2="$IT_TMP/mnt2"
if start_mount memory: "$MNT2" "rw,cache_dir=$IT_TMP/cache2"; then
  mkdir "$MNT2/INBOX"
  MSG='From: a@example.com\r\nSubject: staged\r\nMessage-ID: <staged@example.com>\r\nDate: Mon, 3 Mar 2003 10:00:00 +0000\r\n\r\nbody\r\n'
  check "write an rsync-style dot-temp file" write_close "$MNT2/INBOX/.staged.eml.AbC123" "$MSG"
  check "write a dot-temp file that is renamed" write_close "$MNT2/INBOX/.renamed.eml.XyZ789" \
    'From: a@example.com\r\nSubject: renamed\r\nMessage-ID: <renamed@example.com>\r\n\r\nbody\r\n'
  check "rename of the dot-temp file commits" mv "$MNT2/INBOX/.renamed.eml.XyZ789" "$MNT2/INBOX/renamed.eml"
  check "write a dot-temp file that is unlinked" write_close "$MNT2/INBOX/.gone.eml.QwE456" "$MSG"
  check "unlink of a staged dot-temp file" rm "$MNT2/INBOX/.gone.eml.QwE456"
  expect_eq "only the renamed message is listed" "$(ls "$MNT2/INBOX" | grep -c '\.eml$')" 1
  stop_mount "$MNT2"
  rc=$?
  [ "$rc" -ne 0 ] && pass "unmount with an unrenamed dot-temp file exits non-zero ($rc)" ||
    fail "unmount with an unrenamed dot-temp file exited 0"
  check "the log says NOT STORED: for it" grep -q 'NOT STORED: .*\.staged\.eml\.AbC123' "$IT_TMP/mnt2.log"
  if grep -q 'NOT STORED: .*gone' "$IT_TMP/mnt2.log"; then
    fail "an unlinked dot-temp file was reported NOT STORED"
  fi
fi

it_finish
