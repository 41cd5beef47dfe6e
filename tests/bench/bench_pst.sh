#!/bin/bash
# PST read benchmark (not part of ctest; prints figures): cp -a out of a PST
# mount against readpst and pffexport on the same file, in one run; ls -lR on
# a first mount and on a remount (listing kept in the cache dir); the
# daemon's peak RSS.
#
#   sudo MAILFS_BIN=build/release/mount-tools/mailfs bash tests/bench/bench_pst.sh [FILE.pst]
#
# Without FILE, the largest sample in ../shared/fixtures/pst is used. Each run
# starts with the page cache dropped; outputs go to /dev/shm when it has room.
set -u
set -o pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${MAILFS_BIN:=$SRC_DIR/build/mount-tools/mailfs}"
PST=${1:-$(ls -S "$SRC_DIR"/../shared/fixtures/pst/*.pst 2>/dev/null | head -n 1)}
[ "$(id -u)" -eq 0 ] || { echo "bench_pst.sh: run as root (drops the page cache)" >&2; exit 2; }
[ -x "$MAILFS_BIN" ] || { echo "bench_pst.sh: MAILFS_BIN=$MAILFS_BIN is not executable" >&2; exit 2; }
[ -n "$PST" ] && [ -f "$PST" ] || { echo "bench_pst.sh: no PST file given or found" >&2; exit 2; }
for tool in readpst pffexport; do
  command -v "$tool" >/dev/null || { echo "bench_pst.sh: $tool is not installed (pst-utils, pff-tools)" >&2; exit 2; }
done

OUT_BASE=/dev/shm
[ -d "$OUT_BASE" ] || OUT_BASE=${TMPDIR:-/tmp}
WORK=$(mktemp -d "$OUT_BASE/mailfs-bench-pst.XXXXXX")
MNT="$WORK/mnt"
DAEMON_PID=""
cleanup() {
  mountpoint -q "$MNT" 2>/dev/null && { fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"; }
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { python3 -c 'import sys; print("%.3f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; }
timed() {  # timed LABEL CMD...: prints "LABEL wall-seconds cpu-seconds"
  local label=$1 t
  shift
  drop
  t=$( { TIMEFORMAT='%3R %3U %3S'; time "$@" >/dev/null 2>"$WORK/stderr.txt" || \
    echo "bench_pst.sh: warning: $label exited non-zero" >&2; } 2>&1 )
  t=$(tail -n 1 <<<"$t")
  printf '%-50s %10s s %10s s\n' "$label" "${t%% *}" "$(awk '{printf "%.3f", $2 + $3}' <<<"$t")"
}
mount_pst() {  # mount_pst CACHE_DIR
  mkdir -p "$MNT"
  setsid "$MAILFS_BIN" "$PST" "$MNT" -f -o "cache_dir=$1" >"$WORK/daemon.log" 2>&1 </dev/null &
  DAEMON_PID=$!
  until mountpoint -q "$MNT"; do
    kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$WORK/daemon.log" >&2; exit 1; }
    sleep 0.05
  done
}
peak_rss() { awk '/^VmHWM:/ {print $2}' "/proc/$DAEMON_PID/status"; }
unmount_pst() { fusermount3 -u "$MNT"; wait "$DAEMON_PID"; DAEMON_PID=""; }
stamp() {  # stamp LABEL T0 T1
  printf '%-50s %10s s\n' "$1" "$(secs "$2" "$3")"
}
daemon_cpu() {  # CPU seconds (user + system) the daemon used so far
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$DAEMON_PID/stat"
}

echo "file: $PST ($(stat -c %s "$PST") bytes)"
printf '%-50s %12s %12s\n' "run" "wall" "CPU"
mkdir -p "$WORK/readpst" "$WORK/pffexport"
timed "readpst -j 0 -e -o (libpst)" readpst -j 0 -e -o "$WORK/readpst" "$PST"
pff_line=$(timed "pffexport (libpff)" pffexport -q -t "$WORK/pffexport/out" "$PST")
printf '%s\n' "$pff_line"
pff_s=$(awk '{print $(NF-1)}' <<<"$pff_line")  # CPU seconds: the machine may be shared
rss=0
keep_rss() { local r; r=$(peak_rss); [ "$r" -gt "$rss" ] && rss=$r; }

# 1. A first mount, nothing kept: cp -a lists (renders) and copies. CPU is
# the daemon's and cp's together.
drop
mount_pst "$WORK/cache-fresh"
cpu0=$(daemon_cpu)
t=$( { TIMEFORMAT='%3R %3U %3S'; time cp -a "$MNT" "$WORK/copy"; } 2>&1 )
t=$(tail -n 1 <<<"$t")
cp_fresh=$(awk -v d0="$cpu0" -v d1="$(daemon_cpu)" '{printf "%.3f", $2 + $3 + d1 - d0}' <<<"$t")
printf '%-50s %10s s %10s s\n' "cp -a out of a first mount (listing included)" "${t%% *}" "$cp_fresh"
keep_rss
unmount_pst
rm -rf "$WORK/copy"
printf '%-50s %23s\n' "ratio cp -a (first mount) / pffexport, CPU (<= 1.0)" \
  "$(python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / max(float(sys.argv[2]), 1e-3)))' "$cp_fresh" "$pff_s")"

# 2. Another first mount: ls -lR cold, then cp -a after the listing.
drop
mount_pst "$WORK/cache"
t0=$(now)
ls -lR "$MNT" >/dev/null
t1=$(now)
stamp "ls -lR, cold (first mount of the file)" "$t0" "$t1"
t0=$(now)
cp -a "$MNT" "$WORK/copy"
t1=$(now)
stamp "cp -a out of the mount (after the listing)" "$t0" "$t1"
keep_rss
unmount_pst

# 3. A remount: the listing kept in the cache dir, nothing rendered.
drop
mount_pst "$WORK/cache"
t0=$(now)
ls -lR "$MNT" >/dev/null
t1=$(now)
stamp "ls -lR, remount (kept listing, cold page cache)" "$t0" "$t1"
t0=$(now)
ls -lR "$MNT" >/dev/null
t1=$(now)
stamp "ls -lR, warm" "$t0" "$t1"
keep_rss
unmount_pst

printf '%-50s %10s MiB\n' "daemon peak RSS (VmHWM, highest of 3 mounts)" "$((rss / 1024))"
echo "messages: $(find "$WORK/copy" -name '*.eml' | wc -l), bytes: $(du -sb "$WORK/copy" | cut -f1)"
