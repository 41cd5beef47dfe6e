// BTree-on-Heap (BTH, pst-writing.md §7.2, [MS-PST] §2.3.2): sorted
// (key, data) records with fixed sizes in heap items, with index levels when
// the leaf records do not fit in one item.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backends/pst/writer/ltp/heap.h"

namespace mailfs::pst::writer::ltp {

struct BthRecord {
  std::uint64_t key = 0;  // little-endian unsigned of cbKey bytes
  std::string data;       // exactly cbEnt bytes
  bool operator==(const BthRecord&) const = default;
};

// Writes the tree into |heap| and returns the HID of its BTHHEADER. The
// header goes into |header_hid| when given (an 8-byte item made with
// HeapBuilder::Reserve), else into a new item. Records are sorted by key as
// numbers; a duplicate key or a wrong data size throws kInvalid.
std::uint32_t WriteBth(HeapBuilder& heap, std::uint8_t cb_key, std::uint8_t cb_ent,
                       std::vector<BthRecord> records, std::uint32_t header_hid = 0);

struct BthContents {
  std::uint8_t cb_key = 0;
  std::uint8_t cb_ent = 0;
  std::uint8_t index_levels = 0;
  std::vector<BthRecord> records;  // ascending by key
};

// Reads a whole tree; checks the header, record sizes, key order at every
// level and that each index key is the first key of its child. Throws
// kCorrupt naming the heap and the item.
BthContents ReadBth(const HeapReader& heap, std::uint32_t header_hid);

}  // namespace mailfs::pst::writer::ltp
