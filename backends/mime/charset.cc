// Charset conversion with a fixed table (design.md §3).
//
// Only the names listed below are accepted; each maps to one glibc iconv
// converter. A few MIME names are decoded with the Windows superset that mail
// clients really produce: Shift_JIS with CP932 (so 0x5C and 0x7E stay "\" and
// "~", as in the ASCII fast path), GB2312 with GBK, Big5 with CP950 and
// EUC-KR with CP949. Each superset decodes every valid sequence of the base
// charset to the same code point. windows-1258 is decoded byte by byte, so
// glibc does not compose tone marks with their letters (no normalisation).
//
// Errors never throw: an invalid or unmappable sequence becomes one U+FFFD.
// For the double-byte charsets a bad lead byte followed by a non-ASCII byte
// counts as one sequence (both bytes are replaced); a bad byte followed by an
// ASCII byte replaces the bad byte only, and the ASCII byte is decoded again.
//
// Thread safety: iconv descriptors are not shareable, so each thread keeps its
// own small cache of open descriptors (thread_local), closed at thread exit.

#include "backends/mime/charset.h"

#include <errno.h>
#include <iconv.h>

#include <array>
#include <cctype>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace mailfs::mime {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// How a converter is driven and how its errors are skipped.
enum class Kind {
  kUtf8,        // validated by SanitizeUtf8, no iconv
  kAscii,       // 8-bit bytes are errors, no iconv
  kSingleByte,  // one byte per character
  kByteTable,   // one byte per character, decoded byte by byte (see below)
  kShiftJis,    // lead bytes 0x81-0x9F, 0xE0-0xFC
  kEucJp,       // lead bytes 0x8E, 0x8F, 0xA1-0xFE
  kDoubleByte,  // lead bytes 0x81-0xFE (GBK, GB18030, CP949, CP950)
  kIso2022,     // 7-bit, stateful (escape sequences)
};

struct Encoding {
  const char* iconv_name;
  Kind kind;
};

constexpr Encoding kUtf8{"UTF-8", Kind::kUtf8};
constexpr Encoding kAscii{"ASCII", Kind::kAscii};

struct Alias {
  std::string_view name;  // as usually written; matched after NormalizeName
  Encoding encoding;
};

// Single-byte converters, named the way glibc knows them.
constexpr Encoding Sb(const char* iconv_name) {
  return Encoding{iconv_name, Kind::kSingleByte};
}

constexpr Encoding kLatin1 = Sb("ISO-8859-1");
constexpr Encoding kLatin2 = Sb("ISO-8859-2");
constexpr Encoding kLatin3 = Sb("ISO-8859-3");
constexpr Encoding kLatin4 = Sb("ISO-8859-4");
constexpr Encoding kCyrillic = Sb("ISO-8859-5");
constexpr Encoding kArabic = Sb("ISO-8859-6");
constexpr Encoding kGreek = Sb("ISO-8859-7");
constexpr Encoding kHebrew = Sb("ISO-8859-8");
constexpr Encoding kLatin5 = Sb("ISO-8859-9");
constexpr Encoding kLatin6 = Sb("ISO-8859-10");
constexpr Encoding kThai = Sb("ISO-8859-11");
constexpr Encoding kLatin7 = Sb("ISO-8859-13");
constexpr Encoding kLatin8 = Sb("ISO-8859-14");
constexpr Encoding kLatin9 = Sb("ISO-8859-15");
constexpr Encoding kLatin10 = Sb("ISO-8859-16");
constexpr Encoding kWin1250 = Sb("WINDOWS-1250");
constexpr Encoding kWin1251 = Sb("WINDOWS-1251");
constexpr Encoding kWin1252 = Sb("WINDOWS-1252");
constexpr Encoding kWin1253 = Sb("WINDOWS-1253");
constexpr Encoding kWin1254 = Sb("WINDOWS-1254");
constexpr Encoding kWin1255 = Sb("WINDOWS-1255");
constexpr Encoding kWin1256 = Sb("WINDOWS-1256");
constexpr Encoding kWin1257 = Sb("WINDOWS-1257");
// glibc's CP1258 converter composes a letter and a following tone mark into
// one precomposed character. That is a normalisation, which design.md §3
// rules out, so CP1258 is decoded through a per-byte table instead.
constexpr Encoding kWin1258{"WINDOWS-1258", Kind::kByteTable};
constexpr Encoding kKoi8R = Sb("KOI8-R");
constexpr Encoding kKoi8U = Sb("KOI8-U");
constexpr Encoding kCp437 = Sb("IBM437");
constexpr Encoding kCp850 = Sb("IBM850");
constexpr Encoding kWin874 = Sb("WINDOWS-874");
constexpr Encoding kMacRoman = Sb("MACINTOSH");
constexpr Encoding kGbk{"GBK", Kind::kDoubleByte};
constexpr Encoding kGb18030{"GB18030", Kind::kDoubleByte};
constexpr Encoding kBig5{"CP950", Kind::kDoubleByte};
constexpr Encoding kShiftJis{"CP932", Kind::kShiftJis};
constexpr Encoding kEucJp{"EUC-JP", Kind::kEucJp};
constexpr Encoding kIso2022Jp{"ISO-2022-JP", Kind::kIso2022};
constexpr Encoding kEucKr{"CP949", Kind::kDoubleByte};

// The MIME charset table. Names are compared case-insensitively and ignoring
// punctuation ("ISO_8859-1" == "iso8859-1" == "ISO-8859-1").
constexpr Alias kAliases[] = {
    // UTF-8 and US-ASCII.
    {"utf-8", kUtf8},
    {"unicode-1-1-utf-8", kUtf8},
    {"us-ascii", kAscii},
    {"ascii", kAscii},
    {"us", kAscii},
    {"ansi_x3.4-1968", kAscii},
    {"ansi_x3.4-1986", kAscii},
    {"iso646-us", kAscii},
    {"iso_646.irv:1991", kAscii},
    {"iso-ir-6", kAscii},
    {"cp367", kAscii},
    {"ibm367", kAscii},
    {"csascii", kAscii},
    // ISO-8859 (there is no part 12).
    {"iso-8859-1", kLatin1},
    {"iso_8859-1:1987", kLatin1},
    {"iso-ir-100", kLatin1},
    {"latin1", kLatin1},
    {"l1", kLatin1},
    {"cp819", kLatin1},
    {"ibm819", kLatin1},
    {"csisolatin1", kLatin1},
    {"iso-8859-2", kLatin2},
    {"iso_8859-2:1987", kLatin2},
    {"iso-ir-101", kLatin2},
    {"latin2", kLatin2},
    {"l2", kLatin2},
    {"csisolatin2", kLatin2},
    {"iso-8859-3", kLatin3},
    {"iso_8859-3:1988", kLatin3},
    {"iso-ir-109", kLatin3},
    {"latin3", kLatin3},
    {"l3", kLatin3},
    {"csisolatin3", kLatin3},
    {"iso-8859-4", kLatin4},
    {"iso_8859-4:1988", kLatin4},
    {"iso-ir-110", kLatin4},
    {"latin4", kLatin4},
    {"l4", kLatin4},
    {"csisolatin4", kLatin4},
    {"iso-8859-5", kCyrillic},
    {"iso_8859-5:1988", kCyrillic},
    {"iso-ir-144", kCyrillic},
    {"cyrillic", kCyrillic},
    {"csisolatincyrillic", kCyrillic},
    {"iso-8859-6", kArabic},
    {"iso_8859-6:1987", kArabic},
    {"iso-ir-127", kArabic},
    {"arabic", kArabic},
    {"asmo-708", kArabic},
    {"ecma-114", kArabic},
    {"csisolatinarabic", kArabic},
    {"iso-8859-7", kGreek},
    {"iso_8859-7:1987", kGreek},
    {"iso-ir-126", kGreek},
    {"greek", kGreek},
    {"greek8", kGreek},
    {"ecma-118", kGreek},
    {"elot_928", kGreek},
    {"csisolatingreek", kGreek},
    {"iso-8859-8", kHebrew},
    {"iso_8859-8:1988", kHebrew},
    {"iso-8859-8-i", kHebrew},
    {"iso-ir-138", kHebrew},
    {"hebrew", kHebrew},
    {"csisolatinhebrew", kHebrew},
    {"iso-8859-9", kLatin5},
    {"iso_8859-9:1989", kLatin5},
    {"iso-ir-148", kLatin5},
    {"latin5", kLatin5},
    {"l5", kLatin5},
    {"csisolatin5", kLatin5},
    {"iso-8859-10", kLatin6},
    {"iso_8859-10:1992", kLatin6},
    {"iso-ir-157", kLatin6},
    {"latin6", kLatin6},
    {"l6", kLatin6},
    {"csisolatin6", kLatin6},
    {"iso-8859-11", kThai},
    {"tis-620", kThai},
    {"iso-8859-13", kLatin7},
    {"latin7", kLatin7},
    {"l7", kLatin7},
    {"iso-8859-14", kLatin8},
    {"iso_8859-14:1998", kLatin8},
    {"iso-ir-199", kLatin8},
    {"latin8", kLatin8},
    {"l8", kLatin8},
    {"iso-8859-15", kLatin9},
    {"latin9", kLatin9},
    {"latin-9", kLatin9},
    {"l9", kLatin9},
    {"iso-8859-16", kLatin10},
    {"iso_8859-16:2001", kLatin10},
    {"iso-ir-226", kLatin10},
    {"latin10", kLatin10},
    {"l10", kLatin10},
    // Windows code pages.
    {"windows-1250", kWin1250},
    {"cp1250", kWin1250},
    {"x-cp1250", kWin1250},
    {"windows-1251", kWin1251},
    {"cp1251", kWin1251},
    {"x-cp1251", kWin1251},
    {"windows-1252", kWin1252},
    {"cp1252", kWin1252},
    {"x-cp1252", kWin1252},
    {"ms-ansi", kWin1252},
    {"windows-1253", kWin1253},
    {"cp1253", kWin1253},
    {"windows-1254", kWin1254},
    {"cp1254", kWin1254},
    {"windows-1255", kWin1255},
    {"cp1255", kWin1255},
    {"windows-1256", kWin1256},
    {"cp1256", kWin1256},
    {"windows-1257", kWin1257},
    {"cp1257", kWin1257},
    {"windows-1258", kWin1258},
    {"cp1258", kWin1258},
    // Cyrillic KOI8.
    {"koi8-r", kKoi8R},
    {"koi", kKoi8R},
    {"cskoi8r", kKoi8R},
    {"koi8-u", kKoi8U},
    {"koi8-ru", kKoi8U},
    // Chinese.
    {"gb2312", kGbk},
    {"gb_2312-80", kGbk},
    {"csgb2312", kGbk},
    {"euc-cn", kGbk},
    {"x-euc-cn", kGbk},
    {"chinese", kGbk},
    {"iso-ir-58", kGbk},
    {"csiso58gb231280", kGbk},
    {"gbk", kGbk},
    {"x-gbk", kGbk},
    {"cp936", kGbk},
    {"ms936", kGbk},
    {"windows-936", kGbk},
    {"gb18030", kGb18030},
    {"big5", kBig5},
    {"big-5", kBig5},
    {"csbig5", kBig5},
    {"cn-big5", kBig5},
    {"x-x-big5", kBig5},
    {"cp950", kBig5},
    {"windows-950", kBig5},
    // Japanese.
    {"shift_jis", kShiftJis},
    {"sjis", kShiftJis},
    {"x-sjis", kShiftJis},
    {"ms_kanji", kShiftJis},
    {"csshiftjis", kShiftJis},
    {"windows-31j", kShiftJis},
    {"cp932", kShiftJis},
    {"ms932", kShiftJis},
    {"euc-jp", kEucJp},
    {"x-euc-jp", kEucJp},
    {"cseucpkdfmtjapanese", kEucJp},
    {"iso-2022-jp", kIso2022Jp},
    {"csiso2022jp", kIso2022Jp},
    // Korean.
    {"euc-kr", kEucKr},
    {"cseuckr", kEucKr},
    {"ks_c_5601-1987", kEucKr},
    {"ks_c_5601-1989", kEucKr},
    {"ksc_5601", kEucKr},
    {"ksc5601", kEucKr},
    {"csksc56011987", kEucKr},
    {"iso-ir-149", kEucKr},
    {"korean", kEucKr},
    {"cp949", kEucKr},
    {"windows-949", kEucKr},
    {"uhc", kEucKr},
};

struct CodePage {
  int number;
  Encoding encoding;
};

// Windows code pages used by IFF extracts (iff-format.md §2.1).
constexpr CodePage kCodePages[] = {
    {437, kCp437},    {850, kCp850},      {874, kWin874},   {932, kShiftJis}, {936, kGbk},
    {949, kEucKr},    {950, kBig5},       {1250, kWin1250}, {1251, kWin1251}, {1252, kWin1252},
    {1253, kWin1253}, {1254, kWin1254},   {1255, kWin1255}, {1256, kWin1256}, {1257, kWin1257},
    {1258, kWin1258}, {10000, kMacRoman}, {28591, kLatin1}, {28592, kLatin2}, {28593, kLatin3},
    {28594, kLatin4}, {28595, kCyrillic}, {28596, kArabic}, {28597, kGreek},  {28598, kHebrew},
    {28599, kLatin5}, {65001, kUtf8},
};

// Lowercase letters and digits only: the table lookup key.
std::string NormalizeName(std::string_view name) {
  std::string key;
  key.reserve(name.size());
  for (unsigned char c : name) {
    if (std::isalnum(c) != 0 && c < 0x80) {
      key.push_back(static_cast<char>(std::tolower(c)));
    }
  }
  return key;
}

const Encoding* FindCharset(std::string_view charset) {
  static const std::unordered_map<std::string, const Encoding*> kTable = [] {
    std::unordered_map<std::string, const Encoding*> table;
    for (const Alias& alias : kAliases) {
      table.emplace(NormalizeName(alias.name), &alias.encoding);
    }
    return table;
  }();
  // A name made only of punctuation must not match anything.
  std::string key = NormalizeName(charset);
  if (key.empty()) {
    return nullptr;
  }
  auto it = kTable.find(key);
  return it == kTable.end() ? nullptr : it->second;
}

const Encoding* FindCodePage(int codepage) {
  for (const CodePage& entry : kCodePages) {
    if (entry.number == codepage) {
      return &entry.encoding;
    }
  }
  return nullptr;
}

// Open iconv descriptors of the calling thread, by converter name.
class IconvCache {
 public:
  IconvCache() = default;
  IconvCache(const IconvCache&) = delete;
  IconvCache& operator=(const IconvCache&) = delete;
  ~IconvCache() {
    for (auto& [name, cd] : open_) {
      if (cd != kInvalid) {
        iconv_close(cd);
      }
    }
  }

  // The descriptor converting |from| to UTF-8, reset to its initial state;
  // kInvalid if glibc cannot provide it.
  iconv_t Get(const char* from) {
    auto it = open_.find(from);
    if (it == open_.end()) {
      it = open_.emplace(from, iconv_open("UTF-8", from)).first;
    }
    if (it->second != kInvalid) {
      iconv(it->second, nullptr, nullptr, nullptr, nullptr);
    }
    return it->second;
  }

  static inline const iconv_t kInvalid = reinterpret_cast<iconv_t>(-1);

 private:
  std::unordered_map<std::string, iconv_t> open_;
};

IconvCache& ThreadIconvCache() {
  thread_local IconvCache cache;
  return cache;
}

// Number of bytes one error at |bytes[0]| covers (see the file comment).
std::size_t ErrorLength(Kind kind, std::string_view bytes) {
  if (bytes.size() < 2) {
    return bytes.size();
  }
  auto lead = static_cast<unsigned char>(bytes[0]);
  auto next = static_cast<unsigned char>(bytes[1]);
  bool is_lead = false;
  switch (kind) {
    case Kind::kShiftJis:
      is_lead = (lead >= 0x81 && lead <= 0x9F) || (lead >= 0xE0 && lead <= 0xFC);
      break;
    case Kind::kEucJp:
      is_lead = lead == 0x8E || lead == 0x8F || (lead >= 0xA1 && lead <= 0xFE);
      break;
    case Kind::kDoubleByte:
      is_lead = lead >= 0x81 && lead <= 0xFE;
      break;
    default:
      break;
  }
  return is_lead && next >= 0x80 ? 2 : 1;
}

// Appends what iconv wrote into |buf| to |out| and resets the output window.
void Drain(std::string& out, std::array<char, 4096>& buf, char*& out_ptr, std::size_t& out_left) {
  out.append(buf.data(), static_cast<std::size_t>(out_ptr - buf.data()));
  out_ptr = buf.data();
  out_left = buf.size();
}

// Writes out any character the converter still holds (glibc's CP1258 keeps a
// base letter back to combine it with a following tone mark) and returns it
// to its initial state.
void Flush(iconv_t cd,
           std::string& out,
           std::array<char, 4096>& buf,
           char*& out_ptr,
           std::size_t& out_left) {
  while (iconv(cd, nullptr, nullptr, &out_ptr, &out_left) == static_cast<std::size_t>(-1) &&
         errno == E2BIG) {
    Drain(out, buf, out_ptr, out_left);
  }
  Drain(out, buf, out_ptr, out_left);
}

std::string ConvertWithIconv(const Encoding& encoding, std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  iconv_t cd = ThreadIconvCache().Get(encoding.iconv_name);
  if (cd == IconvCache::kInvalid) {
    // glibc's converter modules are missing: keep ASCII, replace the rest.
    for (unsigned char c : bytes) {
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
      } else {
        out.append(kReplacement);
      }
    }
    return out;
  }
  std::array<char, 4096> buf;
  char* out_ptr = buf.data();
  std::size_t out_left = buf.size();
  // iconv takes a non-const input pointer but never writes through it.
  char* in_ptr = const_cast<char*>(bytes.data());
  std::size_t in_left = bytes.size();
  while (in_left > 0) {
    if (iconv(cd, &in_ptr, &in_left, &out_ptr, &out_left) != static_cast<std::size_t>(-1)) {
      break;
    }
    int error = errno;
    if (error == E2BIG) {
      Drain(out, buf, out_ptr, out_left);
      continue;
    }
    if (encoding.kind != Kind::kIso2022) {
      // A held-back character comes before the replacement. ISO-2022-JP keeps
      // its shift state across the error instead: it holds no characters.
      Flush(cd, out, buf, out_ptr, out_left);
    } else {
      Drain(out, buf, out_ptr, out_left);
    }
    out.append(kReplacement);
    if (error == EILSEQ) {
      std::size_t skip = ErrorLength(encoding.kind, std::string_view(in_ptr, in_left));
      in_ptr += skip;
      in_left -= skip;
    } else {
      // EINVAL: an incomplete sequence at the end of the input.
      in_left = 0;
    }
  }
  Flush(cd, out, buf, out_ptr, out_left);
  return out;
}

// The UTF-8 form of each byte of a single-byte charset, each converted on
// its own (empty: the byte is not mapped). Built once per charset.
// A single-byte charset as a table: the UTF-8 bytes of each byte value
// (U+FFFD where iconv maps nothing), built once from iconv. Decoding by table
// gives iconv's answers at a fraction of the cost, and for CP1258 it avoids
// glibc composing a letter with the tone mark that follows it (above).
struct ByteTable {
  unsigned char length[256];
  char utf8[256][4];
};

ByteTable BuildByteTable(const Encoding& encoding) {
  ByteTable table{};
  for (int b = 0; b < 256; ++b) {
    char byte = static_cast<char>(b);
    std::string converted = b < 0x80 ? std::string(1, byte) : ConvertWithIconv(encoding, std::string_view(&byte, 1));
    if (converted.empty() || converted.size() > 4) {
      converted = std::string(kReplacement);
    }
    table.length[b] = static_cast<unsigned char>(converted.size());
    std::memcpy(table.utf8[b], converted.data(), converted.size());
  }
  return table;
}

// The table of |encoding|, built on first use. Safe to call concurrently.
const ByteTable& TableFor(const Encoding& encoding) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::unique_ptr<const ByteTable>> tables;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = tables[encoding.iconv_name];
  if (!slot) {
    slot = std::make_unique<const ByteTable>(BuildByteTable(encoding));
  }
  return *slot;
}

std::string ConvertByTable(const Encoding& encoding, std::string_view bytes) {
  const ByteTable& table = TableFor(encoding);
  std::string out(bytes.size() * 3, '\0');
  char* p = out.data();
  for (unsigned char c : bytes) {
    if (c < 0x80) {
      *p++ = static_cast<char>(c);
    } else {
      std::memcpy(p, table.utf8[c], 4);
      p += table.length[c];
    }
  }
  out.resize(static_cast<std::size_t>(p - out.data()));
  return out;
}

bool CanPassAscii(Kind kind, std::string_view bytes) {
  if (kind != Kind::kIso2022) {
    return true;
  }
  // ESC, SO and SI change the meaning of the bytes that follow.
  return bytes.find_first_of("\x1B\x0E\x0F") == std::string_view::npos;
}

std::string Convert(const Encoding& encoding, std::string_view bytes) {
  if (encoding.kind == Kind::kUtf8) {
    return SanitizeUtf8(bytes);
  }
  if (IsAscii(bytes) && CanPassAscii(encoding.kind, bytes)) {
    return std::string(bytes);
  }
  if (encoding.kind == Kind::kAscii) {
    std::string out;
    for (unsigned char c : bytes) {
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
      } else {
        out.append(kReplacement);
      }
    }
    return out;
  }
  if (encoding.kind == Kind::kByteTable || encoding.kind == Kind::kSingleByte) {
    return ConvertByTable(encoding, bytes);
  }
  return ConvertWithIconv(encoding, bytes);
}

// Length of the well-formed UTF-8 sequence at the start of |s|, or 0 if it is
// ill-formed; |*bad| then receives the length of its maximal ill-formed
// prefix (at least 1), which is replaced by one U+FFFD.
std::size_t Utf8SequenceLength(std::string_view s, std::size_t* bad) {
  auto b0 = static_cast<unsigned char>(s[0]);
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (b0 < 0x80) {
    return 1;
  } else if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) {
      low = 0xA0;  // no overlong forms
    } else if (b0 == 0xED) {
      high = 0x9F;  // no surrogates
    }
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) {
      low = 0x90;  // no overlong forms
    } else if (b0 == 0xF4) {
      high = 0x8F;  // nothing above U+10FFFF
    }
  } else {
    *bad = 1;
    return 0;
  }
  for (std::size_t i = 1; i < length; ++i) {
    if (i >= s.size()) {
      *bad = i;
      return 0;
    }
    auto b = static_cast<unsigned char>(s[i]);
    unsigned char lo = i == 1 ? low : 0x80;
    unsigned char hi = i == 1 ? high : 0xBF;
    if (b < lo || b > hi) {
      *bad = i;
      return 0;
    }
  }
  return length;
}

}  // namespace

std::optional<std::string> CharsetToUtf8(std::string_view charset, std::string_view bytes) {
  const Encoding* encoding = FindCharset(charset);
  if (encoding == nullptr) {
    return std::nullopt;
  }
  return Convert(*encoding, bytes);
}

bool IsKnownCharset(std::string_view charset) {
  return FindCharset(charset) != nullptr;
}

std::optional<std::string> CodePageToUtf8(int codepage, std::string_view bytes) {
  const Encoding* encoding = FindCodePage(codepage);
  if (encoding == nullptr) {
    return std::nullopt;
  }
  return Convert(*encoding, bytes);
}

bool IsSupportedCodePage(int codepage) {
  return FindCodePage(codepage) != nullptr;
}

std::string SanitizeUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    std::size_t bad = 0;
    std::size_t length = Utf8SequenceLength(bytes.substr(i), &bad);
    if (length > 0) {
      out.append(bytes.substr(i, length));
      i += length;
    } else {
      out.append(kReplacement);
      i += bad;
    }
  }
  return out;
}

bool IsAscii(std::string_view bytes) {
  for (unsigned char c : bytes) {
    if (c >= 0x80) {
      return false;
    }
  }
  return true;
}

}  // namespace mailfs::mime
