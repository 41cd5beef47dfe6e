// PST writer, LTP layer: heap-on-node pages and BTH trees (pst-writing.md
// §7.1, §7.2): exact byte layouts the guide documents, round trips through
// the readers, multi-page heaps and multi-level trees, and damaged bytes
// rejected with kCorrupt.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "backends/error.h"
#include "backends/pst/writer/ltp/bth.h"
#include "backends/pst/writer/ltp/heap.h"
#include "backends/pst/writer/node_store.h"

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

TEST(PstLtpHeap, TruncatedAndRegrownHeapEncodesLikeANewOne) {
  // Finish() after cutting back and growing again (pages re-encoded only
  // where they changed) gives the bytes a builder fed the same items gives.
  auto item = [](int i) { return std::string(100 + (i * 37) % 3000, static_cast<char>('a' + i % 26)); };
  HeapBuilder grown(kClientTc);
  grown.Reserve(8);
  std::vector<HeapBuilder::Mark> marks;
  for (int i = 0; i < 40; ++i) {
    marks.push_back(grown.GetMark());
    grown.Allocate(item(i));
  }
  grown.SetUserRoot(0x20);
  grown.Finish();
  grown.Truncate(marks[25]);
  grown.Finish();
  for (int i = 25; i < 60; ++i) grown.Allocate(item(i * 3));
  grown.Fill(0x20, "12345678");
  HeapBuilder fresh(kClientTc);
  fresh.Reserve(8);
  for (int i = 0; i < 25; ++i) fresh.Allocate(item(i));
  for (int i = 25; i < 60; ++i) fresh.Allocate(item(i * 3));
  fresh.Fill(0x20, "12345678");
  fresh.SetUserRoot(0x20);
  EXPECT_EQ(grown.Finish(), fresh.Finish());
  grown.Truncate(grown.GetMark());  // nothing to drop
  EXPECT_EQ(grown.Finish(), fresh.Finish());
  HeapBuilder::Mark beyond = grown.GetMark();
  beyond.items += 1;
  EXPECT_EQ(CodeOf([&] { grown.Truncate(beyond); }), Errc::kInvalid);
}

TEST(PstLtpHeap, FirstPageLayoutIsOutlooks) {
  HeapBuilder heap(kClientBth);
  EXPECT_EQ(heap.Allocate("abc"), 0x20u);
  EXPECT_EQ(heap.Allocate("de"), 0x40u);
  heap.SetUserRoot(0x40);
  auto blocks = heap.Finish();
  ASSERT_EQ(blocks.size(), 1u);
  // 12-byte HNHDR, items packed at 12 and 15, end 17, one pad byte, map at 18.
  EXPECT_EQ(blocks[0], Bytes({0x12, 0x00, 0xEC, 0xB5, 0x40, 0, 0, 0, 0, 0, 0, 0,  //
                              'a', 'b', 'c', 'd', 'e', 0,                          //
                              0x02, 0x00, 0x00, 0x00, 0x0C, 0x00, 0x0F, 0x00, 0x11, 0x00}));
  HeapReader r(blocks, "test");
  EXPECT_EQ(r.client_sig(), kClientBth);
  EXPECT_EQ(r.user_root(), 0x40u);
  EXPECT_EQ(r.Get(0x20), "abc");
  EXPECT_EQ(r.Get(0x40), "de");
  EXPECT_EQ(r.Get(0), "");
  EXPECT_EQ(CodeOf([&] { r.Get(0x60); }), Errc::kCorrupt);
  EXPECT_EQ(CodeOf([&] { r.Get(0x10020); }), Errc::kCorrupt);
  EXPECT_EQ(CodeOf([&] { r.Get(0x21); }), Errc::kCorrupt);
}

TEST(PstLtpHeap, EmptyHeapIsOnePage) {
  HeapBuilder heap(kClientPc);
  auto blocks = heap.Finish();
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].size(), 12u + 4 + 2);
  HeapReader r(blocks, "test");
  EXPECT_TRUE(r.Items().empty());
}

TEST(PstLtpHeap, PagesFillUpAndBitmapPagesHaveTheirHeader) {
  HeapBuilder heap(kClientPc);
  std::vector<std::pair<std::uint32_t, std::string>> items;
  for (int i = 0; i < 600; ++i) {
    std::string v(1000 + (i * 37) % 2500, static_cast<char>('a' + i % 26));
    v[0] = static_cast<char>(i & 0xFF);
    items.emplace_back(heap.Allocate(v), v);
  }
  auto blocks = heap.Finish();
  ASSERT_GT(blocks.size(), 137u);  // reaches page 136, the second bitmap page
  for (const auto& b : blocks) EXPECT_LE(b.size(), kMaxBlockData);
  HeapReader r(blocks, "test");
  for (const auto& [hid, v] : items) ASSERT_EQ(r.Get(hid), v) << Hex(hid);
  // Page 8 and 136 start with the 66-byte HNBITMAPHDR, others with 2 bytes.
  for (std::size_t page : {std::size_t{1}, std::size_t{8}, std::size_t{9}, std::size_t{136}}) {
    std::size_t ib = GetU16(blocks[page], 0);
    std::size_t first = GetU16(blocks[page], ib + 4);
    EXPECT_EQ(first, page == 8 || page == 136 ? 66u : 2u) << page;
  }
  // Pages are packed: the next item would not have fit.
  std::size_t ib0 = GetU16(blocks[0], 0);
  EXPECT_EQ(blocks[0].size(), ib0 + 4 + 2 * (GetU16(blocks[0], ib0) + 1));
}

TEST(PstLtpHeap, ManySmallItemsStopAt2047PerPage) {
  HeapBuilder heap(kClientPc);
  std::uint32_t last = 0;
  for (int i = 0; i < 2048; ++i) last = heap.Allocate("x");
  EXPECT_EQ(last, 0x10020u);  // item 2048 opens page 1
  HeapReader r(heap.Finish(), "test");
  EXPECT_EQ(r.Get((0u << 16) | (2047u << 5)), "x");
  EXPECT_EQ(r.Get(last), "x");
}

TEST(PstLtpHeap, RejectsBadItemsAndFills) {
  HeapBuilder heap(kClientPc);
  EXPECT_EQ(CodeOf([&] { heap.Allocate(""); }), Errc::kInvalid);
  EXPECT_EQ(CodeOf([&] { heap.Allocate(std::string(kMaxHeapItem + 1, 'x')); }), Errc::kInvalid);
  EXPECT_EQ(heap.Allocate(std::string(kMaxHeapItem, 'x')), 0x20u);
  std::uint32_t hid = heap.Reserve(4);
  EXPECT_EQ(CodeOf([&] { heap.Fill(hid, "abc"); }), Errc::kInvalid);
  heap.Fill(hid, "abcd");
  HeapReader r(heap.Finish(), "test");
  EXPECT_EQ(r.Get(hid), "abcd");
}

TEST(PstLtpHeap, DamagedPagesAreCorrupt) {
  HeapBuilder heap(kClientPc);
  heap.Allocate("hello");
  auto good = heap.Finish();
  auto bad = good;
  bad[0][2] = 0x00;  // signature
  EXPECT_EQ(CodeOf([&] { HeapReader(bad, "n"); }), Errc::kCorrupt);
  bad = good;
  bad[0][0] = 0x7F;  // page map offset past the end
  EXPECT_EQ(CodeOf([&] { HeapReader(bad, "n"); }), Errc::kCorrupt);
  bad = good;
  bad[0][GetU16(good[0], 0) + 4] = 0x40;  // first offset after the map
  EXPECT_EQ(CodeOf([&] { HeapReader(bad, "n"); }), Errc::kCorrupt);
  bad = good;
  bad[0].resize(8);
  EXPECT_EQ(CodeOf([&] { HeapReader(bad, "n"); }), Errc::kCorrupt);
  EXPECT_EQ(CodeOf([&] { HeapReader({}, "n"); }), Errc::kCorrupt);
  try {
    bad = good;
    bad[0][2] = 0x01;
    HeapReader(bad, "node 0x8022");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("node 0x8022"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("offset 2"), std::string::npos) << e.what();
  }
}

std::vector<BthRecord> Records(std::size_t n, int cb_key, int cb_ent, std::uint64_t mul) {
  std::vector<BthRecord> out;
  for (std::size_t i = 0; i < n; ++i) {
    BthRecord r;
    r.key = (i * mul) & (cb_key == 8 ? ~0ULL : ((1ULL << (8 * cb_key)) - 1));
    for (int k = 0; k < cb_ent; ++k) r.data.push_back(static_cast<char>((i + k) & 0xFF));
    out.push_back(r);
  }
  return out;
}

TEST(PstLtpBth, EmptyTreeHasRootZero) {
  HeapBuilder heap(kClientBth);
  std::uint32_t hdr = WriteBth(heap, 4, 4, {});
  heap.SetUserRoot(hdr);
  HeapReader r(heap.Finish(), "t");
  EXPECT_EQ(r.Get(hdr), Bytes({0xB5, 4, 4, 0, 0, 0, 0, 0}));
  auto c = ReadBth(r, hdr);
  EXPECT_TRUE(c.records.empty());
  EXPECT_EQ(c.index_levels, 0);
}

TEST(PstLtpBth, KeysSortNumericallyNotAsBytes) {
  HeapBuilder heap(kClientBth);
  std::vector<BthRecord> recs;
  for (std::uint32_t k : {0x8022u, 0x8042u, 0x2223u, 0x8082u}) {
    BthRecord r{k, {}};
    PutU32(r.data, k + 1);
    recs.push_back(r);
  }
  std::uint32_t hdr = WriteBth(heap, 4, 4, recs);
  HeapReader r(heap.Finish(), "t");
  std::string_view leaf = r.Get(GetU32(r.Get(hdr), 4));
  ASSERT_EQ(leaf.size(), 32u);
  EXPECT_EQ(GetU32(leaf, 0), 0x2223u);
  EXPECT_EQ(GetU32(leaf, 8), 0x8022u);
  EXPECT_EQ(GetU32(leaf, 16), 0x8042u);
  EXPECT_EQ(GetU32(leaf, 24), 0x8082u);
}

TEST(PstLtpBth, RoundTripsAtEverySize) {
  struct Case {
    std::size_t n;
    int cb_key, cb_ent;
    int levels;
  };
  // 3580 / 8 = 447 leaf records, 447 index records per item.
  for (Case c : {Case{1, 2, 6, 0}, Case{447, 2, 6, 0}, Case{448, 4, 4, 1}, Case{600, 4, 4, 1},
                 Case{447 * 447 + 1, 4, 4, 2}, Case{1000, 8, 16, 1}, Case{50, 16 - 8, 32, 0}}) {
    HeapBuilder heap(kClientBth);
    auto recs = Records(c.n, c.cb_key, c.cb_ent, c.cb_key == 2 ? 1 : 0x10001);
    std::uint32_t hdr = WriteBth(heap, static_cast<std::uint8_t>(c.cb_key), static_cast<std::uint8_t>(c.cb_ent), recs);
    auto blocks = heap.Finish();
    HeapReader r(blocks, "t");
    auto got = ReadBth(r, hdr);
    std::sort(recs.begin(), recs.end(), [](const BthRecord& a, const BthRecord& b) { return a.key < b.key; });
    EXPECT_EQ(got.index_levels, c.levels) << c.n;
    EXPECT_EQ(got.records, recs) << c.n;
  }
}

TEST(PstLtpBth, RejectsBadInput) {
  HeapBuilder heap(kClientBth);
  std::vector<BthRecord> dup = {{1, "ab"}, {1, "cd"}};
  EXPECT_EQ(CodeOf([&] { WriteBth(heap, 2, 2, dup); }), Errc::kInvalid);
  std::vector<BthRecord> size = {{1, "abc"}};
  EXPECT_EQ(CodeOf([&] { WriteBth(heap, 2, 2, size); }), Errc::kInvalid);
  std::vector<BthRecord> wide = {{0x10000, "ab"}};
  EXPECT_EQ(CodeOf([&] { WriteBth(heap, 2, 2, wide); }), Errc::kInvalid);
}

TEST(PstLtpBth, DamagedTreesAreCorrupt) {
  auto build = [](std::size_t n) {
    HeapBuilder heap(kClientBth);
    std::uint32_t hdr = WriteBth(heap, 4, 4, Records(n, 4, 4, 3));
    heap.SetUserRoot(hdr);
    return heap.Finish();
  };
  // Swap two keys of a leaf: order broken.
  auto blocks = build(10);
  {
    HeapReader r(blocks, "t");
    std::uint32_t leaf = GetU32(r.Get(0x20), 4);
    std::size_t at = blocks[0].find(std::string(r.Get(leaf)));
    std::swap(blocks[0][at], blocks[0][at + 8]);
    HeapReader r2(blocks, "t");
    EXPECT_EQ(CodeOf([&] { ReadBth(r2, 0x20); }), Errc::kCorrupt);
  }
  // Index key not the child's first key.
  blocks = build(1000);
  {
    HeapReader r(blocks, "t");
    std::uint32_t root = GetU32(r.Get(0x20), 4);
    std::string_view idx = r.Get(root);
    std::size_t at = blocks[root >> 16].find(std::string(idx));
    blocks[root >> 16][at + 8] ^= 0x01;
    HeapReader r2(blocks, "t");
    EXPECT_EQ(CodeOf([&] { ReadBth(r2, 0x20); }), Errc::kCorrupt);
  }
  // Wrong header type.
  blocks = build(3);
  {
    HeapReader r(blocks, "t");
    std::size_t at = blocks[0].find(std::string(r.Get(0x20)));
    blocks[0][at] = 0x00;
    HeapReader r2(blocks, "t");
    EXPECT_EQ(CodeOf([&] { ReadBth(r2, 0x20); }), Errc::kCorrupt);
  }
}

}  // namespace
}  // namespace mailfs::pst::writer::ltp
