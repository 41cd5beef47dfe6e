// Transfer decoders for tests: small, written apart from the production
// code they check (backends/mime), so a shared mistake cannot hide.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace mailfs::testing {

// Base64; CR, LF and '=' padding are skipped, any other foreign byte fails the
// test.
inline std::string DecodeBase64(std::string_view in) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '\r' || c == '\n' || c == '=') {
      continue;
    }
    std::size_t v = kAlphabet.find(c);
    if (v == std::string_view::npos) {
      ADD_FAILURE() << "not base64: " << static_cast<int>(c);
      return out;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

// Quoted-printable with CRLF line ends; "=" CRLF is a soft break.
inline std::string DecodeQp(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '=') {
      out += in[i];
    } else if (in.substr(i + 1, 2) == "\r\n") {
      i += 2;
    } else if (i + 2 < in.size()) {
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      ADD_FAILURE() << "truncated quoted-printable escape";
    }
  }
  return out;
}

}  // namespace mailfs::testing
