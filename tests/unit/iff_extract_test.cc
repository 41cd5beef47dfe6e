// Whole extracts built in temporary folders: pointers, chains, separators,
// overflow fields, code pages, file matching, the folder tree, attachment
// media types, the synthetic PAB message, the PAB and DIRECTORY side files,
// concurrency, and one or more cases per IFF_E_* code (iff-format.md §8) with
// the outcome it must have: structural errors fail the open; message errors
// leave the message listed as unreadable, Fetch throws kCorrupt with the same
// text, and strict fails the open; errors in a DIRECTORY (PAB) section make
// the side files built from it unreadable (and the PAB message).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backends/blob.h"
#include "backends/iff/iff_backend.h"
#include "backends/iff/iff_error.h"
#include "backends/iff/model_builder.h"
#include "backends/mime/header_decode.h"
#include "tests/support/transfer_decode.h"

namespace mailfs::iff {
namespace {

using ::mailfs::testing::DecodeBase64;
using ::mailfs::testing::DecodeQp;

namespace fs = std::filesystem;

const std::string kMailCols =
    "Folder,Sender,To,Cc,Bcc,Subject,Send-Date,Received-Date,Priority,Unread,Unsent,Body";
const std::string kPabCols =
    "Obj-class,Display-Name,Email-Address,First,Last,Address,City,State,Zip,Country,Title,Company,"
    "Department,Office,Assistant,Bus-Num,Bus2-Num,Assist-Num,Fax-Num,Home-Num,Home2-Num,"
    "Mobile-Num,Pager-Num,Note";

// A secondary file under construction.
struct Sec {
  std::string bytes = "Type,Length,Encoding,Islast,Name,Position,Format\r\n";
  // Appends "header row CR LF data separator"; returns the header offset.
  std::uint64_t Raw(const std::string& header,
                    const std::string& data,
                    const std::string& separator = "\r\n") {
    std::uint64_t at = bytes.size();
    bytes += header + "\r\n" + data + separator;
    return at;
  }
  std::uint64_t Add(const std::string& type,
                    const std::string& data,
                    bool last,
                    const std::string& name = "",
                    const std::string& position = "",
                    const std::string& format = "",
                    const std::string& separator = "\r\n") {
    return Raw(type + "," + std::to_string(data.size()) + ",," + (last ? "TRUE" : "FALSE") + "," +
                   name + "," + position + "," + format,
               data, separator);
  }
};

std::string Ptr(const std::string& file, std::uint64_t offset) {
  return "#" + file + "(" + std::to_string(offset) + ")";
}

// A MAILMESSAGE row; |overrides| replaces fields by index.
std::string MailRow(const std::string& body, std::map<int, std::string> overrides = {}) {
  std::vector<std::string> f = {"Inbox",
                                "Sam [SMTP:sam@example.com]",
                                "Rita [SMTP:rita@example.com]",
                                "",
                                "",
                                "Hello",
                                "20030101120000",
                                "20030101120100",
                                "",
                                "",
                                "",
                                body};
  for (const auto& [i, v] : overrides) {
    f[static_cast<std::size_t>(i)] = v;
  }
  std::string out;
  for (std::size_t i = 0; i < f.size(); ++i) {
    out += (i ? "," : "") + f[i];
  }
  return out;
}

class TempExtract {
 public:
  TempExtract() {
    char name[] = "/tmp/iff_extract_testXXXXXX";
    dir_ = ::mkdtemp(name);
  }
  ~TempExtract() { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / name, std::ios::binary) << bytes;
  }
  // T.PKL listing |entries| ("NAME,Primary"/"NAME,Secondary").
  void Pkl(const std::vector<std::string>& entries, const std::string& codepage = "1252") {
    std::string out = codepage + "\r\n\r\nFilename,Filetype\r\n";
    for (const std::string& e : entries) {
      out += e + "\r\n";
    }
    Write("T.PKL", out);
  }
  // The usual layout: T.PKL, T.PRI (MAILMESSAGE section), T.SEC.
  void Standard(const std::string& rows, const Sec& sec, const std::string& codepage = "1252") {
    Pkl({"T.PRI,Primary", "T.SEC,Secondary"}, codepage);
    Write("T.PRI", "MAILMESSAGE,SMTP:owner@example.com\r\n" + kMailCols + "\r\n" + rows);
    Write("T.SEC", sec.bytes);
  }
  std::string path() const { return dir_.string(); }

 private:
  fs::path dir_;
};

std::unique_ptr<Backend> Open(const TempExtract& x, bool strict = false) {
  IffOptions options;
  options.strict = strict;
  return OpenIffExtract(x.path(), options);
}

// "mailbox/folder/..." -> id, for every folder.
std::map<std::string, FolderId> Folders(Backend& b) {
  std::map<std::string, FolderId> out;
  std::function<void(const FolderId&, const std::string&)> walk = [&](const FolderId& id,
                                                                      const std::string& prefix) {
    for (const FolderInfo& f : b.ListFolders(id)) {
      std::string path = prefix.empty() ? f.name : prefix + "/" + f.name;
      out[path] = f.id;
      walk(f.id, path);
    }
  };
  walk(b.Root(), "");
  return out;
}

std::vector<std::string> Keys(const std::map<std::string, FolderId>& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) {
    out.push_back(k);
  }
  return out;
}

std::string Fetch(Backend& b, const std::string& folder, std::size_t index) {
  auto folders = Folders(b);
  EXPECT_TRUE(folders.count(folder)) << folder;
  auto list = b.ListMessages(folders[folder]);
  EXPECT_LT(index, list.size());
  EXPECT_FALSE(list[index].unreadable) << list[index].error;
  std::string bytes = ReadAll(*b.Fetch(folders[folder], list[index].key));
  EXPECT_EQ(bytes.size(), list[index].size.value_or(0));
  return bytes;
}

std::string HeaderOf(const std::string& bytes, std::string_view name) {
  return mime::FirstHeader(mime::HeaderBlock(bytes), name).value_or("");
}

std::string BodyOf(const std::string& bytes) {
  std::size_t at = bytes.find("\r\n\r\n");
  return at == std::string::npos ? "" : bytes.substr(at + 4);
}

// Side files of |folder| ("" for the root) by name, read whole.
std::map<std::string, std::string> SideFiles(Backend& b, const std::string& folder) {
  FolderId id = b.Root();
  if (!folder.empty()) {
    auto folders = Folders(b);
    EXPECT_TRUE(folders.count(folder)) << folder;
    id = folders[folder];
  }
  std::map<std::string, std::string> out;
  for (const SideFile& f : b.ListSideFiles(id)) {
    EXPECT_EQ(f.mtime, 0);
    EXPECT_FALSE(out.count(f.name)) << f.name;
    out[f.name] = ReadAll(*f.content);
    EXPECT_EQ(out[f.name].size(), f.content->Size());
  }
  return out;
}

std::size_t Count(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = 0; (at = text.find(needle, at)) != std::string_view::npos;
       at += needle.size()) {
    ++n;
  }
  return n;
}



// ---------------------------------------------------------------- behaviour

TEST(IffExtractTest, ContinuationInColumnLineAndRow) {
  TempExtract x;
  Sec sec;
  std::uint64_t body = sec.Add("Body", "text\r\n", true);
  x.Pkl({"T.PRI,Primary", "T.SEC,Secondary"});
  x.Write("T.PRI",
          "MAILMESSAGE,SMTP:o@example.com\r\n"
          "Folder,Sender,To,Cc,Bcc,Subject,Send-Date,Received-Date\\\\\r\n"
          ",Priority,Unread,Unsent,Body\r\n"
          "Inbox,A [SMTP:a@example.com],B [SMTP:b@example.com],,,Long \\\\\r\n"
          "subject,20030101120000,,,,," +
              Ptr("T.SEC", body) + "\r\n");
  x.Write("T.SEC", sec.bytes);
  auto b = Open(x);
  auto folders = Folders(*b);
  auto list = b->ListMessages(folders["SMTP:o@example.com/Inbox"]);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].key.value, "iff:T.PRI:4");  // first physical line of the row
  std::string bytes = Fetch(*b, "SMTP:o@example.com/Inbox", 0);
  EXPECT_EQ(HeaderOf(bytes, "Subject"), "Long subject");
  EXPECT_EQ(BodyOf(bytes), "text\r\n");
}

TEST(IffExtractTest, FileNamesMatchCaseInsensitively) {
  TempExtract x;
  Sec sec;
  std::uint64_t body = sec.Add("Body", "hi", true);
  x.Pkl({"t.pri,primary", "t.Sec,SECONDARY"});
  x.Write("T.PRI", "mailmessage,SMTP:o@example.com\r\n" + kMailCols + "\r\n" +
                       MailRow(Ptr("T.SEC", body)) + "\r\n");
  x.Write("T.SEC", sec.bytes);
  auto b = Open(x);
  EXPECT_EQ(BodyOf(Fetch(*b, "SMTP:o@example.com/Inbox", 0)), "hi");
}

TEST(IffExtractTest, OpensThePackingListFileItself) {
  TempExtract x;
  Sec sec;
  x.Standard(MailRow(Ptr("T.SEC", sec.Add("Body", "x", true))) + "\r\n", sec);
  auto b = OpenIffExtract(x.path() + "/T.PKL", IffOptions{});
  EXPECT_EQ(Keys(Folders(*b)),
            (std::vector<std::string>{"SMTP:owner@example.com", "SMTP:owner@example.com/Inbox"}));
}

TEST(IffExtractTest, FolderTreeMergesCaseInsensitivelyFirstSpellingWins) {
  TempExtract x;
  Sec sec;
  std::string p = Ptr("T.SEC", sec.Add("Body", "x", true));
  x.Pkl({"T.PRI,Primary", "T.SEC,Secondary"});
  x.Write("T.PRI",
          "MAILMESSAGE,migrate:SMTP:Owner@example.com\r\n" + kMailCols + "\r\n" +
              MailRow(p, {{0, "INBOX"}}) + "\r\n" + MailRow(p, {{0, "inbox"}}) + "\r\n" +
              MailRow(p, {{0, "\\Inbox\\Sub\\"}}) + "\r\n" + MailRow(p, {{0, "inbox\\SUB"}}) +
              "\r\n" + MailRow(p, {{0, ""}}) + "\r\n" + MailRow(p, {{0, "Sent Items"}}) +
              "\r\n\r\nMAILMESSAGE,SMTP:owner@EXAMPLE.com\r\n" + kMailCols + "\r\n" +
              MailRow(p, {{0, "Deleted Items\\a%b/c"}}) + "\r\n\r\nMAILMESSAGE,PublicMessage\r\n" +
              kMailCols + "\r\n" + MailRow(p, {{0, "Social\\Gamers"}}) + "\r\n");
  x.Write("T.SEC", sec.bytes);
  auto b = Open(x);
  auto folders = Folders(*b);
  EXPECT_EQ(Keys(folders),
            (std::vector<std::string>{
                "PublicMessages", "PublicMessages/Social", "PublicMessages/Social/Gamers",
                "SMTP:Owner@example.com", "SMTP:Owner@example.com/Deleted Items",
                "SMTP:Owner@example.com/Deleted Items/a%b/c", "SMTP:Owner@example.com/INBOX",
                "SMTP:Owner@example.com/INBOX/Sub", "SMTP:Owner@example.com/Sent Items"}));
  EXPECT_EQ(b->ListMessages(folders["SMTP:Owner@example.com/INBOX"]).size(), 3u);
  EXPECT_EQ(b->ListMessages(folders["SMTP:Owner@example.com/INBOX/Sub"]).size(), 2u);
  EXPECT_TRUE(b->ListMessages(folders["SMTP:Owner@example.com"]).empty());
  for (const FolderInfo& f : b->ListFolders(folders["SMTP:Owner@example.com"])) {
    if (f.name == "Sent Items") {
      EXPECT_EQ(f.special_use, "\\Sent");
    } else if (f.name == "Deleted Items") {
      EXPECT_EQ(f.special_use, "\\Trash");
    } else {
      EXPECT_EQ(f.special_use, "");
    }
  }
  std::string bytes = Fetch(*b, "SMTP:Owner@example.com/INBOX/Sub", 0);
  EXPECT_EQ(HeaderOf(bytes, "X-IFF-Folder"), "Inbox\\Sub");
  EXPECT_EQ(HeaderOf(bytes, "X-IFF-Mailbox"), "SMTP:Owner@example.com");
}

TEST(IffExtractTest, EmptyMailboxSectionMakesNoFolder) {
  TempExtract x;
  Sec sec;
  x.Standard("", sec);
  auto b = Open(x);
  EXPECT_TRUE(b->ListFolders(b->Root()).empty());
  EXPECT_THROW(b->ListMessages(FolderId{"1"}), Error);
  EXPECT_THROW(b->ListMessages(FolderId{"x"}), Error);
}

TEST(IffExtractTest, ChainsSeparatorsAndSectionKinds) {
  TempExtract x;
  Sec sec;
  // Two Body sections (concatenated), an Other (ignored), three attachments,
  // separated by zero, one and three CR LF.
  std::uint64_t first = sec.Add("Body", "part one\r\n", false, "", "", "", "");
  sec.Add("body", "part two", false, "", "", "", "\r\n\r\n\r\n");
  sec.Add("Other", "ignored", false);
  sec.Add("Attachment", std::string("\0\r\n\x01", 4), false, "\"a,b.bin\"", "5", "None");
  sec.Add("Attachment", "MACDATA", false, "mac.hqx", "", "Macbinary");
  const std::string notes("bare\rcr\nlf\r\n\xE9t\xE9\0end", 19);
  sec.Add("Attachment", notes, false, "Notes.TXT", "", "");
  sec.Add("Schedule", "SCHEDULE+2 EXPORT VERSION 103\r\n", true, "HOWARDS.SC2", "-1", "");
  // A free document: zero-length Body, Document right after it.
  std::uint64_t doc = sec.Add("Body", "", false, "", "", "", "");
  sec.Add("Document", "%PDF-1.4", true, "report.pdf", "0", "");
  x.Standard(MailRow(Ptr("T.SEC", first)) + "\r\n" +
                 MailRow(Ptr("T.SEC", doc), {{5, "ignored subject"}}) + "\r\n",
             sec);
  auto b = Open(x);
  std::string bytes = Fetch(*b, "SMTP:owner@example.com/Inbox", 0);
  EXPECT_NE(bytes.find("part one\r\npart two\r\n--=_iff_"), std::string::npos);
  EXPECT_EQ(bytes.find("ignored"), std::string::npos);
  EXPECT_NE(bytes.find("Content-Type: application/octet-stream\r\n"
                       "Content-Transfer-Encoding: base64\r\n"
                       "Content-Disposition: attachment; filename=\"a,b.bin\"\r\n"
                       "X-IFF-Position: 5\r\n\r\nAA0KAQ==\r\n"),
            std::string::npos)
      << bytes;
  EXPECT_NE(bytes.find("Content-Type: application/x-macbinary\r\n"), std::string::npos);
  // A text attachment has its text type and keeps its bytes (§7.3): base64,
  // no charset, CR, LF, cp1252 bytes and NUL unchanged.
  const std::string notes_head =
      "Content-Type: text/plain\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "Content-Disposition: attachment; filename=\"Notes.TXT\"\r\n\r\n";
  std::size_t at = bytes.find(notes_head);
  ASSERT_NE(at, std::string::npos) << bytes;
  std::size_t begin = at + notes_head.size();
  EXPECT_EQ(DecodeBase64(bytes.substr(begin, bytes.find("\r\n--", begin) - begin)), notes);
  EXPECT_NE(bytes.find("Content-Type: application/octet-stream\r\n"
                       "Content-Transfer-Encoding: base64\r\n"
                       "Content-Disposition: attachment; filename=\"HOWARDS.SC2\"\r\n"),
            std::string::npos);
  std::string doc_bytes = Fetch(*b, "SMTP:owner@example.com/Inbox", 1);
  EXPECT_EQ(HeaderOf(doc_bytes, "Subject"), "report.pdf");
  EXPECT_NE(doc_bytes.find("Content-Type: application/pdf\r\n"), std::string::npos);
}

TEST(IffExtractTest, MediaTypesByExtension) {
  EXPECT_EQ(MediaTypeForName("a.txt"), "text/plain");
  EXPECT_EQ(MediaTypeForName("A.CSV"), "text/csv");
  EXPECT_EQ(MediaTypeForName("page.htm"), "text/html");
  EXPECT_EQ(MediaTypeForName("page.html"), "text/html");
  EXPECT_EQ(MediaTypeForName("data.xml"), "text/xml");
  EXPECT_EQ(MediaTypeForName("card.vcf"), "text/vcard");
  EXPECT_EQ(MediaTypeForName("invite.ics"), "text/calendar");
  EXPECT_EQ(MediaTypeForName("chart.png"), "image/png");
  EXPECT_EQ(MediaTypeForName("report.pdf"), "application/pdf");
  // A message file stays opaque: message/rfc822 cannot be base64.
  EXPECT_EQ(MediaTypeForName("fwd.eml"), "application/octet-stream");
  EXPECT_EQ(MediaTypeForName("noext"), "application/octet-stream");
  EXPECT_EQ(MediaTypeForName("trailing."), "application/octet-stream");
}

TEST(IffExtractTest, SeveralRowsMayShareAChain) {
  TempExtract x;
  Sec sec;
  std::string p = Ptr("T.SEC", sec.Add("Body", "shared", true));
  x.Standard(MailRow(p) + "\r\n" + MailRow(p, {{5, "Second"}}) + "\r\n", sec);
  auto b = Open(x);
  EXPECT_EQ(BodyOf(Fetch(*b, "SMTP:owner@example.com/Inbox", 1)), "shared");
}

TEST(IffExtractTest, OverflowPointersInOtherFields) {
  TempExtract x;
  Sec sec;
  std::uint64_t to =
      sec.Add("Other", "A [SMTP:a@example.com];\"B, b [SMTP:b@example.com]\"\r\n", true);
  std::uint64_t subject = sec.Add("Other", "Overflowing subject", true);
  std::string p = Ptr("T.SEC", sec.Add("Body", "x", true));
  x.Standard(MailRow(p, {{2, Ptr("T.SEC", to)}, {5, Ptr("t.sec", subject)}}) + "\r\n", sec);
  auto b = Open(x);
  std::string bytes = Fetch(*b, "SMTP:owner@example.com/Inbox", 0);
  EXPECT_EQ(HeaderOf(bytes, "Subject"), "Overflowing subject");
  auto to_list = mime::ParseAddressList(HeaderOf(bytes, "To"));
  ASSERT_EQ(to_list.size(), 2u);
  EXPECT_EQ(to_list[1].name, "B, b");
  EXPECT_EQ(to_list[1].address, "b@example.com");
}

TEST(IffExtractTest, HeaderMappingEdgeCases) {
  TempExtract x;
  Sec sec;
  std::string p = Ptr("T.SEC", sec.Add("Body", "x", true));
  x.Standard(MailRow(p, {{1, ""}, {6, ""}, {7, ""}, {8, "1"}, {9, "True"}, {10, "TRUE"}}) + "\r\n" +
                 MailRow(p, {{1, "\"One [SMTP:one@example.com];\"\"Two [X400:c=US;a= ]\"\"\""},
                             {6, ""},
                             {8, "-1"},
                             {9, "false"}}) +
                 "\r\n" + MailRow("", {{2, "Jo Berry"}, {4, "Hid [SMTP:h@example.com]"}}) + "\r\n",
             sec);
  auto b = Open(x);
  auto folders = Folders(*b);
  auto list = b->ListMessages(folders["SMTP:owner@example.com/Inbox"]);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_TRUE(list[0].flags.empty());  // Unread=TRUE
  EXPECT_EQ(list[0].internal_date, 0);
  EXPECT_EQ(list[1].flags, (Flags{"\\Seen"}));
  EXPECT_EQ(list[1].internal_date, 1041422460);  // Received-Date as UTC
  std::string a = Fetch(*b, "SMTP:owner@example.com/Inbox", 0);
  EXPECT_EQ(HeaderOf(a, "From"), "\"Unknown sender\" <unknown@iff.invalid>");
  EXPECT_EQ(HeaderOf(a, "Date"), "");
  EXPECT_EQ(HeaderOf(a, "X-IFF-Date-Missing"), "yes");
  EXPECT_EQ(HeaderOf(a, "X-Priority"), "1 (Highest)");
  EXPECT_EQ(HeaderOf(a, "Importance"), "high");
  EXPECT_EQ(HeaderOf(a, "X-Unsent"), "1");
  EXPECT_EQ(a.substr(0, list[0].headers.size()), list[0].headers);
  std::string c = Fetch(*b, "SMTP:owner@example.com/Inbox", 1);
  EXPECT_EQ(HeaderOf(c, "Date"), "Wed, 1 Jan 2003 12:01:00 -0000");  // Received-Date
  EXPECT_EQ(HeaderOf(c, "Received"), "by iff-import; Wed, 1 Jan 2003 12:01:00 -0000");
  EXPECT_EQ(HeaderOf(c, "From"), "\"One\" <one@example.com>");
  EXPECT_EQ(HeaderOf(c, "X-IFF-Sender-Extra"), "Two [X400:c=US;a= ]");
  EXPECT_EQ(HeaderOf(c, "X-Priority"), "5 (Lowest)");
  std::string d = Fetch(*b, "SMTP:owner@example.com/Inbox", 2);
  EXPECT_EQ(HeaderOf(d, "To"), "\"Jo Berry\" <IMCEAEX-Jo+20Berry@iff.invalid>");
  EXPECT_EQ(HeaderOf(d, "Bcc"), "\"Hid\" <h@example.com>");
  EXPECT_EQ(BodyOf(d), "");
  // Keys and Message-IDs are stable and distinct.
  EXPECT_EQ(list[0].key.value, "iff:T.PRI:3");
  EXPECT_NE(HeaderOf(a, "Message-ID"), HeaderOf(c, "Message-ID"));
  auto again = Open(x);
  EXPECT_EQ(Fetch(*again, "SMTP:owner@example.com/Inbox", 0), a);
}

struct CodePageCase {
  std::string codepage;
  std::string subject_bytes;
  std::string subject_utf8;
};

class IffCodePageTest : public ::testing::TestWithParam<CodePageCase> {};

TEST_P(IffCodePageTest, SubjectFolderAndBodyAreDecoded) {
  const CodePageCase& c = GetParam();
  TempExtract x;
  Sec sec;
  std::string p = Ptr("T.SEC", sec.Add("Body", c.subject_bytes + "\r\n", true));
  x.Standard(MailRow(p, {{0, "F" + c.subject_bytes}, {5, c.subject_bytes}}) + "\r\n", sec,
             c.codepage);
  auto b = Open(x);
  auto folders = Folders(*b);
  ASSERT_TRUE(folders.count("SMTP:owner@example.com/F" + c.subject_utf8)) << Keys(folders)[1];
  std::string bytes = Fetch(*b, "SMTP:owner@example.com/F" + c.subject_utf8, 0);
  EXPECT_EQ(mime::DecodeWords(HeaderOf(bytes, "Subject")), c.subject_utf8);
  EXPECT_EQ(HeaderOf(bytes, "Content-Transfer-Encoding"), "quoted-printable");
  EXPECT_EQ(DecodeQp(BodyOf(bytes)), c.subject_utf8 + "\r\n");
}

INSTANTIATE_TEST_SUITE_P(CodePages,
                         IffCodePageTest,
                         ::testing::Values(CodePageCase{"1252", "\x80 caf\xe9",
                                                        "\xe2\x82\xac caf\xc3\xa9"},
                                           CodePageCase{"850", "\x81\x84", "\xc3\xbc\xc3\xa4"},
                                           CodePageCase{"437", "\x9b\x81", "\xc2\xa2\xc3\xbc"},
                                           CodePageCase{"1250", "\x8a", "\xc5\xa0"},
                                           CodePageCase{" 1251 ", "\xc4\xe0", "\xd0\x94\xd0\xb0"},
                                           CodePageCase{"1253", "\xc1", "\xce\x91"},
                                           CodePageCase{"1254", "\xd0", "\xc4\x9e"},
                                           CodePageCase{"1255", "\xe0", "\xd7\x90"},
                                           CodePageCase{"1256", "\xc7", "\xd8\xa7"},
                                           CodePageCase{"1257", "\xc0", "\xc4\x84"},
                                           CodePageCase{"1258", "\xc3", "\xc4\x82"}));

TEST(IffExtractTest, BareLfInPrimaryIsAccepted) {
  TempExtract x;
  Sec sec;
  std::string p = Ptr("T.SEC", sec.Add("Body", "x", true));
  x.Pkl({"T.PRI,Primary", "T.SEC,Secondary"});
  x.Write("T.PRI", "MAILMESSAGE,SMTP:o@example.com\n" + kMailCols + "\r\n" + MailRow(p) + "\r\n");
  x.Write("T.SEC", sec.bytes);
  auto b = Open(x);
  EXPECT_EQ(BodyOf(Fetch(*b, "SMTP:o@example.com/Inbox", 0)), "x");
}

TEST(IffExtractTest, PabMessageAndSideFiles) {
  TempExtract x;
  Sec sec;
  std::uint64_t note = sec.Add("Other", "Long note, with comma", true);
  x.Pkl({"T.PRI,Primary", "T.SEC,Secondary"});
  x.Write("T.PRI",
          "DIRECTORY\r\nObj-class,Mode,Common-Name,Display-Name\r\n"
          "mailbox,create,Joe,\"Joe \\\\ Co\"\r\n"
          "dl,CREATE,Team,Team\\\\\r\n"
          "PAB,migrate:SMTP:o@example.com\r\n" +
              kPabCols + "\\\\\r\n\r\n" +  // continuation of the column line onto an empty line
              "entry,Pat,SMTP:pat@example.com,Pat,Smith\r\n"
              "dl,Friends,Pat;SMTP:x@example.com;Nobody,,,,,,,,,,,,,,,,,,,,," +
              Ptr("T.SEC", note) + "\r\n");
  x.Write("T.SEC", sec.bytes);
  auto b = Open(x);
  auto folders = Folders(*b);
  // DIRECTORY rows make no folder and no message (§4.2).
  EXPECT_EQ(Keys(folders),
            (std::vector<std::string>{"SMTP:o@example.com", "SMTP:o@example.com/Inbox"}));
  ASSERT_EQ(b->ListMessages(folders["SMTP:o@example.com/Inbox"]).size(), 1u);
  EXPECT_TRUE(b->ListMessages(folders["SMTP:o@example.com"]).empty());

  // The PAB message: one attachment, pab.csv (§4.3).
  std::string pab = Fetch(*b, "SMTP:o@example.com/Inbox", 0);
  EXPECT_EQ(HeaderOf(pab, "Subject"), "Personal Address Book");
  EXPECT_EQ(HeaderOf(pab, "From"), "<o@example.com>");
  EXPECT_EQ(HeaderOf(pab, "To"), "<o@example.com>");
  EXPECT_EQ(Count(pab, "Content-Disposition:"), 1u);
  EXPECT_NE(pab.find("Content-Type: text/csv; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: 7bit\r\n"
                     "Content-Disposition: attachment; filename=\"pab.csv\"\r\n"),
            std::string::npos)
      << pab;
  EXPECT_EQ(pab.find("vcard"), std::string::npos);
  EXPECT_EQ(pab.find("BEGIN:VCARD"), std::string::npos);
  EXPECT_NE(pab.find("\r\nentry,Pat,SMTP:pat@example.com,Pat,Smith\r\n"), std::string::npos);
  // The row with a pointer is written back with the resolved value.
  EXPECT_NE(pab.find(",,,\"Long note, with comma\"\r\n"), std::string::npos);
  auto list = b->ListMessages(folders["SMTP:o@example.com/Inbox"]);
  EXPECT_EQ(list[0].key.value, "iff:T.PRI:5");

  // The mailbox folder holds the PAB vCards; its Inbox holds no side file.
  auto mailbox = SideFiles(*b, "SMTP:o@example.com");
  ASSERT_EQ(mailbox.size(), 1u);
  const std::string& vcf = mailbox["Personal Address Book.vcf"];
  EXPECT_EQ(Count(vcf, "BEGIN:VCARD\r\nVERSION:4.0\r\n"), 2u);
  EXPECT_EQ(Count(vcf, "END:VCARD\r\n"), 2u);
  EXPECT_EQ(Count(vcf, "KIND:individual\r\n"), 1u);
  EXPECT_EQ(Count(vcf, "KIND:group\r\n"), 1u);
  EXPECT_EQ(Count(vcf, "MEMBER:urn:uuid:"), 1u);
  EXPECT_NE(vcf.find("MEMBER:mailto:x@example.com\r\n"), std::string::npos);
  EXPECT_NE(vcf.find("X-IFF-MEMBER:Nobody\r\n"), std::string::npos);
  EXPECT_NE(vcf.find("N:Smith;Pat;;;\r\n"), std::string::npos);
  EXPECT_NE(vcf.find("EMAIL:pat@example.com\r\n"), std::string::npos);
  EXPECT_NE(vcf.find("NOTE:Long note\\, with comma\r\n"), std::string::npos);
  EXPECT_TRUE(SideFiles(*b, "SMTP:o@example.com/Inbox").empty());

  // The root: the DIRECTORY section as CSV (escapes undone, no continuation
  // inside DIRECTORY) and as vCards.
  auto root = SideFiles(*b, "");
  ASSERT_EQ(root.size(), 2u);
  EXPECT_EQ(root["Directory.csv"],
            "Obj-class,Mode,Common-Name,Display-Name\r\n"
            "mailbox,create,Joe,\"Joe \\ Co\"\r\n"
            "dl,CREATE,Team,Team\\\r\n");
  const std::string& dir_vcf = root["Directory.vcf"];
  EXPECT_EQ(Count(dir_vcf, "BEGIN:VCARD\r\n"), 2u);
  EXPECT_NE(dir_vcf.find("FN:Joe \\\\ Co\r\n"), std::string::npos);
  EXPECT_NE(dir_vcf.find("KIND:group\r\nUID:urn:uuid:"), std::string::npos);

  // Built once: a second listing serves the same content objects.
  auto first = b->ListSideFiles(b->Root());
  auto second = b->ListSideFiles(b->Root());
  ASSERT_EQ(first.size(), second.size());
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].content.get(), second[i].content.get());
  }
  EXPECT_THROW(b->ListSideFiles(FolderId{"99"}), Error);
}

TEST(IffExtractTest, SeveralDirectoryAndPabSections) {
  TempExtract x;
  Sec sec;
  std::string p = Ptr("T.SEC", sec.Add("Body", "x", true));
  const std::string dir_cols = "DIRECTORY\r\nObj-class,Mode,Common-Name\r\n";
  x.Pkl({"T.PRI,Primary", "U.PRI,Primary", "T.SEC,Secondary"});
  x.Write("T.PRI",
          dir_cols + "mailbox,create,A\r\n" + "PAB,SMTP:o@example.com\r\n" + kPabCols + "\r\n" +
              "entry,One,SMTP:one@example.com\r\n" + dir_cols + "mailbox,create,B\r\n" +
              "mailbox,create,C\r\n" + "PAB,SMTP:pabonly@example.com\r\n" + kPabCols + "\r\n" +
              "entry,Solo,SMTP:solo@example.com\r\n" + "MAILMESSAGE,SMTP:mail@example.com\r\n" +
              kMailCols + "\r\n" + MailRow(p) + "\r\n");
  x.Write("U.PRI", dir_cols + "remote,create,D\r\n" + "PAB,migrate:smtp:O@EXAMPLE.COM\r\n" +
                       kPabCols + "\r\n" + "entry,Two,SMTP:two@example.com\r\n" +
                       "dl,Both,One;Two,,,,,,,,,,,,,,,,,,,,,\r\n");
  x.Write("T.SEC", sec.bytes);
  auto b = Open(x);
  auto folders = Folders(*b);
  EXPECT_EQ(Keys(folders), (std::vector<std::string>{
                               "SMTP:mail@example.com", "SMTP:mail@example.com/Inbox",
                               "SMTP:o@example.com", "SMTP:o@example.com/Inbox",
                               "SMTP:pabonly@example.com", "SMTP:pabonly@example.com/Inbox"}));
  // Root: one CSV per DIRECTORY section in processing order, one vCard file.
  auto root = SideFiles(*b, "");
  EXPECT_EQ(root.size(), 4u);
  EXPECT_EQ(root["Directory.csv"], "Obj-class,Mode,Common-Name\r\nmailbox,create,A\r\n");
  EXPECT_EQ(root["Directory-2.csv"],
            "Obj-class,Mode,Common-Name\r\nmailbox,create,B\r\nmailbox,create,C\r\n");
  EXPECT_EQ(root["Directory-3.csv"], "Obj-class,Mode,Common-Name\r\nremote,create,D\r\n");
  const std::string& dir_vcf = root["Directory.vcf"];
  EXPECT_EQ(Count(dir_vcf, "BEGIN:VCARD\r\n"), 4u);
  for (const char* cn : {"A", "B", "C", "D"}) {
    EXPECT_NE(dir_vcf.find(std::string("X-IFF-COMMON-NAME:") + cn + "\r\n"), std::string::npos);
  }
  // Two PAB sections of one mailbox (two spellings): one vCard file, UIDs
  // distinct, the dl's members resolved within its own section.
  auto o = SideFiles(*b, "SMTP:o@example.com");
  ASSERT_EQ(o.size(), 1u);
  const std::string& vcf = o["Personal Address Book.vcf"];
  EXPECT_EQ(Count(vcf, "BEGIN:VCARD\r\n"), 3u);
  EXPECT_LT(vcf.find("FN:One\r\n"), vcf.find("FN:Two\r\n"));
  std::set<std::string> uids;
  for (std::size_t at = 0; (at = vcf.find("\r\nUID:", at)) != std::string::npos; ++at) {
    uids.insert(vcf.substr(at + 2, vcf.find("\r\n", at + 2) - at - 2));
  }
  EXPECT_EQ(uids.size(), 3u);
  EXPECT_EQ(Count(vcf, "MEMBER:urn:uuid:"), 1u);
  EXPECT_NE(vcf.find("X-IFF-MEMBER:One\r\n"), std::string::npos);
  EXPECT_EQ(b->ListMessages(folders["SMTP:o@example.com/Inbox"]).size(), 2u);
  // A mailbox with nothing but a PAB section exists, with its message.
  auto solo = SideFiles(*b, "SMTP:pabonly@example.com");
  EXPECT_EQ(Count(solo["Personal Address Book.vcf"], "BEGIN:VCARD\r\n"), 1u);
  EXPECT_EQ(b->ListMessages(folders["SMTP:pabonly@example.com/Inbox"]).size(), 1u);
  // No PAB data, no side file.
  EXPECT_TRUE(SideFiles(*b, "SMTP:mail@example.com").empty());
  EXPECT_TRUE(SideFiles(*b, "SMTP:mail@example.com/Inbox").empty());
}

TEST(IffExtractTest, NoSideFilesWithoutPabOrDirectory) {
  TempExtract x;
  Sec sec;
  x.Standard(MailRow(Ptr("T.SEC", sec.Add("Body", "x", true)), {{0, "A\\B"}}) + "\r\n", sec);
  auto b = Open(x);
  EXPECT_TRUE(SideFiles(*b, "").empty());
  for (const auto& [path, id] : Folders(*b)) {
    EXPECT_TRUE(b->ListSideFiles(id).empty()) << path;
  }
}

TEST(IffExtractTest, ConcurrentListingAndFetching) {
  TempExtract x;
  Sec sec;
  std::string rows;
  for (int i = 0; i < 40; ++i) {
    std::string p = Ptr("T.SEC", sec.Add("Body", "body " + std::to_string(i), false));
    sec.Add("Attachment", std::string(1000 + i, 'a'), true, "f" + std::to_string(i) + ".bin");
    rows += MailRow(p, {{0, "F" + std::to_string(i % 4)}}) + "\r\n";
  }
  x.Standard(rows, sec);
  auto b = Open(x);
  auto folders = Folders(*b);
  std::atomic<int> fetched{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (const auto& [path, id] : folders) {
        for (const MessageInfo& m : b->ListMessages(id)) {
          if (ReadAll(*b->Fetch(id, m.key)).size() == *m.size) {
            ++fetched;
          }
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(fetched.load(), 6 * 40);
}

TEST(IffExtractTest, HugeAttachmentIsNeverLoaded) {
  // A sparse 4 GiB attachment: listing computes the exact size without
  // reading it, and reading a range touches only that range.
  TempExtract x;
  Sec sec;
  std::uint64_t body = sec.Add("Body", "see attachment\r\n", false);
  const std::uint64_t kHuge = 4ull << 30;
  sec.bytes += "Attachment," + std::to_string(kHuge) + ",,TRUE,big.bin,,\r\n";
  std::uint64_t data_at = sec.bytes.size();
  x.Standard(MailRow(Ptr("T.SEC", body)) + "\r\n", sec);
  fs::resize_file(fs::path(x.path()) / "T.SEC", data_at + kHuge + 2);
  auto b = Open(x);
  auto folders = Folders(*b);
  auto list = b->ListMessages(folders["SMTP:owner@example.com/Inbox"]);
  ASSERT_EQ(list.size(), 1u);
  ASSERT_TRUE(list[0].size);
  EXPECT_GT(*list[0].size, kHuge / 3 * 4);
  BlobPtr blob = b->Fetch(folders["SMTP:owner@example.com/Inbox"], list[0].key);
  EXPECT_EQ(blob->Size(), *list[0].size);
  std::string tail(4096, '\0');
  std::size_t got = blob->ReadAt(blob->Size() - tail.size(), tail.data(), tail.size());
  EXPECT_EQ(got, tail.size());
  EXPECT_NE(tail.find("AAAA"), std::string::npos);
}

TEST(IffExtractTest, FetchChecksFolderAndKey) {
  TempExtract x;
  Sec sec;
  x.Standard(MailRow(Ptr("T.SEC", sec.Add("Body", "x", true))) + "\r\n", sec);
  auto b = Open(x);
  auto folders = Folders(*b);
  try {
    b->Fetch(folders["SMTP:owner@example.com/Inbox"], MessageKey{"iff:T.PRI:99"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kNotFound);
  }
  EXPECT_THROW(b->Fetch(folders["SMTP:owner@example.com"], MessageKey{"iff:T.PRI:3"}), Error);
}

// ------------------------------------------------------------ failure modes

struct FailureCase {
  std::string name;
  std::string code;  // "IFF_E_..."
  bool structural = false;
  std::string where;  // expected in the text, e.g. "T.PRI line 4"
  std::string also;   // further expected text (may be empty)
  std::function<void(TempExtract&)> build;
  std::string key;  // key of the unreadable message if not the row's
  // Side files that must be unreadable ("folder/name", root ones bare), and
  // whether an unreadable message is expected besides.
  std::set<std::string> side;
  bool message = true;
};

// A good row (line 3) and |bad| (line 4) in the usual layout; |extra| may add
// sections to the secondary file first and returns the bad row.
std::function<void(TempExtract&)> BadRow(std::function<std::string(Sec&)> bad) {
  return [bad](TempExtract& x) {
    Sec sec;
    std::string good = MailRow(Ptr("T.SEC", sec.Add("Body", "good\r\n", true)));
    std::string row = bad(sec);
    x.Standard(good + "\r\n" + row + "\r\n", sec);
  };
}

std::function<void(TempExtract&)> BadBody(std::function<std::string(Sec&)> pointer) {
  return BadRow([pointer](Sec& sec) { return MailRow(pointer(sec)); });
}

std::function<void(TempExtract&)> Files(std::string pkl, std::string pri, std::string sec) {
  return [=](TempExtract& x) {
    x.Write("T.PKL", pkl);
    x.Write("T.PRI", pri);
    x.Write("T.SEC", sec);
  };
}

const std::string kGoodPkl =
    "1252\r\n\r\nFilename,Filetype\r\nT.PRI,Primary\r\nT.SEC,Secondary\r\n";
const std::string kGoodSec =
    "Type,Length,Encoding,Islast,Name,Position,Format\r\nBody,2,,TRUE,,,\r\nhi\r\n";
const std::string kGoodPri =
    "MAILMESSAGE,SMTP:o@example.com\r\n" + kMailCols + "\r\n" + MailRow("#T.SEC(50)") + "\r\n";

std::vector<FailureCase> Cases() {
  std::vector<FailureCase> c;
  auto structural = [&](std::string name, std::string code, std::string where,
                        std::function<void(TempExtract&)> build, std::string also = "") {
    c.push_back(FailureCase{name, code, true, where, also, build, "", {}, true});
  };
  auto message = [&](std::string name, std::string code, std::string where,
                     std::function<void(TempExtract&)> build, std::string also = "") {
    c.push_back(FailureCase{name, code, false, where, also, build, "", {}, true});
  };
  // A PAB error makes the section's synthetic message (keyed by the section
  // line) and the mailbox's vCard file unreadable.
  auto pab = [&](std::string name, std::string code, std::string where,
                 std::function<void(TempExtract&)> build) {
    c.push_back(FailureCase{name,
                            code,
                            false,
                            where,
                            "",
                            build,
                            "iff:T.PRI:1",
                            {"SMTP:o@example.com/Personal Address Book.vcf"},
                            true});
  };
  // A DIRECTORY error makes the root's side files built from the section
  // unreadable; there is no message to list.
  auto directory = [&](std::string name, std::string code, std::string where,
                       std::function<void(TempExtract&)> build) {
    c.push_back(FailureCase{
        name, code, false, where, "", build, "", {"Directory.csv", "Directory.vcf"}, false});
  };
  // Packing list and files.
  structural("CodepageUnicode", "IFF_E_CODEPAGE", "T.PKL line 1",
             Files("UNICODE\r\n\r\nFilename,Filetype\r\n", "", ""));
  structural("CodepageUnknown", "IFF_E_CODEPAGE", "T.PKL line 1",
             Files("1234\r\n\r\nFilename,Filetype\r\n", "", ""));
  structural("PklLine2", "IFF_E_PKL", "T.PKL line 2",
             Files("1252\r\nx\r\nFilename,Filetype\r\n", "", ""));
  structural("PklColumns", "IFF_E_PKL", "T.PKL line 3", Files("1252\r\n\r\nName,Type\r\n", "", ""));
  structural("PklFiletype", "IFF_E_PKL", "T.PKL line 4",
             Files("1252\r\n\r\nFilename,Filetype\r\nT.PRI,Tertiary\r\n", "", ""));
  structural("PklDuplicate", "IFF_E_PKL", "T.PKL line 5",
             Files("1252\r\n\r\nFilename,Filetype\r\nT.PRI,Primary\r\nt.pri,Primary\r\n", kGoodPri,
                   kGoodSec));
  structural("MissingFile", "IFF_E_MISSING_FILE", "T.PKL line 6",
             Files(kGoodPkl + "GONE.SEC,Secondary\r\n", kGoodPri, kGoodSec));
  structural("AmbiguousFile", "IFF_E_AMBIGUOUS_FILE", "T.PKL line 5", [](TempExtract& x) {
    Files(kGoodPkl, kGoodPri, kGoodSec)(x);
    x.Write("t.sec", kGoodSec);
  });
  structural("BadNameInPkl", "IFF_E_BAD_NAME", "T.PKL line 5",
             Files("1252\r\n\r\nFilename,Filetype\r\nT.PRI,Primary\r\n../T.SEC,Secondary\r\n",
                   kGoodPri, kGoodSec));
  structural("BadNameColon", "IFF_E_BAD_NAME", "T.PKL line 4",
             Files("1252\r\n\r\nFilename,Filetype\r\nC:T.PRI,Primary\r\n", "", ""));
  structural("EolPkl", "IFF_E_EOL", "T.PKL",
             Files("1252\r\n\r\nFilename,Filetype\r\nT.PRI,Primary", kGoodPri, kGoodSec));
  structural("EolPri", "IFF_E_EOL", "T.PRI",
             Files(kGoodPkl, kGoodPri.substr(0, kGoodPri.size() - 2), kGoodSec));
  structural("SecFileHeader", "IFF_E_SEC_FILE_HEADER", "T.SEC line 1",
             Files(kGoodPkl, kGoodPri, "Type,Length\r\nBody,2,,TRUE,,,\r\nhi\r\n"));
  // Primary structure.
  structural("UnknownSectionFirst", "IFF_E_UNKNOWN_SECTION", "T.PRI line 2",
             Files(kGoodPkl, "! comment\r\nMAILBOX,SMTP:o@example.com\r\n", kGoodSec));
  structural("DataBeforeSection", "IFF_E_UNKNOWN_SECTION", "T.PRI line 1",
             Files(kGoodPkl, MailRow("#T.SEC(50)") + "\r\n", kGoodSec));
  structural("UnknownSectionAfterBlank", "IFF_E_UNKNOWN_SECTION", "T.PRI line 5",
             Files(kGoodPkl, kGoodPri + "\r\nCALENDAR,x\r\n", kGoodSec));
  structural("SectionArgMissing", "IFF_E_SECTION_ARG", "T.PRI line 1",
             Files(kGoodPkl, "MAILMESSAGE\r\n" + kMailCols + "\r\n", kGoodSec));
  structural("SectionArgPabEmpty", "IFF_E_SECTION_ARG", "T.PRI line 1",
             Files(kGoodPkl, "PAB,\r\n" + kPabCols + "\r\n", kGoodSec));
  structural("SectionArgOnlyMigrate", "IFF_E_SECTION_ARG", "T.PRI line 1",
             Files(kGoodPkl, "MAILMESSAGE,migrate:\r\n" + kMailCols + "\r\n", kGoodSec));
  structural("BadHeaderMail", "IFF_E_BAD_HEADER", "T.PRI line 2",
             Files(kGoodPkl, "MAILMESSAGE,SMTP:o@example.com\r\nFolder,Sender,Body\r\n", kGoodSec));
  structural("BadHeaderPab", "IFF_E_BAD_HEADER", "T.PRI line 2",
             Files(kGoodPkl, "PAB,SMTP:o@example.com\r\nObj-class,Display-Name\r\n", kGoodSec));
  structural("BadHeaderDirectory", "IFF_E_BAD_HEADER", "T.PRI line 2",
             Files(kGoodPkl, "DIRECTORY\r\nObj-class,Common-Name\r\n", kGoodSec));
  structural("BadHeaderMissing", "IFF_E_BAD_HEADER", "T.PRI line 1",
             Files(kGoodPkl, "MAILMESSAGE,SMTP:o@example.com\r\n\r\n", kGoodSec));
  structural("QuoteInColumnLine", "IFF_E_QUOTE", "T.PRI line 2",
             Files(kGoodPkl, "MAILMESSAGE,SMTP:o@example.com\r\n\"Folder,Sender\r\n", kGoodSec));
  // Row errors.
  message("QuoteInRow", "IFF_E_QUOTE", "T.PRI line 4", BadRow([](Sec&) {
            return MailRow("#T.SEC(50)", {{5, "\"open"}});
          }));
  message("LineTooLong", "IFF_E_QUOTE", "T.PRI line 4", BadRow([](Sec&) {
            return MailRow("#T.SEC(50)", {{5, std::string(1100000, 's')}});
          }),
          "line too long");
  message("FieldCount", "IFF_E_FIELD_COUNT", "T.PRI line 4",
          BadRow([](Sec&) { return MailRow("#T.SEC(50)") + ",extra"; }));
  message("Priority", "IFF_E_FIELD_VALUE", "T.PRI line 4", BadRow([](Sec&) {
            return MailRow("#T.SEC(50)", {{8, "2"}});
          }));
  message("Unread", "IFF_E_FIELD_VALUE", "T.PRI line 4", BadRow([](Sec&) {
            return MailRow("#T.SEC(50)", {{9, "yes"}});
          }));
  message("DateInvalid", "IFF_E_DATE", "T.PRI line 4", BadRow([](Sec&) {
            return MailRow("#T.SEC(50)", {{6, "20030230120000"}});
          }));
  message("DateShort", "IFF_E_DATE", "T.PRI line 4", BadRow([](Sec&) {
            return MailRow("#T.SEC(50)", {{7, "2003"}});
          }));
  message("Folder", "IFF_E_FOLDER", "T.PRI line 4", BadRow([](Sec&) {
            return MailRow("#T.SEC(50)", {{0, "Projects\\\\Alpha"}});
          }));
  message("FolderDepth", "IFF_E_FOLDER", "T.PRI line 4", BadRow([](Sec&) {
            std::string deep = "a";
            for (int i = 0; i < 70; ++i) {
              deep += "\\a";
            }
            return MailRow("#T.SEC(50)", {{0, deep}});
          }));
  message("PointerSyntax", "IFF_E_POINTER", "T.PRI line 4", BadBody([](Sec&) { return "#T.SEC"; }));
  message("PointerDigits", "IFF_E_POINTER", "T.PRI line 4",
          BadBody([](Sec&) { return "#T.SEC(5x)"; }));
  message("BodyNotPointer", "IFF_E_POINTER", "T.PRI line 4",
          BadBody([](Sec&) { return "\"#T.SEC(50)\""; }));
  message("PointerTraversal", "IFF_E_BAD_NAME", "T.PRI line 4",
          BadBody([](Sec&) { return "#../T.SEC(50)"; }));
  message("NotListed", "IFF_E_NOT_LISTED", "T.PRI line 4", [](TempExtract& x) {
    BadBody([](Sec&) { return "#U.SEC(50)"; })(x);
    x.Write("U.SEC", kGoodSec);
  });
  message("PointerToPrimary", "IFF_E_NOT_LISTED", "T.PRI line 4",
          BadBody([](Sec&) { return "#T.PRI(50)"; }));
  message("OffsetPastEnd", "IFF_E_OFFSET", "T.PRI line 4, offset 999999",
          BadBody([](Sec&) { return "#T.SEC(999999)"; }));
  message("OffsetInColumnLine", "IFF_E_OFFSET", "T.PRI line 4, offset 10",
          BadBody([](Sec&) { return "#T.SEC(10)"; }));
  message("OffsetNotLineStart", "IFF_E_OFFSET", "T.PRI line 4, offset 51",
          BadBody([](Sec&) { return "#T.SEC(51)"; }));
  message("OffsetOverflow", "IFF_E_OFFSET", "T.PRI line 4",
          BadBody([](Sec&) { return "#T.SEC(99999999999999999999)"; }));
  message("OverflowFieldOffset", "IFF_E_OFFSET", "T.PRI line 4", BadRow([](Sec&) {
            return MailRow("#T.SEC(50)", {{2, "#T.SEC(7777)"}});
          }));
  // Secondary header rows (KB 838799: the Wizard's "Secondary file BODY
  // header line").
  message("SecHeaderAtData", "IFF_E_SEC_HEADER", "T.PRI line 4, offset 67",
          BadBody([](Sec&) { return "#T.SEC(67)"; }), "Secondary file BODY header line");
  message("SecHeaderFields", "IFF_E_SEC_HEADER", "T.PRI line 4",
          BadBody([](Sec& s) { return Ptr("T.SEC", s.Raw("Body,2,,TRUE,,", "hi")); }),
          "Secondary file BODY header line");
  message("SecHeaderLength", "IFF_E_SEC_HEADER", "T.PRI line 4",
          BadBody([](Sec& s) { return Ptr("T.SEC", s.Raw("Body,two,,TRUE,,,", "hi")); }),
          "Secondary file BODY header line");
  message("SecHeaderIslast", "IFF_E_SEC_HEADER", "T.PRI line 4",
          BadBody([](Sec& s) { return Ptr("T.SEC", s.Raw("Body,2,,MAYBE,,,", "hi")); }));
  message("SecHeaderFormat", "IFF_E_SEC_HEADER", "T.PRI line 4", BadBody([](Sec& s) {
            std::uint64_t at = s.Add("Body", "hi", false);
            s.Raw("Attachment,1,,TRUE,a.bin,,BinHex", "x");
            return Ptr("T.SEC", at);
          }));
  message("SecHeaderPosition", "IFF_E_SEC_HEADER", "T.PRI line 4", BadBody([](Sec& s) {
            std::uint64_t at = s.Add("Body", "hi", false);
            s.Raw("Attachment,1,,TRUE,a.bin,end,", "x");
            return Ptr("T.SEC", at);
          }));
  message("SecHeaderNoName", "IFF_E_SEC_HEADER", "T.PRI line 4", BadBody([](Sec& s) {
            std::uint64_t at = s.Add("Body", "hi", false);
            s.Add("Attachment", "x", true);
            return Ptr("T.SEC", at);
          }));
  message("SecTypeFirst", "IFF_E_SEC_TYPE", "T.PRI line 4",
          BadBody([](Sec& s) { return Ptr("T.SEC", s.Add("Attachment", "x", true, "a.bin")); }));
  message("SecTypeUnknown", "IFF_E_SEC_TYPE", "T.PRI line 4",
          BadBody([](Sec& s) { return Ptr("T.SEC", s.Raw("Picture,1,,TRUE,,,", "x")); }));
  message("LengthPastEnd", "IFF_E_LENGTH", "T.PRI line 4",
          BadBody([](Sec& s) { return Ptr("T.SEC", s.Raw("Body,1000000,,TRUE,,,", "short")); }));
  message("LengthOverflow", "IFF_E_LENGTH", "T.PRI line 4", BadBody([](Sec& s) {
            return Ptr("T.SEC", s.Raw("Body,99999999999999999999,,TRUE,,,", "x"));
          }));
  message("ChainNotEnded", "IFF_E_CHAIN", "T.PRI line 4",
          BadBody([](Sec& s) { return Ptr("T.SEC", s.Add("Body", "x", false)); }));
  // PAB and DIRECTORY sections.
  auto with_directory = [](std::string rows) {
    return [rows](TempExtract& x) {
      Files(kGoodPkl,
            "DIRECTORY\r\nObj-class,Mode,Common-Name\r\nmailbox,create,ok\r\n" + rows + "\r\n" +
                kGoodPri,
            kGoodSec)(x);
    };
  };
  directory("Escape", "IFF_E_ESCAPE", "T.PRI line 4", with_directory("mailbox,create,a\\tb"));
  directory("DirMode", "IFF_E_DIR_MODE", "T.PRI line 4", with_directory("mailbox,modify,x"));
  directory("DirPointer", "IFF_E_POINTER", "T.PRI line 4",
            with_directory("mailbox,create,#T.SEC(50)"));
  directory("DirFieldCount", "IFF_E_FIELD_COUNT", "T.PRI line 4",
            with_directory("mailbox,create,x,y"));
  auto with_pab = [](std::string row) {
    return [row](TempExtract& x) {
      Files(kGoodPkl,
            "PAB,SMTP:o@example.com\r\n" + kPabCols + "\r\nentry,Ok,SMTP:ok@example.com\r\n" + row +
                "\r\n" + kGoodPri,
            kGoodSec)(x);
    };
  };
  pab("PabClass", "IFF_E_PAB_CLASS", "T.PRI line 4", with_pab("person,Bad,SMTP:b@example.com"));
  pab("PabFieldCount", "IFF_E_FIELD_COUNT", "T.PRI line 4",
      with_pab("entry" + std::string(24, ',')));
  pab("PabPointer", "IFF_E_CHAIN", "T.PRI line 4", [](TempExtract& x) {
    Files(kGoodPkl,
          "PAB,SMTP:o@example.com\r\n" + kPabCols + "\r\nentry,Ok,SMTP:ok@example.com\r\n" +
              "entry,Bad,#T.SEC(71)\r\n" + kGoodPri,
          "Type,Length,Encoding,Islast,Name,Position,Format\r\nBody,2,,TRUE,,,\r\nhi\r\n"
          "Other,1,,FALSE,,,\r\nx\r\n")(x);
  });
  return c;
}

class IffFailureTest : public ::testing::TestWithParam<FailureCase> {};

TEST_P(IffFailureTest, HasTheSpecifiedOutcome) {
  const FailureCase& c = GetParam();
  TempExtract x;
  c.build(x);
  auto check_text = [&](const std::string& text) {
    EXPECT_EQ(text.rfind(c.code + ": ", 0), 0u) << text;
    EXPECT_NE(text.find(c.where), std::string::npos) << text;
    if (!c.also.empty()) {
      EXPECT_NE(text.find(c.also), std::string::npos) << text;
    }
    EXPECT_LT(text.size(), 2000u);
  };
  if (c.structural) {
    try {
      Open(x);
      ADD_FAILURE() << "opened";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kCorrupt);
      check_text(e.what());
    }
    return;
  }
  // Listed as unreadable; the other messages read fine.
  auto b = Open(x);
  std::string error;
  int unreadable = 0, readable = 0;
  for (const auto& [path, id] : Folders(*b)) {
    for (const MessageInfo& m : b->ListMessages(id)) {
      if (!m.unreadable) {
        ++readable;
        ReadAll(*b->Fetch(id, m.key));
        continue;
      }
      ++unreadable;
      error = m.error;
      check_text(m.error);
      EXPECT_EQ(m.key.value, c.key.empty()
                                 ? "iff:" + c.where.substr(0, c.where.find(',')).replace(5, 6, ":")
                                 : c.key);
      try {
        b->Fetch(id, m.key);
        ADD_FAILURE() << "fetched";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::kCorrupt);
        EXPECT_EQ(std::string(e.what()), m.error);
      }
    }
  }
  // Side files: the expected ones fail with the same kind of text, the
  // others read.
  std::set<std::string> broken_side;
  auto check_side = [&](const std::string& prefix, const FolderId& id) {
    for (const SideFile& f : b->ListSideFiles(id)) {
      try {
        ReadAll(*f.content);
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::kCorrupt);
        check_text(e.what());
        broken_side.insert(prefix + f.name);
        if (error.empty()) {
          error = e.what();
        }
      }
    }
  };
  check_side("", b->Root());
  for (const auto& [path, id] : Folders(*b)) {
    check_side(path + "/", id);
  }
  EXPECT_EQ(broken_side, c.side);
  EXPECT_EQ(unreadable, c.message ? 1 : 0);
  EXPECT_GE(readable, 1);
  // strict refuses the extract with the same text.
  try {
    Open(x, true);
    ADD_FAILURE() << "opened under strict";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCorrupt);
    EXPECT_EQ(std::string(e.what()), error);
  }
}

INSTANTIATE_TEST_SUITE_P(AllCodes, IffFailureTest, ::testing::ValuesIn(Cases()), [](const auto& p) {
  return p.param.name;
});

TEST(IffFailureCoverageTest, EveryCodeHasACase) {
  std::set<std::string> covered;
  for (const FailureCase& c : Cases()) {
    covered.insert(c.code);
  }
  for (int i = 0; i <= static_cast<int>(IffCode::kChain); ++i) {
    std::string name(IffCodeName(static_cast<IffCode>(i)));
    EXPECT_TRUE(covered.count(name)) << name;
  }
}

}  // namespace
}  // namespace mailfs::iff
