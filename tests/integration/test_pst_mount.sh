#!/bin/bash
# Read-only PST mounts through the real daemon, checked with ordinary tools:
# each sample of ../shared/fixtures/pst (skipped when absent) mounted, its
# folder tree and message counts compared with what the foreign readers
# report, every message read, names checked, copied with cp -a and compared.
#
#   MAILFS_BIN=build/mount-tools/mailfs bash tests/integration/test_pst_mount.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

PST_DIR="$SHARED_DIR/fixtures/pst"
[ -d "$PST_DIR" ] || skip "no sample PST files in $PST_DIR"

# compare_with_readers FILE MNT LABEL: runs pffexport and readpst on FILE, and
# pst-extractor when MAILFS_PST_EXTRACTOR_DIR holds node_modules/pst-extractor
# (else its output recorded in expected/), and compares folder tree, messages
# per folder, subjects, attachment names and bytes with the mount
# (pst_compare_readers.py, which also lists the known disagreements).
compare_with_readers() {
  local file=$1 mnt=$2 label=$3 out ext
  out="$IT_TMP/readers-$label"
  mkdir -p "$out/readpst"
  if ! command -v pffexport >/dev/null || ! command -v readpst >/dev/null; then
    fail "$label: pffexport and readpst are needed (pff-tools, pst-utils)"
    return
  fi
  check "$label: pffexport exports the file" pffexport -q -m all -f all -t "$out/pff" "$file"
  check "$label: readpst exports the file" readpst -j 0 -r -e -D -8 -o "$out/readpst" "$file"
  ext="$PST_DIR/expected/$label.pst-extractor.txt"
  if [ -n "${MAILFS_PST_EXTRACTOR_DIR:-}" ] && [ -d "$MAILFS_PST_EXTRACTOR_DIR/node_modules/pst-extractor" ]; then
    NODE_PATH="$MAILFS_PST_EXTRACTOR_DIR/node_modules" node "$SHARED_DIR/tools/pst_tree_extractor.js" "$file" \
      >"$out/extractor.txt" 2>&1
    ext="$out/extractor.txt"
  fi
  [ -f "$ext" ] || ext=-
  check "$label: same tree, counts, subjects and attachments as pffexport, readpst, pst-extractor" \
    python3 "$MAILFS_SOURCE_DIR/tests/integration/pst_compare_readers.py" "$mnt" "$out/pff.export" \
    "$out/readpst" "$ext"
  python3 "$MAILFS_SOURCE_DIR/tests/integration/pst_compare_readers.py" "$mnt" "$out/pff.export" "$out/readpst" \
    "$ext" 2>&1 | grep -E '^(#|known)' | sed "s/^/$label: /" >&2
}

# check_sample NAME "FOLDER=COUNT;...": mounts NAME and runs every check.
check_sample() {
  local name=$1 expected=$2 label mnt copy pair folder count got f
  label=${name%.pst}
  mnt="$IT_TMP/mnt-$label"
  if ! start_mount "$PST_DIR/$name" "$mnt" "cache_dir=$IT_TMP/cache-$label"; then
    return
  fi
  local -a pairs
  IFS=';' read -r -a pairs <<<"$expected"
  for pair in "${pairs[@]}"; do
    folder=${pair%=*}
    count=${pair##*=}
    if [ ! -d "$mnt/$folder" ]; then
      fail "$label: folder $folder missing"
      continue
    fi
    got=$(find "$mnt/$folder" -maxdepth 1 -type f -name '*.eml' | wc -l)
    expect_eq "$label: $folder holds $count messages" "$got" "$count"
  done
  check "$label: find lists the mount" find "$mnt"
  expect_eq "$label: no unreadable messages" "$(find "$mnt" -name '*(unreadable)*' | head -n 3)" ""
  check "$label: cat of every message, sizes as stat says" bash -c '
    find "$1" -type f -name "*.eml" -print0 | while IFS= read -r -d "" f; do
      n=$(cat "$f" | wc -c) || exit 1
      [ "$n" = "$(stat -c %s "$f")" ] || { echo "$f: read $n bytes, stat says $(stat -c %s "$f")"; exit 1; }
    done' _ "$mnt"
  check "$label: every message parses as RFC 5322" python3 - "$mnt" <<'PYEOF'
import email, email.policy, os, sys
for top, dirs, files in os.walk(sys.argv[1]):
    for name in files:
        if name.endswith(".eml"):
            with open(os.path.join(top, name), "rb") as fh:
                m = email.message_from_binary_file(fh, policy=email.policy.default)
            if m["Subject"] is None and m["From"] is None:
                sys.exit("%s: neither Subject nor From" % name)
PYEOF
  check "$label: mailname.py check" python3 "$MAILNAME" check "$mnt"
  compare_with_readers "$PST_DIR/$name" "$mnt" "$label"

  f=$(find "$mnt" -type f -name '*.eml' | head -n 1)
  expect_fail_with "$label: mkdir fails with EROFS" "Read-only file system" mkdir "$mnt/newfolder"
  expect_fail_with "$label: create fails with EROFS" "Read-only file system" touch "$mnt/new.eml"
  if [ -n "$f" ]; then
    expect_fail_with "$label: unlink fails with EROFS" "Read-only file system" rm -f "$f"
    expect_fail_with "$label: setfattr fails with EROFS" "Read-only file system" \
      setfattr -n user.mail.flags -v '\Flagged' "$f"
    check "$label: user.mail.id is pst:0x..." bash -c \
      'getfattr -n user.mail.id --only-values --absolute-names "$1" | grep -Eq "^pst:0x[0-9a-f]+$"' _ "$f"
  fi

  copy="$IT_TMP/copy-$label"
  check "$label: cp -a of the mount" cp -a "$mnt" "$copy"
  check "$label: diff -r mount copy" diff -r "$mnt" "$copy"
  stop_mount "$mnt" || fail "$label: daemon exit status $?"

  # A remount shows the same bytes.
  if start_mount "$PST_DIR/$name" "$mnt" "cache_dir=$IT_TMP/cache-$label"; then
    check "$label: remount serves the same tree" diff -r "$mnt" "$copy"
    stop_mount "$mnt" || fail "$label: daemon exit status $?"
  fi
}

check_sample ms-outlook-pst-rs-Empty.pst "Deleted Items=0"
check_sample go-pst-32-bit.pst "Deleted Items=0;Calendar=1"
check_sample aspose-Outlook_1.pst \
  "Inbox=8;Inbox/SubInbox=0;Sent Items=6;Calendar=1;Contacts=1;Deleted Items=0;Outbox=0;Drafts=0;Junk E-mail=0"

# The empty file shows exactly its Deleted Items folder.
mnt="$IT_TMP/mnt-empty-tree"
if start_mount "$PST_DIR/ms-outlook-pst-rs-Empty.pst" "$mnt" "cache_dir=$IT_TMP/cache-empty-tree,strict"; then
  expect_eq "empty file: the tree is Deleted Items alone" "$(cd "$mnt" && find . | sort | tr '\n' '|')" ".|./Deleted Items|"
  stop_mount "$mnt" || fail "empty file: daemon exit status $?"
fi

# Sources that must be refused with exit status 2 and a clear message.
# refused DESCRIPTION PATTERN SOURCE [OPTS]
refused() {
  local what=$1 pattern=$2 src=$3 opts=${4:-} out rc
  IT_CHECKS=$((IT_CHECKS + 1))
  mkdir -p "$IT_TMP/mnt-refused"
  out=$("$MAILFS_BIN" "$src" "$IT_TMP/mnt-refused" -f ${opts:+-o "$opts"} 2>&1 </dev/null)
  rc=$?
  if [ $rc -ne 2 ] || ! printf '%s' "$out" | grep -Eq -- "$pattern"; then
    fail "$what: exit $rc, output: $out"
    mountpoint -q "$IT_TMP/mnt-refused" && fusermount3 -uz "$IT_TMP/mnt-refused"
    return 1
  fi
  pass "$what"
}
# Writing is for Unicode files (test_pst_write.sh); an ANSI one is refused.
refused "rw on an ANSI PST is refused" "ANSI" \
  "$PST_DIR/go-pst-32-bit.pst" "rw,cache_dir=$IT_TMP/cache-refused"
refused "a missing PST is refused" "missing\.pst" "$IT_TMP/missing.pst" "cache_dir=$IT_TMP/cache-refused"
printf 'not an Outlook data file\n' >"$IT_TMP/junk.pst"
refused "a file that is no PST is refused" "junk\.pst.*not a readable PST file" "$IT_TMP/junk.pst" \
  "cache_dir=$IT_TMP/cache-refused"
head -c 20000 "$PST_DIR/aspose-Outlook_1.pst" >"$IT_TMP/truncated.pst"
refused "a truncated PST is refused" "truncated\.pst" "$IT_TMP/truncated.pst" "cache_dir=$IT_TMP/cache-refused"

# A damaged copy: one byte of aspose-Outlook_1.pst changed (offset 153555,
# xor 0x55) breaks the attachment table of one message in Sent Items (node
# 0x200104). The mount lists it as unreadable, reading it fails with EIO, the
# log names the folder and the node; the other messages read as before.
damaged="$IT_TMP/damaged.pst"
if [ "$(sha256sum "$PST_DIR/aspose-Outlook_1.pst" | cut -c1-16)" != "b11f87c5658a18ad" ]; then
  fail "aspose-Outlook_1.pst is not the expected sample (sha256 b11f87c5658a18ad...)"
else
  python3 - "$PST_DIR/aspose-Outlook_1.pst" "$damaged" <<'PYEOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
data[153555] ^= 0x55
open(sys.argv[2], "wb").write(data)
PYEOF
  mnt="$IT_TMP/mnt-damaged"
  if start_mount "$damaged" "$mnt" "cache_dir=$IT_TMP/cache-damaged"; then
    bad=$(find "$mnt/Sent Items" -name '*(unreadable)*.eml')
    expect_eq "damaged copy: one unreadable message in Sent Items" "$(printf '%s' "$bad" | grep -c .)" 1
    expect_fail_with "damaged copy: reading it fails with EIO" "Input/output error" cat "$bad"
    check "damaged copy: the log names folder and node id" \
      grep -q 'folder "Sent Items": message 5: node 0x200104' "${IT_LOGS[$mnt]}"
    expect_eq "damaged copy: the other 5 messages of Sent Items read" \
      "$(find "$mnt/Sent Items" -name '*.eml' ! -name '*(unreadable)*' -exec sh -c 'cat "$1" >/dev/null && echo ok' _ {} \; | grep -c ok)" 5
    check "damaged copy: user.mail.id of the unreadable item" bash -c \
      'test "$(getfattr -n user.mail.id --only-values --absolute-names "$1")" = pst:0x200104' _ "$bad"
    stop_mount "$mnt" || fail "damaged copy: daemon exit status $?"
  fi
  refused "damaged copy: strict refuses the mount" 'folder "Sent Items".*node 0x200104' "$damaged" \
    "strict,cache_dir=$IT_TMP/cache-damaged-strict"
fi

it_finish
