#!/usr/bin/env bash
# view=canonical through a real mount: every message parsed and rendered again
# by the one deterministic renderer (design.md §4). Checks: names follow the
# rendered bytes, two mounts with separate caches serve identical trees, a
# remount with the kept renderings serves the same tree, the fixed header
# order, and that the view is read-only.
source "$(dirname "$0")/lib.sh"
it_init

src="$IT_TMP/ext"
python3 "$GEN_IFF" "$src" --messages 120 --mailboxes 2 --seed 11 --big-attachment 300000 >/dev/null ||
  die "generator failed"

m1="$IT_TMP/c1"
start_mount "$src" "$m1" "view=canonical,cache_dir=$IT_TMP/cache1" || it_finish
n=$(find "$m1" -name '*.eml' | wc -l)
check "canonical mount lists the messages ($n)" test "$n" -ge 120
check "names follow the canonical bytes" python3 "$MAILNAME" check "$m1"
check "cp -a of the canonical view" cp -a "$m1" "$IT_TMP/copy1"
check "diff -r mount copy" diff -r "$m1" "$IT_TMP/copy1"
expect_errno "the canonical view is read-only" EROFS 'open(os.path.join(args[0], "x.eml"), "w")' "$(find "$m1" -mindepth 2 -type d | head -1)"
check "every message parses and starts with the fixed header order" python3 - "$m1" <<'PY'
import email, email.policy, os, sys
order = ["from", "sender", "reply-to", "to", "cc", "bcc", "subject", "date", "message-id",
         "in-reply-to", "references", "mime-version"]
bad = 0
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        if not f.endswith(".eml"):
            continue
        data = open(os.path.join(root, f), "rb").read()
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        names = [k.lower() for k in msg.keys()]
        fixed = [k for k in names if k in order]
        if fixed != sorted(fixed, key=order.index) or msg.defects or b"\r\n" not in data[:200]:
            print("bad:", f, fixed, msg.defects)
            bad += 1
sys.exit(1 if bad else 0)
PY
stop_mount "$m1"; expect_eq "clean unmount" "$?" 0

# Deterministic: a second mount with its own cache renders the same bytes.
m2="$IT_TMP/c2"
start_mount "$src" "$m2" "view=canonical,cache_dir=$IT_TMP/cache2" || it_finish
check "a second rendering is byte-identical" diff -r "$m2" "$IT_TMP/copy1"
stop_mount "$m2"

# Kept renderings: a remount on the first cache serves the same tree.
kept=$(find "$IT_TMP/cache1/canonical" -name '*.eml' | wc -l)
check "renderings are kept in the cache ($kept)" test "$kept" -ge 120
start_mount "$src" "$m1" "view=canonical,cache_dir=$IT_TMP/cache1" || it_finish
check "remount on the kept renderings: same tree" diff -r "$m1" "$IT_TMP/copy1"
stop_mount "$m1"

# cache_size bounds the kept renderings; what was removed is rendered again.
start_mount "$src" "$m1" "view=canonical,cache_dir=$IT_TMP/cache1,cache_size=64k" || it_finish
check "a small cache still serves the same tree" diff -r "$m1" "$IT_TMP/copy1"
stop_mount "$m1"
# Trimming runs at mount and after each folder listing (threads may still be
# writing then): a mount that lists nothing leaves the cache within bounds.
start_mount "$src" "$m1" "view=canonical,cache_dir=$IT_TMP/cache1,cache_size=64k" || it_finish
stop_mount "$m1"
left=$(find "$IT_TMP/cache1/canonical" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
check "cache_size=64k keeps at most 64 KiB of renderings ($left bytes)" test "$left" -le $((64 * 1024))

# The raw view of the same extract differs (it keeps the X-IFF headers).
m3="$IT_TMP/raw"
start_mount "$src" "$m3" "cache_dir=$IT_TMP/cache3" || it_finish
check "the raw view keeps X-IFF headers" bash -c "grep -rlq '^X-IFF-Folder:' '$m3'"
check "the canonical view drops them" bash -c "! grep -rlq '^X-IFF-Folder:' '$IT_TMP/copy1'"
stop_mount "$m3"

it_finish
