#include "backends/mime/parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/mime/renderer.h"

namespace mailfs::mime {
namespace {

std::string Body(const Part& part) {
  return part.body ? ReadAll(*part.body) : std::string();
}

const Param* FindParam(const Part& part, const std::string& name) {
  for (const Param& p : part.params) {
    if (p.name == name) {
      return &p;
    }
  }
  return nullptr;
}

const char kMixed[] =
    "From: =?ISO-8859-1?Q?J=F6rg?= <joerg@example.de>\r\n"
    "To: a@example.com, \"B, Bee\" <b@example.com>\r\n"
    "Subject: =?UTF-8?B?R3LDvMOfZQ==?= und mehr\r\n"
    "Date: Tue, 6 Aug 2002 10:48:09 +0200\r\n"
    "Message-ID: <abc@example.com>\r\n"
    "X-Mailer: Test\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed;\r\n boundary=\"XYZ\"\r\n"
    "\r\n"
    "This is the preamble.\r\n"
    "--XYZ\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Gr=FC=DFe, soft=\r\n"
    "break\r\n"
    "--XYZ\r\n"
    "Content-Type: application/pdf; name=\"r.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"r.pdf\"\r\n"
    "Content-ID: <cid1@example.com>\r\n"
    "Content-Description: the report\r\n"
    "\r\n"
    "aGVsbG8gd29y\r\n"
    "bGQ=\r\n"
    "--XYZ--\r\n"
    "epilogue\r\n";

TEST(ParserTest, MultipartMixedWithBase64Attachment) {
  Message m = Parse(kMixed);
  ASSERT_EQ(m.from.size(), 1u);
  EXPECT_EQ(m.from[0].name, "Jörg");
  EXPECT_EQ(m.from[0].address, "joerg@example.de");
  ASSERT_EQ(m.to.size(), 2u);
  EXPECT_EQ(m.to[1].name, "B, Bee");
  EXPECT_EQ(m.subject, "Grüße und mehr");
  ASSERT_TRUE(m.date);
  EXPECT_EQ(m.date->zone_minutes, 120);
  EXPECT_EQ(m.message_id, "abc@example.com");
  ASSERT_EQ(m.extra_headers.size(), 1u);
  EXPECT_EQ(m.extra_headers[0].name, "X-Mailer");
  EXPECT_EQ(m.body.type, "multipart");
  EXPECT_EQ(m.body.subtype, "mixed");
  ASSERT_EQ(m.body.parts.size(), 2u);
  const Part& text = m.body.parts[0];
  EXPECT_EQ(text.type, "text");
  EXPECT_EQ(Body(text), "Grüße, softbreak");
  EXPECT_EQ(FindParam(text, "charset"), nullptr);
  const Part& pdf = m.body.parts[1];
  EXPECT_EQ(pdf.type, "application");
  EXPECT_EQ(pdf.subtype, "pdf");
  EXPECT_EQ(Body(pdf), "hello world");
  EXPECT_EQ(pdf.disposition, "attachment");
  EXPECT_EQ(pdf.filename, "r.pdf");
  ASSERT_NE(FindParam(pdf, "name"), nullptr);
  EXPECT_EQ(FindParam(pdf, "name")->value, "r.pdf");
  EXPECT_EQ(pdf.content_id, "cid1@example.com");
  EXPECT_EQ(pdf.description, "the report");
}

TEST(ParserTest, Alternative) {
  Message m = Parse(
      "Content-Type: multipart/alternative; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
      "--b\r\nContent-Type: text/html; charset=\"UTF-8\"\r\n\r\n<b>html</b>\r\n--b--\r\n");
  ASSERT_EQ(m.body.parts.size(), 2u);
  EXPECT_EQ(m.body.subtype, "alternative");
  EXPECT_EQ(Body(m.body.parts[0]), "plain");
  EXPECT_EQ(m.body.parts[1].subtype, "html");
  EXPECT_EQ(Body(m.body.parts[1]), "<b>html</b>");
}

TEST(ParserTest, NestedRfc822) {
  Message m = Parse(
      "Subject: outer\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
      "--o\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
      "--o\r\nContent-Type: message/rfc822\r\n\r\n"
      "Subject: inner\r\nFrom: x@y\r\nContent-Type: multipart/mixed; boundary=\"i\"\r\n\r\n"
      "--i\r\n\r\ninner text\r\n--i\r\nContent-Type: image/png\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\niVBORw==\r\n--i--\r\n"
      "\r\n--o--\r\n");
  ASSERT_EQ(m.body.parts.size(), 2u);
  const Part& fwd = m.body.parts[1];
  EXPECT_EQ(fwd.type, "message");
  ASSERT_TRUE(fwd.message);
  EXPECT_EQ(fwd.message->subject, "inner");
  ASSERT_EQ(fwd.message->body.parts.size(), 2u);
  EXPECT_EQ(Body(fwd.message->body.parts[0]), "inner text");
  EXPECT_EQ(Body(fwd.message->body.parts[1]), std::string("\x89PNG", 4));
}

TEST(ParserTest, Base64EncodedRfc822IsStillParsed) {
  Message m = Parse(
      "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "U3ViamVjdDogaQ0KDQpib2R5\r\n");  // "Subject: i\r\n\r\nbody"
  ASSERT_TRUE(m.body.message);
  EXPECT_EQ(m.body.message->subject, "i");
  EXPECT_EQ(Body(m.body.message->body), "body");
}

TEST(ParserTest, QuotedPrintableDetails) {
  Message m = Parse(
      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
      "Quoted-Printable\r\n\r\n"
      "a=3Db =C3=A9=\r\nt\r\ntrailing=20\r\nlast=\r\n");
  EXPECT_EQ(Body(m.body), "a=b ét\r\ntrailing \r\nlast");
}

TEST(ParserTest, Charsets) {
  struct Case {
    std::string charset;
    std::string bytes;
    std::string utf8;
  } cases[] = {
      {"iso-8859-1", "caf\xe9", "café"}, {"windows-1252", "\x80", "€"},
      {"koi8-r", "\xf0\xd2\xc9", "При"}, {"Shift_JIS", "\x93\xfa\x96\x7b", "日本"},
      {"utf-8", "ok ✓", "ok ✓"},         {"x-unknown-charset", "ok \xff", "ok \xef\xbf\xbd"},
      {"", "raw \xc3\xa9", "raw é"},
  };
  for (const Case& c : cases) {
    std::string msg = "Content-Type: text/plain";
    if (!c.charset.empty()) {
      msg += "; charset=" + c.charset;
    }
    msg += "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + c.bytes;
    EXPECT_EQ(Body(Parse(msg).body), c.utf8) << c.charset;
  }
}

TEST(ParserTest, Rfc2231Filenames) {
  Message m = Parse(
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: application/octet-stream;\r\n name*0*=UTF-8''%C3%9Cber;\r\n"
      " name*1*=sicht%20M%C3%A4rz; name*2=\".xlsx\"\r\n"
      "Content-Disposition: attachment;\r\n filename*=iso-8859-1'de'%DCbersicht.txt\r\n\r\nx\r\n"
      "--b\r\nContent-Disposition: attachment; filename=\"=?UTF-8?Q?K=C3=B6ln.pdf?=\"\r\n\r\ny\r\n"
      "--b\r\nContent-Disposition: attachment; filename*0=\"long \\\"quoted\\\" \";"
      " filename*1=\"name.doc\"\r\n\r\nz\r\n"
      "--b\r\nContent-Disposition: inline; filename=plain.txt;\r\n\r\nw\r\n"
      "--b--\r\n");
  ASSERT_EQ(m.body.parts.size(), 4u);
  ASSERT_NE(FindParam(m.body.parts[0], "name"), nullptr);
  EXPECT_EQ(FindParam(m.body.parts[0], "name")->value, "Übersicht März.xlsx");
  EXPECT_EQ(m.body.parts[0].filename, "Übersicht.txt");
  EXPECT_EQ(m.body.parts[1].filename, "Köln.pdf");
  EXPECT_EQ(m.body.parts[2].filename, "long \"quoted\" name.doc");
  EXPECT_EQ(m.body.parts[3].filename, "plain.txt");
  EXPECT_EQ(m.body.parts[3].disposition, "inline");
}

TEST(ParserTest, TruncatedMultipartKeepsParts) {
  Message m = Parse(
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\n\r\nfirst\r\n--b\r\nContent-Type: application/zip\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nUEsDBA");
  ASSERT_EQ(m.body.parts.size(), 2u);
  EXPECT_EQ(Body(m.body.parts[0]), "first");
  EXPECT_EQ(m.body.parts[1].subtype, "zip");
}

TEST(ParserTest, MultipartWithoutBoundaryIsOpaque) {
  Message m = Parse("Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nhi\r\n");
  EXPECT_EQ(m.body.type, "application");
  EXPECT_EQ(m.body.subtype, "octet-stream");
  EXPECT_EQ(Body(m.body), "--x\r\n\r\nhi\r\n");
  Message n = Parse("Content-Type: multipart/mixed; boundary=zz\r\n\r\n--x\r\n\r\nhi\r\n");
  EXPECT_EQ(n.body.type, "application");
}

TEST(ParserTest, LongerBoundaryIsNotADelimiter) {
  Message m = Parse(
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\n\r\nline\r\n--bc not ours\r\n--b--\r\n");
  ASSERT_EQ(m.body.parts.size(), 1u);
  EXPECT_EQ(Body(m.body.parts[0]), "line\r\n--bc not ours");
}

TEST(ParserTest, NoHeaderBodySeparator) {
  Message m = Parse("Subject: only headers\r\nFrom: a@b");
  EXPECT_EQ(m.subject, "only headers");
  EXPECT_EQ(Body(m.body), "");
  Message n = Parse("Hello, this is just text\nwith no header at all\n");
  EXPECT_FALSE(n.subject);
  EXPECT_EQ(Body(n.body), "Hello, this is just text\r\nwith no header at all\r\n");
}

TEST(ParserTest, BareLineFeeds) {
  Message m = Parse(
      "Subject: lf\nContent-Type: multipart/mixed; boundary=\"q\"\n\n"
      "--q\nContent-Type: text/plain\n\nline1\nline2\n--q\nContent-Transfer-Encoding: base64\n"
      "Content-Type: application/octet-stream\n\naGk=\n--q--\n");
  EXPECT_EQ(m.subject, "lf");
  ASSERT_EQ(m.body.parts.size(), 2u);
  EXPECT_EQ(Body(m.body.parts[0]), "line1\r\nline2");
  EXPECT_EQ(Body(m.body.parts[1]), "hi");
}

TEST(ParserTest, NulBytes) {
  std::string raw("Subject: a\0b\r\nContent-Type: text/plain\r\n\r\nx\0y", 45);
  Message m = Parse(raw);
  EXPECT_EQ(Body(m.body).size(), 3u);
  std::string only_nul(100, '\0');
  Parse(only_nul);
}

TEST(ParserTest, DeepNestingDoesNotCrash) {
  for (int depth : {1000, 100000}) {
    std::string s;
    for (int i = 0; i < depth; ++i) {
      s += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
           std::to_string(i) + "\r\n";
    }
    s += "\r\nleaf\r\n";
    Message m = Parse(s);
    int levels = 0;
    const Part* p = &m.body;
    while (p->IsMultipart() && !p->parts.empty()) {
      p = &p->parts[0];
      ++levels;
    }
    EXPECT_LE(levels, 33);
    EXPECT_FALSE(RenderToString(m, {}).empty());
  }
  std::string msgs;
  for (int i = 0; i < 1000; ++i) {
    msgs += "Content-Type: message/rfc822\r\n\r\n";
  }
  Message m = Parse(msgs + "Subject: deep\r\n\r\nx");
  EXPECT_FALSE(RenderToString(m, {}).empty());
}

TEST(ParserTest, DigestDefaultsToRfc822) {
  Message m = Parse(
      "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: "
      "one\r\n\r\n1\r\n--d--\r\n");
  ASSERT_EQ(m.body.parts.size(), 1u);
  ASSERT_TRUE(m.body.parts[0].message);
  EXPECT_EQ(m.body.parts[0].message->subject, "one");
}

TEST(ParserTest, BrokenHeaders) {
  Message m = Parse(
      "Content-Type: ;;; = ; charset\r\nContent-Transfer-Encoding: base64\r\n"
      "Date: yesterday\r\nFrom: <<<\r\n\r\n!!!notbase64");
  EXPECT_EQ(m.body.type, "text");
  EXPECT_FALSE(m.date);
  Parse("Content-Type: text/plain; charset=\"unterminated\r\n\r\nx");
  Parse("Content-Type: text/plain; name*0*=UTF-8''%ZZ%; name*99999999=x\r\n\r\n");
  Parse("Content-Disposition: attachment; filename*=''\r\n\r\n");
  Parse("Content-Type: (comment (nested) text/plain\r\n\r\n");
  Parse("");
  Parse("\r\n");
  Parse(":\r\n\r\n");
}

// Deterministic mutations of sample messages fed to Parse and Render: nothing
// may crash, throw or trip the sanitizers.
TEST(ParserTest, RobustnessLoop) {
  Message sample;
  sample.subject = "Grüße";
  sample.from = {{"Jörg", "j@example.com"}};
  sample.body.type = "multipart";
  sample.body.subtype = "mixed";
  Part text;
  text.body = MakeStringBlob("Hällo\r\n=line\r\n");
  sample.body.parts.push_back(text);
  Part att;
  att.type = "application";
  att.subtype = "pdf";
  att.filename = "Übersicht März with a rather long name that needs continuations.pdf";
  att.body = MakeStringBlob(std::string(200, '\xab'));
  sample.body.parts.push_back(att);
  std::vector<std::string> seeds = {kMixed, RenderToString(sample, {})};
  RenderOptions prefix;
  prefix.boundary_style = BoundaryStyle::kPrefix;
  prefix.boundary_prefix = "=_f";
  const char* tokens[] = {"\r\n",
                          "\n",
                          "--",
                          "=",
                          "?=",
                          "=?utf-8?b?",
                          "\"",
                          ";",
                          "*0*=",
                          "boundary=",
                          "Content-Type: multipart/mixed; boundary=XYZ\r\n\r\n",
                          "--XYZ\r\n",
                          "message/rfc822",
                          "%",
                          "\\",
                          "\0",
                          "\xff",
                          "\xc3"};
  std::uint32_t x = 12345;
  auto next = [&x]() {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
  };
  for (int round = 0; round < 3000; ++round) {
    std::string s = seeds[round % seeds.size()];
    int edits = 1 + next() % 8;
    for (int e = 0; e < edits && !s.empty(); ++e) {
      std::size_t pos = next() % s.size();
      switch (next() % 5) {
        case 0:
          s[pos] = static_cast<char>(next());
          break;
        case 1:
          s.erase(pos, next() % 16);
          break;
        case 2: {
          const char* t = tokens[next() % std::size(tokens)];
          s.insert(pos, t[0] == '\0' ? std::string(1, '\0') : std::string(t));
          break;
        }
        case 3:
          s.resize(pos);
          break;
        default:
          s.insert(pos, s.substr(next() % s.size(), next() % 64));
          break;
      }
    }
    Message m = Parse(s);
    std::string canonical = RenderToString(m, {});
    EXPECT_EQ(Render(m, prefix)->Size(), RenderToString(m, prefix).size());
    Parse(canonical);
  }
}

}  // namespace
}  // namespace mailfs::mime
