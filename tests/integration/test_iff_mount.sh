#!/bin/bash
# Read-only IFF mounts, checked with ordinary tools: the sample extracts of
# ../shared/fixtures/iff (when present) against their expected.json, and a
# generated extract (tests/gen/gen_iff.py) against its manifest.
#
#   MAILFS_BIN=build/mount-tools/mailfs bash tests/integration/test_iff_mount.sh
#
# Set IT_KEEP=1 to keep the temporary directory for inspection.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

# ---------------------------------------------------------------------------
# A judge of a mounted (or copied) tree against expected.json or a manifest.
cat >"$IT_TMP/verify_tree.py" <<'PYEOF'
import datetime, email, email.policy, email.utils, errno, hashlib, json, os
import re, sys

root, expected_path = sys.argv[1], sys.argv[2]
data = json.load(open(expected_path, encoding="utf-8"))
problems = []

def problem(msg):
    problems.append(msg)

def norm_eol(t):
    return t.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")

def to_epoch(iso):
    d = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S")
    return int((d - datetime.datetime(1970, 1, 1)).total_seconds())

def imcea(typ, value):
    out = []
    for b in value.encode("utf-8"):
        c = chr(b)
        out.append(c if c.isascii() and (c.isalnum() or c in ".-_=") else "+%02X" % b)
    return "IMCEA%s-%s@iff.invalid" % (typ, "".join(out))

def addr_expect(a):
    """(display name, addr-spec) a renderer must produce for one IFF value."""
    if a is None:
        return ("Unknown sender", "unknown@iff.invalid")
    if a.get("addr_spec"):
        spec = a["addr_spec"]
    elif a["type"] is None:
        spec = imcea("EX", a["name"])
    elif a["type"].upper() == "SMTP":
        spec = a["address"]
    else:
        spec = imcea(a["type"], a["address"])
    return (a["name"] or "", spec)

# Expected messages as one list.
if "messages" in data:
    messages = data["messages"]
    folders = set(data["folders"])
else:
    messages = []
    for key, lst in data["folders"].items():
        for m in lst:
            m = dict(m)
            m["folder"] = key
            m["from"] = m.get("from")
            m["sender_extra"] = []
            d = m["received_date"] or m["send_date"]
            m["mtime"] = to_epoch(d) if d else 0
            ds = m["send_date"] or m["received_date"]
            m["date_epoch"] = to_epoch(ds) if ds else None
            m["flags"] = "" if m["unread"] else "\\Seen"
            m["body_eml_sha256"] = hashlib.sha256(
                norm_eol(m["body_text"]).encode("utf-8")).hexdigest()
            m["message_id"] = None
            m["name"] = None
            for att in m["attachments"]:
                att.setdefault("format", None)
            messages.append(m)
    folders = set(data["folders"])

# What the tree holds.
found = {}
for dirpath, dirnames, filenames in os.walk(root):
    rel = os.path.relpath(dirpath, root)
    emls = [f for f in filenames if f.endswith(".eml")]
    others = [f for f in filenames if not f.endswith(".eml")]
    for f in others:
        problem("unexpected non-.eml file %s" % os.path.join(rel, f))
    if emls:
        found[rel] = emls
# The README documents two additions to iff-format.md: each DIRECTORY section
# becomes a message "Directory" in a root folder "Directory" (directory.csv,
# directory.vcf), and PAB messages carry pab.vcf after pab.csv.  They are
# accepted, and reported, as long as they look like that.
if "Directory" in found and not any(f == "Directory" or f.startswith("Directory/") for f in folders):
    for fn in found.pop("Directory"):
        p = os.path.join(root, "Directory", fn)
        msg = email.message_from_bytes(open(p, "rb").read(), policy=email.policy.default)
        names = [part.get_filename() for part in msg.iter_attachments()] if msg.is_multipart() else []
        if str(msg.get("Subject")) != "Directory" or "directory.csv" not in names:
            problem("Directory/%s: not a DIRECTORY message (subject %r, parts %r)" % (fn, msg.get("Subject"), names))
        else:
            print("note: DIRECTORY section shown as Directory/%s (README extension)" % fn)
    folders = set(folders) | {"Directory"}
dirs_expected = set()
for f in folders:
    parts = f.split("/")
    for i in range(1, len(parts) + 1):
        dirs_expected.add("/".join(parts[:i]))
all_dirs = set()
for dirpath, dirnames, filenames in os.walk(root):
    rel = os.path.relpath(dirpath, root)
    if rel != ".":
        all_dirs.add(rel)
for d in sorted(all_dirs - dirs_expected):
    problem("unexpected folder %r" % d)
for d in sorted(dirs_expected - all_dirs):
    problem("missing folder %r" % d)
for d in sorted(set(found) - set(folders)):
    problem("messages in a folder that should hold none: %r" % d)

def hdecode(msg, name):
    v = msg.get(name)
    return None if v is None else str(v)

def ws(s):
    return " ".join((s or "").split())

def addresses(msg, name):
    raw = msg.get_all(name) or []
    out = []
    for v in raw:
        try:
            for a in v.addresses:
                out.append((a.display_name, a.addr_spec))
        except Exception:
            for n, a in email.utils.getaddresses([str(v)]):
                out.append((n, a))
    return out

by_folder = {}
for m in messages:
    by_folder.setdefault(m["folder"], []).append(m)

checked = 0
for folder, exp_list in sorted(by_folder.items()):
    files = found.get(folder, [])
    if len(files) != len(exp_list):
        problem("%s: %d messages, expected %d" % (folder, len(files), len(exp_list)))
    parsed = []
    for fn in files:
        path = os.path.join(root, folder, fn)
        try:
            raw = open(path, "rb").read()
        except OSError as e:
            problem("%s: read failed: %s" % (path, e))
            continue
        st = os.stat(path)
        if st.st_size != len(raw):
            problem("%s: st_size %d, read %d bytes" % (path, st.st_size, len(raw)))
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parsed.append((fn, path, st, raw, msg))
    used = set()
    for m in exp_list:
        cand = None
        for p in parsed:
            if p[0] in used:
                continue
            msg = p[4]
            if m.get("message_id"):
                if (msg.get("Message-ID") or "").strip() == "<%s>" % m["message_id"]:
                    cand = p
                    break
            elif ws(hdecode(msg, "Subject")) == ws(m["subject"]):
                cand = p
                break
        if cand is None:
            problem("%s: no message for %r (message-id %s)" % (folder, m["subject"], m.get("message_id")))
            continue
        used.add(cand[0])
        fn, path, st, raw, msg = cand
        where = "%s/%s" % (folder, fn)
        checked += 1
        if m.get("name") and fn != m["name"]:
            problem("%s: file name should be %r" % (where, m["name"]))
        if int(st.st_mtime) != m["mtime"]:
            problem("%s: mtime %d, expected %d" % (where, int(st.st_mtime), m["mtime"]))
        try:
            flags = os.getxattr(path, "user.mail.flags").decode()
        except OSError as e:
            flags = "" if e.errno == errno.ENODATA else "<%s>" % e
        if flags != m["flags"]:
            problem("%s: user.mail.flags %r, expected %r" % (where, flags, m["flags"]))
        if ws(hdecode(msg, "Subject")) != ws(m["subject"]):
            problem("%s: Subject %r, expected %r" % (where, hdecode(msg, "Subject"), m["subject"]))
        frm = addresses(msg, "From")
        want = addr_expect(m["from"])
        if not frm or frm[0] != want:
            problem("%s: From %r, expected %r" % (where, frm, want))
        extra = msg.get("X-IFF-Sender-Extra")
        if bool(m.get("sender_extra")) != (extra is not None):
            problem("%s: X-IFF-Sender-Extra %r, expected values %r" % (where, extra, m.get("sender_extra")))
        if m.get("synthetic") != "PAB":
            for hdr, key in (("To", "to"), ("Cc", "cc"), ("Bcc", "bcc")):
                got = addresses(msg, hdr)
                want = [addr_expect(a) for a in m[key]]
                if got != want:
                    problem("%s: %s %r, expected %r" % (where, hdr, got, want))
        date = msg.get("Date")
        if m["date_epoch"] is not None:
            if date is None:
                problem("%s: no Date header" % where)
            else:
                try:
                    dt = email.utils.parsedate_to_datetime(str(date))
                    ep = int(dt.timestamp())
                except Exception as e:
                    ep = "unparsable (%s)" % e
                if ep != m["date_epoch"] or not str(date).rstrip().endswith("-0000"):
                    problem("%s: Date %r (%s), expected epoch %s with -0000" % (where, str(date), ep, m["date_epoch"]))
        else:
            if date is not None:
                problem("%s: Date %r but the extract has no date" % (where, str(date)))
            if m.get("synthetic") is None and (msg.get("X-IFF-Date-Missing") or "").strip() != "yes":
                problem("%s: no X-IFF-Date-Missing: yes" % where)
        prio = (msg.get("X-Priority") or "").strip()
        want_prio = {1: "1", -1: "5", 0: ""}[m["priority"]]
        if prio[:1] != want_prio:
            problem("%s: X-Priority %r for priority %d" % (where, prio, m["priority"]))
        if m["unsent"] != ((msg.get("X-Unsent") or "").strip() == "1"):
            problem("%s: X-Unsent %r, unsent %s" % (where, msg.get("X-Unsent"), m["unsent"]))
        if m.get("message_id") and (msg.get("Message-ID") or "").strip() != "<%s>" % m["message_id"]:
            problem("%s: Message-ID %r, expected <%s>" % (where, msg.get("Message-ID"), m["message_id"]))
        if (msg.get("MIME-Version") or "").strip() != "1.0":
            problem("%s: MIME-Version %r" % (where, msg.get("MIME-Version")))
        # Body and attachments.
        atts = m["attachments"]
        if atts:
            if msg.get_content_type() != "multipart/mixed":
                problem("%s: %s, expected multipart/mixed" % (where, msg.get_content_type()))
                continue
            parts = list(msg.iter_parts())
        else:
            if msg.is_multipart():
                problem("%s: multipart without attachments" % where)
                continue
            parts = [msg]
        if not parts:
            problem("%s: no parts" % where)
            continue
        body = parts[0]
        if body.get_content_type() != "text/plain":
            problem("%s: first part is %s" % (where, body.get_content_type()))
        payload = body.get_payload(decode=True) or b""
        if hashlib.sha256(payload).hexdigest() != m["body_eml_sha256"]:
            problem("%s: body text differs (%d bytes: %r...)" % (where, len(payload), payload[:60]))
        extra_ok = (m.get("synthetic") == "PAB" and len(parts) - 1 == len(atts) + 1
                    and parts[-1].get_filename() == "pab.vcf")
        if extra_ok:
            print("note: %s has pab.vcf after pab.csv (README extension)" % where)
            parts = parts[:-1]
        if len(parts) - 1 != len(atts):
            problem("%s: %d attachment parts, expected %d" % (where, len(parts) - 1, len(atts)))
        for part, att in zip(parts[1:], atts):
            name = part.get_filename()
            if name != att["name"]:
                problem("%s: attachment name %r, expected %r" % (where, name, att["name"]))
            content = part.get_payload(decode=True) or b""
            if len(content) != att["size"] or hashlib.sha256(content).hexdigest() != att["sha256"]:
                problem("%s: attachment %r: %d bytes / sha256 mismatch, expected %d" % (where, att["name"], len(content), att["size"]))
            if att.get("format") == "Macbinary" and part.get_content_type() != "application/x-macbinary":
                problem("%s: Macbinary attachment served as %s" % (where, part.get_content_type()))
            if att["kind"] == "PAB" and part.get_content_type() != "text/csv":
                problem("%s: pab.csv served as %s" % (where, part.get_content_type()))

for p in problems[:200]:
    print("MISMATCH: " + p)
if len(problems) > 200:
    print("... %d more" % (len(problems) - 200))
print("verify_tree: %d messages checked, %d problems" % (checked, len(problems)))
sys.exit(1 if problems or checked == 0 else 0)
PYEOF

# Compare mtimes (whole seconds) and user.mail.flags of two trees.
cat >"$IT_TMP/compare_meta.py" <<'PYEOF'
import errno, os, sys
a, b = sys.argv[1], sys.argv[2]
bad = 0
n = 0
def flags(p):
    try:
        return os.getxattr(p, "user.mail.flags")
    except OSError as e:
        if e.errno == errno.ENODATA:
            return None
        raise
for dirpath, dirs, files in os.walk(a):
    for f in files:
        pa = os.path.join(dirpath, f)
        pb = os.path.join(b, os.path.relpath(pa, a))
        n += 1
        sa, sb = os.stat(pa), os.stat(pb)
        if int(sa.st_mtime) != int(sb.st_mtime):
            print("mtime differs: %s %d %d" % (pb, sa.st_mtime, sb.st_mtime)); bad += 1
        fa, fb = flags(pa), flags(pb)
        if (fa or b"") != (fb or b""):
            print("user.mail.flags differs: %s %r %r" % (pb, fa, fb)); bad += 1
print("compare_meta: %d files, %d differences" % (n, bad))
sys.exit(1 if bad or n == 0 else 0)
PYEOF

# Reads the way pagers and editors do: seeks, small reads, reads past EOF.
cat >"$IT_TMP/seek_reads.py" <<'PYEOF'
import os, random, sys
r = random.Random(5)
for path in sys.argv[1:]:
    whole = open(path, "rb").read()
    fd = os.open(path, os.O_RDONLY)
    try:
        for _ in range(50):
            off = r.randrange(0, len(whole) + 10)
            ln = r.choice([1, 100, 4096, 65536, 1 << 20])
            got = os.pread(fd, ln, off)
            if got != whole[off:off + ln]:
                print("pread mismatch %s off %d len %d" % (path, off, ln)); sys.exit(1)
        os.lseek(fd, -min(len(whole), 200), os.SEEK_END)
        if os.read(fd, 1000) != whole[-200:]:
            print("tail read mismatch %s" % path); sys.exit(1)
    finally:
        os.close(fd)
print("seek_reads: %d files ok" % (len(sys.argv) - 1))
PYEOF

# check_ro_mount MNT EXPECTED_JSON LABEL: everything a read-only mount must do.
check_ro_mount() {
  local mnt=$1 expected=$2 label=$3 copy rs n_exp n_files any seen_file
  check "$label: tree matches $(basename "$expected")" \
    python3 "$IT_TMP/verify_tree.py" "$mnt" "$expected"
  n_exp=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print(len(d["messages"]) if "messages" in d else sum(len(v) for v in d["folders"].values()))' "$expected")
  # (a root folder Directory, see verify_tree.py, is not counted)
  n_files=$(find "$mnt" -path "$mnt/Directory" -prune -o -type f -name '*.eml' -print | wc -l)
  expect_eq "$label: find lists every message" "$n_files" "$n_exp"
  check "$label: find -type d works" find "$mnt" -type d
  check "$label: cat of every file" \
    bash -c 'find "$1" -type f -print0 | xargs -0 cat > /dev/null' _ "$mnt"
  check "$label: cat | wc -c equals st_size for every file" bash -c '
    find "$1" -type f -print0 | while IFS= read -r -d "" f; do
      s=$(stat -c %s "$f"); c=$(cat "$f" | wc -c)
      [ "$s" = "$c" ] || { echo "$f: st_size $s, cat $c"; exit 1; }
    done' _ "$mnt"
  # The largest files and a few others, read with seeks (less, editors).
  mapfile -d '' any < <(find "$mnt" -type f -printf '%s\t%p\0' | sort -z -rn | head -z -n 5 | cut -z -f2-)
  check "$label: seek/pread reads (largest files)" python3 "$IT_TMP/seek_reads.py" "${any[@]}"
  if command -v less >/dev/null; then
    check "$label: less of the largest file (not a terminal: acts as cat)" \
      bash -c 'less "$1" | cmp - "$1"' _ "${any[0]}"
  fi
  check "$label: head -c / tail -c of the largest file" bash -c '
    [ "$(head -c 5000 "$1" | sha256sum)" = "$(python3 -c "import sys; sys.stdout.buffer.write(open(sys.argv[1],\"rb\").read()[:5000])" "$1" | sha256sum)" ] &&
    [ "$(tail -c 5000 "$1" | sha256sum)" = "$(python3 -c "import sys; sys.stdout.buffer.write(open(sys.argv[1],\"rb\").read()[-5000:])" "$1" | sha256sum)" ]' _ "${any[0]}"
  check "$label: getfattr -d works on every message" \
    bash -c 'find "$1" -type f -print0 | xargs -0 getfattr -d --absolute-names > /dev/null' _ "$mnt"
  seen_file=$(find "$mnt" -type f -name '*.eml' -print0 | xargs -0 getfattr -n user.mail.flags --absolute-names 2>/dev/null |
    awk '/^# file: /{f=substr($0,9)} /^user.mail.flags="\\\\Seen"$/{print f; exit}')
  if [ -n "$seen_file" ]; then
    check "$label: getfattr -d shows user.mail.flags" bash -c 'getfattr -d --absolute-names "$1" | grep -q "^user.mail.flags="' _ "$seen_file"
    check "$label: user.mail.id readable by name" getfattr -n user.mail.id --only-values --absolute-names "$seen_file"
    check "$label: user.mail.message-id readable by name" getfattr -n user.mail.message-id --only-values --absolute-names "$seen_file"
    check "$label: user.mail.id and message-id are not listed" bash -c '! getfattr -d -m - --absolute-names "$1" | grep -q "user.mail.\(id\|message-id\)="' _ "$seen_file"
    expect_fail_with "$label: missing xattr answers ENODATA" "No such attribute" \
      getfattr -n user.mail.nonexistent --absolute-names "$seen_file"
  else
    fail "$label: no message with user.mail.flags=\\Seen found"
  fi
  check "$label: mailname.py check" python3 "$MAILNAME" check "$mnt"

  # Read-only.
  local f d
  f=$(find "$mnt" -type f -name '*.eml' | head -n 1)
  d=$(dirname "$f")
  check "$label: kernel mount flag ro" bash -c 'awk -v m="$1" "\$2==m {print \$4}" /proc/self/mounts | grep -Eq "(^|,)ro(,|$)"' _ "$mnt"
  expect_fail_with "$label: create fails with EROFS" "Read-only file system" touch "$d/new.eml"
  expect_fail_with "$label: append fails with EROFS" "Read-only file system" bash -c 'echo x >> "$1"' _ "$f"
  expect_fail_with "$label: unlink fails with EROFS" "Read-only file system" rm -f "$f"
  expect_fail_with "$label: mkdir fails with EROFS" "Read-only file system" mkdir "$mnt/newfolder"
  expect_fail_with "$label: rename fails with EROFS" "Read-only file system" mv "$f" "$mnt/"
  expect_fail_with "$label: setfattr fails with EROFS" "Read-only file system" setfattr -n user.mail.flags -v '\Flagged' "$f"
  expect_fail_with "$label: chmod fails with EROFS" "Read-only file system" chmod 0644 "$f"
  [ -e "$f" ] || fail "$label: $f vanished after the refused writes"
  expect_eq "$label: files are mode 0400" "$(find "$mnt" -type f ! -perm 0400 | head -n 3)" ""
  expect_eq "$label: folders are mode 0500" "$(find "$mnt" -type d ! -perm 0500 | head -n 3)" ""

  # cp -a out of the mount.
  copy="$IT_TMP/copy-$label"
  check "$label: cp -a of the mount" cp -a "$mnt" "$copy"
  check "$label: diff -r mount copy" diff -r "$mnt" "$copy"
  check "$label: mtimes and user.mail.flags survive cp -a" python3 "$IT_TMP/compare_meta.py" "$mnt" "$copy"
  check "$label: mailname.py check on the cp -a copy" python3 "$MAILNAME" check "$copy"
  # rsync -aX out of the mount.
  rs="$IT_TMP/rsync-$label"
  check "$label: rsync -aX of the mount" rsync -aX "$mnt/" "$rs/"
  check "$label: diff -r mount rsync-copy" diff -r "$mnt" "$rs"
  check "$label: mtimes and user.mail.flags survive rsync -aX" python3 "$IT_TMP/compare_meta.py" "$mnt" "$rs"
  chmod -R u+w "$copy" "$rs" 2>/dev/null
  rm -rf "$copy" "$rs"
}

# ---------------------------------------------------------------------------
# 1. The sample extracts.
if [ -d "$SHARED_DIR/fixtures/iff" ]; then
  for fx in "$SHARED_DIR"/fixtures/iff/*/; do
    fx=${fx%/}
    name=$(basename "$fx")
    [ -f "$fx/expected.json" ] || continue
    mnt="$IT_TMP/mnt-$name"
    if start_mount "$fx" "$mnt" "ro,cache_dir=$IT_TMP/cache-$name"; then
      check_ro_mount "$mnt" "$fx/expected.json" "$name"
      stop_mount "$mnt"
      expect_eq "$name: daemon exit status after unmount" "$?" 0
    fi
  done
  # The .pkl itself is also a valid SOURCE.
  pkl=$(ls "$SHARED_DIR"/fixtures/iff/a-single-mailbox/*.PKL 2>/dev/null | head -n 1)
  if [ -n "$pkl" ]; then
    mnt="$IT_TMP/mnt-pkl"
    if start_mount "$pkl" "$mnt" "cache_dir=$IT_TMP/cache-pkl"; then
      check "mount by .pkl path: tree matches" python3 "$IT_TMP/verify_tree.py" "$mnt" \
        "$SHARED_DIR/fixtures/iff/a-single-mailbox/expected.json"
      stop_mount "$mnt"
      expect_eq "mount by .pkl: daemon exit status" "$?" 0
    fi
  fi
else
  log "SKIP: $SHARED_DIR/fixtures/iff is absent; sample extracts not checked"
fi

# ---------------------------------------------------------------------------
# 2. A generated extract: a few hundred messages, nested folders, every
#    quoting case, a 3 MiB attachment.
mkdir -p "$IT_TMP/gen"
check "generate an extract" python3 "$GEN_IFF" "$IT_TMP/gen/ext" --messages 300 \
  --mailboxes 4 --seed 11 --big-attachment 3M --self-check ||
  die "the generator failed"
mnt="$IT_TMP/mnt-gen"
if start_mount "$IT_TMP/gen/ext" "$mnt" "cache_dir=$IT_TMP/cache-gen"; then
  check_ro_mount "$mnt" "$IT_TMP/gen/ext.manifest.json" "generated"
  stop_mount "$mnt"
  expect_eq "generated: daemon exit status after unmount" "$?" 0
  # Second mount: the same names and bytes (persistent size cache in use).
  if start_mount "$IT_TMP/gen/ext" "$mnt" "cache_dir=$IT_TMP/cache-gen"; then
    check "generated, remount with a warm cache: tree matches" \
      python3 "$IT_TMP/verify_tree.py" "$mnt" "$IT_TMP/gen/ext.manifest.json"
    stop_mount "$mnt"
    expect_eq "generated, remount: daemon exit status" "$?" 0
  fi
fi

# A non-1252 code page.
check "generate a code page 850 extract" python3 "$GEN_IFF" "$IT_TMP/gen/cp850" \
  --messages 150 --mailboxes 2 --seed 3 --codepage 850 --big-attachment 0
mnt="$IT_TMP/mnt-cp850"
if start_mount "$IT_TMP/gen/cp850" "$mnt" "cache_dir=$IT_TMP/cache-cp850"; then
  check "cp850: tree matches the manifest" \
    python3 "$IT_TMP/verify_tree.py" "$mnt" "$IT_TMP/gen/cp850.manifest.json"
  check "cp850: mailname.py check" python3 "$MAILNAME" check "$mnt"
  stop_mount "$mnt"
  expect_eq "cp850: daemon exit status" "$?" 0
fi

it_finish
