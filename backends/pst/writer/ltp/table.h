// Table Context (TC, pst-writing.md §7.4, [MS-PST] §2.3.4): a heap with a
// TCINFO (column descriptions), a row matrix of fixed-size rows (in the heap,
// or in a subnode when larger than one heap item) and a BTH row index
// (row id -> row position).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/pst/writer/ltp/property.h"

namespace mailfs::pst::writer::ltp {

inline constexpr std::uint16_t kPidLtpRowId = 0x67F2;
inline constexpr std::uint16_t kPidLtpRowVer = 0x67F3;

struct TableColumn {
  std::uint16_t id = 0;
  std::uint16_t type = 0;
  bool operator==(const TableColumn&) const = default;
};

struct TableRow {
  std::uint32_t row_id = 0;
  std::uint32_t row_ver = 0;
  PropertyMap cells;  // present cells; ids must be columns of the table
  bool operator==(const TableRow&) const = default;
};

struct Table {
  // The columns besides PidTagLtpRowId / PidTagLtpRowVer, which every table
  // has (at offsets 0 and 4, existence bits 0 and 1).
  std::vector<TableColumn> columns;
  std::vector<TableRow> rows;  // in row-matrix order
  bool operator==(const Table&) const = default;

  // Position of the row with |row_id| in rows, or -1.
  long Find(std::uint32_t row_id) const;
};

// Builds a TC node. Cells are laid out 8/4-byte, 2-byte, 1-byte, then the
// existence bitmap, each group in column order; existence bits follow the
// column order. Throws kInvalid for a cell whose id is not a column, whose
// type differs from its column's, duplicate row ids or columns.
NodeContent BuildTable(const Table& table, const NidSource& new_subnode_nid);

class TcBuilder;

// A table kept together with the state of its last build, so that a row
// appended with an id above every other row id (new messages in a folder)
// costs work in proportion to the row, not to the table: the rows before it
// keep their heap items, BTH leaves and row-matrix blocks. Any other change
// (through Mutable()) rebuilds the node at the next Build(). Build() gives
// the bytes BuildTable() gives for table() when subnode ids are drawn in the
// same order (always, for tables without values over 3580 bytes that stay
// within one row-matrix layout).
class TableNode {
 public:
  TableNode();
  explicit TableNode(Table table);
  ~TableNode();
  TableNode(TableNode&&) noexcept;
  TableNode& operator=(TableNode&&) noexcept;

  const Table& table() const { return table_; }
  // For changes other than appends; the next Build() starts over.
  Table& Mutable();
  // Appends a row; throws kInvalid (and changes nothing) as BuildTable
  // would for a bad row.
  void Append(TableRow row, const NidSource& new_subnode_nid);
  NodeContent Build(const NidSource& new_subnode_nid);

 private:
  Table table_;
  std::unique_ptr<TcBuilder> builder_;
};

// Reads a TC node (the template columns and every row with its present
// cells). Throws kCorrupt naming |what| and the position for bad bytes.
Table ParseTable(const NodeContent& node, const std::string& what);

}  // namespace mailfs::pst::writer::ltp
