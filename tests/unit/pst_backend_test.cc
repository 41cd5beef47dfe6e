// The PST backend over the sample files in ../shared/fixtures/pst: folder
// tree, message counts, subjects and attachments as the foreign readers
// (pffexport, readpst, pst-extractor) report them, and exact sizes. Skipped
// when the shared fixtures are absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "backends/blob.h"
#include "backends/error.h"
#include "backends/mime/parser.h"
#include "backends/pst/pst_backend.h"

namespace mailfs::pst {
namespace {

std::string Sample(const std::string& name) { return std::string(MAILFS_SHARED_DIR) + "/fixtures/pst/" + name; }

#define REQUIRE_SAMPLE(name)                                                  \
  if (!std::filesystem::exists(Sample(name))) {                               \
    GTEST_SKIP() << "shared fixture " << Sample(name) << " not present";      \
  }

struct Seen {
  std::string path;
  std::string subject;
  std::vector<std::pair<std::string, std::uint64_t>> attachments;  // name, bytes
  std::string message_class;
};

// Walks every folder of |backend|; returns "path count" per folder and every
// message fetched (exact size checked).
std::vector<std::string> Walk(Backend& backend, std::vector<Seen>* messages) {
  std::vector<std::string> folders;
  std::function<void(const FolderId&, const std::string&)> visit = [&](const FolderId& id, const std::string& path) {
    std::vector<MessageInfo> listing = backend.ListMessages(id);
    folders.push_back((path.empty() ? "/" : path) + " " + std::to_string(listing.size()));
    for (const MessageInfo& info : listing) {
      EXPECT_FALSE(info.unreadable) << info.error;
      EXPECT_EQ(info.key.value.rfind("pst:0x", 0), 0u) << info.key.value;
      BlobPtr blob = backend.Fetch(id, info.key);
      std::string bytes = ReadAll(*blob);
      ASSERT_TRUE(info.size.has_value());
      EXPECT_EQ(bytes.size(), *info.size) << path << " " << info.key.value;
      EXPECT_EQ(bytes.substr(0, info.headers.size()), info.headers);
      mime::Message m = mime::Parse(bytes);
      Seen seen;
      seen.path = path;
      seen.subject = m.subject.value_or("");
      for (const mime::Header& h : m.extra_headers) {
        if (h.name == "X-MS-Message-Class") seen.message_class = h.value;
      }
      for (const mime::Part& p : m.body.parts) {
        if (p.disposition == "attachment") {
          seen.attachments.emplace_back(p.filename, p.message ? 0 : (p.body ? p.body->Size() : 0));
        }
      }
      messages->push_back(seen);
    }
    for (const FolderInfo& f : backend.ListFolders(id)) visit(f.id, path + "/" + f.name);
  };
  visit(backend.Root(), "");
  return folders;
}

TEST(PstBackendTest, EmptyFileShowsDeletedItems) {
  REQUIRE_SAMPLE("ms-outlook-pst-rs-Empty.pst");
  auto backend = OpenPstFile(Sample("ms-outlook-pst-rs-Empty.pst"), PstOptions{});
  std::vector<Seen> messages;
  EXPECT_EQ(Walk(*backend, &messages), (std::vector<std::string>{"/ 0", "/Deleted Items 0"}));
  EXPECT_TRUE(messages.empty());
  EXPECT_FALSE(backend->GetCapabilities().writable);
}

TEST(PstBackendTest, AnsiFileWithOneAppointment) {
  REQUIRE_SAMPLE("go-pst-32-bit.pst");
  PstOptions strict;
  strict.strict = true;
  auto backend = OpenPstFile(Sample("go-pst-32-bit.pst"), strict);
  std::vector<Seen> messages;
  EXPECT_EQ(Walk(*backend, &messages), (std::vector<std::string>{"/ 0", "/Deleted Items 0", "/Calendar 1"}));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].subject, "Updated: Olympus training for new hires");
  EXPECT_EQ(messages[0].message_class, "IPM.Appointment");
}

TEST(PstBackendTest, UnicodeFileWithAttachmentsAndNestedFolder) {
  REQUIRE_SAMPLE("aspose-Outlook_1.pst");
  auto backend = OpenPstFile(Sample("aspose-Outlook_1.pst"), PstOptions{});
  std::vector<Seen> messages;
  EXPECT_EQ(Walk(*backend, &messages),
            (std::vector<std::string>{"/ 0", "/Deleted Items 0", "/Inbox 8", "/Inbox/SubInbox 0", "/Outbox 0",
                                      "/Sent Items 6", "/Calendar 1", "/Contacts 1", "/Journal 0", "/Notes 0",
                                      "/Tasks 0", "/Drafts 0", "/RSS Feeds 0", "/Junk E-mail 0"}));
  std::vector<std::string> inbox, sent;
  for (const Seen& s : messages) {
    if (s.path == "/Inbox") inbox.push_back(s.subject);
    if (s.path == "/Sent Items") sent.push_back(s.subject);
  }
  EXPECT_EQ(inbox, (std::vector<std::string>{"Multiple attachments", "HTML body", "this message contains embedded MSG",
                                             "check sent date of this message", "message 2", "message 1",
                                             "Microsoft Office Outlook Test Message",
                                             "Microsoft Outlook Test Message"}));
  EXPECT_EQ(sent, (std::vector<std::string>{"message 1", "message 2", "check sent date of this message",
                                            "this message contains embedded MSG", "HTML body",
                                            "Multiple attachments"}));
  ASSERT_EQ(messages.size(), 16u);
  // Inbox "Multiple attachments": three attachments by value.
  const Seen& multiple = messages[0];
  ASSERT_EQ(multiple.attachments.size(), 3u);
  EXPECT_EQ(multiple.attachments[0].first, "text file.txt");
  EXPECT_EQ(multiple.attachments[1].first, "Sunset.jpg");
  EXPECT_EQ(multiple.attachments[2].first, "Blue hills.jpg");
  // Sizes as pffexport 20180714 writes the attachment files.
  EXPECT_EQ(multiple.attachments[0].second, 29u);
  EXPECT_EQ(multiple.attachments[1].second, 71189u);
  EXPECT_EQ(multiple.attachments[2].second, 28521u);
  // "HTML body": twelve inline images image001.png ... image012.gif.
  const Seen& html = messages[1];
  ASSERT_EQ(html.attachments.size(), 12u);
  const std::vector<std::uint64_t> image_sizes = {90089, 7352, 5675, 10385, 5473, 13901,
                                                  6588,  7352, 20959, 2560, 3878, 2275};
  for (std::size_t i = 0; i < html.attachments.size(); ++i) {
    std::string number = (i < 9 ? "00" : "0") + std::to_string(i + 1);
    std::string ext = (i == 9 || i == 11) ? ".gif" : ".png";
    EXPECT_EQ(html.attachments[i].first, "image" + number + ext);
    EXPECT_EQ(html.attachments[i].second, image_sizes[i]) << html.attachments[i].first;
  }
  // Two embedded messages.
  EXPECT_EQ(messages[2].attachments.size(), 2u);
  EXPECT_EQ(messages[12].attachments, html.attachments);
  // Same attachments in the sent copy of "Multiple attachments" (last in Sent Items).
  // pypff and pst-extractor count three; pffexport writes only the two images
  // for this copy (it stops at a table it does not support).
  const Seen& sent_multiple = messages[13];
  EXPECT_EQ(sent_multiple.subject, "Multiple attachments");
  EXPECT_EQ(sent_multiple.attachments, multiple.attachments);
  EXPECT_EQ(messages[14].message_class, "IPM.Appointment");
  EXPECT_EQ(messages[14].subject, "Weekly meeting");
  EXPECT_EQ(messages[15].message_class, "IPM.Contact");
}

TEST(PstBackendTest, MetadataFromMapi) {
  REQUIRE_SAMPLE("aspose-Outlook_1.pst");
  auto backend = OpenPstFile(Sample("aspose-Outlook_1.pst"), PstOptions{});
  for (const FolderInfo& f : backend->ListFolders(backend->Root())) {
    if (f.name != "Inbox") continue;
    std::vector<MessageInfo> listing = backend->ListMessages(f.id);
    ASSERT_EQ(listing.size(), 8u);
    for (const MessageInfo& info : listing) {
      EXPECT_GT(info.internal_date, 946684800) << info.key.value;  // after 2000
      EXPECT_NE(info.headers.find("Subject:"), std::string::npos);
      EXPECT_EQ(info.headers.substr(info.headers.size() - 4), "\r\n\r\n");
    }
    // Rendering is deterministic: the same bytes twice.
    EXPECT_EQ(ReadAll(*backend->Fetch(f.id, listing[0].key)), ReadAll(*backend->Fetch(f.id, listing[0].key)));
    EXPECT_THROW(backend->Fetch(f.id, MessageKey{"pst:0x1"}), Error);
  }
  EXPECT_THROW(backend->ListMessages(FolderId{"12345678"}), Error);
}

// Sent Items hold no transport headers: the header fields come from MAPI.
TEST(PstBackendTest, HeadersBuiltFromMapiProperties) {
  REQUIRE_SAMPLE("aspose-Outlook_1.pst");
  auto backend = OpenPstFile(Sample("aspose-Outlook_1.pst"), PstOptions{});
  for (const FolderInfo& f : backend->ListFolders(backend->Root())) {
    if (f.name != "Sent Items") continue;
    std::vector<MessageInfo> listing = backend->ListMessages(f.id);
    ASSERT_EQ(listing.size(), 6u);
    for (const MessageInfo& info : listing) {
      mime::Message m = mime::Parse(ReadAll(*backend->Fetch(f.id, info.key)));
      ASSERT_EQ(m.from.size(), 1u) << info.headers;
      EXPECT_EQ(m.from[0].name, "Saqib Razzaq");
      EXPECT_TRUE(m.sender.empty()) << info.headers;
      ASSERT_FALSE(m.to.empty()) << info.headers;
      EXPECT_TRUE(m.date.has_value()) << info.headers;
      EXPECT_EQ(std::find(info.flags.begin(), info.flags.end(), "\\Seen") != info.flags.end(), true)
          << info.headers;
    }
  }
}

// Several threads listing and reading at once (libpff calls are serialised
// inside the backend): every thread sees the same bytes.
TEST(PstBackendTest, ConcurrentReaders) {
  REQUIRE_SAMPLE("aspose-Outlook_1.pst");
  auto backend = OpenPstFile(Sample("aspose-Outlook_1.pst"), PstOptions{});
  auto digest_all = [&]() {
    std::string all;
    std::function<void(const FolderId&)> visit = [&](const FolderId& id) {
      for (const MessageInfo& info : backend->ListMessages(id)) {
        all += info.key.value + ":" + std::to_string(ReadAll(*backend->Fetch(id, info.key)).size()) + "\n";
      }
      for (const FolderInfo& f : backend->ListFolders(id)) visit(f.id);
    };
    visit(backend->Root());
    return all;
  };
  std::vector<std::string> results(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = digest_all(); });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& r : results) EXPECT_EQ(r, results[0]);
  EXPECT_FALSE(results[0].empty());
}

TEST(PstBackendTest, OpenErrorsNameTheFile) {
  try {
    OpenPstFile("/nonexistent/dir/missing.pst", PstOptions{});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kNotFound);
    EXPECT_NE(std::string(e.what()).find("missing.pst"), std::string::npos);
  }
  std::string junk = testing::TempDir() + "/pst_backend_test_junk.pst";
  {
    std::ofstream out(junk, std::ios::binary);
    out << "this is not an Outlook data file, only some text";
  }
  try {
    OpenPstFile(junk, PstOptions{});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("pst_backend_test_junk.pst"), std::string::npos) << e.what();
  }
  std::filesystem::remove(junk);
}

}  // namespace
}  // namespace mailfs::pst
