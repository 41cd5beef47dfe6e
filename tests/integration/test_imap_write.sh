#!/bin/bash
# Writing through an IMAP mount (-o rw) against a private Dovecot, with the
# tools users use (design.md sections 5-7): cp -a out and back into a new
# folder, run as root from a tree owned by nobody, compared on the server
# (bytes, flags, INTERNALDATE); rsync -aX twice (the second transfers nothing
# and the server sees no APPEND or EXPUNGE); mv of messages and folders;
# rm; flags by setfattr; bare LF stored as CRLF; a cp killed in the middle
# of a message stores nothing; mkdir rules of a '.' server.
#
#   MAILFS_BIN=build/mount-tools/mailfs bash tests/integration/test_imap_write.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$MAILFS_SOURCE_DIR/tests/support/imap_it.sh"
imap_it_init
command -v rsync >/dev/null || skip "rsync is not installed"
command -v setfattr >/dev/null || skip "setfattr (attr) is not installed"
touch "$IT_TMP/xattr-probe"
setfattr -n user.probe -v 1 "$IT_TMP/xattr-probe" 2>/dev/null ||
  skip "$IT_TMP does not support user.* xattrs"

imap_gen alice "${IMAP_IT_WRITE_MESSAGES:-300}" 21 --huge-mb 2
imap_gen bob 20 22 --huge-mb 0
dovecot_start || die "dovecot did not start"
imap_need_rw

A="$IT_TMP/alice"
imap_mount alice imaps "$A" "rw,dir_cache_ttl=2" || die "cannot mount alice"

# sha_of FILE / where_on_server SHA PREFIX: "folder<TAB>flags<TAB>date" lines.
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
where_on_server() { probe alice find-sha "$1" --prefix "$2"; }

# ---------------------------------------------------------------------------
# cp -a out, then back into a new folder from a tree owned by nobody
check "cp -a out of the mount" cp -a "$A/." "$IT_TMP/backup/"
n=$(find "$IT_TMP/backup" -type f | wc -l)
log "backup holds $n messages"
chown -R nobody:nogroup "$IT_TMP/backup"
mark=$(rawlog_mark)
t0=$(date +%s.%N)
check "cp -a back into a new folder Restored (as root, files owned by nobody)" \
  cp -a "$IT_TMP/backup/." "$A/Restored/"
t1=$(date +%s.%N)
log "cp -a of $n messages into the mount: $(python3 -c "print('%.2f s' % ($t1 - $t0))")"
c=$(rawlog_count "$mark" APPEND EXPUNGE)
expect_eq "one APPEND per message, no EXPUNGE ($c)" "$c" "APPEND=$n EXPUNGE=0"
check "Restored equals the original on the server (bytes, flags, INTERNALDATE)" \
  probe alice same-folders "" Restored --exclude Restored
check "diff -r backup mount/Restored" diff -r "$IT_TMP/backup" "$A/Restored"

# ---------------------------------------------------------------------------
# rsync -aX twice
check "rsync -aX into a new folder Rsynced" rsync -aX "$IT_TMP/backup/" "$A/Rsynced/"
check "Rsynced equals the original on the server" \
  probe alice same-folders "" Rsynced --exclude Restored --exclude Rsynced
mark=$(rawlog_mark)
out=$(rsync -aX --stats --itemize-changes "$IT_TMP/backup/" "$A/Rsynced/" 2>&1)
rc=$?
expect_eq "second rsync -aX exits 0" "$rc" 0
expect_eq "second rsync -aX transfers no file" \
  "$(printf '%s\n' "$out" | sed -n 's/^Number of regular files transferred: //p')" 0 ||
  printf '%s\n' "$out" | grep -E '^[<>]f|rsync' | head -n 12 | sed 's/^/    /' >&2
c=$(rawlog_count "$mark" APPEND EXPUNGE STORE)
log "server commands during the second rsync: $c"
expect_eq "the second rsync made no APPEND on the server" "$(count_of APPEND "$c")" 0
expect_eq "the second rsync made no EXPUNGE on the server" "$(count_of EXPUNGE "$c")" 0

# ---------------------------------------------------------------------------
# mv of messages between folders (MOVE on this server: no APPEND), of a folder
mapfile -t three < <(find "$A/Rsynced/INBOX" -maxdepth 1 -type f -name '*.eml' | sort | head -n 3)
before_in=$(server_count alice Rsynced/INBOX)
before_sent=$(server_count alice Rsynced/Sent)
declare -A want_sha=()
for f in "${three[@]}"; do want_sha[$(basename "$f")]=$(sha_of "$f"); done
mark=$(rawlog_mark)
check "mv of three messages to another folder" mv "${three[@]}" "$A/Rsynced/Sent/"
c=$(rawlog_count "$mark" APPEND MOVE COPY EXPUNGE)
log "server commands for mv: $c"
expect_eq "mv appended nothing (the server has MOVE)" "$(count_of APPEND "$c")" 0
expect_eq "the source folder lost three messages" "$(server_count alice Rsynced/INBOX)" $((before_in - 3))
expect_eq "the target folder gained three" "$(server_count alice Rsynced/Sent)" $((before_sent + 3))
for f in "${three[@]}"; do
  b=$(basename "$f")
  check "moved $b is listed in the target" cmp "$A/Rsynced/Sent/$b" "$IT_TMP/backup/INBOX/$b"
  check "moved $b is gone from the source" test ! -e "$A/Rsynced/INBOX/$b"
  orig_flags=$(getfattr --absolute-names --only-values -n user.mail.flags "$IT_TMP/backup/INBOX/$b" 2>/dev/null)
  expect_eq "moved $b keeps flags and internal date on the server" \
    "$(where_on_server "${want_sha[$b]}" Rsynced/Sent | cut -f2-)" \
    "$orig_flags	$(stat -c %Y "$IT_TMP/backup/INBOX/$b")"
done
nd=$(server_count alice Rsynced/Drafts)
check "mv of a folder renames it" mv "$A/Rsynced/Drafts" "$A/Rsynced/Drafts renamed"
expect_eq "the renamed folder has its messages on the server" "$(server_count alice "Rsynced/Drafts renamed")" "$nd"
expect_eq "the old folder name is gone from the server" "$(server_count alice Rsynced/Drafts)" none

# ---------------------------------------------------------------------------
# rm, flags, bare LF
victim=$(find "$A/Rsynced/Sent" -maxdepth 1 -type f | sort | tail -n 1)
ns=$(server_count alice Rsynced/Sent)
mark=$(rawlog_mark)
check "rm of a message" rm "$victim"
expect_eq "rm expunged it on the server" "$(server_count alice Rsynced/Sent)" $((ns - 1))
check "an EXPUNGE was sent" test "$(count_of EXPUNGE "$(rawlog_count "$mark" EXPUNGE)")" -ge 1

target=$(find "$A/Rsynced/Sent" -maxdepth 1 -type f | sort | head -n 1)
check "setfattr user.mail.flags" setfattr -n user.mail.flags -v '$Label1 \Flagged' "$target"
expect_eq "the server has the new flags" \
  "$(where_on_server "$(sha_of "$target")" Rsynced/Sent | cut -f2)" '\Flagged $Label1'
expect_eq "the xattr reads back normalised" \
  "$(getfattr --absolute-names --only-values -n user.mail.flags "$target")" '\Flagged $Label1'
expect_errno "setting \\Deleted through the xattr is EINVAL" EINVAL \
  "os.setxattr(args[0], 'user.mail.flags', b'\\\\Deleted')" "$target"

lfmsg='From: Ann Park <ann@example.com>\nTo: bob@example.net\nSubject: bare LF stored as CRLF\nDate: Tue, 03 Jan 2023 11:12:13 +0000\nMessage-ID: <barelf.1@example.org>\n\nline one\nline two\n'
printf "$lfmsg" >"$IT_TMP/lf.eml"
check "cp of a message with bare LF line ends" cp "$IT_TMP/lf.eml" "$A/Rsynced/INBOX/written-with-lf.eml"
printf "$lfmsg" | sed 's/$/\r/' >"$IT_TMP/crlf.eml"
lfname="2023-01-03 111213 bare LF stored as CRLF [$(printf 'barelf.1@example.org' | sha256sum | cut -c1-8)].eml"
check "it is listed under its own name with CRLF bytes" cmp "$IT_TMP/crlf.eml" "$A/Rsynced/INBOX/$lfname"
expect_eq "stat shows the CRLF size" "$(stat -c %s "$A/Rsynced/INBOX/$lfname")" "$(stat -c %s "$IT_TMP/crlf.eml")"
check "the server holds the CRLF bytes" test -n "$(where_on_server "$(sha_of "$IT_TMP/crlf.eml")" Rsynced/INBOX)"

# ---------------------------------------------------------------------------
# a cp killed in the middle of a message stores nothing
python3 - "$IT_TMP/part.eml" <<'EOF'
import sys
head = (b"From: Ann Park <ann@example.com>\r\nSubject: killed mid-message\r\n"
        b"Message-ID: <killed.1@example.org>\r\nDate: Wed, 04 Jan 2023 09:00:00 +0000\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
        b"--b1\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n"
        b"--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
open(sys.argv[1], "wb").write(head + b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n" * 3000)
EOF
nin=$(server_count alice Rsynced/INBOX)
mark=$(rawlog_mark)
psize=$(stat -c %s "$IT_TMP/part.eml")
mkfifo "$IT_TMP/fifo"
cp "$IT_TMP/fifo" "$A/Rsynced/INBOX/killed.eml" &
cppid=$!
exec 3>"$IT_TMP/fifo"
cat "$IT_TMP/part.eml" >&3
wait_for 20 bash -c '[ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ]' _ "$A/Rsynced/INBOX/killed.eml" "$psize" ||
  fail "the partial message never reached its full written size on the mount"
kill -9 "$cppid" 2>/dev/null
wait "$cppid" 2>/dev/null
exec 3>&-
sleep 1
expect_eq "nothing was stored for the killed cp" "$(server_count alice Rsynced/INBOX)" "$nin"
expect_eq "no APPEND reached the server" "$(count_of APPEND "$(rawlog_count "$mark" APPEND)")" 0
check "the killed file's name no longer resolves" test ! -e "$A/Rsynced/INBOX/killed.eml"
check "the daemon logged 'incomplete message, not stored'" \
  grep -q "incomplete message, not stored" "${IT_LOGS[$A]}"

# ---------------------------------------------------------------------------
# the whole account, as listed now, against the server
check "after all writes, the mount shows exactly the server's account" probe alice check-mount "$A"
stop_mount "$A"
expect_eq "unmount alice: the daemon exits 0" "$?" 0

# ---------------------------------------------------------------------------
# bob: delimiter '.'
B="$IT_TMP/bob"
imap_mount bob imap "$B" "rw" || die "cannot mount bob"
expect_errno "mkdir of a name with the server's delimiter '.' is EINVAL" EINVAL \
  "os.mkdir(args[0] + '/a.b')" "$B"
check "mkdir of a non-ASCII folder" mkdir "$B/Übersicht neu"
probe bob snapshot --no-bodies >"$IT_TMP/bob-folders.json"
check "the server has it under its modified UTF-7 name" grep -q '"raw": "&ANw-bersicht neu"' "$IT_TMP/bob-folders.json"
check "mkdir of a nested folder" mkdir "$B/Übersicht neu/2024"
expect_eq "the nested folder is Übersicht neu.2024 on the server" "$(server_count bob 'Übersicht neu.2024')" 0
check "cp -a of INBOX into it" cp -a "$B/INBOX/." "$B/Übersicht neu/2024/"
expect_eq "it holds INBOX's messages" "$(server_count bob 'Übersicht neu.2024')" "$(server_count bob INBOX)"
check "rm of them and rmdir" bash -c "rm -f \"\$1\"/* && rmdir \"\$1\"" _ "$B/Übersicht neu/2024"
expect_eq "rmdir removed the folder on the server" "$(server_count bob 'Übersicht neu.2024')" none
stop_mount "$B"
expect_eq "unmount bob: the daemon exits 0" "$?" 0

it_finish
