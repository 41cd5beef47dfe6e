// A PST file over 4 GiB built through NdbFile (64-bit offsets everywhere,
// FMap/FPMap slots, XXBLOCK data trees), checked by the structural checker,
// read back and opened by libpff. Manual benchmark, not run in CI (it writes
// about 4.3 GB): MAILFS_PST_BIG_TEST=1 tests/pst_ndb_big_test
// Prints the build time, write rate, check and read-back times, peak RSS.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "backends/pst/check/pst_check.h"
#include "backends/pst/writer/messaging/pst_store.h"
#include "backends/pst/writer/ndb_file.h"

namespace mailfs::pst::writer {
namespace {

namespace fs = std::filesystem;

// Deterministic, cheap, not compressible-looking content for node |n|.
std::vector<std::string> NodeBlocks(std::uint32_t n, std::size_t bytes) {
  std::string s(bytes, '\0');
  std::uint64_t x = 0x9E3779B97F4A7C15ull * (n + 1);
  for (std::size_t i = 0; i + 8 <= s.size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(&s[i], &x, 8);
  }
  return SplitStream(s);
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

TEST(NdbFileBig, FileOverFourGiB) {
  const char* enabled = std::getenv("MAILFS_PST_BIG_TEST");
  if (enabled == nullptr || std::string(enabled) != "1") {
    GTEST_SKIP() << "set MAILFS_PST_BIG_TEST=1 to build a 4.3 GB file";
  }
  const std::string dir = std::getenv("MAILFS_PST_BIG_DIR") ? std::getenv("MAILFS_PST_BIG_DIR")
                                                            : testing::TempDir();
  const std::string path = dir + "/pst_ndb_big_" + std::to_string(::getpid()) + ".pst";
  constexpr std::size_t kNodeBytes = 64u << 20;  // 8208 blocks: an XXBLOCK each
  constexpr std::uint32_t kNodes = 68;           // 4.25 GiB of node data
  const auto start = std::chrono::steady_clock::now();
  {
    auto f = NdbFile::Create(path);
    for (std::uint32_t i = 0; i < kNodes; ++i) {
      NodeContent c;
      c.blocks = NodeBlocks(i, kNodeBytes);
      f->PutNode(MakeNid(NidType::kLtp, 0x1000 + i), 0, std::move(c));
      f->Commit();  // one commit per 64 MiB keeps memory small
    }
  }
  const double build = Seconds(start);
  struct rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  std::cout << "peak RSS of the writer " << ru.ru_maxrss / 1024 << " MiB\n";
  const std::uint64_t size = fs::file_size(path);
  std::cout << "built " << size << " bytes in " << build << " s ("
            << static_cast<double>(size) / build / 1e6 << " MB/s)\n";
  EXPECT_GT(size, 4ull << 30);

  auto t = std::chrono::steady_clock::now();
  const auto r = check::CheckFile(path);
  std::cout << "mailfs-pstcheck: " << r.errors() << " errors, " << r.warnings() << " warnings, "
            << r.blocks << " blocks in " << Seconds(t) << " s\n";
  EXPECT_TRUE(r.readable);
  EXPECT_EQ(r.errors(), 0u);
  for (std::size_t i = 0; i < r.findings.size() && i < 20; ++i) {
    std::cout << check::FormatFinding(r.findings[i]) << "\n";
  }

  t = std::chrono::steady_clock::now();
  {
    auto f = NdbFile::Open(path, false);
    std::cout << "opened (both B-trees loaded) in " << Seconds(t) << " s\n";
    for (std::uint32_t i = 0; i < kNodes; i += 9) {  // the last ones lie above 4 GiB
      EXPECT_EQ(f->ReadNode(MakeNid(NidType::kLtp, 0x1000 + i)).blocks, NodeBlocks(i, kNodeBytes))
          << "node " << i;
    }
    EXPECT_EQ(f->ReadNode(MakeNid(NidType::kLtp, 0x1000 + kNodes - 1)).blocks,
              NodeBlocks(kNodes - 1, kNodeBytes));
  }
  std::cout << "read back 9 nodes (576 MiB) in " << Seconds(t) << " s\n";
  const int rc = std::system(("pffinfo " + path + " >/dev/null 2>&1").c_str());
  EXPECT_EQ(rc, 0);
  ::getrusage(RUSAGE_SELF, &ru);
  std::cout << "peak RSS including the checker's mapping of the file " << ru.ru_maxrss / 1024
            << " MiB\n";
  fs::remove(path);
}

TEST(NdbFileBig, CommitRate) {
  // One commit per message-sized node (as a copy into a mount does without
  // grouping), fsync on: commits per second and the file size reached.
  const char* enabled = std::getenv("MAILFS_PST_BIG_TEST");
  if (enabled == nullptr || std::string(enabled) != "1") {
    GTEST_SKIP() << "set MAILFS_PST_BIG_TEST=1 to run the commit benchmark";
  }
  const std::string dir = std::getenv("MAILFS_PST_BIG_DIR") ? std::getenv("MAILFS_PST_BIG_DIR")
                                                            : testing::TempDir();
  const std::string path = dir + "/pst_ndb_rate_" + std::to_string(::getpid()) + ".pst";
  constexpr std::uint32_t kCommits = 2000;
  const auto start = std::chrono::steady_clock::now();
  {
    auto f = NdbFile::Create(path);
    for (std::uint32_t i = 0; i < kCommits; ++i) {
      NodeContent c;
      c.blocks = NodeBlocks(i, 12000 + (i % 13) * 1000);
      c.subnodes[0x3F].blocks = {std::string(300, 'r')};
      f->PutNode(MakeNid(NidType::kLtp, 0x10001 + i), 0, std::move(c));  // raw, not a heap
      // A folder's tables change with every message: rewrite one node too.
      f->PutNode(MakeNid(NidType::kLtp, 0x401), 0, NodeContent{NodeBlocks(kCommits + i % 3, 6000), {}});
      f->Commit();
    }
  }
  const double took = Seconds(start);
  std::cout << kCommits << " commits in " << took << " s (" << kCommits / took << " commits/s), file "
            << fs::file_size(path) << " bytes\n";
  const auto r = check::CheckFile(path);
  EXPECT_EQ(r.errors(), 0u);
  EXPECT_EQ(r.warnings(), 0u);
  for (std::size_t i = 0; i < r.findings.size() && i < 10; ++i) {
    std::cout << check::FormatFinding(r.findings[i]) << "\n";
  }
  fs::remove(path);
}

TEST(NdbFileBig, OneFolderCommitRate) {
  // The PST layers alone (no mount): 20,000 small messages added to one
  // folder, one commit each (fsync on, checkpoints at most once a second
  // as the daemon does). Prints the rate per 2,000 messages, which should
  // not fall much as the folder's contents table grows.
  const char* enabled = std::getenv("MAILFS_PST_BIG_TEST");
  if (enabled == nullptr || std::string(enabled) != "1") {
    GTEST_SKIP() << "set MAILFS_PST_BIG_TEST=1 to run the commit benchmark";
  }
  const std::string dir = std::getenv("MAILFS_PST_BIG_DIR") ? std::getenv("MAILFS_PST_BIG_DIR")
                                                            : testing::TempDir();
  const std::string path = dir + "/pst_ndb_folder_" + std::to_string(::getpid()) + ".pst";
  constexpr int kMessages = 20000, kBatch = 2000;
  {
    auto f = NdbFile::Create(path);
    f->set_checkpoint_interval(1000);
    // MAILFS_PST_BIG_NOSYNC=1: without fsync, the CPU cost alone.
    if (std::getenv("MAILFS_PST_BIG_NOSYNC") != nullptr) f->set_sync(false);
    PstStore store(*f);
    store.CreateSkeleton();
    store.Commit();
    const std::uint32_t folder = store.CreateFolder(store.ipm_subtree(), "Flat");
    store.Commit();
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kMessages; ++i) {
      std::string body;
      for (int k = 0; k < 12; ++k) body += "Line " + std::to_string(i) + " of a short message body.\r\n";
      const std::string eml = "From: Sender " + std::to_string(i) + " <s@example.com>\r\nTo: u@example.com\r\n"
                              "Subject: Small message number " + std::to_string(i) +
                              "\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\nMessage-ID: <m" + std::to_string(i) +
                              "@example.com>\r\n\r\n" + body;
      store.AddMessage(folder, eml, MessageFlags{}, 1772445600 + i);
      store.Commit();
      if ((i + 1) % kBatch == 0) {
        const double took = Seconds(start);
        std::cout << "messages " << i + 1 - kBatch << " - " << i + 1 << ": " << kBatch / took << " commits/s\n";
        start = std::chrono::steady_clock::now();
      }
    }
  }
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  std::cout << "file " << fs::file_size(path) << " bytes, peak RSS " << ru.ru_maxrss / 1024 << " MiB\n";
  const auto r = check::CheckFile(path);
  EXPECT_EQ(r.errors(), 0u);
  EXPECT_EQ(r.warnings(), 0u);
  fs::remove(path);
}

}  // namespace
}  // namespace mailfs::pst::writer
