#!/usr/bin/env python3
"""Writes small IFF extracts, one per failure mode of iff-format.md section 8,
into OUTDIR/<case>/, and a manifest OUTDIR/cases.tsv with one line per case:

    name  kind  code  file  line  [side]

kind is "structural" (the mount must fail naming code, file and line),
"message" (the mount works; exactly one message is unreadable, named by its
primary file and first line; every other message reads fine) or "side" (a
DIRECTORY error: the mount works, no message is unreadable). side, when
present, lists the side files (paths below the mount, separated by "|") whose
reads must fail. A case named "good" holds a valid extract for comparison.

Usage: make_broken_iff.py OUTDIR
"""

import os
import sys

MAIL_COLS = ("Folder,Sender,To,Cc,Bcc,Subject,Send-Date,Received-Date,"
             "Priority,Unread,Unsent,Body")
PAB_COLS = ("Obj-class,Display-Name,Email-Address,First,Last,Address,City,State,"
            "Zip,Country,Title,Company,Department,Office,Assistant,Bus-Num,Bus2-Num,"
            "Assist-Num,Fax-Num,Home-Num,Home2-Num,Mobile-Num,Pager-Num,Note")
SEC_COLS = "Type,Length,Encoding,Islast,Name,Position,Format"
CRLF = "\r\n"


class Sec:
    """A secondary file under construction; Add returns the header offset."""

    def __init__(self):
        self.data = (SEC_COLS + CRLF).encode("ascii")

    def raw(self, header, payload, separator=CRLF):
        at = len(self.data)
        if isinstance(payload, str):
            payload = payload.encode("cp1252")
        self.data += header.encode("ascii") + b"\r\n" + payload + separator.encode("ascii")
        return at

    def add(self, kind, payload, last, name="", position="", fmt=""):
        if isinstance(payload, str):
            payload = payload.encode("cp1252")
        header = "%s,%d,,%s,%s,%s,%s" % (kind, len(payload), "TRUE" if last else "FALSE",
                                         name, position, fmt)
        return self.raw(header, payload)


def row(body, **fields):
    values = ["Inbox", "Sam [SMTP:sam@example.com]", "Rita [SMTP:rita@example.com]", "", "",
              "Hello", "20030101120000", "20030101120100", "", "", "", body]
    names = ["folder", "sender", "to", "cc", "bcc", "subject", "send", "received", "priority",
             "unread", "unsent"]
    for key, value in fields.items():
        values[names.index(key)] = value
    return ",".join(values)


def pkl(entries, codepage="1252"):
    return codepage + CRLF + CRLF + "Filename,Filetype" + CRLF + "".join(e + CRLF for e in entries)


GOOD_PKL = pkl(["T.PRI,Primary", "T.SEC,Secondary"])


def write(folder, files):
    os.makedirs(folder, exist_ok=True)
    for name, content in files.items():
        if isinstance(content, str):
            content = content.encode("cp1252")
        with open(os.path.join(folder, name), "wb") as f:
            f.write(content)


def mail_extract(bad_row_of):
    """A good message (line 3) and a bad one (line 4) in T.PRI."""
    sec = Sec()
    good = row("#T.SEC(%d)" % sec.add("Body", "good body" + CRLF, True))
    bad = bad_row_of(sec)
    pri = "MAILMESSAGE,SMTP:owner@example.com" + CRLF + MAIL_COLS + CRLF + good + CRLF + bad + CRLF
    return {"T.PKL": GOOD_PKL, "T.PRI": pri, "T.SEC": sec.data}


def bad_body(pointer_of):
    return mail_extract(lambda sec: row(pointer_of(sec)))


def good_files():
    return mail_extract(lambda sec: row("#T.SEC(%d)" % sec.add("Body", "second" + CRLF, True),
                                        subject="Second"))


def with_section(section_text):
    """A PAB or DIRECTORY section (lines 1..) followed by a good mailbox."""
    files = good_files()
    files["T.PRI"] = section_text + files["T.PRI"]
    return files


def cases():
    c = []

    def structural(name, code, file, line, files):
        c.append((name, "structural", code, file, line, files, ""))

    def message(name, code, file, line, files, side=""):
        c.append((name, "message", code, file, line, files, side))

    def side(name, code, file, line, files, paths):
        c.append((name, "side", code, file, line, files, paths))

    good = good_files()
    good_pri = good["T.PRI"]
    good_sec = good["T.SEC"]
    c.append(("good", "good", "-", "-", 0, good, ""))

    structural("codepage", "IFF_E_CODEPAGE", "T.PKL", 1,
               {"T.PKL": pkl([], "UNICODE"), "T.PRI": good_pri, "T.SEC": good_sec})
    structural("pkl", "IFF_E_PKL", "T.PKL", 4,
               {"T.PKL": pkl(["T.PRI,Tertiary"]), "T.PRI": good_pri, "T.SEC": good_sec})
    structural("missing_file", "IFF_E_MISSING_FILE", "T.PKL", 6,
               {"T.PKL": pkl(["T.PRI,Primary", "T.SEC,Secondary", "GONE.SEC,Secondary"]),
                "T.PRI": good_pri, "T.SEC": good_sec})
    structural("ambiguous_file", "IFF_E_AMBIGUOUS_FILE", "T.PKL", 5,
               {"T.PKL": GOOD_PKL, "T.PRI": good_pri, "T.SEC": good_sec, "t.sec": good_sec})
    structural("bad_name", "IFF_E_BAD_NAME", "T.PKL", 5,
               {"T.PKL": pkl(["T.PRI,Primary", "..,Secondary"]), "T.PRI": good_pri,
                "T.SEC": good_sec})
    structural("eol", "IFF_E_EOL", "T.PRI", 0,
               {"T.PKL": GOOD_PKL, "T.PRI": good_pri[:-2], "T.SEC": good_sec})
    structural("quote_column_line", "IFF_E_QUOTE", "T.PRI", 2,
               {"T.PKL": GOOD_PKL, "T.PRI": "MAILMESSAGE,SMTP:o@example.com" + CRLF +
                '"Folder,Sender' + CRLF, "T.SEC": good_sec})
    structural("unknown_section", "IFF_E_UNKNOWN_SECTION", "T.PRI", 1,
               {"T.PKL": GOOD_PKL, "T.PRI": "CALENDAR,x" + CRLF + good_pri, "T.SEC": good_sec})
    structural("section_arg", "IFF_E_SECTION_ARG", "T.PRI", 1,
               {"T.PKL": GOOD_PKL, "T.PRI": "MAILMESSAGE" + CRLF + MAIL_COLS + CRLF,
                "T.SEC": good_sec})
    structural("bad_header", "IFF_E_BAD_HEADER", "T.PRI", 2,
               {"T.PKL": GOOD_PKL, "T.PRI": "MAILMESSAGE,SMTP:o@example.com" + CRLF +
                "Folder,Sender,Subject,Body" + CRLF, "T.SEC": good_sec})
    structural("sec_file_header", "IFF_E_SEC_FILE_HEADER", "T.SEC", 1,
               {"T.PKL": GOOD_PKL, "T.PRI": good_pri,
                "T.SEC": b"Type,Length" + good_sec[len(SEC_COLS):]})

    message("quote", "IFF_E_QUOTE", "T.PRI", 4,
            mail_extract(lambda s: row("#T.SEC(50)", subject='"open')))
    message("field_count", "IFF_E_FIELD_COUNT", "T.PRI", 4,
            mail_extract(lambda s: row("#T.SEC(50)") + ",extra"))
    message("field_value", "IFF_E_FIELD_VALUE", "T.PRI", 4,
            mail_extract(lambda s: row("#T.SEC(50)", priority="7")))
    message("date", "IFF_E_DATE", "T.PRI", 4,
            mail_extract(lambda s: row("#T.SEC(50)", send="20030230120000")))
    message("folder", "IFF_E_FOLDER", "T.PRI", 4,
            mail_extract(lambda s: row("#T.SEC(50)", folder="Projects\\\\Alpha")))
    message("pointer", "IFF_E_POINTER", "T.PRI", 4, bad_body(lambda s: "#T.SEC"))
    message("bad_name_pointer", "IFF_E_BAD_NAME", "T.PRI", 4,
            bad_body(lambda s: "#../T.SEC(50)"))
    files = bad_body(lambda s: "#U.SEC(50)")
    files["U.SEC"] = files["T.SEC"]
    message("not_listed", "IFF_E_NOT_LISTED", "T.PRI", 4, files)
    message("offset", "IFF_E_OFFSET", "T.PRI", 4, bad_body(lambda s: "#T.SEC(999999)"))
    message("sec_header", "IFF_E_SEC_HEADER", "T.PRI", 4,
            bad_body(lambda s: "#T.SEC(%d)" % s.raw("Body,5,,TRUE,,", "short")))
    message("sec_type", "IFF_E_SEC_TYPE", "T.PRI", 4,
            bad_body(lambda s: "#T.SEC(%d)" % s.add("Attachment", "x", True, "a.bin")))
    message("length", "IFF_E_LENGTH", "T.PRI", 4,
            bad_body(lambda s: "#T.SEC(%d)" % s.raw("Body,999999,,TRUE,,,", "short")))
    message("chain", "IFF_E_CHAIN", "T.PRI", 4,
            bad_body(lambda s: "#T.SEC(%d)" % s.add("Body", "x", False)))
    # DIRECTORY errors: no folder or message comes from the section; the root's
    # Directory.csv and Directory.vcf are unreadable; the error names the row.
    directory_files = "Directory.csv|Directory.vcf"
    side("escape", "IFF_E_ESCAPE", "T.PRI", 4, with_section(
        "DIRECTORY" + CRLF + "Obj-class,Mode,Common-Name" + CRLF + "mailbox,create,ok" + CRLF +
        "mailbox,create,a\\tb" + CRLF), directory_files)
    side("dir_mode", "IFF_E_DIR_MODE", "T.PRI", 3, with_section(
        "DIRECTORY" + CRLF + "Obj-class,Mode,Common-Name" + CRLF + "mailbox,modify,x" + CRLF),
        directory_files)
    # A PAB error: the synthetic message (keyed by its section line, 1) and the
    # mailbox's vCard file are unreadable.
    message("pab_class", "IFF_E_PAB_CLASS", "T.PRI", 3, with_section(
        "PAB,SMTP:owner@example.com" + CRLF + PAB_COLS + CRLF + "person,Bad,SMTP:b@example.com" +
        CRLF + CRLF), "SMTP:owner@example.com/Personal Address Book.vcf")
    return c


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "cases.tsv"), "w") as manifest:
        for name, kind, code, file, line, files, side in cases():
            write(os.path.join(out, name), files)
            fields = [name, kind, code, file, str(line)] + ([side] if side else [])
            manifest.write("\t".join(fields) + "\n")


if __name__ == "__main__":
    main()
