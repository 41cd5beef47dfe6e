#include "backends/iff/secondary.h"

#include <algorithm>

#include "backends/blob.h"
#include "backends/iff/csv.h"
#include "backends/iff/iff_error.h"

namespace mailfs::iff {

namespace {

// Longest section header row accepted: seven short fields and a file name
// of at most 255 bytes, possibly quoted.
constexpr std::size_t kMaxHeaderRow = 4096;

std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 60)) {
    unsigned char u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7f ? '?' : c;
  }
  return out;
}

// Reads the line at |offset|: the bytes before the next CR LF. Returns false
// if no CR LF ends it within kMaxHeaderRow bytes or before end of file.
bool ReadRow(const ExtractFile& file, std::uint64_t offset, std::string* row) {
  std::uint64_t avail = file.size() > offset ? file.size() - offset : 0;
  std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(avail, kMaxHeaderRow + 2));
  std::string buf(want, '\0');
  std::size_t got = PreadFull(file.fd(), buf.data(), want, offset, file.name());
  buf.resize(got);
  std::size_t lf = buf.find('\n');
  if (lf == std::string::npos || lf == 0 || buf[lf - 1] != '\r') {
    return false;
  }
  *row = buf.substr(0, lf - 1);
  return true;
}

bool ParseType(std::string_view s, SectionType* type) {
  static constexpr std::pair<std::string_view, SectionType> kTypes[] = {
      {"Body", SectionType::kBody},         {"Attachment", SectionType::kAttachment},
      {"Document", SectionType::kDocument}, {"Schedule", SectionType::kSchedule},
      {"Other", SectionType::kOther},
  };
  for (const auto& [name, value] : kTypes) {
    if (EqualsIgnoreCase(s, name)) {
      *type = value;
      return true;
    }
  }
  return false;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Parses the header row at |offset|; fills everything but the chain links.
Section ReadSectionHeader(const ExtractFile& file, std::uint64_t offset, std::string_view label) {
  const std::string what = "Secondary file " + std::string(label) + " header line";
  std::string row;
  if (!ReadRow(file, offset, &row)) {
    ThrowIff(IffCode::kSecHeader, file.name(), std::nullopt, offset,
             what + " is missing or not ended by CR LF");
  }
  std::vector<Field> fields;
  if (!Tokenize(row, &fields) || fields.size() != 7) {
    ThrowIff(IffCode::kSecHeader, file.name(), std::nullopt, offset,
             what + " is not 7 fields: '" + Printable(row) + "'");
  }
  Section s;
  s.header_offset = offset;
  s.data_offset = offset + row.size() + 2;
  if (!ParseType(fields[0].value, &s.type)) {
    ThrowIff(IffCode::kSecType, file.name(), std::nullopt, offset,
             "unknown section Type '" + Printable(fields[0].value) + "'");
  }
  if (!AllDigits(fields[1].value)) {
    ThrowIff(IffCode::kSecHeader, file.name(), std::nullopt, offset,
             what + ": Length '" + Printable(fields[1].value) + "' is not an integer");
  }
  std::optional<std::uint64_t> length = ParseU64(fields[1].value);
  if (!length) {
    ThrowIff(IffCode::kLength, file.name(), std::nullopt, offset,
             "Length " + fields[1].value + " overflows");
  }
  s.length = *length;
  s.encoding_set = !fields[2].value.empty();
  if (EqualsIgnoreCase(fields[3].value, "TRUE")) {
    s.is_last = true;
  } else if (EqualsIgnoreCase(fields[3].value, "FALSE")) {
    s.is_last = false;
  } else {
    ThrowIff(IffCode::kSecHeader, file.name(), std::nullopt, offset,
             what + ": Islast '" + Printable(fields[3].value) + "' is not TRUE or FALSE");
  }
  s.name = fields[4].value;
  if ((s.type == SectionType::kAttachment || s.type == SectionType::kDocument) && s.name.empty()) {
    ThrowIff(IffCode::kSecHeader, file.name(), std::nullopt, offset,
             what + ": an " +
                 std::string(s.type == SectionType::kAttachment ? "Attachment" : "Document") +
                 " section needs a Name");
  }
  s.position = fields[5].value;
  if (!s.position.empty()) {
    std::string_view digits = s.position;
    if (digits.front() == '-') {
      digits.remove_prefix(1);
    }
    if (!AllDigits(digits) || digits.size() > 18) {
      ThrowIff(IffCode::kSecHeader, file.name(), std::nullopt, offset,
               what + ": Position '" + Printable(s.position) + "' is not an integer");
    }
  }
  if (fields[6].value.empty() || EqualsIgnoreCase(fields[6].value, "None")) {
    s.macbinary = false;
  } else if (EqualsIgnoreCase(fields[6].value, "Macbinary")) {
    s.macbinary = true;
  } else {
    ThrowIff(IffCode::kSecHeader, file.name(), std::nullopt, offset,
             what + ": Format '" + Printable(fields[6].value) + "' is not None or Macbinary");
  }
  if (s.data_offset > file.size() || s.length > file.size() - s.data_offset) {
    ThrowIff(IffCode::kLength, file.name(), std::nullopt, offset,
             "Length " + std::to_string(s.length) + " runs past the end of the file (" +
                 std::to_string(file.size()) + " bytes)");
  }
  return s;
}

// Skips zero or more CR LF pairs from |offset|; returns the next offset.
std::uint64_t SkipSeparators(const ExtractFile& file, std::uint64_t offset) {
  char buf[512];
  while (offset + 1 < file.size()) {
    std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(sizeof buf, file.size() - offset));
    std::size_t got = PreadFull(file.fd(), buf, want, offset, file.name());
    std::size_t i = 0;
    while (i + 1 < got && buf[i] == '\r' && buf[i + 1] == '\n') {
      i += 2;
    }
    offset += i;
    if (i + 1 < got || got < 2) {
      break;  // stopped on something else
    }
  }
  return offset;
}

}  // namespace

std::uint64_t CheckSecondaryFileHeader(const ExtractFile& file) {
  std::string row;
  std::vector<Field> fields;
  if (!ReadRow(file, 0, &row) || !EqualsIgnoreCase(row, kSecondaryColumns)) {
    ThrowIff(IffCode::kSecFileHeader, file.name(), 1, 0,
             "a secondary file must start with '" + std::string(kSecondaryColumns) + "' and CR LF");
  }
  return row.size() + 2;
}

std::vector<Section> ReadChain(const ExtractFile& file,
                               std::uint64_t column_line_length,
                               std::uint64_t offset,
                               std::string_view first_label) {
  if (offset >= file.size()) {
    ThrowIff(
        IffCode::kOffset, file.name(), std::nullopt, offset,
        "offset is at or past the end of the file (" + std::to_string(file.size()) + " bytes)");
  }
  if (offset < column_line_length) {
    ThrowIff(IffCode::kOffset, file.name(), std::nullopt, offset,
             "offset points into the column line");
  }
  char before = 0;
  PreadFull(file.fd(), &before, 1, offset - 1, file.name());
  if (before != '\n') {
    ThrowIff(IffCode::kOffset, file.name(), std::nullopt, offset,
             "offset is not at the start of a line");
  }
  std::vector<Section> chain;
  for (;;) {
    Section s = ReadSectionHeader(file, offset, chain.empty() ? first_label : "section");
    chain.push_back(s);
    if (s.is_last) {
      break;
    }
    if (chain.size() >= kMaxChainSections) {
      ThrowIff(IffCode::kChain, file.name(), std::nullopt, offset,
               "chain longer than " + std::to_string(kMaxChainSections) + " sections");
    }
    std::uint64_t next = SkipSeparators(file, s.data_offset + s.length);
    if (next >= file.size()) {
      ThrowIff(IffCode::kChain, file.name(), std::nullopt, offset,
               "Islast is FALSE on the last section of the file");
    }
    offset = next;
  }
  return chain;
}

}  // namespace mailfs::iff
