// Tests of the fixed charset table and the code page conversions.

#include "backends/mime/charset.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace mailfs::mime {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

std::string Conv(std::string_view charset, std::string_view bytes) {
  std::optional<std::string> out = CharsetToUtf8(charset, bytes);
  EXPECT_TRUE(out.has_value()) << charset;
  return out.value_or("<unknown>");
}

TEST(CharsetTest, KnownNamesAndAliases) {
  for (const char* name : {"UTF-8",
                           "utf8",
                           "US-ASCII",
                           "ascii",
                           "us",
                           "ISO-8859-1",
                           "iso_8859-1",
                           "iso8859-1",
                           "latin1",
                           "ISO-8859-2",
                           "iso-8859-11",
                           "ISO-8859-16",
                           "latin9",
                           "windows-1250",
                           "cp1252",
                           "Windows-1258",
                           "KOI8-R",
                           "koi8-u",
                           "GB2312",
                           "GBK",
                           "cp936",
                           "GB18030",
                           "Big5",
                           "Shift_JIS",
                           "x-sjis",
                           "SJIS",
                           "EUC-JP",
                           "ISO-2022-JP",
                           "EUC-KR",
                           "ks_c_5601-1987",
                           "iso_8859-1:1987",
                           "ANSI_X3.4-1968"}) {
    EXPECT_TRUE(IsKnownCharset(name)) << name;
  }
}

TEST(CharsetTest, NamesAreCaseInsensitive) {
  EXPECT_TRUE(IsKnownCharset("uTf-8"));
  EXPECT_TRUE(IsKnownCharset("SHIFT_JIS"));
  EXPECT_TRUE(IsKnownCharset("KS_C_5601-1987"));
  EXPECT_EQ(Conv("LATIN1", "\xE9"), "\xC3\xA9");
}

TEST(CharsetTest, UnknownNames) {
  for (const char* name : {"", "-", "utf-7", "UTF-16", "iso-8859-12", "x-unknown", "ebcdic",
                           "iso-2022-kr", "unicode", "windows-1259", "cp437"}) {
    EXPECT_FALSE(IsKnownCharset(name)) << name;
    EXPECT_EQ(CharsetToUtf8(name, "abc"), std::nullopt) << name;
  }
}

TEST(CharsetTest, AsciiPassesThrough) {
  EXPECT_EQ(Conv("us-ascii", "Hello, world!"), "Hello, world!");
  EXPECT_EQ(Conv("shift_jis", "C:\\dir~"), "C:\\dir~");
  EXPECT_EQ(Conv("iso-2022-jp", "plain"), "plain");
  EXPECT_EQ(Conv("koi8-r", ""), "");
}

TEST(CharsetTest, UsAsciiEightBitIsReplaced) {
  EXPECT_EQ(Conv("us-ascii", "a\xE9z"), "a" + kFffd + "z");
  EXPECT_EQ(Conv("ascii", "\x80\xFF"), kFffd + kFffd);
}

TEST(CharsetTest, Utf8InvalidSequences) {
  EXPECT_EQ(Conv("utf-8", "caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(Conv("utf-8", "a\xC3"), "a" + kFffd);                   // truncated
  EXPECT_EQ(Conv("utf-8", "\xE2\x82z"), kFffd + "z");               // one maximal subpart
  EXPECT_EQ(Conv("utf-8", "\xC0\xAF"), kFffd + kFffd);              // overlong
  EXPECT_EQ(Conv("utf-8", "\xED\xA0\x80"), kFffd + kFffd + kFffd);  // surrogate
  EXPECT_EQ(Conv("utf-8", "\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // > U+10FFFF
  EXPECT_EQ(Conv("utf-8", "\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(Conv("utf-8", "\xFF"), kFffd);
}

TEST(CharsetTest, SingleByteCharsets) {
  EXPECT_EQ(Conv("iso-8859-1", "\xE9t\xE9"), "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(Conv("iso-8859-1", "\x85"), "\xC2\x85");  // C1 control kept as such
  EXPECT_EQ(Conv("cp1252", "\x80"), "\xE2\x82\xAC");
  EXPECT_EQ(Conv("windows-1252", "\x93q\x94"), "\xE2\x80\x9Cq\xE2\x80\x9D");
  EXPECT_EQ(Conv("iso-8859-7", "\xE1"), "\xCE\xB1");
  EXPECT_EQ(Conv("iso-8859-16", "\xAA"), "\xC8\x98");
  EXPECT_EQ(Conv("latin9", "\xA4"), "\xE2\x82\xAC");
  EXPECT_EQ(Conv("koi8-r", "\xF0\xD2\xC9\xD7\xC5\xD4"),
            "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");  // Привет
  EXPECT_EQ(Conv("koi8-u", "\xA4"), "\xD1\x94");
  EXPECT_EQ(Conv("windows-1251", "\xCF\xF0\xE8"), "\xD0\x9F\xD1\x80\xD0\xB8");
}

TEST(CharsetTest, Windows1258KeepsToneMarksApart) {
  // "Vi" + e-circumflex + combining hook above + "t": no composition into
  // U+1EC3 (design.md §3: no Unicode normalisation).
  EXPECT_EQ(Conv("windows-1258", "Vi\xEA\xD2t"), "Vi\xC3\xAA\xCC\x89t");
  EXPECT_EQ(CodePageToUtf8(1258, "\xEA\xD2"), "\xC3\xAA\xCC\x89");
  // 0x81 is not mapped.
  EXPECT_EQ(Conv("windows-1258", "\xEA\x81z"), "\xC3\xAA" + kFffd + "z");
  EXPECT_EQ(Conv("cp1258", "\x80\xFF"), "\xE2\x82\xAC\xC3\xBF");
}

TEST(CharsetTest, MultibyteCharsets) {
  EXPECT_EQ(Conv("shift_jis", "\x93\xFA\x96\x7B"), "\xE6\x97\xA5\xE6\x9C\xAC");  // 日本
  EXPECT_EQ(Conv("x-sjis", "\x87\x40"), "\xE2\x91\xA0");  // CP932 extension: ①
  EXPECT_EQ(Conv("shift_jis", "\x5C\x93\xFA"), "\\\xE6\x97\xA5");
  EXPECT_EQ(Conv("euc-jp", "\xC6\xFC\xCB\xDC"), "\xE6\x97\xA5\xE6\x9C\xAC");
  EXPECT_EQ(Conv("iso-2022-jp", "\x1B$B$3$s$K$A$O\x1B(B"),
            "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF");  // こんにちは
  EXPECT_EQ(Conv("gb2312", "\xC4\xE3\xBA\xC3"), "\xE4\xBD\xA0\xE5\xA5\xBD");  // 你好
  EXPECT_EQ(Conv("gbk", "\xC4\xE3\xBA\xC3"), "\xE4\xBD\xA0\xE5\xA5\xBD");
  EXPECT_EQ(Conv("gb18030", "\x81\x30\x81\x30"), "\xC2\x80");                 // four-byte form
  EXPECT_EQ(Conv("big5", "\xA4\xA4\xA4\xE5"), "\xE4\xB8\xAD\xE6\x96\x87");    // 中文
  EXPECT_EQ(Conv("euc-kr", "\xC7\xD1\xB1\xB9"), "\xED\x95\x9C\xEA\xB5\xAD");  // 한국
  EXPECT_EQ(Conv("ks_c_5601-1987", "\xC7\xD1"), "\xED\x95\x9C");
}

TEST(CharsetTest, MultibyteErrorsBecomeReplacement) {
  // Lead byte followed by an ASCII byte: the lead is bad, the space survives.
  EXPECT_EQ(Conv("shift_jis", "\x81\x20x"), kFffd + " x");
  // Truncated at the end.
  EXPECT_EQ(Conv("shift_jis", "a\x93"), "a" + kFffd);
  EXPECT_EQ(Conv("euc-kr", "\xC7"), kFffd);
  EXPECT_EQ(Conv("gb18030", "\x81\x30"), kFffd);
  // Invalid byte in the middle of valid text.
  EXPECT_EQ(Conv("euc-jp", "\xC6\xFC\xFF\xCB\xDC"), "\xE6\x97\xA5" + kFffd + "\xE6\x9C\xAC");
  // Invalid bytes in ISO-2022-JP keep the shift state.
  EXPECT_EQ(Conv("iso-2022-jp", "\x1B$B$3\x80$s\x1B(B"), "\xE3\x81\x93" + kFffd + "\xE3\x82\x93");
}

TEST(CharsetTest, CodePages) {
  for (int cp : {437,   850,   874,   932,   936,   949,   950,   1250,  1251,
                 1252,  1253,  1254,  1255,  1256,  1257,  1258,  10000, 28591,
                 28592, 28593, 28594, 28595, 28596, 28597, 28598, 28599, 65001}) {
    EXPECT_TRUE(IsSupportedCodePage(cp)) << cp;
    EXPECT_EQ(CodePageToUtf8(cp, "plain ASCII"), "plain ASCII") << cp;
  }
  for (int cp : {0, 1, 1200, 1201, 1249, 1259, 20127, 28600, 28605, 65000, -1}) {
    EXPECT_FALSE(IsSupportedCodePage(cp)) << cp;
    EXPECT_EQ(CodePageToUtf8(cp, "x"), std::nullopt) << cp;
  }
  EXPECT_EQ(CodePageToUtf8(437, "\x82"), "\xC3\xA9");
  EXPECT_EQ(CodePageToUtf8(850, "\x9B"), "\xC3\xB8");
  EXPECT_EQ(CodePageToUtf8(874, "\xA1"), "\xE0\xB8\x81");
  EXPECT_EQ(CodePageToUtf8(10000, "\x8E"), "\xC3\xA9");
  EXPECT_EQ(CodePageToUtf8(932, "\x93\xFA"), "\xE6\x97\xA5");
  EXPECT_EQ(CodePageToUtf8(936, "\xC4\xE3"), "\xE4\xBD\xA0");
  EXPECT_EQ(CodePageToUtf8(949, "\xC7\xD1"), "\xED\x95\x9C");
  EXPECT_EQ(CodePageToUtf8(950, "\xA4\xA4"), "\xE4\xB8\xAD");
  EXPECT_EQ(CodePageToUtf8(1252, "\x80"), "\xE2\x82\xAC");
  EXPECT_EQ(CodePageToUtf8(28591, "\xE9"), "\xC3\xA9");
  EXPECT_EQ(CodePageToUtf8(28595, "\xBF"), "\xD0\x9F");
  EXPECT_EQ(CodePageToUtf8(65001, "\xC3\xA9\xC3"), "\xC3\xA9" + kFffd);
}

TEST(CharsetTest, SanitizeAndIsAscii) {
  EXPECT_EQ(SanitizeUtf8(""), "");
  EXPECT_EQ(SanitizeUtf8("ok \xE2\x82\xAC"), "ok \xE2\x82\xAC");
  EXPECT_EQ(SanitizeUtf8("\x80\x80"), kFffd + kFffd);
  EXPECT_EQ(SanitizeUtf8("\xE0\x80\x80"), kFffd + kFffd + kFffd);  // overlong
  EXPECT_EQ(SanitizeUtf8("\xF0\x9F\x98"), kFffd);                  // truncated 4-byte
  EXPECT_EQ(SanitizeUtf8(std::string("a\0b", 3)), std::string("a\0b", 3));
  EXPECT_TRUE(IsAscii(""));
  EXPECT_TRUE(IsAscii("abc\x7F"));
  EXPECT_FALSE(IsAscii("abc\x80"));
}

TEST(CharsetTest, ConcurrentConversionsAgree) {
  const std::string sjis = "\x93\xFA\x96\x7B";
  const std::string expected = "\xE6\x97\xA5\xE6\x9C\xAC";
  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        if (CharsetToUtf8(t % 2 == 0 ? "shift_jis" : "cp932", sjis) != expected ||
            CharsetToUtf8("koi8-r", "\xF0") != "\xD0\x9F" ||
            CharsetToUtf8("iso-2022-jp", "\x1B$B$3\x1B(B") != "\xE3\x81\x93") {
          ++failures[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (int t = 0; t < 8; ++t) {
    EXPECT_EQ(failures[t], 0) << t;
  }
}

TEST(CharsetTest, LongInputCrossesBufferBoundaries) {
  std::string input;
  std::string expected;
  for (int i = 0; i < 5000; ++i) {
    input += "\x93\xFA";
    expected += "\xE6\x97\xA5";
  }
  input += "\x81";  // truncated at the very end
  expected += kFffd;
  EXPECT_EQ(Conv("shift_jis", input), expected);
}

}  // namespace
}  // namespace mailfs::mime
