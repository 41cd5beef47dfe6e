#!/usr/bin/env bash
# The main job on bundled sample data: generate an Exchange Migration Wizard
# extract, mount it with mailfs, browse it, copy it out with cp -a and prove the
# copy with diff -r; then migrate it into a new Outlook .pst through a second
# mount, judge the file with mailfs-pstcheck, libpff and libpst, and prove the
# migration with diff -r between the two mounts. Needs root (or a user allowed
# to mount FUSE).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${MAILFS_BUILD_DIR:-build/release}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target mailfs mailfs-pstcheck >/dev/null
work=$(mktemp -d)
mnt="$work/mnt"
pmnt="$work/pst"
mkdir -p "$mnt" "$pmnt"
cleanup() {
  fusermount3 -u "$pmnt" 2>/dev/null || true
  fusermount3 -u "$mnt" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say "python3 tests/gen/gen_iff.py $work/IMAP.001 --messages 60 --mailboxes 2 --seed 7"
python3 tests/gen/gen_iff.py "$work/IMAP.001" --messages 60 --mailboxes 2 --seed 7
ls -l "$work/IMAP.001"

say "mailfs $work/IMAP.001 $mnt"
"$BUILD/mount-tools/mailfs" "$work/IMAP.001" "$mnt" -o cache_dir="$work/cache"
for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.1; done

say "find $mnt -maxdepth 3 -type d"
find "$mnt" -maxdepth 3 -type d | sed "s|$mnt|/mnt|"
first=$(find "$mnt" -name '*.eml' | sort | head -1)
say "ls -l \"$(dirname "${first/$mnt//mnt}")\" | head"
ls -l "$(dirname "$first")" | head
say "head -20 \"${first/$mnt//mnt}\""
head -20 "$first"
say "getfattr -d \"${first/$mnt//mnt}\""
getfattr -d "$first" || true
say "cp -a $mnt/. $work/copy/  &&  diff -r $mnt $work/copy"
mkdir -p "$work/copy"
cp -a "$mnt/." "$work/copy/"
diff -r "$mnt" "$work/copy" && echo "diff -r: no difference ($(find "$work/copy" -name '*.eml' | wc -l) messages, $(du -sh "$work/copy" | cut -f1))"
wait_mount() { for _ in $(seq 100); do mountpoint -q "$1" && return 0; sleep 0.1; done; return 1; }
wait_gone() { for _ in $(seq 300); do [ -e "$2" ] && ! pgrep -f "mailfs.* $1" >/dev/null && return 0; sleep 0.1; done; }

# The extract's address-book and directory files (Personal Address Book.vcf,
# Directory.csv, Directory.vcf) are not mail: a PST folder holds messages only
# (each PAB also arrives as the "Personal Address Book" message in Inbox).
say "mailfs -o create $work/migrated.pst $pmnt  &&  rsync -aX --exclude='*.vcf' --exclude='*.csv' $mnt/ $pmnt/"
"$BUILD/mount-tools/mailfs" -o create "$work/migrated.pst" "$pmnt"
wait_mount "$pmnt"
rsync -aX --exclude='*.vcf' --exclude='*.csv' "$mnt/" "$pmnt/"
fusermount3 -u "$pmnt"
wait_gone "$pmnt" "$work/migrated.pst"
ls -l "$work/migrated.pst"

say "mailfs-pstcheck $work/migrated.pst"
"$BUILD/mount-tools/mailfs-pstcheck" "$work/migrated.pst"
if command -v pffinfo >/dev/null; then
  say "pffinfo $work/migrated.pst | head -12   (libpff)"
  pffinfo "$work/migrated.pst" | head -12
fi
if command -v lspst >/dev/null; then
  say "lspst $work/migrated.pst | grep -c '^Email'   (libpst)"
  lspst "$work/migrated.pst" | grep -c '^Email' || true
fi

say "mailfs $work/migrated.pst $pmnt  &&  diff -r -x '*.vcf' -x '*.csv' $mnt $pmnt"
"$BUILD/mount-tools/mailfs" "$work/migrated.pst" "$pmnt" -o cache_dir="$work/cache-pst"
wait_mount "$pmnt"
# The only difference: the empty Deleted Items folder every new PST has.
diff -r -x '*.vcf' -x '*.csv' "$mnt" "$pmnt" || true
echo "$(find "$pmnt" -name '*.eml' | wc -l) messages in the PST, $(find "$mnt" -name '*.eml' | wc -l) in the extract"
say "fusermount3 -u $pmnt; fusermount3 -u $mnt"
fusermount3 -u "$pmnt"
fusermount3 -u "$mnt"
echo "done"
