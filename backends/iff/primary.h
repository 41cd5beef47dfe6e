// Primary files (iff-format.md §4): sections (DIRECTORY, PAB, MAILMESSAGE),
// their column lines and data rows. The parser checks the structure and hands
// every section and row to a visitor; what a row means is the visitor's
// business. Structural errors throw IffError; errors confined to one row are
// passed to the visitor with the row.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backends/iff/csv.h"
#include "backends/iff/iff_error.h"
#include "backends/iff/packing_list.h"

namespace mailfs::iff {

enum class SectionKind { kDirectory, kPab, kMailMessage };

// The 12 MAILMESSAGE and 24 PAB column names, in their required order.
extern const std::vector<std::string_view> kMailColumns;
extern const std::vector<std::string_view> kPabColumns;

struct SectionStart {
  SectionKind kind = SectionKind::kMailMessage;
  std::string argument;        // code page bytes; empty for DIRECTORY
  std::uint64_t line = 0;      // line of the section line
  std::vector<Field> columns;  // the column line's fields
  std::string column_text;     // the column line as a logical line
};

struct Row {
  std::uint64_t line = 0;     // first physical line
  std::uint64_t offset = 0;   // byte offset of that line in the primary file
  std::string text;           // the logical line (continuations joined)
  std::vector<Field> fields;  // padded with empty fields to the column count
  // Set when the row itself is broken (IFF_E_QUOTE, IFF_E_FIELD_COUNT);
  // |fields| is then unreliable.
  std::optional<IffFailure> error;
};

class PrimaryVisitor {
 public:
  virtual ~PrimaryVisitor() = default;
  virtual void BeginSection(const SectionStart& section) = 0;
  virtual void OnRow(const Row& row) = 0;
  virtual void EndSection() = 0;
};

// Parses primary file |file| top to bottom. Throws IffError for structural
// errors (IFF_E_EOL, IFF_E_UNKNOWN_SECTION, IFF_E_SECTION_ARG,
// IFF_E_BAD_HEADER, and IFF_E_QUOTE on section or column lines) and
// Error(kIo). A bare LF line end is accepted and reported once through
// |bare_lf_line| (0 if none).
void ParsePrimary(const ExtractFile& file, PrimaryVisitor& visitor, std::uint64_t* bare_lf_line);

}  // namespace mailfs::iff
