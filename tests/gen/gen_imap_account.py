#!/usr/bin/env python3
"""Writes an IMAP account directly as Maildir files, for a Dovecot test server.

  gen_imap_account.py MAILDIR --messages N [--seed S] [--layout fs|maildir++]
                      [--huge-mb M] [--one-folder NAME] [--manifest FILE]

MAILDIR is the user's Maildir (INBOX lives in it; folders below it). The
output is a function of the arguments only (same seed, same files, same
mtimes), whatever the machine.

What the account holds:
  - folders: INBOX, Sent, Drafts, Archive/2023, Archive/2024/Q1 (Archive and
    Archive/2024 hold nothing: intermediate levels), non-ASCII names stored in
    modified UTF-7 on disk ("Répertoire été", "日本語", "Ünïcödé/Unterordner"),
    "Tom & Jerry", "50% off", "sp ace", and with --layout fs (delimiter '/')
    "dots.in.name"; with --layout maildir++ (delimiter '.') no name has a dot.
  - messages in every MIME shape: plain 7-bit, quoted-printable, base64 text,
    multipart/alternative, multipart/mixed with attachments, nested
    multiparts (mixed > alternative > related), message/rfc822, RFC 2047
    subjects and senders in several charsets, raw 8-bit headers and bodies,
    lines of several thousand bytes, bare LF line ends, an empty body,
    missing Date, missing Message-ID, Message-IDs shared by different
    messages, byte-identical copies in one folder (name collisions), obsolete
    and odd date forms, hostile subjects (slashes, brackets, bidi controls,
    1 KB long), and one huge message (--huge-mb, default 3 MiB) with a large
    base64 attachment.
  - flags: \\Seen \\Answered \\Flagged \\Draft as maildir info letters and
    keywords ($Label1, $Work, NonJunk, project-x) through dovecot-keywords.
  - internal dates: each file's mtime (Dovecot's maildir received date),
    a few minutes after the Date header.

--one-folder NAME puts all N messages into that single folder (the listing
benchmark). --manifest writes a JSON summary (folders, counts, bytes).
Run dovecot_chown (tests/support/dovecot.sh) afterwards: the files must
belong to the mail user.
"""

import argparse
import base64
import datetime
import json
import os
import quopri
import random
import sys

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

FOLDERS_COMMON = [
    ("INBOX",), ("Sent",), ("Drafts",), ("Archive", "2023"), ("Archive", "2024", "Q1"),
    ("R\u00e9pertoire \u00e9t\u00e9",), ("\u65e5\u672c\u8a9e",),
    ("\u00dcn\u00efc\u00f6d\u00e9", "Unterordner"),
    ("Tom & Jerry",), ("50% off",), ("sp ace",),
]
FOLDERS_FS_ONLY = [("dots.in.name",)]
# relative weight of each folder (INBOX gets the most)
WEIGHTS = {("INBOX",): 8, ("Sent",): 3, ("Archive", "2023"): 3}

KEYWORDS = ["$Label1", "$Work", "NonJunk", "project-x"]
FLAG_LETTERS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S"}

NAMES = [("Ann Park", "ann@example.com"), ("Bob Jones", "bob@example.net"),
         ("Zo\u00eb Kr\u00e4mer", "zoe@example.de"), ("\u674e\u96f7", "lei@example.cn"),
         ("Ivan Petrov", "ivan@example.ru"), ("", "noreply@example.org")]
SUBJECTS = ["Lunch on Friday?", "Quarterly numbers", "Re: status of the migration",
            "Fwd: minutes", "Invoice 2023-0042", "[list] weekly digest", "hello",
            "Re: Re: Re: the printer again", "Your order has shipped"]
WORDS = ("the of and to in is that for it as was with be by on not he this are or his "
         "from at which but have an they you were her she there one all we their "
         "migration server folder message archive invoice meeting printer report").split()


def mutf7(text):
    out, buf = [], []

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


def enc_word(text, charset="utf-8", mode="B"):
    raw = text.encode(charset)
    if mode == "B":
        return "=?%s?B?%s?=" % (charset.upper(), base64.b64encode(raw).decode())
    q = "".join(chr(b) if (0x30 <= b <= 0x39 or 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A)
                else "_" if b == 0x20 else "=%02X" % b for b in raw)
    return "=?%s?Q?%s?=" % (charset, q)


def rfc_date(dt, zone_minutes=0):
    local = dt + datetime.timedelta(minutes=zone_minutes)
    sign = "+" if zone_minutes >= 0 else "-"
    z = abs(zone_minutes)
    return local.strftime("%a, %d %b %Y %H:%M:%S ") + "%s%02d%02d" % (sign, z // 60, z % 60)


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.seed = seed
        self.n = 0

    def words(self, n):
        return " ".join(self.r.choice(WORDS) for _ in range(n))

    def para(self, lines=6, width=72):
        out = []
        for _ in range(lines):
            line = self.words(self.r.randint(6, 12))
            out.append(line[:width])
        return "\r\n".join(out) + "\r\n"

    def boundary(self):
        return "=_gen_%016x" % self.r.getrandbits(64)

    def blob(self, n):
        return bytes(self.r.getrandbits(8) for _ in range(n)) if n < 4096 else \
            self.r.getrandbits(8 * n).to_bytes(n, "little")

    def b64(self, data):
        return base64.encodebytes(data).decode().replace("\n", "\r\n")

    def addr(self, who):
        name, mail = who
        if not name:
            return mail
        if all(ord(c) < 128 for c in name):
            return "%s <%s>" % (name, mail)
        return "%s <%s>" % (enc_word(name, "utf-8", self.r.choice("BQ")), mail)

    # ---- one message ---------------------------------------------------
    def message(self, i, dt):
        """Returns (bytes, kind)."""
        r = self.r
        kind = i % 20
        frm = self.addr(r.choice(NAMES))
        to = self.addr(r.choice(NAMES))
        subject = r.choice(SUBJECTS) + (" #%d" % i if r.random() < 0.7 else "")
        mid = "<gen.%d.%d@example.org>" % (self.seed, i)
        zone = r.choice([0, 60, 120, -300, -480, 330, 0])
        date = rfc_date(dt, zone)
        extra = []
        ctype = "text/plain; charset=us-ascii"
        cte = None
        body = self.para(r.randint(2, 20))
        crlf = True

        if kind == 1:      # quoted-printable UTF-8 text
            text = "Gr\u00fc\u00dfe aus K\u00f6ln \u2014 caf\u00e9 cr\u00e8me \u20ac%d\n" % i + \
                self.para(5).replace("\r\n", "\n") + "a=b and a long line " + "x" * 120 + "\n"
            ctype = "text/plain; charset=utf-8"
            cte = "quoted-printable"
            body = quopri.encodestring(text.encode("utf-8")).decode().replace("\n", "\r\n")
        elif kind == 2:    # base64 text
            ctype = "text/plain; charset=utf-8"
            cte = "base64"
            body = self.b64(("\u041f\u0440\u0438\u0432\u0435\u0442 %d\n" % i +
                             self.para(8)).encode("utf-8"))
        elif kind == 3:    # multipart/alternative
            b = self.boundary()
            ctype = 'multipart/alternative; boundary="%s"' % b
            txt = self.para(6)
            html = "<html><body><p>%s</p></body></html>\r\n" % txt.replace("\r\n", "<br>")
            body = ("This is a multi-part message in MIME format.\r\n"
                    "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n%s"
                    "--%s\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n%s"
                    "--%s--\r\n" % (b, txt, b, html, b))
        elif kind == 4:    # mixed with attachments
            b = self.boundary()
            ctype = 'multipart/mixed; boundary="%s"' % b
            parts = ["--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n%s" % (b, self.para(4))]
            for k in range(r.randint(1, 3)):
                size = r.choice([100, 2000, 15000, 60000, 150000])
                parts.append(
                    "--%s\r\nContent-Type: application/octet-stream; name=\"file-%d-%d.bin\"\r\n"
                    "Content-Disposition: attachment; filename=\"file-%d-%d.bin\"\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n%s"
                    % (b, i, k, i, k, self.b64(self.blob(size))))
            body = "".join(parts) + "--%s--\r\n" % b
        elif kind == 5:    # nested: mixed > alternative > related
            b1, b2, b3 = self.boundary(), self.boundary(), self.boundary()
            ctype = 'multipart/mixed; boundary="%s"' % b1
            txt = self.para(3)
            body = ("--{1}\r\nContent-Type: multipart/alternative; boundary=\"{2}\"\r\n\r\n"
                    "--{2}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{t}"
                    "--{2}\r\nContent-Type: multipart/related; boundary=\"{3}\"\r\n\r\n"
                    "--{3}\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n"
                    "<p>{t}<img src=\"cid:img{i}@x\"></p>\r\n"
                    "--{3}\r\nContent-Type: image/png\r\nContent-ID: <img{i}@x>\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n{img}"
                    "--{3}--\r\n--{2}--\r\n"
                    "--{1}\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\n"
                    "Content-Disposition: attachment; filename=\"r.pdf\"\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n{pdf}--{1}--\r\n").format(
                        "", b1, b2, b3, t=txt, i=i,
                        img=self.b64(b"\x89PNG\r\n\x1a\n" + self.blob(700)),
                        pdf=self.b64(b"%PDF-1.4\n" + self.blob(5000)))
        elif kind == 6:    # message/rfc822 attached
            b = self.boundary()
            ib = self.boundary()
            ctype = 'multipart/mixed; boundary="%s"' % b
            inner = ("From: %s\r\nTo: %s\r\nSubject: the original %d\r\nDate: %s\r\n"
                     "Message-ID: <inner.%d.%d@example.org>\r\nMIME-Version: 1.0\r\n"
                     "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
                     "--%s\r\nContent-Type: text/plain\r\n\r\n%s"
                     "--%s\r\nContent-Type: text/csv; name=\"t.csv\"\r\n\r\na,b\r\n1,2\r\n--%s--\r\n"
                     % (self.addr(r.choice(NAMES)), to, i, rfc_date(dt - datetime.timedelta(days=3)),
                        self.seed, i, ib, ib, self.para(3), ib, ib))
            body = ("--%s\r\nContent-Type: text/plain\r\n\r\nForwarded below.\r\n"
                    "--%s\r\nContent-Type: message/rfc822\r\n"
                    "Content-Disposition: attachment; filename=\"original.eml\"\r\n\r\n%s"
                    "--%s--\r\n" % (b, b, inner, b))
        elif kind == 7:    # RFC 2047 subjects in several charsets, 8-bit body
            cs = r.choice([("utf-8", "Gr\u00fc\u00dfe aus M\u00fcnchen \u2713"),
                           ("iso-8859-1", "R\u00e9sum\u00e9 du caf\u00e9"),
                           ("windows-1252", "\u201cquoted\u201d \u20ac price"),
                           ("koi8-r", "\u041e\u0442\u0447\u0451\u0442 \u0437\u0430 \u043c\u0435\u0441\u044f\u0446"),
                           ("iso-2022-jp", "\u4f1a\u8b70\u306e\u304a\u77e5\u3089\u305b"),
                           ("gb2312", "\u4f60\u597d\u4e16\u754c")])
            half = len(cs[1]) // 2
            subject = "%s %s #%d" % (enc_word(cs[1][:half], cs[0], "B"),
                                     enc_word(cs[1][half:], cs[0], "Q"), i)
            ctype = "text/plain; charset=utf-8"
            cte = "8bit"
            body = "\u00c4rger mit \u00dcmlauten \u2014 \u65e5\u672c\u8a9e %d\r\n" % i + self.para(3)
        elif kind == 8:    # raw 8-bit header, long lines
            subject = "Raw 8-bit subject \u00e4\u00f6\u00fc \u00e9t\u00e9 #%d" % i
            cte = "8bit"
            ctype = "text/plain; charset=utf-8"
            body = ("x" * 3000 + "\r\n" + self.words(800) + "\r\n" + self.para(2))
        elif kind == 9:    # bare LF line ends
            crlf = False
        elif kind == 10:   # empty body
            body = ""
        elif kind == 11:   # no Date header: named by the internal date
            date = None
        elif kind == 12:   # shares its Message-ID with an earlier message
            mid = "<gen.%d.%d@example.org>" % (self.seed, max(0, i - 12))
        elif kind == 13:   # odd date forms
            form = r.choice([
                dt.strftime("%d %b %y %H:%M:%S EST"),
                dt.strftime("%a, %d %b %Y %H:%M GMT"),
                dt.strftime("%a,  %d %b %Y %H:%M:%S -0000 (UTC)"),
                dt.strftime("%d %b %Y %H:%M:60 +0000"),
                dt.strftime("%a, %d %b %Y %H:%M:%S PDT"),
                dt.strftime("%a, %d %b %Y %H:%M:%S A"),
                "not a date at all",
            ])
            date = form
        elif kind == 14:   # no Message-ID
            mid = None
        elif kind == 15:   # hostile subjects
            subject = r.choice([
                "a/b\\c:d*e?f\"g<h>i|j [k] #%d" % i,
                "\u202eevil\u202c bidi \u200f #%d" % i,
                "   ...leading dots and spaces #%d" % i,
                "folded\r\n  subject\r\n\tline #%d" % i,
                ("very long subject " * 60) + "#%d" % i,
                "",
                "tab\there\x7f and \x01 controls #%d" % i,
                "=?utf-8?B?" + base64.b64encode("split \u00e9".encode()[:7]).decode() + "?="
                "=?utf-8?B?" + base64.b64encode("split \u00e9".encode()[7:]).decode() + "?= #%d" % i,
                "=?x-unknown?Q?stays_literal?= #%d" % i,
            ])
        elif kind == 16:   # signed-like multipart with a text part and a detached signature
            b = self.boundary()
            ctype = 'multipart/signed; protocol="application/pgp-signature"; micalg=pgp-sha256; boundary="%s"' % b
            body = ("--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n%s"
                    "--%s\r\nContent-Type: application/pgp-signature\r\n\r\n"
                    "-----BEGIN PGP SIGNATURE-----\r\n%s-----END PGP SIGNATURE-----\r\n--%s--\r\n"
                    % (b, self.para(3), b, self.b64(self.blob(300)), b))
        elif kind == 17:   # bigger plain text (tens of KB)
            body = "".join(self.para(20) for _ in range(r.randint(10, 60)))

        h = ["Return-Path: <%s>" % frm.split("<")[-1].rstrip(">"),
             "From: " + frm, "To: " + to]
        if r.random() < 0.2:
            h.append("Cc: " + self.addr(r.choice(NAMES)))
        h.append("Subject: " + subject)
        if date is not None:
            h.append("Date: " + date)
        if mid is not None:
            h.append("Message-ID: " + mid)
        if r.random() < 0.3:
            h.append("In-Reply-To: <gen.%d.%d@example.org>" % (self.seed, r.randint(0, i + 1)))
        h.append("MIME-Version: 1.0")
        h.append("Content-Type: " + ctype)
        if cte:
            h.append("Content-Transfer-Encoding: " + cte)
        h.extend("X-Gen-%d: %s" % (k, self.words(5)) for k in range(r.randint(0, 3)))
        data = ("\r\n".join(h) + "\r\n\r\n" + body).encode("utf-8")
        if not crlf:
            data = data.replace(b"\r\n", b"\n")
        return data, kind

    def huge(self, i, dt, mb):
        b = self.boundary()
        size = mb * 1024 * 1024 * 3 // 4
        payload = self.b64(self.r.getrandbits(8 * size).to_bytes(size, "little"))
        data = ("From: Ann Park <ann@example.com>\r\nTo: bob@example.net\r\n"
                "Subject: huge attachment (%d MiB)\r\nDate: %s\r\n"
                "Message-ID: <huge.%d.%d@example.org>\r\nMIME-Version: 1.0\r\n"
                "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
                "--%s\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n"
                "--%s\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\n"
                "Content-Disposition: attachment; filename=\"big.bin\"\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n%s--%s--\r\n"
                % (mb, rfc_date(dt), self.seed, i, b, b, b, payload, b)).encode()
        return data

    def flags(self):
        r = self.r
        out = []
        if r.random() < 0.7:
            out.append("\\Seen")
        if r.random() < 0.15:
            out.append("\\Answered")
        if r.random() < 0.1:
            out.append("\\Flagged")
        if r.random() < 0.03:
            out.append("\\Draft")
        kw = [k for k in KEYWORDS if r.random() < 0.06]
        return out, kw


def folder_dir(root, parts, layout):
    if parts == ("INBOX",):
        return root
    enc = [mutf7(p) for p in parts]
    if layout == "fs":
        return os.path.join(root, *enc)
    return os.path.join(root, "." + ".".join(enc))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("maildir")
    ap.add_argument("--messages", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--layout", choices=["fs", "maildir++"], default="fs")
    ap.add_argument("--huge-mb", type=int, default=3)
    ap.add_argument("--one-folder")
    ap.add_argument("--manifest")
    a = ap.parse_args()

    g = Gen(a.seed)
    if a.one_folder:
        folders = [tuple(a.one_folder.split("/"))]
    else:
        folders = list(FOLDERS_COMMON)
        if a.layout == "fs":
            folders += FOLDERS_FS_ONLY
    weights = [WEIGHTS.get(f, 1) for f in folders]
    start = datetime.datetime(2019, 3, 1, 8, 0, 0, tzinfo=datetime.timezone.utc)
    per_folder = {f: [] for f in folders}
    for i in range(a.messages):
        f = g.r.choices(folders, weights)[0] if len(folders) > 1 else folders[0]
        per_folder[f].append(i)

    manifest = {"seed": a.seed, "layout": a.layout, "folders": {}, "messages": 0, "bytes": 0}
    huge_at = (per_folder[folders[0]] or [None])[len(per_folder[folders[0]]) // 2] if a.huge_mb > 0 else None
    for f in folders:
        d = folder_dir(a.maildir, f, a.layout)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        with open(os.path.join(d, "dovecot-keywords"), "w") as fh:
            fh.write("".join("%d %s\n" % (k, w) for k, w in enumerate(KEYWORDS)))
        count = 0
        total = 0
        previous = None
        for i in per_folder[f]:
            dt = start + datetime.timedelta(seconds=i * 3607 + g.r.randint(0, 3000))
            if i == huge_at:
                data = g.huge(i, dt, a.huge_mb)
            elif previous is not None and i % 97 == 0:
                data = previous                       # byte-identical copy
            else:
                data, _ = g.message(i, dt)
            previous = data
            sysf, kw = g.flags()
            letters = "".join(sorted(FLAG_LETTERS[x] for x in sysf)) + \
                "".join(sorted(chr(ord("a") + KEYWORDS.index(k)) for k in kw))
            internal = int((dt - EPOCH).total_seconds()) + g.r.randint(30, 900)
            name = "%d.M%dP%d.gen,S=%d:2,%s" % (internal, i, a.seed, len(data), letters)
            p = os.path.join(d, "cur", name)
            with open(p, "wb") as fh:
                fh.write(data)
            os.utime(p, (internal, internal))
            count += 1
            total += len(data)
        manifest["folders"]["/".join(f)] = count
        manifest["messages"] += count
        manifest["bytes"] += total
    if a.manifest:
        with open(a.manifest, "w") as fh:
            json.dump(manifest, fh, indent=1, sort_keys=True, ensure_ascii=False)
            fh.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
