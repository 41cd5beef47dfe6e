#!/usr/bin/env python3
"""An independent IMAP client for the IMAP tests (Python's imaplib), and the
server command-log counter used with tests/support/dovecot.sh.

It judges a mailfs mount against what the server itself says, so it shares
no code with the daemon: its own modified UTF-7 codec, its own LIST parsing,
names from tests/support/mailname.py.

Commands (connection options: --port P --user U --password W
[--tls none|starttls|implicit] [--cafile CA]; --tls defaults to none on the
plain port, which the test server allows on loopback):

  snapshot [--prefix F]            JSON of every folder: name (UTF-8),
                                   delimiter, attributes, messages (uid,
                                   flags, internal date, size, sha256,
                                   Message-ID); bodies fetched with BODY.PEEK
  check-mount MOUNT [--inbox-name N] [--prefix F]
                                   the mount shows exactly the server's
                                   folders, names (design.md section 3),
                                   bytes, sizes, mtimes and flags
  same-folders A B [--exclude F]   the messages of server folder tree A equal
                                   those below B (bytes, flags, internal
                                   date), folder by folder; A "" is the
                                   whole account
  find-sha SHA256 [--prefix F]     prints "folder<TAB>flags<TAB>date" of
                                   every message with these bytes
  msgid-count [--prefix F]         prints "count message-id" for ids seen
                                   more than once, then "total N"
  flags-equal SNAP1 SNAP2          the flags of every message are unchanged
  rawlog-mark DIR MARKFILE         remember the size of every *.in log
  rawlog-count DIR MARK VERB...    count commands since MARK ("-": all)
  rawlog-fetches DIR MARK          the FETCH commands since MARK by shape
                                   (the first number or set becomes N)
  fetch-all                        fetches every body of every folder with
                                   pipelined UID FETCH BODY.PEEK[] over one
                                   connection (raw socket, the benchmark's
                                   baseline) and prints messages, bytes, seconds
"""

import argparse
import base64
import errno
import hashlib
import imaplib
import json
import os
import re
import socket
import ssl
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mailname  # noqa: E402

SYSTEM_FLAGS = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"]

# ---------------------------------------------------------------------------
# Modified UTF-7 (RFC 3501 section 5.1.3)


def mutf7_decode(name):
    out = []
    i = 0
    while i < len(name):
        c = name[i]
        if c != "&":
            out.append(c)
            i += 1
            continue
        j = name.index("-", i)
        chunk = name[i + 1:j]
        if chunk == "":
            out.append("&")
        else:
            b64 = chunk.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            out.append(base64.b64decode(b64).decode("utf-16-be"))
        i = j + 1
    return "".join(out)


def mutf7_encode(text):
    out = []
    buf = []

    def flush():
        if buf:
            raw = "".join(buf).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            buf.clear()
    for c in text:
        if 0x20 <= ord(c) <= 0x7E:
            flush()
            out.append("&-" if c == "&" else c)
        else:
            buf.append(c)
    flush()
    return "".join(out)

# ---------------------------------------------------------------------------
# Connection


def connect(a):
    if a.tls == "implicit":
        ctx = ssl.create_default_context(cafile=a.cafile)
        m = imaplib.IMAP4_SSL(a.host, a.port, ssl_context=ctx)
    else:
        m = imaplib.IMAP4(a.host, a.port)
        if a.tls == "starttls":
            m.starttls(ssl.create_default_context(cafile=a.cafile))
    m.login(a.user, a.password)
    return m


def quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


_LIST_RE = re.compile(rb'^\((?P<attrs>[^)]*)\) (?P<delim>NIL|"(?:\\.|[^"])*") (?P<name>.*)$')


def list_folders(m):
    typ, data = m.list('""', "*")
    if typ != "OK":
        raise SystemExit("LIST failed: %r" % data)
    folders = []
    i = 0
    while i < len(data):
        item = data[i]
        if isinstance(item, tuple):
            # the name came as a literal
            head, lit = item
            mm = _LIST_RE.match(head.rstrip())
            name = lit
            i += 1
            if i < len(data) and data[i] in (b")", b""):
                i += 1
        else:
            mm = _LIST_RE.match(item)
            name = mm.group("name")
            i += 1
        if mm is None:
            raise SystemExit("cannot parse LIST line %r" % (item,))
        if name.startswith(b'"'):
            name = re.sub(rb'\\(.)', rb'\1', name[1:-1])
        delim = mm.group("delim")
        delim = None if delim == b"NIL" else re.sub(rb'\\(.)', rb'\1', delim[1:-1]).decode()
        attrs = mm.group("attrs").decode().split()
        folders.append({"raw": name.decode("ascii"), "delim": delim, "attrs": attrs})
    return folders


def norm_flags(items):
    sysf = [f for f in SYSTEM_FLAGS if any(x.lower() == f.lower() for x in items)]
    kw = sorted(f for f in items if f.lower() not in (s.lower() for s in SYSTEM_FLAGS)
                and f.lower() != "\\recent")
    return " ".join(sysf + kw)


_FETCH_META = re.compile(rb"UID (\d+)|FLAGS \(([^)]*)\)|INTERNALDATE \"([^\"]+)\"|RFC822\.SIZE (\d+)")


def fetch_folder(m, raw, bodies=True):
    """Returns the messages of one folder (EXAMINE: never changes flags)."""
    typ, data = m.select(quote(raw), readonly=True)
    if typ != "OK":
        return None
    n = int(data[0])
    msgs = []
    if n == 0:
        return msgs
    what = "(UID FLAGS INTERNALDATE RFC822.SIZE%s)" % (" BODY.PEEK[]" if bodies else "")
    typ, data = m.uid("FETCH", "1:*", what)
    if typ != "OK":
        raise SystemExit("UID FETCH failed in %s: %r" % (raw, data))
    for item in data:
        if isinstance(item, tuple):
            meta, body = item[0], item[1]
        elif not bodies and isinstance(item, bytes) and item[:1].isdigit():
            meta, body = item, None
        else:
            continue
        info = {}
        for mm in _FETCH_META.finditer(meta):
            if mm.group(1):
                info["uid"] = int(mm.group(1))
            elif mm.group(2) is not None:
                info["flags"] = norm_flags(mm.group(2).decode().split())
            elif mm.group(3):
                info["date"] = int(time.mktime(imaplib.Internaldate2tuple(
                    b'INTERNALDATE "' + mm.group(3) + b'"')))
            elif mm.group(4):
                info["size"] = int(mm.group(4))
        if "flags" not in info or "date" not in info or "uid" not in info:
            raise SystemExit("unexpected FETCH response in %s: %r" % (raw, meta[:200]))
        if bodies:
            info["sha"] = hashlib.sha256(body).hexdigest()
            info["len"] = len(body)
            fields = mailname.header_fields(mailname.header_block(body))
            mid = mailname.first_field(fields, "message-id")
            info["msgid"] = mailname.message_id_token(mid) if mid is not None else ""
            info["base"] = mailname.message_base_name(body, info["date"])
            info["_body"] = body
        msgs.append(info)
    return msgs


def folder_path(raw, delim, inbox_name="INBOX"):
    """The path below the mount root at which a folder is expected."""
    parts = raw.split(delim) if delim else [raw]
    if raw.upper() == "INBOX":
        parts = [inbox_name]
    return "/".join(mailname.escape_folder(mutf7_decode(p)) for p in parts)


def snapshot(a, bodies=True, keep_bodies=False):
    m = connect(a)
    out = []
    for f in list_folders(m):
        utf8 = mutf7_decode(f["raw"])
        prefix = getattr(a, "prefix", "")
        if prefix and not (utf8 == prefix or utf8.startswith(prefix + (f["delim"] or ""))):
            continue
        entry = dict(f)
        entry["name"] = utf8
        if "\\Noselect" in f["attrs"] or "\\NonExistent" in f["attrs"]:
            entry["messages"] = None
        else:
            msgs = fetch_folder(m, f["raw"], bodies)
            if not keep_bodies:
                for x in msgs or []:
                    x.pop("_body", None)
            entry["messages"] = msgs
        out.append(entry)
    m.logout()
    return out

# ---------------------------------------------------------------------------
# check-mount


def read_flags(path):
    try:
        return os.getxattr(path, "user.mail.flags").decode()
    except OSError as e:
        if e.errno == errno.ENODATA:
            return ""
        raise


def check_mount(a):
    snap = snapshot(a, keep_bodies=False)
    problems = []
    expected_dirs = set()
    files_checked = 0
    for f in snap:
        path = folder_path(f["raw"], f["delim"], a.inbox_name)
        # every ancestor is a folder too
        parts = path.split("/")
        for k in range(1, len(parts) + 1):
            expected_dirs.add("/".join(parts[:k]))
        d = os.path.join(a.mount, path)
        if not os.path.isdir(d):
            problems.append("folder %r (server %r) missing at %s" % (f["name"], f["raw"], path))
            continue
        entries = os.listdir(d)
        files = sorted(e for e in entries if os.path.isfile(os.path.join(d, e)))
        if f["messages"] is None:
            if files:
                problems.append("%s: \\Noselect folder shows %d files" % (path, len(files)))
            continue
        msgs = f["messages"]
        names = mailname.expected_names([(x["uid"], x["sha"], x["base"]) for x in msgs])
        want = {names[x["uid"]]: x for x in msgs}
        got = set(files)
        for missing in sorted(set(want) - got):
            problems.append("%s: missing %r (uid %d)" % (path, missing, want[missing]["uid"]))
        for extra in sorted(got - set(want)):
            problems.append("%s: unexpected file %r" % (path, extra))
        if len(files) != len(msgs):
            problems.append("%s: %d files, server has %d messages" % (path, len(files), len(msgs)))
        # Byte-identical duplicates are interchangeable in their -N suffixes
        # (design.md section 3): their dates and flags are compared as a group.
        dup = {}
        for x in msgs:
            dup.setdefault((x["base"], x["sha"]), []).append(x)
        group_seen = {}
        for fn in sorted(got & set(want)):
            x = want[fn]
            grouped = len(dup[(x["base"], x["sha"])]) > 1
            p = os.path.join(d, fn)
            st = os.stat(p)
            files_checked += 1
            if st.st_size != x["size"]:
                problems.append("%s/%s: st_size %d, RFC822.SIZE %d" % (path, fn, st.st_size, x["size"]))
            try:
                with open(p, "rb") as fh:
                    data = fh.read()
            except OSError as e:
                problems.append("%s/%s: read failed: %s" % (path, fn, e))
                continue
            if hashlib.sha256(data).hexdigest() != x["sha"]:
                problems.append("%s/%s: bytes differ from the server's (uid %d: %d bytes read, %d served)"
                                % (path, fn, x["uid"], len(data), x["len"]))
            fl = read_flags(p)
            if grouped:
                group_seen.setdefault((x["base"], x["sha"]), []).append((int(st.st_mtime), fl))
                continue
            if int(st.st_mtime) != x["date"]:
                problems.append("%s/%s: mtime %d, INTERNALDATE %d" % (path, fn, int(st.st_mtime), x["date"]))
            if fl != x["flags"]:
                problems.append("%s/%s: user.mail.flags %r, server %r" % (path, fn, fl, x["flags"]))
        for key, seen in group_seen.items():
            server = sorted((y["date"], y["flags"]) for y in dup[key])
            if sorted(seen) != server:
                problems.append("%s: byte-identical duplicates %r: (mtime, flags) %r, server %r"
                                % (path, key[0], sorted(seen), server))
    # folders on the mount the server does not have
    for dirpath, dirnames, _ in os.walk(a.mount):
        for dn in dirnames:
            rel = os.path.relpath(os.path.join(dirpath, dn), a.mount)
            if a.prefix and not rel.startswith(a.prefix):
                continue
            if rel not in expected_dirs:
                problems.append("unexpected folder %r on the mount" % rel)
    for p in problems[:60]:
        print("MISMATCH: " + p)
    if len(problems) > 60:
        print("... and %d more" % (len(problems) - 60))
    print("check-mount: %d folders, %d files compared, %d problems"
          % (len(snap), files_checked, len(problems)))
    return 1 if problems or files_checked == 0 else 0

# ---------------------------------------------------------------------------
# same-folders


def same_folders(a):
    snap = {f["name"]: f for f in snapshot(a, keep_bodies=False)}
    src = a.a
    dst = a.b
    problems = []
    compared = 0
    def under(name, top):
        return name == top or name.startswith(top + "/") or name.startswith(top + ".")
    for name, f in sorted(snap.items()):
        if any(under(name, x) for x in a.exclude):
            continue
        if not (name == src or name.startswith(src + (f["delim"] or "/"))) and src != "":
            continue
        if src == "" and (name == dst or name.startswith(dst + (f["delim"] or "/"))):
            continue
        rel = name[len(src):].lstrip(f["delim"] or "/") if src else name
        target = dst + ((f["delim"] or "/") + rel if rel else "")
        if f["messages"] is None:
            continue
        g = snap.get(target)
        if g is None or g["messages"] is None:
            if f["messages"]:
                problems.append("folder %r has no copy %r" % (name, target))
            continue

        def key(x):
            return (x["sha"], x["flags"], x["date"])
        have = sorted(key(x) for x in f["messages"])
        copy = sorted(key(x) for x in g["messages"])
        compared += len(have)
        if have != copy:
            hs, cs = set(have), set(copy)
            problems.append("%r -> %r: %d messages vs %d; %d differ"
                            % (name, target, len(have), len(copy), len(hs ^ cs)))
            for k in sorted(hs - cs)[:3]:
                near = [c for c in copy if c[0] == k[0]]
                problems.append("   original sha %s flags %r date %d; copy: %s"
                                % (k[0][:12], k[1], k[2], near or "absent"))
    for p in problems:
        print("MISMATCH: " + p)
    print("same-folders: %d messages compared, %d problems" % (compared, len(problems)))
    return 1 if problems or compared == 0 else 0

# ---------------------------------------------------------------------------
# rawlog


def rawlog_sizes(d):
    out = {}
    for fn in os.listdir(d):
        if fn.endswith(".in") or fn.endswith(".out"):
            out[fn] = os.path.getsize(os.path.join(d, fn))
    return out


_LIT = re.compile(rb"\{(\d+)\+?\}\r?\n$")


_STAMP = re.compile(rb"(?m)^\d{9,}\.\d{6} ")


def rawlog_commands(data):
    """Yields the verb of every command in a client log, skipping literals.
    Dovecot starts every logged line with a time stamp: removed first."""
    data = _STAMP.sub(b"", data)
    i = 0
    verb_pending = None
    while i < len(data):
        j = data.find(b"\n", i)
        if j < 0:
            j = len(data) - 1
        line = data[i:j + 1]
        i = j + 1
        if verb_pending is None:
            parts = line.split(None, 3)
            if len(parts) >= 2:
                v = parts[1].upper()
                if v == b"UID" and len(parts) >= 3:
                    v = parts[2].upper()
                verb_pending = (v.decode("ascii", "replace"), line)
        mm = _LIT.search(line)
        if mm:
            i += int(mm.group(1))     # literal bytes; the command continues after it
            continue
        if verb_pending is not None:
            yield verb_pending
            verb_pending = None


_FETCH_DATA = re.compile(rb"BODY(?:\.PEEK)?\[|BINARY(?:\.PEEK)?\[|RFC822|INTERNALDATE|ENVELOPE",
                         re.IGNORECASE)
_NONPEEK = re.compile(rb"BODY\[|BINARY\[|RFC822(?:\.TEXT)?(?![.\w])", re.IGNORECASE)


def rawlog_fetched(data):
    """Counts the server's untagged FETCH responses that carry message data
    (anything beyond UID, FLAGS and MODSEQ), skipping literals."""
    data = _STAMP.sub(b"", data)
    n = 0
    i = 0
    while i < len(data):
        j = data.find(b"\n", i)
        if j < 0:
            j = len(data) - 1
        line = data[i:j + 1]
        i = j + 1
        if line.startswith(b"* ") and b" FETCH (" in line[:40] and _FETCH_DATA.search(line):
            n += 1
        mm = _LIT.search(line)
        if mm:
            i += int(mm.group(1))
    return n


def rawlog_count(d, mark, verbs):
    """Counts, since MARK, the commands of the given verbs. Pseudo-verbs:
    FETCHED: untagged FETCH responses carrying message data (headers, bodies,
    sizes, dates); NONPEEK: FETCH commands that would set \\Seen (BODY[...],
    RFC822, RFC822.TEXT, BINARY[...] without .PEEK)."""
    base = {}
    if mark != "-":
        with open(mark) as fh:
            base = json.load(fh)
    counts = {v.upper(): 0 for v in verbs}
    for fn, size in rawlog_sizes(d).items():
        with open(os.path.join(d, fn), "rb") as fh:
            fh.seek(base.get(fn, 0))
            data = fh.read()
        if fn.endswith(".out"):
            if "FETCHED" in counts:
                counts["FETCHED"] += rawlog_fetched(data)
            continue
        for v, line in rawlog_commands(data):
            if v in counts:
                counts[v] += 1
            if v == "FETCH" and "NONPEEK" in counts and _NONPEEK.search(line):
                counts["NONPEEK"] += 1
    return counts

# ---------------------------------------------------------------------------
# fetch-all: the raw baseline of the benchmark


def fetch_all(a):
    s = socket.create_connection((a.host, a.port))
    if a.tls == "implicit":
        s = ssl.create_default_context(cafile=a.cafile).wrap_socket(s, server_hostname=a.host)
    f = s.makefile("rb", buffering=1 << 20)
    tagn = [0]

    def send(cmd):
        tagn[0] += 1
        tag = b"f%d" % tagn[0]
        s.sendall(tag + b" " + cmd + b"\r\n")
        return tag

    def read_until(tag, sink=None):
        while True:
            line = f.readline()
            if not line:
                raise SystemExit("connection closed")
            mm = _LIT.search(line)
            if mm:
                n = int(mm.group(1))
                data = f.read(n)
                if sink is not None:
                    sink(data)
                continue
            if line.startswith(tag + b" "):
                if not line.split()[1] == b"OK":
                    raise SystemExit("command failed: %r" % line)
                return

    f.readline()
    if a.tls == "starttls":
        t = send(b"STARTTLS")
        read_until(t)
        s = ssl.create_default_context(cafile=a.cafile).wrap_socket(s, server_hostname=a.host)
        f = s.makefile("rb", buffering=1 << 20)
    read_until(send(b"LOGIN %s %s" % (a.user.encode(), a.password.encode())))
    m = connect(a)
    folders = [x for x in list_folders(m) if "\\Noselect" not in x["attrs"]]
    m.logout()
    total = [0, 0]

    def sink(data):
        total[0] += 1
        total[1] += len(data)
    t0 = time.time()
    for x in folders:
        read_until(send(b"EXAMINE " + quote(x["raw"]).encode()))
        read_until(send(b"UID FETCH 1:* (BODY.PEEK[])"), sink)
    dt = time.time() - t0
    print("fetch-all: %d messages, %d bytes, %.3f s" % (total[0], total[1], dt))
    return 0

# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--tls", default="none", choices=["none", "starttls", "implicit"])
    ap.add_argument("--cafile")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("snapshot")
    p.add_argument("--prefix", default="")
    p.add_argument("--no-bodies", action="store_true")
    p = sub.add_parser("check-mount")
    p.add_argument("mount")
    p.add_argument("--inbox-name", default="INBOX")
    p.add_argument("--prefix", default="")
    p = sub.add_parser("same-folders")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--exclude", action="append", default=[],
                   help="leave out this folder and those below it (on the A side)")
    p = sub.add_parser("find-sha")
    p.add_argument("sha")
    p.add_argument("--prefix", default="")
    p = sub.add_parser("msgid-count")
    p.add_argument("--prefix", default="")
    p = sub.add_parser("flags-equal")
    p.add_argument("snap1")
    p.add_argument("snap2")
    p = sub.add_parser("rawlog-mark")
    p.add_argument("dir")
    p.add_argument("markfile")
    p = sub.add_parser("rawlog-count")
    p.add_argument("dir")
    p.add_argument("mark")
    p.add_argument("verbs", nargs="+")
    p = sub.add_parser("rawlog-fetches")
    p.add_argument("dir")
    p.add_argument("mark")
    p = sub.add_parser("fetch-all")
    a = ap.parse_args()
    if a.cmd == "snapshot":
        json.dump(snapshot(a, bodies=not a.no_bodies), sys.stdout, indent=1, sort_keys=True)
        print()
        return 0
    if a.cmd == "check-mount":
        return check_mount(a)
    if a.cmd == "same-folders":
        return same_folders(a)
    if a.cmd == "find-sha":
        for f in snapshot(a):
            for x in f["messages"] or []:
                if x["sha"] == a.sha:
                    print("%s\t%s\t%d" % (f["name"], x["flags"], x["date"]))
        return 0
    if a.cmd == "msgid-count":
        counts = {}
        for f in snapshot(a):
            for x in f["messages"] or []:
                counts[x["msgid"]] = counts.get(x["msgid"], 0) + 1
        for k, v in sorted(counts.items()):
            if v > 1:
                print("%d %s" % (v, k))
        print("total %d" % sum(counts.values()))
        return 0
    if a.cmd == "flags-equal":
        def load(p):
            with open(p) as fh:
                return {(f["name"], x["uid"]): x["flags"] for f in json.load(fh)
                        for x in f["messages"] or []}
        s1, s2 = load(a.snap1), load(a.snap2)
        bad = [(k, s1[k], s2.get(k)) for k in sorted(s1) if s1[k] != s2.get(k)]
        for k, f1, f2 in bad[:20]:
            print("CHANGED: %s uid %d: %r -> %r" % (k[0], k[1], f1, f2))
        print("flags-equal: %d messages, %d changed" % (len(s1), len(bad)))
        return 1 if bad or not s1 else 0
    if a.cmd == "rawlog-mark":
        with open(a.markfile, "w") as fh:
            json.dump(rawlog_sizes(a.dir), fh)
        return 0
    if a.cmd == "rawlog-fetches":
        base = {}
        if a.mark != "-":
            with open(a.mark) as fh:
                base = json.load(fh)
        shapes = {}
        for fn in rawlog_sizes(a.dir):
            if not fn.endswith(".in"):
                continue
            with open(os.path.join(a.dir, fn), "rb") as fh:
                fh.seek(base.get(fn, 0))
                data = fh.read()
            for v, line in rawlog_commands(_STAMP.sub(b"", data)):
                if v != "FETCH":
                    continue
                text = line.decode("latin-1").strip().split(None, 1)[1]
                text = re.sub(r"[0-9][0-9:,*]*", "N", text, count=1)
                shapes[text] = shapes.get(text, 0) + 1
        for k, v in sorted(shapes.items(), key=lambda kv: -kv[1])[:10]:
            print("%7d  %s" % (v, k[:150]))
        return 0
    if a.cmd == "rawlog-count":
        c = rawlog_count(a.dir, a.mark, a.verbs)
        print(" ".join("%s=%d" % (k, v) for k, v in c.items()))
        return 0
    if a.cmd == "fetch-all":
        return fetch_all(a)
    return 2


if __name__ == "__main__":
    sys.exit(main())
