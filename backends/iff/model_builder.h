// Turning records into mime::Message models (iff-format.md §7.2, §7.3, §4.3)
// and the render options every IFF message uses. Also the address book
// texts: pab.csv (the PAB message's attachment) and the content of the side
// files (vCard 4.0 for PAB and DIRECTORY sections, CSV for DIRECTORY).
// Every function is pure apart from positioned reads of body text, and safe
// to call from several threads.
#pragma once

#include <cstdint>
#include <string>

#include "backends/iff/records.h"
#include "backends/mime/message.h"
#include "backends/mime/renderer.h"

namespace mailfs::iff {

// Where a message comes from: its primary file, first physical line and the
// extract's code page.
struct MessageOrigin {
  std::string primary;
  std::uint64_t line = 0;
  int codepage = 1252;
};

// First 32 hex digits of SHA-256("<primary>:<line>"): the Message-ID local
// part and the boundary stem.
std::string OriginHash(const MessageOrigin& origin);

// kPrefix boundaries "=_iff_<hash>_<n>", extra headers kept.
mime::RenderOptions IffRenderOptions(const MessageOrigin& origin);

// The message of one MAILMESSAGE row. Reads the Body sections' text (not the
// attachments, which become Blobs over the secondary file). Throws Error(kIo)
// if a read fails.
mime::Message BuildMailMessage(const MailRecord& record, const MessageOrigin& origin);

// The synthetic "Personal Address Book" message of one PAB section: an
// empty text body and one attachment, pab.csv (§4.3).
mime::Message BuildPabMessage(const PabRecord& record, const MessageOrigin& origin);

// pab.csv: the column line and every row, each ending in CR LF.
std::string PabCsv(const PabRecord& record);
// vCard 4.0 text of a PAB section: one card per entry, and one KIND:group
// card per dl whose MEMBER lines name the members that can be resolved. UIDs
// are derived from the record's source and row, so they differ between
// sections.
std::string PabVcards(const PabRecord& record);
// A DIRECTORY section as CSV (column line and rows, escapes undone, each
// ending in CR LF) and as vCard 4.0 text (one card per object).
std::string DirectoryCsv(const DirectoryRecord& record);
std::string DirectoryVcards(const DirectoryRecord& record);

// Media type for an attachment named |name| ("image/png", "text/plain"), by
// extension; "application/octet-stream" when unknown, and for .eml files
// (message/rfc822 could not carry the stored bytes unchanged). Attachment
// parts set mime::Part::keep_bytes, so text types are not transcoded.
std::string MediaTypeForName(std::string_view name);

}  // namespace mailfs::iff
