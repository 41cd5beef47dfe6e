// NdbFile (backends/pst/writer/ndb_file.h): reading Outlook's files, creating
// new ones, commits that the structural checker, libpff, libpst and our own
// reader accept, and crash safety at every injected point.
#include "backends/pst/writer/ndb_file.h"

#include <gtest/gtest.h>
#include <libpff.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "backends/error.h"
#include "tests/support/temp_dir.h"
#include "backends/pst/check/pst_check.h"
#include "backends/pst/pff.h"
#include "backends/pst/writer/ndb_format.h"

namespace mailfs::pst::writer {
namespace {

namespace fs = std::filesystem;
const std::string kFixtures = std::string(MAILFS_SHARED_DIR) + "/fixtures/pst/";
const std::string kEmpty = kFixtures + "ms-outlook-pst-rs-Empty.pst";

using testing_support::Slurp;
using testing_support::TempDir;

struct RunResult {
  int rc;
  std::string out, err;
};
RunResult RunTool(const std::string& cmd, const TempDir& dir) {
  const std::string out = dir / "cmd.out", err = dir / "cmd.err";
  const int status = std::system((cmd + " >" + out + " 2>" + err).c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, Slurp(out), Slurp(err)};
}

// Every file NdbFile writes must pass mailfs-pstcheck without a finding.
void ExpectCheckClean(const std::string& path, bool allow_warnings = false) {
  const auto r = check::CheckFile(path);
  ASSERT_TRUE(r.readable) << path << ": " << r.fatal;
  std::string lines;
  for (const auto& f : r.findings) lines += check::FormatFinding(f) + "\n";
  EXPECT_EQ(r.errors(), 0u) << path << "\n" << lines;
  if (!allow_warnings) {
    EXPECT_EQ(r.warnings(), 0u) << path << "\n" << lines;
  }
}

bool Same(const NodeContent& a, const NodeContent& b) {
  if (a.blocks != b.blocks || a.subnodes.size() != b.subnodes.size()) return false;
  for (auto i = a.subnodes.begin(), j = b.subnodes.begin(); i != a.subnodes.end(); ++i, ++j) {
    if (i->first != j->first || !Same(i->second, j->second)) return false;
  }
  return true;
}

struct Stored {
  std::uint32_t parent;
  NodeContent content;
};
using Model = std::map<std::uint32_t, Stored>;

Model Snapshot(const NodeStore& store) {
  Model m;
  for (std::uint32_t nid : store.ListNodes()) m[nid] = {store.ParentOf(nid), store.ReadNode(nid)};
  return m;
}

void ExpectSameModel(const Model& want, const Model& got) {
  ASSERT_EQ(want.size(), got.size());
  for (const auto& [nid, s] : want) {
    auto it = got.find(nid);
    ASSERT_NE(it, got.end()) << "node " << std::hex << nid << " missing";
    EXPECT_EQ(s.parent, it->second.parent) << "node " << std::hex << nid;
    EXPECT_TRUE(Same(s.content, it->second.content)) << "node " << std::hex << nid << " differs";
  }
}

// A new file holding every node of Outlook's empty file.
void WriteSkeleton(const std::string& path, std::uint8_t crypt = 0) {
  auto src = NdbFile::Open(kEmpty, false);
  auto f = NdbFile::Create(path, crypt);
  for (std::uint32_t nid : src->ListNodes()) f->PutNode(nid, src->ParentOf(nid), src->ReadNode(nid));
  f->Commit();
}

NodeContent RandomContent(std::mt19937& rng, int depth) {
  NodeContent c;
  const int nblocks = static_cast<int>(rng() % 4);
  for (int i = 0; i < nblocks; ++i) {
    std::string b(rng() % 3 == 0 ? kMaxBlockData : rng() % 3000, '\0');
    for (auto& ch : b) ch = static_cast<char>(rng());
    c.blocks.push_back(std::move(b));
  }
  if (depth < 2 && rng() % 3 == 0) {
    const int nsub = static_cast<int>(rng() % 5) + 1;
    for (int i = 0; i < nsub; ++i) {
      c.subnodes[MakeNid(NidType::kLtp, 0x400 + static_cast<std::uint32_t>(rng() % 64))] =
          RandomContent(rng, depth + 1);
    }
  }
  return c;
}

Error CaughtError(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no mailfs::Error thrown";
  return Error(Errc::kInvalid, "none");
}

TEST(NdbFile, ReadsOutlooksEmptyFile) {
  auto f = NdbFile::Open(kEmpty, false);
  EXPECT_EQ(f->crypt_method(), 1);  // permute
  const auto nodes = f->ListNodes();
  EXPECT_EQ(nodes.size(), 47u);
  EXPECT_EQ(f->ParentOf(0x122), 0x122u);
  EXPECT_EQ(f->ParentOf(0x8062), 0x8022u);
  // 0x201, the search activity list, is a raw 4-byte block naming 0x2223.
  EXPECT_EQ(f->ReadNode(0x201).Joined(), std::string("\x23\x22\x00\x00", 4));
  // The store is a heap (signature 0xEC, property context 0xBC) once decoded.
  const std::string store = f->ReadNode(0x21).Joined();
  ASSERT_GE(store.size(), 4u);
  EXPECT_EQ(static_cast<unsigned char>(store[2]), 0xEC);
  EXPECT_EQ(static_cast<unsigned char>(store[3]), 0xBC);
  EXPECT_EQ(f->rgnid(2), 0x404u);
  EXPECT_THROW(f->ReadNode(0x12345), Error);
  EXPECT_THROW(f->PutNode(0x8022, 0x122, {}), Error);  // read-only
}

TEST(NdbFile, ReadsEveryNodeOfAnAsposeFile) {
  auto f = NdbFile::Open(kFixtures + "aspose-Outlook_1.pst", false);
  std::size_t with_subnodes = 0, heaps = 0;
  for (std::uint32_t nid : f->ListNodes()) {
    NodeContent c = f->ReadNode(nid);
    if (!c.subnodes.empty()) ++with_subnodes;
    if (TypeOfNid(nid) == NidType::kNormalMessage) {
      ASSERT_FALSE(c.blocks.empty());
      EXPECT_EQ(static_cast<unsigned char>(c.blocks[0][2]), 0xEC) << std::hex << nid;
      ++heaps;
    }
  }
  EXPECT_GT(with_subnodes, 5u);
  EXPECT_GT(heaps, 5u);
}

TEST(NdbFile, RefusesAnsiFiles) {
  for (bool writable : {false, true}) {
    TempDir dir;
    const std::string copy = dir / "ansi.pst";
    fs::copy_file(kFixtures + "go-pst-32-bit.pst", copy);
    Error e = CaughtError([&] { NdbFile::Open(copy, writable); });
    EXPECT_EQ(e.code(), Errc::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("ANSI"), std::string::npos) << e.what();
  }
}

TEST(NdbFile, RefusesDamagedHeaders) {
  TempDir dir;
  std::string bytes = Slurp(kEmpty);
  bytes[0x30] ^= 1;  // inside both CRC ranges
  std::ofstream(dir / "bad.pst", std::ios::binary) << bytes;
  Error e = CaughtError([&] { NdbFile::Open(dir / "bad.pst", false); });
  EXPECT_EQ(e.code(), Errc::kCorrupt);
  EXPECT_NE(std::string(e.what()).find("CRC"), std::string::npos) << e.what();
  std::ofstream(dir / "text.pst") << "not a pst file at all\n";
  EXPECT_EQ(CaughtError([&] { NdbFile::Open(dir / "text.pst", false); }).code(), Errc::kCorrupt);
}

TEST(NdbFile, CreateMakesAnEmptyValidFile) {
  TempDir dir;
  const std::string path = dir / "new.pst";
  auto f = NdbFile::Create(path);
  EXPECT_EQ(fs::file_size(path), 271360u);  // one AMap range, like Outlook's empty file
  ExpectCheckClean(path);
  EXPECT_TRUE(f->ListNodes().empty());
  EXPECT_EQ(NdbFile::Open(path, false)->ListNodes().size(), 0u);
  EXPECT_EQ(CaughtError([&] { NdbFile::Create(path); }).code(), Errc::kExists);
  EXPECT_EQ(f->rgnid(static_cast<int>(NidType::kNormalMessage)), 0x10000u);
  EXPECT_EQ(f->AllocateNid(NidType::kNormalFolder), 0x8022u);  // §10: first folder 0x401
}

// Create(..., publish=false): the file has no name until Publish(), which
// never replaces a file that appeared meanwhile; Discard() leaves nothing.
TEST(NdbFile, UnpublishedFileAppearsOnlyWhenPublished) {
  TempDir dir;
  const std::string path = dir / "late.pst";
  auto f = NdbFile::Create(path, 0, false);
  EXPECT_FALSE(fs::exists(path));
  NodeContent c;
  c.blocks = {"payload"};
  f->PutNode(0x21, 0, c);
  f->Commit();
  EXPECT_FALSE(fs::exists(path));
  f->Publish();
  ASSERT_TRUE(fs::exists(path));
  ExpectCheckClean(path);
  EXPECT_EQ(NdbFile::Open(path, false)->ReadNode(0x21).blocks, c.blocks);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);

  const std::string raced = dir / "raced.pst";
  auto g = NdbFile::Create(raced, 0, false);
  { std::ofstream(raced) << "someone else's"; }
  EXPECT_EQ(CaughtError([&] { g->Publish(); }).code(), Errc::kExists);
  EXPECT_EQ(Slurp(raced), "someone else's");
  g->Discard();
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2);
}

class SkeletonTest : public testing::TestWithParam<int> {};

TEST_P(SkeletonTest, CopyOfOutlooksSkeletonOpensInEveryReader) {
  TempDir dir;
  const std::string path = dir / "skeleton.pst";
  WriteSkeleton(path, static_cast<std::uint8_t>(GetParam()));
  ExpectCheckClean(path);
  // Byte for byte the same nodes as Outlook's file.
  ExpectSameModel(Snapshot(*NdbFile::Open(kEmpty, false)), Snapshot(*NdbFile::Open(path, false)));

  RunResult info = RunTool("pffinfo " + path, dir);
  EXPECT_EQ(info.rc, 0) << info.out << info.err;
  EXPECT_EQ(info.err, "");
  EXPECT_NE(info.out.find("64-bit"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("Subtree, Wastbox, Common views, Finder"), std::string::npos) << info.out;
  RunResult exp = RunTool("pffexport -q -m all -f all -t " + dir.path() + "/export " + path, dir);
  EXPECT_EQ(exp.rc, 0);
  EXPECT_EQ(exp.err, "");
  EXPECT_TRUE(fs::is_directory(dir.path() + "/export.export/Top of Outlook data file/Deleted Items"));
  std::string listing = RunTool("lspst " + path, dir).out;
  EXPECT_EQ(listing, Slurp(kFixtures + "expected/ms-outlook-pst-rs-Empty.lspst.txt"));
  RunResult rp = RunTool("readpst -j 0 -r -e -D -8 -o " + dir.path() + " " + path, dir);
  EXPECT_EQ(rp.rc, 0) << rp.out << rp.err;

  // The project's own reader (libpff through backends/pst/pff.h).
  pst::File file(path);
  Item root;
  libpff_error_t* error = nullptr;
  ASSERT_EQ(pst::Check(libpff_file_get_root_folder(file.get(), root.out(), &error), error, "root"), 1);
  int subfolders = 0;
  error = nullptr;
  pst::Check(libpff_folder_get_number_of_sub_folders(root.get(), &subfolders, &error), error, "count");
  EXPECT_EQ(subfolders, 4);
}

INSTANTIATE_TEST_SUITE_P(Encodings, SkeletonTest, testing::Values(0, 1));

TEST(NdbFile, ManyCommitsRoundTripAndStayValid) {
  const unsigned seed = std::random_device{}();
  std::cout << "seed " << seed << "\n";
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  TempDir dir;
  const std::string path = dir / "many.pst";
  WriteSkeleton(path, static_cast<std::uint8_t>(seed % 2));
  Model model = Snapshot(*NdbFile::Open(path, false));
  auto f = NdbFile::Open(path, true);
  f->set_sync(false);
  std::vector<std::uint32_t> mine;
  for (int round = 0; round < 40; ++round) {
    const int ops = 1 + static_cast<int>(rng() % 6);
    for (int op = 0; op < ops; ++op) {
      const unsigned what = rng() % 10;
      if (what < 5 || mine.empty()) {
        const std::uint32_t nid = f->AllocateNid(NidType::kLtp);
        NodeContent c = RandomContent(rng, 0);
        model[nid] = {0, c};
        f->PutNode(nid, 0, std::move(c));
        mine.push_back(nid);
      } else if (what < 8) {
        const std::uint32_t nid = mine[rng() % mine.size()];
        NodeContent c = RandomContent(rng, 0);
        model[nid] = {0x21, c};
        f->PutNode(nid, 0x21, std::move(c));
      } else {
        const std::size_t i = rng() % mine.size();
        f->DeleteNode(mine[i]);
        model.erase(mine[i]);
        mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
    if (round == 10) {  // a data tree of more than 1021 blocks (XXBLOCK)
      NodeContent big;
      for (int i = 0; i < 1100; ++i) big.blocks.push_back(std::string(40 + i % 50, static_cast<char>(i)));
      const std::uint32_t nid = f->AllocateNid(NidType::kLtp);
      model[nid] = {0, big};
      f->PutNode(nid, 0, std::move(big));
    }
    if (round == 20) {  // more than 340 subnodes (SIBLOCK)
      NodeContent many;
      for (std::uint32_t i = 0; i < 700; ++i) many.subnodes[MakeNid(NidType::kLtp, 0x400 + i)].blocks = {std::to_string(i)};
      const std::uint32_t nid = f->AllocateNid(NidType::kLtp);
      model[nid] = {0, many};
      f->PutNode(nid, 0, std::move(many));
    }
    ExpectSameModel(model, Snapshot(*f));  // staged view
    f->Commit();
    if (round % 8 == 7 || round == 39) {
      ExpectCheckClean(path);
      ExpectSameModel(model, Snapshot(*NdbFile::Open(path, false)));
    }
  }
  f.reset();
  auto reopened = NdbFile::Open(path, true);  // counters survive
  EXPECT_GE(reopened->rgnid(static_cast<int>(NidType::kLtp)), 0x400u + static_cast<unsigned>(mine.size()));
  RunResult info = RunTool("pffinfo " + path, dir);
  EXPECT_EQ(info.rc, 0);
  EXPECT_EQ(info.err, "");
  // Random nodes hang under no folder (parent 0 or the store), so they are not items.
  RunResult exp = RunTool("pffexport -q -m all -f all -t " + dir.path() + "/export " + path, dir);
  EXPECT_EQ(exp.rc, 0);
  EXPECT_EQ(exp.err, "");
  EXPECT_TRUE(fs::is_directory(dir.path() + "/export.export/Top of Outlook data file/Deleted Items"));
}

TEST(NdbFile, AppendsToAFileOutlookWrote) {
  // -o rw on a copy of a sample: the file keeps its permute encoding, every
  // untouched node reads back the same, and no reader sees new damage.
  TempDir dir;
  const std::string path = dir / "aspose.pst";
  fs::copy_file(kFixtures + "aspose-Outlook_1.pst", path);
  const RunResult before_export =
      RunTool("pffexport -q -m all -f all -t " + dir.path() + "/before " + path, dir);
  Model model = Snapshot(*NdbFile::Open(path, false));
  {
    auto f = NdbFile::Open(path, true);
    EXPECT_EQ(f->crypt_method(), 1);
    EXPECT_THROW(NdbFile::Open(path, true), Error);  // one writer at a time
    // The largest message rewritten in place (new blocks, Outlook's released),
    // a copy of it as a loose node outside any folder (the folder tables
    // are the messaging layer's business), and a rewritten raw node.
    std::uint32_t biggest = 0;
    std::uint64_t size = 0;
    for (const auto& [nid, s] : model) {
      if (TypeOfNid(nid) == NidType::kNormalMessage && s.content.TotalSize() > size) {
        biggest = nid;
        size = s.content.TotalSize();
      }
    }
    ASSERT_NE(biggest, 0u);
    f->PutNode(biggest, model[biggest].parent, model[biggest].content);
    const std::uint32_t copy = f->AllocateNid(NidType::kLtp);
    f->PutNode(copy, 0, model[biggest].content);
    model[copy] = {0, model[biggest].content};
    NodeContent raw{{std::string("\x23\x22\x00\x00", 4)}, {}};
    f->PutNode(0x201, 0, raw);
    model[0x201] = {0, raw};
    f->Commit();
  }
  ExpectCheckClean(path, /*allow_warnings=*/true);
  ExpectSameModel(model, Snapshot(*NdbFile::Open(path, false)));
  const RunResult info = RunTool("pffinfo " + path, dir);
  EXPECT_EQ(info.rc, 0);
  EXPECT_EQ(info.err, "");
  const RunResult after_export =
      RunTool("pffexport -q -m all -f all -t " + dir.path() + "/after " + path, dir);
  EXPECT_EQ(after_export.rc, 0);
  // Outlook's file carries lost items that libpff's recovery scan trips over;
  // the commit may cover some of them but must not add any.
  std::multiset<std::string> before_lines;
  std::istringstream b(before_export.err), a(after_export.err);
  for (std::string line; std::getline(b, line);) before_lines.insert(line);
  for (std::string line; std::getline(a, line);) {
    auto it = before_lines.find(line);
    EXPECT_NE(it, before_lines.end()) << "new libpff message: " << line;
    if (it != before_lines.end()) before_lines.erase(it);
  }
  const RunResult items =
      RunTool("pffexport -q -m items -f all -t " + dir.path() + "/items " + path, dir);
  EXPECT_EQ(items.rc, 0);
  EXPECT_EQ(items.err, "");
}

TEST(NdbFile, ManyNodesThenMostDeleted) {
  // Splits on the way up, empty pages and root collapses on the way down.
  TempDir dir;
  const std::string path = dir / "mass.pst";
  WriteSkeleton(path);
  Model model = Snapshot(*NdbFile::Open(path, false));
  const std::uint64_t skeleton_blocks = NdbFile::Open(path, false)->block_count();
  auto f = NdbFile::Open(path, true);
  f->set_sync(false);
  std::vector<std::uint32_t> nids;
  for (int i = 0; i < 3000; ++i) {
    const std::uint32_t nid = f->AllocateNid(NidType::kLtp);
    NodeContent c{{std::to_string(i)}, {}};
    if (i % 7 == 0) c.subnodes[0x3F].blocks = {"s" + std::to_string(i)};
    model[nid] = {0, c};
    f->PutNode(nid, 0, std::move(c));
    nids.push_back(nid);
  }
  f->Commit();
  ExpectCheckClean(path);
  std::mt19937 rng(7);
  std::shuffle(nids.begin(), nids.end(), rng);
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 740 && !nids.empty(); ++i) {
      f->DeleteNode(nids.back());
      model.erase(nids.back());
      nids.pop_back();
    }
    f->Commit();
    ExpectCheckClean(path);
  }
  ExpectSameModel(model, Snapshot(*NdbFile::Open(path, false)));
  // Freed blocks left the BBT: one block per remaining node, two more per
  // subnode tree (its SLBLOCK and the subnode's data block).
  std::uint64_t want = skeleton_blocks;
  for (std::uint32_t nid : nids) want += model[nid].content.subnodes.empty() ? 1 : 3;
  EXPECT_EQ(NdbFile::Open(path, false)->block_count(), want);
}

TEST(NdbFile, FreedSpaceIsReused) {
  TempDir dir;
  const std::string path = dir / "reuse.pst";
  WriteSkeleton(path);
  auto f = NdbFile::Open(path, true);
  f->set_sync(false);
  NodeContent c;
  c.blocks = SplitStream(std::string(1 << 20, 'x'));
  f->PutNode(0x10001F, 0x122, c);
  f->Commit();
  const std::uint64_t first = fs::file_size(path);
  for (int i = 0; i < 20; ++i) {
    c.blocks[0][0] = static_cast<char>(i);
    f->PutNode(0x10001F, 0x122, c);
    f->Commit();
  }
  // Two generations live at most (the old one is freed after each commit).
  EXPECT_LE(fs::file_size(path), first + (1u << 20) + 2 * 0x3E000);
  ExpectCheckClean(path);
  f->DeleteNode(0x10001F);
  f->Commit();
  ExpectCheckClean(path);
}

TEST(NdbFormat, CrcEightBytesAtATimeMatchesTheBitwiseDefinition) {
  auto bitwise = [](const std::string& s, std::uint32_t c) {
    for (unsigned char ch : s) {
      c ^= ch;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
    }
    return c;
  };
  EXPECT_EQ(ndb::Crc("123456789", 9, 0xFFFFFFFFu), ~0xCBF43926u);  // the CRC-32 check value
  std::mt19937 rng(3);
  std::string buf(300, '\0');
  for (auto& ch : buf) ch = static_cast<char>(rng());
  for (std::size_t from = 0; from < 9; ++from) {
    for (std::size_t len = 0; from + len <= buf.size(); len += 1 + len / 7) {
      EXPECT_EQ(ndb::Crc(buf.data() + from, len, 0), bitwise(buf.substr(from, len), 0)) << from << "+" << len;
      EXPECT_EQ(ndb::Crc(buf.data() + from, len, 0x12345678u), bitwise(buf.substr(from, len), 0x12345678u));
    }
  }
}

TEST(NdbFile, RewrittenNodeKeepsItsUnchangedBlocks) {
  // A node of 300 blocks (an XXBLOCK tree) and a subnode with 40 blocks,
  // rewritten with one block changed in each: only those blocks, their
  // XBLOCKs and the subnode block are written; references stay right.
  TempDir dir;
  const std::string path = dir / "keep.pst";
  WriteSkeleton(path);
  auto f = NdbFile::Open(path, true);
  f->set_sync(false);
  NodeContent c = f->ReadNode(0x21);
  for (int i = 0; i < 1100; ++i) c.blocks.push_back(std::string(kMaxBlockData, static_cast<char>(i)));
  c.subnodes[0x3F].blocks = SplitStream(std::string(40 * kMaxBlockData - 100, 's'));
  c.subnodes[0x5F].blocks = {"small"};
  f->PutNode(0x10001F, 0x122, c);
  f->Commit();
  const std::uint64_t blocks = f->block_count();
  std::uint64_t before = f->blocks_written();
  c.blocks[1050][7] = 'X';
  c.subnodes[0x3F].blocks[39] += "tail";
  f->PutNode(0x10001F, 0x122, c);
  f->Commit();
  // Data block + its XBLOCK + the XXBLOCK; subnode block + its XBLOCK; SLBLOCK.
  EXPECT_EQ(f->blocks_written() - before, 6u);
  EXPECT_EQ(f->block_count(), blocks);
  ExpectCheckClean(path);
  before = f->blocks_written();
  f->PutNode(0x10001F, 0x122, c);  // the same bytes again: nothing new
  f->Commit();
  EXPECT_EQ(f->blocks_written(), before);
  // Another node with the same bytes shares nothing (reuse is per node).
  f->PutNode(0x10003F, 0x122, c);
  f->Commit();
  ExpectCheckClean(path);
  f->DeleteNode(0x10001F);
  f->Commit();
  f.reset();
  ExpectCheckClean(path);
  auto r = NdbFile::Open(path, false);
  EXPECT_FALSE(r->HasNode(0x10001F));
  EXPECT_TRUE(Same(r->ReadNode(0x10003F), c));
}

TEST(NdbFile, CheckpointIntervalLeavesTheAMapFlaggedBetweenCheckpoints) {
  TempDir dir;
  const std::string path = dir / "interval.pst";
  WriteSkeleton(path);
  Model model = Snapshot(*NdbFile::Open(path, false));
  {
    auto f = NdbFile::Open(path, true);
    f->set_checkpoint_interval(3600 * 1000);
    for (std::uint32_t i = 0; i < 30; ++i) {
      NodeContent c = f->ReadNode(0x21);
      c.subnodes[0x1F].blocks = SplitStream(std::string(30000 + 1000 * i, static_cast<char>('a' + i)));
      f->PutNode(0x10001F + (i << 5), 0x122, c);
      model[0x10001F + (i << 5)] = {0x122, c};
      if (i % 4 == 3) {
        f->DeleteNode(0x10001F + ((i - 2) << 5));
        model.erase(0x10001F + ((i - 2) << 5));
      }
      f->Commit();
      EXPECT_FALSE(f->amap_valid_on_disk());
      ExpectCheckClean(path, /*allow_warnings=*/true);
      ExpectSameModel(model, Snapshot(*NdbFile::Open(path, false)));
    }
    f->Checkpoint();
    EXPECT_TRUE(f->amap_valid_on_disk());
    ExpectCheckClean(path);
    f->PutNode(0x20001F, 0x122, NodeContent{{"after the checkpoint"}, {}});
    model[0x20001F] = {0x122, NodeContent{{"after the checkpoint"}, {}}};
    f->Commit();
    EXPECT_FALSE(f->amap_valid_on_disk());
  }
  // The destructor checkpointed: the AMap is valid and exact again.
  ExpectCheckClean(path);
  ExpectSameModel(model, Snapshot(*NdbFile::Open(path, false)));
}

TEST(NdbFile, CrashWithTheAMapInTheDataPhaseLeavesTheOldOrTheNewState) {
  // With a checkpoint interval, a commit after a commit rewrites the AMap
  // together with its data: a crash at any point of it still leaves the
  // old or the new state, and the AMap is rebuilt from the trees.
  TempDir dir;
  const std::string base = dir / "base.pst";
  WriteSkeleton(base);
  for (int p = 0; p <= static_cast<int>(CrashPoint::kBeforeHeaderSync); ++p) {
    const auto point = static_cast<CrashPoint>(p);
    SCOPED_TRACE(CrashPointName(point));
    const std::string path = dir / (std::string("amap-") + CrashPointName(point) + ".pst");
    fs::copy_file(base, path);
    Model before, after;
    {
      auto f = NdbFile::Open(path, true);
      f->set_checkpoint_interval(3600 * 1000);
      NodeContent first = f->ReadNode(0x21);
      first.subnodes[0x1F].blocks = SplitStream(std::string(300000, 'f'));
      f->PutNode(0x10001F, 0x122, first);
      f->Commit();  // the durable header now says fAMapValid = 0
      before = Snapshot(*f);
      after = before;
      NodeContent big = f->ReadNode(0x21);
      big.subnodes[0x1F].blocks = SplitStream(std::string(400000, 'b'));
      f->PutNode(0x10003F, 0x122, big);
      after[0x10003F] = {0x122, big};
      f->DeleteNode(0x10001F);
      after.erase(0x10001F);
      f->SetCrashHook([point](CrashPoint at) {
        if (at == point) throw Error(Errc::kIo, "injected crash");
      });
      EXPECT_THROW(f->Commit(), Error);
      f->set_checkpoint_interval(0);  // the process dies here: no checkpoint on the way out
    }
    ExpectCheckClean(path, /*allow_warnings=*/true);
    const bool committed = point > CrashPoint::kBeforeHeader;
    ExpectSameModel(committed ? after : before, Snapshot(*NdbFile::Open(path, false)));
    RunResult info = RunTool("pffinfo " + path, dir);
    EXPECT_EQ(info.rc, 0);
    EXPECT_EQ(info.err, "");
    RunResult exp = RunTool("pffexport -q -f all -t " + path + ".export " + path, dir);
    EXPECT_EQ(exp.rc, 0);
    EXPECT_EQ(exp.err, "");
    auto f = NdbFile::Open(path, true);
    f->PutNode(0x10005F, 0x122, NodeContent{{"after the crash"}, {}});
    f->Commit();
    f.reset();
    ExpectCheckClean(path);
  }
}

TEST(NdbFile, CrashAtEveryPointLeavesTheOldOrTheNewState) {
  TempDir dir;
  const std::string base = dir / "base.pst";
  WriteSkeleton(base);
  const Model before = Snapshot(*NdbFile::Open(base, false));
  for (int p = 0; p <= static_cast<int>(CrashPoint::kBeforeFinalHeader); ++p) {
    const auto point = static_cast<CrashPoint>(p);
    SCOPED_TRACE(CrashPointName(point));
    const std::string path = dir / (std::string(CrashPointName(point)) + ".pst");
    fs::copy_file(base, path);
    Model after = before;
    {
      auto f = NdbFile::Open(path, true);
      // Enough data to grow the file by a range (in a subnode of a heap node,
      // as large values are stored), a replaced and a deleted node. (With
      // fAMapValid 0, libpff's recovery scan reads every top-level node as
      // a possible item, so top-level nodes here are heaps, as in real files.)
      NodeContent big = f->ReadNode(0x21);
      big.subnodes[0x1F].blocks = SplitStream(std::string(400000, 'b'));
      f->PutNode(0x10001F, 0x122, big);
      after[0x10001F] = {0x122, big};
      NodeContent store = f->ReadNode(0x201);
      store.blocks[0][0] = 'X';
      f->PutNode(0x201, 0, store);
      after[0x201] = {0, store};
      f->DeleteNode(0xF21);
      after.erase(0xF21);
      f->SetCrashHook([point](CrashPoint at) {
        if (at == point) throw Error(Errc::kIo, "injected crash");
      });
      EXPECT_THROW(f->Commit(), Error);
      if (point <= CrashPoint::kBeforeHeader) {
        // The object kept its staged changes; the next commit lands them.
        f->SetCrashHook(nullptr);
        ExpectSameModel(after, Snapshot(*f));
      }
    }
    // What a reader finds after the "crash".
    ExpectCheckClean(path, /*allow_warnings=*/true);
    const bool committed = point > CrashPoint::kBeforeHeader;
    ExpectSameModel(committed ? after : before, Snapshot(*NdbFile::Open(path, false)));
    RunResult info = RunTool("pffinfo " + path, dir);
    EXPECT_EQ(info.rc, 0);
    EXPECT_EQ(info.err, "");
    RunResult exp = RunTool("pffexport -q -m all -f all -t " + path + ".export " + path, dir);
    EXPECT_EQ(exp.rc, 0);
    EXPECT_EQ(exp.err, "");
    // Recovery: the next writer commits on top and leaves a clean file.
    auto f = NdbFile::Open(path, true);
    f->PutNode(0x10003F, 0x122, NodeContent{{"after the crash"}, {}});
    f->Commit();
    f.reset();
    ExpectCheckClean(path);
    Model later = committed ? after : before;
    later[0x10003F] = {0x122, NodeContent{{"after the crash"}, {}}};
    ExpectSameModel(later, Snapshot(*NdbFile::Open(path, false)));
  }
}

TEST(NdbFile, KillNineAtRandomMomentsKeepsAPrefixOfTheCommits) {
  // A child commits heap-sized nodes one by one (fsync on); the parent kills
  // it with SIGKILL after a random delay. The file must then hold exactly the
  // first k nodes for some k, pass the checker and open in libpff.
  const unsigned seed = std::random_device{}();
  std::cout << "seed " << seed << "\n";
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  TempDir dir;
  const std::string base = dir / "base.pst";
  WriteSkeleton(base);
  const NodeContent store = NdbFile::Open(base, false)->ReadNode(0x21);
  auto content = [&](std::uint32_t i) {
    NodeContent c = store;  // a heap, as top-level nodes are in real files
    c.subnodes[0x1F].blocks = SplitStream(std::string(20000 + 3000 * (i % 7), static_cast<char>('a' + i % 26)));
    return c;
  };
  for (int round = 0; round < 10; ++round) {
    const std::string path = dir / ("kill" + std::to_string(round) + ".pst");
    fs::copy_file(base, path);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto f = NdbFile::Open(path, true);
      for (std::uint32_t i = 0;; ++i) {
        f->PutNode(0x10001F + (i << 5), 0, content(i));
        if (i % 5 == 4) f->DeleteNode(0x10001F + ((i - 2) << 5));  // frees space too
        f->Commit();
      }
    }
    ::usleep(static_cast<useconds_t>(20000 + rng() % 400000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ExpectCheckClean(path, /*allow_warnings=*/true);
    auto f = NdbFile::Open(path, false);
    // k = number of commits that landed: node k-1 is the last one present
    // (deletions only ever remove an older node, never two in a row).
    std::uint32_t k = 0;
    for (std::uint32_t i = 0, misses = 0; misses < 3; ++i) {
      if (f->HasNode(0x10001F + (i << 5))) {
        k = i + 1;
        misses = 0;
      } else {
        ++misses;
      }
    }
    for (std::uint32_t i = 0; i < k; ++i) {
      const std::uint32_t nid = 0x10001F + (i << 5);
      const bool deleted = i % 5 == 2 && i + 2 <= k - 1;
      EXPECT_EQ(f->HasNode(nid), !deleted) << "node " << i << " of " << k;
      if (!deleted && f->HasNode(nid)) {
        EXPECT_TRUE(Same(f->ReadNode(nid), content(i))) << "node " << i;
      }
    }
    RunResult info = RunTool("pffinfo " + path, dir);
    EXPECT_EQ(info.rc, 0);
    EXPECT_EQ(info.err, "");
    std::cout << "round " << round << ": killed after " << k << " commits\n";
  }
}

TEST(NdbFile, EnvironmentCrashPointKillsTheProcess) {
  TempDir dir;
  const std::string path = dir / "killed.pst";
  WriteSkeleton(path);
  const Model before = Snapshot(*NdbFile::Open(path, false));
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv("MAILFS_PST_CRASH", "before-header", 1);
    auto f = NdbFile::Open(path, true);
    f->PutNode(0x10001F, 0x122, NodeContent{{"lost"}, {}});
    f->Commit();
    ::_exit(0);  // not reached
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  ExpectCheckClean(path, true);
  ExpectSameModel(before, Snapshot(*NdbFile::Open(path, false)));
}

}  // namespace
}  // namespace mailfs::pst::writer
