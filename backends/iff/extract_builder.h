// Building the in-memory picture of an extract from its primary files: the
// folder tree (iff-format.md §7.1), one entry per message (MAILMESSAGE rows
// and PAB sections) and the records they render from, and the DIRECTORY
// records (no folder, no message: §4.2). Message-confined errors are kept on
// their entry (a DIRECTORY section's on its record); structural ones throw.
// Used only while opening; the result is immutable afterwards.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "backends/iff/iff_backend.h"
#include "backends/iff/model_builder.h"
#include "backends/iff/primary.h"
#include "backends/iff/records.h"

namespace mailfs::iff {

struct FolderNode {
  std::string name;         // UTF-8, unescaped; empty for the root
  std::string special_use;  // "\\Sent", "\\Trash" or empty
  std::size_t parent = 0;
  std::vector<std::size_t> children;
  std::vector<std::size_t> messages;  // indexes into Extract::entries, in order
};

enum class EntryKind { kMail, kPab };

struct MessageEntry {
  EntryKind kind = EntryKind::kMail;
  std::string key;  // "iff:FILE.PRI:line"
  MessageOrigin origin;
  std::size_t folder = 0;
  std::size_t index = 0;  // into mails or pabs
  std::string error;      // non-empty: unreadable, with this text
  std::int64_t internal_date = 0;
  bool seen = true;
};

struct ListedSecondary {
  std::shared_ptr<ExtractFile> file;
  std::uint64_t column_line_length = 0;
};

struct Extract {
  int codepage = 0;
  std::vector<std::shared_ptr<ExtractFile>> files;     // every listed file, open
  std::map<std::string, ListedSecondary> secondaries;  // by lower-case name
  std::set<std::string> primaries;                     // lower-case names
  std::vector<FolderNode> folders{FolderNode{}};       // [0] is the root
  // Deques: they grow without copying what they hold (no doubled peak).
  std::deque<MessageEntry> entries;
  std::deque<MailRecord> mails;
  std::vector<PabRecord> pabs;
  std::vector<DirectoryRecord> directories;
  std::set<std::string> warned_encoding;  // secondaries already warned about

  // The child of |parent| named |name| (ASCII case-insensitive); created
  // with this spelling if missing.
  std::size_t Child(std::size_t parent, const std::string& name);
};

// Receives the sections and rows of one primary file and adds them to an
// Extract. Throws IffError for message errors when |options.strict|.
class ExtractBuilder final : public PrimaryVisitor {
 public:
  ExtractBuilder(Extract& extract, const IffOptions& options, std::string primary);
  void BeginSection(const SectionStart& section) override;
  void OnRow(const Row& row) override;
  void EndSection() override;

 private:
  std::string Decode(std::string_view bytes) const;
  // Replaces an unquoted "#FILE.SEC(n)" field by the data of its chain.
  void ResolveOverflow(Field& field, std::uint64_t line) const;
  // The secondary named by pointer |value|; throws IFF_E_POINTER,
  // IFF_E_BAD_NAME, IFF_E_OFFSET or IFF_E_NOT_LISTED.
  const ListedSecondary& Pointer(std::string_view value,
                                 std::uint64_t line,
                                 std::uint64_t* offset) const;
  void MailRow(const Row& row);
  void PabRow(const Row& row);
  void DirectoryRow(const Row& row);
  // Records a message-confined failure: logs it, or throws under strict.
  std::string Report(const IffFailure& failure, std::uint64_t line);
  std::size_t AddEntry(MessageEntry entry);

  Extract& extract_;
  IffOptions options_;
  std::string primary_;
  SectionStart section_;
  std::string mailbox_;  // UTF-8 mailbox name of the section
  std::shared_ptr<const std::string> shared_mailbox_;  // the same, for MailRecords
  std::size_t mailbox_folder_ = 0;
  std::size_t record_ = 0;                     // the PAB or DIRECTORY record being filled
  std::optional<IffFailure> section_failure_;  // first row error of a PAB/DIRECTORY section
};

}  // namespace mailfs::iff
