// mailfs-pstcheck (backends/pst/check) on the samples and on files NdbFile
// writes: clean files pass, and a flipped bit anywhere in a structure the
// checker covers (header, pages, block payloads and trailers) is reported —
// without a crash (the tests run under ASan/UBSan). Seeds are printed.
#include "backends/pst/check/pst_check.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "backends/pst/writer/ndb_file.h"
#include "backends/pst/writer/ndb_format.h"

namespace mailfs::pst::check {
namespace {

namespace fs = std::filesystem;
const std::string kFixtures = std::string(MAILFS_SHARED_DIR) + "/fixtures/pst/";

class TempDir {
 public:
  TempDir() {
    std::string tmpl = testing::TempDir() + "/pstcheck_XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string Report(const CheckResult& r) {
  std::string s = r.readable ? "" : "unreadable: " + r.fatal + "\n";
  for (const auto& f : r.findings) s += FormatFinding(f) + "\n";
  return s;
}

// A file written by NdbFile: Outlook's skeleton plus nodes with data trees
// and nested subnodes.
std::string WriteSample(const TempDir& dir, std::uint8_t crypt) {
  const std::string path = dir / ("written" + std::to_string(crypt) + ".pst");
  auto src = writer::NdbFile::Open(kFixtures + "ms-outlook-pst-rs-Empty.pst", false);
  auto f = writer::NdbFile::Create(path, crypt);
  for (std::uint32_t nid : src->ListNodes()) f->PutNode(nid, src->ParentOf(nid), src->ReadNode(nid));
  f->Commit();
  writer::NodeContent big;
  big.blocks = writer::SplitStream(std::string(30000, 'q'));
  big.subnodes[0x1F].blocks = {"sub"};
  big.subnodes[0x3F] = big;
  f->PutNode(0x10001F, 0, big);
  f->Commit();
  return path;
}

// Flips bits of a copy of |source| and requires every flip that lands in a
// covered extent to be reported.
void FlipAndCheck(const std::string& source, int flips) {
  const CheckResult clean = CheckFile(source);
  ASSERT_TRUE(clean.readable) << source << ": " << clean.fatal;
  ASSERT_EQ(clean.errors(), 0u) << source << "\n" << Report(clean);
  ASSERT_FALSE(clean.covered.empty());
  std::uint64_t covered_bytes = 0;
  for (const auto& [off, len] : clean.covered) covered_bytes += len;

  const unsigned seed = std::random_device{}();
  std::cout << source << ": seed " << seed << "\n";
  SCOPED_TRACE(source + " seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  TempDir dir;
  const std::string copy = dir / "flipped.pst";
  fs::copy_file(source, copy);
  const int fd = ::open(copy.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  int detected = 0, in_covered = 0;
  for (int i = 0; i < flips; ++i) {
    std::uint64_t off;
    bool covered;
    if (i % 4 != 3) {  // mostly inside covered extents
      std::uint64_t k = rng() % covered_bytes;
      off = 0;
      for (const auto& [o, len] : clean.covered) {
        if (k < len) {
          off = o + k;
          break;
        }
        k -= len;
      }
      covered = true;
    } else {
      off = rng() % clean.file_size;
      covered = false;
      for (const auto& [o, len] : clean.covered) covered = covered || (off >= o && off < o + len);
    }
    const auto bit = static_cast<unsigned char>(1u << (rng() % 8));
    unsigned char byte = 0;
    ASSERT_EQ(::pread(fd, &byte, 1, static_cast<off_t>(off)), 1);
    const unsigned char flipped = byte ^ bit;
    ASSERT_EQ(::pwrite(fd, &flipped, 1, static_cast<off_t>(off)), 1);
    const CheckResult r = CheckFile(copy);  // must not crash whatever the flip
    ASSERT_EQ(::pwrite(fd, &byte, 1, static_cast<off_t>(off)), 1);
    const bool reported = !r.readable || r.errors() > 0;
    if (covered) {
      ++in_covered;
      EXPECT_TRUE(reported) << "flip of bit " << static_cast<int>(bit) << " at offset " << off
                            << " not reported";
    }
    detected += reported ? 1 : 0;
  }
  ::close(fd);
  EXPECT_GE(detected, in_covered);
  std::cout << "  " << in_covered << " flips in covered structures, " << detected << " reported\n";
}

TEST(PstCheck, SamplesAreClean) {
  for (const char* name : {"ms-outlook-pst-rs-Empty.pst", "aspose-Outlook_1.pst", "go-pst-32-bit.pst"}) {
    const CheckResult r = CheckFile(kFixtures + name);
    EXPECT_TRUE(r.readable) << name << ": " << r.fatal;
    EXPECT_EQ(r.errors(), 0u) << name << "\n" << Report(r);
    EXPECT_GT(r.blocks, 20u) << name;
    EXPECT_GT(r.heaps, 20u) << name;
  }
  const CheckResult empty = CheckFile(kFixtures + "ms-outlook-pst-rs-Empty.pst");
  EXPECT_EQ(empty.findings.size(), 0u) << Report(empty);
  EXPECT_EQ(empty.nodes, 47u);
  EXPECT_FALSE(CheckFile(kFixtures + "go-pst-32-bit.pst").unicode);
}

TEST(PstCheck, UnreadableInputs) {
  TempDir dir;
  std::ofstream(dir / "text") << "hello\n";
  EXPECT_FALSE(CheckFile(dir / "text").readable);
  EXPECT_FALSE(CheckFile(dir / "missing").readable);
  std::ofstream(dir / "empty");
  EXPECT_FALSE(CheckFile(dir / "empty").readable);
  // A truncated PST: readable header, the rest missing.
  fs::copy_file(kFixtures + "ms-outlook-pst-rs-Empty.pst", dir / "short.pst");
  fs::resize_file(dir / "short.pst", 0x4500);
  const CheckResult r = CheckFile(dir / "short.pst");
  EXPECT_TRUE(r.readable);
  EXPECT_GT(r.errors(), 0u);
}

TEST(PstCheck, CatchesSemanticDamageWithValidChecksums) {
  // A B-tree page whose keys are out of order but whose CRC was recomputed:
  // only the structural rules can see it.
  TempDir dir;
  const std::string path = WriteSample(dir, 0);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    bytes = s.str();
  }
  const std::uint64_t nbt_ib = ndb::Get64(bytes.data() + ndb::hdr::kNbtIb);
  auto* page = reinterpret_cast<std::uint8_t*>(bytes.data()) + nbt_ib;
  ASSERT_GT(page[488], 1);
  // Swap the first two entries of the NBT root and reseal the page.
  const std::size_t esize = page[490];
  std::string first(reinterpret_cast<char*>(page), esize);
  std::memmove(page, page + esize, esize);
  std::memcpy(page + esize, first.data(), esize);
  ndb::SealPage(page, page[496], nbt_ib, ndb::Get64(page + 504));
  std::ofstream(dir / "swapped.pst", std::ios::binary) << bytes;
  const CheckResult r = CheckFile(dir / "swapped.pst");
  EXPECT_GT(r.errors(), 0u);
  EXPECT_NE(Report(r).find("not above the previous"), std::string::npos) << Report(r);
}

TEST(PstCheck, CatchesNodesTheFolderTablesDoNotList) {
  // A message node whose parent is Deleted Items (0x8062) but which the
  // folder's contents table does not list, and a folder PC claiming
  // subfolders it does not have: both caught, with valid checksums.
  TempDir dir;
  const std::string path = WriteSample(dir, 0);
  {
    auto f = writer::NdbFile::Open(path, true);
    f->PutNode(0x200024, 0x8062, f->ReadNode(0x8062));  // any heap will do
    f->Commit();
  }
  CheckResult r = CheckFile(path);
  EXPECT_NE(Report(r).find("folder 0x8062 contents table 0x806e: no row for 0x200024"), std::string::npos)
      << Report(r);
  {
    auto f = writer::NdbFile::Open(path, true);
    f->DeleteNode(0x200024);
    f->PutNode(0x8102, 0x8062, f->ReadNode(0x8062));  // a "folder" without tables
    f->Commit();
  }
  r = CheckFile(path);
  EXPECT_NE(Report(r).find("folder 0x8062 hierarchy table 0x806d: no row for 0x8102"), std::string::npos)
      << Report(r);
}

TEST(PstCheck, BitFlipsInOutlooksEmptyFile) { FlipAndCheck(kFixtures + "ms-outlook-pst-rs-Empty.pst", 300); }
TEST(PstCheck, BitFlipsInAnAsposeFile) { FlipAndCheck(kFixtures + "aspose-Outlook_1.pst", 150); }
TEST(PstCheck, BitFlipsInAnAnsiFile) { FlipAndCheck(kFixtures + "go-pst-32-bit.pst", 300); }
TEST(PstCheck, BitFlipsInFilesNdbFileWrote) {
  TempDir dir;
  FlipAndCheck(WriteSample(dir, 0), 200);
  FlipAndCheck(WriteSample(dir, 1), 200);
}

}  // namespace
}  // namespace mailfs::pst::check
