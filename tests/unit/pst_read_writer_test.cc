// The reader over files mailfs's own PST writer made: a message keeps the
// exact MIME bytes it was stored with (mailfs-original-mime) and Fetch serves
// them; its flags and keywords (PidNameKeywords, read from the raw
// multi-valued data) come back in user.mail.flags form.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>

#include "backends/blob.h"
#include "backends/mime/renderer.h"
#include "backends/mime/packed_mime.h"
#include "backends/pst/mailfs_props.h"
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

// Attachments are kept once (decoded, as the attachment), and the kept
// original refers to them: both the reader over libpff and the writer's own
// store give the exact bytes back, for attachments in a data tree (above
// 8 KiB), small ones, repeated ones, and an embedded message's own base64;
// and the bodies (quoted-printable UTF-8 text, plain HTML) kept once, as
// PidTagBody and PidTagHtml.
TEST_F(PstWriterReadTest, OriginalBytesWithAttachmentsComeBack) {
  const std::string path = dir_ + "/a.pst";
  std::mt19937 rng(7);
  auto random = [&](std::size_t n) {
    std::string out(n, '\0');
    for (char& c : out) c = static_cast<char>(rng() & 0xFF);
    return out;
  };
  std::string big = random(300000), small = random(200);
  std::string text, html = "<html><body>\r\n";
  for (int i = 0; i < 200; ++i) {
    text += "Zeile " + std::to_string(i) + ": Gr\xC3\xBC\xC3\x9F" "e aus K\xC3\xB6ln, = und ein langer Satz dazu.\r\n";
    html += "<p>Line " + std::to_string(i) + "</p>\r\n";
  }
  html += "</body></html>";
  std::string part = "Content-Type: application/octet-stream; name=\"big.bin\"\r\n"
                     "Content-Transfer-Encoding: base64\r\n\r\n";
  std::string eml =
      "From: Ann <ann@example.com>\r\nSubject: files\r\nMessage-ID: <f@example.com>\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
      "Content-Type: multipart/alternative; boundary=\"a\"\r\n\r\n--a\r\n"
      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
      mime::EncodeQuotedPrintable(text) + "\r\n--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html +
      "\r\n--a--\r\n"
      "--b\r\n" + part + Base64Lines(big, 76, "\r\n", true) +
      "--b\r\nContent-Type: image/gif; name=\"s.gif\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
      Base64Lines(small, 72, "\r\n", true) +
      "--b\r\nContent-Type: application/octet-stream; name=\"again.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
      Base64Lines(small, 72, "\r\n", true) +
      "--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: b@example.com\r\nSubject: inner\r\n"
      "Content-Type: application/pdf; name=\"in.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
      Base64Lines(random(5000), 76, "\r\n", true) + "--b--\r\n";
  std::uint32_t nid = 0;
  std::uintmax_t empty_size = 0;
  {
    auto file = writer::NdbFile::Create(dir_ + "/empty.pst");
    file->set_sync(false);
    writer::PstStore store(*file);
    store.CreateSkeleton();
    store.CreateFolder(store.ipm_subtree(), "Inbox");
    store.Commit();
  }
  empty_size = std::filesystem::file_size(dir_ + "/empty.pst");
  {
    auto file = writer::NdbFile::Create(path);
    file->set_sync(false);
    writer::PstStore store(*file);
    store.CreateSkeleton();
    std::uint32_t inbox = store.CreateFolder(store.ipm_subtree(), "Inbox");
    nid = store.AddMessage(inbox, eml, writer::MessageFlags{}, 1704099600);
    store.Commit();
    EXPECT_EQ(store.OriginalMime(nid), eml);
    // The kept copy refers to both bodies and the three leaf attachments
    // (the repeated one by the first with the same bytes).
    std::vector<std::uint32_t> refs;
    for (const auto& [id, value] : store.MessageProperties(nid)) {
      if (value.data.starts_with(std::string("\0MZ", 3))) refs = PackedMime(value.data).references();
    }
    std::sort(refs.begin(), refs.end());
    EXPECT_EQ(refs, (std::vector<std::uint32_t>{0, 1, 1, kPlainBodyPart, kHtmlBodyPart}));  // 2 = 1
    std::optional<writer::PstStore::OriginalInfo> info = store.OriginalMimeInfo(nid);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->size, eml.size());
    EXPECT_EQ(info->head.substr(0, 20), "From: Ann <ann@examp");
  }
  // The attachments are stored once: the message costs little more than
  // their decoded size (the .eml is 1.35 times that).
  EXPECT_LT(std::filesystem::file_size(path) - empty_size, 300000 + 5000 + 2 * text.size() + html.size() + 40000);
  auto backend = OpenPstFile(path, PstOptions{});
  std::vector<FolderInfo> folders = backend->ListFolders(backend->Root());
  std::erase_if(folders, [](const FolderInfo& f) { return f.name != "Inbox"; });
  ASSERT_EQ(folders.size(), 1u);
  std::vector<MessageInfo> listing = backend->ListMessages(folders[0].id);
  ASSERT_EQ(listing.size(), 1u);
  ASSERT_FALSE(listing[0].unreadable) << listing[0].error;
  EXPECT_EQ(ReadAll(*backend->Fetch(folders[0].id, listing[0].key)), eml);
  EXPECT_EQ(listing[0].size.value_or(0), eml.size());
}

}  // namespace
}  // namespace mailfs::pst
