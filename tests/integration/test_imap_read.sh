#!/bin/bash
# Reading an IMAP account through a real mount, against a private Dovecot:
# a generated account (every MIME shape, non-ASCII folders, both hierarchy
# delimiters) is listed and read with ls, find, cat, cp -a and getfattr, and
# judged by an independent imaplib client (tests/support/imap_probe.py):
# folder tree, per-folder counts, names (design.md section 3), bytes, sizes,
# mtimes = INTERNALDATE, flags; reading never sets \Seen; a remount lists
# from the cache without fetching old messages again (server command log).
#
#   MAILFS_BIN=build/mount-tools/mailfs bash tests/integration/test_imap_read.sh
#   (IMAP_IT_MESSAGES=N changes the size of alice's account, default 1500)

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$MAILFS_SOURCE_DIR/tests/support/imap_it.sh"
imap_it_init
command -v getfattr >/dev/null || skip "getfattr (attr) is not installed"

N=${IMAP_IT_MESSAGES:-1500}
imap_gen alice "$N" 7
imap_gen bob 400 8
dovecot_start || die "dovecot did not start"

probe alice snapshot --no-bodies >"$IT_TMP/flags-before.json" || die "snapshot failed"
probe bob snapshot --no-bodies >"$IT_TMP/flags-before-bob.json" || die "snapshot failed"
mark0=$(rawlog_mark)

# ---------------------------------------------------------------------------
# alice: implicit TLS, delimiter '/'
A="$IT_TMP/alice"
imap_mount alice imaps "$A" || die "cannot mount alice"

t0=$(date +%s.%N)
nfiles=$(find "$A" -type f | wc -l)
t1=$(date +%s.%N)
log "first listing of $nfiles files: $(python3 -c "print('%.2f s' % ($t1 - $t0))")"
expect_eq "every message is listed" "$nfiles" "$(python3 -c "import json; print(json.load(open('$IT_TMP/alice.manifest.json'))['messages'])")"

check "folders with non-ASCII names (modified UTF-7 decoded)" \
  test -d "$A/Répertoire été" -a -d "$A/日本語" -a -d "$A/Ünïcödé/Unterordner" -a -d "$A/Tom & Jerry"
check "a folder name with '%' is escaped as %25" test -d "$A/50%25 off"
check "a '.' in a name is kept when the delimiter is '/'" test -d "$A/dots.in.name"
check "\\Noselect levels are plain folders" test -d "$A/Archive/2024"
expect_eq "\\Noselect folder Archive holds no files" "$(find "$A/Archive" -maxdepth 1 -type f | wc -l)" 0
for f in Sent Drafts Trash; do
  expect_eq "special-use xattr on $f" \
    "$(getfattr --absolute-names --only-values -n user.mail.special-use "$A/$f" 2>&1)" "\\$f"
done
expect_fail_with "INBOX has no special-use xattr (ENODATA)" "No such attribute" \
  getfattr --absolute-names -n user.mail.special-use "$A/INBOX"

# names, bytes, sizes, mtimes, flags: everything against the server
check "alice: the mount shows exactly the server's account" probe alice check-mount "$A"

one=$(find "$A/INBOX" -type f | sort | head -n 1)
idv=$(getfattr --absolute-names --only-values -n user.mail.id "$one" 2>&1)
check "user.mail.id is imap:UIDVALIDITY/UID ($idv)" bash -c "[[ '$idv' =~ ^imap:[0-9]+/[0-9]+$ ]]"
mid=$(getfattr --absolute-names --only-values -n user.mail.message-id "$one" 2>&1)
check "user.mail.message-id matches the header ($mid)" \
  bash -c "grep -i -m1 '^message-id:' \"\$1\" | grep -qF -- \"\$2\"" _ "$one" "$mid"
check "user.mail.id and message-id are not listed" \
  bash -c "! getfattr --absolute-names -d -m - \"\$1\" 2>/dev/null | grep -Eq 'user.mail.(id|message-id)'" _ "$one"

# cp -a out of the mount: every file arrives whole, names agree with bytes
check "cp -a of the whole mount" cp -a "$A/." "$IT_TMP/out/"
expect_eq "cp -a copied every file" "$(find "$IT_TMP/out" -type f | wc -l)" "$nfiles"
check "the copy's names follow design.md section 3 (mailname.py)" python3 "$MAILNAME" check "$IT_TMP/out"
check "diff -r mount copy" diff -r "$A" "$IT_TMP/out"
check "grep -r finds a generated subject" grep -rqs "Quarterly numbers" "$A/INBOX"

# reading never sets \Seen (and no command could have)
probe alice snapshot --no-bodies >"$IT_TMP/flags-after.json" || die "snapshot failed"
check "reading everything changed no flag on the server" \
  probe alice flags-equal "$IT_TMP/flags-before.json" "$IT_TMP/flags-after.json"
c=$(rawlog_count "$mark0" NONPEEK)
expect_eq "no FETCH without .PEEK was sent" "$(count_of NONPEEK "$c")" 0

listing() { (cd "$1" && find . -type d -printf 'd %p\n' -o -type f -printf 'f %s %T@ %p\n' | sort); }
listing "$A" >"$IT_TMP/listing1"
stop_mount "$A"
expect_eq "unmount alice: the daemon exits 0" "$?" 0

# ---------------------------------------------------------------------------
# remount with the same cache: listed from the cache, no old message fetched
mark1=$(rawlog_mark)
imap_mount alice imaps "$A" "dir_cache_ttl=3" || die "cannot remount alice"
t0=$(date +%s.%N)
listing "$A" >"$IT_TMP/listing2"
t1=$(date +%s.%N)
log "listing after the remount: $(python3 -c "print('%.2f s' % ($t1 - $t0))")"
check "the remount lists the same names, sizes and mtimes" diff "$IT_TMP/listing1" "$IT_TMP/listing2"
getfattr --absolute-names -R -d "$A" >/dev/null 2>&1
c=$(rawlog_count "$mark1" FETCH FETCHED)
log "after the remount: $c"
expect_eq "no message data fetched again after the remount (server log)" "$(count_of FETCHED "$c")" 0
# a new message on the server appears at once in the listing (after dir_cache_ttl)
python3 - "$IMAP_PORT" <<'EOF' || fail "could not append through imaplib"
import imaplib, sys, time
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("alice", "alicepw")
msg = (b"From: Ann Park <ann@example.com>\r\nSubject: arrived later\r\n"
       b"Date: Mon, 02 Jan 2023 10:00:00 +0000\r\nMessage-ID: <later.1@example.org>\r\n\r\nhi\r\n")
typ, _ = m.append("INBOX", None, imaplib.Time2Internaldate(1672653600), msg)
sys.exit(0 if typ == "OK" else 1)
EOF
later="2023-01-02 100000 arrived later [$(printf 'later.1@example.org' | sha256sum | cut -c1-8)].eml"
check "a message appended by another client is listed within dir_cache_ttl (3 s here)" \
  wait_for 20 bash -c 'ls "$1" | grep -qxF "$2"' _ "$A/INBOX" "$later"
stop_mount "$A"
expect_eq "unmount alice (2): the daemon exits 0" "$?" 0

# ---------------------------------------------------------------------------
# bob: STARTTLS on the plain port, delimiter '.', INBOX shown as "Inbox"
B="$IT_TMP/bob"
imap_mount bob imap "$B" "inbox_name=Inbox" || die "cannot mount bob"
check "bob (delimiter '.'): the mount shows exactly the server's account" \
  probe bob check-mount "$B" --inbox-name Inbox
check "nested folders of a '.' server are directories" test -d "$B/Archive/2024/Q1"
check "lookup of another case of the INBOX name resolves" test -d "$B/INBOX"
check "lookup of inbox in lower case resolves" test -d "$B/inbox"
expect_eq "the root lists INBOX once, as Inbox" "$(ls "$B" | grep -ci '^inbox$')" 1
probe bob snapshot --no-bodies >"$IT_TMP/flags-after-bob.json" || die "snapshot failed"
check "bob: reading changed no flag" \
  probe bob flags-equal "$IT_TMP/flags-before-bob.json" "$IT_TMP/flags-after-bob.json"
expect_errno "a read-only mount refuses to create files" EROFS \
  "open(args[0] + '/Inbox/new.eml', 'wb')" "$B"
stop_mount "$B"
expect_eq "unmount bob: the daemon exits 0" "$?" 0

it_finish
