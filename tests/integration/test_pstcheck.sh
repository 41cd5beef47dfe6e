#!/usr/bin/env bash
# mount-tools/mailfs-pstcheck: exit 0 on the valid samples (Unicode and ANSI),
# 1 with a report naming the offset when a structure is damaged, 2 for a file
# that is not a PST, 64 for a usage error.
source "$(dirname "$0")/lib.sh"
it_init

bin="${MAILFS_BUILD_DIR:-$MAILFS_SOURCE_DIR/build/dev}/mount-tools/mailfs-pstcheck"
[ -x "$bin" ] || die "mailfs-pstcheck not built at $bin"
fixtures="$SHARED_DIR/fixtures/pst"

for f in ms-outlook-pst-rs-Empty aspose-Outlook_1 go-pst-32-bit; do
  out=$("$bin" -q "$fixtures/$f.pst"); rc=$?
  expect_eq "$f passes" "$rc" 0
  check "$f: summary line with 0 errors" grep -q ": 0 errors" <<<"$out"
done

# One flipped bit inside the NBT root page of Outlook's empty file (0x9200).
cp "$fixtures/ms-outlook-pst-rs-Empty.pst" "$IT_TMP/flipped.pst"
printf '\x01' | dd of="$IT_TMP/flipped.pst" bs=1 seek=$((0x9210)) conv=notrunc status=none
out=$("$bin" "$IT_TMP/flipped.pst"); rc=$?
expect_eq "a flipped bit in a B-tree page: exit 1" "$rc" 1
check "the report names the page and its CRC" grep -q "error at 0x93f4: NBT page 0x17d: page CRC mismatch" <<<"$out"

# Header CRC.
cp "$fixtures/aspose-Outlook_1.pst" "$IT_TMP/header.pst"
printf '\x7f' | dd of="$IT_TMP/header.pst" bs=1 seek=100 conv=notrunc status=none
out=$("$bin" "$IT_TMP/header.pst"); rc=$?
expect_eq "a damaged header: exit 1" "$rc" 1
check "the report names the header CRC" grep -q "header: full CRC" <<<"$out"

printf 'plain text\n' >"$IT_TMP/text.pst"
"$bin" "$IT_TMP/text.pst" >/dev/null; expect_eq "not a PST: exit 2" "$?" 2
"$bin" "$IT_TMP/missing.pst" >/dev/null; expect_eq "missing file: exit 2" "$?" 2
"$bin" >/dev/null 2>&1; expect_eq "no argument: exit 64" "$?" 64
"$bin" --help | grep -q "Exit status"; expect_eq "--help explains the exit status" "$?" 0

it_finish
