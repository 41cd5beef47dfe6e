#!/usr/bin/python3
"""What pffexport, readpst and pst-extractor report for a PST file, compared
folder by folder: folder tree, messages per folder, subjects, attachment
names and bytes. Exit status 1 on a disagreement that is not one of the
known, explained ones (each tool behaviour is named where it is handled).

A sample file (test_pst_mount.sh), against its mailfs mount; one line per
check:
  pst_compare_readers.py MOUNT PFFEXPORT_DIR READPST_DIR EXTRACTOR_TXT|-
    PFFEXPORT_DIR  the .export directory of `pffexport -q [-m all -f all]`
    READPST_DIR    the output directory of `readpst -j 0 [-r] -e -D -8`
    EXTRACTOR_TXT  output of shared/tools/pst_tree_extractor.js ("-": none)

A file that mailfs wrote, against the tree of .eml files copied into it
(test_pst_write.sh, test_imap_pst_roundtrip.sh); one line per judge, one per
disagreement (naming folder, message and judge), one per folder matched by
content rather than by name:
  pst_compare_readers.py --source SRC [--new-file] [--mount MNT]
      [--pffexport PFFEXPORT_DIR] [--readpst READPST_DIR] [--extractor JSONL]
    SRC, MNT     directories of .eml files with mailfs's folder escapes (the
                 source or a mount of it; a mailfs mount of the written file)
    JSONL        output of tests/integration/pst_extractor_dump.js
    --new-file   the file was made by -o create: its own empty Deleted Items
                 at the top is expected when SRC has none
  Folder names are mapped to each tool's directory names by the tool's own
  sanitising rules (PffNaming, RpNaming); where the name a tool gives depends
  on the order of siblings in the file (names that sanitise alike, '.',
  '..'), siblings are matched by content: their subjects and those below.
"""
import email
import email.header
import email.policy
import email.utils
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


# The item directories pffexport makes (export_handle.c: "%s%05d" with the
# item type's prefix); a folder is never one (folders are exported first).
PFF_ITEM_DIR = re.compile(r"^(Activity|Appointment|Contact|DistributionList|Document|Message|Meeting|Note"
                          r"|Feed|Item|Task)\d{5}$")


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
            if PFF_ITEM_DIR.match(e):
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


def extractor(txt_path, ipm_names, comps):
    """folder -> sorted [(subject, attachment count)] or None (cannot open);
    comps gets each folder's name components. Reads the text of
    shared/tools/pst_tree_extractor.js (whose "/" between names is ambiguous)
    or the JSON lines of pst_extractor_dump.js."""
    with open(txt_path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    if lines and lines[0].startswith("{"):
        import json
        tree = {}
        for line in lines:
            o = json.loads(line)
            path = o.get("path", [])
            if o["t"] == "E" and not path:
                return None
            if o["t"] == "E" or len(path) < 1 or path[0] not in ipm_names:
                continue
            key = "/".join(mailname.escape_folder(c) for c in path[1:])
            comps[key] = tuple(path[1:])
            items = tree.setdefault(key, [])
            if o["t"] == "M":
                items.append((o["subject"], len(o["atts"])))
        return {k: sorted(v) for k, v in tree.items()}
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
                comps[current] = tuple(parts[2:])
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


def readpst_dirs(out_dir):
    """Every folder directory readpst made: key -> name components."""
    stores = [d for d in os.listdir(out_dir) if os.path.isdir(os.path.join(out_dir, d))]
    out = {"": ()}
    if len(stores) == 1:
        root = os.path.join(out_dir, stores[0])
        for top, dirs, files in os.walk(root):
            rel = os.path.relpath(top, root)
            if rel != ".":
                out[rel] = tuple(rel.split(os.sep))
    return out


def rekey(label, mine, theirs, comps, naming, drops_empty_leaves=False):
    """theirs (a tool's folder -> items) under the mount's folder names:
    each tool directory mapped to a folder of the mount by the tool's
    naming rule, or by content where the rule leaves the order of siblings
    open (match_children). A directory left unmatched keeps its own name
    with a '?' before it, so that the folder sets differ."""
    def build(keys_comps, items_of, unescape):
        root = Folder("")
        root.key = ""
        for key, parts in sorted(keys_comps.items(), key=lambda kv: len(kv[1])):
            node = root
            for c in parts:
                node = node.child(mailname.unescape_folder(c) if unescape else c)
            node.key = key
            node.items = [(x[0], ()) for x in items_of.get(key, [])]
        return root

    src = build({k: tuple(k.split("/")) if k else () for k in mine}, mine, True)
    got = build(comps, theirs, False)
    judge = Judge(label, got, naming, drops_empty_leaves=drops_empty_leaves)
    pairs = [((), src, got)]
    i = 0
    while i < len(pairs):
        match_children(judge, pairs[i][1], pairs[i][2], pairs[i][0], pairs)
        i += 1
    to_mine = {g.key: s.key for _, s, g in pairs if hasattr(g, "key") and hasattr(s, "key")}
    for line in judge.by_content:
        print("note  %s: matched by content: %s" % (label, line))
    return {to_mine.get(k, "?" + k): v for k, v in theirs.items()}


def main_samples(argv):
    mount, pff_dir, rp_dir, ext_txt = argv[:4]
    # EXCLUDE (a folder of the mount, '/' between names): left out of the
    # comparison (a tree that mailfs wrote into a sample, compared with its
    # source by --source ... --subtree EXCLUDE).
    exclude = argv[4] if len(argv) > 4 else None
    ipm_names = ("Top of Personal Folders", "Top of Outlook data file", "Top of Information Store", "IPM_SUBTREE")
    mine = ours(mount)
    if exclude:
        kept = lambda d: {k: v for k, v in d.items() if k != exclude and not k.startswith(exclude + "/")}
    else:
        kept = lambda d: d
    mine_all, mine = mine, kept(mine)
    print("# mailfs: %d folders, %d messages" % (len(mine), sum(len(v) for v in mine.values())))

    pff = pffexport(pff_dir, ipm_names)
    report(pff is not None, "pffexport: IPM subtree exported")
    if pff is not None:
        pff = kept(rekey("pffexport", mine_all, pff, {k: tuple(k.split("/")) if k else () for k in pff}, PffNaming))
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
    rp = kept(rekey("readpst", mine_all, rp, readpst_dirs(rp_dir), RpNaming, drops_empty_leaves=True))
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
        comps = {}
        ext = extractor(ext_txt, ipm_names, comps)
        if ext is not None:
            ext = kept(rekey("pst-extractor", mine_all, ext, comps, ExactNaming))
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


# ---------------------------------------------------------------------------
# Files that mailfs wrote: every judge against the source tree that was
# copied in (pst_compare_readers.py --source SRC ...).

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import mailname  # noqa: E402  (design.md §3 header decoding, folder escapes)


def norm(text):
    """A subject as every judge can show it: CR, LF and TAB runs as one space
    (OutlookHeaders.txt is one line a field, readpst folds long headers), no
    space at either end."""
    return re.sub(r"[ \t\r\n]+", " ", text).strip(" ")


def raw_bytes(text):
    """The bytes a compat32 header value or parameter came from."""
    return text.encode("utf-8", "surrogateescape")


def unfold(value):
    return re.sub(rb"\r?\n(?=[ \t])", b"", value)


def part_name(part):
    """The attachment name of a MIME part: filename (RFC 2231 joined, RFC 2047
    words decoded, raw 8-bit read as UTF-8), else the Content-Type name."""
    name = None
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        values = [v for k, v in part.get_params([], header=header)[1:] if k.lower() == param]
        # The RFC 2231 form (a tuple here) before a plain one of the same
        # name: readpst writes both, the plain one in raw UTF-8.
        values.sort(key=lambda v: not isinstance(v, tuple))
        if values:
            name = values[0]
            break
    if name is None:
        return ""
    if isinstance(name, tuple):
        return email.utils.collapse_rfc2231_value(name, errors="replace")
    name = email.utils.unquote(name)
    return mailname.decode_subject(unfold(raw_bytes(name)))


def subject_of_msg(msg):
    raw = msg.get("Subject")
    return norm(mailname.decode_subject(unfold(raw_bytes(str(raw))))) if raw is not None else ""


def mime_attachments(msg):
    """What a message's MIME structure holds besides its body, the way
    pst-writing.md §13 maps it: every leaf part except the first inline
    text/plain and the first inline text/html without a file name.
    [("file", name, sha) | ("message", "", inner subject)], sorted."""
    seen = {"plain": False, "html": False}
    out = []

    def visit(part):
        ctype = part.get_content_type()
        if ctype == "message/rfc822" and part.is_multipart():
            inner = part.get_payload(0)
            out.append(("message", "", subject_of_msg(inner)))
            return
        maintype, subtype = ctype.split("/", 1)
        if maintype == "multipart":
            # (no parts at all: readpst writes an empty body so)
            for sub in part.get_payload() if part.is_multipart() else []:
                visit(sub)
            return
        body = (maintype == "text" and part.get_content_disposition() != "attachment"
                and part.get_filename() is None)
        if body and subtype in ("plain", "html") and not seen[subtype]:
            seen[subtype] = True
            return
        out.append(("file", part_name(part), sha(part.get_payload(decode=True) or b"")))

    visit(msg)
    return sorted(out)


def eml_item(data):
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    fields = mailname.header_fields(mailname.header_block(data))
    raw = mailname.first_field(fields, "subject")
    subject = norm(mailname.decode_subject(raw)) if raw is not None else ""
    return (subject, tuple(mime_attachments(msg)))


class Folder:
    """A folder as one reader shows it: its name there, its items
    [(subject, attachments)] and its children by name."""

    def __init__(self, name):
        self.name = name
        self.items = []
        self.children = {}
        self._sig = None

    def child(self, name):
        return self.children.setdefault(name, Folder(name))

    def signature(self):
        """Content without names: subjects here and in every subfolder."""
        if self._sig is None:
            self._sig = (tuple(sorted(s for s, _ in self.items)),
                         tuple(sorted(c.signature() for c in self.children.values())))
        return self._sig

    def total(self):
        return len(self.items) + sum(c.total() for c in self.children.values())

    def walk(self, path=()):
        yield path, self
        for name in sorted(self.children):
            yield from self.children[name].walk(path + (name,))


def tree_of_emls(top, unescape):
    """A directory of .eml files (the source, a mailfs mount) as a Folder tree;
    unescape: the mailfs folder escapes (design.md §3) are undone."""
    root = Folder("")
    for d, dirs, files in os.walk(top):
        rel = os.path.relpath(d, top)
        node = root
        if rel != ".":
            for comp in rel.split(os.sep):
                node = node.child(mailname.unescape_folder(comp) if unescape else comp)
        for f in sorted(files):
            if f.endswith(".eml"):
                with open(os.path.join(d, f), "rb") as fh:
                    node.items.append(eml_item(fh.read()))
    return root


# -- pffexport (libpff pfftools/export_handle.c, libcpath sanitising) ---------

def pff_sanitize(name):
    """pffexport's file names: bytes 0x01-0x1F and 0x7F and the characters
    / \\ ! $ % & * + : ; < > ? @ | ~ each become '_'; everything else,
    non-ASCII included, stays."""
    return re.sub(r"[\x01-\x1f\x7f/\\!$%&*+:;<>?@|~]", "_", name)


class PffNaming:
    """pffexport's folder directories (export_handle_get_folder_name and
    export_handle_export_folder): the sanitised display name; when that is
    empty or already exists ('.', '..', an earlier sibling that sanitises
    alike) Folder%05d with the folder's index in the hierarchy table, which
    depends on the order of the siblings there."""

    @staticmethod
    def base(name):
        return pff_sanitize(name)

    @staticmethod
    def alone(name):
        s = pff_sanitize(name)
        return None if s in ("", ".", "..") else s

    @staticmethod
    def fallback(name, dirname):
        return re.fullmatch(r"Folder\d{5}", dirname) is not None


def pff_item(item_dir):
    def subject_in(d):
        for f in ("OutlookHeaders.txt", "Appointment.txt", "Contact.txt", "Task.txt", "Meeting.txt"):
            p = os.path.join(d, f)
            if os.path.exists(p):
                with open(p, "rb") as fh:
                    text = fh.read().decode("utf-8", "replace")
                m = re.search(r"^Subject:\t+(.*?)\n(?=[A-Z][A-Za-z ]*:\t|\Z)", text, re.M | re.S)
                return norm(m.group(1)) if m else ""
        return ""

    atts = []
    ad = os.path.join(item_dir, "Attachments")
    if os.path.isdir(ad):
        for a in sorted(os.listdir(ad)):
            ap = os.path.join(ad, a)
            if os.path.isdir(ap):
                # An embedded message: Attachment%05d/<its item directory>.
                inner = [os.path.join(ap, e) for e in sorted(os.listdir(ap)) if PFF_ITEM_DIR.match(e)]
                atts.append(("message", "", subject_in(inner[0]) if inner else ""))
            else:
                with open(ap, "rb") as fh:
                    atts.append(("file", re.sub(r"^\d+_", "", a), sha(fh.read())))
    return (subject_in(item_dir), tuple(sorted(atts)))


def tree_of_pffexport(export_dir):
    roots = [os.path.join(export_dir, n) for n in IPM_NAMES if os.path.isdir(os.path.join(export_dir, n))]
    if len(roots) != 1:
        return None
    root = Folder("")

    def walk(d, node):
        for e in sorted(os.listdir(d)):
            p = os.path.join(d, e)
            if not os.path.isdir(p):
                continue
            if PFF_ITEM_DIR.match(e):
                node.items.append(pff_item(p))
            else:
                walk(p, node.child(e))
    walk(roots[0], root)
    return root


def pff_subject(subject):
    """pffexport skips the first two bytes of a subject whose first byte is
    below 0x20 (export_handle_export_message_subject_to_item_file: 'ignore
    the subject control codes', the 0x01 prefix-length marker), and it
    compares a signed char, so a subject that starts with a non-ASCII
    character (UTF-8 lead byte >= 0x80) loses two bytes too: the whole of a
    two-byte character, two thirds of a longer one."""
    raw = subject.encode("utf-8")
    if raw and (raw[0] < 0x20 or raw[0] >= 0x80):
        dropped = raw[2:].decode("utf-8", "replace")
        known.add("pffexport drops the first two UTF-8 bytes of a subject that starts with a non-ASCII "
                  "character (a signed-char test for control codes in export_handle.c)")
        return norm(dropped)
    return subject


def pff_attachment_name(name):
    """pffexport writes an attachment as <n>_<sanitised long file name>, and as
    <n>_Attachment.txt when it has no long file name (the <n>_ goes before the
    comparison)."""
    return pff_sanitize(name) if name else "Attachment.txt"


# -- readpst (libpst src/readpst.c, -e: mk_separate_dir, check_filename) -------

def rp_sanitize(name):
    """readpst's check_filename: '/', '\\' and ':' become '_'."""
    return re.sub(r"[/\\:]", "_", name)


class RpNaming:
    """readpst -e's folder directories (mk_separate_dir): the sanitised name;
    while mkdir fails because it exists ('.', '..', an earlier sibling that
    sanitises alike) it tries the name with 1, 2, ... appended, so which
    sibling gets which name depends on the order of the hierarchy table."""

    @staticmethod
    def base(name):
        return rp_sanitize(name)

    @staticmethod
    def alone(name):
        s = rp_sanitize(name)
        return s + "1" if s in (".", "..") else (s or None)

    @staticmethod
    def fallback(name, dirname):
        return re.fullmatch(re.escape(rp_sanitize(name)) + r"\d+", dirname) is not None


class ExactNaming:
    """Readers that report the display names themselves."""

    @staticmethod
    def base(name):
        return name

    @staticmethod
    def alone(name):
        return name

    @staticmethod
    def fallback(name, dirname):
        return False


def rp_item(path):
    with open(path, "rb") as fh:
        data = fh.read()
    # readpst writes an embedded message as its mbox form (write_embedded_message
    # calls write_normal_email in MODE_NORMAL): the part starts with a
    # '>From "sender" date' separator line before the headers.
    data = re.sub(rb"(Content-Type: message/rfc822\r?\n\r?\n)>From [^\n]*\n", rb"\1", data)
    return eml_item(data)


def tree_of_readpst(out_dir):
    stores = [d for d in os.listdir(out_dir) if os.path.isdir(os.path.join(out_dir, d))]
    root = Folder("")
    if not stores:
        return root
    if len(stores) != 1:
        return None
    base = os.path.join(out_dir, stores[0])
    for d, dirs, files in os.walk(base):
        rel = os.path.relpath(d, base)
        node = root
        if rel != ".":
            for comp in rel.split(os.sep):
                node = node.child(comp)
        for f in sorted(files):
            if f.endswith(".eml"):
                node.items.append(rp_item(os.path.join(d, f)))
    return root


def rp_attachment_name(name):
    """The name a MIME parser reads from readpst's part for an attachment
    whose long file name is name. readpst writes (write_inline_attachment)
    filename*=utf-8''<name> with only the bytes <= 32 of a signed char
    percent-encoded ("%2x": non-ASCII, space, controls; other characters,
    ' ( ) ; % * included, stay raw) and filename="<name>" with " and \
    backslash-escaped; it is read back here the way the source is."""
    if not name:
        return ""
    enc = "".join("%" + ("%2x" % b) if b <= 32 or b >= 128 else chr(b) for b in name.encode("utf-8"))
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    head = ("Content-Type: application/octet-stream\nContent-Disposition: attachment; \n"
            "        filename*=utf-8''%s;\n        filename=\"%s\"\n\n" % (enc, quoted))
    return part_name(email.message_from_bytes(head.encode("utf-8", "surrogateescape"),
                                              policy=email.policy.compat32))


EMPTY_SHA = sha(b"")


def rp_attachments(atts):
    """readpst leaves out an attachment of 0 bytes: write_inline_attachment()
    finds neither data nor a data id for it and returns without a part."""
    kept = [a for a in atts if not (a[0] == "file" and a[2] == EMPTY_SHA)]
    if len(kept) != len(atts):
        known.add("readpst writes no MIME part for an attachment of 0 bytes")
    return kept


# -- pst-extractor (pst_extractor_dump.js) -------------------------------------

def tree_of_extractor(jsonl_path, errors):
    import json
    root = Folder("")
    ipm = None
    with open(jsonl_path, encoding="utf-8") as fh:
        for line in fh:
            o = json.loads(line)
            path = o.get("path", [])
            if o["t"] == "E":
                errors.append("/".join(path) + ": " + o["error"])
                continue
            if len(path) < 1 or path[0] not in IPM_NAMES:
                continue
            if ipm is None:
                ipm = path[0]
            node = root
            for comp in path[1:]:
                node = node.child(comp)
            if o["t"] == "M":
                atts = []
                for a in o["atts"]:
                    if a["method"] == 5:
                        atts.append(("message", "", NO_EMBEDDED if a["inner"] is None else norm(a["inner"])))
                    else:
                        atts.append(("file", a["name"], a["sha"]))
                node.items.append((norm(o["subject"]), tuple(sorted(atts))))
    return root if ipm is not None else None


# pst-extractor 1.12 returns no embedded message: PSTAttachment.embeddedPSTMessage
# needs the attachment's descriptor node, and attachments are built without
# one (prePopulate(null, ...)). Its embedded messages are compared by attach
# method alone.
NO_EMBEDDED = "(an embedded message pst-extractor cannot open)"


def ext_atts_view(atts):
    out = []
    for k, n, h in atts:
        if k == "message":
            known.add("pst-extractor 1.12 opens no embedded message (attachments get no descriptor node): "
                      "its embedded messages are compared by attach method only")
            h = NO_EMBEDDED
        out.append((k, n, h))
    return out


IPM_NAMES = ("Top of Personal Folders", "Top of Outlook data file", "Top of Information Store", "IPM_SUBTREE")


# -- matching and comparing -----------------------------------------------------

class Judge:
    def __init__(self, name, tree, naming=ExactNaming, att_name_ok=None, drops_empty_leaves=False,
                 subject_view=None, atts_view=None):
        self.name = name
        self.tree = tree
        self.naming = naming
        self.att_name_ok = att_name_ok or (lambda mine, theirs: mine == theirs)
        self.drops_empty_leaves = drops_empty_leaves
        self.subject_view = subject_view or (lambda s: s)
        self.atts_view = atts_view or (lambda atts: atts)
        self.by_content = []
        self.problems = []


def match_children(judge, src, got, path, pairs):
    """Pairs each source child of src with a child directory of got. A name
    whose directory the tool's rule fixes (no sibling can take it first) must
    be there under that name. The others -- the tool's name depends on the
    order of the siblings in the hierarchy table -- are matched among the
    directories the rule allows for them by content (subjects here and
    below), and reported as matched so."""
    naming = judge.naming
    wanted = {n: c for n, c in src.children.items()
              if not (judge.drops_empty_leaves and not c.items and not c.children)}
    groups = {}
    for n in wanted:
        groups.setdefault(naming.base(n), []).append(n)
    ordered = {n for n in wanted if naming.alone(n) is None or len(groups[naming.base(n)]) > 1}
    changed = True
    while changed:
        changed = False
        for n in wanted:
            if n not in ordered and any(naming.fallback(m, naming.alone(n)) for m in ordered):
                ordered.add(n)
                changed = True
    free = dict(got.children)
    where = lambda n: "/" + "/".join(path + (n,))
    for n in sorted(set(wanted) - ordered):
        d = naming.alone(n)
        if d in free:
            pairs.append((path + (n,), wanted[n], free.pop(d)))
        else:
            judge.problems.append("%s: missing (expected as %r)" % (where(n), d))
    def options(n):
        return [d for d in free if d == naming.base(n) or d == naming.alone(n) or naming.fallback(n, d)]
    for n in sorted(ordered, key=lambda n: (len(options(n)), n)):
        opts = options(n)
        if not opts:
            judge.problems.append("%s: missing (no directory its rule allows is left)" % where(n))
            continue
        same = [d for d in opts if free[d].signature() == wanted[n].signature()]
        pick = (same or opts)[0]
        judge.by_content.append("%s as %r%s" % (where(n), pick, "" if same else
                                                " (no candidate has the same content)"))
        pairs.append((path + (n,), wanted[n], free.pop(pick)))
    for d in sorted(free):
        judge.problems.append("%s: folder %r has no source folder" % ("/" + "/".join(path), d))


def compare_items(judge, path, src, got):
    where = "/" + "/".join(path)
    if len(src.items) != len(got.items):
        judge.problems.append("%s: %d messages, source %d" % (where, len(got.items), len(src.items)))
    a = sorted(s for s, _ in src.items)
    b = sorted(s for s, _ in got.items)
    if a != b:
        only_a = sorted(set(a) - set(b))[:3]
        only_b = sorted(set(b) - set(a))[:3]
        judge.problems.append("%s: subjects differ; only in the source %r, only in %s %r"
                              % (where, only_a, judge.name, only_b))
        return
    # Attachments, message by message (messages of one subject in any order).
    rest = {}
    for s, atts in got.items:
        rest.setdefault(s, []).append(atts)
    for s, atts in src.items:
        pool = rest.get(s, [])
        for i, cand in enumerate(pool):
            if same_atts(atts, cand, judge.att_name_ok):
                del pool[i]
                break
        else:
            judge.problems.append("%s: message %r: attachments %s, %s shows %s"
                                  % (where, s, show_atts(atts), judge.name,
                                     " or ".join(show_atts(c) for c in pool) or "none"))


def same_atts(mine, theirs, name_ok):
    rest = list(theirs)
    for kind, name, h in mine:
        for i, (k, n, d) in enumerate(rest):
            if k == kind and d == h and (kind == "message" or name_ok(name, n)):
                del rest[i]
                break
        else:
            return False
    return not rest


def show_atts(atts):
    return "[%s]" % ", ".join(("%r %s" % (n, h)) if k == "file" else "message %r" % h for k, n, h in atts)


def view_of(judge, folder):
    """The source as this judge can show it (its known, explained
    limitations applied to subjects and attachments)."""
    v = Folder(folder.name)
    for subject, atts in folder.items:
        atts = [(k, n, judge.subject_view(h) if k == "message" else h) for k, n, h in atts]
        v.items.append((judge.subject_view(subject), tuple(sorted(judge.atts_view(atts)))))
    for name, c in folder.children.items():
        v.children[name] = view_of(judge, c)
    return v


def compare_judge(judge, source, new_file):
    if judge.tree is None:
        if not judge.problems:
            judge.problems.append("the IPM subtree is missing from its output")
        return 0
    source = view_of(judge, source)
    pairs = [((), source, judge.tree)]
    i = 0
    while i < len(pairs):
        path, s, g = pairs[i]
        compare_items(judge, path, s, g)
        if not path and new_file and "Deleted Items" not in s.children:
            # A file that -o create made has Outlook's empty Deleted Items.
            d = g.children.get(judge.naming.alone("Deleted Items"))
            if d is not None and not d.items and not d.children:
                g = Folder(g.name)
                g.items = pairs[i][2].items
                g.children = {k: v for k, v in pairs[i][2].children.items() if v is not d}
        match_children(judge, s, g, path, pairs)
        i += 1
    return len(pairs)


def descend(judge, subtree):
    """The judge's folder at subtree (mailfs names, '/' between them), each
    name found by the judge's rule (names whose directory depends on the
    order of siblings cannot be part of it); None when it is missing."""
    node = judge.tree
    for comp in subtree.split("/"):
        name = mailname.unescape_folder(comp)
        node = node.children.get(judge.naming.alone(name)) if node is not None else None
    if node is None:
        judge.problems.append("the folder /%s is missing" % subtree)
    return node


def main_written(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="pst_compare_readers.py --source")
    ap.add_argument("--source", required=True)
    ap.add_argument("--mount")
    ap.add_argument("--pffexport")
    ap.add_argument("--readpst")
    ap.add_argument("--extractor")
    ap.add_argument("--subtree", default="",
                    help="compare SRC with this folder of the file (mailfs names, '/' between them)")
    ap.add_argument("--new-file", action="store_true",
                    help="the file was made by -o create (an empty Deleted Items of its own)")
    a = ap.parse_args(argv)
    source = tree_of_emls(a.source, True)
    nfolders = sum(1 for _ in source.walk())
    natts = sum(len(x[1]) for _, f in source.walk() for x in f.items)
    print("# source: %d folders, %d messages, %d attachments" % (nfolders, source.total(), natts))
    judges = []
    if a.mount:
        judges.append(Judge("mailfs", tree_of_emls(a.mount, True)))
    if a.pffexport:
        judges.append(Judge("pffexport", tree_of_pffexport(a.pffexport), PffNaming,
                            lambda mine, theirs: pff_attachment_name(mine) == theirs,
                            subject_view=pff_subject))
    if a.readpst:
        # readpst writes no directory for a folder without messages and
        # subfolders (readpst.c process(): it recurses into a folder only
        # when it has child nodes).
        judges.append(Judge("readpst", tree_of_readpst(a.readpst), RpNaming,
                            lambda mine, theirs: rp_attachment_name(mine) == theirs,
                            drops_empty_leaves=True, atts_view=rp_attachments))
    if a.extractor:
        errors = []
        tree = tree_of_extractor(a.extractor, errors)
        j = Judge("pst-extractor", tree, atts_view=ext_atts_view)
        j.problems += ["unreadable: " + e for e in errors]
        judges.append(j)
    bad = 0
    for j in judges:
        if a.subtree and j.tree is not None:
            j.tree = descend(j, a.subtree)
        n = compare_judge(j, source, a.new_file and not a.subtree)
        for line in j.by_content:
            print("note  %s: matched by content: %s" % (j.name, line))
        if j.problems:
            bad += 1
            for p in j.problems[:40]:
                print("FAIL  %s: %s" % (j.name, p))
            if len(j.problems) > 40:
                print("FAIL  %s: ... and %d more" % (j.name, len(j.problems) - 40))
        else:
            shown = sum(len(x[1]) for _, f in j.tree.walk() for x in f.items)
            print("ok    %s: %d folders, %d messages, %d attachments: folders, counts, subjects, "
                  "attachment names and bytes as in the source" % (j.name, n, j.tree.total(), shown))
    for k in sorted(known):
        print("known " + k)
    return 1 if bad else 0


def main():
    if len(sys.argv) > 1 and sys.argv[1].startswith("--"):
        return main_written(sys.argv[1:])
    return main_samples(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
