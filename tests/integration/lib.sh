# Shared helpers for the integration tests (sourced, not executed).
#
#   source "$(dirname "$0")/lib.sh"
#   it_init                         # temp dir $IT_TMP, cleanup trap, checks
#   start_mount SRC MNT [opt,...]   # daemon in the background, waits for it
#   stop_mount MNT                  # unmount; returns the daemon's exit status
#   fail "message"; check "what" cmd...; it_finish
#
# Every mount started here is unmounted by the EXIT trap, and it_finish
# fails the test when a mount below $IT_TMP is left behind.

set -u
set -o pipefail

IT_NAME=$(basename "${0%.sh}")
IT_FAILS=0
IT_CHECKS=0
declare -A IT_PIDS=()    # mount point -> daemon pid
declare -A IT_LOGS=()    # mount point -> daemon log file

: "${MAILFS_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
MAILNAME="$MAILFS_SOURCE_DIR/tests/support/mailname.py"
GEN_IFF="$MAILFS_SOURCE_DIR/tests/gen/gen_iff.py"
SHARED_DIR="${MAILFS_SHARED_DIR:-$MAILFS_SOURCE_DIR/../shared}"
# pst-extractor as .ci/install-deps.sh installs it (a judge of PST files).
if [ -z "${MAILFS_PST_EXTRACTOR_DIR:-}" ] && [ -d /opt/mailfs-test-tools/pst-extractor/node_modules/pst-extractor ]; then
  export MAILFS_PST_EXTRACTOR_DIR=/opt/mailfs-test-tools/pst-extractor
fi

log() { printf '%s: %s\n' "$IT_NAME" "$*"; }

fail() {
  IT_FAILS=$((IT_FAILS + 1))
  printf '%s: FAIL: %s\n' "$IT_NAME" "$*" >&2
}

pass() {
  printf '%s: ok: %s\n' "$IT_NAME" "$*"
}

# Stop at once (setup problems): unmounting is left to the trap.
die() {
  printf '%s: FATAL: %s\n' "$IT_NAME" "$*" >&2
  exit 1
}

# Exit status 77 is the SKIP_RETURN_CODE that tests/CMakeLists.txt declares.
skip() {
  printf '%s: SKIP: %s\n' "$IT_NAME" "$*"
  exit 77
}

# check DESCRIPTION COMMAND...: runs the command, records a failure (with
# its output) when it exits non-zero.
check() {
  local what=$1 out rc
  shift
  IT_CHECKS=$((IT_CHECKS + 1))
  out=$("$@" 2>&1)
  rc=$?
  if [ $rc -ne 0 ]; then
    fail "$what (exit $rc): $*"
    [ -n "$out" ] && printf '%s\n' "$out" | head -n 40 | sed 's/^/    /' >&2
    return 1
  fi
  pass "$what"
  return 0
}

# expect_eq DESCRIPTION ACTUAL EXPECTED
expect_eq() {
  IT_CHECKS=$((IT_CHECKS + 1))
  if [ "$2" != "$3" ]; then
    fail "$1: got '$2', expected '$3'"
    return 1
  fi
  pass "$1"
}

# expect_fail_with DESCRIPTION PATTERN COMMAND...: the command must fail and
# its stderr/stdout must match the extended regex PATTERN (an errno text such
# as "Read-only file system").
expect_fail_with() {
  local what=$1 pattern=$2 out rc
  shift 2
  IT_CHECKS=$((IT_CHECKS + 1))
  out=$("$@" 2>&1)
  rc=$?
  if [ $rc -eq 0 ]; then
    fail "$what: succeeded but should have failed: $*"
    return 1
  fi
  if ! printf '%s' "$out" | grep -Eq -- "$pattern"; then
    fail "$what: failed, but not with /$pattern/: $out"
    return 1
  fi
  pass "$what"
}

# expect_errno DESCRIPTION ERRNO_NAME PYTHON_CODE [ARGS...]: runs Python code that is expected
# to raise OSError with the named errno (ERRNO_NAME as in errno.EROFS: "EROFS");
# the code sees ARGS as the list "args".
expect_errno() {
  local what=$1 name=$2 code=$3 out
  shift 3
  IT_CHECKS=$((IT_CHECKS + 1))
  out=$(python3 - "$name" "$@" <<EOF 2>&1
import errno, os, sys
want = getattr(errno, sys.argv[1])
args = sys.argv[2:]
try:
$(printf '%s\n' "$code" | sed 's/^/    /')
except OSError as e:
    if e.errno == want:
        sys.exit(0)
    print("errno %s (%s), expected %s" % (errno.errorcode.get(e.errno, e.errno), e, sys.argv[1]))
    sys.exit(1)
print("no error, expected %s" % sys.argv[1])
sys.exit(1)
EOF
)
  if [ $? -ne 0 ]; then
    fail "$what: $out"
    return 1
  fi
  pass "$what"
}

# it_init: checks the environment and creates $IT_TMP (or skips).
it_init() {
  if [ -z "${MAILFS_BIN:-}" ]; then
    for cand in "$MAILFS_SOURCE_DIR/build/mount-tools/mailfs" \
                "$MAILFS_SOURCE_DIR/../build-it/mount-tools/mailfs"; do
      [ -x "$cand" ] && MAILFS_BIN=$cand && break
    done
  fi
  [ -n "${MAILFS_BIN:-}" ] && [ -x "$MAILFS_BIN" ] ||
    skip "MAILFS_BIN is not set or not executable"
  [ -c /dev/fuse ] || skip "/dev/fuse is not available"
  command -v fusermount3 >/dev/null || skip "fusermount3 is not installed"
  command -v mountpoint >/dev/null || skip "mountpoint (util-linux) is not installed"
  IT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mailfs-it.XXXXXX") || die "mktemp failed"
  trap it_cleanup EXIT
  trap 'exit 130' INT TERM
  export LC_ALL=C.UTF-8
}

it_cleanup() {
  local rc=$? mnt
  for mnt in "${!IT_PIDS[@]}"; do
    if mountpoint -q "$mnt" 2>/dev/null; then
      fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null
    fi
    kill "${IT_PIDS[$mnt]}" 2>/dev/null
  done
  # Anything below the temp dir that is still mounted (a daemon we lost).
  awk -v d="$IT_TMP" '$2 ~ "^"d {print $2}' /proc/self/mounts 2>/dev/null |
    sort -r | while read -r mnt; do fusermount3 -uz "$mnt" 2>/dev/null; done
  if [ -n "${IT_KEEP:-}" ]; then
    echo "$IT_NAME: keeping $IT_TMP"
  else
    chmod -R u+w "$IT_TMP" 2>/dev/null
    rm -rf "$IT_TMP"
  fi
  exit $rc
}

# start_mount SRC MNT [OPTS]: starts the daemon in the foreground mode, in
# its own session, logging to $IT_TMP/<mnt name>.log; waits (20 s at most)
# until MNT is a mount point. Fails (returns 1) when the daemon exits first.
start_mount() {
  local src=$1 mnt=$2 opts=${3:-} logf pid deadline
  mkdir -p "$mnt"
  logf="$IT_TMP/$(basename "$mnt").log"
  local -a cmd=("$MAILFS_BIN" "$src" "$mnt" -f)
  [ -n "$opts" ] && cmd+=(-o "$opts")
  setsid "${cmd[@]}" >"$logf" 2>&1 </dev/null &
  pid=$!
  IT_PIDS[$mnt]=$pid
  IT_LOGS[$mnt]=$logf
  deadline=$((SECONDS + 20))
  while ! mountpoint -q "$mnt"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid"
      fail "mailfs $src $mnt ${opts:+-o $opts} exited with status $? before mounting; log:"
      sed 's/^/    /' "$logf" | tail -n 30 >&2
      unset "IT_PIDS[$mnt]"
      return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      fail "mailfs $src $mnt did not mount within 20 s; log:"
      sed 's/^/    /' "$logf" | tail -n 30 >&2
      return 1
    fi
    sleep 0.05
  done
  log "mounted $src on $mnt ${opts:+(-o $opts)} pid $pid"
  return 0
}

# stop_mount MNT: unmounts, waits for the daemon and returns its exit status.
stop_mount() {
  local mnt=$1 pid rc i
  pid=${IT_PIDS[$mnt]:-}
  [ -n "$pid" ] || { fail "stop_mount: nothing was mounted on $mnt"; return 1; }
  for i in 1 2 3 4 5 6 7 8 9 10; do
    fusermount3 -u "$mnt" 2>/dev/null && break
    sleep 0.5
  done
  if mountpoint -q "$mnt"; then
    fail "could not unmount $mnt (busy?)"
    fusermount3 -uz "$mnt" 2>/dev/null
  fi
  # The daemon should exit by itself after the unmount; give it 30 s.
  for i in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    fail "daemon $pid for $mnt still running 30 s after the unmount; killing it"
    kill -9 "$pid" 2>/dev/null
  fi
  wait "$pid"
  rc=$?
  unset "IT_PIDS[$mnt]"
  # A sanitizer build reports memory errors in the log without crashing.
  if grep -Eq 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "${IT_LOGS[$mnt]}"; then
    fail "the daemon for $mnt logged a sanitizer report:"
    grep -E -A 12 'Sanitizer|runtime error:' "${IT_LOGS[$mnt]}" | head -n 30 | sed 's/^/    /' >&2
  fi
  return $rc
}

mount_log() { cat "${IT_LOGS[$1]}"; }

# no_mounts_left: true when nothing below $IT_TMP is mounted.
no_mounts_left() {
  local left
  left=$(awk -v d="$IT_TMP" '$2 ~ "^"d {print $2}' /proc/self/mounts)
  if [ -n "$left" ]; then
    fail "mounts left behind: $left"
    return 1
  fi
  return 0
}

# it_finish: final report; exit status 1 when any check failed.
it_finish() {
  no_mounts_left
  if [ "$IT_FAILS" -ne 0 ]; then
    printf '%s: %d of %d checks FAILED\n' "$IT_NAME" "$IT_FAILS" "$IT_CHECKS" >&2
    exit 1
  fi
  printf '%s: all %d checks passed\n' "$IT_NAME" "$IT_CHECKS"
  exit 0
}
