#!/bin/bash
# TLS and credentials of IMAP mounts (design.md section 9), against a private
# Dovecot whose certificates come from a throw-away CA: the right host name
# verifies with -o cafile, a certificate for another host name is refused,
# an unrelated CA or the system CAs do not help, imap:// requires STARTTLS
# (checked against a small scripted server that does not offer it, which also
# records whether a password was sent), tls=none works only when said.
#
#   MAILFS_BIN=build/mount-tools/mailfs bash tests/integration/test_imap_tls.sh

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$MAILFS_SOURCE_DIR/tests/support/imap_it.sh"
imap_it_init

imap_gen alice 60 11
dovecot_start || die "dovecot did not start"

# attempt SOURCE OPTS [ARGS...]: runs the daemon in the foreground; when it mounts,
# unmounts it. Sets ATTEMPT ("mounted" or the exit status) and ATTEMPT_OUT.
attempt() {
  local src=$1 opts=$2 mnt pid i
  mnt=$(mktemp -d "$IT_TMP/try.XXXXXX")
  ATTEMPT_OUT="$mnt.log"
  setsid "$MAILFS_BIN" "$src" "$mnt" -f -o "$opts" "${@:3}" >"$ATTEMPT_OUT" 2>&1 </dev/null &
  pid=$!
  for i in $(seq 1 900); do
    if mountpoint -q "$mnt"; then
      ATTEMPT=mounted
      ls "$mnt" >"$mnt.ls" 2>&1
      fusermount3 -u "$mnt" || fusermount3 -uz "$mnt"
      wait "$pid"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid"
      ATTEMPT=$?
      return 0
    fi
    sleep 0.1
  done
  kill "$pid"
  wait "$pid"
  ATTEMPT="hung (killed after 90 s)"
}

# refused WHAT SOURCE OPTS: the mount must fail with exit status 2 or 4 and
# a message about the certificate or TLS.
refused() {
  local what=$1
  attempt "$2" "$3"
  IT_CHECKS=$((IT_CHECKS + 1))
  if [ "$ATTEMPT" != 2 ] && [ "$ATTEMPT" != 4 ]; then
    fail "$what: expected exit status 2 or 4, got '$ATTEMPT'; output:"
    sed 's/^/    /' "$ATTEMPT_OUT" | head -n 20 >&2
    return 1
  fi
  if ! grep -Eqi 'certificate|host ?name|verif|tls|ssl|starttls' "$ATTEMPT_OUT"; then
    fail "$what: refused (exit $ATTEMPT) without a clear message: $(head -c 400 "$ATTEMPT_OUT")"
    return 1
  fi
  pass "$what (exit $ATTEMPT: $(grep -Ei 'certificate|host|verif|tls|ssl' "$ATTEMPT_OUT" | head -n 1 | cut -c1-160))"
}

# mounts WHAT SOURCE OPTS: the mount must succeed and list INBOX.
mounts() {
  local what=$1
  attempt "$2" "$3"
  IT_CHECKS=$((IT_CHECKS + 1))
  if [ "$ATTEMPT" != mounted ]; then
    fail "$what: did not mount (exit $ATTEMPT); output:"
    sed 's/^/    /' "$ATTEMPT_OUT" | head -n 20 >&2
    return 1
  fi
  if ! grep -qx INBOX "${ATTEMPT_OUT%.log}.ls"; then
    fail "$what: mounted, but ls shows: $(head -c 300 "${ATTEMPT_OUT%.log}.ls")"
    return 1
  fi
  pass "$what"
}

PF="passfile=$IT_TMP/alice.pass"
mounts "imaps:// with -o cafile (right host name)" \
  "imaps://alice@localhost:$IMAPS_PORT" "cafile=$IMAP_CA,$PF"
mounts "imap:// (STARTTLS) with -o cafile" \
  "imap://alice@localhost:$IMAP_PORT" "cafile=$IMAP_CA,$PF"
refused "imaps:// to a certificate for another host name" \
  "imaps://alice@$IMAP_WRONG_ADDR:$IMAPS_PORT" "cafile=$IMAP_CA,$PF"
refused "imap:// STARTTLS to a certificate for another host name" \
  "imap://alice@$IMAP_WRONG_ADDR:$IMAP_PORT" "cafile=$IMAP_CA,$PF"
refused "imaps:// without cafile: the test CA is not a system CA" \
  "imaps://alice@localhost:$IMAPS_PORT" "$PF"
refused "imaps:// with an unrelated cafile" \
  "imaps://alice@localhost:$IMAPS_PORT" "cafile=$IMAP_OTHER_CA,$PF"
mounts "tls=none on the plain port, when said" \
  "imap://alice@localhost:$IMAP_PORT" "tls=none,$PF"

# Credentials: a wrong password is exit status 3; a passfile readable by
# others is refused; the password never reaches the log.
printf 'wrong\n' >"$IT_TMP/wrong.pass"
chmod 600 "$IT_TMP/wrong.pass"
attempt "imaps://alice@localhost:$IMAPS_PORT" "cafile=$IMAP_CA,passfile=$IT_TMP/wrong.pass"
expect_eq "a wrong password gives exit status 3" "$ATTEMPT" 3
cp "$IT_TMP/alice.pass" "$IT_TMP/open.pass"
chmod 644 "$IT_TMP/open.pass"
attempt "imaps://alice@localhost:$IMAPS_PORT" "cafile=$IMAP_CA,passfile=$IT_TMP/open.pass"
IT_CHECKS=$((IT_CHECKS + 1))
if [ "$ATTEMPT" = mounted ] || [ "$ATTEMPT" = 0 ]; then
  fail "a passfile with mode 0644 was accepted"
else
  pass "a passfile with mode 0644 is refused (exit $ATTEMPT)"
fi
attempt "imaps://alice@localhost:$IMAPS_PORT" "cafile=$IMAP_CA,$PF" -d
check "the password is not in the daemon's output" bash -c "! grep -q alicepw '$ATTEMPT_OUT'"

# ---------------------------------------------------------------------------
# A scripted server without STARTTLS: imap:// must refuse to log in there
# (without sending the password); with tls=none it logs in in clear text.
FAKE_LOG="$IT_TMP/fake.log"
FAKE_PORT=$(_dovecot_free_port)
python3 - "$FAKE_PORT" "$FAKE_LOG" >"$IT_TMP/fake.out" 2>&1 <<'EOF' &
import socket, sys, threading
port, logf = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()

def note(s):
    with lock, open(logf, "a") as f:
        f.write(s + "\n")

def serve(c):
    f = c.makefile("rb")
    c.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN] no TLS here\r\n")
    while True:
        line = f.readline()
        if not line:
            break
        note("C: " + line.decode("latin-1").rstrip())
        parts = line.split()
        if len(parts) < 2:
            continue
        tag, verb = parts[0], parts[1].upper()
        if verb == b"CAPABILITY":
            c.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN\r\n" + tag + b" OK done\r\n")
        elif verb in (b"LOGIN", b"AUTHENTICATE"):
            note("CREDENTIALS")
            if verb == b"AUTHENTICATE" and len(parts) == 3:
                c.sendall(b"+ \r\n")
                note("C: " + f.readline().decode("latin-1").rstrip())
            c.sendall(tag + b" NO [AUTHENTICATIONFAILED] refused by the scripted server\r\n")
        elif verb == b"LOGOUT":
            c.sendall(b"* BYE\r\n" + tag + b" OK bye\r\n")
            break
        else:
            c.sendall(tag + b" BAD not here\r\n")
    c.close()

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(8)
note("READY")
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
FAKE_PID=$!
wait_for 10 grep -qs READY "$FAKE_LOG" || die "the scripted server did not start"
refused "imap:// to a server without STARTTLS is refused" \
  "imap://alice@127.0.0.1:$FAKE_PORT" "$PF"
check "no credentials were sent to the server without STARTTLS" bash -c "! grep -q CREDENTIALS '$FAKE_LOG'"
attempt "imap://alice@127.0.0.1:$FAKE_PORT" "tls=none,$PF"
expect_eq "with tls=none it logs in in clear text (and the refusal is exit status 3)" "$ATTEMPT" 3
check "with tls=none the credentials went out" grep -q CREDENTIALS "$FAKE_LOG"
kill "$FAKE_PID" 2>/dev/null
wait "$FAKE_PID" 2>/dev/null

it_finish
