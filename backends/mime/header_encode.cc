#include "backends/mime/header_encode.h"

#include <algorithm>
#include <cstdint>

namespace mailfs::mime {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kQPrefix = "=?UTF-8?Q?";
constexpr std::string_view kBPrefix = "=?UTF-8?B?";
constexpr std::string_view kSuffix = "?=";
constexpr std::size_t kWordOverhead = 12;   // prefix + suffix
constexpr std::size_t kMinFirstLimit = 24;  // room for one 4-byte char in Q
// Plain words longer than this are encoded so that they can be split.
constexpr std::size_t kMaxPlainWord = 900;

bool IsWsp(char c) {
  return c == ' ' || c == '\t';
}

// Length of the UTF-8 sequence starting at text[i]; a broken sequence counts
// as its lead byte plus the continuation bytes that follow it (at most 3).
std::size_t SequenceLength(std::string_view text, std::size_t i) {
  auto b = static_cast<unsigned char>(text[i]);
  std::size_t want = 1;
  if (b >= 0xF0) {
    want = 4;
  } else if (b >= 0xE0) {
    want = 3;
  } else if (b >= 0xC0) {
    want = 2;
  }
  std::size_t n = 1;
  while (n < want && i + n < text.size() &&
         (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) {
    ++n;
  }
  return n;
}

bool QLiteral(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '!' ||
         c == '*' || c == '+' || c == '-' || c == '/';
}

void AppendQ(std::string& out, std::string_view bytes) {
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    if (QLiteral(c)) {
      out += ch;
    } else if (c == ' ') {
      out += '_';
    } else {
      out += '=';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
}

std::size_t QLength(std::string_view bytes) {
  std::size_t n = 0;
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    n += (QLiteral(c) || c == ' ') ? 1 : 3;
  }
  return n;
}

void AppendBase64(std::string& out, std::string_view bytes) {
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t v = (static_cast<unsigned char>(bytes[i]) << 16) |
                      (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                      static_cast<unsigned char>(bytes[i + 2]);
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += kBase64[(v >> 6) & 63];
    out += kBase64[v & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    std::uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    std::uint32_t v = (static_cast<unsigned char>(bytes[i]) << 16) |
                      (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += kBase64[(v >> 6) & 63];
    out += '=';
  }
}

std::size_t Base64Length(std::size_t bytes) {
  return (bytes + 2) / 3 * 4;
}

// Splits |text| into chunks at UTF-8 boundaries such that
// kWordOverhead + cost(chunk) <= limit, the first limit being |first_limit|.
template <typename CostFn>
std::vector<std::string_view> Chunk(std::string_view text, std::size_t first_limit, CostFn cost) {
  std::vector<std::string_view> chunks;
  std::size_t limit = first_limit;
  std::size_t start = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t n = SequenceLength(text, i);
    std::string_view candidate = text.substr(start, i + n - start);
    if (i > start && kWordOverhead + cost(candidate) > limit) {
      chunks.push_back(text.substr(start, i - start));
      start = i;
      limit = kMaxEncodedWord;
      continue;
    }
    i += n;
  }
  if (start < text.size()) {
    chunks.push_back(text.substr(start));
  }
  return chunks;
}

bool NeedsEncoding(std::string_view word) {
  if (word.size() > kMaxPlainWord) {
    return true;
  }
  for (char ch : word) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7F) {
      return true;
    }
  }
  return word.find("=?") != std::string_view::npos;
}

// Adds encoded words for |text| after the whitespace |ws|.
void AddEncodedRun(FieldFolder& folder, std::string_view ws, std::string_view text) {
  std::size_t first_limit = kMaxEncodedWord;
  if (!folder.LineHasWord()) {
    std::size_t room = folder.Remaining();
    first_limit = room > ws.size() ? room - ws.size() : 0;
  }
  std::vector<std::string> words = EncodeWords(text, first_limit);
  for (std::size_t i = 0; i < words.size(); ++i) {
    folder.Add(i == 0 ? ws : std::string_view(" "), words[i]);
  }
}

bool IsTspecial(char c) {
  return std::string_view("()<>@,;:\\\"/[]?=").find(c) != std::string_view::npos;
}

// RFC 2231 attribute-char: printable ASCII except space, "*", "'", "%" and
// the tspecials.
bool IsAttributeChar(unsigned char c) {
  return c > 0x20 && c < 0x7F && c != '*' && c != '\'' && c != '%' &&
         !IsTspecial(static_cast<char>(c));
}

std::string QuoteString(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
  return out;
}

bool IsPrintableAscii(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c >= 0x20 && c < 0x7F;
  });
}

// The address between angle brackets: characters that would end the
// brackets or the line ("<", ">", controls) are dropped.
std::string AngleAddress(std::string_view address) {
  std::string out = "<";
  for (char ch : address) {
    auto c = static_cast<unsigned char>(ch);
    if (c != '<' && c != '>' && c >= 0x20 && c != 0x7F) {
      out += ch;
    }
  }
  out += '>';
  return out;
}

}  // namespace

FieldFolder::FieldFolder(std::string_view name) : out_(name) {
  out_ += ':';
  column_ = out_.size();
}

void FieldFolder::Add(std::string_view ws, std::string_view word) {
  if (!ws.empty() && line_has_word_ && column_ + ws.size() + word.size() > kFoldColumn) {
    out_ += "\r\n";
    column_ = 0;
  }
  out_ += ws;
  out_ += word;
  column_ += ws.size() + word.size();
  line_has_word_ = true;
}

std::size_t FieldFolder::Remaining() const {
  return column_ < kFoldColumn ? kFoldColumn - column_ : 0;
}

std::string FieldFolder::Finish() const {
  return out_ + "\r\n";
}

std::vector<std::string> EncodeWords(std::string_view text, std::size_t first_limit) {
  first_limit = std::clamp(first_limit, kMinFirstLimit, kMaxEncodedWord);
  auto q_chunks = Chunk(text, first_limit, [](std::string_view s) { return QLength(s); });
  auto b_chunks =
      Chunk(text, first_limit, [](std::string_view s) { return Base64Length(s.size()); });
  std::size_t q_total = 0;
  for (auto c : q_chunks) {
    q_total += kWordOverhead + QLength(c) + 1;
  }
  std::size_t b_total = 0;
  for (auto c : b_chunks) {
    b_total += kWordOverhead + Base64Length(c.size()) + 1;
  }
  std::vector<std::string> words;
  bool use_q = q_total <= b_total;
  for (auto c : use_q ? q_chunks : b_chunks) {
    std::string word(use_q ? kQPrefix : kBPrefix);
    if (use_q) {
      AppendQ(word, c);
    } else {
      AppendBase64(word, c);
    }
    word += kSuffix;
    words.push_back(std::move(word));
  }
  return words;
}

void AddUnstructured(FieldFolder& folder, std::string_view value) {
  // Split into (leading whitespace, word) pairs; trailing whitespace is kept
  // apart.
  struct Token {
    std::string_view ws;
    std::string_view word;
    bool encode;
  };
  std::vector<Token> tokens;
  std::size_t i = 0;
  std::string_view leading;
  while (i < value.size()) {
    std::size_t ws_start = i;
    while (i < value.size() && IsWsp(value[i])) {
      ++i;
    }
    std::size_t word_start = i;
    while (i < value.size() && !IsWsp(value[i])) {
      ++i;
    }
    std::string_view ws = value.substr(ws_start, word_start - ws_start);
    std::string_view word = value.substr(word_start, i - word_start);
    if (word.empty()) {
      // Trailing whitespace (or a value that is only whitespace).
      if (tokens.empty()) {
        leading = ws;
      } else {
        tokens.back().encode = true;
      }
      break;
    }
    if (tokens.empty()) {
      leading = ws;
    }
    tokens.push_back({ws, word, NeedsEncoding(word)});
  }
  if (tokens.empty()) {
    if (!leading.empty()) {
      AddEncodedRun(folder, " ", leading);
    }
    return;
  }
  if (!leading.empty()) {
    tokens.front().encode = true;
  }
  std::size_t last_end = value.size();
  i = 0;
  while (i < tokens.size()) {
    std::string_view sep = i == 0 ? std::string_view(" ") : tokens[i].ws;
    if (!tokens[i].encode) {
      folder.Add(sep, tokens[i].word);
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j + 1 < tokens.size() && tokens[j + 1].encode) {
      ++j;
    }
    // The run covers words i..j with the whitespace between them, plus the
    // value's leading / trailing whitespace at the ends.
    const char* begin = i == 0 ? value.data() : tokens[i].word.data();
    const char* end = j + 1 == tokens.size() ? value.data() + last_end
                                             : tokens[j].word.data() + tokens[j].word.size();
    AddEncodedRun(folder, sep, std::string_view(begin, static_cast<std::size_t>(end - begin)));
    i = j + 1;
  }
}

std::string RenderUnstructuredField(std::string_view name, std::string_view value) {
  FieldFolder folder(name);
  AddUnstructured(folder, value);
  return folder.Finish();
}

std::string RenderMailbox(const Mailbox& mailbox) {
  std::string out;
  if (!mailbox.name.empty()) {
    if (IsPrintableAscii(mailbox.name) && mailbox.name.find("=?") == std::string::npos) {
      out = QuoteString(mailbox.name);
    } else {
      std::vector<std::string> words = EncodeWords(mailbox.name, kMaxEncodedWord);
      for (std::size_t i = 0; i < words.size(); ++i) {
        if (i > 0) {
          out += ' ';
        }
        out += words[i];
      }
    }
    out += ' ';
  }
  out += AngleAddress(mailbox.address);
  return out;
}

std::string RenderAddressField(std::string_view name, const std::vector<Mailbox>& mailboxes) {
  std::vector<const Mailbox*> kept;
  for (const Mailbox& m : mailboxes) {
    if (!m.name.empty() || !m.address.empty()) {
      kept.push_back(&m);
    }
  }
  if (kept.empty()) {
    return "";
  }
  FieldFolder folder(name);
  for (std::size_t k = 0; k < kept.size(); ++k) {
    const Mailbox& m = *kept[k];
    std::string addr = AngleAddress(m.address);
    if (k + 1 < kept.size()) {
      addr += ',';
    }
    if (m.name.empty()) {
      folder.Add(" ", addr);
      continue;
    }
    if (IsPrintableAscii(m.name) && m.name.find("=?") == std::string::npos) {
      folder.Add(" ", QuoteString(m.name));
    } else {
      AddEncodedRun(folder, " ", m.name);
    }
    folder.Add(" ", addr);
  }
  return folder.Finish();
}

std::string RenderTokenField(std::string_view name, std::string_view value) {
  FieldFolder folder(name);
  bool any = false;
  std::size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && IsWsp(value[i])) {
      ++i;
    }
    std::size_t start = i;
    while (i < value.size() && !IsWsp(value[i])) {
      ++i;
    }
    if (i > start) {
      folder.Add(" ", value.substr(start, i - start));
      any = true;
    }
  }
  return any ? folder.Finish() : "";
}

bool IsMimeToken(std::string_view value) {
  if (value.empty()) {
    return false;
  }
  return std::all_of(value.begin(), value.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c > 0x20 && c < 0x7F && !IsTspecial(ch);
  });
}

void AddParam(FieldFolder& folder, const Param& param, bool always_quote, bool last) {
  std::string_view sep = last ? "" : ";";
  if (IsPrintableAscii(param.value)) {
    std::string word = param.name + "=";
    if (!always_quote && IsMimeToken(param.value)) {
      word += param.value;
    } else {
      word += QuoteString(param.value);
    }
    word += sep;
    // Fits on a continuation line of its own: keep the plain form.
    if (1 + word.size() <= kFoldColumn) {
      folder.Add(" ", word);
      return;
    }
  }
  // RFC 2231 extended form: charset'language'percent-encoded, split into
  // numbered sections when it does not fit one line. Sections end at UTF-8
  // character boundaries.
  std::vector<std::string> pieces;  // percent-encoded, one per character
  for (std::size_t i = 0; i < param.value.size();) {
    std::size_t n = SequenceLength(param.value, i);
    std::string piece;
    for (std::size_t k = i; k < i + n; ++k) {
      auto c = static_cast<unsigned char>(param.value[k]);
      if (IsAttributeChar(c)) {
        piece += static_cast<char>(c);
      } else {
        piece += '%';
        piece += kHex[c >> 4];
        piece += kHex[c & 15];
      }
    }
    pieces.push_back(std::move(piece));
    i += n;
  }
  constexpr std::string_view kCharset = "UTF-8''";
  std::size_t total = 0;
  for (const auto& p : pieces) {
    total += p.size();
  }
  std::string single = param.name + "*=" + std::string(kCharset);
  if (1 + single.size() + total + sep.size() <= kFoldColumn) {
    for (const auto& p : pieces) {
      single += p;
    }
    single += sep;
    folder.Add(" ", single);
    return;
  }
  std::vector<std::string> sections;
  std::size_t index = 0;
  std::size_t k = 0;
  while (k < pieces.size() || sections.empty()) {
    std::string word = param.name + "*" + std::to_string(index) + "*=";
    if (index == 0) {
      word += kCharset;
    }
    // Leave room for the leading space and a trailing ";".
    std::size_t budget = kFoldColumn - 2;
    bool took = false;
    while (k < pieces.size() && (!took || word.size() + pieces[k].size() <= budget)) {
      word += pieces[k];
      ++k;
      took = true;
    }
    sections.push_back(std::move(word));
    ++index;
  }
  for (std::size_t s = 0; s < sections.size(); ++s) {
    bool final_section = s + 1 == sections.size();
    folder.Add(" ", final_section ? sections[s] + std::string(sep) : sections[s] + ";");
  }
}

}  // namespace mailfs::mime
