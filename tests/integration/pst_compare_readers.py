#!/usr/bin/python3
"""Compares a PST mount with what pffexport, readpst and pst-extractor report
for the same file: folder tree, messages per folder, subjects, attachment
names and bytes. Prints one line per check and a final verdict; exit status 1
on a disagreement that is not one of the known, explained ones.

usage: pst_compare_readers.py MOUNT PFFEXPORT_DIR READPST_DIR EXTRACTOR_TXT|-
  PFFEXPORT_DIR  the .export directory of `pffexport -q -m all -f all`
  READPST_DIR    the output directory of `readpst -j 0 -r -e -D -8`
  EXTRACTOR_TXT  output of shared/tools/pst_tree_extractor.js ("-": none)
"""
import email
import email.header
import email.policy
import hashlib
import os
import re
import sys

failures = []


def report(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def sha(data):
    return hashlib.sha256(data).hexdigest()[:16]


# Parts that mailfs adds for a non-mail item (the item itself as vCard or
# iCalendar), not attachments stored in the PST.
ITEM_CLASSES = ("ipm.contact", "ipm.distlist", "ipm.appointment", "ipm.task", "ipm.schedule.meeting")


def attachments_of(msg, own_item_part):
    """[(name, sha or 'message')] of the top-level attachments of msg."""
    out = []
    skipped_item = not own_item_part
    if not msg.is_multipart():
        return out
    for part in msg.iter_parts():
        if part.get_content_disposition() != "attachment":
            continue
        ctype = part.get_content_type()
        if not skipped_item and ctype in ("text/vcard", "text/calendar"):
            skipped_item = True
            continue
        name = part.get_filename() or ""
        if ctype == "message/rfc822":
            out.append((name, "message"))
        else:
            out.append((name, sha(part.get_payload(decode=True) or b"")))
    return sorted(out)


def ours(mount):
    """folder -> sorted [(subject, attachments)]"""
    tree = {}
    for top, dirs, files in os.walk(mount):
        rel = os.path.relpath(top, mount)
        rel = "" if rel == "." else rel
        items = tree.setdefault(rel, [])
        for f in files:
            if not f.endswith(".eml"):
                continue
            with open(os.path.join(top, f), "rb") as fh:
                m = email.message_from_binary_file(fh, policy=email.policy.default)
            cls = (m.get("X-MS-Message-Class") or "").lower()
            own = any(cls == c or cls.startswith(c + ".") for c in ITEM_CLASSES)
            item = (str(m.get("Subject") or ""), attachments_of(m, own))
            if cls == "ipm.contact" or cls.startswith("ipm.contact."):
                # readpst names a contact by its vCard N (below): ours too.
                for part in m.walk():
                    if part.get_content_type() == "text/vcard":
                        n = re.search(r"^N:(.*)$", part.get_content(), re.M)
                        item = (item[0], item[1], "N:" + (n.group(1).strip() if n else ""))
            items.append(item)
    return {k: sorted(v) for k, v in tree.items()}


ITEM_DIR = re.compile(r"^[A-Z][A-Za-z]*\d{5}$")


def pffexport(export_dir, ipm_names):
    """folder -> sorted [(subject, attachments)] under the IPM subtree."""
    root = None
    for name in ipm_names:
        if os.path.isdir(os.path.join(export_dir, name)):
            root = os.path.join(export_dir, name)
    if root is None:
        return None
    tree = {}

    def subject_of(item_dir):
        for f in ("OutlookHeaders.txt", "Appointment.txt", "Contact.txt", "Task.txt", "Meeting.txt"):
            p = os.path.join(item_dir, f)
            if os.path.exists(p):
                with open(p, encoding="utf-8", errors="replace") as fh:
                    for line in fh:
                        if line.startswith("Subject:"):
                            return line.split(":", 1)[1].strip()
        return ""

    def walk(d, rel):
        items = tree.setdefault(rel, [])
        for e in sorted(os.listdir(d)):
            p = os.path.join(d, e)
            if not os.path.isdir(p):
                continue
            if ITEM_DIR.match(e) and not e.startswith("Attachment"):
                atts = []
                ad = os.path.join(p, "Attachments")
                if os.path.isdir(ad):
                    for a in sorted(os.listdir(ad)):
                        ap = os.path.join(ad, a)
                        if os.path.isdir(ap):
                            atts.append(("", "message"))
                        else:
                            with open(ap, "rb") as fh:
                                atts.append((re.sub(r"^\d+_", "", a), sha(fh.read())))
                items.append((subject_of(p), sorted(atts)))
            else:
                walk(p, (rel + "/" if rel else "") + e)

    walk(root, "")
    return {k: sorted(v) for k, v in tree.items()}


def readpst(out_dir):
    """folder -> sorted [(subject, attachments)], folders with items only."""
    stores = [d for d in os.listdir(out_dir) if os.path.isdir(os.path.join(out_dir, d))]
    if len(stores) != 1:
        return {}
    root = os.path.join(out_dir, stores[0])
    tree = {}
    for top, dirs, files in os.walk(root):
        rel = os.path.relpath(top, root)
        rel = "" if rel == "." else rel
        for f in files:
            p = os.path.join(top, f)
            with open(p, "rb") as fh:
                data = fh.read()
            if f.endswith(".eml"):
                m = email.message_from_bytes(data, policy=email.policy.default)
                item = (str(m.get("Subject") or ""), attachments_of(m, False))
            elif f.endswith(".ics"):
                s = re.search(rb"^SUMMARY[^:]*:(.*)$", data, re.M)
                item = (s.group(1).decode("utf-8", "replace").strip() if s else "", [])
            elif f.endswith(".vcf"):
                # Known: readpst's FN is the contact's "file under" name
                # (PidLidFileUnder, e.g. "Razzaq, Saqib"), not its display
                # name or subject ("Saqib Razzaq", as pffexport and
                # pst-extractor report it); the structured name N is compared.
                s = re.search(rb"^N[;:](.*)$", data, re.M)
                item = ("N:" + (s.group(1).decode("utf-8", "replace").strip() if s else ""), [])
            else:
                continue
            tree.setdefault(rel, []).append(item)
    return {k: sorted(v) for k, v in tree.items()}


def extractor(txt_path, ipm_names):
    """folder -> sorted [(subject, attachment count)] or None (cannot open)."""
    with open(txt_path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    if any(l.startswith("! open failed") for l in lines):
        return None
    tree = {}
    current = None
    for line in lines:
        if line.startswith("F "):
            path = line[2:].split(" | ")[0]
            parts = path.split("/")
            current = None
            if len(parts) >= 2 and parts[1] in ipm_names:
                current = "/".join(parts[2:])
                tree.setdefault(current, [])
        elif line.startswith("  M ") and current is not None:
            m = re.match(r"  M (.*) \| class=.* atts=(\d+) ", line)
            if m:
                tree[current].append((m.group(1), int(m.group(2))))
    return {k: sorted(v) for k, v in tree.items()}


known = set()


def pff_name_ok(mine, theirs):
    """pffexport writes characters other than letters, digits, space and
    ._()- as '_' in the file names it creates."""
    if mine == theirs:
        return True
    if re.sub(r"[^A-Za-z0-9 ._()-]", "_", mine) == theirs:
        known.add("pffexport writes characters such as & ~ ! as '_' in attachment file names")
        return True
    return False


def readpst_name_ok(mine, theirs):
    """readpst writes RFC 2231 file names without percent-encoding ' ( ) ! *,
    so a MIME parser reads them cut short at the first such character."""
    if mine == theirs:
        return True
    if theirs and mine.startswith(theirs.rstrip()) and len(mine) > len(theirs.rstrip()):
        rest = mine[len(theirs.rstrip()):].lstrip()
        if rest[:1] in ("'", "(", ")", "!", "*"):
            known.add("readpst leaves ' ( ) ! * unencoded in RFC 2231 file names (cut short when parsed); "
                      "mailfs serves the stored long file name")
            return True
    return False


def same_attachments(mine, theirs, name_ok):
    """Every attachment matched one to one: same bytes, equivalent name."""
    rest = list(theirs)
    for name, digest in mine:
        for i, (n, d) in enumerate(rest):
            if d == digest and name_ok(name, n):
                del rest[i]
                break
        else:
            return False
    return not rest


def main():
    mount, pff_dir, rp_dir, ext_txt = sys.argv[1:5]
    ipm_names = ("Top of Personal Folders", "Top of Outlook data file", "Top of Information Store", "IPM_SUBTREE")
    mine = ours(mount)
    print("# mailfs: %d folders, %d messages" % (len(mine), sum(len(v) for v in mine.values())))

    pff = pffexport(pff_dir, ipm_names)
    report(pff is not None, "pffexport: IPM subtree exported")
    if pff is not None:
        report(sorted(pff) == sorted(mine), "pffexport: same folder tree (%d folders)" % len(pff))
        for folder in sorted(set(pff) | set(mine)):
            a, b = mine.get(folder, []), pff.get(folder, [])
            report(len(a) == len(b), "pffexport: /%s holds %d messages (mailfs %d)" % (folder, len(b), len(a)))
            report([x[0] for x in a] == [x[0] for x in b], "pffexport: /%s same subjects" % folder)
            # pffexport names embedded messages by number only: compare
            # names of stored files, and the count of embedded messages.
            aa = [(n if h != "message" else "", h) for x in a for n, h in x[1]]
            bb = [y for x in b for y in x[1]]
            report(len(a) == len(b) and all(same_attachments([(n if h != "message" else "", h) for n, h in x[1]],
                                                             y[1], pff_name_ok) for x, y in zip(a, b)),
                   "pffexport: /%s same attachment names and bytes (%d)" % (folder, len(bb)))

    rp = readpst(rp_dir)
    # readpst writes only folders that hold items.
    mine_nonempty = {k: v for k, v in mine.items() if v}
    report(sorted(rp) == sorted(mine_nonempty),
           "readpst: same folders with items (%s)" % ", ".join("/" + k for k in sorted(rp)))
    for folder in sorted(set(rp) | set(mine_nonempty)):
        a, b = mine.get(folder, []), rp.get(folder, [])
        report(len(a) == len(b), "readpst: /%s holds %d items (mailfs %d)" % (folder, len(b), len(a)))
        names_a = sorted(x[2] if len(x) > 2 else x[0] for x in a)
        report(names_a == sorted(x[0] for x in b), "readpst: /%s same subjects" % folder)
        # readpst -e writes an embedded message as a message/rfc822 part or
        # as a file; names of stored files and their bytes are compared.
        fa = sorted(y for x in a for y in x[1] if y[1] != "message")
        fb = sorted(y for x in b for y in x[1] if y[1] != "message")
        report(same_attachments(fa, fb, readpst_name_ok),
               "readpst: /%s same attachment names and bytes (%d files)" % (folder, len(fb)))

    if ext_txt != "-":
        ext = extractor(ext_txt, ipm_names)
        if ext is None:
            # Known: pst-extractor refuses a file without a name-to-id map
            # (NID 0x61); libpff and libpst read it, and so does mailfs.
            print("known pst-extractor cannot open this file (no name-to-id map); not compared")
        else:
            report(sorted(ext) == sorted(mine), "pst-extractor: same folder tree (%d folders)" % len(ext))
            for folder in sorted(set(ext) | set(mine)):
                a, b = mine.get(folder, []), ext.get(folder, [])
                report([x[0] for x in a] == [x[0] for x in b],
                       "pst-extractor: /%s same %d subjects" % (folder, len(b)))
                report([len(x[1]) for x in a] == [x[1] for x in b],
                       "pst-extractor: /%s same attachment counts" % folder)

    for k in sorted(known):
        print("known " + k)
    print("# %d disagreement(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
