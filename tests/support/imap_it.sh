# Helpers shared by tests/integration/test_imap_*.sh (sourced after lib.sh).
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   source "$MAILFS_SOURCE_DIR/tests/support/imap_it.sh"
#   imap_it_init                       # it_init + skips + a private Dovecot (stopped on exit)
#   imap_gen alice 1500 7              # generate an account (before dovecot_start)
#   dovecot_start
#   imap_mount alice imaps MNT [opts]  # mailfs imaps://alice@localhost:PORT MNT -o cafile=...,passfile=...
#   probe alice check-mount MNT        # tests/support/imap_probe.py as alice
#   mark=$(rawlog_mark); ...; rawlog_count "$mark" APPEND EXPUNGE   # prints APPEND=n EXPUNGE=m
#   count_of APPEND "$(rawlog_count ...)"                           # n

source "$MAILFS_SOURCE_DIR/tests/support/dovecot.sh"
IMAP_PROBE="$MAILFS_SOURCE_DIR/tests/support/imap_probe.py"
GEN_IMAP="$MAILFS_SOURCE_DIR/tests/gen/gen_imap_account.py"

declare -A IMAP_PW=([alice]=alicepw [bob]=bobpw [carol]=carolpw [dave]=davepw [erin]=erinpw)

imap_it_cleanup() {
  local rc=$? mnt
  for mnt in "${!IT_PIDS[@]}"; do
    if mountpoint -q "$mnt" 2>/dev/null; then
      fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null
    fi
  done
  dovecot_cleanup
  (exit $rc)
  it_cleanup
}

# imap_supported: false only when the daemon says it has no IMAP support
# (exit 2 and "not supported"); a daemon that has it fails differently here
# (nothing listens on port 1).
imap_supported() {
  local d out rc
  d=$(mktemp -d "$IT_TMP/probe.XXXXXX")
  printf 'x\n' >"$d/pass"
  chmod 600 "$d/pass"
  out=$(timeout 60 "$MAILFS_BIN" "imap://probe@127.0.0.1:1" "$d" -f -o "tls=none,passfile=$d/pass" 2>&1 </dev/null)
  rc=$?
  mountpoint -q "$d" && fusermount3 -u "$d"
  if [ $rc -eq 2 ] && printf '%s' "$out" | grep -qi "not supported"; then
    return 1
  fi
  return 0
}

imap_it_init() {
  it_init
  [ "$(id -u)" -eq 0 ] || skip "runs as root (trees owned by another user, Dovecot mapped to nobody)"
  dovecot_available || skip "dovecot, openssl or python3 is not installed"
  imap_supported || skip "this mailfs build has no IMAP support"
  trap imap_it_cleanup EXIT
  dovecot_setup "$IT_TMP/dovecot" || die "dovecot setup failed"
  local u
  for u in "${!IMAP_PW[@]}"; do
    printf '%s\n' "${IMAP_PW[$u]}" >"$IT_TMP/$u.pass"
    chmod 600 "$IT_TMP/$u.pass"
  done
  export PYTHONPATH="$MAILFS_SOURCE_DIR/tests/support${PYTHONPATH:+:$PYTHONPATH}"
}

# imap_gen USER MESSAGES SEED [extra generator args]: writes the account as
# Maildir files (alice/carol: delimiter '/', bob: '.').
imap_gen() {
  local u=$1 n=$2 seed=$3 layout=fs
  shift 3
  [ "$u" = bob ] && layout=maildir++
  python3 "$GEN_IMAP" "$(dovecot_maildir "$u")" --messages "$n" --seed "$seed" \
    --layout "$layout" --manifest "$IT_TMP/$u.manifest.json" "$@" || die "generator failed"
  dovecot_chown
}

# imap_url USER SCHEME [HOST]: imaps -> implicit TLS port, imap -> plain/STARTTLS port.
imap_url() {
  local host=${3:-$IMAP_HOST}
  if [ "$2" = imaps ]; then
    echo "imaps://$1@$host:$IMAPS_PORT"
  else
    echo "imap://$1@$host:$IMAP_PORT"
  fi
}

# imap_mount USER SCHEME MNT [OPTS]: mounts with the test CA, the user's
# password file and a cache folder of its own ($IT_TMP/cache-<mnt name>).
imap_mount() {
  local u=$1 scheme=$2 mnt=$3 extra=${4:-}
  local opts="cafile=$IMAP_CA,passfile=$IT_TMP/$u.pass,cache_dir=$IT_TMP/cache-$(basename "$mnt")"
  [ -n "$extra" ] && opts="$opts,$extra"
  start_mount "$(imap_url "$u" "$scheme")" "$mnt" "$opts"
}

# imap_need_rw: skips the test when this build mounts IMAP read-only even
# with -o rw (mkdir on such a mount answers EROFS); once writes are in, a
# mkdir that fails otherwise is a failure of the test, not a skip.
imap_need_rw() {
  local m="$IT_TMP/rw-probe" rc
  imap_mount carol imap "$m" rw || die "cannot mount carol with -o rw"
  mkdir "$m/rw-probe" 2>"$IT_TMP/rw-probe.err"
  rc=$?
  [ $rc -eq 0 ] && rmdir "$m/rw-probe"
  stop_mount "$m"
  if [ $rc -ne 0 ] && grep -q "Read-only file system" "$IT_TMP/rw-probe.err"; then
    skip "this mailfs build mounts IMAP read-only even with -o rw"
  fi
}

# probe USER ARGS...: the imaplib judge, logged in as USER on the plain port.
probe() {
  local u=$1
  shift
  python3 "$IMAP_PROBE" --port "$IMAP_PORT" --user "$u" --password "${IMAP_PW[$u]}" "$@"
}

# rawlog_mark: prints the name of a new mark file (command logs' sizes now).
rawlog_mark() {
  local f
  f=$(mktemp "$IT_TMP/mark.XXXXXX")
  dovecot_rawlog_mark "$f"
  echo "$f"
}

rawlog_count() { dovecot_cmd_count "$@"; }

# count_of VERB "APPEND=1 EXPUNGE=0": prints 1.
count_of() {
  printf '%s\n' "$2" | tr ' ' '\n' | awk -F= -v v="$1" '$1 == v {print $2}'
}

# server_count USER FOLDER: messages in a folder, per STATUS (no side effects).
server_count() {
  python3 - "$IMAP_PORT" "$1" "${IMAP_PW[$1]}" "$2" "$(dirname "$IMAP_PROBE")" <<'EOF'
import imaplib, sys
sys.path.insert(0, sys.argv[5])
import imap_probe
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
typ, data = m.status(imap_probe.quote(imap_probe.mutf7_encode(sys.argv[4])), "(MESSAGES)")
if typ != "OK":
    print("none")
else:
    print(data[0].decode().rsplit("MESSAGES ", 1)[1].rstrip(")"))
m.logout()
EOF
}

# wait_for SECONDS COMMAND...: polls (every 0.1 s) until COMMAND succeeds.
wait_for() {
  local limit=$1 end
  shift
  end=$((SECONDS + limit))
  while [ $SECONDS -lt $end ]; do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}
