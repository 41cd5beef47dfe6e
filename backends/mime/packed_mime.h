// Packed message bytes: the exact bytes of a MIME message kept beside a
// decoded copy of its parts (the PST writer keeps the original .eml with
// each message, design §6: a message reads back byte for byte).
//
// Three stored forms, told apart by their first four bytes:
//  - no prefix: the bytes themselves (never produced; no message starts
//    with NUL);
//  - "\0MZ1": size (8 bytes LE), then a zlib stream of the bytes;
//  - "\0MZ2": size (8 bytes LE), CRC-32 of the bytes (4 bytes LE), then a
//    zlib stream of a skeleton: the bytes with each section whose decoded
//    content is stored elsewhere (a PST attachment, the message body)
//    replaced by a reference to that part and how to encode it again.
//    Base64 of an attachment is a third larger than the attachment and
//    barely compresses, and a body would be kept twice: leaving them out of
//    the kept copy saves most of its size.
//
// The skeleton is a list of records, each starting with one tag byte:
//   'L' u32 length, then that many literal bytes;
//   'B' u32 part number, u64 decoded size, u32 line width (characters,
//       a multiple of 4), u8 layout (bit 0: lines end in CRLF rather than
//       LF; bit 1: the last line has no line end);
//   'T' u32 part number, u64 part size, u64 section size, u8 form: a text
//       part (CRLF line ends) 0 as it is, 1 with LF line ends, 2 as
//       quoted-printable the way mime::EncodeQuotedPrintable writes it;
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

// Decoded content stored separately from the packed bytes.
struct StoredPart {
  std::uint32_t number = 0;  // how Expand() asks for it
  std::string_view bytes;
  // Text with CRLF line ends (a body): also looked for at the start of a
  // MIME body as it is, with LF line ends and as quoted-printable.
  bool text = false;
};

// Packs |bytes|: a base64 section whose decoded bytes equal a part, or a
// body that is a text part in one of the forms above, is stored as a
// reference to it. Without any such section the result is the "\0MZ1" form.
std::string PackMime(std::string_view bytes, std::span<const StoredPart> parts = {});

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
  // True when expanding would give exactly |bytes|; holds one encoded part
  // at a time, never the whole expansion.
  bool Matches(std::string_view bytes, const std::function<std::string_view(std::uint32_t)>& part) const;

 private:
  struct Record {
    bool literal = true;
    std::size_t offset = 0;  // literal bytes: skeleton_.substr(offset, length)
    std::size_t length = 0;
    std::uint32_t part = 0;
    std::uint64_t decoded_size = 0;
    std::uint32_t width = 0;
    std::uint8_t layout = 0;
    char kind = 'L';
    std::uint64_t encoded_size = 0;  // 'T': the section's size
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
