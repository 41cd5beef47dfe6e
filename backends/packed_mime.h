// Packed message bytes: the exact bytes of a MIME message kept beside a
// decoded copy of its parts (the PST writer keeps the original .eml with
// each message, design §6: a message reads back byte for byte).
//
// Three stored forms, told apart by their first four bytes:
//  - no prefix: the bytes themselves (never produced; no message starts
//    with NUL);
//  - "\0MZ1": size (8 bytes LE), then a zlib stream of the bytes;
//  - "\0MZ2": size (8 bytes LE), CRC-32 of the bytes (4 bytes LE), then a
//    zlib stream of a skeleton: the bytes with each base64 section whose
//    decoded content is stored elsewhere (a PST attachment) replaced by a
//    reference to that part and the line layout needed to encode it again.
//    Base64 of an attachment is a third larger than the attachment and
//    barely compresses, so leaving it out of the kept copy saves most of
//    the copy's size on messages that carry files.
//
// The skeleton is a list of records, each starting with one tag byte:
//   'L' u32 length, then that many literal bytes;
//   'B' u32 part number, u64 decoded size, u32 line width (characters,
//       a multiple of 4), u8 layout (bit 0: lines end in CRLF rather than
//       LF; bit 1: the last line has no line end);
//   'E' the end (nothing may follow).
// All integers little-endian. A section is replaced only when encoding the
// part's bytes with that layout gives back exactly the section's bytes,
// which the packer checks by expanding its own result before returning it.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mailfs {

// Packs |bytes|. |parts| are the decoded contents stored separately, by
// part number (index); a base64 section of |bytes| whose decoded bytes
// equal parts[i] is stored as a reference to i. Without any such section
// the result is the "\0MZ1" form.
std::string PackMime(std::string_view bytes, std::span<const std::string_view> parts = {});

// A stored value, parsed. Throws Error(kCorrupt) on damage.
class PackedMime {
 public:
  explicit PackedMime(std::string_view stored);

  // Size of the original bytes.
  std::uint64_t size() const { return size_; }
  // True when expanding needs separately stored parts.
  bool HasReferences() const { return !references_.empty(); }
  // Part numbers referenced, in order of appearance (may repeat).
  const std::vector<std::uint32_t>& references() const { return references_; }
  // The bytes before the first reference (all of them when there is none):
  // always holds the message header when the header is whole.
  std::string_view Head() const;
  // The original bytes; |part| returns the stored bytes of a part number.
  // Throws Error(kCorrupt) when a part is missing or of the wrong size, or
  // the result does not match the recorded size and checksum.
  std::string Expand(const std::function<std::string(std::uint32_t)>& part = {}) const;

 private:
  struct Record {
    bool literal = true;
    std::size_t offset = 0;  // literal bytes: skeleton_.substr(offset, length)
    std::size_t length = 0;
    std::uint32_t part = 0;
    std::uint64_t decoded_size = 0;
    std::uint32_t width = 0;
    std::uint8_t layout = 0;
  };
  std::uint64_t size_ = 0;
  bool checked_ = false;  // MZ2: crc_ is to be checked
  std::uint32_t crc_ = 0;
  std::string_view Text(const Record& r) const { return std::string_view(skeleton_).substr(r.offset, r.length); }

  std::string skeleton_;  // inflated skeleton (MZ2) or the bytes (other forms)
  std::vector<Record> records_;
  std::vector<std::uint32_t> references_;
};

// Base64 of |bytes| in lines of |width| characters (0: one line), each
// ended by |eol|, the last one only when |final_eol|.
std::string Base64Lines(std::string_view bytes, std::size_t width, std::string_view eol, bool final_eol);

}  // namespace mailfs
