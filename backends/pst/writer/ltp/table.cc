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

// Builds a TC node row by row. Heap items in order: the BTH header, the
// TCINFO, then each row's variable-size cells; in a table whose row ids
// ascend in row order, each full BTH leaf follows the cells of its last row.
// Then the tail, rebuilt by every Finish(): the row matrix when it fits in
// the heap, the last (partial) leaf — or, when ids do not ascend, every
// leaf — and the BTH index levels. The row matrix is otherwise a subnode
// whose blocks hold whole rows, every block but the last padded to 8176
// bytes. So an appended row changes the tail, the heap page its cells land
// in, and the last row-matrix block.
class TcBuilder {
 public:
  TcBuilder(const std::vector<TableColumn>& columns, bool ascending)
      : l_(MakeLayout(columns)), ascending_(ascending) {
    index_hid_ = heap_.Reserve(8);
    info_hid_ = heap_.Reserve(22 + 8 * l_.cols.size());
    for (std::size_t i = 2; i < l_.cols.size(); ++i) by_id_[static_cast<std::uint16_t>(l_.cols[i].tag >> 16)] = i;
    per_block_ = kMaxBlockData / l_.row_size;
    prefix_ = heap_.GetMark();
  }

  bool CanAppend(std::uint32_t row_id) const { return ascending_ && (rows_ == 0 || row_id > last_id_); }

  void AddRow(const TableRow& row, const NidSource& new_subnode_nid) {
    if (ascending_ ? !CanAppend(row.row_id) : !ids_.insert(row.row_id).second) {
      throw Error(Errc::kInvalid, (ascending_ ? "table row id out of order " : "duplicate table row id ") +
                                      Hex(row.row_id));
    }
    heap_.Truncate(prefix_);
    std::string bytes(l_.row_size, '\0');
    auto put = [&](const Layout::Col& c, std::uint64_t v) {
      for (std::size_t k = 0; k < c.cb; ++k) bytes[c.ib + k] = static_cast<char>((v >> (8 * k)) & 0xFF);
      bytes[l_.rgib[2] + c.bit / 8] |= static_cast<char>(0x80 >> (c.bit % 8));
    };
    auto store_var = [&](const std::string& value) -> std::uint32_t {
      if (value.empty()) return 0;
      if (value.size() <= kMaxHeapItem) return heap_.Allocate(value);
      std::uint32_t nid = new_subnode_nid();
      big_[nid].blocks = SplitStream(value);
      return nid;
    };
    put(l_.cols[0], row.row_id);
    put(l_.cols[1], row.row_ver);
    for (const auto& [id, v] : row.cells) {
      auto found = by_id_.find(id);
      if (found == by_id_.end()) {
        throw Error(Errc::kInvalid, "row " + Hex(row.row_id) + ": cell " + Hex(id) + " is not a column");
      }
      const Layout::Col& col = l_.cols[found->second];
      if ((col.tag & 0xFFFF) != v.type) {
        throw Error(Errc::kInvalid, "row " + Hex(row.row_id) + ": cell " + Hex(id) + " has type " +
                                        Hex(v.type) + ", column has " + Hex(col.tag & 0xFFFF));
      }
      std::size_t fixed = FixedSize(v.type);
      if (fixed != 0 && v.data.size() != fixed) {
        throw Error(Errc::kInvalid, "row " + Hex(row.row_id) + ": cell " + Hex(id) + " has " +
                                        std::to_string(v.data.size()) + " bytes, want " + std::to_string(fixed));
      }
      if (StoredInline(v.type)) {
        put(col, GetUnsigned(v.data, 0, v.data.size()));
      } else {
        put(col, store_var(v.data));
      }
    }
    if (matrix_.empty() || matrix_.back().size() / l_.row_size >= per_block_) {
      if (!matrix_.empty()) matrix_.back().resize(kMaxBlockData, '\0');
      matrix_.emplace_back();
    }
    matrix_.back() += bytes;
    BthRecord rec;
    rec.key = row.row_id;
    PutU32(rec.data, static_cast<std::uint32_t>(rows_));
    records_.push_back(std::move(rec));
    ++rows_;
    last_id_ = row.row_id;
    if (ascending_ && rows_ % kLeafRecords == 0) {
      leaves_.push_back(Leaf(records_.begin() + static_cast<long>(rows_ - kLeafRecords), records_.end()));
    }
    prefix_ = heap_.GetMark();
  }

  NodeContent Finish(const NidSource& new_subnode_nid) {
    heap_.Truncate(prefix_);
    NodeContent node;
    node.subnodes = big_;
    std::uint32_t hnid_rows = 0;
    if (rows_ * l_.row_size <= kMaxHeapItem) {
      if (rows_ != 0) hnid_rows = heap_.Allocate(matrix_.front());
    } else {
      if (matrix_nid_ == 0) matrix_nid_ = new_subnode_nid();
      hnid_rows = matrix_nid_;
      node.subnodes[matrix_nid_].blocks = matrix_;
    }
    std::vector<Level> leaves;
    if (ascending_) {
      leaves = leaves_;
      const std::size_t done = leaves_.size() * kLeafRecords;
      if (done < rows_) leaves.push_back(Leaf(records_.begin() + static_cast<long>(done), records_.end()));
    } else {
      std::vector<BthRecord> sorted = records_;
      std::sort(sorted.begin(), sorted.end(), [](const BthRecord& a, const BthRecord& b) { return a.key < b.key; });
      for (std::size_t at = 0; at < sorted.size(); at += kLeafRecords) {
        auto from = sorted.begin() + static_cast<long>(at);
        leaves.push_back(Leaf(from, at + kLeafRecords < sorted.size() ? from + kLeafRecords : sorted.end()));
      }
    }
    // Index levels above the leaves, as WriteBth() makes them.
    std::uint8_t levels = 0;
    while (leaves.size() > 1) {
      std::vector<Level> next;
      const std::size_t per_index = kMaxHeapItem / 8;
      for (std::size_t at = 0; at < leaves.size(); at += per_index) {
        std::string item;
        for (std::size_t i = at; i < leaves.size() && i < at + per_index; ++i) {
          PutUnsigned(item, leaves[i].first_key, 4);
          PutU32(item, leaves[i].hid);
        }
        next.push_back({leaves[at].first_key, heap_.Allocate(item)});
      }
      leaves = std::move(next);
      ++levels;
    }
    std::string hdr;
    hdr.push_back(static_cast<char>(kBthType));
    hdr.push_back(4);
    hdr.push_back(4);
    hdr.push_back(static_cast<char>(levels));
    PutU32(hdr, leaves.empty() ? 0 : leaves.front().hid);
    heap_.Fill(index_hid_, hdr);

    std::vector<Layout::Col> sorted = l_.cols;
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.tag < b.tag; });
    std::string info;
    info.push_back(static_cast<char>(kTcType));
    info.push_back(static_cast<char>(l_.cols.size()));
    for (auto ib : l_.rgib) PutU16(info, ib);
    PutU32(info, index_hid_);
    PutU32(info, hnid_rows);
    PutU32(info, 0);  // hidIndex (deprecated)
    for (const auto& c : sorted) {
      PutU32(info, c.tag);
      PutU16(info, c.ib);
      info.push_back(static_cast<char>(c.cb));
      info.push_back(static_cast<char>(c.bit));
    }
    heap_.Fill(info_hid_, info);
    heap_.SetUserRoot(info_hid_);
    node.blocks = heap_.Finish();
    return node;
  }

 private:
  static constexpr std::size_t kLeafRecords = kMaxHeapItem / 8;  // 4-byte keys and data
  static constexpr std::uint8_t kBthType = 0xB5;
  struct Level {
    std::uint64_t first_key;
    std::uint32_t hid;
  };
  Level Leaf(std::vector<BthRecord>::const_iterator from, std::vector<BthRecord>::const_iterator to) {
    std::string item;
    for (auto it = from; it != to; ++it) {
      PutUnsigned(item, it->key, 4);
      item += it->data;
    }
    return {from->key, heap_.Allocate(item)};
  }

  Layout l_;
  HeapBuilder heap_{kClientTc};
  std::uint32_t index_hid_ = 0, info_hid_ = 0;
  std::map<std::uint16_t, std::size_t> by_id_;
  std::size_t per_block_ = 1;
  bool ascending_;
  std::size_t rows_ = 0;
  std::uint32_t last_id_ = 0;
  std::set<std::uint32_t> ids_;       // when ids do not ascend (duplicates)
  std::vector<BthRecord> records_;    // row index records, in row order
  std::vector<Level> leaves_;         // full leaves in the prefix (ascending ids)
  std::vector<std::string> matrix_;   // row-matrix blocks
  std::map<std::uint32_t, NodeContent> big_;  // values over kMaxHeapItem bytes
  std::uint32_t matrix_nid_ = 0;
  HeapBuilder::Mark prefix_;          // end of the rows' items
};

namespace {
bool Ascending(const Table& table) {
  for (std::size_t i = 1; i < table.rows.size(); ++i) {
    if (table.rows[i].row_id <= table.rows[i - 1].row_id) return false;
  }
  return true;
}
}  // namespace

NodeContent BuildTable(const Table& table, const NidSource& new_subnode_nid) {
  TcBuilder b(table.columns, Ascending(table));
  for (const auto& row : table.rows) b.AddRow(row, new_subnode_nid);
  return b.Finish(new_subnode_nid);
}

TableNode::TableNode() = default;
TableNode::TableNode(Table table) : table_(std::move(table)) {}
TableNode::~TableNode() = default;
TableNode::TableNode(TableNode&&) noexcept = default;
TableNode& TableNode::operator=(TableNode&&) noexcept = default;

Table& TableNode::Mutable() {
  builder_.reset();
  return table_;
}

void TableNode::Append(TableRow row, const NidSource& new_subnode_nid) {
  if (builder_ && builder_->CanAppend(row.row_id)) {
    try {
      builder_->AddRow(row, new_subnode_nid);
    } catch (...) {
      builder_.reset();
      throw;
    }
  } else {
    builder_.reset();
  }
  table_.rows.push_back(std::move(row));
}

NodeContent TableNode::Build(const NidSource& new_subnode_nid) {
  if (!builder_) {
    auto b = std::make_unique<TcBuilder>(table_.columns, Ascending(table_));
    for (const auto& row : table_.rows) b->AddRow(row, new_subnode_nid);
    builder_ = std::move(b);
  }
  return builder_->Finish(new_subnode_nid);
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
