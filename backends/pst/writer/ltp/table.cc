#include "backends/pst/writer/ltp/table.h"

#include <algorithm>
#include <map>
#include <set>

#include "backends/error.h"
#include "backends/pst/writer/ltp/bth.h"
#include "backends/pst/writer/ltp/heap.h"

namespace mailfs::pst::writer::ltp {
namespace {

constexpr std::uint8_t kTcType = 0x7C;

// Bytes of a column's cell in the row.
std::size_t CellSize(std::uint16_t type) {
  const std::size_t fixed = FixedSize(type);
  return fixed != 0 && fixed <= 8 ? fixed : 4;  // else the HNID of the value (GUIDs too)
}
bool StoredInline(std::uint16_t type) { return FixedSize(type) != 0 && FixedSize(type) <= 8; }

struct Layout {
  struct Col {
    std::uint32_t tag;
    std::uint16_t ib;
    std::uint8_t cb;
    std::uint8_t bit;
  };
  std::vector<Col> cols;  // in the order given (row id and version first)
  std::uint16_t rgib[4] = {0, 0, 0, 0};
  std::size_t row_size = 0;
};

Layout MakeLayout(const std::vector<TableColumn>& columns) {
  Layout l;
  std::vector<TableColumn> all = {{kPidLtpRowId, ptype::kInt32}, {kPidLtpRowVer, ptype::kInt32}};
  all.insert(all.end(), columns.begin(), columns.end());
  if (all.size() > 255) throw Error(Errc::kInvalid, "table with " + std::to_string(all.size()) + " columns");
  std::set<std::uint32_t> seen;
  for (std::size_t i = 0; i < all.size(); ++i) {
    std::uint32_t tag = (static_cast<std::uint32_t>(all[i].id) << 16) | all[i].type;
    if (!seen.insert(all[i].id).second) {
      throw Error(Errc::kInvalid, "duplicate table column " + Hex(all[i].id));
    }
    l.cols.push_back({tag, 0, static_cast<std::uint8_t>(CellSize(all[i].type)),
                      static_cast<std::uint8_t>(i)});
  }
  std::size_t at = 0;
  for (std::size_t group : {std::size_t{8}, std::size_t{2}, std::size_t{1}}) {
    for (auto& c : l.cols) {
      bool in = group == 8 ? c.cb >= 4 : c.cb == group;
      if (in) {
        c.ib = static_cast<std::uint16_t>(at);
        at += c.cb;
      }
    }
    l.rgib[group == 8 ? 0 : group == 2 ? 1 : 2] = static_cast<std::uint16_t>(at);
  }
  at += (all.size() + 7) / 8;
  l.rgib[3] = static_cast<std::uint16_t>(at);
  l.row_size = at;
  return l;
}

[[noreturn]] void Corrupt(const std::string& what, const std::string& detail) {
  throw Error(Errc::kCorrupt, what + ": table: " + detail);
}

}  // namespace

long Table::Find(std::uint32_t row_id) const {
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].row_id == row_id) return static_cast<long>(i);
  }
  return -1;
}

NodeContent BuildTable(const Table& table, const NidSource& new_subnode_nid) {
  Layout l = MakeLayout(table.columns);
  HeapBuilder heap(kClientTc);
  NodeContent node;
  std::uint32_t index_hid = heap.Reserve(8);
  std::uint32_t info_hid = heap.Reserve(22 + 8 * l.cols.size());

  auto store_var = [&](const std::string& bytes) -> std::uint32_t {
    if (bytes.empty()) return 0;
    if (bytes.size() <= kMaxHeapItem) return heap.Allocate(bytes);
    std::uint32_t nid = new_subnode_nid();
    node.subnodes[nid].blocks = SplitStream(bytes);
    return nid;
  };

  std::map<std::uint16_t, std::size_t> by_id;  // column id -> position in l.cols
  for (std::size_t i = 2; i < l.cols.size(); ++i) by_id[static_cast<std::uint16_t>(l.cols[i].tag >> 16)] = i;
  std::string matrix;
  matrix.reserve(table.rows.size() * l.row_size);
  std::vector<BthRecord> index;
  index.reserve(table.rows.size());
  std::set<std::uint32_t> ids;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const TableRow& row = table.rows[r];
    if (!ids.insert(row.row_id).second) {
      throw Error(Errc::kInvalid, "duplicate table row id " + Hex(row.row_id));
    }
    std::string bytes(l.row_size, '\0');
    auto put = [&](const Layout::Col& c, std::uint64_t v) {
      for (std::size_t k = 0; k < c.cb; ++k) bytes[c.ib + k] = static_cast<char>((v >> (8 * k)) & 0xFF);
      bytes[l.rgib[2] + c.bit / 8] |= static_cast<char>(0x80 >> (c.bit % 8));
    };
    put(l.cols[0], row.row_id);
    put(l.cols[1], row.row_ver);
    for (const auto& [id, v] : row.cells) {
      auto found = by_id.find(id);
      auto it = found == by_id.end() ? l.cols.end() : l.cols.begin() + static_cast<long>(found->second);
      if (it == l.cols.end()) {
        throw Error(Errc::kInvalid, "row " + Hex(row.row_id) + ": cell " + Hex(id) + " is not a column");
      }
      if ((it->tag & 0xFFFF) != v.type) {
        throw Error(Errc::kInvalid, "row " + Hex(row.row_id) + ": cell " + Hex(id) + " has type " +
                                        Hex(v.type) + ", column has " + Hex(it->tag & 0xFFFF));
      }
      std::size_t fixed = FixedSize(v.type);
      if (fixed != 0 && v.data.size() != fixed) {
        throw Error(Errc::kInvalid, "row " + Hex(row.row_id) + ": cell " + Hex(id) + " has " +
                                        std::to_string(v.data.size()) + " bytes, want " + std::to_string(fixed));
      }
      if (StoredInline(v.type)) {
        put(*it, GetUnsigned(v.data, 0, v.data.size()));
      } else {
        put(*it, store_var(v.data));
      }
    }
    matrix += bytes;
    BthRecord rec;
    rec.key = row.row_id;
    PutU32(rec.data, static_cast<std::uint32_t>(r));
    index.push_back(std::move(rec));
  }

  std::uint32_t hnid_rows = 0;
  if (!matrix.empty()) {
    if (matrix.size() <= kMaxHeapItem) {
      hnid_rows = heap.Allocate(matrix);
    } else {
      std::size_t per_block = kMaxBlockData / l.row_size;
      std::vector<std::string> blocks;
      for (std::size_t r = 0; r < table.rows.size(); r += per_block) {
        std::size_t n = std::min(per_block, table.rows.size() - r);
        std::string b = matrix.substr(r * l.row_size, n * l.row_size);
        if (r + n < table.rows.size()) b.resize(kMaxBlockData, '\0');
        blocks.push_back(std::move(b));
      }
      hnid_rows = new_subnode_nid();
      node.subnodes[hnid_rows].blocks = std::move(blocks);
    }
  }
  WriteBth(heap, 4, 4, std::move(index), index_hid);

  std::vector<Layout::Col> sorted = l.cols;
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.tag < b.tag; });
  std::string info;
  info.push_back(static_cast<char>(kTcType));
  info.push_back(static_cast<char>(l.cols.size()));
  for (auto ib : l.rgib) PutU16(info, ib);
  PutU32(info, index_hid);
  PutU32(info, hnid_rows);
  PutU32(info, 0);  // hidIndex (deprecated)
  for (const auto& c : sorted) {
    PutU32(info, c.tag);
    PutU16(info, c.ib);
    info.push_back(static_cast<char>(c.cb));
    info.push_back(static_cast<char>(c.bit));
  }
  heap.Fill(info_hid, info);
  heap.SetUserRoot(info_hid);
  node.blocks = heap.Finish();
  return node;
}

Table ParseTable(const NodeContent& node, const std::string& what) {
  HeapReader heap(node.blocks, what);
  if (heap.client_sig() != kClientTc) {
    Corrupt(what, "heap client signature " + Hex(heap.client_sig()) + ", want 0x7c");
  }
  std::string_view info = heap.Get(heap.user_root());
  if (info.size() < 22 || static_cast<std::uint8_t>(info[0]) != kTcType) {
    Corrupt(what, "TCINFO " + Hex(heap.user_root()) + " of " + std::to_string(info.size()) +
                      " bytes without type 0x7c");
  }
  std::size_t ncols = static_cast<std::uint8_t>(info[1]);
  if (info.size() != 22 + 8 * ncols) {
    Corrupt(what, "TCINFO of " + std::to_string(info.size()) + " bytes for " + std::to_string(ncols) +
                      " columns");
  }
  std::uint16_t rgib[4];
  for (int k = 0; k < 4; ++k) rgib[k] = GetU16(info, 2 + 2 * k);
  if (!(rgib[0] <= rgib[1] && rgib[1] <= rgib[2] && rgib[2] <= rgib[3]) ||
      static_cast<std::size_t>(rgib[3] - rgib[2]) < (ncols + 7) / 8) {
    Corrupt(what, "group offsets " + std::to_string(rgib[0]) + "/" + std::to_string(rgib[1]) + "/" +
                      std::to_string(rgib[2]) + "/" + std::to_string(rgib[3]) + " for " +
                      std::to_string(ncols) + " columns");
  }
  std::size_t row_size = rgib[3];
  std::uint32_t index_hid = GetU32(info, 10);
  std::uint32_t hnid_rows = GetU32(info, 14);
  struct Col {
    std::uint16_t id, type, ib;
    std::uint8_t cb, bit;
  };
  std::vector<Col> cols;
  Table out;
  long id_col = -1;
  long ver_col = -1;
  for (std::size_t i = 0; i < ncols; ++i) {
    std::size_t at = 22 + 8 * i;
    std::uint32_t tag = GetU32(info, at);
    Col c{static_cast<std::uint16_t>(tag >> 16), static_cast<std::uint16_t>(tag & 0xFFFF), GetU16(info, at + 4),
          static_cast<std::uint8_t>(info[at + 6]), static_cast<std::uint8_t>(info[at + 7])};
    if (c.ib + c.cb > rgib[2] || c.bit >= ncols || c.cb != CellSize(c.type)) {
      Corrupt(what, "column " + Hex(tag) + ": offset " + std::to_string(c.ib) + ", size " +
                        std::to_string(c.cb) + ", bit " + std::to_string(c.bit) + " do not fit the row of " +
                        std::to_string(row_size) + " bytes");
    }
    if (c.id == kPidLtpRowId) {
      id_col = static_cast<long>(cols.size());
    } else if (c.id == kPidLtpRowVer) {
      ver_col = static_cast<long>(cols.size());
    }
    cols.push_back(c);
  }
  {
    // Columns in existence-bit order, which is their creation order.
    std::vector<Col> by_bit = cols;
    std::stable_sort(by_bit.begin(), by_bit.end(), [](const Col& a, const Col& b) { return a.bit < b.bit; });
    for (const auto& c : by_bit) {
      if (c.id != kPidLtpRowId && c.id != kPidLtpRowVer) out.columns.push_back({c.id, c.type});
    }
  }
  if (id_col < 0 || cols[id_col].cb != 4) Corrupt(what, "no 4-byte PidTagLtpRowId column");

  BthContents index = ReadBth(heap, index_hid);
  if (index.cb_key != 4 || (index.cb_ent != 4 && index.cb_ent != 2)) {
    Corrupt(what, "row index with key size " + std::to_string(index.cb_key) + " and data size " +
                      std::to_string(index.cb_ent));
  }
  // Row matrix bytes, and how rows are placed in them.
  std::vector<std::string_view> chunks;
  std::size_t per_chunk = 0;
  if (hnid_rows == 0) {
    // no rows
  } else if (IsHid(hnid_rows)) {
    chunks.push_back(heap.Get(hnid_rows));
    per_chunk = row_size == 0 ? 0 : chunks[0].size() / row_size;
  } else {
    auto it = node.subnodes.find(hnid_rows);
    if (it == node.subnodes.end()) Corrupt(what, "row matrix subnode " + Hex(hnid_rows) + " is missing");
    for (const auto& b : it->second.blocks) chunks.push_back(b);
    per_chunk = kMaxBlockData / row_size;
  }
  auto row_bytes = [&](std::size_t index_pos) -> std::string_view {
    if (per_chunk == 0) return {};
    std::size_t chunk = index_pos / per_chunk;
    std::size_t at = (index_pos % per_chunk) * row_size;
    if (chunk >= chunks.size() || at + row_size > chunks[chunk].size()) return {};
    return chunks[chunk].substr(at, row_size);
  };

  std::vector<std::pair<std::uint32_t, std::uint32_t>> order;  // (position, row id)
  for (const auto& rec : index.records) {
    order.emplace_back(static_cast<std::uint32_t>(GetUnsigned(rec.data, 0, index.cb_ent)),
                       static_cast<std::uint32_t>(rec.key));
  }
  std::sort(order.begin(), order.end());
  for (std::size_t k = 1; k < order.size(); ++k) {
    if (order[k].first == order[k - 1].first) {
      Corrupt(what, "rows " + Hex(order[k - 1].second) + " and " + Hex(order[k].second) +
                        " share position " + std::to_string(order[k].first));
    }
  }
  for (const auto& [pos, row_id] : order) {
    std::string_view bytes = row_bytes(pos);
    std::string where = "row " + Hex(row_id) + " at position " + std::to_string(pos);
    if (bytes.empty()) Corrupt(what, where + " is outside the row matrix");
    auto bit_set = [&](const Col& c) {
      return (static_cast<std::uint8_t>(bytes[rgib[2] + c.bit / 8]) & (0x80 >> (c.bit % 8))) != 0;
    };
    TableRow row;
    row.row_id = static_cast<std::uint32_t>(GetUnsigned(bytes, cols[id_col].ib, 4));
    if (row.row_id != row_id) {
      Corrupt(what, where + " holds row id " + Hex(row.row_id));
    }
    if (ver_col >= 0 && bit_set(cols[ver_col])) {
      row.row_ver = static_cast<std::uint32_t>(GetUnsigned(bytes, cols[ver_col].ib, cols[ver_col].cb));
    }
    for (std::size_t i = 0; i < cols.size(); ++i) {
      const Col& c = cols[i];
      if (static_cast<long>(i) == id_col || static_cast<long>(i) == ver_col || !bit_set(c)) continue;
      PropValue v;
      v.type = c.type;
      std::uint64_t raw = GetUnsigned(bytes, c.ib, c.cb);
      if (StoredInline(c.type)) {
        PutUnsigned(v.data, raw, FixedSize(c.type));
      } else {
        auto hnid = static_cast<std::uint32_t>(raw);
        if (IsHid(hnid)) {
          v.data = std::string(heap.Get(hnid));
        } else {
          auto it = node.subnodes.find(hnid);
          if (it == node.subnodes.end()) {
            Corrupt(what, where + ": cell " + Hex(c.id) + " in subnode " + Hex(hnid) + ", which is missing");
          }
          v.data = it->second.Joined();
        }
        std::size_t fixed = FixedSize(c.type);
        if (fixed != 0 && v.data.size() != fixed) {
          Corrupt(what, where + ": cell " + Hex(c.id) + " of " + std::to_string(v.data.size()) + " bytes, want " +
                            std::to_string(fixed));
        }
      }
      row.cells[c.id] = std::move(v);
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace mailfs::pst::writer::ltp
