// Folder listings kept between mounts (design.md §8): per mailbox, the
// UIDVALIDITY/UIDNEXT/HIGHESTMODSEQ they were taken at and, per message, UID,
// internal date, RFC822.SIZE, flags and the header fields names need. A
// remount of an unchanged mailbox lists from this file without a FETCH.
//
// File format (text header, then one record per message):
//   "mailfs-imap-listing 1\n"
//   "<uidvalidity> <uidnext> <highestmodseq> <count>\n"
//   per message: "<uid> <internal_date> <size> <header_bytes> <flags...>\n"
//                followed by exactly <header_bytes> raw bytes and "\n".
// Written to a temporary file and renamed, so a reader sees an old or a new
// file, never half of one. Any malformed file reads as "no listing".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mailfs::imap {

struct CachedMessage {
  std::uint32_t uid = 0;
  std::int64_t internal_date = 0;
  std::uint64_t size = 0;
  std::vector<std::string> flags;
  std::string headers;
};

struct CachedListing {
  std::uint32_t uidvalidity = 0;
  std::uint32_t uidnext = 0;
  std::uint64_t highestmodseq = 0;
  std::vector<CachedMessage> messages;  // ascending UID
};

std::string SerializeListing(const CachedListing& listing);
// nullopt when |data| is not a complete listing of this format.
std::optional<CachedListing> ParseListing(const std::string& data);

// File helpers: Load returns nullopt for a missing or malformed file; Save
// writes atomically and logs (never throws) on failure: the cache is only an
// optimisation.
std::optional<CachedListing> LoadListing(const std::string& path);
void SaveListing(const std::string& path, const CachedListing& listing);

}  // namespace mailfs::imap
