// Message and folder names (design.md §3). Every function here is pure and may
// be called from any thread.
//
// Reading of the subject rule, applied literally and in the order written:
//   1. the first Subject field, unfolded (CRLF before WSP removed; the WSP
//      itself stays), RFC 2047-decoded, invalid UTF-8 -> U+FFFD;
//   2. each character of kDashed below -> "-". C0 controls include TAB, CR and
//      LF, and C1 controls include NEL (U+0085), so these become "-" even
//      though they are also White_Space: the dash step comes first. A subject
//      folded with a TAB therefore shows a "-" where the fold was;
//   3. each run of the remaining White_Space characters -> one U+0020;
//   4. outer spaces stripped, then leading dots, then outer spaces again;
//   5. cut to at most 80 bytes without splitting a code point, then one
//      trailing space stripped (runs were folded, so there is at most one);
//   6. an empty result -> "(no subject)".

#include "fs/naming.h"

#include <cstdio>
#include <optional>

#include "backends/mime/charset.h"
#include "backends/mime/header_decode.h"
#include "backends/sha256.h"

namespace mailfs::fs {
namespace {

constexpr std::size_t kSubjectMaxBytes = 80;
constexpr std::size_t kKeyHexDigits = 8;
constexpr std::size_t kFolderMaxBytes = 255;
constexpr std::size_t kFolderCutBytes = 246;
constexpr std::string_view kNoSubject = "(no subject)";
constexpr std::string_view kUnreadablePrefix = "0000-00-00 000000 (unreadable) [";

// A closed range of code points.
struct Range {
  char32_t first;
  char32_t last;
};

// Characters shown as "-" (step 2).
constexpr Range kDashed[] = {
    {0x00, 0x1F},      // NUL and the other C0 controls (TAB, LF, CR, ...)
    {'"', '"'},        // the characters design.md §3 lists: / \ : * ? " < > | [ ]
    {'*', '*'},        //
    {'/', '/'},        //
    {':', ':'},        //
    {'<', '<'},        //
    {'>', '>'},        //
    {'?', '?'},        //
    {'\\', '\\'},      //
    {'|', '|'},        //
    {'[', '['},        //
    {']', ']'},        //
    {0x7F, 0x9F},      // DEL and the C1 controls
    {0x200E, 0x200F},  // LRM, RLM
    {0x202A, 0x202E},  // LRE, RLE, PDF, LRO, RLO
    {0x2066, 0x2069},  // LRI, RLI, FSI, PDI
};

// Unicode White_Space (all 25 code points; step 3).
constexpr Range kWhiteSpace[] = {
    {0x0009, 0x000D}, {0x0020, 0x0020}, {0x0085, 0x0085}, {0x00A0, 0x00A0}, {0x1680, 0x1680},
    {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
};

template <std::size_t N>
bool InRanges(const Range (&ranges)[N], char32_t c) {
  for (const Range& range : ranges) {
    if (c >= range.first && c <= range.last) {
      return true;
    }
  }
  return false;
}

// Decodes the code point at |s[*pos]| of valid UTF-8 and advances |*pos|.
char32_t NextCodePoint(std::string_view s, std::size_t* pos) {
  auto lead = static_cast<unsigned char>(s[*pos]);
  std::size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  char32_t c = length == 1   ? lead
               : length == 2 ? lead & 0x1F
               : length == 3 ? lead & 0x0F
                             : lead & 0x07;
  for (std::size_t i = 1; i < length; ++i) {
    c = (c << 6) | (static_cast<unsigned char>(s[*pos + i]) & 0x3F);
  }
  *pos += length;
  return c;
}

// Steps 2 and 3 over valid UTF-8.
std::string DashAndFoldSpaces(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_space = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t begin = pos;
    char32_t c = NextCodePoint(text, &pos);
    if (InRanges(kDashed, c)) {
      out.push_back('-');
      in_space = false;
    } else if (InRanges(kWhiteSpace, c)) {
      if (!in_space) {
        out.push_back(' ');
      }
      in_space = true;
    } else {
      out.append(text.substr(begin, pos - begin));
      in_space = false;
    }
  }
  return out;
}

std::string_view StripSpaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') {
    s.remove_prefix(1);
  }
  while (!s.empty() && s.back() == ' ') {
    s.remove_suffix(1);
  }
  return s;
}

// The longest prefix of valid UTF-8 |s| of at most |max| bytes that ends on
// a code-point boundary.
std::string_view CutAtCodePoint(std::string_view s, std::size_t max) {
  if (s.size() <= max) {
    return s;
  }
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return s.substr(0, cut);
}

// "YYYY-MM-DD HHMMSS".
std::string FormatNameDate(const mime::UtcCalendar& t) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02d %02d%02d%02d", static_cast<long long>(t.year),
                t.month, t.day, t.hour, t.minute, t.second);
  return buf;
}

std::string AsciiLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return s;
}

std::string KeyOf(std::string_view bytes) {
  return Sha256Hex(bytes).substr(0, kKeyHexDigits);
}


}  // namespace

std::string NameDate(std::string_view header_block, std::int64_t internal_date) {
  std::string_view block = mime::HeaderBlock(header_block);
  if (std::optional<std::string> value = mime::FirstHeader(block, "Date")) {
    // ParseDate refuses dates whose UTC year is outside 1601-9999.
    if (std::optional<mime::DateTime> date = mime::ParseDate(*value)) {
      return FormatNameDate(mime::BreakDownUtc(date->utc_seconds));
    }
  }
  return FormatNameDate(mime::BreakDownUtc(internal_date));
}

std::string NameSubject(std::string_view header_block) {
  std::string_view block = mime::HeaderBlock(header_block);
  std::optional<std::string> value = mime::FirstHeader(block, "Subject");
  if (!value) {
    return std::string(kNoSubject);
  }
  std::string text = DashAndFoldSpaces(mime::SanitizeUtf8(mime::DecodeWords(*value)));
  std::string_view s = StripSpaces(text);
  while (!s.empty() && s.front() == '.') {
    s.remove_prefix(1);
  }
  s = CutAtCodePoint(StripSpaces(s), kSubjectMaxBytes);
  if (!s.empty() && s.back() == ' ') {
    s.remove_suffix(1);
  }
  return s.empty() ? std::string(kNoSubject) : std::string(s);
}

std::string NameKey(std::string_view header_block, std::int64_t internal_date) {
  std::string_view block = mime::HeaderBlock(header_block);
  std::string token;
  if (std::optional<std::string> id = mime::FirstHeader(block, "Message-ID")) {
    token = mime::MessageIdToken(*id);
  }
  if (!token.empty()) {
    return KeyOf(token);
  }
  std::string from;
  if (std::optional<std::string> value = mime::FirstHeader(block, "From")) {
    from = AsciiLower(mime::SanitizeUtf8(mime::FirstAddrSpec(*value)));
  }
  return KeyOf(NameDate(block, internal_date) + "|" + from + "|" + NameSubject(block));
}

std::string MessageBaseName(std::string_view header_block, std::int64_t internal_date) {
  return NameDate(header_block, internal_date) + " " + NameSubject(header_block) + " [" +
         NameKey(header_block, internal_date) + "]";
}

std::string UniqueName(std::string_view base) {
  return std::string(base) + ".eml";
}

std::string CollisionName(std::string_view base, std::string_view sha256_hex, int dup_index) {
  std::string name(base);
  name += " ~";
  name.append(sha256_hex.substr(0, kKeyHexDigits));
  if (dup_index >= 2) {
    name += '-';
    name += std::to_string(dup_index);
  }
  name += ".eml";
  return name;
}

std::string UnreadableName(std::string_view backend_identity) {
  return std::string(kUnreadablePrefix) + KeyOf(backend_identity) + "].eml";
}

std::string EscapeFolderName(std::string_view name) {
  std::string clean = mime::SanitizeUtf8(name);
  if (clean == ".") {
    return "%2E";
  }
  if (clean == "..") {
    return "%2E%2E";
  }
  std::string out;
  out.reserve(clean.size());
  for (char c : clean) {
    if (c == '%') {
      out += "%25";
    } else if (c == '/') {
      out += "%2F";
    } else {
      out.push_back(c);
    }
  }
  if (out.size() <= kFolderMaxBytes) {
    return out;
  }
  // Cut without splitting a code point, so the name stays valid UTF-8.
  return std::string(CutAtCodePoint(out, kFolderCutBytes)) + "~" + KeyOf(out);
}

std::string UnescapeFolderName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '%' && i + 2 < name.size() && mime::HexDigitValue(name[i + 1]) >= 0 &&
        mime::HexDigitValue(name[i + 2]) >= 0) {
      out.push_back(static_cast<char>(mime::HexDigitValue(name[i + 1]) * 16 + mime::HexDigitValue(name[i + 2])));
      i += 2;
    } else {
      out.push_back(name[i]);
    }
  }
  return out;
}

}  // namespace mailfs::fs
