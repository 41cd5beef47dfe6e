#!/usr/bin/env python3
"""Deterministic generator of Exchange Migration Wizard IFF extracts.

  gen_iff.py OUT_DIR [--messages N] [--mailboxes M] [--total-bytes B]
             [--seed S] [--codepage CP] [--attachment-share F]
             [--big-attachment BYTES]

Writes a packing list, several primary and secondary files into OUT_DIR and
a manifest, OUT_DIR/../<basename of OUT_DIR>.manifest.json, that describes
every message the extract holds as iff-format.md section 7 says a reader
renders it, and the objects of its DIRECTORY section.  The same arguments
always give the same bytes.

Two modes:
  * --messages N (default 300): N rows plus one PAB message per PAB section;
    --attachment-share is the fraction of messages carrying attachments;
    every edge case in CASES appears at least once when N >= 2 * len(CASES).
  * --total-bytes B (suffixes K, M, G): sizes for benchmarks.  A share
    (1 - attachment-share) of B is message bodies of 2-20 KiB, the rest
    attachments of 50 KiB - 5 MiB.

The format is described in docs/iff-format.md; expected names follow
design.md section 3 and are computed with tests/support/mailname.py.
"""

import argparse
import datetime
import hashlib
import json
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "support"))
import mailname  # noqa: E402

CODEPAGES = {
    437: "cp437", 850: "cp850", 852: "cp852", 874: "cp874", 932: "cp932",
    936: "gbk", 949: "cp949", 950: "cp950", 10000: "mac_roman",
    65001: "utf-8",
}
for _cp in range(1250, 1259):
    CODEPAGES[_cp] = "cp%d" % _cp
for _cp in range(28591, 28600):
    CODEPAGES[_cp] = "iso8859_%d" % (_cp - 28590)

MSG_COLUMNS = ["Folder", "Sender", "To", "Cc", "Bcc", "Subject", "Send-Date",
               "Received-Date", "Priority", "Unread", "Unsent", "Body"]
PAB_COLUMNS = ["Obj-class", "Display-Name", "Email-Address", "First", "Last",
               "Address", "City", "State", "Zip", "Country", "Title",
               "Company", "Department", "Office", "Assistant", "Bus-Num",
               "Bus2-Num", "Assist-Num", "Fax-Num", "Home-Num", "Home2-Num",
               "Mobile-Num", "Pager-Num", "Note"]
KEYWORDS = {"DIRECTORY", "PAB", "MAILMESSAGE"}
SEC_COLUMNS = b"Type,Length,Encoding,Islast,Name,Position,Format\r\n"

# Edge cases forced into a --messages extract, each at least once.
CASES = [
    "subj_comma_quote", "subj_hash", "subj_bang", "subj_keyword",
    "subj_specials", "subj_dots", "subj_long", "subj_empty", "subj_percent",
    "subj_tab", "subj_nonascii", "subj_spaces",
    "body_empty", "body_chain", "body_lf", "body_cr", "body_longline",
    "body_nonascii", "body_mimeish",
    "att_empty", "att_binary", "att_nonascii_name", "att_comma_name",
    "att_macbinary", "att_several", "att_other_in_chain", "att_position",
    "free_document", "free_document_nosep",
    "other_to", "other_subject", "other_sender",
    "from_nospace", "from_noname", "from_nameonly", "from_ex", "from_x400",
    "from_comma", "from_quotes", "from_nonascii", "from_empty", "from_multi",
    "to_partial_quote", "to_x400_list",
    "date_no_received", "date_no_send", "date_none",
    "row_continued", "row_continued_value", "ptr_lowercase",
    "flags_unread", "flags_unsent", "prio_high", "prio_low",
]

ASCII_WORDS = (
    "alpha beta gamma delta report budget meeting minutes agenda review "
    "draft final copy notes lunch friday monday quarterly numbers project "
    "status update release plan schedule office team please thanks regards "
    "invoice order shipment contract customer server backup network printer "
    "archive folder travel hotel flight summary question answer proposal "
    "deadline approval request reminder invitation the a of and to in for "
    "on with at by from is are was be this that we you it new old").split()
CANDIDATE_CHARS = ("éèêëàâäçîïôöùûüÿñÉÈÀÄÖÜÑßæøåÆØÅœŒáíóúÁÍÓÚãõ"
                   "čďěňřšťžůČĎĚŇŘŠŤŽŮąćęłńśźżĄĆĘŁŃŚŹŻőűŐŰ"
                   "αβγδεζηθλμπσωΑΒΓΔΣΩабвгдежзийклмнопрстуфхцчшщыэюя"
                   "АБВГДЕЖЗИКЛМНОПРСТУФХЦЧШЩЭЮЯ日本語中文漢字한국어メール")


def parse_size(text):
    text = text.strip().upper()
    mult = 1
    for suffix, m in (("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30),
                      ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)):
        if text.endswith(suffix):
            text, mult = text[:-len(suffix)], m
            break
    return int(float(text) * mult)


def iff_date(dt):
    return dt.strftime("%Y%m%d%H%M%S") if dt else ""


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S") if dt else None


def epoch(dt):
    return int((dt - datetime.datetime(1970, 1, 1)).total_seconds())


def normalize_eol(text):
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def imcea(typ, value):
    enc = []
    for b in value.encode("utf-8"):
        c = chr(b)
        if c.isascii() and (c.isalnum() or c in ".-_="):
            enc.append(c)
        else:
            enc.append("+%02X" % b)
    return "IMCEA%s-%s@iff.invalid" % (typ, "".join(enc))


def parse_address(raw):
    """One IFF address value -> the manifest's description of it."""
    name, typ, addr = raw, None, None
    if raw.endswith("]") and "[" in raw:
        i = raw.rfind("[")
        inner = raw[i + 1:-1]
        if ":" in inner:
            name = raw[:i].rstrip(" ")
            typ, addr = inner.split(":", 1)
    if typ is None:
        spec = imcea("EX", name)
    elif typ.upper() == "SMTP":
        spec = addr
    else:
        spec = imcea(typ, addr)
    return {"raw": raw, "name": name, "type": typ, "address": addr,
            "addr_spec": spec}


class Rng(random.Random):
    def chance(self, p):
        return self.random() < p


class Csv:
    """Writes CSV fields the way the IFF rules want them."""

    def __init__(self, rng):
        self.rng = rng

    def field(self, value, first=False, allow_partial=True):
        must = ("," in value or '"' in value or value.startswith("#")
                or value.startswith("!") or value.strip().upper() in KEYWORDS)
        may = any(c in value for c in "\\%.!")
        if not must and not (may and self.rng.chance(0.5)):
            return value
        if (allow_partial and "," in value and '"' not in value
                and not value.startswith(("#", "!")) and not first
                and value.upper() not in KEYWORDS and self.rng.chance(0.3)):
            # Plain prefix followed by a quoted run: "ab"c,d"" form.
            cut = value.index(",")
            if cut > 0:
                cut = self.rng.randrange(0, cut)
                if cut > 0:
                    return value[:cut] + '"' + value[cut:] + '"'
        return '"' + value.replace('"', '""') + '"'

    def multi(self, values):
        """A ;-separated list; values holding ; get whole-field quoting."""
        if any(";" in v for v in values):
            parts = []
            for v in values:
                if ";" in v or '"' in v:
                    parts.append('"' + v.replace('"', '""') + '"')
                else:
                    parts.append(v)
            joined = ";".join(parts)
            return '"' + joined.replace('"', '""') + '"'
        if all("," not in v and '"' not in v for v in values):
            return self.field(";".join(values))
        if self.rng.chance(0.5):
            # Each value quoted on its own.
            return ";".join(('"' + v.replace('"', '""') + '"')
                            if ("," in v or '"' in v) else v for v in values)
        return '"' + ";".join(values).replace('"', '""') + '"'


class SecFile:
    def __init__(self, path, name):
        self.name = name
        self.f = open(path, "wb", buffering=1 << 20)
        self.f.write(SEC_COLUMNS)
        self.pos = len(SEC_COLUMNS)

    def section(self, header, data, sep=True):
        off = self.pos
        self.f.write(header)
        self.f.write(data)
        self.pos += len(header) + len(data)
        if sep:
            self.f.write(b"\r\n")
            self.pos += 2
        return off

    def close(self):
        self.f.close()


class Generator:
    def __init__(self, args):
        self.args = args
        self.rng = Rng("iff-structure-%d" % args.seed)
        self.data_rng = random.Random("iff-data-%d" % args.seed)
        self.cp = args.codepage
        self.codec = CODEPAGES[self.cp]
        self.csv = Csv(self.rng)
        self.out = os.path.abspath(args.out_dir)
        self.base = os.path.basename(self.out.rstrip("/")) or "extract"
        self.prefix = "MBX"   # fixed, so output bytes do not depend on OUT_DIR
        self.non_ascii = self._alphabet()
        self.words = ASCII_WORDS + self._native_words()
        self.pool = self._text_pool()
        self.messages = []
        self.directory = []  # DIRECTORY objects as {column: value}, escapes undone
        self.seen_paths = set()      # (mailbox key, lowercased path prefix)
        self.first_spelling = {}     # (mailbox key, lowercased prefix) -> name

    # -- character material -------------------------------------------------

    def _encodable(self, ch):
        try:
            b = ch.encode(self.codec)
        except UnicodeEncodeError:
            return False
        # Never allow ASCII bytes inside a multi-byte character: the IFF
        # tokenizer works on bytes and would see a "\" or "," there.
        return len(b) == 1 or all(x >= 0x80 for x in b)

    def _alphabet(self):
        chars = []
        for ch in CANDIDATE_CHARS:
            if self._encodable(ch) and ch not in chars:
                chars.append(ch)
        if self.codec != "utf-8":
            for b in range(0x80, 0x100):
                try:
                    ch = bytes([b]).decode(self.codec)
                except UnicodeDecodeError:
                    continue
                if len(ch) == 1 and ch.isalpha() and ch not in chars \
                        and self._encodable(ch):
                    chars.append(ch)
        return chars

    def _native_words(self):
        if not self.non_ascii:
            return []
        r = Rng("iff-words-%d" % self.args.seed)
        words = []
        for _ in range(40):
            w = "".join(r.choice(ASCII_WORDS)[:r.randint(1, 3)]
                        if r.chance(0.4) else r.choice(self.non_ascii)
                        for _ in range(r.randint(3, 8)))
            words.append(w)
        return words

    def _text_pool(self):
        r = Rng("iff-pool-%d" % self.args.seed)
        lines = []
        size = 0
        while size < 1 << 20:
            n = r.randint(1, 14)
            line = " ".join(r.choice(self.words) for _ in range(n))
            if r.chance(0.05):
                line = ""
            lines.append(line)
            size += len(line) + 2
        return "\r\n".join(lines) + "\r\n"

    def word(self):
        return self.rng.choice(self.words)

    def ascii_words(self, lo, hi):
        return " ".join(self.rng.choice(ASCII_WORDS)
                        for _ in range(self.rng.randint(lo, hi)))

    def body_text(self, length):
        if length <= 0:
            return ""
        start = self.rng.randrange(0, len(self.pool) - 1)
        out = []
        while length > 0:
            piece = self.pool[start:start + length]
            out.append(piece)
            length -= len(piece)
            start = 0
        return "".join(out)

    def enc(self, text):
        return text.encode(self.codec)

    # -- mailboxes and folders ----------------------------------------------

    def make_mailboxes(self):
        m = self.args.mailboxes
        boxes = []
        for i in range(m):
            if i == 2:
                arg = "PublicMessages"
            elif i == 3:
                arg = "PROFS:SANFRN/USER%d" % i
            else:
                arg = "SMTP:user%d@example.com" % i
            key = arg
            boxes.append({"arg": arg, "key": key,
                          "dir": mailname.escape_folder(key),
                          "public": arg == "PublicMessages",
                          "folders": self.make_folders(arg == "PublicMessages", i)})
        return boxes

    def make_folders(self, public, index):
        r = self.rng
        na = self.non_ascii
        if public:
            folders = [["Social", "Gamers"], ["Social"], ["Announcements"],
                       ["Projects", "Alpha", "Specs"]]
        else:
            folders = [["Inbox"], ["Sent Items"], ["Deleted Items"],
                       ["Projects", "Alpha"], ["Projects", "Alpha", "Specs"],
                       ["Projects", "Beta"], ["Archive", "2002", "Q4"]]
        extra = ["Filed Mail", "FYI", "Customers", "Reports", "Old",
                 "Travel", "Team", "Misc", "Receipts", "Lists"]
        for _ in range(r.randint(2, 6)):
            depth = r.randint(1, 5)
            folders.append([r.choice(extra) + ("" if r.chance(0.5) else
                                               " %d" % r.randint(1, 9))
                            for _ in range(depth)])
        if index == 0:
            special = [["50% done"], ["A/B testing"], ["PAB"],
                       ["Comma, folder"], ['Say "hi"'], ["!Important"],
                       ["#hash"], ["Escapes", "."], ["Escapes", ".."],
                       ["Dotted.name", "v1.2"],
                       ["Long " + "x" * 290]]
            if na:
                special.append(["Ärger" if "Ä" in na else
                                "".join(r.choice(na) for _ in range(6)),
                                "Réunions" if "é" in na else
                                "".join(r.choice(na) for _ in range(5))])
            folders += special
        elif na and r.chance(0.7):
            folders.append(["Inbox", "".join(r.choice(na) for _ in range(5))])
        return folders

    def spell_path(self, box, comps):
        """Choose how a row writes a folder path; record first spellings."""
        r = self.rng
        key = box["key"]
        variant = list(comps)
        seen_all = all((key, "\\".join(c.lower() for c in comps[:i + 1]))
                       in self.seen_paths for i in range(len(comps)))
        if seen_all and r.chance(0.15):
            def swap(c):
                return "".join(ch.swapcase() if ch.isascii() else ch for ch in c)
            variant = [swap(c) if r.chance(0.5) else c for c in comps]
        for i in range(len(comps)):
            p = "\\".join(c.lower() for c in comps[:i + 1])
            if (key, p) not in self.seen_paths:
                self.seen_paths.add((key, p))
                self.first_spelling[(key, p)] = comps[i]
        text = "\\".join(variant)
        if comps == ["Inbox"] and seen_all and r.chance(0.3):
            text = r.choice(["", "INBOX", "inbox"])
        elif seen_all and r.chance(0.05):
            text = "\\" + text + ("\\" if r.chance(0.5) else "")
        return text

    def display_path(self, box, comps):
        out = []
        for i in range(len(comps)):
            p = "\\".join(c.lower() for c in comps[:i + 1])
            out.append(self.first_spelling[(box["key"], p)])
        return out

    # -- addresses, subjects, dates ------------------------------------------

    def person(self, nonascii=False):
        r = self.rng
        first = r.choice(["Ann", "Bob", "Carol", "Dan", "Eve", "Frank", "Gina",
                          "Hank", "Ivy", "Jon", "Kim", "Lee"])
        last = r.choice(["Park", "Jones", "White", "Adams", "Miller", "Rossi",
                         "Brown", "Grande", "Berry", "Boyle"])
        if nonascii and self.non_ascii:
            last = "".join(r.choice(self.non_ascii) for _ in range(4)) + last
        addr = "%s.%s@example.%s" % (first.lower(), r.choice(
            ["park", "jones", "white", "adams"]), r.choice(["com", "net", "org"]))
        return "%s %s" % (first, last), addr

    def address(self, case=None):
        r = self.rng
        name, addr = self.person(nonascii=(case == "from_nonascii"))
        if case == "from_nospace":
            return "%s[SMTP:%s]" % (name, addr)
        if case == "from_noname":
            return "[SMTP:%s]" % addr
        if case == "from_nameonly":
            return name
        if case == "from_ex":
            return "%s [EX:/O=NWTRADERS/OU=SITE1/CN=RECIPIENTS/CN=%s]" % (
                name, name.split()[0].upper())
        if case == "from_x400":
            return "%s [X400:c=US;a= ;p=NWTraders;o=Site;s=%s;g=%s;]" % (
                name, name.split()[1], name.split()[0])
        if case == "from_comma":
            last, first = name.split()[1], name.split()[0]
            return "%s, %s [SMTP:%s]" % (last, first, addr)
        if case == "from_quotes":
            return '%s "The Builder" %s [SMTP:%s]' % (
                name.split()[0], name.split()[1], addr)
        roll = r.random()
        if roll < 0.03:
            return "%s, %s [SMTP:%s]" % (name.split()[1], name.split()[0], addr)
        if roll < 0.05:
            return "[SMTP:%s]" % addr
        if roll < 0.06:
            return "%s [MS:NWTRADERS/SITE1/%s]" % (name, name.split()[0].upper())
        return "%s [SMTP:%s]" % (name, addr)

    def subject(self, case):
        r = self.rng
        na = self.non_ascii
        if case == "subj_comma_quote":
            return 'Re: "Budget", Q%d' % r.randint(1, 4)
        if case == "subj_hash":
            return "#%d priority, really" % r.randint(1, 9)
        if case == "subj_bang":
            return "!urgent " + self.ascii_words(1, 3)
        if case == "subj_keyword":
            return r.choice(["MAILMESSAGE", "PAB", "Directory", "mailmessage"])
        if case == "subj_specials":
            return 'a/b\\c:d*e?f"g<h>i|j[k]l ' + self.ascii_words(1, 2)
        if case == "subj_dots":
            return "... " + self.ascii_words(1, 3)
        if case == "subj_long":
            text = " ".join(self.word() for _ in range(40))
            return text[:300]
        if case == "subj_empty":
            return ""
        if case == "subj_percent":
            return "50%% off. Really! 3.5 %s" % self.ascii_words(1, 2)
        if case == "subj_tab":
            return "tab\there " + self.ascii_words(1, 2)
        if case == "subj_nonascii" and na:
            return "Caf%s %s" % (r.choice(na), " ".join(
                "".join(r.choice(na) for _ in range(r.randint(2, 6)))
                for _ in range(3)))
        if case == "subj_spaces":
            return "  spaced    out  " + self.ascii_words(1, 2) + "  "
        text = " ".join(self.word() for _ in range(r.randint(1, 9)))
        if r.chance(0.2):
            text = r.choice(["Re: ", "RE: ", "Fw: ", "FW: "]) + text
        if text[:1].isascii():
            text = text[:1].upper() + text[1:]
        return text

    def dates(self, case):
        r = self.rng
        base = datetime.datetime(1995, 1, 1) + datetime.timedelta(
            seconds=r.randrange(0, 18 * 365 * 86400))
        send = base
        recv = base + datetime.timedelta(seconds=r.randrange(0, 3600))
        if case == "date_no_received" or (case is None and r.chance(0.03)):
            recv = None
        elif case == "date_no_send" or (case is None and r.chance(0.02)):
            send = None
        elif case == "date_none":
            send = recv = None
        return send, recv

    # -- attachments ----------------------------------------------------------

    def att_bytes(self, size, binary=True):
        if size == 0:
            return b""
        if binary:
            data = bytearray(self.data_rng.randbytes(size))
            # Make sure CR, LF, NUL and a CR LF pair are present.
            for i, b in enumerate((13, 10, 0, 13, 10)):
                if i < size:
                    data[(i * 7919) % size] = b
            return bytes(data)
        return (self.body_text(size).encode("ascii", "replace"))[:size]

    def macbinary(self, name, size):
        fork = self.att_bytes(size)
        header = bytearray(128)
        mname = name.encode("ascii", "replace")[:63]
        header[1] = len(mname)
        header[2:2 + len(mname)] = mname
        header[65:69] = b"TEXT"
        header[69:73] = b"ttxt"
        header[83:87] = len(fork).to_bytes(4, "big")
        header[87:91] = (0).to_bytes(4, "big")
        pad = (-len(fork)) % 128
        return bytes(header) + fork + b"\0" * pad

    # -- writing ------------------------------------------------------------------

    def sec_header(self, typ, length, islast, name="", position="", fmt=""):
        r = self.rng
        if r.chance(0.05):
            typ = typ.lower() if r.chance(0.5) else typ.upper()
        last = ("TRUE" if islast else "FALSE")
        if r.chance(0.05):
            last = last.capitalize()
        fields = [typ, str(length), "", last,
                  self.csv.field(name, allow_partial=False) if name else "",
                  position, fmt]
        return self.enc(",".join(fields)) + b"\r\n"

    def run(self):
        args = self.args
        r = self.rng
        os.makedirs(self.out, exist_ok=True)
        boxes = self.make_mailboxes()

        total = args.total_bytes
        if total:
            att_budget = int(total * args.attachment_share)
            body_budget = total - att_budget
            n = max(1, body_budget // (11 * 1024))
            att_sizes = []
            left = att_budget
            while left > 50 * 1024:
                s = min(left, r.randint(50 * 1024, 5 * 1024 * 1024))
                att_sizes.append(s)
                left -= s
        else:
            n = args.messages
            att_sizes = []
        nprim = max(2, -(-n // 5000))
        nsec = max(2, -(-(total or n * 4096) // (64 << 20)))
        self.pri_names = ["%s%d.PRI" % (self.prefix, i + 1) for i in range(nprim)]
        self.sec_names = ["%s%d.SEC" % (self.prefix, i + 1) for i in range(nsec)]
        self.secs = [SecFile(os.path.join(self.out, nm), nm) for nm in self.sec_names]

        # Edge cases, attachments and big attachment placement.
        plan = {}
        if not total and n >= 2 * len(CASES):
            for idx, case in zip(r.sample(range(n), len(CASES)), CASES):
                plan[idx] = case
        elif total:
            for idx, case in zip(r.sample(range(n), min(n, len(CASES))), CASES):
                if not case.startswith("att_") and case != "body_chain":
                    plan[idx] = case
        att_plan = {}
        for s in att_sizes:
            att_plan.setdefault(r.randrange(n), []).append(s)
        if not total and args.big_attachment and n >= 20:
            big_idx = r.randrange(n)
            while big_idx in plan:
                big_idx = (big_idx + 1) % n
            att_plan[big_idx] = [args.big_attachment]

        # Which primary file and mailbox each message goes to.
        assign = [(r.randrange(nprim), r.randrange(len(boxes))) for _ in range(n)]
        order = sorted(range(n), key=lambda i: (assign[i][0], assign[i][1], i))

        pab_done = set()
        idx_pos = 0
        for p, pname in enumerate(self.pri_names):
            lines = []   # physical lines (bytes, without CR LF)
            if p == 0:
                self.write_directory(lines, boxes)
            for b, box in enumerate(boxes):
                members = []
                while idx_pos < n and assign[order[idx_pos]] == (p, b):
                    members.append(order[idx_pos])
                    idx_pos += 1
                if not members:
                    continue
                # Sometimes split one mailbox's rows into two sections.
                chunks = [members]
                if len(members) > 30 and r.chance(0.5):
                    cut = r.randrange(1, len(members))
                    chunks = [members[:cut], members[cut:]]
                for chunk in chunks:
                    self.write_mail_section(lines, pname, box, chunk, plan, att_plan)
                    if not box["public"] and b % 2 == 0 and box["key"] not in pab_done:
                        pab_done.add(box["key"])
                        self.write_pab_section(lines, pname, box)
            with open(os.path.join(self.out, pname), "wb") as f:
                f.write(b"".join(line + b"\r\n" for line in lines))
        for s in self.secs:
            s.close()

        pkl = "%d\r\n\r\nFilename,Filetype\r\n" % self.cp
        for nm in self.pri_names:
            pkl += "%s,Primary\r\n" % nm
        for i, nm in enumerate(self.sec_names):
            pkl += "%s,%s\r\n" % (nm, "Secondary" if i % 2 == 0 else "secondary")
        with open(os.path.join(self.out, self.prefix + ".PKL"), "wb") as f:
            f.write(pkl.encode("ascii"))
        return self.write_manifest(boxes)

    # -- primary sections -------------------------------------------------------

    def emit(self, lines, fields, allow_continue=True):
        """Append one logical row; returns its first physical line number."""
        first_line = len(lines) + 1
        r = self.rng
        if allow_continue and len(fields) > 3 and r.chance(0.02):
            k = r.randrange(1, len(fields) - 1)
            head = ",".join(fields[:k]) + ","
            tail = ",".join(fields[k:])
            lines.append(self.enc(head) + b"\\\\")
            lines.append(self.enc(tail))
        else:
            lines.append(self.enc(",".join(fields)))
        return first_line

    def write_directory(self, lines, boxes):
        columns = ["Obj-class", "Mode", "Common-Name", "Display-Name", "Last Name",
                   "First Name", "Secondary-Proxy-Addresses", "Home-Server", "Department"]
        lines.append(b"! directory objects written by gen_iff.py")
        lines.append(b"DIRECTORY")
        lines.append(",".join(columns).encode("ascii"))
        for i, box in enumerate(boxes):
            if box["public"]:
                continue
            dept = '"R\\\\D"' if i % 2 == 0 else '"Line one\\nLine two"'
            lines.append(self.enc("mailbox,create,User%d,\"User %d, Test\",Test,"
                                  "User%d,MIGRATE:%s,~Server,%s"
                                  % (i, i, i, box["arg"], dept)))
            self.directory.append(dict(zip(columns, [
                "mailbox", "create", "User%d" % i, "User %d, Test" % i, "Test",
                "User%d" % i, "MIGRATE:" + box["arg"], "~Server",
                "R\\D" if i % 2 == 0 else "Line one\nLine two"])))
        lines.append(b"remote,create,Ext1,External One,One,External,"
                     b"MIGRATE:SMTP:ext1@partner.example,,")
        self.directory.append(dict(zip(columns, [
            "remote", "create", "Ext1", "External One", "One", "External",
            "MIGRATE:SMTP:ext1@partner.example", "", ""])))
        lines.append(b"")

    def write_pab_section(self, lines, pname, box):
        r = self.rng
        kw = "PAB" if r.chance(0.7) else "pab"
        arg = box["arg"] if r.chance(0.5) else "migrate:" + box["arg"]
        lines.append(self.enc("%s,%s" % (kw, arg)))
        logical = []
        header = ",".join(PAB_COLUMNS)
        lines.append(self.enc(header))
        logical.append(header)
        rows = []
        for k in range(r.randint(2, 5)):
            name, addr = self.person(nonascii=(k == 1))
            rows.append(["entry", name, "SMTP:" + addr, name.split()[0],
                         name.split()[-1], "1 Main St.", "Springfield", "", "",
                         "", "", "Litware, Inc." if k == 0 else "", "", "", "",
                         "4155551212", "", "", "", "", "", "", "", ""])
        rows.append(["entry", "Dad", "X400:/C=US/A= /P=NWTraders/G=Joe/S=Parkes"]
                    + [""] * 21)
        rows.append(["dl", "My Friends", "Dad;" + rows[0][1]] + [""] * 20
                    + ["Personal Distribution List"])
        for i, row in enumerate(rows):
            fields = [self.csv.field(v, first=(j == 0), allow_partial=False)
                      for j, v in enumerate(row)]
            if i == 1:
                lines.append(b"! a comment inside the PAB section")
            self.emit(lines, fields)
            logical.append(",".join(fields))
        lines.append(b"")
        csv = "".join(line + "\r\n" for line in logical).encode("utf-8")
        # The synthetic message of iff-format.md 4.3.
        comps = ["Inbox"]
        self.spell_path(box, comps)
        shown = self.display_path(box, comps)
        typ, _, addr = box["arg"].partition(":")
        src = {"raw": box["arg"], "name": "", "type": typ, "address": addr,
               "addr_spec": addr if typ.upper() == "SMTP" else imcea(typ, addr)}
        self.messages.append({
            "mailbox": box["dir"], "folder": "/".join(
                [box["dir"]] + [mailname.escape_folder(c) for c in shown]),
            "subject": "Personal Address Book", "synthetic": "PAB",
            "from": src, "to": [], "cc": [], "bcc": [], "sender_extra": [],
            "send_date": None, "received_date": None, "date_epoch": None,
            "mtime": 0, "priority": 0, "unread": False, "unsent": False,
            "flags": "\\Seen", "body_len": 0,
            "body_sha256": hashlib.sha256(b"").hexdigest(),
            "body_utf8_sha256": hashlib.sha256(b"").hexdigest(),
            "body_eml_sha256": hashlib.sha256(b"").hexdigest(),
            "attachments": [{"name": "pab.csv", "size": len(csv), "kind": "PAB",
                             "sha256": hashlib.sha256(csv).hexdigest(),
                             "format": None}],
            "message_id": None, "primary": pname, "line": None, "name": None,
        })

    def write_mail_section(self, lines, pname, box, members, plan, att_plan):
        r = self.rng
        kw = "MAILMESSAGE" if r.chance(0.8) else r.choice(["mailmessage", "MailMessage"])
        arg = box["arg"]
        if not box["public"] and r.chance(0.3):
            arg = r.choice(["migrate:", "MIGRATE:"]) + arg
        if lines and lines[-1] != b"":
            lines.append(b"")
        lines.append(self.enc("%s,%s" % (kw, arg)))
        if r.chance(0.3):
            cols = ",".join(MSG_COLUMNS)
            cut = cols.index(",Priority")
            lines.append(self.enc(cols[:cut]) + b"\\\\")
            lines.append(self.enc(cols[cut:]))
        else:
            cols = MSG_COLUMNS if r.chance(0.8) else [c.upper() for c in MSG_COLUMNS]
            lines.append(self.enc(",".join(cols)))
        for idx in members:
            if r.chance(0.01):
                lines.append(b"! comment between rows")
            self.write_message(lines, pname, box, plan.get(idx), att_plan.get(idx, []))
        lines.append(b"")

    def write_message(self, lines, pname, box, case, big_sizes):
        r = self.rng
        args = self.args
        comps = r.choice(box["folders"])
        if case is None and r.chance(0.05):
            comps = box["folders"][0]
        folder_text = self.spell_path(box, comps)
        shown = self.display_path(box, comps)

        # Sender
        from_case = case if case and case.startswith("from_") else None
        extra = []
        if case == "from_empty":
            sender_vals = []
        elif case == "from_multi":
            sender_vals = [self.address(), self.address()]
        else:
            sender_vals = [self.address(from_case)]
        to_vals = [self.address() for _ in range(r.randint(0, 4) if r.chance(0.05)
                                                else r.randint(1, 4))]
        if case == "to_x400_list":
            to_vals.append(self.address("from_x400"))
        if case == "to_partial_quote":
            to_vals = [self.address("from_comma"), self.address()]
        if case == "other_to":
            to_vals = [self.address() for _ in range(40)]
        cc_vals = [self.address() for _ in range(r.choice([0, 0, 0, 1, 2, 3]))]
        bcc_vals = [self.address() for _ in range(r.choice([0, 0, 0, 0, 1]))]

        subject = self.subject(case)
        send, recv = self.dates(case if case and case.startswith("date_") else None)
        prio = r.choice(["", "", "", "", "0", "1", "-1"])
        if case == "prio_high":
            prio = "1"
        elif case == "prio_low":
            prio = "-1"
        unread = r.choice(["", "", "FALSE", "TRUE", "True", "false"])
        if case == "flags_unread":
            unread = "TRUE"
        unsent = r.choice(["", "", "", "", "FALSE", "TRUE"]) if r.chance(0.1) else ""
        if case == "flags_unsent":
            unsent = "TRUE"

        # Body and the chain of sections.
        if args.total_bytes:
            blen = r.randint(2048, 20480)
        else:
            blen = r.choice([r.randint(0, 300), r.randint(100, 4000),
                             r.randint(100, 4000), r.randint(1000, 65536)])
        if r.chance(0.02) or case in ("body_empty",):
            blen = 0
        text = self.body_text(blen)
        if case == "body_lf" or (case is None and r.chance(0.02)):
            text = text.replace("\r\n", "\n")
        if case == "body_cr":
            text = text.replace("\r\n", "\r") + "end\r\n"
        if case == "body_longline":
            text = "long: " + " ".join(self.word() for _ in range(400)) + "\r\n" + text
        if case == "body_nonascii" and self.non_ascii:
            text = "".join(r.choice(self.non_ascii) for _ in range(200)) + "\r\n" + text
        if case == "body_mimeish":
            text = ("From the desk of the editor\r\n.\r\n..leading dots\r\n"
                    "Subject: not a header\r\n\r\n--boundary-lookalike\r\n"
                    "=?utf-8?q?not_encoded?=\r\n") + text

        atts = []   # (kind, name, data, fmt, position)
        free_doc = case in ("free_document", "free_document_nosep")
        if free_doc:
            name = "%s.doc" % self.ascii_words(1, 2).replace(" ", "_")
            atts.append(("Document", name, self.att_bytes(r.randint(100, 5000)), "", "0"))
            text = ""
        want_atts = (not args.total_bytes and r.chance(args.attachment_share))
        if case == "att_empty":
            atts.append(("Attachment", "empty.txt", b"", "", ""))
        elif case == "att_binary":
            atts.append(("Attachment", "chart.png", self.att_bytes(1038), "", ""))
        elif case == "att_nonascii_name" and self.non_ascii:
            nm = "".join(r.choice(self.non_ascii) for _ in range(6)) + ".txt"
            atts.append(("Attachment", nm, self.att_bytes(300, False), "", ""))
        elif case == "att_comma_name":
            atts.append(("Attachment", 'Notes, "final" v2.txt',
                         self.att_bytes(120, False), "", ""))
        elif case == "att_macbinary":
            atts.append(("Attachment", "Read Me.bin",
                         self.macbinary("Read Me", 700), "Macbinary", ""))
        elif case == "att_several":
            for k in range(r.randint(3, 6)):
                atts.append(("Attachment", "part%d.dat" % k,
                             self.att_bytes(r.choice([1, 10, 1000, 70000])), "", ""))
        elif case == "att_other_in_chain":
            atts.append(("Other", "", self.enc("ignored overflow value\r\n"), "", ""))
            atts.append(("Attachment", "after-other.txt", self.att_bytes(50, False), "", ""))
        elif case == "att_position":
            atts.append(("Attachment", "positioned.txt", self.att_bytes(64, False),
                         "None", r.choice(["-1", "0"])))
        elif want_atts and not free_doc:
            for k in range(r.choice([1, 1, 1, 2, 3])):
                size = r.choice([0, 1, 17, r.randint(100, 10000),
                                 r.randint(10000, 200000)])
                ext = r.choice(["txt", "pdf", "doc", "xls", "png", "zip", "dat"])
                atts.append(("Attachment", "%s.%s" % (
                    self.ascii_words(1, 2).replace(" ", "_"), ext),
                    self.att_bytes(size, ext != "txt"), "", ""))
        for s in big_sizes:
            atts.append(("Attachment", "big-%d.bin" % s, self.att_bytes(s), "", ""))

        sec = self.secs[r.randrange(len(self.secs))]
        body_bytes = self.enc(text)
        pieces = [body_bytes]
        if (case == "body_chain" or (case is None and r.chance(0.02))) and len(text) > 10:
            cuts = sorted(r.sample(range(1, len(text)), 2))
            parts = [text[:cuts[0]], text[cuts[0]:cuts[1]], text[cuts[1]:]]
            # never split a CR LF pair
            fixed = []
            carry = ""
            for part in parts:
                part = carry + part
                carry = ""
                if part.endswith("\r"):
                    part, carry = part[:-1], "\r"
                fixed.append(part)
            if carry:
                fixed[-1] += carry
            pieces = [self.enc(p) for p in fixed]
        chain = [("Body", "", pc, "", "") for pc in pieces] + atts
        off = None
        for i, (kind, name, data, fmt, pos) in enumerate(chain):
            last = i == len(chain) - 1
            hdr = self.sec_header(kind, len(data), last, name, pos, fmt)
            sep = not (case == "free_document_nosep" and kind == "Body")
            o = sec.section(hdr, data, sep)
            if off is None:
                off = o
        body_field = "#%s(%d)" % (sec.name.lower() if case == "ptr_lowercase"
                                  else sec.name, off)
        if case is None and r.chance(0.01) and blen == 0 and not atts:
            body_field = ""   # empty Body field: empty body, no attachments

        def overflow(value_bytes):
            s = self.secs[r.randrange(len(self.secs))]
            o = s.section(self.sec_header("Other", len(value_bytes) + 2, True),
                          value_bytes + b"\r\n")
            return "#%s(%d)" % (s.name, o)

        # The row.
        folder_field = self.csv.field(folder_text, first=True)
        if case == "other_sender":
            sender_field = overflow(self.enc(";".join(sender_vals)))
        else:
            sender_field = self.csv.multi(sender_vals) if sender_vals else ""
        if case == "other_to":
            to_field = overflow(self.enc(";".join(to_vals)))
        else:
            to_field = self.csv.multi(to_vals) if to_vals else ""
        if case == "other_subject":
            subject = subject + " (overflowed, with a comma)"
            subject_field = overflow(self.enc(subject))
        else:
            subject_field = self.csv.field(subject)
        fields = [folder_field, sender_field, to_field,
                  self.csv.multi(cc_vals) if cc_vals else "",
                  self.csv.multi(bcc_vals) if bcc_vals else "",
                  subject_field, iff_date(send), iff_date(recv), prio, unread,
                  unsent, body_field]
        if case == "row_continued":
            first_line = len(lines) + 1
            lines.append(self.enc(",".join(fields[:3]) + ",") + b"\\\\")
            lines.append(self.enc(",".join(fields[3:6]) + ",") + b"\\\\")
            lines.append(self.enc(",".join(fields[6:])))
        elif case == "row_continued_value":
            plain = "Continued subject " + self.ascii_words(2, 4)
            fields[5] = plain
            subject = plain
            first_line = len(lines) + 1
            row = ",".join(fields)
            cut = row.index(plain) + 9
            lines.append(self.enc(row[:cut]) + b"\\\\")
            lines.append(self.enc(row[cut:]))
        else:
            first_line = self.emit(lines, fields, allow_continue=True)

        if free_doc:
            subject = atts[0][1]
        date_dt = send or recv
        mtime = epoch(recv or send) if (recv or send) else 0
        mid = hashlib.sha256(("%s:%d" % (pname, first_line)).encode()).hexdigest()[:32]
        date_text = mailname.format_utc(epoch(date_dt) if date_dt else mtime)
        subj_text = mailname.clean_subject(subject)
        name = "%s %s [%s].eml" % (date_text, subj_text,
                                   hashlib.sha256((mid + "@iff.invalid").encode())
                                   .hexdigest()[:8])
        eml_text = normalize_eol(text)
        senders = [parse_address(v) for v in sender_vals]
        self.messages.append({
            "mailbox": box["dir"],
            "folder": "/".join([box["dir"]] + [mailname.escape_folder(c) for c in shown]),
            "subject": subject,
            "from": senders[0] if senders else None,
            "sender_extra": senders[1:],
            "to": [parse_address(v) for v in to_vals],
            "cc": [parse_address(v) for v in cc_vals],
            "bcc": [parse_address(v) for v in bcc_vals],
            "send_date": iso(send), "received_date": iso(recv),
            "date_epoch": epoch(date_dt) if date_dt else None,
            "mtime": mtime,
            "priority": int(prio) if prio else 0,
            "unread": unread.upper() == "TRUE",
            "unsent": unsent.upper() == "TRUE",
            "flags": "" if unread.upper() == "TRUE" else "\\Seen",
            "body_len": len(body_bytes),
            "body_sha256": hashlib.sha256(body_bytes).hexdigest(),
            "body_utf8_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "body_eml_sha256": hashlib.sha256(eml_text.encode("utf-8")).hexdigest(),
            "attachments": [{"name": nm, "size": len(data), "kind": kind,
                             "sha256": hashlib.sha256(data).hexdigest(),
                             "format": fmt or None}
                            for kind, nm, data, fmt, _ in atts if kind != "Other"],
            "message_id": mid + "@iff.invalid",
            "primary": pname, "line": first_line, "name": name,
            "case": case,
        })

    def write_manifest(self, boxes):
        folders = sorted({m["folder"] for m in self.messages})
        manifest = {
            "generator": "gen_iff.py",
            "seed": self.args.seed,
            "codepage": self.cp,
            "charset": self.codec,
            "packing_list": self.prefix + ".PKL",
            "files": [self.prefix + ".PKL"] + self.pri_names + self.sec_names,
            "mailboxes": [b["dir"] for b in boxes],
            "folders": folders,
            "messages": self.messages,
            # The DIRECTORY section's objects (iff-format.md 4.2): no folder
            # or message; the reader shows them as Directory.csv/.vcf.
            "directory": self.directory,
        }
        path = os.path.join(os.path.dirname(self.out), self.base + ".manifest.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(manifest, f, ensure_ascii=False, indent=0, sort_keys=True)
            f.write("\n")
        return path


# ---------------------------------------------------------------------------
# Self-check: an independent minimal reader of the files just written.

def _tokenize(line):
    """iff-format.md 2.2: returns [(value, quoted)], raises on open quote."""
    fields = []
    val = bytearray()
    quoted = False
    i = 0
    n = len(line)
    while True:
        if i >= n or line[i] == 0x2C:
            fields.append((bytes(val), quoted))
            if i >= n:
                return fields
            val = bytearray()
            quoted = False
            i += 1
            continue
        if line[i] == 0x22:
            quoted = True
            i += 1
            while True:
                if i >= n:
                    raise ValueError("open quote")
                if line[i] == 0x22:
                    if i + 1 < n and line[i + 1] == 0x22:
                        val.append(0x22)
                        i += 2
                        continue
                    i += 1
                    break
                val.append(line[i])
                i += 1
            continue
        val.append(line[i])
        i += 1


def _quote_state_open(line):
    state = False
    for b in line:
        if b == 0x22:
            state = not state
    return state


def _split_multi(value):
    out, cur, inq = [], [], False
    for ch in value:
        if ch == '"':
            inq = not inq
        if ch == ";" and not inq:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    res = []
    for piece in out:
        if len(piece) >= 2 and piece[0] == '"' and piece[-1] == '"':
            piece = piece[1:-1]
        piece = piece.replace('""', '"')
        if piece:
            res.append(piece)
    return res


def self_check(out_dir, manifest_path):
    import re
    man = json.load(open(manifest_path, encoding="utf-8"))
    codec = CODEPAGES[man["codepage"]]
    files = {f.upper(): os.path.join(out_dir, f) for f in os.listdir(out_dir)}
    pkl = open(os.path.join(out_dir, man["packing_list"]), "rb").read().split(b"\r\n")
    assert int(pkl[0]) == man["codepage"] and pkl[1] == b""
    prims, secs = [], {}
    for row in pkl[3:]:
        if not row:
            continue
        name, kind = row.decode().split(",")
        if kind.lower() == "primary":
            prims.append(name)
        else:
            secs[name.upper()] = open(files[name.upper()], "rb").read()
    ptr_re = re.compile(r"^#([^#();,\\/:*?\"<>|]{1,255})\(([0-9]{1,19})\)$")

    def chain(ptr):
        m = ptr_re.match(ptr)
        data = secs[m.group(1).upper()]
        off = int(m.group(2))
        assert data[off - 1:off] == b"\n", "offset not at a line start"
        out = []
        while True:
            eol = data.index(b"\r\n", off)
            f = _tokenize(data[off:eol])
            assert len(f) == 7, f
            typ = f[0][0].decode().lower()
            length = int(f[1][0])
            start = eol + 2
            out.append((typ, f[4][0].decode(codec), data[start:start + length],
                        f[6][0].decode()))
            off = start + length
            if f[3][0].upper() == b"TRUE":
                return out
            while data[off:off + 2] == b"\r\n":
                off += 2

    got = []
    first = {}
    for pname in prims:
        phys = open(files[pname.upper()], "rb").read().split(b"\r\n")[:-1]
        section = None
        i = 0
        while i < len(phys):
            lineno = i + 1
            line = phys[i]
            i += 1
            if not line:
                section = None if section != "DIRECTORY" or True else section
                continue
            if line.startswith(b"!"):
                continue
            if section not in ("DIRECTORY",) and not (section is None and
                                                       line.upper().startswith(b"DIRECTORY")):
                while line.endswith(b"\\\\") and not _quote_state_open(line[:-2]):
                    line = line[:-2] + phys[i]
                    i += 1
            fields = _tokenize(line)
            if section is None:
                kw = fields[0][0].decode().upper()
                assert not fields[0][1] and kw in KEYWORDS and len(fields) <= 2, line
                section = kw
                arg = fields[1][0].decode(codec) if len(fields) > 1 else ""
                if arg.lower().startswith("migrate:"):
                    arg = arg[8:]
                header = None
                continue
            if header is None:
                header = [f[0].decode().lower() for f in fields]
                continue
            if section != "MAILMESSAGE":
                continue
            assert len(fields) == 12, line
            vals = []
            for v, q in fields:
                if v.startswith(b"#") and not q:
                    c = chain(v.decode())
                    if c[0][0] == "other":
                        v = c[0][2][:-2] if c[0][2].endswith(b"\r\n") else c[0][2]
                vals.append(v.decode(codec) if isinstance(v, bytes) else v)
            folder = vals[0].strip("\\") or "Inbox"
            comps = folder.split("\\")
            shown = []
            for k in range(len(comps)):
                key = (arg, "\\".join(c.lower() for c in comps[:k + 1]))
                first.setdefault(key, comps[k])
                shown.append(first[key])
            body, atts = b"", []
            if fields[11][0]:
                for typ, name, data, fmt in chain(fields[11][0].decode()):
                    if typ == "body":
                        body += data
                    elif typ != "other":
                        atts.append((name, hashlib.sha256(data).hexdigest()))
            got.append({
                "folder": "/".join([mailname.escape_folder(arg)] +
                                   [mailname.escape_folder(c) for c in shown]),
                "sender": _split_multi(vals[1]), "to": _split_multi(vals[2]),
                "subject": vals[5], "body": hashlib.sha256(body).hexdigest(),
                "atts": atts,
                "mid": hashlib.sha256(("%s:%d" % (pname, lineno)).encode())
                .hexdigest()[:32] + "@iff.invalid"})
    want = [m for m in man["messages"] if m.get("synthetic") is None]
    problems = 0
    if len(got) != len(want):
        print("self-check: %d rows read, manifest has %d" % (len(got), len(want)))
        return 1
    for g, w in zip(got, want):
        exp = {
            "folder": w["folder"],
            "sender": [a["raw"] for a in ([w["from"]] if w["from"] else []) + w["sender_extra"]],
            "to": [a["raw"] for a in w["to"]],
            "subject": w["subject"] if not (w["attachments"] and w["attachments"][0]["kind"] == "Document") else g["subject"],
            "body": w["body_sha256"],
            "atts": [(a["name"], a["sha256"]) for a in w["attachments"]],
            "mid": w["message_id"]}
        for k in exp:
            if exp[k] != g[k]:
                problems += 1
                print("self-check: %s line %s: %s: got %r want %r"
                      % (w["primary"], w["line"], k, g[k], exp[k]))
    print("self-check: %d messages, %d problems" % (len(got), problems))
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--mailboxes", type=int, default=3)
    ap.add_argument("--total-bytes", type=parse_size, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--codepage", type=int, default=1252)
    ap.add_argument("--attachment-share", type=float, default=0.2)
    ap.add_argument("--big-attachment", type=parse_size, default=3 << 20,
                    help="size of one multi-MiB attachment in --messages mode "
                         "(0: none)")
    ap.add_argument("--self-check", action="store_true",
                    help="re-read the extract with a minimal independent "
                         "reader and compare it with the manifest")
    args = ap.parse_args()
    if args.codepage not in CODEPAGES:
        ap.error("unsupported code page %d (known: %s)" % (
            args.codepage, ", ".join(str(c) for c in sorted(CODEPAGES))))
    if args.mailboxes < 1:
        ap.error("--mailboxes must be at least 1")
    gen = Generator(args)
    manifest = gen.run()
    if args.self_check:
        return self_check(gen.out, manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
