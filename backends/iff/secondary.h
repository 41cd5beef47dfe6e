// Secondary files (iff-format.md §5): the column line check, section header
// rows and Islast chains. Everything is read with positioned reads of a few
// hundred bytes; section data is never loaded here, only located. Safe to
// call concurrently (pread on a shared descriptor, no state).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/iff/packing_list.h"

namespace mailfs::iff {

// The column line every secondary file starts with.
inline constexpr std::string_view kSecondaryColumns =
    "Type,Length,Encoding,Islast,Name,Position,Format";
// Longest chain accepted (iff-format.md §8 safety limits).
inline constexpr std::size_t kMaxChainSections = 10000;

enum class SectionType { kBody, kAttachment, kDocument, kSchedule, kOther };

struct Section {
  SectionType type = SectionType::kBody;
  std::uint64_t header_offset = 0;  // offset of the header row
  std::uint64_t data_offset = 0;    // first data byte
  std::uint64_t length = 0;         // data bytes
  bool is_last = true;
  std::string name;           // Name field, code page bytes (may be empty)
  std::string position;       // Position field as written (may be empty)
  bool macbinary = false;     // Format=Macbinary
  bool encoding_set = false;  // the reserved Encoding field was not empty
};

// Checks that |file| starts with the secondary column line and returns the
// length of that line including its CR LF. Throws IffError
// IFF_E_SEC_FILE_HEADER.
std::uint64_t CheckSecondaryFileHeader(const ExtractFile& file);

// Reads the chain starting at |offset| of |file| (whose column line is
// |column_line_length| bytes). |first_label| names the first section in error
// text ("BODY" for message bodies). Throws IffError IFF_E_OFFSET,
// IFF_E_SEC_HEADER, IFF_E_SEC_TYPE, IFF_E_LENGTH, IFF_E_CHAIN, naming |file|
// and the offset of the faulty header row.
std::vector<Section> ReadChain(const ExtractFile& file,
                               std::uint64_t column_line_length,
                               std::uint64_t offset,
                               std::string_view first_label);

}  // namespace mailfs::iff
