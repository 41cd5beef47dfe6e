#!/bin/bash
# Writes PST files through real mounts (-o create, -o rw) with cp -a, rsync
# -aX, mv, rm, mkdir, rmdir, setfattr and touch, then has every file judged
# by mailfs-pstcheck, pffinfo/pffexport (any stderr line fails), readpst,
# and a read-only remount whose tree must equal the source byte for byte
# (diff -r), with the same mtimes and user.mail.flags.
#
#   MAILFS_BIN=build/mount-tools/mailfs bash tests/integration/test_pst_write.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init
[ "$(id -u)" -eq 0 ] || skip "runs as root (chown of the source tree to nobody)"
for tool in setfattr rsync pffinfo pffexport readpst lspst; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done
PSTCHECK=${MAILFS_PSTCHECK_BIN:-$(dirname "$MAILFS_BIN")/mailfs-pstcheck}
[ -x "$PSTCHECK" ] || skip "mailfs-pstcheck not found next to $MAILFS_BIN"
touch "$IT_TMP/xattr-probe"
setfattr -n user.probe -v 1 "$IT_TMP/xattr-probe" 2>/dev/null ||
  skip "$IT_TMP does not support user.* xattrs"

# judge PST LABEL EXPECTED_MESSAGES [SOURCE | sample [FOLDER TREE]]: every
# reader must accept the file and count the messages we expect
# (EXPECTED_MESSAGES < 0: do not count). With SOURCE, the tree of .eml files
# that a file made by -o create must hold, the four judges -- a remount,
# pffexport, readpst and pst-extractor -- must show its folders, per folder
# the count and subjects of the messages and their attachments' names and
# bytes. With "sample", a sample file of another producer, the three foreign
# judges must agree with its remount, and its FOLDER (mailfs names) that
# mailfs filled with the .eml files of TREE must hold TREE as above
# (pst_compare_readers.py; its summary is logged).
judge() {
  local pst=$1 label=$2 want=$3 src=${4:-} sub=${5:-} tree=${6:-} out n
  local -a ext=()
  check "$label: mailfs-pstcheck finds nothing" "$PSTCHECK" "$pst"
  out="$IT_TMP/judge.$RANDOM"
  mkdir -p "$out/readpst"
  pffinfo "$pst" >"$out/info.txt" 2>"$out/info.err"
  check "$label: pffinfo exits 0 without stderr" test $? -eq 0 -a ! -s "$out/info.err"
  [ -s "$out/info.err" ] && sed 's/^/    /' "$out/info.err" | head -n 10 >&2
  pffexport -q -t "$out/export" "$pst" >"$out/export.txt" 2>"$out/export.err"
  check "$label: pffexport exits 0 without stderr" test $? -eq 0 -a ! -s "$out/export.err"
  [ -s "$out/export.err" ] && sed 's/^/    /' "$out/export.err" | head -n 10 >&2
  readpst -j 0 -e -D -8 -o "$out/readpst" "$pst" >"$out/readpst.txt" 2>&1
  check "$label: readpst exits 0" test $? -eq 0
  if [ "$want" -ge 0 ]; then
    n=$(find "$out/export.export" -type d -name 'Message[0-9]*' | wc -l)
    expect_eq "$label: messages pffexport finds" "$n" "$want"
    # libpst's listing (readpst's output tree cannot hold folders named
    # "." or "..", so the files it writes are not a count).
    n=$(lspst "$pst" 2>/dev/null | grep -c '^Email')
    expect_eq "$label: messages lspst lists" "$n" "$want"
  fi
  if [ -n "${MAILFS_PST_EXTRACTOR_DIR:-}" ]; then
    NODE_PATH="$MAILFS_PST_EXTRACTOR_DIR/node_modules" node "$MAILFS_SOURCE_DIR/tests/integration/pst_extractor_dump.js" \
      "$pst" >"$out/extractor.jsonl" 2>"$out/extractor.err"
    check "$label: pst-extractor reads the file" test $? -eq 0
    check "$label: pst-extractor reports no unreadable part" bash -c '! grep -q "^{\"t\":\"E\"" "$1"' _ "$out/extractor.jsonl"
    [ "$want" -ge 0 ] && expect_eq "$label: messages pst-extractor finds" "$(grep -c '^{"t":"M"' "$out/extractor.jsonl")" "$want"
    ext=(--extractor "$out/extractor.jsonl")
  else
    log "pst-extractor is not installed (.ci/install-deps.sh installs it): that judge is skipped"
  fi
  [ -n "$src" ] || return 0
  start_mount "$pst" "$out/mnt" || { fail "$label: cannot remount $pst for the judges"; return; }
  if [ "$src" = sample ]; then
    # A file of another producer with messages added: the judges against
    # the remount, with the sample's known disagreements (as test_pst_mount.sh).
    local txt=-
    [ -s "$out/extractor.jsonl" ] && txt=$out/extractor.jsonl
    python3 "$MAILFS_SOURCE_DIR/tests/integration/pst_compare_readers.py" "$out/mnt" "$out/export.export" \
      "$out/readpst" "$txt" ${sub:+"$sub"} >"$out/compare.txt" 2>&1
    check "$label: the judges show the remount's folders, counts, subjects and attachments" test $? -eq 0
    if [ -n "$tree" ]; then
      python3 "$MAILFS_SOURCE_DIR/tests/integration/pst_compare_readers.py" --source "$tree" --subtree "$sub" \
        --mount "$out/mnt" --pffexport "$out/export.export" --readpst "$out/readpst" "${ext[@]}" >>"$out/compare.txt" 2>&1
      check "$label: every judge shows the tree copied into $sub as its source" test $? -eq 0
    fi
  else
    python3 "$MAILFS_SOURCE_DIR/tests/integration/pst_compare_readers.py" --source "$src" --new-file \
      --mount "$out/mnt" --pffexport "$out/export.export" --readpst "$out/readpst" "${ext[@]}" >"$out/compare.txt" 2>&1
    check "$label: every judge shows the source's folders, counts, subjects and attachments" test $? -eq 0
  fi
  # (the per-folder lines of the sample mode only when they disagree)
  grep -E -v '^ok +(pffexport|readpst|pst-extractor): /' "$out/compare.txt" |
    awk -v p="$IT_NAME: $label: " '{ print p $0 }' | head -n 60
  stop_mount "$out/mnt"
}

count_eml() { find "$1" -type f -name '*.eml' | wc -l; }

# ---------------------------------------------------------------------------
# The source: a generated IFF extract (every quoting and code-page case,
# attachments, nested folders) mounted read-only and copied to a local tree
# that belongs to nobody, with a spread of flags set on its files.
python3 "$GEN_IFF" "$IT_TMP/IMAP.001" --messages 160 --mailboxes 2 --seed 23 >/dev/null ||
  die "gen_iff.py failed"
start_mount "$IT_TMP/IMAP.001" "$IT_TMP/iff" || die "cannot mount the source extract"
mkdir "$IT_TMP/src"
check "cp -a of the IFF mount to a local tree" cp -a "$IT_TMP/iff/." "$IT_TMP/src/"
stop_mount "$IT_TMP/iff"
find "$IT_TMP/src" -type f ! -name '*.eml' -delete   # side files (address books) are not mail
python3 - "$IT_TMP/src" <<'PYEOF'
import os, sys
flags = [b"\\Seen", b"\\Answered \\Seen", b"\\Flagged", b"\\Seen \\Draft",
         b"\\Seen $Forwarded Junk", b"\\Answered \\Flagged \\Seen \\Draft Project-X"]
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(sys.argv[1]) for f in fs)
for i, p in enumerate(files):
    if i % 3 == 0:
        if "user.mail.flags" in os.listxattr(p):
            os.removexattr(p, "user.mail.flags")
    else:
        os.setxattr(p, "user.mail.flags", flags[i % len(flags)])
PYEOF
# Sibling folders whose names pffexport and readpst write alike ("A/B",
# "A:B", "A\B" and "A_B" all become A_B there, then Folder%05d or A_B1,
# A_B2, ... in the order of the hierarchy table; "A_B1" can lose its name to
# them) and "." beside "_": the judges' comparison must map them back.
# (In the last mailbox, so that the first message below stays where it was.)
box=$(find "$IT_TMP/src" -mindepth 1 -maxdepth 1 -type d | sort | tail -n 1)
mapfile -t some < <(find "$box/Inbox" -maxdepth 1 -type f -name '*.eml' | sort | head -n 6)
[ "${#some[@]}" -eq 6 ] || die "fewer than 6 messages in $box/Inbox"
col="$box/Collisions"
mkdir -p "$col/A%2FB" "$col/A:B" "$col/A\\B" "$col/A_B" "$col/A_B1" "$col/%2E" "$col/_"
cp -a "${some[0]}" "${some[1]}" "$col/A%2FB/"
cp -a "${some[2]}" "$col/A:B/"
cp -a "${some[2]}" "$col/A\\B/"
cp -a "${some[3]}" "${some[4]}" "${some[5]}" "$col/A_B/"
cp -a "${some[4]}" "$col/A_B1/"
cp -a "${some[0]}" "$col/%2E/"
cp -a "${some[1]}" "$col/_/"
chown -R nobody "$IT_TMP/src"
total=$(count_eml "$IT_TMP/src")
[ "$total" -gt 100 ] || die "the source tree has only $total messages"
log "source tree: $total messages"

# ---------------------------------------------------------------------------
# 1. -o create, cp -a in; the live mount already equals the source.
start_mount "$IT_TMP/a.pst" "$IT_TMP/pa" create || die "cannot create a.pst"
check "a new file shows an empty Deleted Items" test -d "$IT_TMP/pa/Deleted Items"
expect_eq "Deleted Items is empty" "$(ls -A "$IT_TMP/pa/Deleted Items" | wc -l)" 0
check "cp -a into the new PST" cp -a "$IT_TMP/src/." "$IT_TMP/pa/"
check "diff -r source / live PST mount" diff -r -x 'Deleted Items' "$IT_TMP/src" "$IT_TMP/pa"
check "mtimes and flags on the live mount" python3 "$MAILFS_SOURCE_DIR/tests/support/compare_meta.py" "$IT_TMP/src" "$IT_TMP/pa"
stop_mount "$IT_TMP/pa"
check "the daemon of the create mount exits 0" test $? -eq 0
judge "$IT_TMP/a.pst" "cp -a file" "$total" "$IT_TMP/src"

# 2. Remount read-only: the same tree, bytes, mtimes and flags.
start_mount "$IT_TMP/a.pst" "$IT_TMP/ra" || die "cannot remount a.pst"
check "diff -r source / remounted PST" diff -r -x 'Deleted Items' "$IT_TMP/src" "$IT_TMP/ra"
check "mtimes and flags after a remount" python3 "$MAILFS_SOURCE_DIR/tests/support/compare_meta.py" "$IT_TMP/src" "$IT_TMP/ra"
out=$(diff -r "$IT_TMP/src" "$IT_TMP/ra" 2>&1)
expect_eq "diff -r prints only the new file's Deleted Items" "$out" "Only in $IT_TMP/ra: Deleted Items"
stop_mount "$IT_TMP/ra"

# 3. rsync -aX into another new file, twice: the second run sends nothing.
start_mount "$IT_TMP/b.pst" "$IT_TMP/pb" create || die "cannot create b.pst"
check "rsync -aX into the new PST" rsync -aX "$IT_TMP/src/" "$IT_TMP/pb/"
stats=$(rsync -aX --stats "$IT_TMP/src/" "$IT_TMP/pb/" 2>&1)
check "second rsync -aX transfers no file" grep -q 'Number of regular files transferred: 0' <<<"$stats"
stop_mount "$IT_TMP/pb"
check "the daemon of the rsync mount exits 0" test $? -eq 0
judge "$IT_TMP/b.pst" "rsync file" "$total" "$IT_TMP/src"
start_mount "$IT_TMP/b.pst" "$IT_TMP/rb" || die "cannot remount b.pst"
check "diff -r source / rsync'ed PST" diff -r -x 'Deleted Items' "$IT_TMP/src" "$IT_TMP/rb"
check "mtimes and flags of the rsync'ed PST" python3 "$MAILFS_SOURCE_DIR/tests/support/compare_meta.py" "$IT_TMP/src" "$IT_TMP/rb"
stop_mount "$IT_TMP/rb"

# 4. Changes on an existing file (-o rw): folders and messages.
start_mount "$IT_TMP/a.pst" "$IT_TMP/wa" rw || die "cannot mount a.pst rw"
top=$(dirname "$(find "$IT_TMP/wa" -mindepth 2 -type f -name '*.eml' | sort | head -n 1)")
first=$(find "$top" -maxdepth 1 -type f -name '*.eml' | sort | head -n 1)
second=$(find "$top" -maxdepth 1 -type f -name '*.eml' | sort | sed -n 2p)
[ -n "$first" ] && [ -n "$second" ] || die "no messages in $top"
check "mkdir of a non-ASCII folder" mkdir "$IT_TMP/wa/Ärger – 2024"
check "mkdir of a nested folder" mkdir "$IT_TMP/wa/Ärger – 2024/Unterordner"
check "mv of a message between folders" mv "$first" "$IT_TMP/wa/Ärger – 2024/"
check "rm of a message" rm "$second"
moved="$IT_TMP/wa/Ärger – 2024/$(basename "$first")"
check "setfattr of flags" setfattr -n user.mail.flags -v '\Flagged Later' "$moved"
check "touch -d of a message" touch -d '2011-03-04 05:06:07 UTC' "$moved"
check "rename of a folder" mv "$IT_TMP/wa/Ärger – 2024/Unterordner" "$IT_TMP/wa/Ärger – 2024/Renamed"
check "rmdir of an empty folder" rmdir "$IT_TMP/wa/Ärger – 2024/Renamed"
expect_fail_with "rmdir of a folder with messages" "not empty" rmdir "$IT_TMP/wa/Ärger – 2024"
stop_mount "$IT_TMP/wa"
check "the daemon of the rw mount exits 0" test $? -eq 0
# What the changed file must hold: the source with the same changes.
cp -a "$IT_TMP/src" "$IT_TMP/src-changed"
mkdir -p "$IT_TMP/src-changed/Ärger – 2024"
mv "$IT_TMP/src-changed/${first#"$IT_TMP/wa/"}" "$IT_TMP/src-changed/Ärger – 2024/"
rm "$IT_TMP/src-changed/${second#"$IT_TMP/wa/"}"
judge "$IT_TMP/a.pst" "changed file" $((total - 1)) "$IT_TMP/src-changed"
start_mount "$IT_TMP/a.pst" "$IT_TMP/ra2" || die "cannot remount the changed a.pst"
moved_name=$(basename "$first")
check "the moved message is in its new folder" test -f "$IT_TMP/ra2/Ärger – 2024/$moved_name"
check "its bytes are unchanged" cmp "$IT_TMP/ra2/Ärger – 2024/$moved_name" "$IT_TMP/src/${first#"$IT_TMP/wa/"}"
check "the removed message is gone" test ! -e "$IT_TMP/ra2/${second#"$IT_TMP/wa/"}"
expect_eq "its new flags" "$(getfattr --only-values -n user.mail.flags "$IT_TMP/ra2/Ärger – 2024/$moved_name")" '\Flagged Later'
expect_eq "its new mtime" "$(stat -c %Y "$IT_TMP/ra2/Ärger – 2024/$moved_name")" "$(date -d '2011-03-04 05:06:07 UTC' +%s)"
check "the removed folder is gone" test ! -e "$IT_TMP/ra2/Ärger – 2024/Renamed"
expect_eq "messages after the changes" "$(count_eml "$IT_TMP/ra2")" $((total - 1))
stop_mount "$IT_TMP/ra2"

# 5. Refusals: create never overwrites, rw needs a file, .ost stays read-only.
mkdir -p "$IT_TMP/m"
"$MAILFS_BIN" "$IT_TMP/a.pst" "$IT_TMP/m" -f -o create >"$IT_TMP/refuse.log" 2>&1
expect_eq "-o create of an existing file exits 2" "$?" 2
check "... and says the file exists" grep -q 'exists' "$IT_TMP/refuse.log"
"$MAILFS_BIN" "$IT_TMP/none.pst" "$IT_TMP/m" -f -o rw >"$IT_TMP/refuse.log" 2>&1
expect_eq "-o rw of a missing file exits 2" "$?" 2
cp "$IT_TMP/a.pst" "$IT_TMP/c.ost"
"$MAILFS_BIN" "$IT_TMP/c.ost" "$IT_TMP/m" -f -o rw >"$IT_TMP/refuse.log" 2>&1
expect_eq "-o rw of an .ost exits 2" "$?" 2

# 6. Appending to files made by other producers (-o rw on copies).
fixtures="$MAILFS_SOURCE_DIR/../shared/fixtures/pst"
one=$(find "$IT_TMP/src" -type f -name '*.eml' | sort | head -n 1)
if [ -d "$fixtures" ]; then
  for sample in "$fixtures"/*.pst; do
    name=$(basename "$sample" .pst)
    # Only Unicode files are written; ANSI ones must be refused clearly.
    ver=$(od -An -tu2 -j10 -N2 "$sample" | tr -d ' ')
    cp "$sample" "$IT_TMP/$name.pst"
    if [ "$ver" != 23 ]; then
      "$MAILFS_BIN" "$IT_TMP/$name.pst" "$IT_TMP/m" -f -o rw >"$IT_TMP/refuse.log" 2>&1
      expect_eq "$name (ANSI, version $ver): -o rw exits 2" "$?" 2
      continue
    fi
    start_mount "$IT_TMP/$name.pst" "$IT_TMP/r-$name" || { fail "$name: cannot mount"; continue; }
    before=$(count_eml "$IT_TMP/r-$name")
    stop_mount "$IT_TMP/r-$name"
    start_mount "$IT_TMP/$name.pst" "$IT_TMP/w-$name" rw || { fail "$name: cannot mount rw"; continue; }
    dest=$(find "$IT_TMP/w-$name" -mindepth 1 -maxdepth 1 -type d | sort | head -n 1)
    [ -n "$dest" ] || { check "$name: mkdir in an existing file" mkdir "$IT_TMP/w-$name/Added"; dest="$IT_TMP/w-$name/Added"; }
    check "$name: cp of a message into an existing file" cp -a "$one" "$dest/"
    stop_mount "$IT_TMP/w-$name"
    check "$name: the rw daemon exits 0" test $? -eq 0
    judge "$IT_TMP/$name.pst" "$name with a message added" -1 sample
    start_mount "$IT_TMP/$name.pst" "$IT_TMP/q-$name" || { fail "$name: cannot remount"; continue; }
    expect_eq "$name: one message more than before" "$(count_eml "$IT_TMP/q-$name")" $((before + 1))
    check "$name: the added message reads back byte for byte" cmp "$one" "${dest/w-$name/q-$name}/$(basename "$one")"
    stop_mount "$IT_TMP/q-$name"
  done
fi

# ---------------------------------------------------------------------------
# 7. Folder moves across parents (design §6 folder rename): mv of a folder
#    with subfolders and messages, into a non-ASCII folder, on a file mailfs
#    made and on a copy of Outlook's sample; refusals; every reader judges
#    the file and a remount must show the expected tree byte for byte.

# rename2 FROM TO FLAGS: renameat2(2) (FLAGS 1 = RENAME_NOREPLACE).
rename2_code='import ctypes
libc = ctypes.CDLL(None, use_errno=True)
if libc.renameat2(-100, args[0].encode(), -100, args[1].encode(), int(args[2])) != 0:
    e = ctypes.get_errno()
    raise OSError(e, os.strerror(e))'
# extractor_below PST PATH: "messages folders" pst-extractor finds in the
# folder PATH (below the IPM subtree) and everything under it.
extractor_below() {
  NODE_PATH="$MAILFS_PST_EXTRACTOR_DIR/node_modules" node "$SHARED_DIR/tools/pst_tree_extractor.js" "$1" 2>/dev/null |
    awk -v p="/$2" '/^F / {
        line = substr($0, 3); cut = index(line, " | "); path = substr(line, 1, cut - 1)
        tail = substr(path, length(path) - length(p) + 1)
        inside = (tail == p) || index(path, p "/") > 0
        if (inside) { folders++; split(substr(line, cut + 3), a, /[= ]/); msgs += a[2] }
      } END { print msgs + 0, folders + 0 }'
}
has_extractor() { [ -n "${MAILFS_PST_EXTRACTOR_DIR:-}" ] && [ -f "$SHARED_DIR/tools/pst_tree_extractor.js" ]; }
mb=$(find "$IT_TMP/src" -mindepth 1 -maxdepth 1 -type d | sort | head -n 1)
n_mb_folders=$(find "$mb" -type d | wc -l)
[ -n "$(find "$mb" -mindepth 1 -type d)" ] || die "$mb has no subfolders to move with it"
n_mb=$(count_eml "$mb")
start_mount "$IT_TMP/mv.pst" "$IT_TMP/mv" create || die "cannot create mv.pst"
mkdir -p "$IT_TMP/mv/A/Leer" "$IT_TMP/mv/C/Leer" "$IT_TMP/mv/Ärger – 2024" "$IT_TMP/mv/Voll/B"
check "cp -a of a folder tree into A/B" cp -a "$mb" "$IT_TMP/mv/A/B"
cp -a "$(find "$mb" -type f -name '*.eml' | sort | head -n 1)" "$IT_TMP/mv/Voll/B/" ||
  die "cannot put a message into Voll/B"
check "mv A/B C/ (a folder with subfolders and messages)" mv "$IT_TMP/mv/A/B" "$IT_TMP/mv/C/"
check "A/B is gone" test ! -e "$IT_TMP/mv/A/B"
check "diff -r source / the moved folder on the live mount" diff -r "$mb" "$IT_TMP/mv/C/B"
check "mv C/B into a non-ASCII folder, renamed" mv "$IT_TMP/mv/C/B" "$IT_TMP/mv/Ärger – 2024/B – verschoben"
check "diff -r source / the folder moved again" diff -r "$mb" "$IT_TMP/mv/Ärger – 2024/B – verschoben"
check "mv of a folder onto an empty folder elsewhere replaces it" \
  mv -T "$IT_TMP/mv/C/Leer" "$IT_TMP/mv/A/Leer"
expect_errno "a folder moved into its own subfolder: EINVAL" EINVAL 'os.rename(args[0], args[1])' \
  "$IT_TMP/mv/Ärger – 2024" "$IT_TMP/mv/Ärger – 2024/B – verschoben/Ärger"
expect_errno "Deleted Items moved under another folder: EINVAL" EINVAL 'os.rename(args[0], args[1])' \
  "$IT_TMP/mv/Deleted Items" "$IT_TMP/mv/A/Deleted Items"
expect_errno "a move onto a folder with messages: ENOTEMPTY" ENOTEMPTY 'os.rename(args[0], args[1])' \
  "$IT_TMP/mv/A/Leer" "$IT_TMP/mv/Voll/B"
expect_errno "RENAME_NOREPLACE onto a taken name: EEXIST" EEXIST "$rename2_code" \
  "$IT_TMP/mv/A/Leer" "$IT_TMP/mv/Voll/B" 1
stop_mount "$IT_TMP/mv"
check "the daemon of the folder-move mount exits 0" test $? -eq 0
if has_extractor; then
  expect_eq "pst-extractor: messages and folders at the new place" \
    "$(extractor_below "$IT_TMP/mv.pst" "Ärger – 2024/B – verschoben")" "$n_mb $n_mb_folders"
  expect_eq "pst-extractor: nothing left at the old places" \
    "$(extractor_below "$IT_TMP/mv.pst" "A/B") $(extractor_below "$IT_TMP/mv.pst" "C/B")" "0 0 0 0"
fi
# The expected tree, built locally with the same moves.
mkdir -p "$IT_TMP/mv-want/A/Leer" "$IT_TMP/mv-want/C" "$IT_TMP/mv-want/Ärger – 2024" "$IT_TMP/mv-want/Voll/B"
cp -a "$mb" "$IT_TMP/mv-want/Ärger – 2024/B – verschoben"
cp -a "$(find "$mb" -type f -name '*.eml' | sort | head -n 1)" "$IT_TMP/mv-want/Voll/B/"
judge "$IT_TMP/mv.pst" "file with moved folders" $((n_mb + 1)) "$IT_TMP/mv-want"
start_mount "$IT_TMP/mv.pst" "$IT_TMP/mv-r" || die "cannot remount mv.pst"
check "diff -r expected tree / remounted file with moved folders" \
  diff -r -x 'Deleted Items' "$IT_TMP/mv-want" "$IT_TMP/mv-r"
check "mtimes and flags of the moved messages" \
  python3 "$MAILFS_SOURCE_DIR/tests/support/compare_meta.py" "$IT_TMP/mv-want" "$IT_TMP/mv-r"
stop_mount "$IT_TMP/mv-r"

# The same on a copy of a file Outlook wrote: a new folder tree moved under
# Outlook's Inbox/SubInbox, then SubInbox (Outlook's) under Sent Items;
# Outlook's default folders stay where they are.
sample="$fixtures/aspose-Outlook_1.pst"
if [ -f "$sample" ]; then
  cp "$sample" "$IT_TMP/ol-mv.pst"
  start_mount "$IT_TMP/ol-mv.pst" "$IT_TMP/ol-before" || die "cannot mount the Outlook sample"
  mkdir "$IT_TMP/ol-want"
  check "copy of the Outlook sample's tree" cp -a "$IT_TMP/ol-before/." "$IT_TMP/ol-want/"
  stop_mount "$IT_TMP/ol-before"
  start_mount "$IT_TMP/ol-mv.pst" "$IT_TMP/ol-w" rw || die "cannot mount the Outlook sample rw"
  check "Outlook sample: cp -a of a folder tree into it" cp -a "$mb" "$IT_TMP/ol-w/Projekt"
  check "Outlook sample: mv of the new tree into Inbox/SubInbox" mv "$IT_TMP/ol-w/Projekt" "$IT_TMP/ol-w/Inbox/SubInbox/"
  check "Outlook sample: mv of Outlook's SubInbox under Sent Items" mv "$IT_TMP/ol-w/Inbox/SubInbox" "$IT_TMP/ol-w/Sent Items/"
  for special in Inbox Drafts Calendar "Sent Items"; do
    expect_errno "Outlook sample: $special stays where it is (EINVAL)" EINVAL 'os.rename(args[0], args[1])' \
      "$IT_TMP/ol-w/$special" "$IT_TMP/ol-w/Journal/$special"
  done
  stop_mount "$IT_TMP/ol-w"
  check "Outlook sample: the rw daemon exits 0" test $? -eq 0
  judge "$IT_TMP/ol-mv.pst" "Outlook sample with moved folders" -1 sample "Sent Items/SubInbox/Projekt" "$mb"
  if has_extractor; then
    expect_eq "Outlook sample: pst-extractor finds the moved trees" \
      "$(extractor_below "$IT_TMP/ol-mv.pst" "Sent Items/SubInbox")" "$n_mb $((n_mb_folders + 1))"
    expect_eq "Outlook sample: pst-extractor finds nothing left in Inbox/SubInbox" \
      "$(extractor_below "$IT_TMP/ol-mv.pst" "Inbox/SubInbox")" "0 0"
  fi
  mkdir -p "$IT_TMP/ol-want/Sent Items"
  mv "$IT_TMP/ol-want/Inbox/SubInbox" "$IT_TMP/ol-want/Sent Items/"
  cp -a "$mb" "$IT_TMP/ol-want/Sent Items/SubInbox/Projekt"
  start_mount "$IT_TMP/ol-mv.pst" "$IT_TMP/ol-r" || die "cannot remount the changed Outlook sample"
  check "diff -r expected tree / remounted Outlook sample" diff -r "$IT_TMP/ol-want" "$IT_TMP/ol-r"
  check "mtimes and flags in the remounted Outlook sample" \
    python3 "$MAILFS_SOURCE_DIR/tests/support/compare_meta.py" "$IT_TMP/ol-want" "$IT_TMP/ol-r"
  stop_mount "$IT_TMP/ol-r"
fi

it_finish
