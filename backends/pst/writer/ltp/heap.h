// Heap-on-node (HN, pst-writing.md §7.1, [MS-PST] §2.3.1): a node's data
// stream seen as a set of heap pages, one per data block, each ending in a
// page map that gives the offsets of its allocations. Items are addressed by
// HIDs: (block index << 16) | (allocation index << 5).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailfs::pst::writer::ltp {

// Largest single heap allocation; bigger values go to subnodes.
inline constexpr std::size_t kMaxHeapItem = 3580;

// Client signatures (bClientSig).
inline constexpr std::uint8_t kClientTc = 0x7C;
inline constexpr std::uint8_t kClientBth = 0xB5;
inline constexpr std::uint8_t kClientPc = 0xBC;

// True if |hnid| names a heap item (low 5 bits 0) rather than a subnode.
inline constexpr bool IsHid(std::uint32_t hnid) { return (hnid & 0x1F) == 0; }

// Builds a heap. Allocations are packed into pages in the order they are made;
// a page is closed when the next allocation would not fit. A builder can be
// cut back to an earlier point (GetMark/Truncate) and grown again, and
// Finish() re-encodes only the pages changed since its last call, so a heap
// that grows at its end costs work in proportion to what changed.
class HeapBuilder {
 public:
  explicit HeapBuilder(std::uint8_t client_sig) : client_sig_(client_sig) {}

  // Adds an item of 1..kMaxHeapItem bytes and returns its HID.
  std::uint32_t Allocate(std::string_view bytes);
  // Reserves an item whose bytes are given later with Fill() (same size).
  std::uint32_t Reserve(std::size_t size) { return Allocate(std::string(size, '\0')); }
  void Fill(std::uint32_t hid, std::string_view bytes);

  void SetUserRoot(std::uint32_t hid) {
    if (hid != user_root_) Touch(0);
    user_root_ = hid;
  }

  // The heap pages, each at most 8176 bytes, ready to be a node's blocks.
  std::vector<std::string> Finish() const;

  // A point in the allocation sequence; Truncate() drops what came after.
  struct Mark {
    std::size_t pages = 0;
    std::size_t items = 0;  // in the last page
    std::size_t used = 0;   // of the last page
  };
  Mark GetMark() const;
  void Truncate(const Mark& mark);

 private:
  struct Page {
    std::vector<std::string> items;
    std::size_t used = 0;  // sum of item sizes
  };
  static std::size_t HeaderSize(std::size_t page_index);
  void Touch(std::size_t page) const {
    if (page < stale_.size()) stale_[page] = true;
  }
  std::string EncodePage(std::size_t index) const;
  std::uint8_t client_sig_;
  std::uint32_t user_root_ = 0;
  std::vector<Page> pages_;
  // Encoded pages of the last Finish(), and which of them changed since.
  mutable std::vector<std::string> encoded_;
  mutable std::vector<bool> stale_;
};

// Reads a heap. Construction validates every page header and page map; bad
// bytes throw mailfs::Error(kCorrupt) naming |what| (e.g. "node 0x8022") and
// the position.
class HeapReader {
 public:
  HeapReader(std::vector<std::string> blocks, std::string what);

  std::uint8_t client_sig() const { return client_sig_; }
  std::uint32_t user_root() const { return user_root_; }
  const std::string& what() const { return what_; }

  // The bytes of a heap item; throws kCorrupt for an invalid HID. HID 0
  // gives an empty view.
  std::string_view Get(std::uint32_t hid) const;
  // Every allocation, as (HID, size), in page order (for checkers).
  std::vector<std::pair<std::uint32_t, std::size_t>> Items() const;

 private:
  std::vector<std::string> blocks_;
  std::string what_;
  std::uint8_t client_sig_ = 0;
  std::uint32_t user_root_ = 0;
  // Per page: allocation start offsets plus the end of the last one.
  std::vector<std::vector<std::uint16_t>> maps_;
};

// Little-endian helpers shared by the LTP code.
inline void PutU16(std::string& s, std::uint16_t v) {
  s.push_back(static_cast<char>(v & 0xFF));
  s.push_back(static_cast<char>(v >> 8));
}
inline void PutU32(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
inline void PutU64(std::string& s, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
inline std::uint16_t GetU16(std::string_view s, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<std::uint8_t>(s[at]) |
                                    (static_cast<std::uint8_t>(s[at + 1]) << 8));
}
inline std::uint32_t GetU32(std::string_view s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(s[at + i]);
  return v;
}
inline std::uint64_t GetU64(std::string_view s, std::size_t at) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(s[at + i]);
  return v;
}
// Little-endian unsigned value of 1..8 bytes.
inline std::uint64_t GetUnsigned(std::string_view s, std::size_t at, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = n; i-- > 0;) v = (v << 8) | static_cast<std::uint8_t>(s[at + i]);
  return v;
}
inline void PutUnsigned(std::string& s, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// "0x1a2b" for messages.
std::string Hex(std::uint64_t v);

}  // namespace mailfs::pst::writer::ltp
