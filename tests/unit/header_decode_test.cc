// Tests of header field reading: unfolding, RFC 2047, dates, addresses and
// Message-ID tokens. Expected epoch values come from `date -u -d ... +%s`.

#include "backends/mime/header_decode.h"

#include <gtest/gtest.h>

#include <string>

namespace mailfs::mime {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(UnfoldTest, RemovesLineBreaksBeforeWhiteSpace) {
  EXPECT_EQ(Unfold("a\r\n b"), "a b");
  EXPECT_EQ(Unfold("a\n\tb"), "a\tb");
  EXPECT_EQ(Unfold("a\r\n  \r\n b"), "a   b");
  EXPECT_EQ(Unfold("a\r\nb"), "a\r\nb");  // not a fold
  EXPECT_EQ(Unfold("a\r\n"), "a\r\n");
  EXPECT_EQ(Unfold(""), "");
}

TEST(HeaderBlockTest, StopsAtFirstEmptyLine) {
  EXPECT_EQ(HeaderBlock("A: 1\r\nB: 2\r\n\r\nbody\r\n\r\n"), "A: 1\r\nB: 2\r\n");
  EXPECT_EQ(HeaderBlock("A: 1\nB: 2\n\nbody"), "A: 1\nB: 2\n");
  EXPECT_EQ(HeaderBlock("A: 1\r\nB: 2"), "A: 1\r\nB: 2");
  EXPECT_EQ(HeaderBlock("\r\nbody"), "");
  EXPECT_EQ(HeaderBlock(""), "");
  EXPECT_EQ(HeaderBlock("A: 1\n \nB: 2\n\nbody"), "A: 1\n \nB: 2\n");  // WSP line is a fold
}

TEST(FirstHeaderTest, FindsFirstFieldCaseInsensitively) {
  std::string block = "Received: x\r\nsubject: first\r\nSUBJECT: second\r\nMessage-Id: <a@b>\r\n";
  EXPECT_EQ(FirstHeader(block, "Subject"), "first");
  EXPECT_EQ(FirstHeader(block, "message-id"), "<a@b>");
  EXPECT_EQ(FirstHeader(block, "From"), std::nullopt);
  EXPECT_EQ(FirstHeader(block, "Subjec"), std::nullopt);
}

TEST(FirstHeaderTest, UnfoldsAndStripsLeadingWhiteSpace) {
  EXPECT_EQ(FirstHeader("Subject:   hello\r\n world\r\nX: y\r\n", "Subject"), "hello world");
  EXPECT_EQ(FirstHeader("Subject:\r\n folded start\r\n", "Subject"), "folded start");
  EXPECT_EQ(FirstHeader("Subject: tab\n\tfold\n", "Subject"), "tab\tfold");
  EXPECT_EQ(FirstHeader("Subject:\r\n", "Subject"), "");
  EXPECT_EQ(FirstHeader("Subject: no newline", "Subject"), "no newline");
  EXPECT_EQ(FirstHeader("Subject: trailing  \r\n", "Subject"), "trailing  ");
}

TEST(FirstHeaderTest, SkipsMalformedLines) {
  std::string block =
      "From nobody Mon Jan 1 00:00:00 2001\r\n"  // mbox separator, no field name
      " stray continuation\r\n"
      "Subject : spaced name\r\n"  // obsolete form, not a field
      ": no name\r\n"
      "Subject: real\r\n";
  EXPECT_EQ(FirstHeader(block, "Subject"), "real");
  std::vector<Header> all = AllHeaders(block);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0], (Header{"Subject", "real"}));
}

TEST(AllHeadersTest, KeepsOrderAndSpelling) {
  std::vector<Header> all =
      AllHeaders("From: a@b\r\nX-IFF-Folder: Inbox\r\n\tSub\r\nsubject: s\r\nEmpty:\r\n");
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0], (Header{"From", "a@b"}));
  EXPECT_EQ(all[1], (Header{"X-IFF-Folder", "Inbox\tSub"}));
  EXPECT_EQ(all[2], (Header{"subject", "s"}));
  EXPECT_EQ(all[3], (Header{"Empty", ""}));
}

struct DecodeCase {
  const char* input;
  std::string expected;
};

TEST(DecodeWordsTest, Table) {
  const DecodeCase cases[] = {
      {"plain text", "plain text"},
      {"=?utf-8?Q?caf=C3=A9?=", "caf\xC3\xA9"},
      {"=?UTF-8?q?a_b_c?=", "a b c"},
      {"=?utf-8?B?Y2Fmw6k=?=", "caf\xC3\xA9"},
      {"=?utf-8?b?Y2Fmw6k?=", "caf\xC3\xA9"},  // padding missing
      {"=?iso-8859-1?Q?Andr=E9?= Pirard", "Andr\xC3\xA9 Pirard"},
      {"Re: =?iso-8859-1?Q?Andr=E9?=", "Re: Andr\xC3\xA9"},
      // White space between encoded words goes, around literal text stays.
      {"=?utf-8?Q?a?= =?utf-8?Q?b?=", "ab"},
      {"=?utf-8?Q?a?=  \t =?iso-8859-1?Q?b?=", "ab"},
      {"=?utf-8?Q?a?= x =?utf-8?Q?b?=", "a x b"},
      {"=?utf-8?Q?a_?= =?utf-8?Q?_b?=", "a  b"},
      // A multibyte character split across two words of one charset.
      {"=?utf-8?Q?=E2=82?= =?utf-8?Q?=AC?=", "\xE2\x82\xAC"},
      {"=?utf-8?B?4oI=?= =?utf-8?B?rA==?=", "\xE2\x82\xAC"},
      {"=?shift_jis?B?k/o=?= =?SHIFT_JIS?B?lns=?=", "\xE6\x97\xA5\xE6\x9C\xAC"},
      // Split across different charsets: each half is invalid on its own.
      {"=?utf-8?Q?=E2=82?= =?utf8?Q?=AC?=", "\xE2\x82\xAC"},  // same charset, other spelling
      {"=?utf-8?Q?=E2=82?= =?latin1?Q?=AC?=", kFffd + "\xC2\xAC"},
      // Unknown charset: literal, and the white space next to it stays.
      {"=?x-unknown?Q?abc?=", "=?x-unknown?Q?abc?="},
      {"=?x-unknown?Q?a?= =?utf-8?Q?b?=", "=?x-unknown?Q?a?= b"},
      {"=?utf-7?Q?a?=", "=?utf-7?Q?a?="},
      // RFC 2231 language suffix.
      {"=?utf-8*en?Q?hello?=", "hello"},
      {"=?US-ASCII*EN-us?B?aGk=?=", "hi"},
      // Not encoded words.
      {"=?utf-8?X?abc?=", "=?utf-8?X?abc?="},
      {"=?utf-8?Q?a b?=", "=?utf-8?Q?a b?="},
      {"=?utf-8?Q?unterminated", "=?utf-8?Q?unterminated"},
      {"x=?utf-8?Q?a?=", "x=?utf-8?Q?a?="},  // does not stand alone
      {"=?utf-8?Q?a?=x", "=?utf-8?Q?a?=x"},
      {"(=?utf-8?Q?a?=)", "(=?utf-8?Q?a?=)"},
      {"=?utf-8?B?####?=", "=?utf-8?B?####?="},  // invalid base64 stays literal
      {"=?utf-8?B?QUJDR?=", "=?utf-8?B?QUJDR?="},
      // Q details: '=' not followed by two hex digits is literal; lowercase hex.
      {"=?utf-8?Q?100=25_=3d_x=?=", "100% = x="},
      {"=?utf-8?Q?=c3=a9?=", "\xC3\xA9"},
      {"=?utf-8?Q?"
       "?=",
       ""},  // empty text
      // Odd charsets.
      {"=?koi8-r?B?8NLJ18XU?=", "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82"},
      {"=?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=",
       "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF"},
      {"=?gb18030?B?xOO6ww==?=", "\xE4\xBD\xA0\xE5\xA5\xBD"},
      {"=?big5?B?pKSk5Q==?=", "\xE4\xB8\xAD\xE6\x96\x87"},
      {"=?ks_c_5601-1987?B?x9GxuQ==?=", "\xED\x95\x9C\xEA\xB5\xAD"},
      // Raw 8-bit bytes are UTF-8; invalid ones become U+FFFD.
      {"caf\xC3\xA9", "caf\xC3\xA9"},
      {"caf\xE9", "caf" + kFffd},
      {"=?utf-8?Q?=FF?=", kFffd},
      {"=?us-ascii?Q?=E9?=", kFffd},
  };
  for (const DecodeCase& c : cases) {
    EXPECT_EQ(DecodeWords(c.input), c.expected) << c.input;
  }
}

struct DateCase {
  const char* input;
  std::int64_t utc;
  int zone;
  bool unknown;
};

TEST(ParseDateTest, ValidDates) {
  const DateCase cases[] = {
      {"Tue, 6 Aug 2002 10:48:09 +0000", 1028630889, 0, false},
      {"6 Aug 2002 10:48:09 +0000", 1028630889, 0, false},
      {"Tue, 06 Aug 2002 16:18:09 +0530", 1028630889, 330, false},
      {"Mon, 5 Aug 2002 22:48:09 -1200", 1028630889, -720, false},
      {"Tue, 6 Aug 2002 10:48:09 -0000", 1028630889, 0, true},
      {"Tue, 6 Aug 2002 10:48:09 UT", 1028630889, 0, false},
      {"Tue, 6 Aug 2002 10:48:09 GMT", 1028630889, 0, false},
      {"Tue, 6 Aug 2002 10:48:09 Z", 1028630889, 0, false},
      {"Tue, 6 Aug 2002 10:48:09 gmt", 1028630889, 0, false},
      {"Tue, 6 Aug 2002 05:48:09 EST", 1028630889, -300, false},
      {"Tue, 6 Aug 2002 06:48:09 EDT", 1028630889, -240, false},
      {"Tue, 6 Aug 2002 04:48:09 CST", 1028630889, -360, false},
      {"Tue, 6 Aug 2002 05:48:09 CDT", 1028630889, -300, false},
      {"Tue, 6 Aug 2002 03:48:09 MST", 1028630889, -420, false},
      {"Tue, 6 Aug 2002 04:48:09 MDT", 1028630889, -360, false},
      {"Tue, 6 Aug 2002 02:48:09 PST", 1028630889, -480, false},
      {"Tue, 6 Aug 2002 03:48:09 PDT", 1028630889, -420, false},
      // Other named and military zones count as -0000.
      {"Tue, 6 Aug 2002 10:48:09 CEST", 1028630889, 0, true},
      {"Tue, 6 Aug 2002 10:48:09 A", 1028630889, 0, true},
      {"Tue, 6 Aug 2002 10:48:09 M", 1028630889, 0, true},
      {"Tue, 6 Aug 2002 10:48:09 y", 1028630889, 0, true},
      // Missing seconds, leap second, obsolete years.
      {"Tue, 6 Aug 2002 10:48 +0000", 1028630880, 0, false},
      {"Sat, 31 Dec 2016 23:59:60 +0000", 1483228799, 0, false},
      {"Tue, 6 Aug 02 10:48:09 +0000", 1028630889, 0, false},
      {"Fri, 1 Jan 49 00:00:00 +0000", 2493072000, 0, false},
      {"Sun, 1 Jan 50 00:00:00 +0000", -631152000, 0, false},
      {"Tue, 6 Aug 102 10:48:09 +0000", 1028630889, 0, false},
      {"Tue, 6 Aug 02002 10:48:09 +0000", 1028630889, 0, false},
      // White space, comments and case.
      {"  Tue ,  6  Aug  2002  10 : 48 : 09  +0000  ", 1028630889, 0, false},
      {"Tue,6 Aug 2002 10:48:09 +0000", 1028630889, 0, false},
      {"(Tuesday) Tue, 6 (day) Aug (month) 2002 10:48:09 +0000 (UTC)", 1028630889, 0, false},
      {"Tue, 6 Aug 2002 10:48:09 +0000 (nested (comment) \\) here)", 1028630889, 0, false},
      {"Tue, 6 Aug 2002 10:48:09 +0000 (unclosed", 1028630889, 0, false},
      {"tue, 6 AUG 2002 10:48:09 +0000", 1028630889, 0, false},
      {"Tue, 6 Aug 2002\r\n 10:48:09 +0000", 1028630889, 0, false},
      // The day of the week is not checked against the date.
      {"Sun, 6 Aug 2002 10:48:09 +0000", 1028630889, 0, false},
      // Calendar edges.
      {"Tue, 29 Feb 2000 12:00:00 +0000", 951825600, 0, false},
      {"Thu, 1 Jan 1970 00:00:00 +0000", 0, 0, false},
      {"Wed, 31 Dec 1969 23:59:59 +0000", -1, 0, false},
      {"Mon, 1 Jan 1601 00:00:00 +0000", -11644473600, 0, false},
      {"Fri, 31 Dec 9999 23:59:59 +0000", 253402300799, 0, false},
      {"31 Dec 1600 23:00:00 -0100", -11644473600, -60, false},  // UTC year 1601
  };
  for (const DateCase& c : cases) {
    std::optional<DateTime> date = ParseDate(c.input);
    ASSERT_TRUE(date.has_value()) << c.input;
    EXPECT_EQ(date->utc_seconds, c.utc) << c.input;
    EXPECT_EQ(date->zone_minutes, c.zone) << c.input;
    EXPECT_EQ(date->zone_unknown, c.unknown) << c.input;
  }
}

TEST(ParseDateTest, InvalidDates) {
  for (const char* input : {
           "",
           "garbage",
           "Tue, 6 Aug 2002 10:48:09",             // no zone
           "Tue, 6 Aug 2002 10:48:09 +000",        // short zone
           "Tue, 6 Aug 2002 10:48:09 +00000",      // long zone
           "Tue, 6 Aug 2002 10:48:09 +0060",       // zone minutes
           "Tue, 6 Aug 2002 10:48:09+0000",        // zone not separated
           "Tue, 6 Aug 2002 10:48:09 +0000 junk",  // trailing text
           "Tue, 6 Aug 2002 10:48:09 GMT+1",
           "Tue 6 Aug 2002 10:48:09 +0000",       // day name without comma
           "Tuesday, 6 Aug 2002 10:48:09 +0000",  // not a day name
           "Tue, 6 August 2002 10:48:09 +0000",   // not a month name
           "Tue, 6Aug2002 10:48:09 +0000",        // not separated
           "Tue, 32 Aug 2002 10:48:09 +0000",
           "Tue, 0 Aug 2002 10:48:09 +0000",
           "Fri, 29 Feb 2002 10:48:09 +0000",
           "Tue, 6 Aug 2 10:48:09 +0000",  // one-digit year
           "Tue, 6 Aug 2002 24:00:00 +0000",
           "Tue, 6 Aug 2002 10:60:00 +0000",
           "Tue, 6 Aug 2002 10:48:61 +0000",
           "Tue, 6 Aug 2002 10:48: +0000",
           "Tue, 6 Aug 2002 10 +0000",
           "Sun, 31 Dec 1600 23:59:59 +0000",                            // before 1601
           "Mon, 1 Jan 1601 00:30:00 +0100",                             // UTC year 1600
           "Sat, 1 Jan 10000 00:00:00 +0000",                            // after 9999
           "Fri, 31 Dec 9999 23:00:00 -0100",                            // UTC year 10000
           "Tue, 6 Aug 0099 10:48:09 +0000",                             // four digits: year 99
           "Tue, 6 Aug 2002 10:48:09 +0000 (Mitteleurop\xC3\xA4ische)",  // 8-bit
           "Tue, 6 Aug 2002 10.48.09 +0000",
           "2002-08-06T10:48:09Z",
       }) {
    EXPECT_EQ(ParseDate(input), std::nullopt) << input;
  }
}

TEST(FormatDateTest, WritesRfc5322) {
  EXPECT_EQ(FormatDate(DateTime{795778461, 0, true}), "Tue, 21 Mar 1995 09:34:21 -0000");
  EXPECT_EQ(FormatDate(DateTime{795778461, 0, false}), "Tue, 21 Mar 1995 09:34:21 +0000");
  EXPECT_EQ(FormatDate(DateTime{1057049557, 120, false}), "Tue, 1 Jul 2003 10:52:37 +0200");
  EXPECT_EQ(FormatDate(DateTime{1028630889, 330, false}), "Tue, 6 Aug 2002 16:18:09 +0530");
  EXPECT_EQ(FormatDate(DateTime{1028630889, -720, false}), "Mon, 5 Aug 2002 22:48:09 -1200");
  EXPECT_EQ(FormatDate(DateTime{-1, 0, false}), "Wed, 31 Dec 1969 23:59:59 +0000");
  EXPECT_EQ(FormatDate(DateTime{-11644473600, 0, false}), "Mon, 1 Jan 1601 00:00:00 +0000");
  EXPECT_EQ(FormatDate(DateTime{951825600, 0, false}), "Tue, 29 Feb 2000 12:00:00 +0000");
}

TEST(FormatDateTest, RoundTrips) {
  for (const char* text : {"Tue, 1 Jul 2003 10:52:37 +0200", "Fri, 31 Dec 9999 23:59:59 -0000",
                           "Mon, 1 Jan 1601 00:00:00 +0000", "Sat, 29 Feb 2020 05:06:07 -0930"}) {
    std::optional<DateTime> date = ParseDate(text);
    ASSERT_TRUE(date.has_value()) << text;
    EXPECT_EQ(FormatDate(*date), text);
  }
}

TEST(ParseAddressListTest, Forms) {
  using V = std::vector<Mailbox>;
  EXPECT_EQ(ParseAddressList("a@b.example"), (V{{"", "a@b.example"}}));
  EXPECT_EQ(ParseAddressList("John Doe <jdoe@example.com>"), (V{{"John Doe", "jdoe@example.com"}}));
  EXPECT_EQ(ParseAddressList("\"Doe, John\" <jdoe@example.com>, x@y"),
            (V{{"Doe, John", "jdoe@example.com"}, {"", "x@y"}}));
  EXPECT_EQ(ParseAddressList("\"a \\\"q\\\" b\" <q@x>"), (V{{"a \"q\" b", "q@x"}}));
  EXPECT_EQ(ParseAddressList("jdoe@example.com (John Doe)"), (V{{"", "jdoe@example.com"}}));
  EXPECT_EQ(ParseAddressList("John (the man) Doe <j@x>"), (V{{"John Doe", "j@x"}}));
  EXPECT_EQ(ParseAddressList("<@route1,@route2:user@host>"), (V{{"", "user@host"}}));
  EXPECT_EQ(ParseAddressList("<j@x>"), (V{{"", "j@x"}}));
  EXPECT_EQ(ParseAddressList("John . Q . Public <jqp@x>"), (V{{"John . Q . Public", "jqp@x"}}));
  EXPECT_EQ(ParseAddressList("john . doe @ example . com"), (V{{"", "john.doe@example.com"}}));
  EXPECT_EQ(ParseAddressList("\"quoted local\"@example.com"),
            (V{{"", "\"quoted local\"@example.com"}}));
  EXPECT_EQ(ParseAddressList("user@[192.0.2.1]"), (V{{"", "user@[192.0.2.1]"}}));
  EXPECT_EQ(ParseAddressList(""), V{});
  EXPECT_EQ(ParseAddressList(" , ,"), V{});
}

TEST(ParseAddressListTest, GroupsAreFlattened) {
  using V = std::vector<Mailbox>;
  EXPECT_EQ(ParseAddressList("undisclosed-recipients:;"), V{});
  EXPECT_EQ(ParseAddressList("Team: a@x, B <b@x>; c@x"),
            (V{{"", "a@x"}, {"B", "b@x"}, {"", "c@x"}}));
  EXPECT_EQ(ParseAddressList("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;"),
            (V{{"Ed Jones", "c@a.test"}, {"", "joe@where.test"}, {"John", "jdoe@one.test"}}));
}

TEST(ParseAddressListTest, DecodesDisplayNames) {
  using V = std::vector<Mailbox>;
  EXPECT_EQ(ParseAddressList("=?iso-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>"),
            (V{{"Andr\xC3\xA9 Pirard", "PIRARD@vm1.ulg.ac.be"}}));
  EXPECT_EQ(ParseAddressList("\"=?utf-8?B?w6k=?=\" <e@x>"), (V{{"\xC3\xA9", "e@x"}}));
  EXPECT_EQ(ParseAddressList("=?utf-8?Q?a?= =?utf-8?Q?b?= <ab@x>"), (V{{"ab", "ab@x"}}));
  EXPECT_EQ(ParseAddressList("J\xC3\xB6rg <j@x>"), (V{{"J\xC3\xB6rg", "j@x"}}));
}

TEST(FirstAddrSpecTest, FirstMailbox) {
  EXPECT_EQ(FirstAddrSpec("John Doe <JDoe@Example.COM>, other@x"), "JDoe@Example.COM");
  EXPECT_EQ(FirstAddrSpec("a@b (comment), c@d"), "a@b");
  EXPECT_EQ(FirstAddrSpec("(c) <x@y>"), "x@y");
  EXPECT_EQ(FirstAddrSpec("Group: m@x, n@x;"), "m@x");
  EXPECT_EQ(FirstAddrSpec("<@r1,@r2:u@h>"), "u@h");
  EXPECT_EQ(FirstAddrSpec("\"Name <fake@x>\" <real@x>"), "real@x");
  EXPECT_EQ(FirstAddrSpec("John Doe, jane@x"), "jane@x");  // "John Doe" is no mailbox
  EXPECT_EQ(FirstAddrSpec("root"), "");
  EXPECT_EQ(FirstAddrSpec("<root>"), "root");
  EXPECT_EQ(FirstAddrSpec("<>"), "");
  EXPECT_EQ(FirstAddrSpec(""), "");
  EXPECT_EQ(FirstAddrSpec("undisclosed-recipients:;"), "");
}

TEST(MessageIdTokenTest, Forms) {
  EXPECT_EQ(MessageIdToken("<abc@example.com>"), "abc@example.com");
  EXPECT_EQ(MessageIdToken("  <ABC@Example.COM>  "), "ABC@Example.COM");
  EXPECT_EQ(MessageIdToken("abc@example.com"), "abc@example.com");
  EXPECT_EQ(MessageIdToken("abc@example.com (comment) <x>"), "x");
  EXPECT_EQ(MessageIdToken("(comment) <real@x>"), "real@x");
  EXPECT_EQ(MessageIdToken("(comment) bare@x"), "(comment)");  // literal first token
  EXPECT_EQ(MessageIdToken("bare@x (comment)"), "bare@x");
  EXPECT_EQ(MessageIdToken("<<inner@x>>"), "inner@x");
  EXPECT_EQ(MessageIdToken("<a@x> <b@x>"), "a@x");
  EXPECT_EQ(MessageIdToken("<unclosed@x"), "<unclosed@x");
  EXPECT_EQ(MessageIdToken("<>"), "");
  EXPECT_EQ(MessageIdToken(""), "");
  EXPECT_EQ(MessageIdToken("   "), "");
  EXPECT_EQ(MessageIdToken("<a b@x>"), "a b@x");
  EXPECT_EQ(MessageIdToken("<caf\xE9@x>"), "caf" + kFffd + "@x");
}

}  // namespace
}  // namespace mailfs::mime
