# A private Dovecot IMAP server on loopback for the tests and benchmarks.
# Sourced by bash scripts (or run as a command, see the end of this file).
#
#   source tests/support/dovecot.sh
#   dovecot_setup "$TMP/dovecot" || skip "..."   # config, certificates, users; picks free ports
#   dovecot_start                                 # waits for the greeting
#   ... $IMAP_PORT (IMAP + STARTTLS), $IMAPS_PORT (implicit TLS), $IMAP_CA ...
#   dovecot_kill; dovecot_start                   # a crash and a restart
#   dovecot_stop                                  # also done by dovecot_cleanup
#
# Users (passwd-file, plain passwords):
#   alice / alicepw   hierarchy delimiter '/'  (maildir, LAYOUT=fs)
#   bob   / bobpw     hierarchy delimiter '.'  (maildir, Maildir++ layout)
#   carol, dave, erin / <name>pw   delimiter '/', empty accounts (write
#                     targets, the benchmark's listing account)
# Dovecot never runs mail processes as root: as root the users map to
# nobody:nogroup (the mail tree is chowned to them), otherwise to the caller.
#
# TLS: a throw-away CA ($IMAP_CA) signs two server certificates. Connections
# to 127.0.0.1 get the one for "localhost" (and IP 127.0.0.1), so
# imaps://alice@localhost:$IMAPS_PORT verifies with -o cafile=$IMAP_CA.
# Connections to $IMAP_WRONG_ADDR (127.0.0.2, also loopback on Linux) get a
# certificate from the same CA for "$IMAP_WRONG_NAME" only: a client that
# checks host names must refuse it. $IMAP_OTHER_CA is a CA that signed
# nothing the server uses (a cafile that must not help).
#
# Server logs ($DOVECOT_DIR/log):
#   dovecot.log   everything, including mail_log events (save, expunge, copy,
#                 flag_change, mailbox_*) with uid, box, msgid, size
#   rawlog/       one <time>-<pid>.in (client commands, APPEND literals
#                 included) and .out file per IMAP session; dovecot_cmd_count
#                 counts commands in them
# Helper functions for tests: dovecot_maildir USER, dovecot_chown,
# dovecot_rawlog_mark FILE, dovecot_cmd_count MARK VERB [VERB...],
# dovecot_tmp_busy USER FOLDER-DIR, dovecot_cleanup.

DOVECOT_SUPPORT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DOVECOT_DIR=""
IMAP_HOST=localhost
IMAP_WRONG_ADDR=127.0.0.2
IMAP_WRONG_NAME=wrong-name.invalid

# _dovecot_free_port: prints a TCP port free on 127.0.0.1 and 127.0.0.2.
_dovecot_free_port() {
  python3 - <<'EOF'
import socket, sys
for _ in range(50):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    try:
        t = socket.socket()
        t.bind(("127.0.0.2", port))
        t.close()
    except OSError:
        s.close()
        continue
    s.close()
    print(port)
    sys.exit(0)
sys.exit(1)
EOF
}

# dovecot_available: true when the binaries the harness needs exist.
dovecot_available() {
  command -v dovecot >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 &&
    command -v python3 >/dev/null 2>&1
}

_dovecot_certs() {
  local e=$DOVECOT_DIR/etc l=$DOVECOT_DIR/log/openssl.log
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -keyout "$e/ca-key.pem" -out "$e/ca.pem" -days 3 \
    -subj "/CN=mailfs test CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" >>"$l" 2>&1 || return 1
  openssl req -x509 "${ec[@]}" -keyout "$e/other-ca-key.pem" -out "$e/other-ca.pem" -days 3 \
    -subj "/CN=mailfs unrelated CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" >>"$l" 2>&1 || return 1
  local name san subj
  for name in good wrong; do
    if [ $name = good ]; then
      san="subjectAltName=DNS:localhost,IP:127.0.0.1"
      subj="/CN=localhost"
    else
      san="subjectAltName=DNS:$IMAP_WRONG_NAME"
      subj="/CN=$IMAP_WRONG_NAME"
    fi
    openssl req -new "${ec[@]}" -keyout "$e/$name-key.pem" -out "$e/$name.csr" \
      -subj "$subj" >>"$l" 2>&1 || return 1
    printf '%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
      "$san" >"$e/$name.ext"
    openssl x509 -req -in "$e/$name.csr" -CA "$e/ca.pem" -CAkey "$e/ca-key.pem" \
      -CAcreateserial -days 2 -extfile "$e/$name.ext" -out "$e/$name.pem" >>"$l" 2>&1 || return 1
  done
  chmod 600 "$e"/*-key.pem
}

# dovecot_setup DIR: writes config, certificates, users and empty maildirs
# under DIR and picks free ports. Exports DOVECOT_DIR, IMAP_PORT,
# IMAPS_PORT, IMAP_CA, IMAP_OTHER_CA, IMAP_HOST, IMAP_WRONG_ADDR,
# IMAP_WRONG_NAME. Returns non-zero (with a message) when something is missing.
dovecot_setup() {
  local d=$1 muid mgid login_user internal_user
  dovecot_available || { echo "dovecot.sh: dovecot, openssl or python3 is not installed" >&2; return 1; }
  mkdir -p "$d" && d=$(cd "$d" && pwd) || return 1
  DOVECOT_DIR=$d
  mkdir -p "$d"/{etc,run,state,log,mail,log/rawlog}
  IMAP_PORT=$(_dovecot_free_port) && IMAPS_PORT=$(_dovecot_free_port) || {
    echo "dovecot.sh: no free port" >&2; return 1; }
  if [ "$(id -u)" -eq 0 ]; then
    muid=$(id -u nobody); mgid=$(getent group nogroup | cut -d: -f3)
    login_user=dovenull; internal_user=dovecot
    getent passwd dovenull >/dev/null || login_user=nobody
    getent passwd dovecot >/dev/null || internal_user=nobody
  else
    muid=$(id -u); mgid=$(id -g)
    login_user=$(id -un); internal_user=$(id -un)
  fi
  DOVECOT_MAIL_UID=$muid
  DOVECOT_MAIL_GID=$mgid
  _dovecot_certs || { echo "dovecot.sh: certificate generation failed:" >&2;
                      cat "$d/log/openssl.log" >&2; return 1; }
  IMAP_CA=$d/etc/ca.pem
  IMAP_OTHER_CA=$d/etc/other-ca.pem
  cat >"$d/etc/passwd" <<EOF
alice:{PLAIN}alicepw:$muid:$mgid::$d/mail/alice::userdb_mail=maildir:~/Maildir:LAYOUT=fs
bob:{PLAIN}bobpw:$muid:$mgid::$d/mail/bob::userdb_namespace/inbox/separator=.
carol:{PLAIN}carolpw:$muid:$mgid::$d/mail/carol::userdb_mail=maildir:~/Maildir:LAYOUT=fs
dave:{PLAIN}davepw:$muid:$mgid::$d/mail/dave::userdb_mail=maildir:~/Maildir:LAYOUT=fs
erin:{PLAIN}erinpw:$muid:$mgid::$d/mail/erin::userdb_mail=maildir:~/Maildir:LAYOUT=fs
EOF
  local u
  for u in alice bob carol dave erin; do mkdir -p "$d/mail/$u/Maildir"/{cur,new,tmp}; done
  chown -R "$muid:$mgid" "$d/mail" "$d/log/rawlog"
  # The mail uid must reach its home (mktemp -d makes 0700 folders).
  chmod 755 "$d" "$d/mail" "$d/log"
  local p=$d
  while p=$(dirname "$p") && [ "$p" != / ]; do
    [ -x "$p" ] || chmod o+x "$p" 2>/dev/null
    [ "$(stat -c %a "$p")" != 700 ] || chmod o+x "$p" 2>/dev/null
  done
  cat >"$d/etc/dovecot.conf" <<EOF
# written by tests/support/dovecot.sh
base_dir = $d/run
state_dir = $d/state
instance_name = mailfs-test-$IMAP_PORT
listen = 127.0.0.1, $IMAP_WRONG_ADDR
protocols = imap
log_path = $d/log/dovecot.log
info_log_path = $d/log/dovecot.log
debug_log_path = $d/log/dovecot.log
default_login_user = $login_user
default_internal_user = $internal_user
first_valid_uid = 1
last_valid_uid = 0
first_valid_gid = 1
ssl = yes
ssl_cert = <$d/etc/good.pem
ssl_key = <$d/etc/good-key.pem
ssl_min_protocol = TLSv1.2
local $IMAP_WRONG_ADDR {
  ssl_cert = <$d/etc/wrong.pem
  ssl_key = <$d/etc/wrong-key.pem
}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
mail_plugins = \$mail_plugins notify mail_log
plugin {
  mail_log_events = save copy expunge flag_change mailbox_create mailbox_delete mailbox_rename
  mail_log_fields = uid box msgid size flags
}
protocol imap {
  mail_max_userip_connections = 200
  rawlog_dir = $d/log/rawlog
}
imap_idle_notify_interval = 2 secs
namespace inbox {
  inbox = yes
  prefix =
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/etc/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u $d/etc/passwd
}
service imap-login {
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = $IMAPS_PORT
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF
  export DOVECOT_DIR IMAP_PORT IMAPS_PORT IMAP_CA IMAP_OTHER_CA IMAP_HOST IMAP_WRONG_ADDR IMAP_WRONG_NAME
  return 0
}

dovecot_conf() { echo "$DOVECOT_DIR/etc/dovecot.conf"; }

# dovecot_maildir USER: the user's Maildir (INBOX; folders below it).
dovecot_maildir() { echo "$DOVECOT_DIR/mail/$1/Maildir"; }

# dovecot_chown: gives the mail tree back to the mail user (after files were
# written there directly).
dovecot_chown() { chown -R "$DOVECOT_MAIL_UID:$DOVECOT_MAIL_GID" "$DOVECOT_DIR/mail"; }

dovecot_pid() { cat "$DOVECOT_DIR/run/master.pid" 2>/dev/null; }

_dovecot_alive() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ -n "$st" ] && [[ $st != Z* ]]
}

# dovecot_start: starts the server and waits (10 s at most) for the greeting
# on both ports.
dovecot_start() {
  local i
  # A crashed master leaves its pid file behind; its pid may still show as a
  # zombie, which dovecot would take for a running instance.
  if [ -f "$DOVECOT_DIR/run/master.pid" ] && ! _dovecot_alive "$(dovecot_pid)"; then
    rm -f "$DOVECOT_DIR/run/master.pid"
  fi
  dovecot -c "$DOVECOT_DIR/etc/dovecot.conf" 2>>"$DOVECOT_DIR/log/start.log" || {
    echo "dovecot.sh: dovecot did not start:" >&2
    tail -n 20 "$DOVECOT_DIR/log/start.log" "$DOVECOT_DIR/log/dovecot.log" >&2
    return 1
  }
  for i in $(seq 1 200); do
    if python3 - "$IMAP_PORT" "$IMAPS_PORT" <<'EOF' 2>/dev/null
import socket, sys
for port in sys.argv[1:]:
    s = socket.create_connection(("127.0.0.1", int(port)), 1)
    if port == sys.argv[1] and s.recv(4) != b"* OK":
        sys.exit(1)
    s.close()
EOF
    then
      return 0
    fi
    sleep 0.05
  done
  echo "dovecot.sh: dovecot did not answer on port $IMAP_PORT; log:" >&2
  tail -n 30 "$DOVECOT_DIR/log/dovecot.log" >&2
  return 1
}

# _dovecot_procs: the master pid and every process below it.
_dovecot_procs() {
  local master=$1
  python3 - "$master" <<'EOF'
import os, sys
root = int(sys.argv[1])
kids = {}
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        with open("/proc/%s/stat" % p) as f:
            s = f.read()
    except OSError:
        continue
    ppid = int(s[s.rindex(")") + 2:].split()[1])
    kids.setdefault(ppid, []).append(int(p))
out, todo = [], [root]
while todo:
    p = todo.pop()
    out.append(p)
    todo.extend(kids.get(p, []))
print(" ".join(map(str, out)))
EOF
}

# dovecot_stop: a clean shutdown (SIGTERM to the master); waits until it and
# its children are gone.
dovecot_stop() {
  local pid i procs
  pid=$(dovecot_pid) || return 0
  [ -n "$pid" ] || return 0
  procs=$(_dovecot_procs "$pid")
  kill "$pid" 2>/dev/null
  for i in $(seq 1 100); do
    _dovecot_alive "$pid" || break
    sleep 0.05
  done
  _dovecot_alive "$pid" && kill -9 $procs 2>/dev/null
  # sessions still draining
  for i in $(seq 1 40); do
    local any=0 p
    for p in $procs; do _dovecot_alive "$p" && any=1; done
    [ $any = 0 ] && break
    sleep 0.05
  done
  rm -f "$DOVECOT_DIR/run/master.pid"
  return 0
}

# dovecot_kill: a crash: SIGKILL to the master and every process it started
# (login, imap sessions, auth), all at once, so open connections drop
# without a goodbye.
dovecot_kill() {
  local pid procs
  pid=$(dovecot_pid) || return 0
  [ -n "$pid" ] || return 0
  kill -STOP "$pid" 2>/dev/null   # no new children while we look
  procs=$(_dovecot_procs "$pid")
  kill -9 $procs 2>/dev/null
  rm -f "$DOVECOT_DIR/run/master.pid"
  return 0
}

dovecot_restart() { dovecot_stop; dovecot_start; }

# dovecot_rawlog_mark FILE: remembers how far every session's command log
# has been written, for dovecot_cmd_count.
dovecot_rawlog_mark() {
  python3 "$DOVECOT_SUPPORT_DIR/imap_probe.py" rawlog-mark "$DOVECOT_DIR/log/rawlog" "$1"
}

# dovecot_cmd_count MARK VERB...: prints how many commands of the given verbs
# (APPEND, EXPUNGE, FETCH, STORE, ... ; "UID FETCH" counts as FETCH) clients
# sent since MARK was taken ("-" for since the start).
dovecot_cmd_count() {
  local mark=$1
  shift
  python3 "$DOVECOT_SUPPORT_DIR/imap_probe.py" rawlog-count "$DOVECOT_DIR/log/rawlog" "$mark" "$@"
}

# dovecot_tmp_busy USER DIR: true while Dovecot is receiving a message into
# the maildir folder DIR (relative to the user's Maildir; "" for INBOX) —
# an APPEND in flight writes its file under tmp/.
dovecot_tmp_busy() {
  local t
  t="$(dovecot_maildir "$1")${2:+/$2}/tmp"
  [ -n "$(find "$t" -maxdepth 1 -type f -size +0 2>/dev/null | head -n 1)" ]
}

dovecot_cleanup() {
  [ -n "$DOVECOT_DIR" ] && [ -d "$DOVECOT_DIR" ] && dovecot_stop
  return 0
}

# As a command: bash tests/support/dovecot.sh start DIR   (prints the
# variables, leaves the server running) | stop DIR.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    start)
      dovecot_setup "${2:?usage: dovecot.sh start DIR}" && dovecot_start || exit 1
      for v in DOVECOT_DIR IMAP_PORT IMAPS_PORT IMAP_CA IMAP_OTHER_CA IMAP_HOST \
               IMAP_WRONG_ADDR IMAP_WRONG_NAME; do
        printf '%s=%q\n' "$v" "${!v}"
      done ;;
    stop)
      DOVECOT_DIR=$(cd "${2:?usage: dovecot.sh stop DIR}" && pwd) && dovecot_stop ;;
    *)
      echo "usage: bash dovecot.sh start DIR | stop DIR" >&2; exit 2 ;;
  esac
fi
