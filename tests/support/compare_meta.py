#!/usr/bin/env python3
"""compare_meta.py A B: compares the mtimes (whole seconds) and the
user.mail.flags xattr of every file below A with the file at the same
relative path below B.  Exit 0 when all agree and A is not empty."""
import errno, os, sys
a, b = sys.argv[1], sys.argv[2]
bad = 0
n = 0
def flags(p):
    try:
        return os.getxattr(p, "user.mail.flags")
    except OSError as e:
        if e.errno == errno.ENODATA:
            return None
        raise
for dirpath, dirs, files in os.walk(a):
    for f in files:
        pa = os.path.join(dirpath, f)
        pb = os.path.join(b, os.path.relpath(pa, a))
        n += 1
        sa, sb = os.stat(pa), os.stat(pb)
        if int(sa.st_mtime) != int(sb.st_mtime):
            print("mtime differs: %s %d %d" % (pb, sa.st_mtime, sb.st_mtime)); bad += 1
        fa, fb = flags(pa), flags(pb)
        if (fa or b"") != (fb or b""):
            print("user.mail.flags differs: %s %r %r" % (pb, fa, fb)); bad += 1
print("compare_meta: %d files, %d differences" % (n, bad))
sys.exit(1 if bad or n == 0 else 0)
