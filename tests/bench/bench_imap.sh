#!/bin/bash
# IMAP benchmark (not part of ctest; prints figures, asserts nothing).
#
#   sudo MAILFS_BIN=build/rel/mount-tools/mailfs bash tests/bench/bench_imap.sh
#
# One private Dovecot on loopback (tests/support/dovecot.sh), implicit TLS
# for every client, one generated account (tests/gen/gen_imap_account.py):
#   reading  cp -a of the whole mount to a local folder, against mbsync
#            (isync, FSync off) pulling the account to a Maildir and a raw
#            pipelined UID FETCH BODY.PEEK[] of every body (Python, one
#            connection); then cp -a again after a remount (warm cache)
#   writing  cp -a of the copied account into an empty account, against
#            mbsync pushing the pulled Maildir into another empty account
#   memory   the daemon's peak RSS (VmHWM) after each phase
#   listing  ls -l of a 100,000-message folder: the first listing and the
#            listing after a remount, with the FETCH responses carrying
#            message data counted in the server's command log
#
# Environment:
#   MAILFS_BIN         the daemon (default: build/mount-tools/mailfs)
#   BENCH_MESSAGES     messages in the account (default 5000)
#   BENCH_HUGE_MB      size of its one huge message (default 20)
#   BENCH_LISTING      messages in the listing folder (default 100000; 0 skips it)
#   BENCH_CONNECTIONS  -o connections= for the mounts (default: the daemon's)
#   BENCH_ONLY         "listing" runs the listing part alone
#   BENCH_DIR          where to work (default: a temp dir, removed at the end)
#   BENCH_OUT          where the copies (cp -a's and mbsync's Maildirs) are
#                      written (default: /dev/shm when it has room, so that the
#                      write speed of a disk shared with other jobs does not
#                      blur the figures; both tools write there alike). The
#                      daemons' cache folders stay under the work folder.
# The server's files stay in the page cache (this machine has the memory),
# and the server is warmed before timing, so every client sees the same
# warm server.

set -u
set -o pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${MAILFS_BIN:=$SRC_DIR/build/mount-tools/mailfs}"
: "${BENCH_MESSAGES:=5000}"
: "${BENCH_HUGE_MB:=20}"
: "${BENCH_LISTING:=100000}"
GEN="$SRC_DIR/tests/gen/gen_imap_account.py"
PROBE="$SRC_DIR/tests/support/imap_probe.py"

die() { echo "bench_imap.sh: $*" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "run as root (Dovecot maps its users to nobody)"
[ -x "$MAILFS_BIN" ] || die "MAILFS_BIN=$MAILFS_BIN is not executable"
command -v mbsync >/dev/null || die "mbsync (package isync) is not installed"
source "$SRC_DIR/tests/support/dovecot.sh"
dovecot_available || die "dovecot is not installed"

if [ -n "${BENCH_DIR:-}" ]; then
  WORK="$BENCH_DIR/mailfs-bench-imap.$$"
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailfs-bench-imap.XXXXXX")
fi
MNT="$WORK/mnt"
mkdir -p "$MNT"
if [ -z "${BENCH_OUT:-}" ]; then
  BENCH_OUT=$WORK
  shm_free=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')
  [ -n "$shm_free" ] && [ "$shm_free" -gt $((2 * 1024 * 1024)) ] && BENCH_OUT=/dev/shm
fi
OUT=$(mktemp -d "$BENCH_OUT/mailfs-bench-imap-out.XXXXXX") || die "cannot create a folder in $BENCH_OUT"
mark="$WORK/rawlog.mark"
DAEMON_PID=""
cleanup() {
  if mountpoint -q "$MNT" 2>/dev/null; then
    fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
  fi
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null
  dovecot_cleanup
  [ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK" "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
secs() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }
ratio() { python3 -c 'import sys; a, b = map(float, sys.argv[1:]); print("%.2f" % (a / b) if b else "n/a")' "$1" "$2"; }
declare -a RESULTS=()
result() { RESULTS+=("$(printf '%-58s %s' "$1" "$2")"); printf '  %-56s %s\n' "$1" "$2"; }

dovecot_setup "$WORK/dovecot" >/dev/null || die "dovecot setup failed"
for u in alice carol dave erin; do
  printf '%spw\n' "$u" >"$WORK/$u.pass"
  chmod 600 "$WORK/$u.pass"
done

[ "${BENCH_ONLY:-}" = listing ] && BENCH_MESSAGES=1
echo "generating the account ($BENCH_MESSAGES messages)..."
python3 "$GEN" "$(dovecot_maildir alice)" --messages "$BENCH_MESSAGES" --seed 5 \
  --huge-mb "$BENCH_HUGE_MB" --manifest "$WORK/alice.json" || die "generator failed"
dovecot_chown
dovecot_start || die "dovecot did not start"
MB=$(python3 -c "import json; print('%.1f' % (json.load(open('$WORK/alice.json'))['bytes'] / 1048576))")
echo "account: $BENCH_MESSAGES messages, $MB MiB; warming the server..."
python3 "$PROBE" --port "$IMAP_PORT" --user alice --password alicepw fetch-all >/dev/null ||
  die "warm-up fetch failed"

# mount USER OPTS: mailfs on $MNT in the background; sets DAEMON_PID.
mount_it() {
  local u=$1 opts="cafile=$IMAP_CA,passfile=$WORK/$1.pass,cache_dir=$WORK/cache-$1${2:+,$2}"
  [ -n "${BENCH_CONNECTIONS:-}" ] && opts="$opts,connections=$BENCH_CONNECTIONS"
  setsid "$MAILFS_BIN" "imaps://$u@localhost:$IMAPS_PORT" "$MNT" -f -o "$opts" \
    >>"$WORK/daemon-$u.log" 2>&1 </dev/null &
  DAEMON_PID=$!
  local i
  for i in $(seq 1 600); do
    mountpoint -q "$MNT" && return 0
    kill -0 "$DAEMON_PID" 2>/dev/null || { tail -n 20 "$WORK/daemon-$u.log" >&2; die "mailfs exited before mounting"; }
    sleep 0.05
  done
  die "mailfs did not mount within 30 s"
}
hwm() { awk '/^VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$DAEMON_PID/status" 2>/dev/null; }
umount_it() {
  fusermount3 -u "$MNT" || { sleep 1; fusermount3 -u "$MNT"; } || fusermount3 -uz "$MNT"
  wait "$DAEMON_PID"
  DAEMON_PID=""
}

if [ "${BENCH_ONLY:-}" != listing ]; then
echo
echo "== reading ($BENCH_MESSAGES messages, $MB MiB, implicit TLS) =="
t0=$(now)
raw_out=$(python3 "$PROBE" --host localhost --port "$IMAPS_PORT" --tls implicit --cafile "$IMAP_CA" \
  --user alice --password alicepw fetch-all) || die "raw fetch failed"
t1=$(now)
T_RAW=$(secs "$t0" "$t1")
result "raw pipelined UID FETCH BODY.PEEK[] (python)" "$T_RAW s  ($raw_out)"

mkdir -p "$OUT/mbsync-pull"
cat >"$WORK/mbsyncrc" <<EOF
FSync no

IMAPAccount alice
Host localhost
Port $IMAPS_PORT
User alice
Pass alicepw
SSLType IMAPS
CertificateFile $IMAP_CA

IMAPStore alice-far
Account alice

MaildirStore pulled
Path $OUT/mbsync-pull/
Inbox $OUT/mbsync-pull/INBOX
SubFolders Verbatim

Channel pull
Far :alice-far:
Near :pulled:
Patterns *
Create Near
Sync Pull
SyncState *
CopyArrivalDate yes

IMAPAccount dave
Host localhost
Port $IMAPS_PORT
User dave
Pass davepw
SSLType IMAPS
CertificateFile $IMAP_CA

IMAPStore dave-far
Account dave

MaildirStore topush
Path $OUT/mbsync-push/
Inbox $OUT/mbsync-push/INBOX
SubFolders Verbatim

Channel push
Far :dave-far:
Near :topush:
Patterns *
Create Far
Sync Push
SyncState *
CopyArrivalDate yes
EOF
t0=$(now)
mbsync -c "$WORK/mbsyncrc" -q pull || die "mbsync pull failed"
t1=$(now)
T_MBSYNC=$(secs "$t0" "$t1")
n_mb=$(find "$OUT/mbsync-pull" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l)
result "mbsync pull to a Maildir (FSync off)" "$T_MBSYNC s  ($n_mb messages)"

mount_it alice
t0=$(now)
cp -a "$MNT/." "$OUT/cp1/" || echo "  (cp -a reported errors)"
t1=$(now)
T_CP1=$(secs "$t0" "$t1")
n_cp=$(find "$OUT/cp1" -type f | wc -l)
result "mailfs: cp -a of the whole mount (cold cache)" "$T_CP1 s  ($n_cp files; ratio to mbsync $(ratio "$T_CP1" "$T_MBSYNC"))"
result "  daemon peak RSS" "$(hwm)"
umount_it
dovecot_rawlog_mark "$mark"
mount_it alice
t0=$(now)
cp -a "$MNT/." "$OUT/cp2/" || echo "  (cp -a reported errors)"
t1=$(now)
T_CP2=$(secs "$t0" "$t1")
result "mailfs: cp -a again after a remount (warm cache)" "$T_CP2 s  (ratio to mbsync $(ratio "$T_CP2" "$T_MBSYNC"); $(dovecot_cmd_count "$mark" FETCH FETCHED))"
result "  daemon peak RSS" "$(hwm)"
umount_it
rm -rf "$OUT/cp2"
# The floor: the same files copied from a local folder (page cache warm).
t0=$(now)
cp -a "$OUT/cp1/." "$OUT/cp2/"
t1=$(now)
result "cp -a of the same files from a local folder" "$(secs "$t0" "$t1") s"
rm -rf "$OUT/cp2"

echo
echo "== writing ($n_cp messages into empty accounts) =="
mount_it carol rw
t0=$(now)
cp -a "$OUT/cp1/." "$MNT/" || echo "  (cp -a reported errors)"
t1=$(now)
T_W=$(secs "$t0" "$t1")
result "mailfs: cp -a into an empty account (-o rw)" "$T_W s"
result "  daemon peak RSS" "$(hwm)"
umount_it
n_carol=$(python3 "$PROBE" --port "$IMAP_PORT" --user carol --password carolpw snapshot --no-bodies |
  python3 -c 'import json, sys; print(sum(len(f["messages"] or []) for f in json.load(sys.stdin)))')
cp -a "$OUT/mbsync-pull" "$OUT/mbsync-push"
find "$OUT/mbsync-push" \( -name '.mbsyncstate*' -o -name '.uidvalidity' \) -delete
t0=$(now)
mbsync -c "$WORK/mbsyncrc" -q push || echo "  (mbsync push reported errors)"
t1=$(now)
T_MBW=$(secs "$t0" "$t1")
n_dave=$(python3 "$PROBE" --port "$IMAP_PORT" --user dave --password davepw snapshot --no-bodies |
  python3 -c 'import json, sys; print(sum(len(f["messages"] or []) for f in json.load(sys.stdin)))')
result "mbsync push of the pulled Maildir" "$T_MBW s"
result "messages on the server: mailfs / mbsync" "$n_carol / $n_dave; write ratio $(ratio "$T_W" "$T_MBW")"
fi

if [ "$BENCH_LISTING" -gt 0 ]; then
  echo
  echo "== listing: one folder of $BENCH_LISTING messages =="
  t0=$(now)
  python3 "$GEN" "$(dovecot_maildir erin)" --messages "$BENCH_LISTING" --seed 9 --huge-mb 0 \
    --one-folder Big >/dev/null || die "generator failed"
  dovecot_chown
  t1=$(now)
  echo "  generated in $(secs "$t0" "$t1") s; letting Dovecot index it..."
  t0=$(now)
  python3 "$PROBE" --port "$IMAP_PORT" --user erin --password erinpw snapshot --no-bodies --prefix Big >/dev/null
  t1=$(now)
  result "Dovecot's own first indexing (imaplib, not timed for mailfs)" "$(secs "$t0" "$t1") s"
  dovecot_rawlog_mark "$mark"
  mount_it erin
  t0=$(now)
  n=$(ls -l "$MNT/Big" | wc -l)
  t1=$(now)
  result "mailfs: first ls -l ($((n - 1)) entries)" "$(secs "$t0" "$t1") s  ($(dovecot_cmd_count "$mark" FETCH FETCHED))"
  result "  daemon peak RSS" "$(hwm)"
  echo "  FETCH commands of the first listing, by shape:"
  python3 "$PROBE" rawlog-fetches "$DOVECOT_DIR/log/rawlog" "$mark" | sed 's/^/    /'
  umount_it
  dovecot_rawlog_mark "$mark"
  mount_it erin
  t0=$(now)
  n=$(ls -l "$MNT/Big" | wc -l)
  t1=$(now)
  result "mailfs: ls -l after a remount ($((n - 1)) entries)" "$(secs "$t0" "$t1") s  ($(dovecot_cmd_count "$mark" FETCH FETCHED))"
  result "  daemon peak RSS" "$(hwm)"
  umount_it
fi

echo
echo "== summary ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $("$MAILFS_BIN" --version 2>/dev/null)) =="
printf '%s\n' "${RESULTS[@]}"
echo "(FETCHED = server FETCH responses carrying message data: headers, bodies, sizes or dates)"
