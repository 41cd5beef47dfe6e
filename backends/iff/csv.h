// The IFF comma-separated field syntax (iff-format.md §2.2, §2.4, §2.5): the
// tokenizer, the multi-value split, DIRECTORY escapes, 14-digit dates and the
// small ASCII helpers the rest of the reader shares. Pure functions, safe to
// call from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailfs::iff {

// One field of a logical line: its value (plain bytes plus the contents of
// its quoted runs, "" undone) and whether any part of it was quoted.
struct Field {
  std::string value;
  bool quoted = false;
  bool operator==(const Field&) const = default;
};

// Splits a logical line (without its CR LF) into fields. Returns false if a
// quoted run is still open at the end of the line; |fields| then holds what
// was read. An empty line gives one empty field.
bool Tokenize(std::string_view line, std::vector<Field>* fields);

// True when every quotation mark of |text| is closed (an even count), i.e.
// the end of |text| lies outside quotes.
bool OutsideQuotesAtEnd(std::string_view text);

// The multi-value split of Sender/To/Cc/Bcc/Email-Address values: splits at
// ';' outside "..." pairs, removes one enclosing pair of quotes from each
// piece, turns "" into ", and drops empty pieces.
std::vector<std::string> SplitMultiValue(std::string_view value);

// Undoes DIRECTORY escapes (\r, \n, \\). Returns nullopt if a backslash is
// followed by anything else or ends the value.
std::optional<std::string> UndoDirectoryEscapes(std::string_view value);

// A 14-digit IFF date-time (local time, no zone), split into its parts.
struct LocalDateTime {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  // Seconds since the epoch when the fields are read as UTC.
  std::int64_t AsUtcSeconds() const;
  // "YYYY-MM-DDThh:mm:ss".
  std::string Iso() const;
};

// Parses "YYYYMMDDhhmmss" and checks it is a real Gregorian date-time.
// Returns nullopt otherwise.
std::optional<LocalDateTime> ParseIffDate(std::string_view text);

// ASCII case-insensitive comparison.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
// ASCII lower-case copy.
std::string AsciiLower(std::string_view s);

// |s| without leading and trailing spaces (' ' only).
std::string TrimSpaces(std::string_view s);
// True if |s| begins with |prefix|, ASCII case-insensitively.
bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix);

// Parses a decimal unsigned 64-bit number made only of digits (no sign, no
// spaces). Returns nullopt if empty, not digits, or too large.
std::optional<std::uint64_t> ParseU64(std::string_view s);

}  // namespace mailfs::iff
