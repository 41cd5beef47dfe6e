// Hostile extracts: every file of a valid extract truncated or bit-flipped at
// deterministic random places, then opened, listed and read in full (under the
// sanitizers in CI). The outcome must be an Error naming the problem or a
// readable extract — never a crash, a hang or a read outside the files. The
// seed of a failing case is printed.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "backends/blob.h"
#include "backends/iff/iff_backend.h"

namespace mailfs::iff {
namespace {

namespace fs = std::filesystem;

struct File {
  std::string name;
  std::string bytes;
};

// A small extract with every section kind: two mailboxes, nested folders,
// a chain with attachments (one MacBinary), a PAB, a DIRECTORY, an overflow
// pointer, continuation lines and quoting.
std::vector<File> SampleExtract() {
  std::string sec = "Type,Length,Encoding,Islast,Name,Position,Format\r\n";
  auto add = [&](const std::string& type, const std::string& data, bool last, const std::string& name = "",
                 const std::string& format = "") {
    std::size_t at = sec.size();
    sec += type + "," + std::to_string(data.size()) + ",," + (last ? "TRUE" : "FALSE") + "," + name + ",," +
           format + "\r\n" + data + "\r\n";
    return at;
  };
  std::size_t b1 = add("Body", "Hello,\r\nsecond line \xe9t\xe9\r\n", true);
  std::size_t b2 = add("Body", "With files.\r\n", false);
  add("Attachment", std::string("\x89PNG\r\n\x1a\n\0\x01\x02", 11), false, "a.png");
  add("Attachment", std::string(200, '\x7f'), false, "mac.bin", "Macbinary");
  add("Document", "doc text", true, "\"notes, v2.txt\"");
  std::size_t o1 = add("Other", "A [SMTP:a@x.org];B [SMTP:b@x.org]\r\n", true);
  std::size_t b3 = add("Body", "", true);
  std::string pri =
      "MAILMESSAGE,SMTP:dan@example.net\r\n"
      "Folder,Sender,To,Cc,Bcc,Subject,Send-Date,Received-Date\\\\\r\n"
      ",Priority,Unread,Unsent,Body\r\n"
      "Inbox,\"Lee, Bill [SMTP:bill@x.org]\",Dan [SMTP:dan@x.org],,,\"Re: \"\"Q3\"\"\",20030401101500,"
      "20030401101530,1,TRUE,,#S.SEC(" + std::to_string(b1) + ")\r\n"
      "Projects\\Alpha,Eve [SMTP:eve@x.org],#S.SEC(" + std::to_string(o1) + "),,,Files,20030402120000,,,,,#S.SEC(" +
      std::to_string(b2) + ")\r\n"
      "\r\n"
      "PAB,migrate:SMTP:dan@example.net\r\n"
      "Obj-class,Display-Name,Email-Address,First,Last,Address,City,State,Zip,Country,Title,Company,"
      "Department,Office,Assistant,Bus-Num,Bus2-Num,Assist-Num,Fax-Num,Home-Num,Home2-Num,Mobile-Num,"
      "Pager-Num,Note\r\n"
      "entry,Pat,SMTP:pat@x.org,Pat,P,,,,,,,\"L, Inc.\",,,,1,,,,,,,,\r\n"
      "dl,Friends,Pat,,,,,,,,,,,,,,,,,,,,,list\r\n"
      "\r\n"
      "MAILMESSAGE,PublicMessages\r\n"
      "Folder,Sender,To,Cc,Bcc,Subject,Send-Date,Received-Date,Priority,Unread,Unsent,Body\r\n"
      "Social\\Gamers,X,,,,\"#1, free doc\",,,,,,#S.SEC(" + std::to_string(b3) + ")\r\n";
  std::string dir =
      "! directory\r\n"
      "DIRECTORY\r\n"
      "Obj-class,Mode,Common-Name,Display-Name,Department\r\n"
      "mailbox,create,DanP,Dan Park,\"R\\\\D\"\r\n";
  std::string pkl = "1252\r\n\r\nFilename,Filetype\r\nD.PRI,Primary\r\nM.PRI,Primary\r\nS.SEC,Secondary\r\n";
  return {{"X.PKL", pkl}, {"D.PRI", dir}, {"M.PRI", pri}, {"S.SEC", sec}};
}

// Opens, lists every folder and reads every message and side file in full.
// Returns the number of messages read; Errors are expected and counted.
int Exercise(const std::string& path, bool strict, int* errors) {
  IffOptions options;
  options.strict = strict;
  std::unique_ptr<Backend> backend;
  try {
    backend = OpenIffExtract(path, options);
  } catch (const Error&) {
    ++*errors;
    return 0;
  }
  int read = 0;
  std::vector<FolderId> todo{backend->Root()};
  while (!todo.empty()) {
    FolderId f = todo.back();
    todo.pop_back();
    for (const FolderInfo& child : backend->ListFolders(f)) todo.push_back(child.id);
    for (const SideFile& side : backend->ListSideFiles(f)) {
      try {
        (void)ReadAll(*side.content);
      } catch (const Error&) {
        ++*errors;
      }
    }
    for (const MessageInfo& info : backend->ListMessages(f)) {
      try {
        BlobPtr blob = backend->Fetch(f, info.key);
        std::string bytes = ReadAll(*blob);
        EXPECT_FALSE(info.unreadable) << info.key.value;
        if (info.size) {
          EXPECT_EQ(bytes.size(), *info.size) << info.key.value;
        }
        ++read;
      } catch (const Error&) {
        EXPECT_TRUE(info.unreadable) << info.key.value << " failed but was not listed as unreadable";
        ++*errors;
      }
    }
  }
  return read;
}

class IffMutationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mailfs-iff-mut-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::vector<File>& files) {
    for (const auto& e : fs::directory_iterator(dir_)) fs::remove(e.path());
    for (const File& f : files) {
      std::ofstream(dir_ + "/" + f.name, std::ios::binary) << f.bytes;
    }
  }

  std::string dir_;
};

TEST_F(IffMutationTest, TheSampleIsValid) {
  Write(SampleExtract());
  int errors = 0;
  EXPECT_EQ(Exercise(dir_, /*strict=*/true, &errors), 4);
  EXPECT_EQ(errors, 0);
}

TEST_F(IffMutationTest, TruncatedAndBitFlippedFilesNeverCrash) {
  const std::vector<File> base = SampleExtract();
  int opened = 0;
  int failed = 0;
  for (std::uint32_t seed = 1; seed <= 600; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    std::vector<File> files = base;
    File& victim = files[rng() % files.size()];
    int how = static_cast<int>(rng() % 4);
    if (how == 0 && !victim.bytes.empty()) {
      victim.bytes.resize(rng() % victim.bytes.size());  // truncated
    } else {
      int flips = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < flips && !victim.bytes.empty(); ++i) {
        std::size_t at = rng() % victim.bytes.size();
        if (how == 1) {
          victim.bytes[at] = static_cast<char>(victim.bytes[at] ^ (1u << (rng() % 8)));  // bit flip
        } else if (how == 2) {
          static const char kNasty[] = {'\r', '\n', '"', ',', '#', '\\', '(', ')', '\0', '9'};
          victim.bytes[at] = kNasty[rng() % sizeof kNasty];  // structural byte
        } else {
          victim.bytes.insert(at, std::string(1 + rng() % 3, static_cast<char>(rng())));  // shifted offsets
        }
      }
    }
    Write(files);
    int errors = 0;
    Exercise(dir_, /*strict=*/false, &errors);
    int strict_errors = 0;
    Exercise(dir_, /*strict=*/true, &strict_errors);
    ++opened;
    failed += errors > 0 || strict_errors > 0;
    if (HasFailure()) {
      ADD_FAILURE() << "reproduce with seed " << seed;
      return;
    }
  }
  std::printf("%d mutated extracts, %d with reported errors\n", opened, failed);
  EXPECT_GT(failed, opened / 4) << "the mutations should mostly be detected";
}

}  // namespace
}  // namespace mailfs::iff
