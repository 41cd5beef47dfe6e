#include "backends/iff/csv.h"

#include <limits>

namespace mailfs::iff {

bool Tokenize(std::string_view line, std::vector<Field>* fields) {
  fields->clear();
  fields->emplace_back();
  bool in_quotes = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    Field& field = fields->back();
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          field.value += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        field.value += c;
      }
    } else if (c == ',') {
      fields->emplace_back();
    } else if (c == '"') {
      in_quotes = true;
      field.quoted = true;
    } else {
      field.value += c;
    }
  }
  return !in_quotes;
}

bool OutsideQuotesAtEnd(std::string_view text) {
  std::size_t count = 0;
  for (char c : text) {
    if (c == '"') {
      ++count;
    }
  }
  return count % 2 == 0;
}

namespace {

// Removes one enclosing pair of quotes and turns "" into ".
std::string Unquote(std::string_view piece) {
  if (piece.size() >= 2 && piece.front() == '"' && piece.back() == '"') {
    piece = piece.substr(1, piece.size() - 2);
  }
  std::string out;
  out.reserve(piece.size());
  for (std::size_t i = 0; i < piece.size(); ++i) {
    out += piece[i];
    if (piece[i] == '"' && i + 1 < piece.size() && piece[i + 1] == '"') {
      ++i;
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> SplitMultiValue(std::string_view value) {
  std::vector<std::string> out;
  bool in_quotes = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || (value[i] == ';' && !in_quotes)) {
      std::string piece = Unquote(value.substr(start, i - start));
      if (!piece.empty()) {
        out.push_back(std::move(piece));
      }
      start = i + 1;
    } else if (value[i] == '"') {
      in_quotes = !in_quotes;
    }
  }
  return out;
}

std::optional<std::string> UndoDirectoryEscapes(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '\\') {
      out += value[i];
      continue;
    }
    if (i + 1 >= value.size()) {
      return std::nullopt;
    }
    char next = value[++i];
    if (next == 'r') {
      out += '\r';
    } else if (next == 'n') {
      out += '\n';
    } else if (next == '\\') {
      out += '\\';
    } else {
      return std::nullopt;
    }
  }
  return out;
}

namespace {

bool IsLeapYear(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's method).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::string TwoDigits(int v) {
  std::string s = std::to_string(v);
  return s.size() < 2 ? "0" + s : s;
}

}  // namespace

std::int64_t LocalDateTime::AsUtcSeconds() const {
  return DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
         hour * 3600 + minute * 60 + second;
}

std::string LocalDateTime::Iso() const {
  std::string y = std::to_string(year);
  while (y.size() < 4) {
    y = "0" + y;
  }
  return y + "-" + TwoDigits(month) + "-" + TwoDigits(day) + "T" + TwoDigits(hour) + ":" +
         TwoDigits(minute) + ":" + TwoDigits(second);
}

std::optional<LocalDateTime> ParseIffDate(std::string_view text) {
  if (text.size() != 14) {
    return std::nullopt;
  }
  for (char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
  }
  auto num = [&](std::size_t pos, std::size_t len) {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  LocalDateTime t;
  t.year = num(0, 4);
  t.month = num(4, 2);
  t.day = num(6, 2);
  t.hour = num(8, 2);
  t.minute = num(10, 2);
  t.second = num(12, 2);
  if (t.month < 1 || t.month > 12 || t.day < 1 || t.day > DaysInMonth(t.year, t.month) ||
      t.hour > 23 || t.minute > 59 || t.second > 59) {
    return std::nullopt;
  }
  return t;
}

namespace {
char Lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) {
      return false;
    }
  }
  return true;
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = Lower(c);
  }
  return out;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

std::optional<std::uint64_t> ParseU64(std::string_view s) {
  if (s.empty()) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      return std::nullopt;
    }
    v = v * 10 + digit;
  }
  return v;
}

std::string TrimSpaces(std::string_view s) {
  std::size_t b = s.find_first_not_of(' ');
  if (b == std::string_view::npos) {
    return "";
  }
  std::size_t e = s.find_last_not_of(' ');
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace mailfs::iff
