// Modified UTF-7 mailbox names (RFC 3501 §5.1.3): examples from the RFC and
// Dovecot, round trips, and malformed input from a server.

#include "backends/imap/mutf7.h"

#include <gtest/gtest.h>

#include <string>

#include "backends/error.h"

namespace mailfs::imap {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(ImapMutf7Test, DecodesKnownNames) {
  EXPECT_EQ(DecodeMailboxName("INBOX"), "INBOX");
  EXPECT_EQ(DecodeMailboxName("Umlaut-&AOQ-"), "Umlaut-\xC3\xA4");
  // RFC 3501's example: "~peter/mail/台北/日本語".
  EXPECT_EQ(DecodeMailboxName("~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            "~peter/mail/\xE5\x8F\xB0\xE5\x8C\x97/\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E");
  EXPECT_EQ(DecodeMailboxName("&-"), "&");
  EXPECT_EQ(DecodeMailboxName("Tom &- Jerry"), "Tom & Jerry");
  EXPECT_EQ(DecodeMailboxName("&ANw-n&AO8-code F&APY-lder"), "\xC3\x9Cn\xC3\xAF" "code F\xC3\xB6lder");
  // A character outside the BMP as a surrogate pair (U+1F600).
  EXPECT_EQ(DecodeMailboxName("&2D3eAA-"), "\xF0\x9F\x98\x80");
}

TEST(ImapMutf7Test, EncodesKnownNames) {
  EXPECT_EQ(EncodeMailboxName("INBOX"), "INBOX");
  EXPECT_EQ(EncodeMailboxName("Umlaut-\xC3\xA4"), "Umlaut-&AOQ-");
  EXPECT_EQ(EncodeMailboxName("\xE5\x8F\xB0\xE5\x8C\x97"), "&U,BTFw-");
  EXPECT_EQ(EncodeMailboxName("a&b"), "a&-b");
  EXPECT_EQ(EncodeMailboxName("\xF0\x9F\x98\x80"), "&2D3eAA-");
  EXPECT_EQ(EncodeMailboxName("tab\there"), "tab&AAk-here");  // controls are shifted
  EXPECT_EQ(EncodeMailboxName(""), "");
}

TEST(ImapMutf7Test, RoundTrips) {
  for (const std::string s :
       {"Entw\xC3\xBC" "rfe", "\xD0\x9F\xD0\xB0\xD0\xBF\xD0\xBA\xD0\xB0 & co", "\xE6\x97\xA5\xE6\x9C\xAC", "a/b.c%d",
        "\xC3\xA4\xC3\xB6\xC3\xBC\xC3\x9F\xC3\xA4\xC3\xB6\xC3\xBC", "x\xF0\x9F\x93\xA7y", "&&&"}) {
    std::string enc = EncodeMailboxName(s);
    for (char c : enc) {
      EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << s;
    }
    EXPECT_EQ(DecodeMailboxName(enc), s) << enc;
  }
}

TEST(ImapMutf7Test, MalformedInputBecomesReplacementCharacters) {
  EXPECT_EQ(DecodeMailboxName("abc&AOQ"), "abc" + kFffd);           // unterminated shift
  EXPECT_EQ(DecodeMailboxName("&A!Q-x"), kFffd + "x");               // not base64
  EXPECT_EQ(DecodeMailboxName("&AGE-"), kFffd);                      // 'a' must be written directly
  EXPECT_EQ(DecodeMailboxName("&2D0-"), kFffd);                      // lone high surrogate
  EXPECT_EQ(DecodeMailboxName("&3gA-"), kFffd);                      // lone low surrogate
  EXPECT_EQ(DecodeMailboxName("&AOR-"), kFffd);                      // non-zero padding bits
  EXPECT_EQ(DecodeMailboxName("&A-"), kFffd);                        // too few bits for a unit
  EXPECT_EQ(DecodeMailboxName(std::string("a\xC3\xA4") + "b"), "a" + kFffd + kFffd + "b");  // raw 8-bit
}

TEST(ImapMutf7Test, EncodeRefusesInvalidUtf8) {
  for (const std::string bad : {"\xC3", "\xFF", "\xED\xA0\x80", "\xC0\xAF", "ok\xE2\x82"}) {
    try {
      EncodeMailboxName(bad);
      ADD_FAILURE() << "accepted invalid UTF-8";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kInvalid);
    }
  }
}

}  // namespace
}  // namespace mailfs::imap
