#!/bin/bash
# PST write benchmark (not part of ctest; prints figures).
#
#   MAILFS_BIN=build/release/mount-tools/mailfs bash tests/bench/bench_pst_write.sh
#
# 1. Messages per second copied into a new PST through the mount (cp -a),
#    against cp -a of the same .eml files into a local folder (the limit).
# 2. The size overhead: PST bytes over the sum of the .eml bytes.
# 2b. One folder filled with BENCH_FLAT small messages, in batches of 2,000
#    (cp -a of each batch into the same PST folder): messages per second per
#    batch, which should not fall as the folder grows.
# 3. A file over 4 GiB built through the mount (big attachments): time,
#    size, and the judges (mailfs-pstcheck, pffinfo) on it.
# Daemon peak RSS (VmHWM) for both copies.
#
# Environment: MAILFS_BIN, BENCH_DIR (where data goes; default a temp dir),
# BENCH_SIZE (corpus for 1-2, default 300M), BENCH_FLAT (messages for 2b,
# default 20000; 0 skips it), BENCH_BIG (size of the big file's corpus,
# default 3300M; 0 skips part 3).

set -u
set -o pipefail
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${MAILFS_BIN:=$SRC_DIR/build/mount-tools/mailfs}"
: "${BENCH_SIZE:=300M}"
: "${BENCH_BIG:=3300M}"
: "${BENCH_FLAT:=20000}"
PSTCHECK=$(dirname "$MAILFS_BIN")/mailfs-pstcheck
GEN="$SRC_DIR/tests/gen/gen_iff.py"
[ -x "$MAILFS_BIN" ] || { echo "bench_pst_write.sh: MAILFS_BIN=$MAILFS_BIN is not executable" >&2; exit 2; }
WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/mailfs-pstw.XXXXXX")
cleanup() {
  for m in "$WORK"/m-*; do mountpoint -q "$m" 2>/dev/null && fusermount3 -u "$m"; done
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }

# mount_bg SRC MNT OPTS: starts the daemon, waits for the mount, prints its pid.
mount_bg() {
  mkdir -p "$2"
  "$MAILFS_BIN" "$1" "$2" -f ${3:+-o "$3"} >"$2.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 400); do mountpoint -q "$2" && break; sleep 0.05; done
  mountpoint -q "$2" || { echo "mount of $1 failed:" >&2; cat "$2.log" >&2; exit 1; }
  echo "$pid"
}
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
unmount_wait() { fusermount3 -u "$1"; wait "$2" 2>/dev/null; }

# make_corpus OUT SIZE SHARE: a generated IFF extract (SHARE of SIZE in
# attachments of 50 KiB - 5 MiB) copied out of a mount as plain .eml files.
make_corpus() {
  local out=$1 size=$2 share=$3 pid
  python3 "$GEN" "$WORK/iff-$out" --total-bytes "$size" --attachment-share "$share" --mailboxes 1 --seed 5 \
    >/dev/null || exit 1
  pid=$(mount_bg "$WORK/iff-$out" "$WORK/m-iff-$out" "")
  mkdir -p "$WORK/$out"
  cp -a "$WORK/m-iff-$out/." "$WORK/$out/"
  unmount_wait "$WORK/m-iff-$out" "$pid"
  find "$WORK/$out" -type f ! -name '*.eml' -delete
  rm -rf "$WORK/iff-$out" "$WORK/iff-$out".manifest.json
}

echo "== corpus: $BENCH_SIZE generated (80% bodies of 2-20 KiB, 20% attachments)"
make_corpus eml "$BENCH_SIZE" 0.2
n=$(find "$WORK/eml" -type f | wc -l)
bytes=$(find "$WORK/eml" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
printf '   %d messages, %.1f MiB of .eml\n' "$n" "$(echo "$bytes / 1048576" | bc -l)"

sync
t0=$(now); cp -a "$WORK/eml/." "$WORK/plain/" 2>/dev/null || { mkdir -p "$WORK/plain"; cp -a "$WORK/eml/." "$WORK/plain/"; }; t1=$(now)
plain=$(secs "$t0" "$t1")

pid=$(mount_bg "$WORK/new.pst" "$WORK/m-new" create)
t0=$(now); cp -a "$WORK/eml/." "$WORK/m-new/"; rc=$?; t1=$(now)
mailfs=$(secs "$t0" "$t1")
rss=$(hwm_kib "$pid")
unmount_wait "$WORK/m-new" "$pid"
pst_bytes=$(stat -c %s "$WORK/new.pst")

printf '%-52s %9s %12s\n' "run" "seconds" "msgs/s"
printf '%-52s %9s %12.0f\n' "cp -a into a local folder (the limit)" "$plain" "$(echo "$n / $plain" | bc -l)"
printf '%-52s %9s %12.0f\n' "cp -a into a new PST through the mount (rc $rc)" "$mailfs" "$(echo "$n / $mailfs" | bc -l)"
printf '   ratio mailfs / local: %.1f\n' "$(echo "$mailfs / $plain" | bc -l)"
printf '   PST size %.1f MiB = %.2f x the .eml bytes (goal <= 1.6)\n' "$(echo "$pst_bytes / 1048576" | bc -l)" \
  "$(echo "$pst_bytes / $bytes" | bc -l)"
printf '   daemon peak RSS %d MiB\n' $((rss / 1024))
if [ -x "$PSTCHECK" ]; then "$PSTCHECK" "$WORK/new.pst" | tail -n 1; fi
pid=$(mount_bg "$WORK/new.pst" "$WORK/m-ro" "")
if diff -r -q -x 'Deleted Items' "$WORK/eml" "$WORK/m-ro" >/dev/null; then echo "   remounted: diff -r finds no difference"; else echo "   remounted: diff -r FINDS DIFFERENCES"; fi
unmount_wait "$WORK/m-ro" "$pid"
rm -rf "$WORK/plain"

if [ "$BENCH_FLAT" != 0 ]; then
  echo "== one folder, $BENCH_FLAT small messages (about 1.2 KiB each), copied in batches of 2000"
  python3 - "$WORK/flat" "$BENCH_FLAT" <<'PY' || exit 1
import os, sys
out, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(out, "b%03d" % (i // 2000))
    os.makedirs(d, exist_ok=True)
    body = ("Line %d of a short message body for the single-folder benchmark.\r\n" % i) * 12
    msg = ("From: Sender %d <s%d@example.com>\r\nTo: user@example.com\r\n"
           "Subject: Small message number %d\r\nDate: Mon, 02 Mar 2026 10:%02d:%02d +0000\r\n"
           "Message-ID: <m%d@example.com>\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
           % (i, i, i, (i // 60) % 60, i % 60, i)) + body
    with open(os.path.join(d, "m%06d.eml" % i), "w", newline="") as f:
        f.write(msg)
PY
  pid=$(mount_bg "$WORK/flat.pst" "$WORK/m-flat" create)
  mkdir "$WORK/m-flat/Flat"
  printf '   %-22s %9s %12s\n' "messages in the folder" "seconds" "msgs/s"
  done_n=0
  for b in "$WORK"/flat/b*; do
    bn=$(find "$b" -type f | wc -l)
    t0=$(now); cp -a "$b/." "$WORK/m-flat/Flat/"; rc=$?; t1=$(now)
    printf '   %-22s %9s %12.0f%s\n' "$done_n - $((done_n + bn))" "$(secs "$t0" "$t1")" \
      "$(echo "$bn / ($t1 - $t0)" | bc -l)" "$([ $rc = 0 ] || echo "  (cp rc $rc)")"
    done_n=$((done_n + bn))
  done
  rss=$(hwm_kib "$pid")
  unmount_wait "$WORK/m-flat" "$pid"
  printf '   daemon peak RSS %d MiB; file %.1f MiB\n' $((rss / 1024)) "$(echo "$(stat -c %s "$WORK/flat.pst") / 1048576" | bc -l)"
  [ -x "$PSTCHECK" ] && "$PSTCHECK" "$WORK/flat.pst" | tail -n 1
  pid=$(mount_bg "$WORK/flat.pst" "$WORK/m-flatro" "")
  got=$(find "$WORK/m-flatro/Flat" -type f -name '*.eml' | wc -l)
  unmount_wait "$WORK/m-flatro" "$pid"
  echo "   remounted: $got messages in the folder (want $BENCH_FLAT)"
  rm -rf "$WORK/flat" "$WORK/flat.pst"
fi

if [ "$BENCH_BIG" != 0 ]; then
  echo "== a file over 4 GiB: $BENCH_BIG corpus, 97% in attachments"
  rm -rf "$WORK/eml" "$WORK/new.pst"
  make_corpus big "$BENCH_BIG" 0.97
  nb=$(find "$WORK/big" -type f | wc -l)
  pid=$(mount_bg "$WORK/big.pst" "$WORK/m-big" create)
  t0=$(now); cp -a "$WORK/big/." "$WORK/m-big/"; rc=$?; t1=$(now)
  rss=$(hwm_kib "$pid")
  unmount_wait "$WORK/m-big" "$pid"
  size=$(stat -c %s "$WORK/big.pst")
  printf '   %d messages copied in %s s (rc %d); file %.2f GiB; daemon peak RSS %d MiB\n' "$nb" "$(secs "$t0" "$t1")" "$rc" \
    "$(echo "$size / 1073741824" | bc -l)" $((rss / 1024))
  [ -x "$PSTCHECK" ] && "$PSTCHECK" "$WORK/big.pst" | tail -n 1
  if pffinfo "$WORK/big.pst" >/dev/null 2>"$WORK/pffinfo.err" && [ ! -s "$WORK/pffinfo.err" ]; then
    echo "   pffinfo: opens, no stderr"
  else
    echo "   pffinfo: FAILED"; cat "$WORK/pffinfo.err"
  fi
  pid=$(mount_bg "$WORK/big.pst" "$WORK/m-bigro" "")
  if diff -r -q -x 'Deleted Items' "$WORK/big" "$WORK/m-bigro" >/dev/null; then echo "   remounted: diff -r finds no difference"; else echo "   remounted: diff -r FINDS DIFFERENCES"; fi
  unmount_wait "$WORK/m-bigro" "$pid"
fi
