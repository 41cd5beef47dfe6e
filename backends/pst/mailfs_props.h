// Properties that mailfs itself writes into PST messages and reads back.
// Shared by the reader (backends/pst/pst_backend.cc, mapi_message.cc) and
// the writer (backends/pst/writer/).
#pragma once

#include <zlib.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "backends/error.h"

namespace mailfs::pst {

// The exact MIME bytes a message was copied in with (design §6: a message
// read back with view=raw is byte-identical to what was written). A named
// property in mailfs's own property set, so Outlook and other readers ignore
// it; type PT_BINARY (0x0102). When present and non-empty, Fetch() serves
// these bytes instead of a rendering of the MAPI properties.
//
// Stored packed (PackOriginalMime): the 4 bytes "\0MZ1", the size as 8
// bytes little-endian, then a zlib stream of the bytes — mail text
// compresses 3-4 times, base64 by a quarter, which keeps the copy cheap
// beside the MAPI properties. A value without the prefix (never produced;
// no message starts with NUL) is taken as the bytes themselves.
inline constexpr std::string_view kOriginalMimeName = "mailfs-original-mime";
inline constexpr std::uint16_t kOriginalMimeType = 0x0102;

// The property set GUID of kOriginalMimeName, in the byte order stored in
// the file (Data1..Data3 little-endian): {4D5A8E30-2C1B-4F7A-9A6E-6D61696C6673}.
inline constexpr std::array<std::uint8_t, 16> kMailfsPropertySet = {
    0x30, 0x8E, 0x5A, 0x4D, 0x1B, 0x2C, 0x7A, 0x4F,
    0x9A, 0x6E, 0x6D, 0x61, 0x69, 0x6C, 0x66, 0x73};

// IMAP keywords other than the system flags are kept in Outlook's own
// categories property: PidNameKeywords, name "Keywords" in PS_PUBLIC_STRINGS
// {00020329-0000-0000-C000-000000000046}, type PT_MV_UNICODE (0x101F).
inline constexpr std::string_view kKeywordsName = "Keywords";
inline constexpr std::uint16_t kKeywordsType = 0x101F;
inline constexpr std::array<std::uint8_t, 16> kPsPublicStrings = {
    0x29, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};

inline constexpr std::string_view kPackedMagic{"\0MZ1", 4};

inline std::string PackOriginalMime(std::string_view bytes) {
  uLongf bound = compressBound(static_cast<uLong>(bytes.size()));
  std::string out(kPackedMagic);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((static_cast<std::uint64_t>(bytes.size()) >> (8 * i)) & 0xFF));
  std::size_t head = out.size();
  out.resize(head + bound);
  if (compress2(reinterpret_cast<Bytef*>(out.data() + head), &bound, reinterpret_cast<const Bytef*>(bytes.data()),
                static_cast<uLong>(bytes.size()), 6) != Z_OK) {
    throw Error(Errc::kNoSpace, "cannot compress the original message bytes");
  }
  out.resize(head + bound);
  return out;
}

// The bytes of a stored value; throws kCorrupt when a packed value does not
// inflate to exactly its recorded size.
inline std::string UnpackOriginalMime(std::string_view stored) {
  if (stored.substr(0, kPackedMagic.size()) != kPackedMagic) return std::string(stored);
  if (stored.size() < kPackedMagic.size() + 8) throw Error(Errc::kCorrupt, "original message bytes: truncated header");
  std::uint64_t size = 0;
  for (int i = 7; i >= 0; --i) size = size << 8 | static_cast<unsigned char>(stored[kPackedMagic.size() + i]);
  if (size > (std::uint64_t{1} << 34)) throw Error(Errc::kCorrupt, "original message bytes: implausible size");
  std::string out(size, '\0');
  uLongf got = static_cast<uLongf>(size);
  std::string_view z = stored.substr(kPackedMagic.size() + 8);
  int rc = uncompress(reinterpret_cast<Bytef*>(out.data()), &got, reinterpret_cast<const Bytef*>(z.data()),
                      static_cast<uLong>(z.size()));
  if (rc != Z_OK || got != size) throw Error(Errc::kCorrupt, "original message bytes: damaged compressed data");
  return out;
}

}  // namespace mailfs::pst
