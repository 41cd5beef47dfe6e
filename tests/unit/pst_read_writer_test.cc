// The reader over files mailfs's own PST writer made: a message keeps the
// exact MIME bytes it was stored with (mailfs-original-mime) and Fetch serves
// them; its flags and keywords (PidNameKeywords, read from the raw
// multi-valued data) come back in user.mail.flags form.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "backends/blob.h"
#include "backends/pst/pst_backend.h"
#include "backends/pst/writer/messaging/pst_store.h"
#include "backends/pst/writer/ndb_file.h"

namespace mailfs::pst {
namespace {

class PstWriterReadTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = testing::TempDir() + "/pst_read_writer_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

bool Has(const Flags& flags, const std::string& f) { return std::find(flags.begin(), flags.end(), f) != flags.end(); }

TEST_F(PstWriterReadTest, OriginalBytesAndFlagsComeBack) {
  const std::string path = dir_ + "/w.pst";
  // Bytes a renderer would never produce: LF line ends, odd header case,
  // folded Subject; served back as they are.
  const std::string eml_a =
      "from: Ann <ann@example.com>\nSUBJECT: kept\n  as written\nDate: Mon, 1 Jan 2024 10:00:00 +0100\n"
      "Message-ID: <a@example.com>\n\nbody a\n";
  const std::string eml_b =
      "From: Bob <bob@example.com>\r\nSubject: plain\r\nDate: Tue, 2 Jan 2024 10:00:00 +0000\r\n"
      "Message-ID: <b@example.com>\r\n\r\nbody b\r\n";
  {
    auto file = writer::NdbFile::Create(path);
    file->set_sync(false);
    writer::PstStore store(*file);
    store.CreateSkeleton();
    std::uint32_t inbox = store.CreateFolder(store.ipm_subtree(), "Inbox");
    writer::MessageFlags fa;
    fa.read = true;
    fa.flagged = true;
    fa.answered = true;
    fa.keywords = {"$Label1", "Work"};
    store.AddMessage(inbox, eml_a, fa, 1704099600);
    store.AddMessage(inbox, eml_b, writer::MessageFlags{}, 1704189600);
    store.Commit();
  }
  auto backend = OpenPstFile(path, PstOptions{});
  std::vector<FolderInfo> folders = backend->ListFolders(backend->Root());
  // The skeleton's Deleted Items, and Inbox.
  std::erase_if(folders, [](const FolderInfo& f) { return f.name != "Inbox"; });
  ASSERT_EQ(folders.size(), 1u);
  std::vector<MessageInfo> listing = backend->ListMessages(folders[0].id);
  ASSERT_EQ(listing.size(), 2u);
  int seen = 0;
  for (const MessageInfo& info : listing) {
    ASSERT_FALSE(info.unreadable) << info.error;
    std::string bytes = ReadAll(*backend->Fetch(folders[0].id, info.key));
    EXPECT_EQ(bytes.size(), info.size.value_or(0));
    if (bytes == eml_a) {
      ++seen;
      EXPECT_EQ(info.headers, "from: Ann <ann@example.com>\nSUBJECT: kept\n  as written\n"
                              "Date: Mon, 1 Jan 2024 10:00:00 +0100\nMessage-ID: <a@example.com>\n\n");
      EXPECT_TRUE(Has(info.flags, "\\Seen"));
      EXPECT_TRUE(Has(info.flags, "\\Flagged"));
      EXPECT_TRUE(Has(info.flags, "\\Answered"));
      EXPECT_TRUE(Has(info.flags, "$Label1"));
      EXPECT_TRUE(Has(info.flags, "Work"));
      EXPECT_EQ(info.internal_date, 1704099600);
    } else if (bytes == eml_b) {
      ++seen;
      EXPECT_FALSE(Has(info.flags, "\\Seen"));
      EXPECT_FALSE(Has(info.flags, "\\Flagged"));
      EXPECT_FALSE(Has(info.flags, "Work"));
    } else {
      ADD_FAILURE() << "bytes other than the stored ones:\n" << bytes;
    }
  }
  EXPECT_EQ(seen, 2);
}

}  // namespace
}  // namespace mailfs::pst
