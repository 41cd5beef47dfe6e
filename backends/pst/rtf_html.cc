#include "backends/pst/rtf_html.h"

#include <cctype>
#include <cstdint>
#include <map>
#include <vector>

#include "backends/mime/charset.h"

namespace mailfs::pst {
namespace {

// Windows code page of an RTF \fcharset value (0 and unknown values: the
// document's \ansicpg).
int CodePageOfCharset(int charset) {
  switch (charset) {
    case 128: return 932;
    case 129: return 949;
    case 134: return 936;
    case 136: return 950;
    case 161: return 1253;
    case 162: return 1254;
    case 163: return 1258;
    case 177: return 1255;
    case 178: return 1256;
    case 186: return 1257;
    case 204: return 1251;
    case 222: return 874;
    case 238: return 1250;
    default: return 0;
  }
}

// Where the group being read sends its content.
enum class Dest {
  kDocument,  // the document body: text outside \htmlrtf runs is HTML text
  kHtmlTag,   // a \*\htmltag group: HTML markup, always copied
  kFontTable, // \fonttbl: read for the fonts' code pages
  kSkip,      // any other destination: ignored
};

struct Group {
  Dest dest = Dest::kDocument;
  bool suppressed = false;  // inside \htmlrtf ... \htmlrtf0
  bool star = false;        // "\*" seen: the next control word names an ignorable destination
  int font = -1;            // current \f
  int uc = 1;               // \uc: characters after a \u that stand in for it
};

class Decoder {
 public:
  explicit Decoder(std::string_view rtf) : in_(rtf) {}

  std::optional<std::string> Run() {
    // The document must start with {\rtf.
    std::size_t start = in_.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos || in_.substr(start, 5) != "{\\rtf") return std::nullopt;
    pos_ = start;
    while (pos_ < in_.size() && !failed_) {
      char c = in_[pos_];
      if (c == '{') {
        ++pos_;
        Flush();
        groups_.push_back(groups_.empty() ? Group() : Cur());
        groups_.back().star = false;
        skip_chars_ = 0;
      } else if (c == '}') {
        ++pos_;
        Flush();
        if (groups_.empty()) break;
        groups_.pop_back();
        skip_chars_ = 0;
        if (groups_.empty()) break;  // end of the document
      } else if (c == '\\') {
        ++pos_;
        ControlToken();
      } else if (c == '\r' || c == '\n') {
        ++pos_;  // line ends in RTF source are not content
      } else {
        ++pos_;
        Byte(static_cast<unsigned char>(c), false);
      }
    }
    Flush();
    if (!from_html_) return std::nullopt;
    return out_;
  }

 private:
  Group& Cur() { return groups_.back(); }

  bool Emitting() const {
    if (groups_.empty()) return false;
    const Group& g = groups_.back();
    if (g.dest == Dest::kHtmlTag) return true;
    return g.dest == Dest::kDocument && !g.suppressed;
  }

  // Text seen before \fromhtml1: the document is not encapsulated HTML.
  void Content(bool whitespace) {
    if (!from_html_ && !whitespace) failed_ = true;
  }

  int CodePage() const {
    const Group& g = groups_.back();
    if (g.dest == Dest::kDocument && g.font >= 0) {
      auto it = font_cp_.find(g.font);
      if (it != font_cp_.end() && it->second != 0) return it->second;
    }
    return ansi_cp_;
  }

  // One byte of text, literal (|escaped| false) or from \'hh.
  void Byte(unsigned char b, bool escaped) {
    if (groups_.empty()) return;
    if (skip_chars_ > 0) {
      --skip_chars_;
      return;
    }
    if (!escaped && (b == ' ' || b == '\t') && !from_html_) return;
    if (!Emitting()) return;
    Content(b == ' ' || b == '\t');
    if (failed_) return;
    int cp = CodePage();
    if (cp != pending_cp_) Flush();
    pending_cp_ = cp;
    pending_.push_back(static_cast<char>(b));
  }

  // Text that is already UTF-8 (line breaks, \u characters).
  void Utf8(std::string_view s) {
    if (!Emitting()) return;
    Content(s.find_first_not_of(" \t\r\n") == std::string_view::npos);
    if (failed_) return;
    Flush();
    out_ += s;
  }

  void CodePoint(std::uint32_t cp) {
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    std::string s;
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    Utf8(s);
  }

  // Converts the bytes gathered in one code page.
  void Flush() {
    if (pending_.empty()) return;
    std::optional<std::string> utf8;
    if (mime::IsSupportedCodePage(pending_cp_)) utf8 = mime::CodePageToUtf8(pending_cp_, pending_);
    if (!utf8) utf8 = mime::CodePageToUtf8(1252, pending_);
    out_ += utf8 ? *utf8 : mime::SanitizeUtf8(pending_);
    pending_.clear();
  }

  void ControlToken() {
    if (pos_ >= in_.size()) return;
    char c = in_[pos_];
    if (std::isalpha(static_cast<unsigned char>(c))) {
      std::size_t begin = pos_;
      while (pos_ < in_.size() && std::isalpha(static_cast<unsigned char>(in_[pos_]))) ++pos_;
      std::string_view word = in_.substr(begin, pos_ - begin);
      std::optional<long> param;
      bool negative = false;
      if (pos_ < in_.size() && in_[pos_] == '-' && pos_ + 1 < in_.size() &&
          std::isdigit(static_cast<unsigned char>(in_[pos_ + 1]))) {
        negative = true;
        ++pos_;
      }
      if (pos_ < in_.size() && std::isdigit(static_cast<unsigned char>(in_[pos_]))) {
        long v = 0;
        while (pos_ < in_.size() && std::isdigit(static_cast<unsigned char>(in_[pos_]))) {
          if (v < 100000000) v = v * 10 + (in_[pos_] - '0');
          ++pos_;
        }
        param = negative ? -v : v;
      }
      if (pos_ < in_.size() && in_[pos_] == ' ') ++pos_;  // the delimiter belongs to the word
      Word(word, param);
      return;
    }
    ++pos_;
    if (groups_.empty()) return;
    switch (c) {
      case '*':
        Cur().star = true;
        return;
      case '\'': {
        if (pos_ + 2 > in_.size()) {
          pos_ = in_.size();
          return;
        }
        auto hex = [](char h) -> int {
          if (h >= '0' && h <= '9') return h - '0';
          if (h >= 'a' && h <= 'f') return h - 'a' + 10;
          if (h >= 'A' && h <= 'F') return h - 'A' + 10;
          return -1;
        };
        int hi = hex(in_[pos_]), lo = hex(in_[pos_ + 1]);
        pos_ += 2;
        if (hi >= 0 && lo >= 0) Byte(static_cast<unsigned char>(hi * 16 + lo), true);
        return;
      }
      case '{':
      case '}':
      case '\\':
        Byte(static_cast<unsigned char>(c), true);
        return;
      case '~':
        skip_chars_ = 0;
        CodePoint(0xA0);
        return;
      case '_':
        skip_chars_ = 0;
        Utf8("-");
        return;
      case '\r':
      case '\n':
        skip_chars_ = 0;
        Utf8("\r\n");
        return;
      default:
        return;  // \- (optional hyphen), \: and others: no text
    }
  }

  void Word(std::string_view word, std::optional<long> param) {
    if (groups_.empty()) return;
    Group& g = Cur();
    bool star = g.star;
    g.star = false;
    if (word == "u") {
      if (param && g.dest != Dest::kSkip && g.dest != Dest::kFontTable) {
        long v = *param < 0 ? *param + 65536 : *param;
        skip_chars_ = 0;
        CodePoint(static_cast<std::uint32_t>(v));
        skip_chars_ = Cur().uc;
      }
      return;
    }
    skip_chars_ = 0;
    if (word == "htmltag") {
      Flush();
      if (!from_html_) failed_ = true;
      g.dest = Dest::kHtmlTag;
      return;
    }
    if (star || word == "fonttbl" || word == "colortbl" || word == "stylesheet" || word == "info" ||
        word == "pict" || word == "object" || word == "header" || word == "footer" || word == "mhtmltag") {
      Flush();
      g.dest = word == "fonttbl" ? Dest::kFontTable : Dest::kSkip;
      return;
    }
    if (g.dest == Dest::kFontTable) {
      if (word == "f" && param) table_font_ = static_cast<int>(*param);
      if (word == "fcharset" && param && table_font_ >= 0) font_cp_[table_font_] = CodePageOfCharset(static_cast<int>(*param));
      if (word == "cpg" && param && table_font_ >= 0) font_cp_[table_font_] = static_cast<int>(*param);
      return;
    }
    if (word == "fromhtml") {
      if (param.value_or(0) == 1 && out_.empty()) from_html_ = true;
      return;
    }
    if (word == "ansicpg") {
      if (param && *param > 0) ansi_cp_ = static_cast<int>(*param);
      return;
    }
    if (word == "uc") {
      if (param && *param >= 0 && *param < 16) g.uc = static_cast<int>(*param);
      return;
    }
    if (word == "f") {
      if (param) g.font = static_cast<int>(*param);
      return;
    }
    if (word == "htmlrtf") {
      if (g.dest == Dest::kDocument) {
        Flush();
        g.suppressed = param.value_or(1) != 0;
      }
      return;
    }
    if (word == "par" || word == "line") {
      Utf8("\r\n");
    } else if (word == "tab") {
      Utf8("\t");
    } else if (word == "emdash") {
      CodePoint(0x2014);
    } else if (word == "endash") {
      CodePoint(0x2013);
    } else if (word == "lquote") {
      CodePoint(0x2018);
    } else if (word == "rquote") {
      CodePoint(0x2019);
    } else if (word == "ldblquote") {
      CodePoint(0x201C);
    } else if (word == "rdblquote") {
      CodePoint(0x201D);
    } else if (word == "bullet") {
      CodePoint(0x2022);
    }
    // Every other control word changes formatting only.
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  std::vector<Group> groups_;
  std::map<int, int> font_cp_;  // \f number -> code page (0: the default)
  int table_font_ = -1;
  int ansi_cp_ = 1252;
  int skip_chars_ = 0;
  bool from_html_ = false;
  bool failed_ = false;
  std::string pending_;  // bytes in pending_cp_ not yet converted
  int pending_cp_ = 1252;
  std::string out_;
};

}  // namespace

std::optional<std::string> HtmlFromRtf(std::string_view rtf) {
  Decoder decoder(rtf);
  return decoder.Run();
}

}  // namespace mailfs::pst
