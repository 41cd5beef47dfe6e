#!/bin/bash
# The migration the project exists for: an IMAP account (a private Dovecot)
# copied into new PST files with rsync -aX and with cp -a, judged by every
# PST reader, compared with the account by diff -r through the mounts, then
# copied back into an empty IMAP account and compared on the server: bytes,
# flags and internal dates equal in every folder.
#
#   MAILFS_BIN=build/mount-tools/mailfs bash tests/integration/test_imap_pst_roundtrip.sh
#   MAILFS_ROUNDTRIP_MESSAGES=5000 ...     (the size the acceptance run uses)

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$MAILFS_SOURCE_DIR/tests/support/imap_it.sh"
imap_it_init
for tool in rsync pffinfo pffexport lspst readpst; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done
PSTCHECK=${MAILFS_PSTCHECK_BIN:-$(dirname "$MAILFS_BIN")/mailfs-pstcheck}
[ -x "$PSTCHECK" ] || skip "mailfs-pstcheck not found next to $MAILFS_BIN"
N=${MAILFS_ROUNDTRIP_MESSAGES:-400}

imap_gen alice "$N" 41 --huge-mb 1
dovecot_start || die "dovecot did not start"
imap_need_rw

A="$IT_TMP/alice"
imap_mount alice imaps "$A" "" || die "cannot mount alice"
total=$(find "$A" -type f -name '*.eml' | wc -l)
log "the account holds $total messages"
[ "$total" -ge "$N" ] || fail "the generated account has fewer messages than asked ($total < $N)"

# judge PST LABEL: all readers accept the file and count every message.
judge() {
  local pst=$1 label=$2 out="$IT_TMP/judge-$2"
  mkdir -p "$out/readpst"
  check "$label: mailfs-pstcheck finds nothing" "$PSTCHECK" -q "$pst"
  pffinfo "$pst" >"$out/info" 2>"$out/info.err"
  check "$label: pffinfo without stderr" test $? -eq 0 -a ! -s "$out/info.err"
  pffexport -q -t "$out/x" "$pst" >"$out/export" 2>"$out/export.err"
  check "$label: pffexport without stderr" test $? -eq 0 -a ! -s "$out/export.err"
  # (attached messages are exported as messages inside their Attachments folder)
  expect_eq "$label: messages pffexport finds" \
    "$(find "$out/x.export" -type d -name 'Message[0-9]*' ! -path '*/Attachments/*' | wc -l)" "$total"
  expect_eq "$label: messages lspst lists" "$(lspst "$pst" 2>/dev/null | grep -c '^Email')" "$total"
  readpst -j 0 -e -D -8 -o "$out/readpst" "$pst" >"$out/readpst.txt" 2>&1
  check "$label: readpst exits 0" test $? -eq 0
  if [ -n "${MAILFS_PST_EXTRACTOR_DIR:-}" ]; then
    NODE_PATH="$MAILFS_PST_EXTRACTOR_DIR/node_modules" node "$MAILFS_SOURCE_DIR/tests/integration/pst_extractor_dump.js" \
      "$pst" >"$out/ext" 2>"$out/ext.err"
    check "$label: pst-extractor reads the file" test $? -eq 0
    expect_eq "$label: messages pst-extractor finds" "$(grep -c '^{"t":"M"' "$out/ext")" "$total"
  fi
}

# judges_agree MOUNT LABEL: the remount, pffexport, readpst and pst-extractor
# show the account's folders, per folder the count and subjects of the
# messages and their attachments' names and bytes (pst_compare_readers.py).
judges_agree() {
  local out="$IT_TMP/judge-$2" t0 t1
  local -a ext=()
  [ -s "$out/ext" ] && ext=(--extractor "$out/ext")
  t0=$(date +%s.%N)
  python3 "$MAILFS_SOURCE_DIR/tests/integration/pst_compare_readers.py" --source "$A" --new-file \
    --mount "$1" --pffexport "$out/x.export" --readpst "$out/readpst" "${ext[@]}" >"$out/compare.txt" 2>&1
  check "$2: every judge shows the account's folders, counts, subjects and attachments" test $? -eq 0
  t1=$(date +%s.%N)
  awk -v p="$IT_NAME: $2: " '{ print p $0 }' "$out/compare.txt" | head -n 60
  log "$2: judges compared in $(python3 -c "print('%.1f s' % ($t1 - $t0))")"
}

# compare MOUNT LABEL: the PST mount equals the IMAP mount.
compare() {
  local out
  out=$(diff -r "$A" "$1" 2>&1)
  expect_eq "$2: diff -r prints only the new file's Deleted Items" "$out" "Only in $1: Deleted Items"
  check "$2: mtimes and flags equal" python3 "$MAILFS_SOURCE_DIR/tests/support/compare_meta.py" "$A" "$1"
}

for how in rsync cp; do
  P="$IT_TMP/$how.pst"
  start_mount "$P" "$IT_TMP/w-$how" create || die "cannot create $P"
  t0=$(date +%s.%N)
  if [ $how = rsync ]; then
    check "rsync -aX of the IMAP mount into a new PST" rsync -aX "$A/" "$IT_TMP/w-$how/"
  else
    check "cp -a of the IMAP mount into a new PST" cp -a "$A/." "$IT_TMP/w-$how/"
  fi
  t1=$(date +%s.%N)
  log "$how of $total messages into a PST: $(python3 -c "print('%.1f s' % ($t1 - $t0))")"
  stop_mount "$IT_TMP/w-$how"
  check "$how: the daemon exits 0" test $? -eq 0
  judge "$P" "$how"
  start_mount "$P" "$IT_TMP/r-$how" || die "cannot remount $P"
  compare "$IT_TMP/r-$how" "$how"
  judges_agree "$IT_TMP/r-$how" "$how"
  stop_mount "$IT_TMP/r-$how"
done

# Back to IMAP: the cp -a file into the empty account carol.
start_mount "$IT_TMP/cp.pst" "$IT_TMP/r-back" || die "cannot remount cp.pst"
C="$IT_TMP/carol"
imap_mount carol imaps "$C" "rw" || die "cannot mount carol rw"
check "cp -a of the PST mount into an empty IMAP account" cp -a "$IT_TMP/r-back/." "$C/"
stop_mount "$C"
stop_mount "$IT_TMP/r-back"
probe alice snapshot >"$IT_TMP/alice.json" || fail "snapshot of alice failed"
probe carol snapshot >"$IT_TMP/carol.json" || fail "snapshot of carol failed"
check "IMAP -> PST -> IMAP: every folder holds the same bytes, flags and internal dates" \
  python3 - "$IT_TMP/alice.json" "$IT_TMP/carol.json" <<'PYEOF'
import json, sys
def load(p):
    out, every = {}, set()
    for f in json.load(open(p)):
        name = "INBOX" if f["name"].upper() == "INBOX" else f["name"].replace(f["delim"] or "/", "/")
        every.add(name)
        if f["messages"] is None:
            continue
        out[name] = sorted((m["sha"], " ".join(sorted(x for x in m["flags"] if x != "\\Recent")), m["date"])
                           for m in f["messages"])
    return out, every
(a, a_all), (c, _) = load(sys.argv[1]), load(sys.argv[2])
# A folder that holds no messages on alice (\Noselect there) comes back as an
# empty mailbox: mkdir through a mount can only create mailboxes.
for name in a_all - set(a):
    if not c.get(name):
        c.pop(name, None)
bad = 0
for name, msgs in a.items():
    if c.get(name) != msgs:
        bad += 1
        got = c.get(name)
        print("folder %r: %d messages on alice, %s on carol%s" % (
            name, len(msgs), "none" if got is None else len(got),
            "" if got is None else " (%d differ)" % len(set(msgs) ^ set(got))))
extra = sorted(set(c) - set(a) - {"Deleted Items"})
if extra:
    bad += 1
    print("folders only on carol: %s" % extra)
if any(c.get("Deleted Items") or []):
    bad += 1
    print("Deleted Items on carol is not empty")
n = sum(len(v) for v in a.values())
print("compared %d folders, %d messages: %d problems" % (len(a), n, bad))
sys.exit(1 if bad or n == 0 else 0)
PYEOF
stop_mount "$A"
it_finish
