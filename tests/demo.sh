#!/usr/bin/env bash
# The main job on bundled sample data: generate an Exchange Migration Wizard
# extract, mount it with mailfs, browse it, copy it out with cp -a and prove the
# copy with diff -r. Needs root (or a user allowed to mount FUSE).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${MAILFS_BUILD_DIR:-build/release}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target mailfs >/dev/null
work=$(mktemp -d)
mnt="$work/mnt"
mkdir -p "$mnt"
cleanup() { fusermount3 -u "$mnt" 2>/dev/null || true; rm -rf "$work"; }
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
say "fusermount3 -u $mnt"
fusermount3 -u "$mnt"
echo "done"
