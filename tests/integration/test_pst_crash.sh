#!/bin/bash
# Crash safety of PST writing (design §6, issue [pst-write] item 5): a copy
# into a mounted PST while the daemon is killed with SIGKILL, 10 times at
# random moments and 10 times at injected points of a commit (before a data
# write, in the middle of one, before the data fsync, between data and
# header, before the header's fsync, before and after the AMap rewrite).
# After every kill the file must satisfy every judge (mailfs-pstcheck,
# pffinfo/pffexport without stderr, lspst) and hold every message whose
# close() returned 0, byte for byte; the next round appends to it (-o rw).
#
#   MAILFS_BIN=build/mount-tools/mailfs bash tests/integration/test_pst_crash.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init
for tool in pffinfo pffexport lspst; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done
PSTCHECK=${MAILFS_PSTCHECK_BIN:-$(dirname "$MAILFS_BIN")/mailfs-pstcheck}
[ -x "$PSTCHECK" ] || skip "mailfs-pstcheck not found next to $MAILFS_BIN"
ROUNDS_RANDOM=${MAILFS_CRASH_RANDOM:-10}
SEED=${MAILFS_CRASH_SEED:-$(date +%s)}
log "seed $SEED (MAILFS_CRASH_SEED=$SEED repeats this run)"
RANDOM=$SEED

python3 "$GEN_IFF" "$IT_TMP/IMAP.001" --messages 120 --mailboxes 1 --seed 31 >/dev/null || die "gen_iff.py failed"
start_mount "$IT_TMP/IMAP.001" "$IT_TMP/iff" || die "cannot mount the source extract"
mkdir "$IT_TMP/src"
cp -a "$IT_TMP/iff/." "$IT_TMP/src/" || die "cannot copy the source"
stop_mount "$IT_TMP/iff"
find "$IT_TMP/src" -type f ! -name '*.eml' -delete
total=$(find "$IT_TMP/src" -type f | wc -l)
pst="$IT_TMP/crash.pst"
acked="$IT_TMP/acked.txt"
: >"$acked"

# verify ROUND: the file after a kill.
verify() {
  local round=$1 out="$IT_TMP/v$1" rel missing=0
  mkdir -p "$out"
  check "$round: mailfs-pstcheck accepts the file" "$PSTCHECK" "$pst"
  pffinfo "$pst" >"$out/info" 2>"$out/info.err"
  check "$round: pffinfo without stderr" test $? -eq 0 -a ! -s "$out/info.err"
  pffexport -q -t "$out/x" "$pst" >"$out/export" 2>"$out/export.err"
  check "$round: pffexport without stderr" test $? -eq 0 -a ! -s "$out/export.err"
  check "$round: lspst reads the file" lspst "$pst"
  start_mount "$pst" "$out/m" || return
  while IFS= read -r rel; do
    if ! cmp -s "$IT_TMP/src/$rel" "$out/m/$rel"; then
      missing=$((missing + 1))
      [ $missing -le 5 ] && log "$round: acknowledged but not stored intact: $rel"
    fi
  done <"$acked"
  expect_eq "$round: every acknowledged message is stored ($(wc -l <"$acked") so far)" "$missing" 0
  stop_mount "$out/m"
}

# run_round NAME ENV DELAY: mounts (create the first time, then rw), copies
# in the background and kills the daemon with SIGKILL after DELAY seconds
# (or lets an injected crash point do it).
run_round() {
  local name=$1 crash=$2 delay=$3 opts=rw mnt="$IT_TMP/w-$1" pid cpid
  [ -e "$pst" ] || opts=create
  mkdir -p "$mnt"
  MAILFS_PST_CRASH=$crash setsid "$MAILFS_BIN" "$pst" "$mnt" -f -o "$opts" >"$IT_TMP/$name.log" 2>&1 </dev/null &
  pid=$!
  for _ in $(seq 1 200); do mountpoint -q "$mnt" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  if ! mountpoint -q "$mnt"; then
    wait "$pid" 2>/dev/null
    # An injected crash while the new file was being made (its skeleton's
    # commits): the file must not exist under its name; the next round
    # creates it again.
    if [ "$opts" = create ] && [ -n "$crash" ] && grep -q "crash point" "$IT_TMP/$name.log"; then
      if [ -e "$pst" ]; then
        fail "$name: a crash while creating left a file under its name"
      else
        pass "$name: a crash while creating the file leaves no file under its name"
      fi
      return
    fi
    fail "$name: the daemon did not mount"
    sed 's/^/    /' "$IT_TMP/$name.log" >&2
    return
  fi
  python3 "$MAILFS_SOURCE_DIR/tests/support/copy_logged.py" "$IT_TMP/src" "$mnt" "$acked" 2>"$IT_TMP/$name.cp" &
  cpid=$!
  if [ -n "$delay" ]; then
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null
  fi
  # An injected crash kills the daemon by itself; a copy that finished first
  # leaves it running (a crash point not reached): kill it then.
  timeout 120 tail --pid="$cpid" -f /dev/null
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  wait "$cpid" 2>/dev/null
  fusermount3 -uz "$mnt" 2>/dev/null
  verify "$name"
}

points=(before-data-write mid-data-write before-data-sync before-header before-header-sync
        before-amap-write before-final-header before-data-write before-header mid-data-write)
for i in "${!points[@]}"; do
  run_round "injected-$i-${points[$i]}" "${points[$i]}:$((RANDOM % 15 + 2))" ""
done
for i in $(seq 1 "$ROUNDS_RANDOM"); do
  run_round "random-$i" "" "0.$((RANDOM % 9 + 1))"
done

# Finally a clean run completes the copy: everything is there.
start_mount "$pst" "$IT_TMP/final" rw || die "cannot mount the file after the crashes"
check "a last copy completes" python3 "$MAILFS_SOURCE_DIR/tests/support/copy_logged.py" "$IT_TMP/src" "$IT_TMP/final" "$acked"
stop_mount "$IT_TMP/final"
verify final
start_mount "$pst" "$IT_TMP/ro" || die "cannot remount"
check "diff -r source / PST after 20 kills" diff -r -x 'Deleted Items' "$IT_TMP/src" "$IT_TMP/ro"
expect_eq "messages after 20 kills" "$(find "$IT_TMP/ro" -type f -name '*.eml' | wc -l)" "$total"
stop_mount "$IT_TMP/ro"
it_finish
