// The one naming function of mailfs (design.md §3). A message's file name is
// computed from the bytes the mount serves for it and its internal date,
// nothing else, so the same message has the same name in every backend:
//
//   <date> <subject> [<key>].eml                   e.g.
//   2002-08-06 104809 Re- New Sequences Window [3fa9c2d1].eml
//
// and, when several messages of one folder share that name,
//   <date> <subject> [<key>] ~<h>.eml   (<h>: 8 hex of SHA-256 of the bytes)
//   <date> <subject> [<key>] ~<h>-2.eml (byte-identical duplicates)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mailfs::fs {

// "<date> <subject> [<key>]" (no extension) from a message's header block
// (at least its first Date, Subject, Message-ID and From fields; the whole
// message is fine too) and internal date (seconds since the epoch, UTC).
std::string MessageBaseName(std::string_view header_block, std::int64_t internal_date);

// The pieces, for tests.
std::string NameDate(std::string_view header_block, std::int64_t internal_date);
std::string NameSubject(std::string_view header_block);
std::string NameKey(std::string_view header_block, std::int64_t internal_date);

// |base| + ".eml".
std::string UniqueName(std::string_view base);
// |base| + " ~" + first 8 hex of |sha256_hex| + ("-N" if dup_index >= 2) + ".eml".
std::string CollisionName(std::string_view base, std::string_view sha256_hex, int dup_index);
// "0000-00-00 000000 (unreadable) [<8 hex of SHA-256(identity)>].eml".
std::string UnreadableName(std::string_view backend_identity);

// Folder components (design.md §3 "Folders"): invalid UTF-8 -> U+FFFD,
// "%" -> "%25", "/" -> "%2F", exactly "." / ".." -> "%2E" / "%2E%2E", and a
// component over 255 bytes cut to 246 bytes + "~" + 8 hex of its SHA-256.
std::string EscapeFolderName(std::string_view name);
// The inverse for mkdir/rename: "%XX" (two hex digits) decoded, any other "%"
// literal.
std::string UnescapeFolderName(std::string_view name);

}  // namespace mailfs::fs
