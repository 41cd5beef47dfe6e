// Header field reading: unfolding, RFC 2047 encoded words, RFC 5322 dates,
// address lists and Message-ID tokens. All functions are pure and may be
// called from any thread.

#include "backends/mime/header_decode.h"

#include <array>
#include <cstdio>

#include "backends/mime/charset.h"

namespace mailfs::mime {
namespace {

bool IsWsp(char c) {
  return c == ' ' || c == '\t';
}

bool IsLineSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

char AsciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) {
      return false;
    }
  }
  return true;
}

// Position just past the comment that starts at |s[pos]| == '(' (nested
// comments and backslash escapes honoured), or npos if it never closes.
std::size_t CommentEnd(std::string_view s, std::size_t pos) {
  int depth = 0;
  for (std::size_t i = pos; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\') {
      ++i;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (--depth == 0) {
        return i + 1;
      }
    }
  }
  return std::string_view::npos;
}

// Like CommentEnd, but an unclosed comment runs to the end of |s|.
std::size_t SkipComment(std::string_view s, std::size_t pos) {
  std::size_t end = CommentEnd(s, pos);
  return end == std::string_view::npos ? s.size() : end;
}

// ---------------------------------------------------------------------------
// Header fields.

struct RawField {
  std::string_view name;
  std::string value;  // unfolded, leading whitespace removed
};

// Calls |visit(field)| for every well-formed field of |block| in order; stops
// early when |visit| returns false. Lines that are not "name: value" (and
// their continuation lines) are skipped.
template <typename Visitor>
void ForEachField(std::string_view block, Visitor visit) {
  std::size_t pos = 0;
  while (pos < block.size()) {
    // The field is its first line and every following line starting with WSP.
    std::size_t end = pos;
    while (true) {
      std::size_t newline = block.find('\n', end);
      if (newline == std::string_view::npos) {
        end = block.size();
        break;
      }
      end = newline + 1;
      if (end >= block.size() || !IsWsp(block[end])) {
        break;
      }
    }
    std::string_view field = block.substr(pos, end - pos);
    pos = end;

    std::size_t first_line_end = field.find('\n');
    std::size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon > first_line_end) {
      continue;
    }
    // RFC 5322 §3.6.8 field-name: printable ASCII without ':'. The obsolete
    // "Name : value" (white space before the colon) is not a field here.
    std::string_view name = field.substr(0, colon);
    bool valid = !name.empty();
    for (char c : name) {
      if (c < 33 || c > 126) {
        valid = false;
      }
    }
    if (!valid) {
      continue;
    }
    std::string_view raw = field.substr(colon + 1);
    if (!raw.empty() && raw.back() == '\n') {
      raw.remove_suffix(1);
      if (!raw.empty() && raw.back() == '\r') {
        raw.remove_suffix(1);
      }
    }
    std::string value = Unfold(raw);
    std::size_t start = 0;
    while (start < value.size() && IsWsp(value[start])) {
      ++start;
    }
    value.erase(0, start);
    if (!visit(RawField{name, std::move(value)})) {
      return;
    }
  }
}

// ---------------------------------------------------------------------------
// RFC 2047.

struct EncodedWord {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string_view charset;  // language suffix removed
  char encoding = 0;         // 'b' or 'q'
  std::string_view text;
};

bool IsWordChar(char c) {
  return c > 32 && c < 127 && c != '?';
}

// Parses "=?charset?enc?text?=" starting at |pos|.
bool ParseEncodedWord(std::string_view s, std::size_t pos, EncodedWord* word) {
  if (pos + 1 >= s.size() || s[pos] != '=' || s[pos + 1] != '?') {
    return false;
  }
  std::size_t i = pos + 2;
  std::size_t charset_begin = i;
  while (i < s.size() && IsWordChar(s[i])) {
    ++i;
  }
  if (i == charset_begin || i >= s.size() || s[i] != '?') {
    return false;
  }
  std::string_view charset = s.substr(charset_begin, i - charset_begin);
  ++i;
  if (i + 1 >= s.size() || s[i + 1] != '?') {
    return false;
  }
  char encoding = AsciiLower(s[i]);
  if (encoding != 'b' && encoding != 'q') {
    return false;
  }
  i += 2;
  std::size_t text_begin = i;
  while (i < s.size() && IsWordChar(s[i])) {
    ++i;
  }
  if (i + 1 >= s.size() || s[i] != '?' || s[i + 1] != '=') {
    return false;
  }
  // RFC 2231 §5: "charset*language".
  std::size_t star = charset.find('*');
  if (star != std::string_view::npos) {
    charset = charset.substr(0, star);
  }
  if (charset.empty()) {
    return false;
  }
  word->begin = pos;
  word->end = i + 2;
  word->charset = charset;
  word->encoding = encoding;
  word->text = s.substr(text_begin, i - text_begin);
  return true;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

// RFC 2047 "B". Padding may be missing or repeated; any other character
// outside the alphabet, or a length that cannot be base64, makes the word
// invalid (false), and it then stays literal.
bool AppendBase64(std::string_view text, std::string* out) {
  while (!text.empty() && text.back() == '=') {
    text.remove_suffix(1);
  }
  if (text.size() % 4 == 1) {
    return false;
  }
  std::string bytes;
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    int v = Base64Value(c);
    if (v < 0) {
      return false;
    }
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      bytes.push_back(static_cast<char>((bits >> count) & 0xFF));
    }
  }
  out->append(bytes);
  return true;
}

// RFC 2047 "Q": '_' is a space, "=XX" a byte, a stray '=' stays literal.
void AppendQ(std::string_view text, std::string* out) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '_') {
      out->push_back(' ');
    } else if (c == '=' && i + 2 < text.size() && HexDigitValue(text[i + 1]) >= 0 &&
               HexDigitValue(text[i + 2]) >= 0) {
      out->push_back(static_cast<char>(HexDigitValue(text[i + 1]) * 16 + HexDigitValue(text[i + 2])));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
}

// A piece of a header value: literal text or an encoded word.
struct Segment {
  bool is_word = false;  // an encoded word in a charset of the table, decoded
  std::string_view text;
  std::string_view charset;  // as written, language suffix removed
  std::string charset_key;   // NormalizeCharset(charset)
  std::string bytes;         // transfer encoding undone
};

// Charset names compared for joining: lowercase letters and digits only.
std::string NormalizeCharset(std::string_view charset) {
  std::string key;
  for (char c : charset) {
    if (IsAlpha(c) || IsDigit(c)) {
      key.push_back(AsciiLower(c));
    }
  }
  return key;
}

// Splits |value| into literal text and decodable encoded words. As RFC 2047
// §5 (1) says, an encoded word stands alone: it starts the value or follows
// SP/HTAB, and ends the value or is followed by SP/HTAB. Words in an unknown
// charset or with invalid base64 are literal text.
std::vector<Segment> SplitWords(std::string_view value) {
  std::vector<Segment> segments;
  std::size_t literal_begin = 0;
  std::size_t pos = 0;
  while (true) {
    pos = value.find("=?", pos);
    if (pos == std::string_view::npos) {
      break;
    }
    EncodedWord word;
    if ((pos > 0 && !IsWsp(value[pos - 1])) || !ParseEncodedWord(value, pos, &word) ||
        (word.end < value.size() && !IsWsp(value[word.end]))) {
      ++pos;
      continue;
    }
    Segment segment;
    segment.is_word = IsKnownCharset(word.charset);
    if (segment.is_word) {
      if (word.encoding == 'b') {
        segment.is_word = AppendBase64(word.text, &segment.bytes);
      } else {
        AppendQ(word.text, &segment.bytes);
      }
    }
    pos = word.end;
    if (!segment.is_word) {
      continue;  // stays in the literal text
    }
    if (word.begin > literal_begin) {
      Segment literal;
      literal.text = value.substr(literal_begin, word.begin - literal_begin);
      segments.push_back(std::move(literal));
    }
    segment.text = value.substr(word.begin, word.end - word.begin);
    segment.charset = word.charset;
    segment.charset_key = NormalizeCharset(word.charset);
    segments.push_back(std::move(segment));
    literal_begin = word.end;
  }
  if (literal_begin < value.size()) {
    Segment literal;
    literal.text = value.substr(literal_begin);
    segments.push_back(std::move(literal));
  }
  return segments;
}

bool AllWsp(std::string_view s) {
  for (char c : s) {
    if (!IsWsp(c)) {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------
// Dates.

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

bool IsLeapYear(std::int64_t year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int DaysInMonth(std::int64_t year, int month) {
  static constexpr int kLengths[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kLengths[month - 1];
}

// Days from 0001-01-01 to January 1st of |year| in the proleptic Gregorian
// calendar (negative before year 1).
std::int64_t DaysBeforeYear(std::int64_t year) {
  std::int64_t past = year - 1;
  return past * 365 + FloorDiv(past, 4) - FloorDiv(past, 100) + FloorDiv(past, 400);
}

// Days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t DaysFromCivil(std::int64_t year, int month, int day) {
  static constexpr int kBefore[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  std::int64_t day_of_year = kBefore[month - 1] + (month > 2 && IsLeapYear(year) ? 1 : 0) + day - 1;
  return DaysBeforeYear(year) + day_of_year - DaysBeforeYear(1970);
}

struct Civil {
  std::int64_t year;
  int month;
  int day;
};

// The inverse of DaysFromCivil.
Civil CivilFromDays(std::int64_t days) {
  std::int64_t from_year_one = days + DaysBeforeYear(1970);
  std::int64_t year = FloorDiv(from_year_one * 400, 146097) + 1;
  while (DaysBeforeYear(year) > from_year_one) {
    --year;
  }
  while (DaysBeforeYear(year + 1) <= from_year_one) {
    ++year;
  }
  int left = static_cast<int>(from_year_one - DaysBeforeYear(year));
  int month = 1;
  while (left >= DaysInMonth(year, month)) {
    left -= DaysInMonth(year, month);
    ++month;
  }
  return Civil{year, month, left + 1};
}

enum class DateTokenKind { kNumber, kWord, kZone, kComma, kColon };

struct DateToken {
  DateTokenKind kind;
  std::string_view text;
  bool space_before;  // folding white space or a comment precedes it
};

// Splits a date into numbers, words, numeric zones, ',' and ':', dropping
// folding white space and comments (an unclosed comment runs to the end).
// False on any other character, including any 8-bit byte.
bool LexDate(std::string_view s, std::vector<DateToken>* tokens) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      return false;
    }
  }
  bool space = false;
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (IsLineSpace(c)) {
      space = true;
      ++i;
      continue;
    }
    if (c == '(') {
      space = true;
      i = SkipComment(s, i);
      continue;
    }
    if (IsDigit(c) || IsAlpha(c)) {
      bool digit = IsDigit(c);
      std::size_t begin = i;
      while (i < s.size() && (digit ? IsDigit(s[i]) : IsAlpha(s[i]))) {
        ++i;
      }
      tokens->push_back(DateToken{digit ? DateTokenKind::kNumber : DateTokenKind::kWord,
                                  s.substr(begin, i - begin), space});
    } else if (c == '+' || c == '-') {
      std::size_t begin = i++;
      while (i < s.size() && IsDigit(s[i])) {
        ++i;
      }
      if (i - begin != 5) {
        return false;  // a numeric zone is a sign and exactly four digits
      }
      tokens->push_back(DateToken{DateTokenKind::kZone, s.substr(begin, 5), space});
    } else if (c == ',' || c == ':') {
      tokens->push_back(DateToken{c == ',' ? DateTokenKind::kComma : DateTokenKind::kColon,
                                  s.substr(i, 1), space});
      ++i;
    } else {
      return false;
    }
    space = false;
  }
  return true;
}

// Value of a run of at most |max_digits| digits; -1 if longer.
int SmallNumber(std::string_view digits, std::size_t max_digits) {
  if (digits.empty() || digits.size() > max_digits) {
    return -1;
  }
  int v = 0;
  for (char c : digits) {
    v = v * 10 + (c - '0');
  }
  return v;
}

// Zone offset in minutes east of UTC for an alphabetic zone (RFC 5322 §4.3);
// nullopt for a zone that counts as -0000.
std::optional<int> NamedZone(std::string_view name) {
  struct Zone {
    std::string_view name;
    int minutes;
  };
  static constexpr Zone kZones[] = {
      {"UT", 0},        {"GMT", 0},       {"Z", 0},         {"EST", -5 * 60},
      {"EDT", -4 * 60}, {"CST", -6 * 60}, {"CDT", -5 * 60}, {"MST", -7 * 60},
      {"MDT", -6 * 60}, {"PST", -8 * 60}, {"PDT", -7 * 60},
  };
  for (const Zone& zone : kZones) {
    if (EqualsIgnoreCase(zone.name, name)) {
      return zone.minutes;
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Addresses.

enum class AddrTokenKind { kText, kQuoted, kSpecial };

struct AddrToken {
  AddrTokenKind kind;
  std::string_view raw;  // as written (quotes kept)
  std::string text;      // quoted strings unescaped; otherwise == raw
  bool space_before;     // white space or a comment precedes it
};

bool IsAddrSpecial(char c) {
  return c == '<' || c == '>' || c == ',' || c == ':' || c == ';';
}

std::vector<AddrToken> LexAddresses(std::string_view s) {
  std::vector<AddrToken> tokens;
  bool space = false;
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (IsLineSpace(c)) {
      space = true;
      ++i;
    } else if (c == '(') {
      space = true;
      i = SkipComment(s, i);
    } else if (c == '"') {
      std::size_t begin = i++;
      std::string text;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) {
          ++i;
        }
        text.push_back(s[i]);
        ++i;
      }
      if (i < s.size()) {
        ++i;  // closing quote
      }
      tokens.push_back(
          AddrToken{AddrTokenKind::kQuoted, s.substr(begin, i - begin), std::move(text), space});
      space = false;
    } else if (IsAddrSpecial(c)) {
      tokens.push_back(
          AddrToken{AddrTokenKind::kSpecial, s.substr(i, 1), std::string(1, c), space});
      space = false;
      ++i;
    } else {
      // Atoms, dots, '@' and domain literals run together into one text token.
      std::size_t begin = i;
      while (i < s.size() && !IsLineSpace(s[i]) && s[i] != '(' && s[i] != '"' &&
             !IsAddrSpecial(s[i])) {
        if (s[i] == '[') {
          std::size_t close = s.find(']', i);
          i = close == std::string_view::npos ? s.size() : close + 1;
        } else {
          ++i;
        }
      }
      std::string_view raw = s.substr(begin, i - begin);
      tokens.push_back(AddrToken{AddrTokenKind::kText, raw, std::string(raw), space});
      space = false;
    }
  }
  return tokens;
}

// A display name: the words joined by single spaces where the header had
// white space, then RFC 2047-decoded.
std::string DisplayName(const std::vector<const AddrToken*>& words) {
  std::string joined;
  for (const AddrToken* word : words) {
    if (!joined.empty() && word->space_before) {
      joined.push_back(' ');
    }
    joined += word->text;
  }
  return DecodeWords(joined);
}

// Raw tokens concatenated without the white space and comments between them.
std::string Concatenate(const std::vector<const AddrToken*>& tokens) {
  std::string out;
  for (const AddrToken* token : tokens) {
    out.append(token->raw);
  }
  return out;
}

// The addr-spec of an angle-addr without an obsolete route ("@a,@b:").
std::string StripRoute(std::string address) {
  std::size_t colon = address.rfind(':');
  if (colon != std::string::npos) {
    address.erase(0, colon + 1);
  }
  return address;
}

// An addr-spec written without angle brackets, or a bare name.
void AddBareMailbox(const std::vector<const AddrToken*>& phrase, std::vector<Mailbox>* out) {
  if (phrase.empty()) {
    return;
  }
  bool has_at = false;
  bool spaced = false;
  for (std::size_t i = 0; i < phrase.size(); ++i) {
    if (phrase[i]->raw.find('@') != std::string_view::npos) {
      has_at = true;
    }
    if (i > 0 && phrase[i]->space_before) {
      spaced = true;
    }
  }
  if (!has_at && spaced) {
    out->push_back(Mailbox{DisplayName(phrase), ""});  // a name without an address
  } else {
    out->push_back(Mailbox{"", Concatenate(phrase)});
  }
}

}  // namespace

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::string Unfold(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\r' && i + 2 < value.size() && value[i + 1] == '\n' && IsWsp(value[i + 2])) {
      ++i;
      continue;
    }
    if (value[i] == '\n' && i + 1 < value.size() && IsWsp(value[i + 1])) {
      continue;
    }
    out.push_back(value[i]);
  }
  return out;
}

std::string_view HeaderBlock(std::string_view message) {
  std::size_t pos = 0;
  while (pos < message.size()) {
    if (message[pos] == '\n' ||
        (message[pos] == '\r' && pos + 1 < message.size() && message[pos + 1] == '\n')) {
      return message.substr(0, pos);
    }
    std::size_t newline = message.find('\n', pos);
    if (newline == std::string_view::npos) {
      break;
    }
    pos = newline + 1;
  }
  return message;
}

std::optional<std::string> FirstHeader(std::string_view header_block, std::string_view name) {
  std::optional<std::string> found;
  ForEachField(header_block, [&](RawField field) {
    if (EqualsIgnoreCase(field.name, name)) {
      found = std::move(field.value);
      return false;
    }
    return true;
  });
  return found;
}

std::vector<Header> AllHeaders(std::string_view header_block) {
  std::vector<Header> headers;
  ForEachField(header_block, [&](RawField field) {
    headers.push_back(Header{std::string(field.name), std::move(field.value)});
    return true;
  });
  return headers;
}

std::string DecodeWords(std::string_view unfolded_value) {
  std::vector<Segment> segments = SplitWords(unfolded_value);
  std::string out;
  // A run of encoded words in one charset is converted as a whole, so a
  // multibyte character split across two words decodes.
  std::string pending_charset;  // as written in the first word of the run
  std::string pending_key;
  std::string pending_bytes;
  auto flush = [&] {
    if (!pending_key.empty()) {
      out += CharsetToUtf8(pending_charset, pending_bytes).value_or(std::string());
      pending_key.clear();
      pending_bytes.clear();
    }
  };
  for (std::size_t i = 0; i < segments.size(); ++i) {
    Segment& segment = segments[i];
    if (!segment.is_word) {
      bool between_words =
          i > 0 && i + 1 < segments.size() && segments[i - 1].is_word && segments[i + 1].is_word;
      if (between_words && AllWsp(segment.text)) {
        continue;
      }
      flush();
      out += SanitizeUtf8(segment.text);
      continue;
    }
    if (pending_key != segment.charset_key) {
      flush();
      pending_key = segment.charset_key;
      pending_charset = std::string(segment.charset);
    }
    pending_bytes += segment.bytes;
  }
  flush();
  return out;
}

std::optional<DateTime> ParseDate(std::string_view value) {
  std::vector<DateToken> tokens;
  if (!LexDate(value, &tokens)) {
    return std::nullopt;
  }
  std::size_t i = 0;
  auto at = [&](DateTokenKind kind) { return i < tokens.size() && tokens[i].kind == kind; };
  // Day, month, year, hour and zone are separated by folding white space.
  auto at_spaced = [&](DateTokenKind kind) { return at(kind) && tokens[i].space_before; };

  // [day-of-week ","]
  if (at(DateTokenKind::kWord)) {
    bool is_day = false;
    for (std::string_view day : kDays) {
      is_day = is_day || EqualsIgnoreCase(day, tokens[i].text);
    }
    ++i;
    if (!is_day || !at(DateTokenKind::kComma)) {
      return std::nullopt;
    }
    ++i;
  }
  // day month year
  if (!at(DateTokenKind::kNumber)) {
    return std::nullopt;
  }
  int day = SmallNumber(tokens[i++].text, 2);
  if (!at_spaced(DateTokenKind::kWord)) {
    return std::nullopt;
  }
  int month = 0;
  for (std::size_t m = 0; m < kMonths.size(); ++m) {
    if (EqualsIgnoreCase(kMonths[m], tokens[i].text)) {
      month = static_cast<int>(m) + 1;
    }
  }
  ++i;
  if (month == 0 || !at_spaced(DateTokenKind::kNumber)) {
    return std::nullopt;
  }
  std::string_view year_text = tokens[i++].text;
  std::string_view year_digits = year_text;
  while (year_digits.size() > 4 && year_digits.front() == '0') {
    year_digits.remove_prefix(1);  // "02002" is 2002; keeps SmallNumber in range
  }
  std::int64_t year = SmallNumber(year_digits, 9);
  if (year < 0 || year_text.size() < 2) {
    return std::nullopt;
  }
  if (year_text.size() == 2) {
    year += year < 50 ? 2000 : 1900;  // RFC 5322 §4.3
  } else if (year_text.size() == 3) {
    year += 1900;
  }
  // hour ":" minute [":" second]
  if (!at_spaced(DateTokenKind::kNumber)) {
    return std::nullopt;
  }
  int hour = SmallNumber(tokens[i++].text, 2);
  if (!at(DateTokenKind::kColon)) {
    return std::nullopt;
  }
  ++i;
  if (!at(DateTokenKind::kNumber)) {
    return std::nullopt;
  }
  int minute = SmallNumber(tokens[i++].text, 2);
  int second = 0;
  if (at(DateTokenKind::kColon)) {
    ++i;
    if (!at(DateTokenKind::kNumber)) {
      return std::nullopt;
    }
    second = SmallNumber(tokens[i++].text, 2);
  }
  // zone
  DateTime result;
  if (at_spaced(DateTokenKind::kZone)) {
    std::string_view zone = tokens[i++].text;
    int hours = SmallNumber(zone.substr(1, 2), 2);
    int minutes = SmallNumber(zone.substr(3, 2), 2);
    if (minutes > 59) {
      return std::nullopt;
    }
    int offset = hours * 60 + minutes;
    if (zone[0] == '-') {
      offset = -offset;
      result.zone_unknown = offset == 0;
    }
    result.zone_minutes = offset;
  } else if (at_spaced(DateTokenKind::kWord)) {
    std::optional<int> offset = NamedZone(tokens[i++].text);
    result.zone_minutes = offset.value_or(0);
    result.zone_unknown = !offset.has_value();
  } else {
    return std::nullopt;  // RFC 5322 requires a zone
  }
  if (i != tokens.size()) {
    return std::nullopt;
  }
  // Only the calendar needs the written year in range here; the contract's
  // 1601-9999 applies to the UTC date below (the one a name shows).
  if (year < 1 || year > 9999 || day < 1 || day > DaysInMonth(year, month) || hour < 0 ||
      hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) {
    return std::nullopt;
  }
  if (second == 60) {
    second = 59;  // a leap second
  }
  std::int64_t local = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  result.utc_seconds = local - static_cast<std::int64_t>(result.zone_minutes) * 60;
  std::int64_t utc_year = CivilFromDays(FloorDiv(result.utc_seconds, 86400)).year;
  if (utc_year < 1601 || utc_year > 9999) {
    return std::nullopt;
  }
  return result;
}

UtcCalendar BreakDownUtc(std::int64_t utc_seconds) {
  std::int64_t days = FloorDiv(utc_seconds, 86400);
  auto second_of_day = static_cast<int>(utc_seconds - days * 86400);
  Civil civil = CivilFromDays(days);
  return UtcCalendar{civil.year, civil.month, civil.day, second_of_day / 3600, second_of_day / 60 % 60,
                     second_of_day % 60};
}

std::string FormatDate(const DateTime& date) {
  int zone = date.zone_unknown ? 0 : date.zone_minutes;
  std::int64_t local = date.utc_seconds + static_cast<std::int64_t>(zone) * 60;
  std::int64_t days = FloorDiv(local, 86400);
  std::int64_t seconds = local - days * 86400;
  Civil civil = CivilFromDays(days);
  // 1970-01-01 was a Thursday.
  std::int64_t weekday = ((days + 4) % 7 + 7) % 7;
  char sign = zone < 0 || date.zone_unknown ? '-' : '+';
  int zone_abs = zone < 0 ? -zone : zone;
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%s, %d %s %04lld %02d:%02d:%02d %c%02d%02d",
                std::string(kDays[weekday]).c_str(), civil.day,
                std::string(kMonths[civil.month - 1]).c_str(), static_cast<long long>(civil.year),
                static_cast<int>(seconds / 3600), static_cast<int>(seconds / 60 % 60),
                static_cast<int>(seconds % 60), sign, zone_abs / 60, zone_abs % 60);
  return buf;
}

std::vector<Mailbox> ParseAddressList(std::string_view unfolded_value) {
  std::vector<AddrToken> tokens = LexAddresses(unfolded_value);
  std::vector<Mailbox> out;
  std::vector<const AddrToken*> phrase;
  bool in_group = false;
  std::size_t i = 0;
  while (i < tokens.size()) {
    const AddrToken& token = tokens[i];
    if (token.kind != AddrTokenKind::kSpecial) {
      phrase.push_back(&token);
      ++i;
      continue;
    }
    char c = token.raw[0];
    if (c == '<') {
      // angle-addr, with an obsolete route "@a,@b:" dropped.
      std::vector<const AddrToken*> inside;
      ++i;
      while (i < tokens.size() && tokens[i].raw != ">") {
        inside.push_back(&tokens[i]);
        ++i;
      }
      std::string address = StripRoute(Concatenate(inside));
      std::string name = DisplayName(phrase);
      phrase.clear();
      if (!name.empty() || !address.empty()) {
        out.push_back(Mailbox{std::move(name), std::move(address)});
      }
      // Anything up to the next separator is junk.
      while (i < tokens.size() && tokens[i].raw != "," && tokens[i].raw != ";") {
        ++i;
      }
      continue;
    }
    if (c == ':' && !in_group) {
      in_group = true;  // the group's display name is dropped
      phrase.clear();
    } else if (c == ',' || c == ';') {
      AddBareMailbox(phrase, &out);
      phrase.clear();
      if (c == ';') {
        in_group = false;
      }
    }
    ++i;
  }
  AddBareMailbox(phrase, &out);
  return out;
}

std::string FirstAddrSpec(std::string_view unfolded_value) {
  // The first angle-addr, or the first bare element holding an '@': a bare
  // word without one ("John Doe", "root") is a name, not an addr-spec.
  std::vector<AddrToken> tokens = LexAddresses(unfolded_value);
  std::vector<const AddrToken*> phrase;
  for (std::size_t i = 0; i <= tokens.size(); ++i) {
    if (i < tokens.size() && tokens[i].kind != AddrTokenKind::kSpecial) {
      phrase.push_back(&tokens[i]);
      continue;
    }
    char c = i < tokens.size() ? tokens[i].raw[0] : ',';
    if (c == '<') {
      std::vector<const AddrToken*> inside;
      for (++i; i < tokens.size() && tokens[i].raw != ">"; ++i) {
        inside.push_back(&tokens[i]);
      }
      return StripRoute(Concatenate(inside));
    }
    if (c == ':') {
      phrase.clear();  // a group's display name
    } else if (c == ',' || c == ';') {
      std::string bare = Concatenate(phrase);
      if (bare.find('@') != std::string::npos) {
        return bare;
      }
      phrase.clear();
    }
  }
  return std::string();
}

std::string MessageIdToken(std::string_view unfolded_value) {
  std::string value = SanitizeUtf8(unfolded_value);
  std::string_view s = value;
  // The first "<...>" holding no other '<' or '>'.
  for (std::size_t open = s.find('<'); open != std::string_view::npos;
       open = s.find('<', open + 1)) {
    std::size_t next = s.find_first_of("<>", open + 1);
    if (next == std::string_view::npos) {
      break;
    }
    if (s[next] == '>') {
      return std::string(s.substr(open + 1, next - open - 1));
    }
  }
  // Else the first whitespace-delimited token, as it is (design.md §3 takes
  // the words literally: a leading comment is that token).
  std::size_t begin = 0;
  while (begin < s.size() && IsLineSpace(s[begin])) {
    ++begin;
  }
  std::size_t end = begin;
  while (end < s.size() && !IsLineSpace(s[end])) {
    ++end;
  }
  return std::string(s.substr(begin, end - begin));
}

}  // namespace mailfs::mime
