// An Outlook offline store (.ost) read like a PST: its IPM subtree sits under
// "Root - Mailbox" and its store carries no PST password. The file comes with
// the npm package pst-extractor (example/testdata); the test runs when
// MAILFS_PST_EXTRACTOR_DIR names a directory holding node_modules/pst-extractor.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

#include "backends/blob.h"
#include "backends/pst/pst_backend.h"

namespace mailfs::pst {
namespace {

TEST(PstOstTest, OfflineStoreListsAndReads) {
  const char* dir = std::getenv("MAILFS_PST_EXTRACTOR_DIR");
  std::string ost = std::string(dir == nullptr ? "" : dir) +
                    "/node_modules/pst-extractor/example/testdata/pstextractortest@outlook.com.ost";
  if (dir == nullptr || !std::filesystem::exists(ost)) GTEST_SKIP() << "no " << ost;
  auto backend = OpenPstFile(ost, PstOptions{});
  int folders = 0, messages = 0;
  std::string holiday;
  std::function<void(const FolderId&, const std::string&)> visit = [&](const FolderId& id, const std::string& path) {
    ++folders;
    for (const MessageInfo& info : backend->ListMessages(id)) {
      ASSERT_FALSE(info.unreadable) << info.error;
      std::string bytes = ReadAll(*backend->Fetch(id, info.key));
      EXPECT_EQ(bytes.size(), info.size.value_or(0));
      ++messages;
      if (path == "/Calendar/United States holidays" && bytes.find("SUMMARY:New Year's Day") != std::string::npos &&
          bytes.find("DTSTART;VALUE=DATE:2012") != std::string::npos) {
        holiday = bytes;
      }
    }
    for (const FolderInfo& f : backend->ListFolders(id)) visit(f.id, path + "/" + f.name);
  };
  visit(backend->Root(), "");
  EXPECT_EQ(folders, 37);
  EXPECT_EQ(messages, 183);
  // An all-day event: its day, not the UTC instant of local midnight.
  EXPECT_NE(holiday.find("DTSTART;VALUE=DATE:20120101\r\nDTEND;VALUE=DATE:20120102\r\n"), std::string::npos);
}

}  // namespace
}  // namespace mailfs::pst
