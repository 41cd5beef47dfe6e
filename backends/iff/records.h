// What the reader keeps of an extract after parsing it: one record per
// MAILMESSAGE row, PAB section and DIRECTORY section. Records hold decoded
// (UTF-8) field values and the positions of secondary data, never the data.
// Built once by OpenIffExtract, then only read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/iff/csv.h"
#include "backends/iff/packing_list.h"
#include "backends/iff/secondary.h"

namespace mailfs::iff {

// A byte range of a secondary file.
struct DataRange {
  std::shared_ptr<ExtractFile> file;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

// An Attachment, Document or Schedule section of a message's chain.
struct AttachmentRecord {
  SectionType type = SectionType::kAttachment;
  std::string name;      // UTF-8
  std::string position;  // as written, may be empty
  bool macbinary = false;
  DataRange data;
};

struct MailRecord {
  // UTF-8, "migrate:" dropped; shared by the rows of a section (an extract
  // holds many thousands of rows, and their records stay in memory).
  std::shared_ptr<const std::string> mailbox;
  std::string folder_path;  // UTF-8 components joined by '\' (empty: Inbox)
  std::vector<std::string> sender, to, cc, bcc;  // UTF-8 values after the split
  std::string subject;                           // UTF-8
  std::optional<LocalDateTime> send_date, received_date;
  int priority = 0;
  bool unread = false;
  bool unsent = false;
  std::vector<DataRange> body;  // the Body sections, in order
  std::vector<AttachmentRecord> attachments;
};

struct PabRecord {
  std::string source;                          // "FILE.PRI:line" of the section line
  std::string mailbox;                         // UTF-8 section argument without "migrate:"
  std::string column_line;                     // UTF-8
  std::vector<std::string> lines;              // UTF-8 rows for pab.csv (no CR LF)
  std::vector<std::vector<std::string>> rows;  // UTF-8 values, 24 per row
};

struct DirectoryRecord {
  std::string source;                          // "FILE.PRI:line" of the section line
  std::vector<std::string> columns;            // UTF-8 column names
  std::string column_line;                     // UTF-8
  std::vector<std::string> lines;              // UTF-8 rows, escapes undone (no CR LF)
  std::vector<std::vector<std::string>> rows;  // UTF-8 values, escapes undone
  // Non-empty when a row is broken: the IFF_E_... text. The section's files
  // are then unreadable.
  std::string error;
};

}  // namespace mailfs::iff
