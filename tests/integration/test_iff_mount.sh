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
import csv, datetime, email, email.policy, email.utils, errno, hashlib, io, json
import os, re, sys

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

# Side files the reader must show besides the messages: at the root the
# DIRECTORY objects as Directory.csv and Directory.vcf, in each mailbox folder
# with a PAB section its vCards as "Personal Address Book.vcf".
directory = data.get("directory") or []
side_expected = set()
if directory:
    side_expected |= {"Directory.csv", "Directory.vcf"}
for m in messages:
    if m.get("synthetic") == "PAB":
        side_expected.add(m["folder"].split("/")[0] + "/Personal Address Book.vcf")

# What the tree holds.
found = {}
side_found = set()
for dirpath, dirnames, filenames in os.walk(root):
    rel = os.path.relpath(dirpath, root)
    emls = [f for f in filenames if f.endswith(".eml")]
    others = [f for f in filenames if not f.endswith(".eml")]
    for f in others:
        path = f if rel == "." else os.path.join(rel, f)
        if path in side_expected:
            side_found.add(path)
        else:
            problem("unexpected non-.eml file %s" % path)
    if emls:
        found[rel] = emls
for f in sorted(side_expected - side_found):
    problem("missing side file %s" % f)
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
for d in sorted(set(found) - folders):
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
pab_rows = {}  # mailbox folder -> PAB records read back from pab.csv
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
            if att["kind"] != "PAB":
                # iff-format.md 7.3: base64, the extension's type, no charset
                # (the bytes are not transcoded).
                if (part.get("Content-Transfer-Encoding") or "").strip().lower() != "base64":
                    problem("%s: attachment %r is not base64" % (where, att["name"]))
                if part.get_param("charset") is not None:
                    problem("%s: attachment %r has a charset" % (where, att["name"]))
                ext = att["name"].rsplit(".", 1)[-1].lower() if "." in att["name"] else ""
                want_type = {"txt": "text/plain", "csv": "text/csv", "htm": "text/html",
                             "html": "text/html", "pdf": "application/pdf",
                             "png": "image/png", "eml": "application/octet-stream"}.get(ext)
                if want_type and att.get("format") != "Macbinary" and att["kind"] != "Schedule" \
                        and part.get_content_type() != want_type:
                    problem("%s: attachment %r served as %s, expected %s"
                            % (where, att["name"], part.get_content_type(), want_type))
            elif m.get("synthetic") == "PAB":
                # Keep the records for the mailbox's vCard file.
                rows = list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))
                pab_rows.setdefault(folder.split("/")[0], []).extend(
                    dict(zip(rows[0], r)) for r in rows[1:])

def vcards(text):
    """The cards of a vCard file, each as a list of unfolded lines."""
    if text and not text.endswith("\r\n"):
        problem("vCard text does not end with CR LF")
    unfolded = text.replace("\r\n ", "")
    cards, card = [], None
    for line in unfolded.split("\r\n")[:-1]:
        if line == "BEGIN:VCARD":
            card = [line]
        elif card is None:
            problem("vCard line outside a card: %r" % line)
        else:
            card.append(line)
            if line == "END:VCARD":
                cards.append(card)
                card = None
    if card is not None:
        problem("unterminated vCard")
    return cards

def vescape(v):
    return v.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\r", "").replace("\n", "\\n")

# The DIRECTORY side files: one CSV row per object (escapes undone), one card
# per object.
if "Directory.csv" in side_found:
    raw = open(os.path.join(root, "Directory.csv"), "rb").read()
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    if not raw.endswith(b"\r\n"):
        problem("Directory.csv does not end with CR LF")
    if len(rows) != len(directory) + 1:
        problem("Directory.csv: %d rows, expected %d objects and the column line" % (len(rows), len(directory)))
    else:
        for obj, row in zip(directory, rows[1:]):
            got = dict(zip(rows[0], row))
            for col, val in obj.items():
                if got.get(col) != val:
                    problem("Directory.csv: %s %r, expected %r" % (col, got.get(col), val))
if "Directory.vcf" in side_found:
    cards = vcards(open(os.path.join(root, "Directory.vcf"), "rb").read().decode("utf-8"))
    if len(cards) != len(directory):
        problem("Directory.vcf: %d cards, expected %d" % (len(cards), len(directory)))
    for card, obj in zip(cards, directory):
        if "VERSION:4.0" not in card:
            problem("Directory.vcf: card without VERSION:4.0")
        fn = obj.get("Display-Name") or obj.get("Common-Name", "")
        if "FN:" + vescape(fn) not in card:
            problem("Directory.vcf: no card FN for %r" % fn)
# The PAB side files: one card per record, KIND:group for each dl.
for f in sorted(side_found - {"Directory.csv", "Directory.vcf"}):
    mailbox = f.split("/")[0]
    recs = pab_rows.get(mailbox, [])
    cards = vcards(open(os.path.join(root, f), "rb").read().decode("utf-8"))
    if len(cards) != len(recs):
        problem("%s: %d cards, expected %d PAB records" % (f, len(cards), len(recs)))
    groups = sum(1 for c in cards if "KIND:group" in c)
    dls = sum(1 for r in recs if r.get("Obj-class", "").lower() == "dl")
    if groups != dls:
        problem("%s: %d group cards, expected %d" % (f, groups, dls))
    for card, rec in zip(cards, recs):
        if "FN:" + vescape(rec.get("Display-Name", "")) not in card:
            problem("%s: no card FN for %r" % (f, rec.get("Display-Name")))

for p in problems[:200]:
    print("MISMATCH: " + p)
if len(problems) > 200:
    print("... %d more" % (len(problems) - 200))
print("verify_tree: %d messages checked, %d problems" % (checked, len(problems)))
sys.exit(1 if problems or checked == 0 else 0)
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
  n_files=$(find "$mnt" -type f -name '*.eml' | wc -l)
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
  check "$label: mtimes and user.mail.flags survive cp -a" python3 "$MAILFS_SOURCE_DIR/tests/support/compare_meta.py" "$mnt" "$copy"
  check "$label: mailname.py check on the cp -a copy" python3 "$MAILNAME" check "$copy"
  # rsync -aX out of the mount.
  rs="$IT_TMP/rsync-$label"
  check "$label: rsync -aX of the mount" rsync -aX "$mnt/" "$rs/"
  check "$label: diff -r mount rsync-copy" diff -r "$mnt" "$rs"
  check "$label: mtimes and user.mail.flags survive rsync -aX" python3 "$MAILFS_SOURCE_DIR/tests/support/compare_meta.py" "$mnt" "$rs"
  chmod -R u+w "$copy" "$rs" 2>/dev/null
  rm -rf "$copy" "$rs"
}

# check_fixture_c_side_files MNT: the exact layout of fixture (c), where the
# DIRECTORY and PAB sections appear as side files, not as folders or messages.
check_fixture_c_side_files() {
  local mnt=$1 box="$1/SMTP:frank@example.com" want
  expect_eq "c: root entries" "$(ls -A "$mnt" | LC_ALL=C sort | tr '\n' '|')" \
    "Directory.csv|Directory.vcf|SMTP:frank@example.com|"
  expect_eq "c: mailbox entries" "$(ls -A "$box" | LC_ALL=C sort | tr '\n' '|')" \
    "Inbox|Personal Address Book.vcf|"
  expect_eq "c: Inbox holds two messages and nothing else" \
    "$(find "$box/Inbox" -mindepth 1 | wc -l) $(find "$box/Inbox" -name '*.eml' | wc -l)" "2 2"
  expect_eq "c: side files have mtime 0" \
    "$(stat -c %Y "$mnt/Directory.csv" "$mnt/Directory.vcf" "$box/Personal Address Book.vcf" | tr '\n' ' ')" \
    "0 0 0 "
  # Directory.csv: the column line and the 3 objects, escapes undone ("R\\D"
  # in the extract is R\D), UTF-8, CR LF.
  want="$IT_TMP/c-directory.csv"
  printf '%s\r\n' \
    'Obj-class,Mode,Common-Name,Display-Name,Last Name,First Name,Secondary-Proxy-Addresses,Home-Server,Department' \
    'mailbox,create,FrankM,Frank Miller,Miller,Frank,MIGRATE:SMTP:frank@example.com,~Server,Sales' \
    'mailbox,create,GinaR,"Rossi, Gina",Rossi,Gina,MIGRATE:SMTP:gina@example.com,~Server,"R\D"' \
    'remote,create,HankX,Hank External,External,Hank,MIGRATE:SMTP:hank@partner.example,,' >"$want"
  check "c: Directory.csv holds the 3 objects exactly" cmp "$want" "$mnt/Directory.csv"
  # Directory.vcf: one card per object.
  expect_eq "c: Directory.vcf has 3 cards" "$(grep -c '^BEGIN:VCARD'$'\r''$' "$mnt/Directory.vcf")" 3
  check "c: Directory.vcf names Gina (vCard-escaped)" grep -qF 'FN:Rossi\, Gina' "$mnt/Directory.vcf"
  check "c: Directory.vcf keeps R\D (vCard-escaped)" grep -qF 'ORG:;R\\D' "$mnt/Directory.vcf"
  check "c: Directory.vcf has Hank's address" grep -qF 'EMAIL:hank@partner.example' "$mnt/Directory.vcf"
  # Personal Address Book.vcf: 2 entry cards and 1 group whose 2 members resolve.
  local vcf="$box/Personal Address Book.vcf"
  expect_eq "c: PAB vCard counts (cards, individuals, groups, members)" \
    "$(grep -c '^BEGIN:VCARD' "$vcf") $(grep -c '^KIND:individual' "$vcf") $(grep -c '^KIND:group' "$vcf") $(grep -c '^MEMBER:urn:uuid:' "$vcf")" \
    "3 2 1 2"
  check "c: PAB vCard for Pat" grep -qF 'EMAIL:patp@example.com' "$vcf"
  check "c: PAB vCard keeps Dad's X.400 address" grep -qF 'X-IFF-ADDRESS:X400:/C=US/A= /P=NWTraders/G=Joe/S=Parkes' "$vcf"
  check "c: PAB vCard group note" grep -qF 'NOTE:Personal Distribution List of my friends' "$vcf"
  # The PAB message carries pab.csv only.
  expect_eq "c: no pab.vcf and no vCard inside the messages" \
    "$(cat "$box"/Inbox/*.eml | grep -c -e 'pab\.vcf' -e 'BEGIN:VCARD')" 0
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
      if [ "$name" = c-directory-pab ]; then
        check_fixture_c_side_files "$mnt"
      fi
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
  # Second mount: the same names and bytes, listed from the kept listings.
  kept=$(find "$IT_TMP/cache-gen" -path '*iff-listing-*' -name '*.list' | wc -l)
  check "listings are kept in the cache folder ($kept files)" test "$kept" -gt 0
  if start_mount "$IT_TMP/gen/ext" "$mnt" "cache_dir=$IT_TMP/cache-gen"; then
    check "generated, remount with a warm cache: tree matches" \
      python3 "$IT_TMP/verify_tree.py" "$mnt" "$IT_TMP/gen/ext.manifest.json"
    check "generated, remount: names follow the bytes" python3 "$MAILNAME" check "$mnt"
    stop_mount "$mnt"
    expect_eq "generated, remount: daemon exit status" "$?" 0
  fi
  # An edited extract is never listed from a stale listing.
  before=$(find "$IT_TMP/cache-gen" -maxdepth 1 -name 'iff-listing-*')
  touch "$IT_TMP/gen/ext/"*.PRI
  if start_mount "$IT_TMP/gen/ext" "$mnt" "cache_dir=$IT_TMP/cache-gen"; then
    ls -R "$mnt" > /dev/null
    after=$(find "$IT_TMP/cache-gen" -maxdepth 1 -name 'iff-listing-*')
    check "a touched extract gets a new listing folder, the old one removed" \
      test -n "$after" -a "$before" != "$after" -a ! -e "$before"
    stop_mount "$mnt"
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
