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

# judge PST LABEL EXPECTED_MESSAGES: every reader must accept the file and
# count the messages we expect (EXPECTED_MESSAGES < 0: do not count).
judge() {
  local pst=$1 label=$2 want=$3 out n
  check "$label: mailfs-pstcheck finds nothing" "$PSTCHECK" "$pst"
  out="$IT_TMP/judge.$RANDOM"
  mkdir -p "$out"
  pffinfo "$pst" >"$out/info.txt" 2>"$out/info.err"
  check "$label: pffinfo exits 0 without stderr" test $? -eq 0 -a ! -s "$out/info.err"
  [ -s "$out/info.err" ] && sed 's/^/    /' "$out/info.err" | head -n 10 >&2
  pffexport -q -t "$out/export" "$pst" >"$out/export.txt" 2>"$out/export.err"
  check "$label: pffexport exits 0 without stderr" test $? -eq 0 -a ! -s "$out/export.err"
  [ -s "$out/export.err" ] && sed 's/^/    /' "$out/export.err" | head -n 10 >&2
  readpst -j 0 -e -o "$out" "$pst" >"$out/readpst.txt" 2>&1
  check "$label: readpst exits 0" test $? -eq 0
  if [ "$want" -ge 0 ]; then
    n=$(find "$out/export.export" -type d -name 'Message[0-9]*' | wc -l)
    expect_eq "$label: messages pffexport finds" "$n" "$want"
    # libpst's listing (readpst's output tree cannot hold folders named
    # "." or "..", so the files it writes are not a count).
    n=$(lspst "$pst" 2>/dev/null | grep -c '^Email')
    expect_eq "$label: messages lspst lists" "$n" "$want"
  fi
  if [ -n "${MAILFS_PST_EXTRACTOR_DIR:-}" ] && [ -f "$SHARED_DIR/tools/pst_tree_extractor.js" ]; then
    NODE_PATH="$MAILFS_PST_EXTRACTOR_DIR/node_modules" node "$SHARED_DIR/tools/pst_tree_extractor.js" "$pst" \
      >"$out/extractor.txt" 2>&1
    check "$label: pst-extractor reads the file" test $? -eq 0
    check "$label: pst-extractor reports no unreadable part" bash -c '! grep -q "^ *!" "$1"' _ "$out/extractor.txt"
    [ "$want" -ge 0 ] && expect_eq "$label: messages pst-extractor finds" "$(grep -c '^  M ' "$out/extractor.txt")" "$want"
  else
    log "pst-extractor is not installed (.ci/install-deps.sh installs it): that judge is skipped"
  fi
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
judge "$IT_TMP/a.pst" "cp -a file" "$total"

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
judge "$IT_TMP/b.pst" "rsync file" "$total"
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
judge "$IT_TMP/a.pst" "changed file" $((total - 1))
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
    judge "$IT_TMP/$name.pst" "$name with a message added" -1
    start_mount "$IT_TMP/$name.pst" "$IT_TMP/q-$name" || { fail "$name: cannot remount"; continue; }
    expect_eq "$name: one message more than before" "$(count_eml "$IT_TMP/q-$name")" $((before + 1))
    check "$name: the added message reads back byte for byte" cmp "$one" "${dest/w-$name/q-$name}/$(basename "$one")"
    stop_mount "$IT_TMP/q-$name"
  done
fi

it_finish
