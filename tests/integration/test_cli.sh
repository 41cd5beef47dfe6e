#!/usr/bin/env bash
# The command line: --help, --version, exit codes, options, the mount helper
# (mount -t fuse.mailfs, as an fstab line would), uid/gid/umask, allow_other.
source "$(dirname "$0")/lib.sh"
it_init

bin=$MAILFS_BIN
check "--help lists the options and exit codes" bash -c "'$bin' --help | grep -q 'accept_incomplete' && '$bin' --help | grep -q 'NOT STORED'"
check "--version prints the version" bash -c "'$bin' --version | grep -Eq '^mailfs [0-9]+\.[0-9]+'"

"$bin" >/dev/null 2>&1; expect_eq "no arguments: usage error" "$?" 1
"$bin" memory: "$IT_TMP" -o no_such_option >/dev/null 2>&1; expect_eq "unknown option: usage error" "$?" 1
"$bin" memory: "$IT_TMP" -o view=sideways >/dev/null 2>&1; expect_eq "bad view: usage error" "$?" 1
"$bin" memory: "$IT_TMP" -o view=canonical,rw >/dev/null 2>&1; expect_eq "canonical view is read-only" "$?" 1
"$bin" "$IT_TMP/missing" "$IT_TMP" >/dev/null 2>&1; expect_eq "missing source: exit 2" "$?" 2
"$bin" memory: "$IT_TMP/not-a-dir" >/dev/null 2>&1; expect_eq "missing mount point: exit 4" "$?" 4
out=$("$bin" "$IT_TMP/missing" "$IT_TMP" 2>&1)
check "a missing source is named in the message" grep -q "$IT_TMP/missing" <<<"$out"

# mount -t fuse.mailfs runs mount.fuse3, which runs "mailfs" from the
# standard PATH that mount(8) sets: put the binary under test there for the
# duration of this test (as `cmake --install` would).
mnt="$IT_TMP/helper"
mkdir -p "$mnt"
[ "$(id -u)" -eq 0 ] || skip "mount -t fuse.mailfs needs root"
installed_link=""
if [ ! -e /usr/local/bin/mailfs ]; then
  mkdir -p /usr/local/bin && ln -s "$bin" /usr/local/bin/mailfs && installed_link=/usr/local/bin/mailfs
fi
remove_link() { [ -n "$installed_link" ] && rm -f "$installed_link"; }
trap 'remove_link; it_cleanup' EXIT
if mount -t fuse.mailfs memory: "$mnt" -o rw,noauto,cache_dir="$IT_TMP/cache1" 2>"$IT_TMP/mount.err"; then
  pass "mount -t fuse.mailfs"
  check "the helper mount is a mailfs mount" grep -q " $mnt fuse.mailfs " /proc/self/mounts
  check "mkdir in the helper mount" mkdir "$mnt/INBOX"
  printf 'Subject: hi\r\nMessage-ID: <h@x>\r\n\r\nhello\r\n' > "$IT_TMP/h.eml"
  check "cp into the helper mount" cp "$IT_TMP/h.eml" "$mnt/INBOX/"
  check "fusermount3 -u unmounts it" fusermount3 -u "$mnt"
else
  fail "mount -t fuse.mailfs failed: $(cat "$IT_TMP/mount.err")"
fi

# The mount.mailfs helper (mount -t mailfs) ignores fstab-only options.
helper="$(dirname "$bin")/mount.mailfs"
if [ -x "$helper" ]; then
  mnt2="$IT_TMP/helper2"
  mkdir -p "$mnt2"
  check "mount.mailfs with fstab options" "$helper" memory: "$mnt2" -o defaults,noauto,nofail,_netdev,rw,cache_dir="$IT_TMP/cache2"
  for _ in $(seq 100); do mountpoint -q "$mnt2" && break; sleep 0.05; done
  check "mount.mailfs mounted" mountpoint -q "$mnt2"
  fusermount3 -u "$mnt2" 2>/dev/null
fi

# Ownership and modes: private by default, widened by umask, owner by uid/gid.
m3="$IT_TMP/modes"
start_mount memory: "$m3" "uid=65534,gid=65534,umask=022,cache_dir=$IT_TMP/cache3"
mkdir "$m3/Box"
printf 'Subject: m\r\nMessage-ID: <m@x>\r\n\r\nx\r\n' > "$m3/Box/m.eml"
f=$(find "$m3/Box" -name '*.eml' | head -1)
expect_eq "folder owner and mode" "$(stat -c '%u:%g %a' "$m3/Box")" "65534:65534 755"
expect_eq "message owner and mode" "$(stat -c '%u:%g %a' "$f")" "65534:65534 644"
stop_mount "$m3"; expect_eq "clean unmount" "$?" 0

m4="$IT_TMP/private"
start_mount memory: "$m4" "cache_dir=$IT_TMP/cache4"
mkdir "$m4/Box"
expect_eq "writable folders are 0700" "$(stat -c '%a' "$m4/Box")" "700"
stop_mount "$m4"

# allow_other: another user can read only with it (default_permissions applies).
m5="$IT_TMP/other"
start_mount memory: "$m5" "allow_other,umask=022,cache_dir=$IT_TMP/cache5"
mkdir "$m5/Box"
printf 'Subject: o\r\nMessage-ID: <o@x>\r\n\r\nshared\r\n' > "$IT_TMP/o.eml"
cp "$IT_TMP/o.eml" "$m5/Box/"
chmod 755 "$IT_TMP"
if command -v setpriv >/dev/null; then
  check "another user reads through allow_other" setpriv --reuid=65534 --regid=65534 --clear-groups bash -c "cat '$m5'/Box/*.eml | grep -q shared"
  expect_fail_with "another user cannot write (default_permissions)" "Permission denied" \
    setpriv --reuid=65534 --regid=65534 --clear-groups mkdir "$m5/Box/x"
fi
stop_mount "$m5"

it_finish
