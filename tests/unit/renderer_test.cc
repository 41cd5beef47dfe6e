#include "backends/mime/renderer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "backends/error.h"
#include "backends/mime/header_encode.h"
#include "backends/mime/parser.h"
#include "tests/support/transfer_decode.h"

namespace mailfs::mime {
namespace {

using ::mailfs::testing::DecodeBase64;
using ::mailfs::testing::DecodeQp;

std::string GoldenPath(const std::string& name) {
  return std::string(MAILFS_SOURCE_DIR) + "/tests/data/golden/" + name;
}

// Compares |actual| with tests/data/golden/|name|; rewrites the file instead
// when MAILFS_UPDATE_GOLDEN=1.
void ExpectGolden(const std::string& name, const std::string& actual) {
  const char* update = std::getenv("MAILFS_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream out(GoldenPath(name), std::ios::binary);
    out << actual;
    ASSERT_TRUE(out.good()) << "cannot write " << GoldenPath(name);
    return;
  }
  std::ifstream in(GoldenPath(name), std::ios::binary);
  ASSERT_TRUE(in.good()) << "missing golden file " << GoldenPath(name)
                         << " (run with MAILFS_UPDATE_GOLDEN=1 to create it)";
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), actual) << "rendering differs from " << name;
}

Part TextPart(std::string text, std::string subtype = "plain") {
  Part p;
  p.type = "text";
  p.subtype = std::move(subtype);
  p.body = MakeStringBlob(std::move(text));
  return p;
}

Part Attachment(std::string name,
                std::string data,
                std::string type = "application",
                std::string subtype = "octet-stream") {
  Part p;
  p.type = std::move(type);
  p.subtype = std::move(subtype);
  p.disposition = "attachment";
  p.filename = std::move(name);
  p.body = MakeStringBlob(std::move(data));
  return p;
}

std::string Bytes(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  unsigned x = seed;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 16);
  }
  return s;
}

Message BaseMessage() {
  Message m;
  m.from = {{"Alice Example", "alice@example.com"}};
  m.to = {{"", "bob@example.org"}, {"Carol \"CJ\" Jones", "carol@example.net"}};
  m.subject = "Quarterly report";
  m.date = DateTime{811675461, 0, true};  // Thu, 21 Sep 1995 09:24:21 -0000
  m.message_id = "1234.5678@example.com";
  return m;
}

Message SimpleText() {
  Message m = BaseMessage();
  m.body = TextPart("Hello Bob,\nthe report is attached.\r\n\r\nAlice\n");
  return m;
}

Message MultipartAttachment() {
  Message m = BaseMessage();
  m.body.type = "multipart";
  m.body.subtype = "mixed";
  m.body.parts.push_back(TextPart("See attachment.\r\n"));
  m.body.parts.push_back(Attachment("report.pdf", Bytes(130, 7), "application", "pdf"));
  return m;
}

Message NonAscii() {
  Message m = BaseMessage();
  m.from = {{"Jürgen Groß", "juergen@example.de"}};
  m.subject = "Grüße aus Köln – Angebot für das nächste Quartal, bitte bis Freitag prüfen";
  m.body.type = "multipart";
  m.body.subtype = "mixed";
  m.body.parts.push_back(TextPart("Schöne Grüße\n"));
  m.body.parts.push_back(Attachment("Übersicht März.xlsx", Bytes(10, 3)));
  m.body.parts.push_back(Attachment(
      "Ein sehr langer Dateiname mit Umlauten äöü und noch mehr Text damit er umbricht.txt", "x\n",
      "text", "plain"));
  return m;
}

Message Nested() {
  auto inner = std::make_shared<Message>(BaseMessage());
  inner->subject = "Original";
  inner->message_id = "inner@example.com";
  inner->body.type = "multipart";
  inner->body.subtype = "alternative";
  inner->body.parts.push_back(TextPart("plain version\r\n"));
  inner->body.parts.push_back(TextPart("<p>html version</p>\r\n", "html"));
  Message m = BaseMessage();
  m.subject = "Fwd: Original";
  m.in_reply_to = "<inner@example.com>";
  m.references = "<a@example.com> <b@example.com>";
  m.body.type = "multipart";
  m.body.subtype = "mixed";
  m.body.parts.push_back(TextPart("Forwarded below.\r\n"));
  Part fwd;
  fwd.type = "message";
  fwd.subtype = "rfc822";
  fwd.message = inner;
  m.body.parts.push_back(fwd);
  return m;
}

RenderOptions Prefix(std::string prefix = "=_iff_3fa9c2d1") {
  RenderOptions o;
  o.boundary_style = BoundaryStyle::kPrefix;
  o.boundary_prefix = std::move(prefix);
  return o;
}


std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < s.size()) {
    std::size_t eol = s.find("\r\n", start);
    if (eol == std::string::npos) {
      lines.push_back(s.substr(start));
      break;
    }
    lines.push_back(s.substr(start, eol - start));
    start = eol + 2;
  }
  return lines;
}

std::string BodyOf(const std::string& rendered) {
  return rendered.substr(rendered.find("\r\n\r\n") + 4);
}

TEST(RendererTest, GoldenSimpleText) {
  ExpectGolden("simple_text.eml", RenderToString(SimpleText(), {}));
}

TEST(RendererTest, GoldenMultipartPrefix) {
  ExpectGolden("multipart_prefix.eml", RenderToString(MultipartAttachment(), Prefix()));
}

TEST(RendererTest, GoldenMultipartContentHash) {
  ExpectGolden("multipart_hash.eml", RenderToString(MultipartAttachment(), {}));
}

TEST(RendererTest, GoldenNonAscii) {
  ExpectGolden("non_ascii.eml", RenderToString(NonAscii(), {}));
}

TEST(RendererTest, GoldenNestedRfc822) {
  ExpectGolden("nested_rfc822.eml", RenderToString(Nested(), {}));
  ExpectGolden("nested_rfc822_prefix.eml", RenderToString(Nested(), Prefix()));
}

TEST(RendererTest, GoldenExtraHeaders) {
  Message m = SimpleText();
  m.extra_headers = {{"X-IFF-Folder", "Inbox/Projekte – 2002"},
                     {"Content-Type", "ignored/ignored"},
                     {"X-Priority", "1 (Highest)"}};
  m.body.extra_headers = {{"X-IFF-Position", "12"}};
  RenderOptions o = Prefix();
  o.keep_extra_headers = true;
  ExpectGolden("extra_headers.eml", RenderToString(m, o));
  std::string plain = RenderToString(m, Prefix());
  EXPECT_EQ(plain.find("X-IFF"), std::string::npos);
}

TEST(RendererTest, HeaderOrder) {
  Message m = BaseMessage();
  m.sender = {{"", "sender@example.com"}};
  m.reply_to = {{"", "reply@example.com"}};
  m.cc = {{"", "cc@example.com"}};
  m.bcc = {{"", "bcc@example.com"}};
  m.in_reply_to = "<x@y>";
  m.references = "<x@y>";
  m.body = TextPart("x");
  std::string s = RenderToString(m, {});
  std::vector<std::string> order = {"From:",         "Sender:",
                                    "Reply-To:",     "To:",
                                    "Cc:",           "Bcc:",
                                    "Subject:",      "Date:",
                                    "Message-ID:",   "In-Reply-To:",
                                    "References:",   "MIME-Version:",
                                    "Content-Type:", "Content-Transfer-Encoding:"};
  std::size_t pos = 0;
  for (const auto& name : order) {
    std::size_t at = s.find("\r\n" + name);
    if (name == "From:") {
      at = s.rfind(name, 0);
    }
    ASSERT_NE(at, std::string::npos) << name;
    EXPECT_GE(at, pos) << name;
    pos = at;
  }
  EXPECT_NE(s.find("Date: Thu, 21 Sep 1995 09:24:21 -0000"), std::string::npos) << s;
}

TEST(RendererTest, EmptyFieldsOmitted) {
  Message m;
  m.subject = "";
  m.body = TextPart("");
  std::string s = RenderToString(m, {});
  EXPECT_EQ(s,
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 7bit\r\n\r\n");
}

TEST(RendererTest, SizeIsExact) {
  for (const Message& m : {SimpleText(), MultipartAttachment(), NonAscii(), Nested()}) {
    for (const RenderOptions& o : {RenderOptions{}, Prefix()}) {
      BlobPtr blob = Render(m, o);
      EXPECT_EQ(blob->Size(), ReadAll(*blob).size());
    }
  }
}

TEST(RendererTest, ReadAtEveryOffsetAndSize) {
  Message m = BaseMessage();
  m.body.type = "multipart";
  m.body.subtype = "mixed";
  m.body.parts.push_back(TextPart("a"));
  m.body.parts.push_back(Attachment("a.bin", Bytes(130, 1)));  // 57 + 57 + 16
  m.body.parts.push_back(Attachment("b.bin", Bytes(114, 2)));  // exactly two lines
  BlobPtr blob = Render(m, Prefix());
  std::string whole = ReadAll(*blob);
  ASSERT_EQ(whole.size(), blob->Size());
  std::string buf(whole.size() + 8, '\0');
  for (std::size_t off = 0; off <= whole.size(); ++off) {
    for (std::size_t n = 0; n <= whole.size() - off + 2; ++n) {
      std::size_t got = blob->ReadAt(off, buf.data(), n);
      std::size_t want = std::min(n, whole.size() - off);
      ASSERT_EQ(got, want) << off << "+" << n;
      ASSERT_EQ(buf.compare(0, got, whole, off, got), 0) << off << "+" << n;
    }
  }
}

// A large Blob whose bytes are a function of the offset; counts reads.
class PatternBlob final : public Blob {
 public:
  explicit PatternBlob(std::uint64_t size) : size_(size) {}
  std::uint64_t Size() const override { return size_; }
  std::size_t ReadAt(std::uint64_t offset, char* buf, std::size_t n) const override {
    reads_++;
    if (offset >= size_) {
      return 0;
    }
    std::size_t count = static_cast<std::size_t>(std::min<std::uint64_t>(n, size_ - offset));
    for (std::size_t i = 0; i < count; ++i) {
      std::uint64_t x = offset + i;
      buf[i] = static_cast<char>((x * 2654435761u) >> 13);
    }
    return count;
  }
  mutable std::atomic<int> reads_{0};

 private:
  std::uint64_t size_;
};

TEST(RendererTest, LargeAttachmentIsNotReadForSize) {
  auto big = std::make_shared<PatternBlob>(5 * 1024 * 1024 + 17);
  Message m = BaseMessage();
  m.body.type = "multipart";
  m.body.subtype = "mixed";
  m.body.parts.push_back(TextPart("big one\r\n"));
  Part a;
  a.type = "application";
  a.subtype = "octet-stream";
  a.filename = "big.bin";
  a.body = big;
  m.body.parts.push_back(a);
  BlobPtr blob = Render(m, Prefix());
  std::uint64_t size = blob->Size();
  EXPECT_EQ(big->reads_.load(), 0);
  std::string whole = ReadAll(*blob);
  ASSERT_EQ(whole.size(), size);
  // Reads at scattered offsets and sizes equal the slices of the whole.
  unsigned x = 99;
  std::string buf;
  for (int i = 0; i < 300; ++i) {
    x = x * 1664525u + 1013904223u;
    std::uint64_t off = x % size;
    x = x * 1664525u + 1013904223u;
    std::size_t n = x % 300000;
    buf.assign(n, '\0');
    std::size_t got = blob->ReadAt(off, buf.data(), n);
    ASSERT_EQ(got, std::min<std::uint64_t>(n, size - off));
    ASSERT_EQ(buf.compare(0, got, whole, off, got), 0);
  }
}

TEST(RendererTest, Deterministic) {
  for (const RenderOptions& o : {RenderOptions{}, Prefix()}) {
    EXPECT_EQ(RenderToString(NonAscii(), o), RenderToString(NonAscii(), o));
    EXPECT_EQ(RenderToString(Nested(), o), RenderToString(Nested(), o));
  }
}

TEST(RendererTest, LinesAreShort) {
  Message m = NonAscii();
  m.subject = std::string(300, 'a') + " " +
              "word word word word word word word word word word "
              "word word word word word word word word word word word word word word";
  m.to.clear();
  for (int i = 0; i < 20; ++i) {
    m.to.push_back(
        {"Empfänger Nummer " + std::to_string(i), "r" + std::to_string(i) + "@example.com"});
  }
  std::string s = RenderToString(m, {});
  std::string head = s.substr(0, s.find("\r\n\r\n"));
  for (const auto& line : Lines(head)) {
    if (line.find(std::string(300, 'a')) != std::string::npos) {
      continue;  // one unbreakable word
    }
    EXPECT_LE(line.size(), 78u) << line;
  }
  for (const auto& line : Lines(s)) {
    EXPECT_LE(line.size(), 998u);
  }
}

TEST(RendererTest, EncodedWordsNeverSplitUtf8) {
  std::string text;
  for (int i = 0; i < 40; ++i) {
    text += "€ä𝄞";
  }
  for (std::size_t first : {24u, 30u, 50u, 75u}) {
    auto words = EncodeWords(text, first);
    ASSERT_GT(words.size(), 1u);
    EXPECT_LE(words[0].size(), first);
    for (const auto& w : words) {
      EXPECT_LE(w.size(), 75u);
      EXPECT_EQ(w.rfind("=?UTF-8?", 0), 0u);
      EXPECT_EQ(w.substr(w.size() - 2), "?=");
    }
  }
  // Q for mostly ASCII, B for mostly non-ASCII.
  EXPECT_EQ(EncodeWords("Gruesse aus Koeln ä", 75)[0].substr(0, 10), "=?UTF-8?Q?");
  EXPECT_EQ(EncodeWords("日本語のテキスト", 75)[0].substr(0, 10), "=?UTF-8?B?");
}

TEST(RendererTest, UnstructuredEncoding) {
  EXPECT_EQ(RenderUnstructuredField("Subject", "plain ascii"), "Subject: plain ascii\r\n");
  // B is shorter here (12 characters against 16 for Q).
  EXPECT_EQ(RenderUnstructuredField("Subject", "Re: Grüße aus Köln"),
            "Subject: Re: =?UTF-8?B?R3LDvMOfZQ==?= aus =?UTF-8?B?S8O2bG4=?=\r\n");
  EXPECT_EQ(RenderUnstructuredField("Subject", "Re: Gruß und Kuss"),
            "Subject: Re: =?UTF-8?B?R3J1w58=?= und Kuss\r\n");
  EXPECT_EQ(RenderUnstructuredField("Subject", "Überweisungsbestätigung"),
            "Subject: =?UTF-8?Q?=C3=9Cberweisungsbest=C3=A4tigung?=\r\n");
  // Adjacent non-ASCII words share one run, the space inside it encoded.
  EXPECT_EQ(RenderUnstructuredField("Subject", "Grüße Köln"),
            "Subject: =?UTF-8?B?R3LDvMOfZSBLw7Zsbg==?=\r\n");
  EXPECT_EQ(RenderUnstructuredField("Subject", "Café Olé"),
            "Subject: =?UTF-8?B?Q2Fmw6kgT2zDqQ==?=\r\n");
  // Things that look like encoded words, and outer whitespace, are encoded.
  EXPECT_EQ(RenderUnstructuredField("Subject", "=?x?Q?y?= z"),
            "Subject: =?UTF-8?B?PT94P1E/eT89?= z\r\n");
  EXPECT_EQ(RenderUnstructuredField("Subject", " lead"), "Subject: =?UTF-8?Q?_lead?=\r\n");
  EXPECT_EQ(RenderUnstructuredField("Subject", "trail "), "Subject: =?UTF-8?Q?trail_?=\r\n");
}

TEST(RendererTest, Mailboxes) {
  EXPECT_EQ(RenderMailbox({"", "a@b"}), "<a@b>");
  EXPECT_EQ(RenderMailbox({"A \"B\" \\C", "a@b"}), "\"A \\\"B\\\" \\\\C\" <a@b>");
  EXPECT_EQ(RenderMailbox({"Jürgen", "j@b"}), "=?UTF-8?Q?J=C3=BCrgen?= <j@b>");
  EXPECT_EQ(RenderAddressField("To", {{"", "a@b"}, {"X", "x@y"}}), "To: <a@b>, \"X\" <x@y>\r\n");
  EXPECT_EQ(RenderAddressField("To", {{"", ""}}), "");
}

TEST(RendererTest, Params) {
  FieldFolder f("Content-Disposition");
  f.Add(" ", "attachment;");
  AddParam(f, {"filename", "a \"b\".pdf"}, true, true);
  EXPECT_EQ(f.Finish(), "Content-Disposition: attachment; filename=\"a \\\"b\\\".pdf\"\r\n");

  FieldFolder g("Content-Disposition");
  g.Add(" ", "attachment;");
  AddParam(g, {"filename", "Übersicht.pdf"}, true, true);
  EXPECT_EQ(g.Finish(), "Content-Disposition: attachment; filename*=UTF-8''%C3%9Cbersicht.pdf\r\n");

  std::string long_name;
  for (int i = 0; i < 30; ++i) {
    long_name += "名前";
  }
  FieldFolder h("Content-Disposition");
  h.Add(" ", "attachment;");
  AddParam(h, {"filename", long_name}, true, true);
  std::string field = h.Finish();
  EXPECT_NE(field.find(" filename*0*=UTF-8''%E5%90%8D"), std::string::npos) << field;
  EXPECT_NE(field.find(" filename*1*=%"), std::string::npos) << field;
  for (const auto& line : Lines(field)) {
    EXPECT_LE(line.size(), 78u);
  }
}

TEST(RendererTest, TextTransferEncodings) {
  auto render_body = [](const std::string& text) {
    Message m;
    m.body = TextPart(text);
    return RenderToString(m, {});
  };
  std::string ascii = render_body("a\nb\rc\r\nd");
  EXPECT_NE(ascii.find("Content-Transfer-Encoding: 7bit"), std::string::npos);
  EXPECT_EQ(BodyOf(ascii), "a\r\nb\r\nc\r\nd");

  std::string long_line = render_body(std::string(999, 'x'));
  EXPECT_NE(long_line.find("quoted-printable"), std::string::npos);
  EXPECT_EQ(render_body(std::string(998, 'x')).find("quoted-printable"), std::string::npos);
  EXPECT_NE(render_body(std::string("a\0b", 3)).find("quoted-printable"), std::string::npos);
}

TEST(RendererTest, QuotedPrintableEdgeCases) {
  std::vector<std::string> cases = {
      "ä",
      "a=b ä",
      "=_iff_ é",
      "trailing space \nand tab\t\nend é ",
      std::string(200, 'x') + "ä",
      std::string(75, 'x') + "ä",
      std::string(74, 'x') + "=é",
      std::string(73, 'x') + "=\x80",
      std::string(76, 'x') + "\nä",
      "äöü " + std::string(300, 'y') + " \t \n",
      "line\r\n\r\n\r\nä",
      std::string("nul\0byte é", 11),
  };
  for (std::size_t k = 0; k < 40; ++k) {
    cases.push_back(std::string(k, 'x') + "éé é\t");
  }
  for (const auto& text : cases) {
    Message m;
    m.body = TextPart(text);
    std::string s = RenderToString(m, {});
    ASSERT_NE(s.find("quoted-printable"), std::string::npos) << text;
    std::string body = BodyOf(s);
    for (const auto& line : Lines(body)) {
      EXPECT_LE(line.size(), 76u) << text;
      if (!line.empty()) {
        EXPECT_NE(line.back(), ' ');
        EXPECT_NE(line.back(), '\t');
      }
    }
    EXPECT_EQ(body.find("=_"), std::string::npos);
    std::string normalized;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) {
        normalized += "\r\n";
      } else {
        normalized += text[i];
      }
    }
    EXPECT_EQ(DecodeQp(body), normalized);
  }
}

TEST(RendererTest, PrefixBoundariesNumberedDepthFirst) {
  std::string s = RenderToString(Nested(), Prefix("=_p"));
  EXPECT_NE(s.find("boundary=\"=_p_1\""), std::string::npos);
  EXPECT_NE(s.find("boundary=\"=_p_2\""), std::string::npos);
  EXPECT_NE(s.find("\r\n--=_p_1--\r\n"), std::string::npos);
  EXPECT_NE(s.find("\r\n--=_p_2--"), std::string::npos);
}

TEST(RendererTest, PrefixBoundaryCollisionGetsSuffix) {
  Message m = MultipartAttachment();
  m.body.parts[0] =
      TextPart("quoting a delimiter:\r\n--=_iff_3fa9c2d1_1\r\nand =_iff_3fa9c2d1_1_x\r\n");
  std::string s = RenderToString(m, Prefix());
  EXPECT_NE(s.find("boundary=\"=_iff_3fa9c2d1_1_x_x\""), std::string::npos) << s;
  EXPECT_NE(s.find("\r\n--=_iff_3fa9c2d1_1_x_x--\r\n"), std::string::npos);
}

TEST(RendererTest, PrefixBoundaryDoesNotPrefixNestedOnes) {
  // Eleven nested multiparts: "_1" is a prefix of "_10" and "_11".
  Part leaf = TextPart("x");
  Part cur = leaf;
  for (int i = 0; i < 11; ++i) {
    Part mp;
    mp.type = "multipart";
    mp.subtype = "mixed";
    mp.parts.push_back(cur);
    cur = mp;
  }
  Message m;
  m.body = cur;
  std::string s = RenderToString(m, Prefix("=_b"));
  EXPECT_NE(s.find("boundary=\"=_b_1_x\""), std::string::npos);
  EXPECT_NE(s.find("boundary=\"=_b_10\""), std::string::npos);
}

TEST(RendererTest, ContentHashBoundaries) {
  std::string s = RenderToString(MultipartAttachment(), {});
  std::size_t at = s.find("boundary=\"=_mailfs_");
  ASSERT_NE(at, std::string::npos);
  std::string hex = s.substr(at + 19, 24);
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << hex;
  EXPECT_EQ(s[at + 19 + 24], '"');
  // A different attachment gives a different boundary.
  Message other = MultipartAttachment();
  other.body.parts[1].body = MakeStringBlob(Bytes(130, 8));
  std::string t = RenderToString(other, {});
  EXPECT_EQ(t.find(hex), std::string::npos);
}

TEST(RendererTest, EmbeddedMessageIsNotBase64) {
  std::string s = RenderToString(Nested(), {});
  std::size_t at =
      s.find("Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n\r\n");
  EXPECT_NE(at, std::string::npos) << s;
  Message m = Nested();
  auto inner = std::make_shared<Message>(*m.body.parts[1].message);
  inner->subject = "Ünïcode";
  inner->from = {{"", "jörg@example.com"}};  // 8-bit address (RFC 6532)
  m.body.parts[1].message = inner;
  EXPECT_NE(RenderToString(m, {}).find("message/rfc822\r\nContent-Transfer-Encoding: 8bit"),
            std::string::npos);
}

TEST(RendererTest, ShortAttachmentBlobThrows) {
  class LyingBlob final : public Blob {
   public:
    std::uint64_t Size() const override { return 100; }
    std::size_t ReadAt(std::uint64_t offset, char* buf, std::size_t n) const override {
      if (offset >= 10) {
        return 0;
      }
      std::size_t c = std::min<std::size_t>(n, 10 - offset);
      std::memset(buf, 'a', c);
      return c;
    }
  };
  Message m = MultipartAttachment();
  m.body.parts[1].body = std::make_shared<LyingBlob>();
  EXPECT_THROW(RenderToString(m, Prefix()), Error);
}


// Kept bytes of a text part: CR, LF, bare CR, NUL and 8-bit bytes (not
// UTF-8) survive byte for byte, with no charset and no transcoding.
TEST(RendererTest, KeepBytesTextPartIsBase64ByteExact) {
  const std::string data =
      std::string("line\rbare\nlf\r\ncrlf\0nul \xE9\xFF\x80 end", 30) + Bytes(200, 3);
  for (const RenderOptions& o : {RenderOptions{}, Prefix()}) {
    Message m = MultipartAttachment();
    Part notes = Attachment("notes.txt", data, "text", "plain");
    notes.keep_bytes = true;
    m.body.parts.push_back(notes);
    std::string s = RenderToString(m, o);
    std::string head =
        "Content-Type: text/plain\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=\"notes.txt\"\r\n\r\n";
    std::size_t at = s.find(head);
    ASSERT_NE(at, std::string::npos) << s;
    std::size_t begin = at + head.size();
    std::size_t end = s.find("\r\n--", begin);
    ASSERT_NE(end, std::string::npos);
    EXPECT_EQ(DecodeBase64(s.substr(begin, end - begin)), data);
    EXPECT_EQ(s.find("charset=utf-8\r\nContent-Transfer-Encoding: base64"), std::string::npos);
    // The ordinary text part is still UTF-8 text.
    EXPECT_NE(s.find("Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: 7bit\r\n\r\nSee attachment.\r\n"),
              std::string::npos);
  }
  // A single-part message keeps its bytes too.
  Message single = BaseMessage();
  single.body = Attachment("data.csv", data, "text", "csv");
  single.body.keep_bytes = true;
  std::string s = RenderToString(single, Prefix());
  EXPECT_NE(s.find("\r\nContent-Type: text/csv\r\nContent-Transfer-Encoding: base64\r\n"),
            std::string::npos)
      << s;
  EXPECT_EQ(DecodeBase64(BodyOf(s)), data);
}

// Parameters given by the caller are written as they are, charset included.
TEST(RendererTest, KeepBytesKeepsCallerParams) {
  Message m = BaseMessage();
  m.body = Attachment("old.txt", "caf\xE9\r\n", "text", "plain");
  m.body.params = {{"charset", "windows-1252"}};
  m.body.keep_bytes = true;
  std::string s = RenderToString(m, Prefix());
  EXPECT_NE(s.find("Content-Type: text/plain; charset=windows-1252\r\n"
                   "Content-Transfer-Encoding: base64\r\n"),
            std::string::npos)
      << s;
  EXPECT_EQ(DecodeBase64(BodyOf(s)), "caf\xE9\r\n");
}

// Kept text bytes are sized like any attachment: exactly, without a read.
TEST(RendererTest, KeepBytesTextIsNotReadForSize) {
  auto big = std::make_shared<PatternBlob>(3 * 1024 * 1024 + 5);
  Message m = BaseMessage();
  m.body.type = "multipart";
  m.body.subtype = "mixed";
  m.body.parts.push_back(TextPart("big text\r\n"));
  Part a;
  a.type = "text";
  a.subtype = "plain";
  a.filename = "big.txt";
  a.keep_bytes = true;
  a.body = big;
  m.body.parts.push_back(a);
  BlobPtr blob = Render(m, Prefix());
  std::uint64_t size = blob->Size();
  EXPECT_EQ(big->reads_.load(), 0);
  std::string whole = ReadAll(*blob);
  EXPECT_EQ(whole.size(), size);
  const std::string marker = "filename=\"big.txt\"\r\n\r\n";
  std::size_t at = whole.find(marker);
  ASSERT_NE(at, std::string::npos);
  std::size_t begin = at + marker.size();
  std::size_t end = whole.find("\r\n--", begin);
  ASSERT_NE(end, std::string::npos);
  std::string decoded = DecodeBase64(whole.substr(begin, end - begin));
  ASSERT_EQ(decoded.size(), big->Size());
  EXPECT_EQ(decoded, ReadAll(*big));
}

TEST(RendererTest, CanonicalRenderingIsIdempotent) {
  Message odd = NonAscii();
  odd.subject = "  =?utf-8?q?not_a_word?= mixed Ünïcode\ttabs  and trailing  ";
  odd.cc = {{"Groß, Ärger \"Mr\"", "g@example.com"}, {"", "plain@example.com"}};
  odd.body.parts[0].body = MakeStringBlob("x=y \r\n" + std::string(100, 'z') + "é\nend\t");
  odd.body.parts[0].params = {{"format", "flowed"}};
  odd.body.parts[1].content_id = "part1@example.com";
  odd.body.parts[1].description = "Tabelle für März";
  odd.body.parts[1].disposition = "inline";
  Message empty;
  Message only_text;
  only_text.body = TextPart("no headers at all\r\n");
  for (const Message& m :
       {SimpleText(), MultipartAttachment(), NonAscii(), Nested(), odd, empty, only_text}) {
    for (const RenderOptions& o : {RenderOptions{}, Prefix()}) {
      std::string first = RenderToString(m, o);
      std::string second = RenderToString(Parse(first), o);
      EXPECT_EQ(first, second);
    }
  }
}

TEST(RendererTest, ParseRecoversModel) {
  Message m = NonAscii();
  Message back = Parse(RenderToString(m, {}));
  EXPECT_EQ(back.from, m.from);
  EXPECT_EQ(back.to, m.to);
  EXPECT_EQ(back.subject, m.subject);
  EXPECT_EQ(back.date, m.date);
  EXPECT_EQ(back.message_id, m.message_id);
  ASSERT_EQ(back.body.parts.size(), m.body.parts.size());
  for (std::size_t i = 0; i < m.body.parts.size(); ++i) {
    EXPECT_EQ(back.body.parts[i].filename, m.body.parts[i].filename);
    EXPECT_EQ(back.body.parts[i].type, m.body.parts[i].type);
    std::string want = ReadAll(*m.body.parts[i].body);
    if (m.body.parts[i].IsText()) {
      // Text comes back with CRLF line ends.
      std::string crlf;
      for (char c : want) {
        crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
      }
      want = crlf;
    }
    EXPECT_EQ(ReadAll(*back.body.parts[i].body), want);
  }
}

}  // namespace
}  // namespace mailfs::mime
