#!/usr/bin/env bash
# Mounts a broken IFF extract for every failure mode of iff-format.md §8 with
# the real daemon and checks the outcome:
#  * structural: the daemon exits non-zero, stderr names the code, the file
#    and the line;
#  * message-confined: the mount works, the message is listed as
#    "0000-00-00 000000 (unreadable) [...].eml", cat fails with
#    "Input/output error", the daemon log names code, file and line, the
#    other messages read fine; with -o strict the mount fails;
#  * DIRECTORY errors ("side"): the same, except that no message is
#    unreadable: the side files built from the section are.
# Side files named by a case (Directory.csv, Personal Address Book.vcf) must
# be listed and fail with "Input/output error" too.
# Extracts come from tests/gen/make_broken_iff.py. Skips (exit 77) when FUSE
# or the daemon is unavailable.
set -u

src_dir="${MAILFS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
bin="${MAILFS_BIN:-}"
if [[ -z "$bin" || ! -x "$bin" ]]; then
  echo "SKIP: MAILFS_BIN is not set to the mailfs daemon"
  exit 77
fi
if [[ ! -e /dev/fuse ]] || ! command -v fusermount3 >/dev/null; then
  echo "SKIP: FUSE is not available"
  exit 77
fi

work="$(mktemp -d /tmp/iff_failures.XXXXXX)"
mnt="$work/mnt"
mkdir -p "$mnt"
daemon_pid=""

cleanup() {
  if mountpoint -q "$mnt"; then
    fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null
  fi
  if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill "$daemon_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

python3 "$src_dir/tests/gen/make_broken_iff.py" "$work/cases" || exit 1

failures=0
fail() {
  echo "FAIL [$case_name]: $*"
  if [[ -f "$log" ]]; then
    sed 's/^/    log: /' "$log" | head -20
  fi
  failures=$((failures + 1))
}

# Starts the daemon on extract $1 with extra arguments; sets daemon_pid and
# waits until the mount is up (returns 0) or the daemon has exited (returns 1,
# exit status in daemon_status).
start_daemon() {
  local extract="$1"
  shift
  : >"$log"
  setsid "$bin" "$extract" "$mnt" -f -o "cache_dir=$work/cache" "$@" >>"$log" 2>&1 &
  daemon_pid=$!
  local i
  for ((i = 0; i < 200; i++)); do
    if mountpoint -q "$mnt"; then
      return 0
    fi
    if ! kill -0 "$daemon_pid" 2>/dev/null; then
      wait "$daemon_pid"
      daemon_status=$?
      daemon_pid=""
      return 1
    fi
    sleep 0.05
  done
  fail "neither mounted nor exited within 10 s"
  kill "$daemon_pid" 2>/dev/null
  wait "$daemon_pid" 2>/dev/null
  daemon_pid=""
  daemon_status=124
  return 1
}

stop_daemon() {
  fusermount3 -u "$mnt" || fail "unmount failed"
  if [[ -n "$daemon_pid" ]]; then
    local i
    for ((i = 0; i < 200; i++)); do
      kill -0 "$daemon_pid" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$daemon_pid" 2>/dev/null; then
      fail "daemon still running after unmount"
      kill "$daemon_pid"
    fi
    wait "$daemon_pid" 2>/dev/null
    local status=$?
    daemon_pid=""
    # A clean unmount exits 0; a sanitizer report or a leak does not.
    [[ "$status" -eq 0 ]] || fail "daemon exited with status $status after the unmount"
  fi
  if grep -Eq 'runtime error|Sanitizer' "$log" 2>/dev/null; then
    fail "sanitizer report in the daemon log"
  fi
}

# The position text the messages must hold: "T.PRI line 4" (or just the file).
where_of() {
  if [[ "$2" == "0" ]]; then echo "$1"; else echo "$1 line $2"; fi
}

expect_mount_failure() {
  local what="$1"
  shift
  if start_daemon "$extract" "$@"; then
    fail "$what: the mount succeeded"
    stop_daemon
    return
  fi
  [[ "$daemon_status" -ne 0 ]] || fail "$what: daemon exited with status 0"
  grep -qF "$code" "$log" || fail "$what: stderr does not name $code"
  grep -qF "$(where_of "$file" "$line")" "$log" ||
    fail "$what: stderr does not name '$(where_of "$file" "$line")'"
}

checked=0
while IFS=$'\t' read -r case_name kind code file line side; do
  extract="$work/cases/$case_name"
  log="$work/$case_name.log"
  checked=$((checked + 1))
  case "$kind" in
    structural)
      expect_mount_failure "structural"
      ;;
    good | message | side)
      if ! start_daemon "$extract"; then
        fail "mount failed (status $daemon_status)"
        continue
      fi
      mapfile -t unreadable < <(find "$mnt" -type f -name '0000-00-00 000000 (unreadable) *.eml')
      mapfile -t readable < <(find "$mnt" -type f -name '*.eml' ! -name '0000-00-00 000000 (unreadable) *')
      if [[ "$kind" == good || "$kind" == side ]]; then
        [[ ${#unreadable[@]} -eq 0 ]] || fail "$kind extract lists unreadable messages"
      fi
      if [[ "$kind" == side ]]; then
        grep -qF "$code" "$log" || fail "daemon log does not name $code"
        grep -qF "$(where_of "$file" "$line")" "$log" ||
          fail "daemon log does not name '$(where_of "$file" "$line")'"
      elif [[ "$kind" == message ]]; then
        if [[ ${#unreadable[@]} -ne 1 ]]; then
          fail "expected one unreadable message, found ${#unreadable[@]}"
        else
          if err="$(cat "${unreadable[0]}" 2>&1 >/dev/null)"; then
            fail "cat of the unreadable message succeeded"
          elif [[ "$err" != *"Input/output error"* ]]; then
            fail "cat failed without EIO: $err"
          fi
        fi
        grep -qF "$code" "$log" || fail "daemon log does not name $code"
        grep -qF "$(where_of "$file" "$line")" "$log" ||
          fail "daemon log does not name '$(where_of "$file" "$line")'"
      fi
      if [[ -n "${side:-}" ]]; then
        IFS='|' read -r -a side_files <<<"$side"
        for f in "${side_files[@]}"; do
          if [[ ! -f "$mnt/$f" ]]; then
            fail "side file $f is not listed"
          elif err="$(cat "$mnt/$f" 2>&1 >/dev/null)"; then
            fail "cat of the unreadable side file $f succeeded"
          elif [[ "$err" != *"Input/output error"* ]]; then
            fail "cat of $f failed without EIO: $err"
          fi
        done
      fi
      [[ ${#readable[@]} -ge 1 ]] || fail "no readable message listed"
      for f in "${readable[@]}"; do
        out="$(cat "$f" 2>&1 | head -c 100000)" || fail "cat $f failed"
        [[ "$out" == *"MIME-Version: 1.0"* ]] || fail "$f does not look like a message"
      done
      stop_daemon
      if [[ "$kind" == message || "$kind" == side ]]; then
        log="$work/$case_name.strict.log"
        expect_mount_failure "strict" -o strict
      fi
      ;;
  esac
done <"$work/cases/cases.tsv"

if mountpoint -q "$mnt"; then
  fail "a mount was left behind"
fi
echo "checked $checked extracts, $failures failure(s)"
[[ $failures -eq 0 ]]
