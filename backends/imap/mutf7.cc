#include "backends/imap/mutf7.h"

#include <cstdint>
#include <vector>

#include "backends/error.h"
#include "backends/utf.h"

namespace mailfs::imap {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;
  return -1;
}

// Decodes the base64 run between '&' and '-' into UTF-8; false if malformed.
bool DecodeShift(std::string_view run, std::string& out) {
  std::vector<std::uint16_t> units;
  std::uint32_t bits = 0;
  int nbits = 0;
  for (char c : run) {
    int v = Base64Value(c);
    if (v < 0) return false;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    nbits += 6;
    if (nbits >= 16) {
      nbits -= 16;
      units.push_back(static_cast<std::uint16_t>((bits >> nbits) & 0xFFFF));
    }
  }
  // Leftover bits must be fewer than 6 and all zero (RFC 2152 padding).
  if (nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0) return false;
  if (units.empty()) return false;  // "&-" is handled by the caller
  std::string decoded;
  for (std::size_t i = 0; i < units.size(); ++i) {
    std::uint16_t u = units[i];
    char32_t cp = u;
    if (u >= 0xD800 && u <= 0xDBFF) {
      if (i + 1 >= units.size() || units[i + 1] < 0xDC00 || units[i + 1] > 0xDFFF) return false;
      cp = 0x10000 + ((static_cast<char32_t>(u) - 0xD800) << 10) + (units[i + 1] - 0xDC00);
      ++i;
    } else if (u >= 0xDC00 && u <= 0xDFFF) {
      return false;
    } else if (u >= 0x20 && u <= 0x7E) {
      return false;  // printable ASCII must be written directly
    }
    AppendUtf8(decoded, cp);
  }
  out += decoded;
  return true;
}

// Next code point of |s| at |i|; -1 if the bytes there are not valid UTF-8.
long NextCodePoint(std::string_view s, std::size_t& i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) {
    ++i;
    return c;
  }
  int len = 0;
  char32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    len = 2, cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, cp = c & 0x07;
  } else {
    return -1;
  }
  if (i + len > s.size()) return -1;
  for (int k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  i += len;
  return static_cast<long>(cp);
}

void FlushShift(std::string& out, std::vector<std::uint16_t>& units) {
  if (units.empty()) return;
  out.push_back('&');
  std::uint32_t bits = 0;
  int nbits = 0;
  for (std::uint16_t u : units) {
    bits = (bits << 16) | u;
    nbits += 16;
    while (nbits >= 6) {
      nbits -= 6;
      out.push_back(kAlphabet[(bits >> nbits) & 0x3F]);
    }
    bits &= (1u << nbits) - 1;
  }
  if (nbits > 0) out.push_back(kAlphabet[(bits << (6 - nbits)) & 0x3F]);
  out.push_back('-');
  units.clear();
}

}  // namespace

std::string DecodeMailboxName(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size();) {
    char c = in[i];
    if (c != '&') {
      unsigned char u = static_cast<unsigned char>(c);
      if (u >= 0x20 && u <= 0x7E) {
        out.push_back(c);
      } else {
        out += kReplacement;
      }
      ++i;
      continue;
    }
    std::size_t end = in.find('-', i + 1);
    if (end == std::string_view::npos) {
      out += kReplacement;
      break;
    }
    if (end == i + 1) {
      out.push_back('&');
    } else if (!DecodeShift(in.substr(i + 1, end - i - 1), out)) {
      out += kReplacement;
    }
    i = end + 1;
  }
  return out;
}

std::string EncodeMailboxName(std::string_view in) {
  std::string out;
  std::vector<std::uint16_t> units;
  for (std::size_t i = 0; i < in.size();) {
    long cp = NextCodePoint(in, i);
    if (cp < 0) throw Error(Errc::kInvalid, "folder name is not valid UTF-8");
    if (cp >= 0x20 && cp <= 0x7E) {
      FlushShift(out, units);
      if (cp == '&') {
        out += "&-";
      } else {
        out.push_back(static_cast<char>(cp));
      }
    } else if (cp >= 0x10000) {
      char32_t v = static_cast<char32_t>(cp) - 0x10000;
      units.push_back(static_cast<std::uint16_t>(0xD800 + (v >> 10)));
      units.push_back(static_cast<std::uint16_t>(0xDC00 + (v & 0x3FF)));
    } else {
      units.push_back(static_cast<std::uint16_t>(cp));
    }
  }
  FlushShift(out, units);
  return out;
}

}  // namespace mailfs::imap
