// Properties that mailfs itself writes into PST messages and reads back.
// Shared by the reader (backends/pst/pst_backend.cc, mapi_message.cc) and
// the writer (backends/pst/writer/).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "backends/mime/packed_mime.h"

namespace mailfs::pst {

// The exact MIME bytes a message was copied in with (design §6: a message
// read back with view=raw is byte-identical to what was written). A named
// property in mailfs's own property set, so Outlook and other readers ignore
// it; type PT_BINARY (0x0102). When present and non-empty, Fetch() serves
// these bytes instead of a rendering of the MAPI properties.
//
// Stored packed (backends/mime/packed_mime.h): zlib-compressed, and base64
// sections whose decoded bytes are the message's attachments (by
// PidTagAttachNumber) left out and referenced, so the kept copy costs
// little beside the MAPI properties. A value without the "\0MZ" prefix is
// taken as the bytes themselves.
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

// Part numbers of the packed original (mime/packed_mime.h): an attachment by
// its PidTagAttachNumber, and the message's bodies by these two.
inline constexpr std::uint32_t kPlainBodyPart = 0xFFFFFF00;  // PidTagBody, as UTF-8
inline constexpr std::uint32_t kHtmlBodyPart = 0xFFFFFF01;   // PidTagHtml, its bytes

inline std::string PackOriginalMime(std::string_view bytes, std::span<const StoredPart> parts = {}) {
  return PackMime(bytes, parts);
}

// The bytes of a stored value that references no attachment; throws
// kCorrupt when it is damaged or needs attachments.
inline std::string UnpackOriginalMime(std::string_view stored) { return PackedMime(stored).Expand(); }

}  // namespace mailfs::pst
