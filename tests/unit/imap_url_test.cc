// IMAP source URLs and password files (design.md §9, §10).

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "backends/error.h"
#include "backends/imap/credentials.h"
#include "backends/imap/imap_backend.h"

namespace mailfs::imap {
namespace {

Errc CodeOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no error";
  return Errc::kIo;
}

TEST(ImapUrlTest, ParsesSchemesUsersHostsAndPorts) {
  ImapUrl a = ParseImapUrl("imaps://alice@mail.example.com");
  EXPECT_TRUE(a.implicit_tls);
  EXPECT_EQ(a.user, "alice");
  EXPECT_EQ(a.host, "mail.example.com");
  EXPECT_EQ(a.port, 993);
  ImapUrl b = ParseImapUrl("imap://bob@127.0.0.1:10143/");
  EXPECT_FALSE(b.implicit_tls);
  EXPECT_EQ(b.host, "127.0.0.1");
  EXPECT_EQ(b.port, 10143);
  ImapUrl c = ParseImapUrl("imaps://carol%40example.com@[::1]:9993");
  EXPECT_EQ(c.user, "carol@example.com");
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.port, 9993);
  ImapUrl d = ParseImapUrl("imap://dave@example.org");
  EXPECT_EQ(d.port, 143);
  // '@' inside the user name without escaping: the last '@' separates.
  EXPECT_EQ(ParseImapUrl("imaps://eve@corp@host").user, "eve@corp");
}

TEST(ImapUrlTest, RefusesBadUrls) {
  for (const char* bad : {"pop3://a@b", "imaps://host", "imaps://@host", "imaps://a@", "imaps://a@host:0",
                          "imaps://a@host:70000", "imaps://a@host:12x", "imaps://a@host/INBOX",
                          "imaps://a;AUTH=PLAIN@host", "imaps://a@[::1"}) {
    EXPECT_EQ(CodeOf([&] { ParseImapUrl(bad); }), Errc::kInvalid) << bad;
  }
}

class PassFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("mailfs-pass-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& content, mode_t mode) {
    std::string p = dir_ + "/" + name;
    std::ofstream(p) << content;
    ::chmod(p.c_str(), mode);
    return p;
  }
  std::string dir_;
};

TEST_F(PassFileTest, ReadsThePrivateFirstLine) {
  EXPECT_EQ(ReadPassFile(Write("ok", "s3cret pass\nsecond line\n", 0600)), "s3cret pass");
  EXPECT_EQ(ReadPassFile(Write("crlf", "pw\r\n", 0400)), "pw");
}

TEST_F(PassFileTest, RefusesWhatOthersCanRead) {
  EXPECT_EQ(CodeOf([&] { ReadPassFile(Write("group", "pw\n", 0640)); }), Errc::kAuth);
  EXPECT_EQ(CodeOf([&] { ReadPassFile(Write("world", "pw\n", 0604)); }), Errc::kAuth);
  EXPECT_EQ(CodeOf([&] { ReadPassFile(Write("empty", "", 0600)); }), Errc::kAuth);
  EXPECT_EQ(CodeOf([&] { ReadPassFile(dir_ + "/missing"); }), Errc::kAuth);
  EXPECT_EQ(CodeOf([&] { ReadPassFile(dir_); }), Errc::kAuth);
}

TEST_F(PassFileTest, CommandsGiveTheirFirstLine) {
  EXPECT_EQ(RunCredentialCommand("passcmd", "printf 'tok en\\nrest'"), "tok en");
  EXPECT_EQ(CodeOf([] { RunCredentialCommand("passcmd", "exit 3"); }), Errc::kAuth);
  EXPECT_EQ(CodeOf([] { RunCredentialCommand("oauth2_cmd", "true"); }), Errc::kAuth);
}

}  // namespace
}  // namespace mailfs::imap
