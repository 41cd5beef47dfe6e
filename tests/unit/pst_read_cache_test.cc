// Listings kept between mounts (PstOptions::cache_dir): the second open of
// an unchanged file lists from the kept files without rendering, a damaged
// or stale kept listing is ignored, and a changed file gets a new one.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "backends/blob.h"
#include "backends/pst/pst_backend.h"

namespace mailfs::pst {
namespace {

std::string Sample(const std::string& name) { return std::string(MAILFS_SHARED_DIR) + "/fixtures/pst/" + name; }

#define REQUIRE_SAMPLE(name)                                             \
  if (!std::filesystem::exists(Sample(name))) {                          \
    GTEST_SKIP() << "shared fixture " << Sample(name) << " not present"; \
  }

// "key size date flags | headers" of every message, depth-first.
std::vector<std::string> Listing(Backend& backend) {
  std::vector<std::string> out;
  std::function<void(const FolderId&)> visit = [&](const FolderId& id) {
    for (const MessageInfo& info : backend.ListMessages(id)) {
      std::string flags;
      for (const std::string& f : info.flags) flags += f + ",";
      out.push_back(info.key.value + " " + std::to_string(info.size.value_or(0)) + " " +
                    std::to_string(info.internal_date) + " " + flags + " | " + info.headers);
    }
    for (const FolderInfo& f : backend.ListFolders(id)) visit(f.id);
  };
  visit(backend.Root());
  return out;
}

std::vector<std::filesystem::path> ListingFiles(const std::string& cache) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(cache)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  return out;
}

class PstCacheTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "/pst_cache_test_" + std::to_string(::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ + "/cache");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(PstCacheTest, RemountListsFromTheKeptListing) {
  REQUIRE_SAMPLE("aspose-Outlook_1.pst");
  std::string file = dir_ + "/a.pst";
  std::filesystem::copy_file(Sample("aspose-Outlook_1.pst"), file);
  PstOptions options;
  options.cache_dir = dir_ + "/cache";
  std::vector<std::string> first = Listing(*OpenPstFile(file, options));
  ASSERT_EQ(first.size(), 16u);  // the IPM subtree: Inbox 8, Sent Items 6, Calendar, Contacts
  std::vector<std::filesystem::path> kept = ListingFiles(options.cache_dir);
  ASSERT_FALSE(kept.empty());
  EXPECT_EQ(kept[0].parent_path().filename().string().rfind("pst-listing-", 0), 0u);

  // Same listing from the kept files.
  EXPECT_EQ(Listing(*OpenPstFile(file, options)), first);

  // The kept files are what the second open reads: a marker written into a
  // kept header block shows up in the listing (no rendering took place).
  std::filesystem::path inbox;
  for (const auto& p : kept) {
    std::ifstream in(p, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("Subject: Multiple attachments") != std::string::npos) {
      inbox = p;
      std::size_t at = text.find("Subject: Multiple attachments");
      text.replace(at, 9, "Subject: ");  // same length: X marks it below
      text[at] = 'X';
      std::ofstream out(p, std::ios::binary | std::ios::trunc);
      out << text;
      break;  // one folder's file (Inbox and Sent Items both hold the subject)
    }
  }
  ASSERT_FALSE(inbox.empty());
  std::vector<std::string> marked = Listing(*OpenPstFile(file, options));
  bool found = false;
  for (const std::string& line : marked) found = found || line.find("Xubject: Multiple attachments") != std::string::npos;
  EXPECT_TRUE(found);

  // A truncated kept listing is ignored: the folder is rendered again.
  std::filesystem::resize_file(inbox, std::filesystem::file_size(inbox) / 2);
  EXPECT_EQ(Listing(*OpenPstFile(file, options)), first);

  // A changed file (new modification time) gets a new listing directory; the
  // old one is removed.
  struct timespec times[2] = {{0, UTIME_OMIT}, {1000000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
  EXPECT_EQ(Listing(*OpenPstFile(file, options)), first);
  std::vector<std::filesystem::path> now = ListingFiles(options.cache_dir);
  ASSERT_FALSE(now.empty());
  for (const auto& p : now) EXPECT_NE(p.parent_path(), kept[0].parent_path());
}

TEST_F(PstCacheTest, FetchMatchesTheKeptSizes) {
  REQUIRE_SAMPLE("go-pst-32-bit.pst");
  PstOptions options;
  options.cache_dir = dir_ + "/cache";
  Listing(*OpenPstFile(Sample("go-pst-32-bit.pst"), options));
  auto backend = OpenPstFile(Sample("go-pst-32-bit.pst"), options);
  int fetched = 0;
  std::function<void(const FolderId&)> visit = [&](const FolderId& id) {
    for (const MessageInfo& info : backend->ListMessages(id)) {
      std::string bytes = ReadAll(*backend->Fetch(id, info.key));
      EXPECT_EQ(bytes.size(), info.size.value_or(0));
      EXPECT_EQ(bytes.substr(0, info.headers.size()), info.headers);
      ++fetched;
    }
    for (const FolderInfo& f : backend->ListFolders(id)) visit(f.id);
  };
  visit(backend->Root());
  EXPECT_EQ(fetched, 1);
}

}  // namespace
}  // namespace mailfs::pst
