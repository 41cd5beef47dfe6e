// Reading header fields: unfolding, RFC 2047 decoding, RFC 5322 dates,
// addresses and Message-ID tokens. Shared by the parser and by fs/naming.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/mime/message.h"

namespace mailfs::mime {

// Value of a hexadecimal digit (either case), or -1.
int HexDigitValue(char c);

// Removes CRLF / LF folding (a line break followed by WSP): RFC 5322 §2.2.3.
std::string Unfold(std::string_view value);

// The header block of a message: bytes up to (not including) the first empty
// line, or the whole input if there is none.
std::string_view HeaderBlock(std::string_view message);

// Value of the first field named |name| (case-insensitive) in |header_block|,
// unfolded, without the leading whitespace after the colon; nullopt if absent.
std::optional<std::string> FirstHeader(std::string_view header_block, std::string_view name);

// All fields in order as (name, raw unfolded value).
std::vector<Header> AllHeaders(std::string_view header_block);

// Decodes RFC 2047 encoded words with the fixed charset table (design.md §3):
// adjacent encoded words of one charset are joined before decoding, whitespace
// between encoded words is dropped, a word in an unknown charset stays
// literal, an RFC 2231 language suffix (charset*lang) is ignored, raw 8-bit
// bytes are read as UTF-8. Invalid sequences become U+FFFD.
std::string DecodeWords(std::string_view unfolded_value);

// Parses an RFC 5322 date (with the obsolete forms of §4.3 as design.md §3
// lists them). Returns nullopt if unparsable or the year is outside 1601-9999.
std::optional<DateTime> ParseDate(std::string_view value);

// A UTC calendar time (proleptic Gregorian) broken out of seconds since the
// epoch.
struct UtcCalendar {
  std::int64_t year;
  int month, day, hour, minute, second;
};
UtcCalendar BreakDownUtc(std::int64_t utc_seconds);

// Formats as RFC 5322, e.g. "Fri, 21 Mar 1995 09:34:21 -0000".
std::string FormatDate(const DateTime& date);

// Parses an address list (groups flattened), decoding display names.
std::vector<Mailbox> ParseAddressList(std::string_view unfolded_value);

// The addr-spec of the first mailbox in a From value, as written (not
// lowercased); empty if none.
std::string FirstAddrSpec(std::string_view unfolded_value);

// The first <...> token without brackets, else the first whitespace-delimited
// token; empty if none (design.md §3 <key>).
std::string MessageIdToken(std::string_view unfolded_value);

}  // namespace mailfs::mime
