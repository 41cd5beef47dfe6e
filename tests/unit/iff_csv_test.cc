// The IFF lexical layer: tokenizer and quoting, multi-value split, address
// values, dates, DIRECTORY escapes, and the line readers (continuation,
// comments, blank lines, line numbers, long lines).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "backends/iff/address.h"
#include "backends/iff/csv.h"
#include "backends/iff/line_reader.h"

namespace mailfs::iff {
namespace {

std::vector<std::string> Values(std::string_view line, bool* ok = nullptr) {
  std::vector<Field> fields;
  bool balanced = Tokenize(line, &fields);
  if (ok) {
    *ok = balanced;
  }
  std::vector<std::string> out;
  for (const Field& f : fields) {
    out.push_back(f.value);
  }
  return out;
}

TEST(IffTokenizeTest, PlainFieldsKeepSpacesAndSpecialCharacters) {
  EXPECT_EQ(Values("a, b ,c"), (std::vector<std::string>{"a", " b ", "c"}));
  EXPECT_EQ(
      Values(R"(Filed Mail\FYI,Gamers[SMTP:g@x.com],50%,a.b!c#d)"),
      (std::vector<std::string>{"Filed Mail\\FYI", "Gamers[SMTP:g@x.com]", "50%", "a.b!c#d"}));
}

TEST(IffTokenizeTest, EmptyLineAndEmptyFields) {
  EXPECT_EQ(Values(""), (std::vector<std::string>{""}));
  EXPECT_EQ(Values(",,"), (std::vector<std::string>{"", "", ""}));
  EXPECT_EQ(Values("a,"), (std::vector<std::string>{"a", ""}));
}

TEST(IffTokenizeTest, QuotedRuns) {
  std::vector<Field> fields;
  ASSERT_TRUE(Tokenize(R"(x,"my name is ""Sherry""","a,b",plain)", &fields));
  ASSERT_EQ(fields.size(), 4u);
  EXPECT_EQ(fields[1].value, "my name is \"Sherry\"");
  EXPECT_TRUE(fields[1].quoted);
  EXPECT_EQ(fields[2].value, "a,b");
  EXPECT_FALSE(fields[0].quoted);
  EXPECT_FALSE(fields[3].quoted);
  // A quoted run may be part of a field.
  EXPECT_EQ(Values(R"(ab"c,d"e,f)"), (std::vector<std::string>{"abc,de", "f"}));
  // Empty quoted field.
  ASSERT_TRUE(Tokenize(R"("",x)", &fields));
  EXPECT_EQ(fields[0].value, "");
  EXPECT_TRUE(fields[0].quoted);
}

TEST(IffTokenizeTest, QuotedHashIsTextAndUnquotedHashIsVisible) {
  std::vector<Field> fields;
  ASSERT_TRUE(Tokenize(R"("#1 priority, really",#A.SEC(50))", &fields));
  EXPECT_TRUE(fields[0].quoted);
  EXPECT_EQ(fields[0].value, "#1 priority, really");
  EXPECT_FALSE(fields[1].quoted);
  EXPECT_EQ(fields[1].value, "#A.SEC(50)");
}

TEST(IffTokenizeTest, UnbalancedQuote) {
  bool ok = true;
  Values(R"(a,"open,b)", &ok);
  EXPECT_FALSE(ok);
  Values(R"(a,"closed""",b)", &ok);
  EXPECT_TRUE(ok);
  EXPECT_FALSE(OutsideQuotesAtEnd(R"(a,"b)"));
  EXPECT_TRUE(OutsideQuotesAtEnd(R"(a,"b""c")"));
}

TEST(IffMultiValueTest, IndividuallyQuotedValues) {
  // First pass of the tokenizer, then the split, as a reader does.
  std::vector<Field> fields;
  ASSERT_TRUE(Tokenize(R"("Jim_Hance@Northwind";"Jon Grande@Northwind")", &fields));
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(SplitMultiValue(fields[0].value),
            (std::vector<std::string>{"Jim_Hance@Northwind", "Jon Grande@Northwind"}));
}

TEST(IffMultiValueTest, ValueWithCommaQuotedInsideField) {
  std::vector<Field> fields;
  ASSERT_TRUE(Tokenize(R"("""Lee, Bill [SMTP:b@x]"";Dan [SMTP:d@x]")", &fields));
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(SplitMultiValue(fields[0].value),
            (std::vector<std::string>{"Lee, Bill [SMTP:b@x]", "Dan [SMTP:d@x]"}));
  EXPECT_EQ(SplitMultiValue(R"("Lee, Bill [SMTP:b@x]";Dan [SMTP:d@x])"),
            (std::vector<std::string>{"Lee, Bill [SMTP:b@x]", "Dan [SMTP:d@x]"}));
}

TEST(IffMultiValueTest, X400WholeFieldConvention) {
  std::vector<Field> fields;
  ASSERT_TRUE(Tokenize(R"("SMTP:a@b.com;""X400:C=US;A= ;P=NW;G=Joe;S=P""")", &fields));
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(SplitMultiValue(fields[0].value),
            (std::vector<std::string>{"SMTP:a@b.com", "X400:C=US;A= ;P=NW;G=Joe;S=P"}));
}

TEST(IffMultiValueTest, EmptyPiecesDropped) {
  EXPECT_EQ(SplitMultiValue(";a;;b;"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(SplitMultiValue("").empty());
  EXPECT_EQ(SplitMultiValue(R"(say ""hi"")"), (std::vector<std::string>{"say \"hi\""}));
}

TEST(IffAddressTest, Forms) {
  IffAddress a = ParseAddressValue("Bob Jones [SMTP:bob@example.com]");
  EXPECT_EQ(a.name, "Bob Jones");
  EXPECT_EQ(a.type, "SMTP");
  EXPECT_EQ(a.address, "bob@example.com");
  a = ParseAddressValue("Gamers[SMTP:gamers@litwareinc.com]");
  EXPECT_EQ(a.name, "Gamers");
  EXPECT_EQ(a.address, "gamers@litwareinc.com");
  a = ParseAddressValue("[X400:c=US;a= ;p=NW]");
  EXPECT_EQ(a.name, "");
  EXPECT_EQ(a.type, "X400");
  EXPECT_EQ(a.address, "c=US;a= ;p=NW");
  a = ParseAddressValue("Carol White");
  EXPECT_EQ(a.name, "Carol White");
  EXPECT_EQ(a.type, "");
  // The last bracket pair that ends the value.
  a = ParseAddressValue("Team [old] [EX:/o=Org/cn=team]");
  EXPECT_EQ(a.name, "Team [old]");
  EXPECT_EQ(a.type, "EX");
  EXPECT_EQ(a.address, "/o=Org/cn=team");
  // Brackets without TYPE: are part of the name.
  a = ParseAddressValue("Note [draft]");
  EXPECT_EQ(a.name, "Note [draft]");
  EXPECT_EQ(a.type, "");
}

TEST(IffAddressTest, Mailboxes) {
  EXPECT_EQ(ToMailbox(ParseAddressValue("Bob [smtp:bob@x.org]")),
            (mime::Mailbox{"Bob", "bob@x.org"}));
  EXPECT_EQ(ToMailbox(ParseAddressValue("Jo [PROFS:SANFRAN(HOWARDS)]")),
            (mime::Mailbox{"Jo", "IMCEAPROFS-SANFRAN+28HOWARDS+29@iff.invalid"}));
  EXPECT_EQ(ToMailbox(ParseAddressValue("Jo Berry")),
            (mime::Mailbox{"Jo Berry", "IMCEAEX-Jo+20Berry@iff.invalid"}));
  EXPECT_EQ(ImceaEncode("a@b.c-_=x y"), "a+40b.c-_=x+20y");
  EXPECT_EQ(ToMailbox(ParseTypedAddress("SMTP:frank@example.com")),
            (mime::Mailbox{"", "frank@example.com"}));
}

TEST(IffDateTest, Valid) {
  auto t = ParseIffDate("19950501220005");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->Iso(), "1995-05-01T22:00:05");
  EXPECT_EQ(t->AsUtcSeconds(), 799365605);
  EXPECT_TRUE(ParseIffDate("20000229000000"));
  EXPECT_TRUE(ParseIffDate("16010101000000"));
  EXPECT_EQ(ParseIffDate("19700101000000")->AsUtcSeconds(), 0);
}

TEST(IffDateTest, Invalid) {
  for (const char* bad :
       {"1995050122000", "199505012200050", "1995050122000x", "19951301000000", "19950001000000",
        "19950431000000", "19990229000000", "19000229000000", "19950501240000", "19950501236000",
        "19950501235960", " 9950501220005", "+9950501220005"}) {
    EXPECT_FALSE(ParseIffDate(bad)) << bad;
  }
}

TEST(IffEscapeTest, DirectoryEscapes) {
  EXPECT_EQ(UndoDirectoryEscapes(R"(R\\D)"), "R\\D");
  EXPECT_EQ(UndoDirectoryEscapes(R"(a\r\nb)"), "a\r\nb");
  EXPECT_EQ(UndoDirectoryEscapes("plain"), "plain");
  EXPECT_FALSE(UndoDirectoryEscapes(R"(a\tb)"));
  EXPECT_FALSE(UndoDirectoryEscapes("trailing\\"));
}

TEST(IffNumberTest, ParseU64) {
  EXPECT_EQ(ParseU64("0"), 0u);
  EXPECT_EQ(ParseU64("18446744073709551615"), 18446744073709551615ull);
  EXPECT_FALSE(ParseU64("18446744073709551616"));
  EXPECT_FALSE(ParseU64(""));
  EXPECT_FALSE(ParseU64("-1"));
  EXPECT_FALSE(ParseU64("1 "));
}

// A file with |bytes|, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& bytes) {
    char name[] = "/tmp/iff_csv_testXXXXXX";
    fd_ = ::mkstemp(name);
    path_ = name;
    EXPECT_EQ(::write(fd_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  ~TempFile() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }

 private:
  int fd_;
  std::string path_;
};

std::vector<LogicalLine> ReadAllLines(const std::string& bytes, bool continuation) {
  TempFile f(bytes);
  LogicalLineReader reader(f.fd(), "T.PRI");
  std::vector<LogicalLine> out;
  LogicalLine line;
  while (reader.Next(continuation, &line)) {
    out.push_back(line);
  }
  return out;
}

TEST(IffLineReaderTest, ContinuationJoinsLinesAndKeepsFirstLineNumber) {
  auto lines = ReadAllLines("a,b\\\\\r\n,c,d\r\nnext\r\n", true);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].text, "a,b,c,d");
  EXPECT_EQ(lines[0].first_line, 1u);
  EXPECT_EQ(lines[1].text, "next");
  EXPECT_EQ(lines[1].first_line, 3u);
}

TEST(IffLineReaderTest, ContinuationOverSeveralLines) {
  auto lines = ReadAllLines("a\\\\\r\nb\\\\\r\nc\r\n", true);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].text, "abc");
}

TEST(IffLineReaderTest, NoContinuationInsideQuotesOrWhenDisabled) {
  auto lines = ReadAllLines("a,\"b\\\\\r\nc\"\r\n", true);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].text, "a,\"b\\\\");
  lines = ReadAllLines("a\\\\\r\nb\r\n", false);  // DIRECTORY
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].text, "a\\\\");
  // A single backslash does not continue.
  lines = ReadAllLines("a\\\r\nb\r\n", true);
  ASSERT_EQ(lines.size(), 2u);
}

TEST(IffLineReaderTest, CommentsAndBlankLines) {
  auto lines = ReadAllLines("! note\\\\\r\n\r\nx\r\n", true);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(lines[0].comment);
  EXPECT_TRUE(lines[1].blank);
  EXPECT_EQ(lines[2].text, "x");
  EXPECT_EQ(lines[2].first_line, 3u);
  // "!" not in column 1 is data.
  lines = ReadAllLines(" !x\r\n", true);
  EXPECT_FALSE(lines[0].comment);
}

TEST(IffLineReaderTest, BareLfAndMissingEol) {
  auto lines = ReadAllLines("a\nb\r\nc", true);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(lines[0].bare_lf);
  EXPECT_FALSE(lines[1].bare_lf);
  EXPECT_EQ(lines[2].text, "c");
}

TEST(IffLineReaderTest, LongLinesAreCutAndFlagged) {
  std::string big(kMaxLineBytes + 10, 'x');
  auto lines = ReadAllLines(big + "\r\nshort\r\n", true);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[0].too_long);
  EXPECT_LE(lines[0].text.size(), kMaxLineBytes);
  EXPECT_EQ(lines[1].text, "short");
  EXPECT_EQ(lines[1].first_line, 2u);
}

TEST(IffLineReaderTest, LinesAcrossBufferBoundaries) {
  std::string bytes;
  for (int i = 0; i < 20000; ++i) {
    bytes += "line " + std::to_string(i) + "\r\n";
  }
  auto lines = ReadAllLines(bytes, true);
  ASSERT_EQ(lines.size(), 20000u);
  EXPECT_EQ(lines[12345].text, "line 12345");
  EXPECT_EQ(lines[12345].first_line, 12346u);
}

}  // namespace
}  // namespace mailfs::iff
