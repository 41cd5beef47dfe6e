// The .eml parser. Multipart bodies are split here, one level at a time and
// at most 32 levels deep (kMaxDepth), rather than by libetpan's mailmime_parse(): that one
// recurses without a limit and overflows the stack on hostile input (a
// 100,000-deep multipart of ~6 MiB crashes it). libetpan's mailmime does
// the transfer decoding (mailmime_part_parse: base64, quoted-printable);
// header fields go through header_decode.h and charsets through charset.h.
//
// Leniency: bare LF is accepted wherever CRLF is; a missing final boundary
// keeps the parts that were there; a multipart without a usable boundary, a
// part nested deeper than kMaxDepth, or a body that cannot be transfer-decoded
// is kept as application/octet-stream with its raw bytes.
#include "backends/mime/parser.h"

#include <libetpan/libetpan.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "backends/mime/charset.h"
#include "backends/mime/header_decode.h"
#include "backends/mime/renderer.h"

namespace mailfs::mime {
namespace {

constexpr int kMaxDepth = 32;

char Lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), Lower);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return Lower(x) == Lower(y); });
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && IsSpace(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// Position just after the line that starts at |pos| (after its LF), or the
// end of |s|.
std::size_t NextLine(std::string_view s, std::size_t pos) {
  std::size_t lf = s.find('\n', pos);
  return lf == std::string_view::npos ? s.size() : lf + 1;
}

// True if the line [begin, end) looks like a header field or a continuation.
bool IsFieldLine(std::string_view line) {
  if (line.empty()) {
    return false;
  }
  if (line[0] == ' ' || line[0] == '\t') {
    return true;
  }
  for (char c : line) {
    if (c == ':') {
      return true;
    }
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) {
      return false;
    }
  }
  return false;
}

struct Entity {
  std::string_view header;  // field lines, each with its line end
  std::string_view body;
};

// Splits at the first empty line; a line that is not a header field also ends
// the header (it then belongs to the body). An mbox "From " line at the very
// start is skipped.
Entity SplitEntity(std::string_view bytes) {
  std::size_t pos = 0;
  if (bytes.substr(0, 5) == "From ") {
    pos = NextLine(bytes, 0);
  }
  std::size_t header_start = pos;
  while (pos < bytes.size()) {
    std::size_t next = NextLine(bytes, pos);
    std::string_view line = bytes.substr(pos, next - pos);
    std::string_view content = line;
    if (!content.empty() && content.back() == '\n') {
      content.remove_suffix(1);
    }
    if (!content.empty() && content.back() == '\r') {
      content.remove_suffix(1);
    }
    if (content.empty()) {
      return {bytes.substr(header_start, pos - header_start), bytes.substr(next)};
    }
    if (!IsFieldLine(content) ||
        (pos == header_start && (content[0] == ' ' || content[0] == '\t'))) {
      return {bytes.substr(header_start, pos - header_start), bytes.substr(pos)};
    }
    pos = next;
  }
  return {bytes.substr(header_start), std::string_view()};
}

// One raw parameter before RFC 2231 reassembly.
struct RawParam {
  std::string name;  // lowercase, may end in "*", "*N" or "*N*"
  std::string value;
  bool quoted = false;
};

// Parses `token/token; a=b; c="d"` (Content-Type) or `token; a=b`
// (Content-Disposition) leniently: comments are skipped, a missing value or a
// stray ";" is ignored, an unquoted value runs to the next ";".
std::vector<RawParam> LexParams(std::string_view value, std::string* head) {
  std::size_t i = 0;
  auto skip_cfws = [&]() {
    for (;;) {
      while (i < value.size() && IsSpace(value[i])) {
        ++i;
      }
      if (i < value.size() && value[i] == '(') {
        int level = 0;
        while (i < value.size()) {
          if (value[i] == '\\') {
            i += 2;
            continue;
          }
          if (value[i] == '(') {
            ++level;
          } else if (value[i] == ')' && --level == 0) {
            ++i;
            break;
          }
          ++i;
        }
        i = std::min(i, value.size());
        continue;
      }
      return;
    }
  };
  skip_cfws();
  std::size_t start = i;
  while (i < value.size() && value[i] != ';' && value[i] != '(') {
    ++i;
  }
  std::string h;
  for (char c : value.substr(start, i - start)) {
    if (!IsSpace(c)) {
      h += Lower(c);
    }
  }
  *head = h;
  std::vector<RawParam> params;
  while (i < value.size()) {
    if (value[i] != ';') {
      // Junk after the head or a value: skip to the next separator.
      std::size_t semi = value.find(';', i);
      if (semi == std::string_view::npos) {
        break;
      }
      i = semi;
    }
    ++i;  // ';'
    skip_cfws();
    std::size_t name_start = i;
    while (i < value.size() && value[i] != '=' && value[i] != ';' && !IsSpace(value[i])) {
      ++i;
    }
    std::string name = ToLower(value.substr(name_start, i - name_start));
    skip_cfws();
    if (i >= value.size() || value[i] != '=') {
      continue;
    }
    ++i;
    skip_cfws();
    RawParam p;
    p.name = std::move(name);
    if (i < value.size() && value[i] == '"') {
      p.quoted = true;
      ++i;
      while (i < value.size() && value[i] != '"') {
        if (value[i] == '\\' && i + 1 < value.size()) {
          ++i;
        }
        p.value += value[i];
        ++i;
      }
      if (i < value.size()) {
        ++i;  // closing quote
      }
      skip_cfws();
    } else {
      std::size_t v = i;
      while (i < value.size() && value[i] != ';') {
        ++i;
      }
      p.value = std::string(Trim(value.substr(v, i - v)));
    }
    if (!p.name.empty()) {
      params.push_back(std::move(p));
    }
  }
  return params;
}


std::string PercentDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexDigitValue(s[i + 1]) >= 0 && HexDigitValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigitValue(s[i + 1]) * 16 + HexDigitValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string ToUtf8(std::string_view charset, std::string_view bytes) {
  if (!charset.empty() && !EqualsIgnoreCase(charset, "us-ascii")) {
    if (auto converted = CharsetToUtf8(charset, bytes)) {
      return *converted;
    }
  }
  return SanitizeUtf8(bytes);
}

// RFC 2231: joins name*0, name*1, ... and decodes name*= / name*0*= values;
// plain values of "name" and "filename" may hold RFC 2047 words, as several
// clients write them. The first occurrence of a name wins.
std::vector<Param> AssembleParams(const std::vector<RawParam>& raw) {
  struct Sections {
    std::map<int, std::pair<std::string, bool>> parts;  // index -> (value, extended)
    std::optional<std::string> plain;
    bool plain_quoted = false;
    std::optional<std::string> extended;  // name*=
  };
  std::vector<std::string> order;
  std::map<std::string, Sections> by_name;
  for (const RawParam& p : raw) {
    std::string base = p.name;
    int index = -1;
    bool extended = false;
    std::size_t star = p.name.find('*');
    if (star != std::string::npos) {
      base = p.name.substr(0, star);
      std::string rest = p.name.substr(star + 1);
      if (!rest.empty() && rest.back() == '*') {
        extended = true;
        rest.pop_back();
      }
      if (rest.empty()) {
        extended = true;  // "name*"
      } else if (rest.size() <= 4 && std::all_of(rest.begin(), rest.end(),
                                                 [](char c) { return c >= '0' && c <= '9'; })) {
        index = std::stoi(rest);
      } else {
        base = p.name;  // not RFC 2231: keep the name as written
        extended = false;
      }
    }
    if (base.empty()) {
      continue;
    }
    if (!by_name.count(base)) {
      order.push_back(base);
    }
    Sections& s = by_name[base];
    if (index >= 0) {
      s.parts.emplace(index, std::make_pair(p.value, extended));
    } else if (extended && base != p.name) {
      if (!s.extended) {
        s.extended = p.value;
      }
    } else if (!s.plain) {
      s.plain = p.value;
      s.plain_quoted = p.quoted;
    }
  }
  std::vector<Param> out;
  for (const std::string& name : order) {
    const Sections& s = by_name[name];
    std::string value;
    auto decode_extended = [](std::string_view text, std::string* charset) {
      // charset'language'encoded
      std::size_t q1 = text.find('\'');
      std::size_t q2 = q1 == std::string_view::npos ? q1 : text.find('\'', q1 + 1);
      if (q2 != std::string_view::npos) {
        *charset = std::string(text.substr(0, q1));
        text = text.substr(q2 + 1);
      }
      return PercentDecode(text);
    };
    if (s.extended || !s.parts.empty()) {
      std::string charset;
      std::string bytes;
      if (s.extended) {
        bytes = decode_extended(*s.extended, &charset);
      } else {
        int expect = 0;
        for (const auto& [index, section] : s.parts) {
          if (index != expect) {
            break;  // a gap ends the value (RFC 2231 §3)
          }
          ++expect;
          if (section.second) {
            bytes += index == 0 ? decode_extended(section.first, &charset)
                                : PercentDecode(section.first);
          } else {
            bytes += section.first;
          }
        }
      }
      value = ToUtf8(charset, bytes);
    } else if (s.plain) {
      if ((name == "name" || name == "filename") && s.plain->find("=?") != std::string::npos) {
        value = DecodeWords(*s.plain);
      } else {
        value = SanitizeUtf8(*s.plain);
      }
    }
    out.push_back({name, std::move(value)});
  }
  return out;
}

// Undoes base64 / quoted-printable with libetpan; other encodings are
// identity. nullopt if libetpan rejects the data.
std::optional<std::string> TransferDecode(std::string_view encoding, std::string_view body) {
  int mechanism;
  if (encoding == "base64") {
    mechanism = MAILMIME_MECHANISM_BASE64;
  } else if (encoding == "quoted-printable") {
    mechanism = MAILMIME_MECHANISM_QUOTED_PRINTABLE;
  } else {
    return std::string(body);
  }
  if (body.empty()) {
    return std::string();
  }
  size_t index = 0;
  char* result = nullptr;
  size_t result_len = 0;
  int rc = mailmime_part_parse(body.data(), body.size(), &index, mechanism, &result, &result_len);
  if (rc != MAILIMF_NO_ERROR || result == nullptr) {
    return std::nullopt;
  }
  std::string out(result, result_len);
  mmap_string_unref(result);
  return out;
}

std::string NormalizeLineEnds(std::string_view in) {
  std::string out;
  out.reserve(in.size() + in.size() / 32);
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r') {
      out += "\r\n";
      if (i + 1 < in.size() && in[i + 1] == '\n') {
        ++i;
      }
    } else if (in[i] == '\n') {
      out += "\r\n";
    } else {
      out += in[i];
    }
  }
  return out;
}

BlobPtr BlobOf(std::string bytes) {
  return bytes.empty() ? nullptr : MakeStringBlob(std::move(bytes));
}

// Splits a multipart body at "--boundary" lines. Returns false if no
// delimiter line was found at all.
bool SplitMultipart(std::string_view body,
                    std::string_view boundary,
                    std::vector<std::string_view>* parts) {
  std::string delimiter = "--" + std::string(boundary);
  std::size_t part_start = std::string_view::npos;
  bool found = false;
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t at = body.find(delimiter, pos);
    if (at == std::string_view::npos) {
      break;
    }
    pos = at + delimiter.size();
    if (at != 0 && body[at - 1] != '\n') {
      continue;  // not at the start of a line
    }
    std::size_t line_end = NextLine(body, at);
    std::string_view rest = body.substr(pos, line_end - pos);
    bool close = rest.substr(0, 2) == "--";
    if (!close && !Trim(rest).empty()) {
      continue;  // a longer boundary that merely starts with ours
    }
    found = true;
    if (part_start != std::string_view::npos) {
      // The line end before the delimiter belongs to the delimiter.
      std::size_t end = at;
      if (end > part_start && body[end - 1] == '\n') {
        --end;
        if (end > part_start && body[end - 1] == '\r') {
          --end;
        }
      }
      parts->push_back(body.substr(part_start, end - part_start));
    }
    if (close) {
      return true;
    }
    part_start = line_end;
    pos = line_end;
  }
  if (part_start != std::string_view::npos) {
    parts->push_back(body.substr(part_start));  // missing close delimiter
  }
  return found;
}

Message ParseMessageAt(std::string_view bytes, int depth);

void MakeOpaque(Part& part, std::string_view raw) {
  part.type = "application";
  part.subtype = "octet-stream";
  part.params.clear();
  part.parts.clear();
  part.message.reset();
  part.body = BlobOf(std::string(raw));
}

// Builds a part from its fields and body. |message_level| means the fields are
// a message's header: only the Content-* fields belong to the part then.
Part ParsePart(const std::vector<Header>& fields,
               std::string_view body,
               int depth,
               bool digest_child,
               bool message_level) {
  Part part;
  std::optional<std::string> content_type, encoding, disposition;
  for (const Header& f : fields) {
    std::string_view value = Trim(f.value);
    if (EqualsIgnoreCase(f.name, "Content-Type")) {
      if (!content_type) {
        content_type = std::string(value);
      }
    } else if (EqualsIgnoreCase(f.name, "Content-Transfer-Encoding")) {
      if (!encoding) {
        encoding = ToLower(value);
      }
    } else if (EqualsIgnoreCase(f.name, "Content-Disposition")) {
      if (!disposition) {
        disposition = std::string(value);
      }
    } else if (EqualsIgnoreCase(f.name, "Content-ID")) {
      if (part.content_id.empty()) {
        part.content_id = MessageIdToken(value);
      }
    } else if (EqualsIgnoreCase(f.name, "Content-Description")) {
      if (part.description.empty()) {
        part.description = DecodeWords(value);
      }
    } else if (!message_level && !EqualsIgnoreCase(f.name, "MIME-Version")) {
      part.extra_headers.push_back({f.name, DecodeWords(value)});
    }
  }

  std::vector<Param> params;
  std::string head;
  if (content_type) {
    params = AssembleParams(LexParams(*content_type, &head));
  }
  std::size_t slash = head.find('/');
  if (slash != std::string::npos && slash > 0 && slash + 1 < head.size()) {
    part.type = head.substr(0, slash);
    part.subtype = head.substr(slash + 1);
  } else if (digest_child) {
    part.type = "message";
    part.subtype = "rfc822";
    params.clear();
  } else {
    part.type = "text";
    part.subtype = "plain";
    if (!head.empty()) {
      params.clear();  // parameters of an unusable type are meaningless
    }
  }
  std::string charset, boundary;
  for (Param& p : params) {
    if (p.name == "charset") {
      charset = p.value;
    } else if (p.name == "boundary") {
      boundary = p.value;
    } else {
      part.params.push_back(std::move(p));
    }
  }
  if (part.type == "text" && !charset.empty()) {
    // kept only through the decoding below
  } else if (part.type != "text" && !charset.empty()) {
    part.params.insert(part.params.begin(), {"charset", charset});
  }
  if (part.type == "multipart" && !boundary.empty()) {
    // boundary is the renderer's business
  } else if (!boundary.empty() && part.type != "multipart") {
    part.params.push_back({"boundary", boundary});
  }

  if (disposition) {
    std::string dtype;
    std::vector<Param> dparams = AssembleParams(LexParams(*disposition, &dtype));
    if (dtype == "inline" || dtype == "attachment") {
      part.disposition = dtype;
    } else if (!dtype.empty()) {
      part.disposition = "attachment";  // RFC 2183 §2.8
    }
    for (const Param& p : dparams) {
      if (p.name == "filename") {
        part.filename = p.value;
      }
    }
  }

  const std::string enc = encoding.value_or("7bit");
  if (part.type == "multipart") {
    std::vector<std::string_view> children;
    if (depth >= kMaxDepth || boundary.empty() || !SplitMultipart(body, boundary, &children)) {
      MakeOpaque(part, body);
      return part;
    }
    bool digest = part.subtype == "digest";
    for (std::string_view child : children) {
      Entity e = SplitEntity(child);
      part.parts.push_back(ParsePart(AllHeaders(e.header), e.body, depth + 1, digest, false));
    }
    return part;
  }

  std::optional<std::string> decoded = TransferDecode(enc, body);
  if (!decoded) {
    MakeOpaque(part, body);
    return part;
  }
  if (part.type == "message" && part.subtype == "rfc822") {
    if (depth >= kMaxDepth) {
      part.body = BlobOf(std::move(*decoded));
      return part;
    }
    part.message = std::make_shared<const Message>(ParseMessageAt(*decoded, depth + 1));
    return part;
  }
  if (part.type == "text") {
    std::string text = NormalizeLineEnds(ToUtf8(charset, *decoded));
    if (text != *decoded) part.original_body = BlobOf(std::move(*decoded));
    part.body = BlobOf(std::move(text));
    return part;
  }
  part.body = BlobOf(std::move(*decoded));
  return part;
}


Message ParseMessageAt(std::string_view bytes, int depth) {
  Message m;
  Entity e = SplitEntity(bytes);
  std::vector<Header> fields = AllHeaders(e.header);
  auto first = [&](std::string_view name) -> const Header* {
    for (const Header& h : fields) {
      if (EqualsIgnoreCase(h.name, name)) {
        return &h;
      }
    }
    return nullptr;
  };
  if (const Header* h = first("From")) {
    m.from = ParseAddressList(h->value);
  }
  if (const Header* h = first("Sender")) {
    m.sender = ParseAddressList(h->value);
  }
  if (const Header* h = first("Reply-To")) {
    m.reply_to = ParseAddressList(h->value);
  }
  if (const Header* h = first("To")) {
    m.to = ParseAddressList(h->value);
  }
  if (const Header* h = first("Cc")) {
    m.cc = ParseAddressList(h->value);
  }
  if (const Header* h = first("Bcc")) {
    m.bcc = ParseAddressList(h->value);
  }
  if (const Header* h = first("Subject")) {
    m.subject = DecodeWords(Trim(h->value));
  }
  if (const Header* h = first("Date")) {
    m.date = ParseDate(h->value);
  }
  if (const Header* h = first("Message-ID")) {
    m.message_id = MessageIdToken(h->value);
  }
  if (const Header* h = first("In-Reply-To")) {
    m.in_reply_to = std::string(Trim(h->value));
  }
  if (const Header* h = first("References")) {
    m.references = std::string(Trim(h->value));
  }
  for (const Header& h : fields) {
    if (!IsRenderedField(h.name)) {
      m.extra_headers.push_back({h.name, DecodeWords(Trim(h.value))});
    }
  }
  m.body = ParsePart(fields, e.body, depth, false, true);
  return m;
}

}  // namespace

Message Parse(std::string_view bytes) {
  return ParseMessageAt(bytes, 0);
}

}  // namespace mailfs::mime
