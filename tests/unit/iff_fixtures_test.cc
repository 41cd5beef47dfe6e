// Opens every sample extract of ../shared/fixtures/iff and checks what its
// expected.json says against the rendered messages, decoded again: exactly
// the expected folders, order, subject, addresses, dates,
// priority/unread/unsent, body text and attachments (name, size, sha256,
// media type), PAB records in pab.csv; and the side files: DIRECTORY objects
// in Directory.csv and Directory.vcf at the root, PAB vCards in the
// mailbox's "Personal Address Book.vcf", nothing else.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "backends/blob.h"
#include "backends/iff/address.h"
#include "backends/iff/csv.h"
#include "backends/iff/iff_backend.h"
#include "backends/mime/header_decode.h"
#include "backends/sha256.h"
#include "tests/support/transfer_decode.h"

namespace mailfs::iff {
namespace {

using ::mailfs::testing::DecodeBase64;
using ::mailfs::testing::DecodeQp;

// ---- a minimal JSON reader (objects, arrays, strings, numbers, literals) ----

struct Json;
using JsonObject = std::map<std::string, Json>;
using JsonArray = std::vector<Json>;
struct Json {
  std::variant<std::nullptr_t, bool, double, std::string, JsonArray, JsonObject> v;
  bool IsNull() const { return std::holds_alternative<std::nullptr_t>(v); }
  const std::string& Str() const { return std::get<std::string>(v); }
  double Num() const { return std::get<double>(v); }
  bool Bool() const { return std::get<bool>(v); }
  const JsonArray& Arr() const { return std::get<JsonArray>(v); }
  const JsonObject& Obj() const { return std::get<JsonObject>(v); }
  const Json& operator[](const std::string& k) const { return Obj().at(k); }
};

class JsonReader {
 public:
  explicit JsonReader(std::string text) : s_(std::move(text)) {}
  Json Parse() {
    Json j = Value();
    Ws();
    EXPECT_EQ(p_, s_.size());
    return j;
  }

 private:
  void Ws() {
    while (p_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[p_]))) {
      ++p_;
    }
  }
  static void PutUtf8(unsigned cp, std::string& out) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 63));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 63));
      out += static_cast<char>(0x80 | (cp & 63));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 63));
      out += static_cast<char>(0x80 | ((cp >> 6) & 63));
      out += static_cast<char>(0x80 | (cp & 63));
    }
  }
  unsigned Hex4() {
    unsigned v = std::stoul(s_.substr(p_, 4), nullptr, 16);
    p_ += 4;
    return v;
  }
  std::string String() {
    std::string out;
    ++p_;  // opening quote
    while (s_[p_] != '"') {
      char c = s_[p_++];
      if (c != '\\') {
        out += c;
        continue;
      }
      char e = s_[p_++];
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          unsigned cp = Hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && s_[p_] == '\\') {
            p_ += 2;
            unsigned lo = Hex4();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          PutUtf8(cp, out);
          break;
        }
        default:
          out += e;
      }
    }
    ++p_;
    return out;
  }
  Json Value() {
    Ws();
    char c = s_[p_];
    if (c == '{') {
      ++p_;
      JsonObject o;
      Ws();
      if (s_[p_] == '}') {
        ++p_;
        return Json{o};
      }
      for (;;) {
        Ws();
        std::string k = String();
        Ws();
        ++p_;  // ':'
        o.emplace(k, Value());
        Ws();
        if (s_[p_++] == '}') {
          return Json{o};
        }
      }
    }
    if (c == '[') {
      ++p_;
      JsonArray a;
      Ws();
      if (s_[p_] == ']') {
        ++p_;
        return Json{a};
      }
      for (;;) {
        a.push_back(Value());
        Ws();
        if (s_[p_++] == ']') {
          return Json{a};
        }
      }
    }
    if (c == '"') {
      return Json{String()};
    }
    if (s_.compare(p_, 4, "null") == 0) {
      p_ += 4;
      return Json{nullptr};
    }
    if (s_.compare(p_, 4, "true") == 0) {
      p_ += 4;
      return Json{true};
    }
    if (s_.compare(p_, 5, "false") == 0) {
      p_ += 5;
      return Json{false};
    }
    std::size_t used = 0;
    double d = std::stod(s_.substr(p_), &used);
    p_ += used;
    return Json{d};
  }

  std::string s_;
  std::size_t p_ = 0;
};

// ---- a minimal MIME decoder for what the renderer writes ----

struct Entity {
  std::string headers;  // the header block
  std::string body;     // raw body
};

Entity Split(std::string_view bytes) {
  std::size_t end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    return Entity{std::string(bytes), ""};
  }
  return Entity{std::string(bytes.substr(0, end + 2)), std::string(bytes.substr(end + 4))};
}

std::string Header(const Entity& e, std::string_view name) {
  return mime::FirstHeader(e.headers, name).value_or("");
}

// Value of parameter |name| in a Content-Type / Content-Disposition value
// (plain or quoted form; RFC 2231 continuations are not needed here).
std::string Param(std::string_view value, std::string_view name) {
  std::string lower = AsciiLower(value);
  std::string key = AsciiLower(name) + "=";
  std::size_t at = 0;
  while ((at = lower.find(key, at)) != std::string::npos) {
    if (at > 0 && (lower[at - 1] == ';' || lower[at - 1] == ' ')) {
      break;
    }
    ++at;
  }
  if (at == std::string::npos) {
    return "";
  }
  std::string_view rest = value.substr(at + key.size());
  if (!rest.empty() && rest[0] == '"') {
    std::string out;
    for (std::size_t i = 1; i < rest.size() && rest[i] != '"'; ++i) {
      if (rest[i] == '\\') {
        ++i;
      }
      out += rest[i];
    }
    return out;
  }
  return std::string(rest.substr(0, rest.find(';')));
}



std::string DecodedBody(const Entity& e) {
  std::string cte = AsciiLower(Header(e, "Content-Transfer-Encoding"));
  if (cte == "base64") {
    return DecodeBase64(e.body);
  }
  if (cte == "quoted-printable") {
    return DecodeQp(e.body);
  }
  return e.body;
}

// The children of a multipart entity.
std::vector<Entity> Children(const Entity& e) {
  std::string boundary = Param(Header(e, "Content-Type"), "boundary");
  EXPECT_FALSE(boundary.empty());
  std::vector<Entity> out;
  std::string delim = "--" + boundary;
  std::string_view body = e.body;
  EXPECT_EQ(body.substr(0, delim.size() + 2), delim + "\r\n");
  std::size_t pos = delim.size() + 2;
  for (;;) {
    std::size_t next = body.find("\r\n" + delim, pos);
    if (next == std::string_view::npos) {
      ADD_FAILURE() << "unterminated multipart";
      break;
    }
    out.push_back(Split(body.substr(pos, next - pos)));
    pos = next + 2 + delim.size();
    if (body.substr(pos, 2) == "--") {
      break;
    }
    pos += 2;
  }
  return out;
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "YYYY-MM-DDThh:mm:ss" of seconds since the epoch (UTC).
std::string IsoOf(std::int64_t t) {
  std::int64_t days = t / 86400;
  std::int64_t secs = t % 86400;
  // civil from days (H. Hinnant)
  days += 719468;
  std::int64_t era = days / 146097;
  std::int64_t doe = days - era * 146097;
  std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = yoe + era * 400;
  std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  std::int64_t mp = (5 * doy + 2) / 153;
  std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[128];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60));
  return buf;
}

// Walks the folder tree: "path/below/root" -> FolderId.
void Walk(Backend& b,
          const FolderId& id,
          const std::string& prefix,
          std::map<std::string, FolderId>* out) {
  for (const FolderInfo& f : b.ListFolders(id)) {
    std::string path = prefix.empty() ? f.name : prefix + "/" + f.name;
    (*out)[path] = f.id;
    Walk(b, f.id, path, out);
  }
}

void ExpectAddress(const Json& want, const mime::Mailbox& got, const std::string& where) {
  SCOPED_TRACE(where + ": " + want["raw"].Str());
  EXPECT_EQ(got.name, want["name"].Str());
  if (want["type"].IsNull()) {
    EXPECT_EQ(got.address, "IMCEAEX-" + ImceaEncode(want["name"].Str()) + "@iff.invalid");
  } else if (EqualsIgnoreCase(want["type"].Str(), "SMTP")) {
    EXPECT_EQ(got.address, want["address"].Str());
  } else {
    EXPECT_EQ(got.address, "IMCEA" + ImceaEncode(want["type"].Str()) + "-" +
                               ImceaEncode(want["address"].Str()) + "@iff.invalid");
  }
}

void ExpectAddressList(const Json& want, const Entity& e, const char* header) {
  std::vector<mime::Mailbox> got = mime::ParseAddressList(Header(e, header));
  ASSERT_EQ(got.size(), want.Arr().size()) << header;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ExpectAddress(want.Arr()[i], got[i], header);
  }
}

std::string DateIso(const std::string& header_value) {
  std::optional<mime::DateTime> d = mime::ParseDate(header_value);
  EXPECT_TRUE(d.has_value()) << header_value;
  if (!d) {
    return "";
  }
  EXPECT_TRUE(d->zone_unknown) << header_value;
  return IsoOf(d->utc_seconds);
}

// Splits CSV text (CR LF lines) with the IFF tokenizer.
std::vector<std::vector<Field>> CsvRows(const std::string& text) {
  std::vector<std::vector<Field>> rows;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find("\r\n", pos);
    EXPECT_NE(eol, std::string::npos);
    std::vector<Field> fields;
    EXPECT_TRUE(Tokenize(std::string_view(text).substr(pos, eol - pos), &fields));
    rows.push_back(fields);
    pos = eol + 2;
  }
  return rows;
}

class IffFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(IffFixtureTest, MatchesExpectedJson) {
  std::filesystem::path dir =
      std::filesystem::path(MAILFS_SHARED_DIR) / "fixtures/iff" / GetParam();
  if (!std::filesystem::exists(dir / "expected.json")) {
    GTEST_SKIP() << "no shared fixtures at " << dir;
  }
  Json expected = JsonReader(ReadFile(dir / "expected.json")).Parse();
  std::unique_ptr<Backend> backend = OpenIffExtract(dir.string(), IffOptions{});
  std::map<std::string, FolderId> folders;
  Walk(*backend, backend->Root(), "", &folders);

  // Exactly the expected folders (and their parents); only the expected
  // ones hold messages.
  std::set<std::string> with_messages;
  for (const auto& [path, id] : folders) {
    if (!backend->ListMessages(id).empty()) {
      with_messages.insert(path);
    }
  }
  std::set<std::string> want_folders;
  std::set<std::string> want_all;
  for (const auto& [path, msgs] : expected["folders"].Obj()) {
    want_folders.insert(path);
    for (std::size_t slash = 0; (slash = path.find('/', slash)) != std::string::npos; ++slash) {
      want_all.insert(path.substr(0, slash));
    }
    want_all.insert(path);
  }
  EXPECT_EQ(with_messages, want_folders);
  std::set<std::string> all;
  for (const auto& [path, id] : folders) {
    all.insert(path);
  }
  EXPECT_EQ(all, want_all);

  for (const auto& [path, msgs] : expected["folders"].Obj()) {
    SCOPED_TRACE(path);
    ASSERT_TRUE(folders.count(path));
    std::vector<MessageInfo> infos = backend->ListMessages(folders[path]);
    ASSERT_EQ(infos.size(), msgs.Arr().size());
    for (std::size_t i = 0; i < infos.size(); ++i) {
      const Json& want = msgs.Arr()[i];
      const MessageInfo& info = infos[i];
      SCOPED_TRACE(want["subject"].Str());
      ASSERT_FALSE(info.unreadable) << info.error;
      BlobPtr blob = backend->Fetch(folders[path], info.key);
      std::string bytes = ReadAll(*blob);
      ASSERT_TRUE(info.size.has_value());
      EXPECT_EQ(*info.size, bytes.size());
      EXPECT_EQ(bytes.substr(0, info.headers.size()), info.headers);
      EXPECT_EQ(bytes.substr(info.headers.size(), 2), "\r\n");
      EXPECT_EQ(info.key.value.rfind("iff:", 0), 0u);

      Entity message = Split(bytes);
      EXPECT_EQ(mime::DecodeWords(Header(message, "Subject")), want["subject"].Str());
      std::vector<mime::Mailbox> from = mime::ParseAddressList(Header(message, "From"));
      ASSERT_EQ(from.size(), 1u);
      ExpectAddress(want["from"], from[0], "From");
      bool synthetic_pab = want.Obj().count("synthetic") && want["synthetic"].Str() == "PAB";
      if (synthetic_pab) {
        // iff-format.md §4.3: the synthetic message is From and To the
        // section's address (expected.json lists no To for it).
        std::vector<mime::Mailbox> to = mime::ParseAddressList(Header(message, "To"));
        ASSERT_EQ(to.size(), 1u);
        EXPECT_EQ(to[0], from[0]);
      } else {
        ExpectAddressList(want["to"], message, "To");
      }
      ExpectAddressList(want["cc"], message, "Cc");
      ExpectAddressList(want["bcc"], message, "Bcc");

      const Json& send = want["send_date"];
      const Json& received = want["received_date"];
      std::string date = Header(message, "Date");
      if (!send.IsNull()) {
        EXPECT_EQ(DateIso(date), send.Str());
      } else if (!received.IsNull()) {
        EXPECT_EQ(DateIso(date), received.Str());
      } else {
        EXPECT_EQ(date, "");
        EXPECT_EQ(Header(message, "X-IFF-Date-Missing"), "yes");
      }
      if (!received.IsNull()) {
        EXPECT_EQ(DateIso(Header(message, "X-IFF-Received-Date")), received.Str());
        EXPECT_EQ(IsoOf(info.internal_date), received.Str());
      } else if (!send.IsNull()) {
        EXPECT_EQ(IsoOf(info.internal_date), send.Str());
      } else {
        EXPECT_EQ(info.internal_date, 0);
      }

      int priority = static_cast<int>(want["priority"].Num());
      EXPECT_EQ(Header(message, "X-Priority"), priority == 1    ? "1 (Highest)"
                                               : priority == -1 ? "5 (Lowest)"
                                                                : "");
      bool seen = std::find(info.flags.begin(), info.flags.end(), "\\Seen") != info.flags.end();
      EXPECT_EQ(seen, !want["unread"].Bool());
      EXPECT_EQ(Header(message, "X-Unsent"), want["unsent"].Bool() ? "1" : "");
      EXPECT_FALSE(Header(message, "Message-ID").empty());
      EXPECT_EQ(Header(message, "MIME-Version"), "1.0");

      // Body and attachments.
      std::string text;
      std::vector<Entity> attachments;
      if (AsciiLower(Header(message, "Content-Type")).rfind("multipart/mixed", 0) == 0) {
        std::vector<Entity> parts = Children(message);
        ASSERT_FALSE(parts.empty());
        text = DecodedBody(parts[0]);
        attachments.assign(parts.begin() + 1, parts.end());
      } else {
        text = DecodedBody(message);
      }
      EXPECT_EQ(text, want["body_text"].Str());
      EXPECT_EQ(Sha256Hex(text), want["body_utf8_sha256"].Str());

      std::map<std::string, std::string> by_name;
      std::map<std::string, Entity> part_of;
      for (const Entity& part : attachments) {
        std::string name = Param(Header(part, "Content-Disposition"), "filename");
        by_name[name] = DecodedBody(part);
        part_of[name] = part;
      }
      bool pab = want.Obj().count("synthetic") && want["synthetic"].Str() == "PAB";
      EXPECT_EQ(by_name.size(), want["attachments"].Arr().size());
      for (const auto& [name, part] : part_of) {
        SCOPED_TRACE(name);
        std::string type = Header(part, "Content-Type");
        if (pab) {
          // Generated UTF-8 text (§4.3).
          EXPECT_EQ(type, "text/csv; charset=utf-8");
          continue;
        }
        // §7.3: the type of the extension, base64, the stored bytes: text
        // types too, without a charset (nothing is transcoded).
        EXPECT_EQ(AsciiLower(Header(part, "Content-Transfer-Encoding")), "base64");
        EXPECT_EQ(Param(type, "charset"), "");
        std::string ext = AsciiLower(name.substr(name.rfind('.') + 1));
        if (ext == "txt") {
          EXPECT_EQ(type, "text/plain");
        } else if (ext == "png") {
          EXPECT_EQ(type, "image/png");
        }
      }
      for (const Json& a : want["attachments"].Arr()) {
        SCOPED_TRACE(a["name"].Str());
        ASSERT_TRUE(by_name.count(a["name"].Str()));
        const std::string& data = by_name[a["name"].Str()];
        EXPECT_EQ(data.size(), static_cast<std::size_t>(a["size"].Num()));
        EXPECT_EQ(Sha256Hex(data), a["sha256"].Str());
      }
      if (pab) {
        // pab.csv, the only attachment, holds the records.
        ASSERT_TRUE(by_name.count("pab.csv"));
        std::vector<std::vector<Field>> rows = CsvRows(by_name["pab.csv"]);
        const JsonArray& records = expected["pab"].Arr();
        ASSERT_EQ(rows.size(), records.size() + 1);
        for (std::size_t r = 0; r < records.size(); ++r) {
          for (std::size_t c = 0; c < rows[0].size(); ++c) {
            const std::string& column = rows[0][c].value;
            EXPECT_EQ(rows[r + 1][c].value, records[r][column].Str()) << column;
          }
          std::vector<std::string> values = SplitMultiValue(records[r]["Email-Address"].Str());
          const JsonArray& want_values = records[r]["Email-Address-Values"].Arr();
          ASSERT_EQ(values.size(), want_values.size());
          for (std::size_t k = 0; k < values.size(); ++k) {
            EXPECT_EQ(values[k], want_values[k].Str());
          }
        }
      }
    }
  }

  // Side files: at the root for DIRECTORY data, in a mailbox folder for its
  // PAB sections, nowhere else.
  std::map<std::string, std::string> side;  // "folder/name" -> content
  auto collect = [&](const std::string& path, const FolderId& id) {
    for (const SideFile& f : backend->ListSideFiles(id)) {
      EXPECT_EQ(f.mtime, 0);
      side[path.empty() ? f.name : path + "/" + f.name] = ReadAll(*f.content);
    }
  };
  collect("", backend->Root());
  for (const auto& [path, id] : folders) {
    collect(path, id);
  }
  std::set<std::string> want_side;
  const JsonArray& objects = expected["directory"].Arr();
  if (!objects.empty()) {
    want_side.insert("Directory.csv");
    want_side.insert("Directory.vcf");
  }
  const JsonArray& records = expected["pab"].Arr();
  for (const auto& [path, msgs] : expected["folders"].Obj()) {
    for (const Json& m : msgs.Arr()) {
      if (m.Obj().count("synthetic") && m["synthetic"].Str() == "PAB") {
        want_side.insert(path.substr(0, path.find('/')) + "/Personal Address Book.vcf");
      }
    }
  }
  std::set<std::string> got_side;
  for (const auto& [name, content] : side) {
    got_side.insert(name);
  }
  EXPECT_EQ(got_side, want_side);

  if (!objects.empty()) {
    // Directory.csv: the column line and one row per object, escapes undone.
    std::vector<std::vector<Field>> rows = CsvRows(side["Directory.csv"]);
    ASSERT_EQ(rows.size(), objects.size() + 1);
    for (std::size_t r = 0; r < objects.size(); ++r) {
      for (const auto& [column, value] : objects[r].Obj()) {
        std::size_t c = 0;
        while (c < rows[0].size() && rows[0][c].value != column) {
          ++c;
        }
        ASSERT_LT(c, rows[0].size()) << column;
        EXPECT_EQ(rows[r + 1][c].value, value.Str()) << column;
      }
    }
    // Directory.vcf: one card per object.
    const std::string& vcf = side["Directory.vcf"];
    std::size_t cards = 0;
    for (std::size_t at = 0; (at = vcf.find("BEGIN:VCARD\r\n", at)) != std::string::npos; ++at) {
      ++cards;
    }
    EXPECT_EQ(cards, objects.size());
    for (const Json& o : objects) {
      EXPECT_NE(vcf.find("X-IFF-COMMON-NAME:" + o["Common-Name"].Str() + "\r\n"),
                std::string::npos);
    }
    EXPECT_NE(vcf.find("FN:Rossi\\, Gina\r\n"), std::string::npos);
    EXPECT_NE(vcf.find("EMAIL:gina@example.com\r\n"), std::string::npos);
    EXPECT_NE(vcf.find("ORG:;R\\\\D\r\n"), std::string::npos);
  }
  for (const std::string& name : want_side) {
    if (name.find("/Personal Address Book.vcf") == std::string::npos) {
      continue;
    }
    // One card per PAB record; the dl is a group whose members resolve.
    const std::string& vcf = side[name];
    std::size_t cards = 0;
    std::size_t groups = 0;
    for (std::size_t at = 0; (at = vcf.find("BEGIN:VCARD\r\n", at)) != std::string::npos; ++at) {
      ++cards;
    }
    for (std::size_t at = 0; (at = vcf.find("KIND:group\r\n", at)) != std::string::npos; ++at) {
      ++groups;
    }
    std::size_t dls = 0;
    for (const Json& r : records) {
      dls += r["Obj-class"].Str() == "dl" ? 1 : 0;
    }
    EXPECT_EQ(cards, records.size());
    EXPECT_EQ(groups, dls);
    EXPECT_NE(vcf.find("VERSION:4.0\r\n"), std::string::npos);
    EXPECT_NE(vcf.find("EMAIL:patp@example.com\r\n"), std::string::npos);
    EXPECT_NE(vcf.find("ORG:Litware\\, Inc.;\r\n"), std::string::npos);
    EXPECT_NE(vcf.find("MEMBER:urn:uuid:"), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures,
                         IffFixtureTest,
                         ::testing::Values("a-single-mailbox",
                                           "b-two-mailboxes",
                                           "c-directory-pab"));

TEST(IffFixtureTest, StableBytesAndSizesAcrossOpens) {
  std::filesystem::path dir =
      std::filesystem::path(MAILFS_SHARED_DIR) / "fixtures/iff/b-two-mailboxes";
  if (!std::filesystem::exists(dir)) {
    GTEST_SKIP() << "no shared fixtures";
  }
  auto a = OpenIffExtract(dir.string(), IffOptions{});
  auto b = OpenIffExtract((dir / "SITE.PKL").string(), IffOptions{});
  std::map<std::string, FolderId> fa, fb;
  Walk(*a, a->Root(), "", &fa);
  Walk(*b, b->Root(), "", &fb);
  ASSERT_EQ(fa.size(), fb.size());
  for (const auto& [path, id] : fa) {
    auto la = a->ListMessages(id);
    auto lb = b->ListMessages(fb[path]);
    ASSERT_EQ(la.size(), lb.size());
    for (std::size_t i = 0; i < la.size(); ++i) {
      EXPECT_EQ(la[i].key, lb[i].key);
      EXPECT_EQ(ReadAll(*a->Fetch(id, la[i].key)), ReadAll(*b->Fetch(fb[path], lb[i].key)));
    }
  }
}

}  // namespace
}  // namespace mailfs::iff
