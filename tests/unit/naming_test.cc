// Table-driven tests of message and folder names (design.md §3).
//
// Every expected name is written out by hand. The 8-digit keys were computed
// outside the code under test, with the shell:
//   printf '%s' 'n01@test' | sha256sum | cut -c1-8                 (Message-ID)
//   printf '%s' '2002-08-06 104809|jdoe@example.com|No id' | sha256sum  (no ID)

#include "fs/naming.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace mailfs::fs {
namespace {

// 2001-09-09 01:46:40 UTC, used when a message has no usable Date.
constexpr std::int64_t kInternal = 1000000000;

// The Date most cases use: 2002-08-06 104809 in a name.
#define DATE "Date: Tue, 6 Aug 2002 10:48:09 +0000\r\n"

std::string Repeat(std::string_view piece, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) {
    out.append(piece);
  }
  return out;
}

struct NameCase {
  const char* what;
  std::string headers;
  std::string expected;
};

std::vector<NameCase> Cases() {
  return {
      // ---- Dates and time zones.
      {"plain", DATE "Subject: Re: New Sequences Window\r\nMessage-ID: <n01@test>\r\n",
       "2002-08-06 104809 Re- New Sequences Window [7dc01137].eml"},
      {"zone +0530",
       "Date: Tue, 06 Aug 2002 16:18:09 +0530\r\nSubject: zone +0530\r\nMessage-ID: <n02@test>\r\n",
       "2002-08-06 104809 zone +0530 [dead71ac].eml"},
      {"zone -1200",
       "Date: Mon, 5 Aug 2002 22:48:09 -1200\r\nSubject: zone -1200\r\nMessage-ID: <n03@test>\r\n",
       "2002-08-06 104809 zone -1200 [15aabe5d].eml"},
      {"zone EST",
       "Date: Tue, 6 Aug 2002 05:48:09 EST\r\nSubject: zone EST\r\nMessage-ID: <n04@test>\r\n",
       "2002-08-06 104809 zone EST [2ca1fae5].eml"},
      {"zone PDT",
       "Date: Tue, 6 Aug 2002 03:48:09 PDT\r\nSubject: zone PDT\r\nMessage-ID: <n05@test>\r\n",
       "2002-08-06 104809 zone PDT [6d42154f].eml"},
      {"zone CST",
       "Date: Tue, 6 Aug 2002 04:48:09 CST\r\nSubject: zone CST\r\nMessage-ID: <n06@test>\r\n",
       "2002-08-06 104809 zone CST [8fb1fbc2].eml"},
      {"military zone is -0000",
       "Date: Tue, 6 Aug 2002 10:48:09 A\r\nSubject: military zone\r\nMessage-ID: <n07@test>\r\n",
       "2002-08-06 104809 military zone [3ac56be8].eml"},
      {"other named zone is -0000",
       "Date: Tue, 6 Aug 2002 10:48:09 CEST\r\nSubject: named zone\r\nMessage-ID: <n08@test>\r\n",
       "2002-08-06 104809 named zone [331b2839].eml"},
      {"zone UT",
       "Date: Tue, 6 Aug 2002 10:48:09 UT\r\nSubject: zone UT\r\nMessage-ID: <n09@test>\r\n",
       "2002-08-06 104809 zone UT [3e97588c].eml"},
      {"zone GMT",
       "Date: Tue, 6 Aug 2002 10:48:09 GMT\r\nSubject: zone GMT\r\nMessage-ID: <n10@test>\r\n",
       "2002-08-06 104809 zone GMT [5c087336].eml"},
      {"zone Z",
       "Date: Tue, 6 Aug 2002 10:48:09 Z\r\nSubject: zone Z\r\nMessage-ID: <n11@test>\r\n",
       "2002-08-06 104809 zone Z [630b5d7b].eml"},
      {"zone -0000",
       "Date: Tue, 6 Aug 2002 10:48:09 -0000\r\nSubject: zone -0000\r\nMessage-ID: <n12@test>\r\n",
       "2002-08-06 104809 zone -0000 [5a607f88].eml"},
      {"missing seconds",
       "Date: Tue, 6 Aug 2002 10:48 +0000\r\nSubject: no seconds\r\nMessage-ID: <n13@test>\r\n",
       "2002-08-06 104800 no seconds [3ee8bc7b].eml"},
      {"leap second",
       "Date: Sat, 31 Dec 2016 23:59:60 +0000\r\nSubject: leap second\r\nMessage-ID: "
       "<n14@test>\r\n",
       "2016-12-31 235959 leap second [67c14594].eml"},
      {"two-digit year 02",
       "Date: Tue, 6 Aug 02 10:48:09 +0000\r\nSubject: two-digit year 02\r\n"
       "Message-ID: <n15@test>\r\n",
       "2002-08-06 104809 two-digit year 02 [bc78247d].eml"},
      {"two-digit year 99",
       "Date: Fri, 6 Aug 99 10:48:09 +0000\r\nSubject: two-digit year 99\r\n"
       "Message-ID: <n16@test>\r\n",
       "1999-08-06 104809 two-digit year 99 [7586d938].eml"},
      {"three-digit year",
       "Date: Tue, 6 Aug 102 10:48:09 +0000\r\nSubject: three-digit year\r\n"
       "Message-ID: <n17@test>\r\n",
       "2002-08-06 104809 three-digit year [dca6477c].eml"},
      {"year before 1601",
       "Date: Sun, 31 Dec 1600 12:00:00 +0000\r\nSubject: before 1601\r\nMessage-ID: "
       "<n18@test>\r\n",
       "2001-09-09 014640 before 1601 [d468e9e4].eml"},
      {"year after 9999",
       "Date: Sat, 1 Jan 10000 00:00:00 +0000\r\nSubject: after 9999\r\nMessage-ID: <n19@test>\r\n",
       "2001-09-09 014640 after 9999 [57224f4d].eml"},
      {"garbage date", "Date: next tuesday\r\nSubject: garbage date\r\nMessage-ID: <n20@test>\r\n",
       "2001-09-09 014640 garbage date [1c844c80].eml"},
      {"no date", "Subject: no date\r\nMessage-ID: <n21@test>\r\n",
       "2001-09-09 014640 no date [56b65d7b].eml"},
      {"zone crosses midnight",
       "Date: Sat, 1 Jan 2000 01:00:00 +0200\r\nSubject: crosses midnight\r\n"
       "Message-ID: <n22@test>\r\n",
       "1999-12-31 230000 crosses midnight [2ebff0ac].eml"},
      {"first year",
       "Date: Mon, 1 Jan 1601 00:00:00 +0000\r\nSubject: first year\r\nMessage-ID: <n23@test>\r\n",
       "1601-01-01 000000 first year [7d1842af].eml"},
      {"last year",
       "Date: Fri, 31 Dec 9999 23:59:59 +0000\r\nSubject: last year\r\nMessage-ID: <n24@test>\r\n",
       "9999-12-31 235959 last year [7bc69fe7].eml"},
      {"date with comments",
       "Date: (sent) Tue, 6 Aug 2002 10:48:09 +0000 (UTC)\r\nSubject: date with comments\r\n"
       "Message-ID: <n25@test>\r\n",
       "2002-08-06 104809 date with comments [a0900c8f].eml"},
      {"two-digit year 70 before the epoch in UTC",
       "Date: Thu, 1 Jan 70 00:00:00 +0100\r\nSubject: year 70\r\nMessage-ID: <n75@test>\r\n",
       "1969-12-31 230000 year 70 [152ef6fe].eml"},
      {"first Date wins",
       "Date: Tue, 6 Aug 2002 10:48:09 +0000\r\nDate: Wed, 7 Aug 2002 11:00:00 +0000\r\n"
       "Subject: two dates\r\nMessage-ID: <n59@test>\r\n",
       "2002-08-06 104809 two dates [c1a51504].eml"},

      // ---- Missing or empty subjects.
      {"no subject", DATE "Message-ID: <n26@test>\r\n",
       "2002-08-06 104809 (no subject) [1922a0df].eml"},
      {"empty subject", DATE "Subject:\r\nMessage-ID: <n27@test>\r\n",
       "2002-08-06 104809 (no subject) [4179e996].eml"},
      {"only white space (NBSP, ideographic space)",
       DATE "Subject: =?utf-8?Q?=C2=A0=E3=80=80_?=\r\nMessage-ID: <n28@test>\r\n",
       "2002-08-06 104809 (no subject) [c1b7f00f].eml"},
      {"only a dot", DATE "Subject: .\r\nMessage-ID: <n63@test>\r\n",
       "2002-08-06 104809 (no subject) [dbf271da].eml"},
      {"only dots and spaces", DATE "Subject: ....   \r\nMessage-ID: <n71@test>\r\n",
       "2002-08-06 104809 (no subject) [11218f3a].eml"},

      // ---- Encoded words.
      {"koi8-r", DATE "Subject: =?koi8-r?B?8NLJ18XU?=\r\nMessage-ID: <n29@test>\r\n",
       "2002-08-06 104809 \xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 [a3619ac3].eml"},
      {"iso-2022-jp",
       DATE "Subject: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=\r\nMessage-ID: <n30@test>\r\n",
       "2002-08-06 104809 "
       "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF [8c2d1bc0].eml"},
      {"gb18030", DATE "Subject: =?gb18030?B?xOO6ww==?=\r\nMessage-ID: <n31@test>\r\n",
       "2002-08-06 104809 \xE4\xBD\xA0\xE5\xA5\xBD [384c202a].eml"},
      {"windows-1258 tone mark stays a combining character",
       DATE "Subject: =?windows-1258?Q?Vi=EA=D2t?=\r\nMessage-ID: <n32@test>\r\n",
       "2002-08-06 104809 Vi\xC3\xAA\xCC\x89t [d3225991].eml"},
      {"shift_jis", DATE "Subject: =?shift_jis?B?k/qWew==?=\r\nMessage-ID: <n33@test>\r\n",
       "2002-08-06 104809 \xE6\x97\xA5\xE6\x9C\xAC [5d7bd925].eml"},
      {"big5", DATE "Subject: =?big5?B?pKSk5Q==?=\r\nMessage-ID: <n34@test>\r\n",
       "2002-08-06 104809 \xE4\xB8\xAD\xE6\x96\x87 [64f07e7c].eml"},
      {"UTF-8 sequence split across two words",
       DATE "Subject: =?utf-8?Q?=E2=82?= =?utf-8?Q?=AC_price?=\r\nMessage-ID: <n35@test>\r\n",
       "2002-08-06 104809 \xE2\x82\xAC price [8c3fd31c].eml"},
      {"shift_jis characters split across two words",
       DATE "Subject: =?shift_jis?B?k/o=?=\r\n =?SHIFT_JIS?B?lns=?=\r\nMessage-ID: <n36@test>\r\n",
       "2002-08-06 104809 \xE6\x97\xA5\xE6\x9C\xAC [b193a545].eml"},
      {"unknown charset stays literal",
       DATE "Subject: =?x-klingon?Q?abc?= ok\r\nMessage-ID: <n37@test>\r\n",
       "2002-08-06 104809 =-x-klingon-Q-abc-= ok [7a775a9d].eml"},
      {"Q with underscores",
       DATE "Subject: =?iso-8859-1?Q?caf=E9_au_lait?=\r\nMessage-ID: <n38@test>\r\n",
       "2002-08-06 104809 caf\xC3\xA9 au lait [f7363bd6].eml"},
      {"Q underscores at both ends",
       DATE "Subject: =?utf-8?Q?__hello__?=\r\nMessage-ID: <n70@test>\r\n",
       "2002-08-06 104809 hello [b6f474ec].eml"},
      {"RFC 2231 language suffix",
       DATE "Subject: =?utf-8*fr?Q?fran=C3=A7ais?=\r\nMessage-ID: <n72@test>\r\n",
       "2002-08-06 104809 fran\xC3\xA7"
       "ais [bdc483fa].eml"},
      {"four-byte character",
       DATE "Subject: =?utf-8?Q?=F0=9F=93=A7?= mail\r\nMessage-ID: <n73@test>\r\n",
       "2002-08-06 104809 \xF0\x9F\x93\xA7 mail [df9329ea].eml"},
      {"us-ascii word with an 8-bit byte",
       DATE "Subject: =?us-ascii?Q?caf=E9?=\r\nMessage-ID: <n74@test>\r\n",
       "2002-08-06 104809 caf\xEF\xBF\xBD [c27cddf6].eml"},

      // ---- Length.
      {"1 KB ASCII subject",
       DATE "Subject: " + std::string(1024, 'x') + "\r\nMessage-ID: <n39@test>\r\n",
       "2002-08-06 104809 " + std::string(80, 'x') + " [5c705e65].eml"},
      {"1 KB of two-byte characters",
       DATE "Subject: " + Repeat("\xC3\xA9", 512) + "\r\nMessage-ID: <n40@test>\r\n",
       "2002-08-06 104809 " + Repeat("\xC3\xA9", 40) + " [87ff5fcb].eml"},
      {"1 KB of three-byte characters: cut at a code-point boundary",
       DATE "Subject: " + Repeat("\xE6\x97\xA5", 341) + "\r\nMessage-ID: <n41@test>\r\n",
       "2002-08-06 104809 " + Repeat("\xE6\x97\xA5", 26) + " [9623d998].eml"},
      {"cut leaves a trailing space",
       DATE "Subject: " + std::string(79, 'a') + " " + std::string(20, 'b') +
           "\r\nMessage-ID: <n42@test>\r\n",
       "2002-08-06 104809 " + std::string(79, 'a') + " [e0c9bbbd].eml"},
      {"exactly 80 bytes",
       DATE "Subject: " + std::string(80, 'y') + "\r\nMessage-ID: <n66@test>\r\n",
       "2002-08-06 104809 " + std::string(80, 'y') + " [c3c5dd84].eml"},
      {"three-byte characters ending exactly at 80 bytes",
       DATE "Subject: ab" + Repeat("\xE2\x82\xAC", 400) + "\r\nMessage-ID: <n69@test>\r\n",
       "2002-08-06 104809 ab" + Repeat("\xE2\x82\xAC", 26) + " [3ca40fd5].eml"},

      // ---- Characters that become "-".
      {"slashes", DATE "Subject: a/b/c\r\nMessage-ID: <n43@test>\r\n",
       "2002-08-06 104809 a-b-c [931453a3].eml"},
      {"backslashes", DATE "Subject: C:\\dir\\file\r\nMessage-ID: <n44@test>\r\n",
       "2002-08-06 104809 C--dir-file [f0a1c3ae].eml"},
      {"brackets", DATE "Subject: [PATCH 1/2] fix\r\nMessage-ID: <n45@test>\r\n",
       "2002-08-06 104809 -PATCH 1-2- fix [5698f2c8].eml"},
      {"all of :*?\"<>|", DATE "Subject: a:b*c?d\"e<f>g|h\r\nMessage-ID: <n46@test>\r\n",
       "2002-08-06 104809 a-b-c-d-e-f-g-h [51d98f87].eml"},
      {"folded with a tab: TAB is a C0 control",
       DATE "Subject: folded\r\n\twith tab\r\nMessage-ID: <n47@test>\r\n",
       "2002-08-06 104809 folded-with tab [c0b44489].eml"},
      {"raw tab", DATE "Subject: Re:\tTest\r\nMessage-ID: <n48@test>\r\n",
       "2002-08-06 104809 Re--Test [598b5df2].eml"},
      {"encoded CR LF", DATE "Subject: =?utf-8?Q?line1=0D=0Aline2?=\r\nMessage-ID: <n49@test>\r\n",
       "2002-08-06 104809 line1--line2 [f7979f85].eml"},
      {"right-to-left override",
       DATE "Subject: =?utf-8?Q?invoice=E2=80=AEfdp.exe?=\r\nMessage-ID: <n50@test>\r\n",
       "2002-08-06 104809 invoice-fdp.exe [8d32ee18].eml"},
      {"other bidi controls",
       DATE "Subject: =?utf-8?Q?=E2=80=8E=E2=80=8Fa=E2=80=AAb=E2=81=A6c=E2=81=A9?=\r\n"
            "Message-ID: <n51@test>\r\n",
       "2002-08-06 104809 --a-b-c- [ff3379da].eml"},
      {"C1 controls, NEL included",
       DATE "Subject: =?utf-8?Q?a=C2=85b=C2=9Bc=C2=80d?=\r\nMessage-ID: <n52@test>\r\n",
       "2002-08-06 104809 a-b-c-d [58619a7d].eml"},
      {"NUL and DEL", DATE "Subject: =?utf-8?Q?a=00b=7Fc?=\r\nMessage-ID: <n60@test>\r\n",
       "2002-08-06 104809 a-b-c [9ae5261b].eml"},

      // ---- Dots and white space.
      {"leading dots", DATE "Subject: ...hidden\r\nMessage-ID: <n53@test>\r\n",
       "2002-08-06 104809 hidden [97d71aa8].eml"},
      {"dots after spaces are stripped once only",
       DATE "Subject:  . . .x \r\nMessage-ID: <n54@test>\r\n",
       "2002-08-06 104809 . .x [5c94df63].eml"},
      {"NBSP and ideographic space",
       DATE "Subject: a\xC2\xA0\xE3\x80\x80"
            "b  c\r\nMessage-ID: <n55@test>\r\n",
       "2002-08-06 104809 a b c [18aead61].eml"},
      {"line separator and ideographic space",
       DATE "Subject: =?utf-8?Q?a=E2=80=A8=E3=80=80_b?=\r\nMessage-ID: <n64@test>\r\n",
       "2002-08-06 104809 a b [56c391e5].eml"},
      {"zero-width space is not white space",
       DATE "Subject: a\xE2\x80\x8B"
            "b\r\nMessage-ID: <n65@test>\r\n",
       "2002-08-06 104809 a\xE2\x80\x8B"
       "b [18f6db8f].eml"},
      {"folded with spaces", DATE "Subject: a\r\n   b\r\nMessage-ID: <n57@test>\r\n",
       "2002-08-06 104809 a b [144d5fc3].eml"},

      // ---- Invalid UTF-8 and header layout.
      {"invalid UTF-8", DATE "Subject: caf\xE9 \xFF\r\nMessage-ID: <n56@test>\r\n",
       "2002-08-06 104809 caf\xEF\xBF\xBD \xEF\xBF\xBD [041d1333].eml"},
      {"first Subject wins", DATE "Subject: first\r\nSubject: second\r\nMessage-ID: <n58@test>\r\n",
       "2002-08-06 104809 first [e48b24e0].eml"},
      {"field names in any case",
       "DATE: Tue, 6 Aug 2002 10:48:09 +0000\r\nSUBJECT: upper\r\nmessage-id: <n67@test>\r\n",
       "2002-08-06 104809 upper [b4d55484].eml"},
      {"the body is not read",
       DATE "Message-ID: <n68@test>\r\n\r\nSubject: fake\r\nMessage-ID: <fake@test>\r\n",
       "2002-08-06 104809 (no subject) [783a6679].eml"},
      {"bare LF line ends",
       "Date: Tue, 6 Aug 2002 10:48:09 +0000\nSubject: a/b\nMessage-ID: <n43@test>\n",
       "2002-08-06 104809 a-b [931453a3].eml"},

      // ---- Message-ID forms and the fallback key.
      {"Message-ID without brackets", DATE "Subject: bare id\r\nMessage-ID: n61@test\r\n",
       "2002-08-06 104809 bare id [65423bd1].eml"},
      {"Message-ID with comments",
       DATE "Subject: id comments\r\nMessage-ID: (sent by x) <n62@test> (trailing)\r\n",
       "2002-08-06 104809 id comments [b1461e6f].eml"},
      {"Message-ID folded", DATE "Subject: folded id\r\nMessage-ID:\r\n <n61@test>\r\n",
       "2002-08-06 104809 folded id [65423bd1].eml"},
      {"no Message-ID: key over date|from|subject",
       DATE "From: John Doe <JDoe@Example.COM>\r\nSubject: No id\r\n",
       "2002-08-06 104809 No id [e12f9cc8].eml"},
      {"no Message-ID, From or Date", "Subject: only subject\r\n",
       "2001-09-09 014640 only subject [60eda240].eml"},
      {"no header at all", "", "2001-09-09 014640 (no subject) [b1aaaf35].eml"},
      {"empty <> Message-ID",
       DATE "From: a@b.test\r\nSubject: empty brackets\r\nMessage-ID: <>\r\n",
       "2002-08-06 104809 empty brackets [f7e02241].eml"},
      {"empty Message-ID, From in a group",
       DATE "From: Group: M@X.test;\r\nSubject: empty id\r\nMessage-ID:\r\n",
       "2002-08-06 104809 empty id [9382db55].eml"},
      {"fallback uses the cleaned subject and the first real mailbox",
       DATE "From: John Doe, jane@x.test\r\nSubject: /slash/\r\n",
       "2002-08-06 104809 -slash- [ce79709c].eml"},
      {"fallback uses the internal date", "Date: garbage\r\nFrom: <A@B.test>\r\nSubject: x\r\n",
       "2001-09-09 014640 x [d3fabb9b].eml"},
      {"fallback uses the cut subject", DATE "Subject: " + std::string(1024, 'z') + "\r\n",
       "2002-08-06 104809 " + std::string(80, 'z') + " [56e05cfb].eml"},
  };
}

TEST(NamingTest, HostileMessages) {
  std::vector<NameCase> cases = Cases();
  EXPECT_GE(cases.size(), 60u);
  for (const NameCase& c : cases) {
    std::string name = UniqueName(MessageBaseName(c.headers, kInternal));
    EXPECT_EQ(name, c.expected) << c.what;
    EXPECT_LT(name.size(), 140u) << c.what;
  }
}

TEST(NamingTest, PiecesMatchTheWholeName) {
  for (const NameCase& c : Cases()) {
    EXPECT_EQ(NameDate(c.headers, kInternal) + " " + NameSubject(c.headers) + " [" +
                  NameKey(c.headers, kInternal) + "]",
              MessageBaseName(c.headers, kInternal))
        << c.what;
  }
}

TEST(NamingTest, InternalDateIsFormattedInUtc) {
  EXPECT_EQ(NameDate("", 0), "1970-01-01 000000");
  EXPECT_EQ(NameDate("", -1), "1969-12-31 235959");
  EXPECT_EQ(NameDate("", 951825600), "2000-02-29 120000");
  EXPECT_EQ(NameDate("", 253402300799), "9999-12-31 235959");
  EXPECT_EQ(NameDate("", -11644473600), "1601-01-01 000000");
}

TEST(NamingTest, CollisionsAndDuplicates) {
  // Two different messages with the same headers share a base name; each is
  // told apart by the SHA-256 of its bytes (printf '%s' ... | sha256sum).
  const std::string headers = DATE "Subject: same\r\nMessage-ID: <n01@test>\r\n";
  std::string first = headers + "\r\nbody one\r\n";
  std::string second = headers + "\r\nbody two\r\n";
  std::string base = MessageBaseName(first, kInternal);
  EXPECT_EQ(base, MessageBaseName(second, kInternal));
  EXPECT_EQ(base, "2002-08-06 104809 same [7dc01137]");
  // printf 'abc' | sha256sum -> ba7816bf8f01cfea...
  const std::string abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  EXPECT_EQ(CollisionName(base, abc, 1), "2002-08-06 104809 same [7dc01137] ~ba7816bf.eml");
  EXPECT_EQ(CollisionName(base, abc, 0), "2002-08-06 104809 same [7dc01137] ~ba7816bf.eml");
  EXPECT_EQ(CollisionName(base, abc, 2), "2002-08-06 104809 same [7dc01137] ~ba7816bf-2.eml");
  EXPECT_EQ(CollisionName(base, abc, 3), "2002-08-06 104809 same [7dc01137] ~ba7816bf-3.eml");
  EXPECT_EQ(UniqueName(base), "2002-08-06 104809 same [7dc01137].eml");
  // The longest subject with a large duplicate index stays under 140 bytes.
  std::string longest = MessageBaseName(DATE "Subject: " + Repeat("\xE6\x97\xA5", 400), 0);
  EXPECT_LT(CollisionName(longest, abc, 999999).size(), 140u);
}

TEST(NamingTest, UnreadableNames) {
  // printf '%s' 'pst:0x200024' | sha256sum; printf '%s' 'imap:1234/56' | sha256sum
  EXPECT_EQ(UnreadableName("pst:0x200024"), "0000-00-00 000000 (unreadable) [3c2eb506].eml");
  EXPECT_EQ(UnreadableName("imap:1234/56"), "0000-00-00 000000 (unreadable) [944475b8].eml");
}

struct FolderCase {
  std::string name;
  std::string escaped;
};

TEST(FolderNameTest, Escapes) {
  const std::string a300(300, 'a');
  const FolderCase cases[] = {
      {"Inbox", "Inbox"},
      {"Sent Items", "Sent Items"},
      {"a/b", "a%2Fb"},
      {"/", "%2F"},
      {"100%", "100%25"},
      {"%2F", "%252F"},
      {".", "%2E"},
      {"..", "%2E%2E"},
      {"...", "..."},
      {".hidden", ".hidden"},
      {"", ""},
      {"caf\xC3\xA9", "caf\xC3\xA9"},
      {"caf\xE9", "caf\xEF\xBF\xBD"},
      {std::string(255, 'b'), std::string(255, 'b')},
      // printf 'a%.0s' $(seq 300) | sha256sum -> 9835fa6b...
      {a300, std::string(246, 'a') + "~9835fa6b"},
      // 1 + 122 two-byte characters = 245 bytes; the next one would split.
      // { printf 'x'; printf '\xc3\xa9%.0s' $(seq 200); } | sha256sum -> 15af5976...
      {"x" + Repeat("\xC3\xA9", 200), "x" + Repeat("\xC3\xA9", 122) + "~15af5976"},
  };
  for (const FolderCase& c : cases) {
    EXPECT_EQ(EscapeFolderName(c.name), c.escaped) << c.name;
    EXPECT_LE(EscapeFolderName(c.name).size(), 255u) << c.name;
  }
}

TEST(FolderNameTest, Unescapes) {
  EXPECT_EQ(UnescapeFolderName("a%2Fb"), "a/b");
  EXPECT_EQ(UnescapeFolderName("a%2fb"), "a/b");
  EXPECT_EQ(UnescapeFolderName("100%25"), "100%");
  EXPECT_EQ(UnescapeFolderName("%2E"), ".");
  EXPECT_EQ(UnescapeFolderName("%2E%2E"), "..");
  EXPECT_EQ(UnescapeFolderName("50%"), "50%");
  EXPECT_EQ(UnescapeFolderName("%zz"), "%zz");
  EXPECT_EQ(UnescapeFolderName("%2"), "%2");
  EXPECT_EQ(UnescapeFolderName("%%41"), "%A");
  for (std::string name : {"Inbox", "a/b%c", "..", ".", "%2F/x", "caf\xC3\xA9"}) {
    EXPECT_EQ(UnescapeFolderName(EscapeFolderName(name)), name) << name;
  }
}

}  // namespace
}  // namespace mailfs::fs
