#!/usr/bin/env python3
"""copy_logged.py SRC DST LOG: copies every .eml below SRC to the same path
below DST the way cp -a does (write, times on the descriptor, the
user.mail.flags xattr, close), skipping files DST already has, and appends
each file's relative path to LOG (flushed and fsync'ed) only after its
close() returned 0.  Stops at the first error: the crash tests kill the
daemon under it, and only what LOG lists was acknowledged as stored."""
import os
import sys

src, dst, log_path = sys.argv[1:4]
with open(log_path, "a") as log:
    for dirpath, dirs, files in os.walk(src):
        dirs.sort()
        rel_dir = os.path.relpath(dirpath, src)
        target_dir = os.path.normpath(os.path.join(dst, rel_dir))
        try:
            os.makedirs(target_dir, exist_ok=True)
        except OSError as e:
            print("copy_logged: mkdir %s: %s" % (target_dir, e), file=sys.stderr)
            sys.exit(1)
        for name in sorted(files):
            if not name.endswith(".eml"):
                continue
            s = os.path.join(dirpath, name)
            d = os.path.join(target_dir, name)
            if os.path.exists(d):
                continue
            data = open(s, "rb").read()
            st = os.stat(s)
            try:
                flags = os.getxattr(s, "user.mail.flags")
            except OSError:
                flags = None
            try:
                fd = os.open(d, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
                    if flags:
                        os.setxattr(fd, "user.mail.flags", flags)
                finally:
                    os.close(fd)
            except OSError as e:
                print("copy_logged: %s: %s" % (d, e), file=sys.stderr)
                sys.exit(1)
            log.write(os.path.relpath(s, src) + "\n")
            log.flush()
            os.fsync(log.fileno())
