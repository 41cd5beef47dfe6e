#!/bin/bash
# IFF read benchmark (not part of ctest; prints figures).
#
#   sudo MAILFS_BIN=build/mount-tools/mailfs bash tests/bench/bench_iff.sh
#
# Environment:
#   MAILFS_BIN    the daemon (default: build/mount-tools/mailfs)
#   BENCH_DIR     where to put generated data (default: a temp dir, removed)
#   BENCH_SIZE    size of the throughput extract (default 500M)
#   BENCH_SMALL   messages in the listing extract (default 20000)
#   BENCH_OUT     where copies are written (default: /dev/shm when it has room,
#                 so the destination disk's write speed does not blur the
#                 figures; the plain-file baseline writes there too)
#
# Runs as root: it drops the page cache (sync; echo 3 > drop_caches) before
# each timed run so that every "cold" figure starts from the disk.

set -u
set -o pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${MAILFS_BIN:=$SRC_DIR/build/mount-tools/mailfs}"
: "${BENCH_SIZE:=500M}"
: "${BENCH_SMALL:=20000}"
GEN="$SRC_DIR/tests/gen/gen_iff.py"

[ "$(id -u)" -eq 0 ] || { echo "bench_iff.sh: run as root (drops the page cache)" >&2; exit 2; }
[ -x "$MAILFS_BIN" ] || { echo "bench_iff.sh: MAILFS_BIN=$MAILFS_BIN is not executable" >&2; exit 2; }

if [ -n "${BENCH_DIR:-}" ]; then
  WORK="$BENCH_DIR/mailfs-bench.$$"
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailfs-bench.XXXXXX")
fi
mkdir -p "$WORK"
if [ -z "${BENCH_OUT:-}" ]; then
  BENCH_OUT=$WORK
  shm_free=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')
  [ -n "$shm_free" ] && [ "$shm_free" -gt $((3 * 1024 * 1024)) ] && BENCH_OUT=/dev/shm
fi
OUT=$(mktemp -d "$BENCH_OUT/mailfs-bench-out.XXXXXX")
DAEMON_PID=""
MNT="$WORK/mnt"

cleanup() {
  if mountpoint -q "$MNT" 2>/dev/null; then
    fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
  fi
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null
  rm -rf "$WORK" "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { python3 -c 'import sys; print("%.3f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }
drop_caches() {
  sync
  echo 3 >/proc/sys/vm/drop_caches 2>/dev/null ||
    echo "bench_iff.sh: warning: could not drop the page cache" >&2
}
mib() { python3 -c 'import sys; print("%.1f" % (int(sys.argv[1]) / 1048576))' "$1"; }
rate() { python3 -c 'import sys; print("%.1f" % (int(sys.argv[1]) / 1048576 / max(float(sys.argv[2]), 1e-9)))' "$1" "$2"; }

mount_it() {   # mount_it SOURCE CACHE_DIR
  mkdir -p "$MNT"
  setsid "$MAILFS_BIN" "$1" "$MNT" -f -o "ro,cache_dir=$2" >"$WORK/daemon.log" 2>&1 </dev/null &
  DAEMON_PID=$!
  local deadline=$((SECONDS + 60))
  until mountpoint -q "$MNT"; do
    if ! kill -0 "$DAEMON_PID" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      echo "bench_iff.sh: mount of $1 failed:" >&2
      tail -n 20 "$WORK/daemon.log" >&2
      exit 1
    fi
    sleep 0.05
  done
}

unmount_it() {
  fusermount3 -u "$MNT" || fusermount3 -uz "$MNT"
  wait "$DAEMON_PID"
  DAEMON_PID=""
}

peak_rss_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$DAEMON_PID/status" 2>/dev/null || echo "?"; }

declare -a ROWS=()
row() { ROWS+=("$(printf '%-44s %12s %10s %12s' "$1" "$2" "$3" "$4")"); }

# ---------------------------------------------------------------------------
echo "generating a $BENCH_SIZE extract in $WORK ..."
t0=$(now)
python3 "$GEN" "$WORK/big" --total-bytes "$BENCH_SIZE" --mailboxes 4 --seed 1 >/dev/null || exit 1
t1=$(now)
sec_bytes=$(cat "$WORK"/big/*.SEC | wc -c)
row "generate $BENCH_SIZE extract (gen_iff.py)" "$(elapsed "$t0" "$t1") s" "" ""

# Raw throughput: the secondary files from the disk.
drop_caches
t0=$(now)
cat "$WORK"/big/*.SEC >/dev/null
t1=$(now)
raw_s=$(elapsed "$t0" "$t1")
raw_rate=$(rate "$sec_bytes" "$raw_s")
row "cat *.SEC > /dev/null (cold)" "$raw_s s" "$(mib "$sec_bytes") MiB" "$raw_rate MiB/s"

# cp -a out of a fresh mount (first listing renders and sizes everything).
drop_caches
mount_it "$WORK/big" "$WORK/cache-big"
t0=$(now)
cp -a "$MNT" "$OUT/out1"
cp_rc=$?
t1=$(now)
rss=$(peak_rss_kib)
unmount_it
eml_bytes=$(find "$OUT/out1" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
n_eml=$(find "$OUT/out1" -type f | wc -l)
cp_s=$(elapsed "$t0" "$t1")
cp_rate=$(rate "$eml_bytes" "$cp_s")
[ $cp_rc -eq 0 ] || echo "bench_iff.sh: warning: cp -a exited $cp_rc" >&2
row "cp -a out of a fresh mount ($n_eml files)" "$cp_s s" "$(mib "$eml_bytes") MiB" "$cp_rate MiB/s"
row "  daemon peak RSS (VmHWM) during cp -a" "" "" "$((rss / 1024)) MiB"

# The peer: the same .eml files as plain files on the local disk, cold.
mkdir -p "$WORK/plain"
cp -a "$OUT/out1/." "$WORK/plain/"
rm -rf "$OUT/out1"
drop_caches
t0=$(now)
cp -a "$WORK/plain" "$OUT/plain-copy"
t1=$(now)
plain_s=$(elapsed "$t0" "$t1")
plain_rate=$(rate "$eml_bytes" "$plain_s")
row "cp -a of the same .eml as plain files (cold)" "$plain_s s" "$(mib "$eml_bytes") MiB" "$plain_rate MiB/s"
rm -rf "$WORK/plain" "$OUT/plain-copy"

# Again, with the persistent size cache from the first mount.
drop_caches
mount_it "$WORK/big" "$WORK/cache-big"
t0=$(now)
cp -a "$MNT" "$OUT/out2"
t1=$(now)
rm -rf "$OUT/out2"
# Same mount again: listing done and pages cached, so what is left is the
# per-file cost of the kernel round trips (xattrs) and of cp itself.
t2=$(now)
cp -a "$MNT" "$OUT/out3"
t3=$(now)
rss2=$(peak_rss_kib)
unmount_it
cp2_s=$(elapsed "$t0" "$t1")
cp2_rate=$(rate "$eml_bytes" "$cp2_s")
row "cp -a out of a remount (page cache dropped)" "$cp2_s s" "$(mib "$eml_bytes") MiB" "$cp2_rate MiB/s"
cp3_s=$(elapsed "$t2" "$t3")
row "cp -a again on the same mount (pages cached)" "$cp3_s s" "$(mib "$eml_bytes") MiB" "$(rate "$eml_bytes" "$cp3_s") MiB/s"
row "  daemon peak RSS (VmHWM)" "" "" "$((rss2 / 1024)) MiB"
rm -rf "$OUT/out3" "$WORK/big" "$WORK/cache-big" "$WORK/big.manifest.json"

# ---------------------------------------------------------------------------
echo "generating a $BENCH_SMALL-message extract ..."
python3 "$GEN" "$WORK/small" --messages "$BENCH_SMALL" --mailboxes 6 --seed 2 \
  --big-attachment 0 >/dev/null || exit 1
drop_caches
mount_it "$WORK/small" "$WORK/cache-small"
t0=$(now)
ls -lR "$MNT" >/dev/null
t1=$(now)
cold_s=$(elapsed "$t0" "$t1")
t0=$(now)
ls -lR "$MNT" >/dev/null
t1=$(now)
warm_s=$(elapsed "$t0" "$t1")
rss3=$(peak_rss_kib)
unmount_it
drop_caches
mount_it "$WORK/small" "$WORK/cache-small"
t0=$(now)
ls -lR "$MNT" >/dev/null
t1=$(now)
remount_s=$(elapsed "$t0" "$t1")
unmount_it
row "ls -lR $BENCH_SMALL messages, cold (fresh mount+cache)" "$cold_s s" "" ""
row "ls -lR $BENCH_SMALL messages, warm (second run)" "$warm_s s" "" ""
row "ls -lR after remount (size cache warm, page cache dropped)" "$remount_s s" "" ""
row "  daemon peak RSS (VmHWM) after listing" "" "" "$((rss3 / 1024)) MiB"

echo
printf '%-44s %12s %10s %12s\n' "run" "time" "bytes" "rate"
printf '%s\n' "--------------------------------------------------------------------------------"
printf '%s\n' "${ROWS[@]}"
printf '%s\n' "--------------------------------------------------------------------------------"
python3 -c 'import sys; print("cp -a .eml throughput / raw .SEC cat throughput   = %.2f" % (float(sys.argv[1]) / max(float(sys.argv[2]), 1e-9)))' "$cp_rate" "$raw_rate"
python3 -c 'import sys; print("cp -a .eml throughput / plain-file cp -a throughput = %.2f" % (float(sys.argv[1]) / max(float(sys.argv[2]), 1e-9)))' "$cp_rate" "$plain_rate"
echo "copies written to $BENCH_OUT"
