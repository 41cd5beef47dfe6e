#include "backends/pst/writer/ltp/bth.h"

#include <algorithm>

#include "backends/error.h"

namespace mailfs::pst::writer::ltp {
namespace {

constexpr std::uint8_t kBthType = 0xB5;

[[noreturn]] void Corrupt(const HeapReader& heap, const std::string& detail) {
  throw Error(Errc::kCorrupt, heap.what() + ": BTH: " + detail);
}

struct Level {
  std::uint64_t first_key;
  std::uint32_t hid;
};

// Reads the subtree at |hid| of depth |level| (0 = leaf) into |out|;
// returns the first key of the subtree.
std::uint64_t ReadLevel(const HeapReader& heap, const BthContents& h, std::uint32_t hid, int level,
                        std::vector<BthRecord>& out, int depth_guard) {
  if (depth_guard > 8) Corrupt(heap, "too many index levels");
  std::string_view item = heap.Get(hid);
  std::size_t rec = h.cb_key + (level == 0 ? h.cb_ent : 4);
  if (item.empty() || item.size() % rec != 0) {
    Corrupt(heap, "item " + Hex(hid) + " of " + std::to_string(item.size()) +
                      " bytes is not a multiple of the record size " + std::to_string(rec));
  }
  std::uint64_t first = 0;
  for (std::size_t at = 0; at < item.size(); at += rec) {
    std::uint64_t key = GetUnsigned(item, at, h.cb_key);
    if (at == 0) first = key;
    if (level == 0) {
      if (!out.empty() && key <= out.back().key) {
        Corrupt(heap, "key " + Hex(key) + " in item " + Hex(hid) + " not above " + Hex(out.back().key));
      }
      out.push_back({key, std::string(item.substr(at + h.cb_key, h.cb_ent))});
    } else {
      std::uint32_t child = GetU32(item, at + h.cb_key);
      std::size_t before = out.size();
      std::uint64_t child_first = ReadLevel(heap, h, child, level - 1, out, depth_guard + 1);
      if (out.size() == before) Corrupt(heap, "empty child " + Hex(child));
      if (child_first != key) {
        Corrupt(heap, "index key " + Hex(key) + " in item " + Hex(hid) + " but child " + Hex(child) +
                          " starts with " + Hex(child_first));
      }
    }
  }
  return first;
}

}  // namespace

std::uint32_t WriteBth(HeapBuilder& heap, std::uint8_t cb_key, std::uint8_t cb_ent,
                       std::vector<BthRecord> records, std::uint32_t header_hid) {
  if (cb_key == 0 || cb_key > 8 || cb_ent == 0 || cb_ent > 32) {
    throw Error(Errc::kInvalid, "BTH with key size " + std::to_string(cb_key) + " and data size " +
                                    std::to_string(cb_ent));
  }
  std::sort(records.begin(), records.end(),
            [](const BthRecord& a, const BthRecord& b) { return a.key < b.key; });
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (records[i].data.size() != cb_ent) {
      throw Error(Errc::kInvalid, "BTH record " + Hex(records[i].key) + " has " +
                                      std::to_string(records[i].data.size()) + " data bytes, want " +
                                      std::to_string(cb_ent));
    }
    if (cb_key < 8 && (records[i].key >> (8 * cb_key)) != 0) {
      throw Error(Errc::kInvalid, "BTH key " + Hex(records[i].key) + " wider than " +
                                      std::to_string(cb_key) + " bytes");
    }
    if (i > 0 && records[i].key == records[i - 1].key) {
      throw Error(Errc::kInvalid, "duplicate BTH key " + Hex(records[i].key));
    }
  }
  if (header_hid == 0) header_hid = heap.Reserve(8);
  std::uint8_t levels = 0;
  std::uint32_t root = 0;
  if (!records.empty()) {
    std::vector<Level> current;
    std::size_t per = kMaxHeapItem / (cb_key + cb_ent);
    for (std::size_t at = 0; at < records.size(); at += per) {
      std::string item;
      for (std::size_t i = at; i < records.size() && i < at + per; ++i) {
        PutUnsigned(item, records[i].key, cb_key);
        item += records[i].data;
      }
      current.push_back({records[at].key, heap.Allocate(item)});
    }
    std::size_t per_index = kMaxHeapItem / (cb_key + 4u);
    while (current.size() > 1) {
      std::vector<Level> next;
      for (std::size_t at = 0; at < current.size(); at += per_index) {
        std::string item;
        for (std::size_t i = at; i < current.size() && i < at + per_index; ++i) {
          PutUnsigned(item, current[i].first_key, cb_key);
          PutU32(item, current[i].hid);
        }
        next.push_back({current[at].first_key, heap.Allocate(item)});
      }
      current = std::move(next);
      ++levels;
    }
    root = current[0].hid;
  }
  std::string hdr;
  hdr.push_back(static_cast<char>(kBthType));
  hdr.push_back(static_cast<char>(cb_key));
  hdr.push_back(static_cast<char>(cb_ent));
  hdr.push_back(static_cast<char>(levels));
  PutU32(hdr, root);
  heap.Fill(header_hid, hdr);
  return header_hid;
}

BthContents ReadBth(const HeapReader& heap, std::uint32_t header_hid) {
  std::string_view hdr = heap.Get(header_hid);
  if (hdr.size() != 8) {
    Corrupt(heap, "header " + Hex(header_hid) + " of " + std::to_string(hdr.size()) + " bytes, want 8");
  }
  if (static_cast<std::uint8_t>(hdr[0]) != kBthType) {
    Corrupt(heap, "header " + Hex(header_hid) + " type " + Hex(static_cast<std::uint8_t>(hdr[0])) +
                      ", want 0xb5");
  }
  BthContents out;
  out.cb_key = static_cast<std::uint8_t>(hdr[1]);
  out.cb_ent = static_cast<std::uint8_t>(hdr[2]);
  out.index_levels = static_cast<std::uint8_t>(hdr[3]);
  if (out.cb_key == 0 || out.cb_key > 8 || out.cb_ent == 0 || out.index_levels > 8) {
    Corrupt(heap, "header " + Hex(header_hid) + ": key size " + std::to_string(out.cb_key) +
                      ", data size " + std::to_string(out.cb_ent) + ", " +
                      std::to_string(out.index_levels) + " index levels");
  }
  std::uint32_t root = GetU32(hdr, 4);
  if (root != 0) ReadLevel(heap, out, root, out.index_levels, out.records, 0);
  return out;
}

}  // namespace mailfs::pst::writer::ltp
