// PST writer, LTP layer: property contexts and table contexts
// (pst-writing.md §7.3, §7.4): the byte layouts the guide documents (row
// sizes of Outlook's templates, the smallest PC), every property type, values
// in subnodes, row matrices in padded subnode blocks, and damaged nodes.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "backends/error.h"
#include "backends/pst/writer/ltp/heap.h"
#include "backends/pst/writer/ltp/property.h"
#include "backends/pst/writer/ltp/table.h"

namespace mailfs::pst::writer::ltp {
namespace {

std::string Bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

Errc CodeOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no error";
  return Errc::kInvalid;
}

NidSource Counter() {
  auto next = std::make_shared<std::uint32_t>(0x400);
  return [next] { return MakeNid(NidType::kLtp, ++*next); };
}

TEST(PstLtpPc, SmallestPcMatchesOutlooksSearchCriteriaNode) {
  // Outlook's node 0x2227 is a PC holding only 0x660B = 0: 38 bytes.
  PropertyMap m;
  m[0x660B] = Int32Value(0);
  NodeContent n = BuildPc(m, Counter());
  ASSERT_EQ(n.blocks.size(), 1u);
  EXPECT_TRUE(n.subnodes.empty());
  EXPECT_EQ(n.blocks[0], Bytes({0x1C, 0x00, 0xEC, 0xBC, 0x20, 0, 0, 0, 0, 0, 0, 0,  //
                                0xB5, 0x02, 0x06, 0x00, 0x40, 0, 0, 0,              //
                                0x0B, 0x66, 0x03, 0x00, 0, 0, 0, 0,                 //
                                0x02, 0x00, 0x00, 0x00, 0x0C, 0x00, 0x14, 0x00, 0x1C, 0x00}));
}

TEST(PstLtpPc, EveryTypeRoundTrips) {
  PropertyMap m;
  m[0x0017] = Int32Value(2);
  m[0x0001] = Int16Value(0xBEEF);
  m[0x360A] = BoolValue(true);
  m[0x0E1B] = BoolValue(false);
  m[0x0E08] = Int64Value(0x0123456789ABCDEFULL);
  m[0x0039] = TimeValue(UnixToFiletime(1700000000));
  m[0x3001] = StringValue("Grüße 日本 \xF0\x9F\x98\x80");
  m[0x0037] = StringValue("");
  m[0x0FF9] = BinaryValue(std::string("\x00\x01\x02", 3));
  m[0x0FFA] = GuidValue(std::string(16, '\x5A'));
  m[0x8001] = MultiStringValue({"one", "zwei", "", "三"});
  m[0x6805] = MultiInt32Value({1, 2, 0xFFFFFFFF});
  m[0x3701] = ObjectValue(0x8045, 1234);
  m[0x0004] = {ptype::kFloat32, Bytes({0, 0, 0x80, 0x3F})};
  m[0x0005] = {ptype::kFloat64, std::string(8, '\x11')};
  m[0x000A] = {ptype::kError, Bytes({0x0F, 0x01, 0x04, 0x80})};
  NodeContent n = BuildPc(m, Counter());
  ParsedPc p = ParsePc(n, "pc");
  EXPECT_EQ(p.props, m);
  EXPECT_TRUE(p.value_subnodes.empty());
  EXPECT_EQ(GetString(p.props, 0x3001), "Grüße 日本 \xF0\x9F\x98\x80");
  EXPECT_EQ(GetString(p.props, 0x0037), "");
  EXPECT_EQ(GetBool(p.props, 0x360A), true);
  EXPECT_EQ(GetInt32(p.props, 0x0017), 2u);
  EXPECT_EQ(GetInt64(p.props, 0x0039), UnixToFiletime(1700000000));
  EXPECT_EQ(FiletimeToUnix(*GetInt64(p.props, 0x0039)), 1700000000);
  EXPECT_EQ(GetMultiString(p.props, 0x8001), (std::vector<std::string>{"one", "zwei", "", "三"}));
  EXPECT_EQ(GetInt32(p.props, 0x3001), std::nullopt);  // wrong type
  // UTF-16LE without terminator.
  EXPECT_EQ(StringValue("Aé").data, Bytes({'A', 0, 0xE9, 0}));
}

TEST(PstLtpPc, LargeValuesGoToSubnodes) {
  PropertyMap m;
  m[0x1000] = StringValue(std::string(kMaxHeapItem / 2, 'x'));  // exactly 3580 bytes: heap
  m[0x1013] = BinaryValue(std::string(kMaxHeapItem + 1, 'h'));  // one more: subnode
  std::string big(100000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  m[0x3701] = BinaryValue(big);
  NodeContent n = BuildPc(m, Counter());
  ASSERT_EQ(n.subnodes.size(), 2u);
  for (const auto& [nid, sub] : n.subnodes) {
    EXPECT_EQ(TypeOfNid(nid), NidType::kLtp);
    for (std::size_t i = 0; i + 1 < sub.blocks.size(); ++i) EXPECT_EQ(sub.blocks[i].size(), kMaxBlockData);
  }
  ParsedPc p = ParsePc(n, "pc");
  EXPECT_EQ(p.props, m);
  EXPECT_EQ(p.value_subnodes.size(), 2u);
  // A missing subnode is reported.
  NodeContent broken = n;
  broken.subnodes.erase(broken.subnodes.begin());
  EXPECT_EQ(CodeOf([&] { ParsePc(broken, "pc"); }), Errc::kCorrupt);
}

TEST(PstLtpPc, ManyPropertiesNeedAnIndexLevelAndSeveralPages) {
  PropertyMap m;
  for (std::uint16_t id = 0x8000; id < 0x8000 + 600; ++id) m[id] = StringValue("value " + std::to_string(id) + std::string(id % 50, 'z'));
  NodeContent n = BuildPc(m, Counter());
  EXPECT_GT(n.blocks.size(), 1u);
  EXPECT_EQ(ParsePc(n, "pc").props, m);
}

TEST(PstLtpPc, RejectsWrongSizesAndForeignHeaps) {
  PropertyMap m;
  m[0x0E07] = {ptype::kInt32, "abc"};
  EXPECT_EQ(CodeOf([&] { BuildPc(m, Counter()); }), Errc::kInvalid);
  Table t;
  NodeContent tc = BuildTable(t, Counter());
  EXPECT_EQ(CodeOf([&] { ParsePc(tc, "tc"); }), Errc::kCorrupt);
  EXPECT_EQ(CodeOf([&] { ParseTable(BuildPc({}, Counter()), "pc"); }), Errc::kCorrupt);
}

// Outlook's templates (pst-writing.md §9.1) and the row sizes it observed.
std::vector<TableColumn> Cols(std::initializer_list<std::pair<int, int>> v) {
  std::vector<TableColumn> out;
  for (auto [id, type] : v) out.push_back({static_cast<std::uint16_t>(id), static_cast<std::uint16_t>(type)});
  return out;
}

std::size_t RowSize(const NodeContent& n) {
  HeapReader h(n.blocks, "t");
  return GetU16(h.Get(h.user_root()), 8);
}

TEST(PstLtpTc, TemplateRowSizesAreOutlooks) {
  constexpr int S = ptype::kString, B = ptype::kBinary, I = ptype::kInt32, L = ptype::kBool,
                T = ptype::kTime, Q = ptype::kInt64;
  Table hier{Cols({{0x0E30, B}, {0x0E33, Q}, {0x0E34, B}, {0x0E38, I}, {0x3001, S}, {0x3602, I},
                   {0x3603, I}, {0x360A, L}, {0x3613, S}, {0x6635, I}, {0x6636, I}}),
             {}};
  EXPECT_EQ(RowSize(BuildTable(hier, Counter())), 55u);
  Table contents{Cols({{0x0017, I}, {0x001A, S}, {0x0036, I}, {0x0037, S}, {0x0039, T}, {0x0042, S},
                       {0x0057, L}, {0x0058, L}, {0x0070, S}, {0x0071, B}, {0x0E03, S}, {0x0E04, S},
                       {0x0E06, T}, {0x0E07, I}, {0x0E08, I}, {0x0E17, I}, {0x0E30, B}, {0x0E33, Q},
                       {0x0E34, B}, {0x0E38, I}, {0x0E3C, B}, {0x0E3D, B}, {0x1097, I}, {0x3008, T},
                       {0x3013, B}, {0x65C6, I}}),
                 {}};
  EXPECT_EQ(RowSize(BuildTable(contents, Counter())), 126u);
  Table recip{Cols({{0x0C15, I}, {0x0E0F, L}, {0x0FF9, B}, {0x0FFE, I}, {0x0FFF, B}, {0x3001, S},
                    {0x3002, S}, {0x3003, S}, {0x300B, B}, {0x3900, I}, {0x39FF, S}, {0x3A40, L},
                    {0x3000, I}, {0x39FE, S}, {0x5FFF, I}}),
              {}};
  // 15 four-byte cells, 2 booleans, 3 bitmap bytes.
  EXPECT_EQ(RowSize(BuildTable(recip, Counter())), 65u);
}

TEST(PstLtpTc, EmptyTableLayout) {
  Table t{Cols({{0x3001, ptype::kString}, {0x360A, ptype::kBool}}), {}};
  NodeContent n = BuildTable(t, Counter());
  ASSERT_EQ(n.blocks.size(), 1u);
  HeapReader h(n.blocks, "t");
  EXPECT_EQ(h.user_root(), 0x40u);  // TCINFO is the second item, the row index header the first
  EXPECT_EQ(h.Get(0x20), Bytes({0xB5, 4, 4, 0, 0, 0, 0, 0}));
  std::string_view info = h.Get(0x40);
  ASSERT_EQ(info.size(), 22u + 4 * 8);
  EXPECT_EQ(static_cast<std::uint8_t>(info[0]), 0x7C);
  EXPECT_EQ(info[1], 4);
  EXPECT_EQ(GetU16(info, 2), 12u);   // 4-byte group end: row id, version, string HNID
  EXPECT_EQ(GetU16(info, 4), 12u);   // no 2-byte cells
  EXPECT_EQ(GetU16(info, 6), 13u);   // one boolean
  EXPECT_EQ(GetU16(info, 8), 14u);   // one bitmap byte
  EXPECT_EQ(GetU32(info, 10), 0x20u);
  EXPECT_EQ(GetU32(info, 14), 0u);
  // Descriptors sorted by tag: 0x3001001F, 0x360A000B, 0x67F20003, 0x67F30003.
  EXPECT_EQ(GetU32(info, 22), 0x3001001Fu);
  EXPECT_EQ(GetU32(info, 30), 0x360A000Bu);
  EXPECT_EQ(GetU32(info, 38), 0x67F20003u);
  EXPECT_EQ(info[38 + 7], 0);  // row id: bit 0
  EXPECT_EQ(GetU32(info, 46), 0x67F30003u);
  EXPECT_EQ(info[46 + 7], 1);
  EXPECT_EQ(ParseTable(n, "t"), t);
}

Table Sample(std::size_t rows, std::size_t big_every) {
  Table t{Cols({{0x0017, ptype::kInt32}, {0x001A, ptype::kString}, {0x0039, ptype::kTime},
                {0x0057, ptype::kBool}, {0x0071, ptype::kBinary}, {0x0E33, ptype::kInt64},
                {0x0001, ptype::kInt16}, {0x6805, ptype::kMultiInt32}, {0x8001, ptype::kMultiString},
                {0x0FFA, ptype::kGuid}}),
          {}};
  for (std::size_t i = 0; i < rows; ++i) {
    TableRow r;
    r.row_id = static_cast<std::uint32_t>(MakeNid(NidType::kNormalMessage, 0x10001 + ((i * 7919) % rows)));
    r.row_ver = static_cast<std::uint32_t>(i);
    if (i % 3 != 1) r.cells[0x0017] = Int32Value(static_cast<std::uint32_t>(i));
    r.cells[0x001A] = StringValue(i % 5 == 0 ? "" : "IPM.Note." + std::to_string(i));
    r.cells[0x0039] = TimeValue(UnixToFiletime(1600000000 + static_cast<std::int64_t>(i)));
    r.cells[0x0057] = BoolValue(i % 2 == 0);
    if (big_every && i % big_every == 0) r.cells[0x0071] = BinaryValue(std::string(5000 + i, 'b'));
    r.cells[0x0E33] = Int64Value(i * 0x100000001ULL);
    if (i % 4 == 0) r.cells[0x0001] = Int16Value(static_cast<std::uint16_t>(i));
    r.cells[0x6805] = MultiInt32Value({static_cast<std::uint32_t>(i)});
    if (i % 2) r.cells[0x8001] = MultiStringValue({"a", "ü" + std::to_string(i)});
    if (i % 6 == 0) r.cells[0x0FFA] = GuidValue(std::string(16, static_cast<char>(i)));
    t.rows.push_back(std::move(r));
  }
  return t;
}

TEST(PstLtpTc, SmallTableRoundTripsWithMatrixInTheHeap) {
  Table t = Sample(5, 0);
  NodeContent n = BuildTable(t, Counter());
  EXPECT_TRUE(n.subnodes.empty());
  EXPECT_EQ(ParseTable(n, "t"), t);
  EXPECT_EQ(t.Find(t.rows[3].row_id), 3);
  EXPECT_EQ(t.Find(1), -1);
}

TEST(PstLtpTc, LargeTableHasPaddedMatrixBlocksAndIndexLevels) {
  Table t = Sample(600, 97);
  NodeContent n = BuildTable(t, Counter());
  HeapReader h(n.blocks, "t");
  std::string_view info = h.Get(h.user_root());
  std::size_t row_size = GetU16(info, 8);
  std::uint32_t rows_nid = GetU32(info, 14);
  ASSERT_FALSE(IsHid(rows_nid));
  ASSERT_EQ(TypeOfNid(rows_nid), NidType::kLtp);
  const NodeContent& matrix = n.subnodes.at(rows_nid);
  std::size_t per = kMaxBlockData / row_size;
  ASSERT_EQ(matrix.blocks.size(), (600 + per - 1) / per);
  for (std::size_t i = 0; i + 1 < matrix.blocks.size(); ++i) EXPECT_EQ(matrix.blocks[i].size(), kMaxBlockData);
  EXPECT_EQ(matrix.blocks.back().size(), (600 - per * (matrix.blocks.size() - 1)) * row_size);
  // 600 row-index records of 8 bytes need a second level.
  EXPECT_EQ(info.size() > 0 && h.Get(GetU32(info, 10))[3], 1);
  // Big cells live in subnodes of the table node.
  EXPECT_EQ(n.subnodes.size(), 1u + (600 + 96) / 97);
  EXPECT_EQ(ParseTable(n, "t"), t);
}

// Rows of a contents table as new messages arrive: ascending ids, no value
// over a heap item (so subnode ids are drawn in the same order either way).
TableRow AppendedRow(std::size_t i) {
  TableRow r;
  r.row_id = MakeNid(NidType::kNormalMessage, 0x10001 + static_cast<std::uint32_t>(i));
  r.row_ver = static_cast<std::uint32_t>(i + 1);
  r.cells[0x0017] = Int32Value(static_cast<std::uint32_t>(i));
  r.cells[0x001A] = StringValue("IPM.Note");
  r.cells[0x0037] = StringValue("Subject of message " + std::to_string(i) + std::string(i % 40, 'x'));
  r.cells[0x0E06] = TimeValue(UnixToFiletime(1700000000 + static_cast<std::int64_t>(i)));
  if (i % 3 == 0) r.cells[0x0071] = BinaryValue(std::string(22, static_cast<char>(i)));
  return r;
}

TEST(PstLtpTc, AppendedRowsBuildTheBytesOfAFullBuild) {
  // Across the move of the row matrix from the heap to a subnode, full BTH
  // leaves (447 records) and a second index level.
  Table cols{Cols({{0x0017, ptype::kInt32}, {0x001A, ptype::kString}, {0x0037, ptype::kString},
                   {0x0E06, ptype::kTime}, {0x0071, ptype::kBinary}}),
             {}};
  TableNode node(cols);
  NidSource a = Counter();
  NodeContent last = node.Build(a);
  std::size_t pages_changed = 0;
  for (std::size_t i = 0; i < 1400; ++i) {
    node.Append(AppendedRow(i), a);
    if (i % 97 != 0 && i != 446 && i != 447 && i < 1390) continue;
    NodeContent got = node.Build(a);
    Table want = node.table();
    NodeContent full = BuildTable(want, Counter());
    ASSERT_EQ(got.blocks, full.blocks) << "after row " << i;
    ASSERT_EQ(got.subnodes.size(), full.subnodes.size());
    for (auto x = got.subnodes.begin(), y = full.subnodes.begin(); x != got.subnodes.end(); ++x, ++y) {
      EXPECT_EQ(x->second.blocks, y->second.blocks);
    }
    EXPECT_EQ(ParseTable(got, "t"), want);
    if (i >= 1390) {
      // One more row changes a few heap pages, not the table.
      std::size_t changed = 0;
      for (std::size_t k = 0; k < got.blocks.size(); ++k) {
        if (k >= last.blocks.size() || last.blocks[k] != got.blocks[k]) ++changed;
      }
      pages_changed = std::max(pages_changed, changed);
    }
    last = std::move(got);
  }
  EXPECT_GT(last.blocks.size(), 20u);
  EXPECT_LE(pages_changed, 4u);
}

TEST(PstLtpTc, OtherChangesRebuildTheTable) {
  Table t{Cols({{0x0017, ptype::kInt32}, {0x0037, ptype::kString}}), {}};
  TableNode node(t);
  NidSource a = Counter();
  for (std::size_t i = 0; i < 600; ++i) {
    TableRow r;
    r.row_id = MakeNid(NidType::kNormalMessage, 0x10001 + static_cast<std::uint32_t>(i));
    r.cells[0x0037] = StringValue("s" + std::to_string(i));
    node.Append(r, a);
  }
  node.Build(a);
  // A row with a lower id, an edited row, a removed row: still exact.
  TableRow low;
  low.row_id = MakeNid(NidType::kNormalMessage, 0x10000);
  node.Append(low, a);
  EXPECT_EQ(ParseTable(node.Build(a), "t"), node.table());
  node.Mutable().rows[5].cells[0x0017] = Int32Value(5);
  node.Mutable().rows.erase(node.Mutable().rows.begin() + 9);
  EXPECT_EQ(ParseTable(node.Build(a), "t"), node.table());
  // A bad row is refused and leaves the table as it was.
  TableRow bad;
  bad.row_id = MakeNid(NidType::kNormalMessage, 0x20000);
  bad.cells[0x3001] = StringValue("not a column");
  TableNode fresh(t);
  fresh.Build(a);
  EXPECT_EQ(CodeOf([&] { fresh.Append(bad, a); }), Errc::kInvalid);
  EXPECT_TRUE(fresh.table().rows.empty());
  EXPECT_EQ(ParseTable(fresh.Build(a), "t"), t);
}

TEST(PstLtpTc, RejectsBadRowsAndDamage) {
  Table t = Sample(3, 0);
  Table dup = t;
  dup.rows[1].row_id = dup.rows[0].row_id;
  EXPECT_EQ(CodeOf([&] { BuildTable(dup, Counter()); }), Errc::kInvalid);
  Table alien = t;
  alien.rows[0].cells[0x3001] = StringValue("x");
  EXPECT_EQ(CodeOf([&] { BuildTable(alien, Counter()); }), Errc::kInvalid);
  Table retyped = t;
  retyped.rows[0].cells[0x0017] = StringValue("x");
  EXPECT_EQ(CodeOf([&] { BuildTable(retyped, Counter()); }), Errc::kInvalid);
  Table twice = t;
  twice.columns.push_back({0x0017, ptype::kInt32});
  EXPECT_EQ(CodeOf([&] { BuildTable(twice, Counter()); }), Errc::kInvalid);

  NodeContent n = BuildTable(t, Counter());
  HeapReader h(n.blocks, "t");
  std::string info(h.Get(0x40));
  std::size_t at = n.blocks[0].find(info);
  NodeContent bad = n;
  bad.blocks[0][at + 1] = 2;  // column count disagrees with the TCINFO size
  EXPECT_EQ(CodeOf([&] { ParseTable(bad, "t"); }), Errc::kCorrupt);
  bad = n;
  bad.blocks[0][at + 8] = static_cast<char>(0xFF);  // row size past the group ends
  bad.blocks[0][at + 9] = 0x00;
  bad.blocks[0][at + 2] = static_cast<char>(0xFF);
  EXPECT_EQ(CodeOf([&] { ParseTable(bad, "t"); }), Errc::kCorrupt);
  // Row id cell disagreeing with the row index.
  std::string matrix(h.Get(GetU32(info, 14)));
  std::size_t mat = n.blocks[0].find(matrix);
  bad = n;
  bad.blocks[0][mat] ^= 0x40;
  EXPECT_EQ(CodeOf([&] { ParseTable(bad, "t"); }), Errc::kCorrupt);
}

}  // namespace
}  // namespace mailfs::pst::writer::ltp
