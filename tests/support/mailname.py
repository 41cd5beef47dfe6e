#!/usr/bin/env python3
"""Reference implementation of the mailfs naming rules (design.md section 3).

This module is written independently of the daemon's C++ code so that tests
can use it as a judge.  It parses header fields itself; Python's email
package is deliberately not used for the date or the subject, because its
lenient parsers accept forms the contract treats differently.

Command line:
  mailname.py check DIR        verify every .eml below DIR (names, collisions)
  mailname.py name FILE...     print the base name computed for each file
  mailname.py folder NAME...   print the escaped form of folder names

Importable helpers: message_base_name(), subject_part(), date_part(),
key_part(), expected_names(), escape_folder(), unescape_folder().
"""

import base64
import binascii
import datetime
import hashlib
import math
import os
import re
import stat
import sys

# ---------------------------------------------------------------------------
# Header block access

def header_block(data):
    """Return the header section of a message (bytes), without the blank
    line. Accepts CRLF or LF line ends."""
    m = re.search(rb"\r?\n\r?\n", data)
    if m:
        return data[:m.start()]
    if data.startswith(b"\r\n") or data.startswith(b"\n"):
        return b""
    return data


def header_fields(block):
    """Yield (lowercase name, unfolded raw value bytes) in order."""
    lines = re.split(rb"\r?\n", block)
    fields = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and fields:
            # Unfolding: the line break goes, the whitespace stays.
            fields[-1][1].append(line)
            continue
        colon = line.find(b":")
        if colon <= 0:
            continue
        name = line[:colon]
        if not re.fullmatch(rb"[!-9;-~]+", name):
            continue
        fields.append((name.lower().decode("ascii"), [line[colon + 1:]]))
    return [(n, b"".join(parts)) for n, parts in fields]


def first_field(fields, name):
    for n, v in fields:
        if n == name:
            return v
    return None

# ---------------------------------------------------------------------------
# Date

_MONTHS = {m: i + 1 for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split())}
_DAYS = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
_NAMED_ZONES = {
    "ut": 0, "gmt": 0, "z": 0,
    "est": -5 * 60, "edt": -4 * 60,
    "cst": -6 * 60, "cdt": -5 * 60,
    "mst": -7 * 60, "mdt": -6 * 60,
    "pst": -8 * 60, "pdt": -7 * 60,
}


def _strip_comments(text):
    out = []
    depth = 0
    escaped = False
    for ch in text:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(ch)
            continue
        if ch == "\\" and depth > 0:
            escaped = True
            continue
        if ch == "(":
            depth += 1
            out.append(" ")
            continue
        if ch == ")" and depth > 0:
            depth -= 1
            continue
        if depth == 0:
            out.append(ch)
    return "".join(out)


_DATE_RE = re.compile(
    r"^\s*(?:(?P<dow>[A-Za-z]+)\s*,\s*)?"
    r"(?P<day>\d{1,2})\s+(?P<mon>[A-Za-z]+)\s+(?P<year>\d{2,})\s+"
    r"(?P<hh>\d{1,2})\s*:\s*(?P<mm>\d{1,2})(?:\s*:\s*(?P<ss>\d{1,2}))?"
    r"\s+(?P<zone>[+-]\d{4}|[A-Za-z]+)\s*$")


def parse_rfc5322_date(raw):
    """Return seconds since the epoch (UTC) or None when unparsable."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    text = _strip_comments(text)
    m = _DATE_RE.match(text)
    if not m:
        return None
    if m.group("dow") and m.group("dow").lower() not in _DAYS:
        return None
    mon = _MONTHS.get(m.group("mon").lower())
    if mon is None:
        return None
    ytext = m.group("year")
    year = int(ytext)
    if len(ytext) == 2:
        year += 2000 if year < 50 else 1900
    elif len(ytext) == 3:
        year += 1900
    day = int(m.group("day"))
    hh = int(m.group("hh"))
    mm = int(m.group("mm"))
    ss = int(m.group("ss")) if m.group("ss") is not None else 0
    if hh > 23 or mm > 59 or ss > 60:
        return None
    if ss == 60:
        ss = 59
    zone = m.group("zone")
    if zone[0] in "+-":
        zh, zm = int(zone[1:3]), int(zone[3:5])
        if zm > 59:
            return None
        offset = zh * 60 + zm
        if zone[0] == "-":
            offset = -offset
    else:
        offset = _NAMED_ZONES.get(zone.lower(), 0)
    if year < 1 or year > 9999:
        return None
    try:
        local = datetime.datetime(year, mon, day, hh, mm, ss)
    except ValueError:
        return None
    epoch = datetime.datetime(1970, 1, 1)
    utc = local - datetime.timedelta(minutes=offset)
    if utc.year < 1601 or utc.year > 9999:
        return None
    delta = utc - epoch
    return delta.days * 86400 + delta.seconds


def format_utc(seconds):
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=int(seconds))
    return "%04d-%02d-%02d %02d%02d%02d" % (t.year, t.month, t.day,
                                            t.hour, t.minute, t.second)


def date_part(fields, internal_date):
    raw = first_field(fields, "date")
    if raw is not None:
        secs = parse_rfc5322_date(raw)
        if secs is not None:
            return format_utc(secs)
    return format_utc(math.floor(internal_date))

# ---------------------------------------------------------------------------
# Subject

_CHARSETS = {}


def _register(codec, *names):
    for n in names:
        _CHARSETS[n] = codec


_register("utf-8", "utf-8", "utf8")
_register("ascii", "us-ascii", "ascii", "us", "ansi_x3.4-1968", "iso646-us",
          "iso-ir-6", "cp367", "ibm367", "csascii")
for _i in range(1, 17):
    if _i == 12:
        continue
    _register("iso8859-%d" % _i, "iso-8859-%d" % _i, "iso8859-%d" % _i,
              "iso_8859-%d" % _i, "iso8859_%d" % _i)
for _latin, _n in ((1, 1), (2, 2), (3, 3), (4, 4), (5, 9), (6, 10),
                   (7, 13), (8, 14), (9, 15), (10, 16)):
    _register("iso8859-%d" % _n, "latin%d" % _latin, "latin-%d" % _latin,
              "l%d" % _latin)
_register("iso8859-5", "cyrillic")
_register("iso8859-7", "greek")
_register("iso8859-6", "arabic")
_register("iso8859-8", "hebrew")
for _i in range(1250, 1259):
    _register("cp%d" % _i, "windows-%d" % _i, "cp%d" % _i, "x-cp%d" % _i)
_register("koi8-r", "koi8-r", "cskoi8r")
_register("koi8-u", "koi8-u")
_register("gb2312", "gb2312", "csgb2312", "euc-cn")
_register("gbk", "gbk", "cp936", "x-gbk", "windows-936")
_register("gb18030", "gb18030")
_register("big5", "big5", "csbig5", "x-x-big5")
_register("shift_jis", "shift_jis", "shift-jis", "sjis", "x-sjis",
          "ms_kanji", "csshiftjis")
_register("euc-jp", "euc-jp", "eucjp", "x-euc-jp", "cseucpkdfmtjapanese")
_register("iso2022_jp", "iso-2022-jp", "csiso2022jp")
_register("euc-kr", "euc-kr", "euckr", "cseuckr")


def _codec_for(charset):
    cs = charset.split("*", 1)[0].strip().lower()  # RFC 2231 language
    return _CHARSETS.get(cs), cs


_EW_RE = re.compile(rb"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=")


def _decode_q(text):
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == 0x5F:  # "_"
            out.append(0x20)
            i += 1
        elif c == 0x3D and i + 3 <= len(text) and \
                re.fullmatch(rb"[0-9A-Fa-f]{2}", text[i + 1:i + 3]):
            out.append(int(text[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return bytes(out)


def _decode_b(text):
    stripped = text.rstrip(b"=")
    pad = (-len(stripped)) % 4
    if pad == 3:
        return None
    try:
        return base64.b64decode(stripped + b"=" * pad, validate=True)
    except (binascii.Error, ValueError):
        return None


def decode_subject(raw):
    """Decode RFC 2047 encoded words in an unfolded header value.  Returns
    str; raw 8-bit bytes are read as UTF-8 with U+FFFD for invalid data."""
    # Tokens: ("text", bytes) or ("ew", codec-or-None, charset, bytes, literal)
    tokens = []
    pos = 0
    for m in _EW_RE.finditer(raw):
        # An encoded word must stand alone: preceded by start or whitespace
        # and followed by end or whitespace (RFC 2047 section 5 (1)).
        before_ok = m.start() == 0 or raw[m.start() - 1:m.start()] in (b" ", b"\t")
        after_ok = m.end() == len(raw) or raw[m.end():m.end() + 1] in (b" ", b"\t")
        if not (before_ok and after_ok):
            continue
        if m.start() > pos:
            tokens.append(("text", raw[pos:m.start()]))
        codec, cs = _codec_for(m.group(1).decode("ascii", "replace"))
        data = None
        if codec is not None:
            if m.group(2) in (b"B", b"b"):
                data = _decode_b(m.group(3))
            else:
                data = _decode_q(m.group(3))
        if data is None:
            tokens.append(("text", m.group(0)))
        else:
            tokens.append(("ew", codec, data))
        pos = m.end()
    if pos < len(raw):
        tokens.append(("text", raw[pos:]))

    # Whitespace between two encoded words is dropped.
    cleaned = []
    for i, tok in enumerate(tokens):
        if (tok[0] == "text" and re.fullmatch(rb"[ \t]+", tok[1])
                and 0 < i < len(tokens) - 1
                and tokens[i - 1][0] == "ew" and tokens[i + 1][0] == "ew"):
            continue
        cleaned.append(tok)

    # Adjacent encoded words of one charset are joined before decoding.
    out = []
    i = 0
    while i < len(cleaned):
        tok = cleaned[i]
        if tok[0] == "text":
            out.append(tok[1].decode("utf-8", "replace"))
            i += 1
            continue
        codec = tok[1]
        data = bytearray(tok[2])
        j = i + 1
        while j < len(cleaned) and cleaned[j][0] == "ew" and cleaned[j][1] == codec:
            data += cleaned[j][2]
            j += 1
        out.append(bytes(data).decode(codec, "replace"))
        i = j
    return "".join(out)


_WHITE_SPACE = set("\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
                   "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
                   "\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_TO_DASH = set('/\\:*?"<>|[]') | {chr(c) for c in range(0x00, 0x20)} | \
    {"\x7f"} | {chr(c) for c in range(0x80, 0xA0)} | \
    {"\u200e", "\u200f"} | {chr(c) for c in range(0x202A, 0x202F)} | \
    {chr(c) for c in range(0x2066, 0x206A)}


def clean_subject(text):
    text = "".join("-" if ch in _TO_DASH else ch for ch in text)
    out = []
    in_ws = False
    for ch in text:
        if ch in _WHITE_SPACE:
            if not in_ws:
                out.append(" ")
            in_ws = True
        else:
            out.append(ch)
            in_ws = False
    text = "".join(out).strip(" ")
    text = text.lstrip(".")
    text = text.strip(" ")
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) > 80:
        cut = 80
        while cut > 0 and (encoded[cut] & 0xC0) == 0x80:
            cut -= 1
        text = encoded[:cut].decode("utf-8", "surrogatepass")
    if text.endswith(" "):
        text = text[:-1]
    return text if text else "(no subject)"


def subject_part(fields):
    raw = first_field(fields, "subject")
    if raw is None:
        return "(no subject)"
    return clean_subject(decode_subject(raw))

# ---------------------------------------------------------------------------
# Key

def message_id_token(raw):
    text = raw.decode("utf-8", "replace")
    m = re.search(r"<([^<>]*)>", text)
    if m:
        return m.group(1)
    parts = text.split()
    return parts[0] if parts else ""


def _skip_quoted(text, i):
    i += 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        i += 1
    return i


def first_from_address(raw):
    """addr-spec of the first mailbox of a From: value, ASCII-lowercased."""
    text = _strip_comments(raw.decode("utf-8", "replace"))
    start = 0
    i = 0
    n = len(text)
    while i <= n:
        ch = text[i] if i < n else ","
        if ch == '"':
            i = _skip_quoted(text, i)
            continue
        if ch == "<":
            end = text.find(">", i)
            inner = text[i + 1:end if end >= 0 else n]
            if ":" in inner:  # obsolete source route
                inner = inner.rsplit(":", 1)[1]
            return _ascii_lower(inner.strip())
        if ch == ":":  # group display name
            start = i + 1
        elif ch in ",;":
            piece = text[start:i].strip()
            for word in piece.split():
                if "@" in word:
                    return _ascii_lower(word)
            start = i + 1
        i += 1
    return ""


def _ascii_lower(s):
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in s)


def key_part(fields, date_text, subject_text):
    raw = first_field(fields, "message-id")
    token = message_id_token(raw) if raw is not None else ""
    if token:
        src = token.encode("utf-8")
    else:
        frm = first_field(fields, "from")
        addr = first_from_address(frm) if frm is not None else ""
        src = ("%s|%s|%s" % (date_text, addr, subject_text)).encode("utf-8")
    return hashlib.sha256(src).hexdigest()[:8]

# ---------------------------------------------------------------------------
# Names

def message_base_name(data, internal_date):
    fields = header_fields(header_block(data))
    d = date_part(fields, internal_date)
    s = subject_part(fields)
    k = key_part(fields, d, s)
    return "%s %s [%s]" % (d, s, k)


def expected_names(entries):
    """entries: list of (id, bytes-or-sha256hex, base).  Returns a dict id ->
    expected file name, applying the collision rule within one folder."""
    groups = {}
    for ident, digest, base in entries:
        groups.setdefault(base, []).append((ident, digest))
    names = {}
    for base, members in groups.items():
        if len(members) == 1:
            names[members[0][0]] = base + ".eml"
            continue
        seen = {}
        for ident, digest in members:
            h = digest[:8]
            seen[h] = seen.get(h, 0) + 1
            n = seen[h]
            names[ident] = "%s ~%s%s.eml" % (base, h, "" if n == 1 else "-%d" % n)
    return names


UNREADABLE_RE = re.compile(r"^0000-00-00 000000 \(unreadable\) \[[0-9a-f]{8}\]\.eml$")

# ---------------------------------------------------------------------------
# Folders

def escape_folder(name):
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    if name == ".":
        out = "%2E"
    elif name == "..":
        out = "%2E%2E"
    else:
        out = name.replace("%", "%25").replace("/", "%2F")
    raw = out.encode("utf-8")
    if len(raw) > 255:
        cut = raw[:246]
        out = cut.decode("utf-8", "ignore") + "~" + hashlib.sha256(raw).hexdigest()[:8]
    return out


def unescape_folder(name):
    return re.sub(r"%([0-9A-Fa-f]{2})",
                  lambda m: chr(int(m.group(1), 16)), name)

# ---------------------------------------------------------------------------
# Tree check

def check_tree(root, verbose=False):
    """Return (number of files checked, list of problem strings)."""
    problems = []
    checked = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        entries = []
        unreadable = []
        for fn in sorted(filenames):
            path = os.path.join(dirpath, fn)
            try:
                st = os.lstat(path)
            except OSError as e:
                problems.append("%s: lstat failed: %s" % (path, e))
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if not fn.endswith(".eml"):
                if verbose:
                    print("note: not a message file: %s" % path)
                continue
            checked += 1
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError as e:
                if UNREADABLE_RE.match(fn):
                    unreadable.append(fn)
                    continue
                problems.append("%s: read failed: %s" % (path, e))
                continue
            if len(data) != st.st_size:
                problems.append("%s: st_size %d but %d bytes read"
                                % (path, st.st_size, len(data)))
            base = message_base_name(data, int(st.st_mtime))
            entries.append((fn, hashlib.sha256(data).hexdigest(), base))
        names = expected_names(entries)
        actual = {e[0] for e in entries}
        for fn, digest, base in entries:
            want = names[fn]
            if want != fn:
                # Byte-identical duplicates are interchangeable: accept any
                # permutation of their -N suffixes.
                if want not in actual or not _same_dup_group(fn, want, entries):
                    problems.append("%s: name should be %r" % (
                        os.path.join(dirpath, fn), want))
        expected_set = set(names.values())
        if expected_set != actual:
            for missing in sorted(expected_set - actual):
                if not any(p.endswith(repr(missing)) for p in problems):
                    problems.append("%s: expected a file named %r" % (dirpath, missing))
    return checked, problems


def _same_dup_group(fn, want, entries):
    by = {e[0]: e for e in entries}
    return fn in by and want in by and by[fn][1] == by[want][1] and by[fn][2] == by[want][2]


def main(argv):
    if len(argv) < 2 or argv[1] not in ("check", "name", "folder"):
        sys.stderr.write(__doc__)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "check":
        verbose = "-v" in args
        args = [a for a in args if a != "-v"]
        if len(args) != 1:
            sys.stderr.write("usage: mailname.py check [-v] DIR\n")
            return 2
        checked, problems = check_tree(args[0], verbose)
        for p in problems:
            print("MISMATCH: " + p)
        print("mailname check: %d message files, %d problems" % (checked, len(problems)))
        return 1 if problems else 0
    if cmd == "name":
        for path in args:
            with open(path, "rb") as f:
                data = f.read()
            print(message_base_name(data, int(os.stat(path).st_mtime)) + ".eml")
        return 0
    for name in args:
        print(escape_folder(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
