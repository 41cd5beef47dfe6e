// The packed form of the original message bytes kept in PST messages.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "backends/error.h"
#include "backends/mime/header_decode.h"
#include "backends/mime/renderer.h"
#include "backends/pst/mailfs_props.h"

namespace mailfs::pst {
namespace {

TEST(OriginalMime, PackedBytesComeBackExactly) {
  std::string msg = "From: a@example.com\r\nSubject: x\r\n\r\n";
  for (int i = 0; i < 500; ++i) msg += "a line of text that repeats, number " + std::to_string(i) + "\r\n";
  std::string packed = PackOriginalMime(msg);
  EXPECT_EQ(packed.substr(0, 4), std::string("\0MZ1", 4));
  EXPECT_LT(packed.size(), msg.size() / 3);
  EXPECT_EQ(UnpackOriginalMime(packed), msg);
  EXPECT_EQ(UnpackOriginalMime(PackOriginalMime("")), "");
}

TEST(OriginalMime, UnpackedValuesAreTakenAsTheyAre) {
  EXPECT_EQ(UnpackOriginalMime("From: a@b\r\n\r\nx"), "From: a@b\r\n\r\nx");
}

TEST(OriginalMime, DamageIsReportedNotHidden) {
  std::string packed = PackOriginalMime(std::string(10000, 'x') + "end");
  std::string bad = packed;
  bad[bad.size() / 2] ^= 0x55;
  EXPECT_THROW(UnpackOriginalMime(bad), Error);
  EXPECT_THROW(UnpackOriginalMime(packed.substr(0, packed.size() - 3)), Error);
  EXPECT_THROW(UnpackOriginalMime(packed.substr(0, 7)), Error);
  std::string wrong_size = packed;
  wrong_size[4] ^= 1;
  EXPECT_THROW(UnpackOriginalMime(wrong_size), Error);
}

std::string RandomBytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xFF);
  return out;
}

// A message carrying |a| and |b| as base64 attachments (76-column CRLF
// lines, the usual layout) and |c| as 64-column LF lines without a last
// line end.
std::string WithAttachments(const std::string& a, const std::string& b, const std::string& c) {
  std::string m = "From: a@example.com\r\nSubject: files\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n";
  m += "--x\r\nContent-Type: text/plain\r\n\r\nSee the files.\r\nAbc\r\n\r\n";
  m += "--x\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  m += Base64Lines(a, 76, "\r\n", true);
  m += "\r\n--x\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  m += Base64Lines(b, 76, "\r\n", true);
  m += "--x--\r\n\n";
  m += Base64Lines(c, 64, "\n", false);
  return m;
}

TEST(OriginalMime, AttachmentsAreReferencedNotCopied) {
  std::string a = RandomBytes(100000, 1), b = RandomBytes(5001, 2), c = RandomBytes(3002, 3);
  std::string msg = WithAttachments(a, b, c);
  std::vector<std::string_view> parts = {b, "tiny", a, c};
  std::vector<StoredPart> stored = {{0, b}, {1, "tiny"}, {2, a}, {3, c}};
  std::string packed = PackOriginalMime(msg, stored);
  EXPECT_EQ(packed.substr(0, 4), std::string("\0MZ2", 4));
  EXPECT_LT(packed.size(), 1000u);  // random bytes do not compress: the attachments are not in it
  PackedMime p(packed);
  EXPECT_EQ(p.size(), msg.size());
  EXPECT_EQ(p.references(), (std::vector<std::uint32_t>{2, 0, 3}));
  EXPECT_EQ(mime::HeaderBlock(std::string(p.Head())), mime::HeaderBlock(msg));
  auto part = [&](std::uint32_t n) { return std::string(parts.at(n)); };
  EXPECT_EQ(p.Expand(part), msg);
  auto view = [&](std::uint32_t n) { return parts.at(n); };
  EXPECT_TRUE(p.Matches(msg, view));
  std::string changed = msg;
  changed[msg.size() / 2] ^= 1;
  EXPECT_FALSE(p.Matches(changed, view));
  EXPECT_FALSE(p.Matches(msg.substr(1), view));
  // Without the attachments the bytes cannot be had: an error, not a guess.
  EXPECT_THROW(UnpackOriginalMime(packed), Error);
  EXPECT_THROW(p.Expand([&](std::uint32_t n) { return n == 2 ? a.substr(1) : part(n); }), Error);
  std::string other = a;
  other[500] ^= 1;
  EXPECT_THROW(p.Expand([&](std::uint32_t n) { return n == 2 ? other : part(n); }), Error);
}

TEST(OriginalMime, SectionsThatDoNotEncodeTheSameStayLiteral) {
  std::string a = RandomBytes(3000, 4);
  std::string body = Base64Lines(a, 76, "\r\n", true);
  std::string head = "Subject: x\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  std::vector<StoredPart> parts = {{0, a}};
  // Lines of uneven width, a line end of the other kind, padding inside:
  // none is what encoding the part gives, so the bytes are kept as they are.
  std::string uneven = head + body.substr(0, 78) + body.substr(80);
  std::string mixed = head + body;
  mixed.replace(mixed.find("\r\n", head.size()), 2, "\n");
  std::string lowercase = head + body;
  lowercase[head.size() + 10] = static_cast<char>(lowercase[head.size() + 10] ^ 0x20);
  for (const std::string& msg : {uneven, mixed, lowercase}) {
    std::string packed = PackOriginalMime(msg, parts);
    EXPECT_EQ(packed.substr(0, 4), std::string("\0MZ1", 4));
    EXPECT_EQ(UnpackOriginalMime(packed), msg);
  }
  // The same bytes as one unwrapped line are found too.
  std::string one_line = head + Base64Lines(a, 0, "\r\n", true);
  std::string packed = PackOriginalMime(one_line, parts);
  EXPECT_EQ(packed.substr(0, 4), std::string("\0MZ2", 4));
  EXPECT_EQ(PackedMime(packed).Expand([&](std::uint32_t) { return a; }), one_line);
}

TEST(OriginalMime, DamagedSkeletonsAreReported) {
  std::string a = RandomBytes(20000, 5), b = RandomBytes(700, 6), c = RandomBytes(90, 7);
  std::string msg = WithAttachments(a, b, c);
  std::vector<std::string_view> parts = {a, b, c};
  std::vector<StoredPart> stored = {{0, a}, {1, b}, {2, c}};
  std::string packed = PackOriginalMime(msg, stored);
  ASSERT_EQ(packed.substr(0, 4), std::string("\0MZ2", 4));
  auto part = [&](std::uint32_t n) { return std::string(parts.at(n)); };
  std::mt19937 rng(11);
  for (int i = 0; i < 300; ++i) {
    std::string bad = packed;
    std::size_t at = 1 + rng() % (bad.size() - 1);  // a first byte other than NUL means plain bytes
    bad[at] = static_cast<char>(bad[at] ^ (1 << (rng() % 8)));
    try {
      // Either refused, or (a flip in zlib's slack) exactly the bytes.
      EXPECT_EQ(PackedMime(bad).Expand(part), msg) << "flip at " << at;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kCorrupt);
    }
  }
  for (std::size_t cut = 1; cut < packed.size(); cut += 7) {
    EXPECT_THROW(PackedMime(packed.substr(0, cut)).Expand(part), Error) << "cut at " << cut;
  }
}

// Bodies: a text part kept as it is (7bit), with LF line ends, or as
// quoted-printable, and a base64 text part, are referenced too; a body
// written some other way stays in the copy.
TEST(OriginalMime, BodiesAreReferenced) {
  std::string plain, html = "<html><body>";
  for (int i = 0; i < 60; ++i) {
    plain += "Line " + std::to_string(i) + " of the body, caf\xC3\xA9 na\xC3\xAFve =\r\n";
    html += "<p>Paragraph " + std::to_string(i) + " \xE2\x82\xAC</p>\r\n";
  }
  html += "</body></html>";
  std::string ascii = "Plain ASCII text that goes on for a while.\r\nSecond line of it, also long enough.\r\n";
  auto message = [&](const std::string& body1, const std::string& body2) {
    return "Subject: b\r\nContent-Type: multipart/alternative; boundary=q\r\n\r\n--q\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body1 +
           "\r\n--q\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + body2 + "\r\n--q--\r\n";
  };
  std::vector<StoredPart> parts = {{0xFFFFFF00, plain, true}, {0xFFFFFF01, html, true}, {7, ascii, true}};
  auto part = [&](std::uint32_t n) {
    for (const StoredPart& p : parts) {
      if (p.number == n) return std::string(p.bytes);
    }
    throw Error(Errc::kCorrupt, "no part");
  };
  std::string lf_ascii = "Subject: a\n\n" + ascii;
  for (std::size_t at; (at = lf_ascii.find("\r\n")) != std::string::npos;) lf_ascii.erase(at, 1);
  const std::string cases[] = {
      message(mime::EncodeQuotedPrintable(plain), Base64Lines(html, 76, "\r\n", false)),
      message(plain, mime::EncodeQuotedPrintable(html)),
      lf_ascii,
      "Subject: a\r\n\r\n" + ascii,
  };
  for (const std::string& msg : cases) {
    std::string packed = PackOriginalMime(msg, parts);
    EXPECT_EQ(packed.substr(0, 4), std::string("\0MZ2", 4)) << msg;
    EXPECT_LT(packed.size(), 200u) << msg;
    EXPECT_EQ(PackedMime(packed).Expand(part), msg);
  }
  // A body encoded otherwise (here quoted-printable with other soft breaks)
  // is kept in the copy.
  std::string other = mime::EncodeQuotedPrintable(plain);
  other.insert(10, "=\r\n");
  std::string msg = message(other, "x");
  std::string packed = PackOriginalMime(msg, parts);
  EXPECT_EQ(packed.substr(0, 4), std::string("\0MZ1", 4));
  EXPECT_EQ(UnpackOriginalMime(packed), msg);
}

TEST(OriginalMime, Base64LinesLayouts) {
  EXPECT_EQ(Base64Lines("", 76, "\r\n", true), "");
  EXPECT_EQ(Base64Lines("f", 76, "\n", true), "Zg==\n");
  EXPECT_EQ(Base64Lines("foobar", 4, "\r\n", true), "Zm9v\r\nYmFy\r\n");
  EXPECT_EQ(Base64Lines("foobar", 4, "\r\n", false), "Zm9v\r\nYmFy");
  EXPECT_EQ(Base64Lines("fooba", 0, "\n", false), "Zm9vYmE=");
}

}  // namespace
}  // namespace mailfs::pst
