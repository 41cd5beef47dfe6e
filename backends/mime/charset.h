// Character sets: the fixed table shipped in mailfs (design.md §3) and the IFF
// code pages (iff-format.md §2.1). Conversion is done by glibc's iconv, but
// only for names in our table, so behaviour does not depend on the host.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mailfs::mime {

// Converts |bytes| in MIME charset |charset| (case-insensitive, usual aliases
// accepted: "latin1", "cp1252", "utf8", "x-sjis", "ks_c_5601-1987", ...) to
// UTF-8. Invalid or unmappable sequences become U+FFFD. Returns nullopt when
// the charset is not in the table.
std::optional<std::string> CharsetToUtf8(std::string_view charset, std::string_view bytes);

// True if |charset| is in the table.
bool IsKnownCharset(std::string_view charset);

// Converts text in Windows code page |codepage| (437, 850, 874, 932, 936, 949,
// 950, 1250-1258, 10000, 28591-28599, 65001) to UTF-8, invalid -> U+FFFD.
// Returns nullopt for an unsupported code page.
std::optional<std::string> CodePageToUtf8(int codepage, std::string_view bytes);
bool IsSupportedCodePage(int codepage);

// Replaces every invalid UTF-8 sequence by U+FFFD.
std::string SanitizeUtf8(std::string_view bytes);

// True if every byte is < 0x80.
bool IsAscii(std::string_view bytes);

}  // namespace mailfs::mime
