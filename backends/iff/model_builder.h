// Turning records into mime::Message models (iff-format.md §7.2, §7.3, §4.3)
// and the render options every IFF message uses. Also the synthetic address
// book attachments: pab.csv, and vCard 4.0 files for PAB and DIRECTORY
// content. Every function is pure apart from positioned reads of body text,
// and safe to call from several threads.
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

// The synthetic "Personal Address Book" message of one PAB section.
mime::Message BuildPabMessage(const PabRecord& record, const MessageOrigin& origin);

// The synthetic "Directory" message of one DIRECTORY section.
mime::Message BuildDirectoryMessage(const DirectoryRecord& record, const MessageOrigin& origin);

// pab.csv: the column line and every row, each ending in CR LF.
std::string PabCsv(const PabRecord& record);
// pab.vcf: one vCard 4.0 per entry, and one KIND:group card per dl whose
// MEMBER lines name the members that can be resolved.
std::string PabVcards(const PabRecord& record);
// directory.csv and directory.vcf for a DIRECTORY section.
std::string DirectoryCsv(const DirectoryRecord& record);
std::string DirectoryVcards(const DirectoryRecord& record);

// Media type for an attachment named |name| ("image/png"), by extension;
// "application/octet-stream" when unknown. Never a text/* type: text parts
// are transcoded by the renderer, attachments must keep their bytes.
std::string MediaTypeForName(std::string_view name);

}  // namespace mailfs::iff
