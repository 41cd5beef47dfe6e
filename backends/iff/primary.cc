#include "backends/iff/primary.h"

#include "backends/blob.h"
#include "backends/iff/line_reader.h"

namespace mailfs::iff {

const std::vector<std::string_view> kMailColumns = {
    "Folder",    "Sender",        "To",       "Cc",     "Bcc",    "Subject",
    "Send-Date", "Received-Date", "Priority", "Unread", "Unsent", "Body",
};

const std::vector<std::string_view> kPabColumns = {
    "Obj-class",  "Display-Name", "Email-Address", "First",      "Last",      "Address",
    "City",       "State",        "Zip",           "Country",    "Title",     "Company",
    "Department", "Office",       "Assistant",     "Bus-Num",    "Bus2-Num",  "Assist-Num",
    "Fax-Num",    "Home-Num",     "Home2-Num",     "Mobile-Num", "Pager-Num", "Note",
};

namespace {

bool IsKeyword(std::string_view s, SectionKind* kind) {
  if (EqualsIgnoreCase(s, "DIRECTORY")) {
    *kind = SectionKind::kDirectory;
  } else if (EqualsIgnoreCase(s, "PAB")) {
    *kind = SectionKind::kPab;
  } else if (EqualsIgnoreCase(s, "MAILMESSAGE")) {
    *kind = SectionKind::kMailMessage;
  } else {
    return false;
  }
  return true;
}

bool OnlyLetters(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
      return false;
    }
  }
  return true;
}

std::string_view KindName(SectionKind kind) {
  switch (kind) {
    case SectionKind::kDirectory:
      return "DIRECTORY";
    case SectionKind::kPab:
      return "PAB";
    case SectionKind::kMailMessage:
      return "MAILMESSAGE";
  }
  return "";
}

void CheckColumns(const ExtractFile& file,
                  std::uint64_t line,
                  SectionKind kind,
                  const std::vector<Field>& columns) {
  auto fixed = [&](const std::vector<std::string_view>& want) {
    bool ok = columns.size() == want.size();
    for (std::size_t i = 0; ok && i < want.size(); ++i) {
      ok = EqualsIgnoreCase(columns[i].value, want[i]);
    }
    if (!ok) {
      std::string list;
      for (std::string_view name : want) {
        list += list.empty() ? "" : ",";
        list += name;
      }
      ThrowIff(IffCode::kBadHeader, file.name(), line, std::nullopt,
               std::string(KindName(kind)) + " column line must be the " +
                   std::to_string(want.size()) + " names " + list);
    }
  };
  if (kind == SectionKind::kMailMessage) {
    fixed(kMailColumns);
  } else if (kind == SectionKind::kPab) {
    fixed(kPabColumns);
  } else {
    bool has_class = false, has_mode = false;
    for (const Field& f : columns) {
      has_class = has_class || EqualsIgnoreCase(f.value, "Obj-class");
      has_mode = has_mode || EqualsIgnoreCase(f.value, "Mode");
    }
    if (!has_class || !has_mode) {
      ThrowIff(IffCode::kBadHeader, file.name(), line, std::nullopt,
               "DIRECTORY column line lacks Obj-class or Mode");
    }
  }
}

}  // namespace

void ParsePrimary(const ExtractFile& file, PrimaryVisitor& visitor, std::uint64_t* bare_lf_line) {
  *bare_lf_line = 0;
  if (file.size() > 0) {
    char tail[2] = {0, 0};
    std::uint64_t at = file.size() >= 2 ? file.size() - 2 : 0;
    std::size_t got = PreadFull(file.fd(), tail, file.size() >= 2 ? 2 : 1, at, file.name());
    bool crlf = got == 2 && tail[0] == '\r' && tail[1] == '\n';
    if (!crlf) {
      ThrowIff(IffCode::kEol, file.name(), std::nullopt, file.size(),
               "the file does not end with CR LF (truncated?)");
    }
  }
  LogicalLineReader reader(file.fd(), file.name());
  LogicalLine line;
  std::vector<Field> fields;
  bool in_section = false;
  bool after_blank = false;
  SectionStart current;
  auto end_section = [&] {
    if (in_section) {
      visitor.EndSection();
      in_section = false;
    }
  };
  while (reader.Next(!(in_section && current.kind == SectionKind::kDirectory), &line)) {
    if (line.bare_lf && *bare_lf_line == 0) {
      *bare_lf_line = line.first_line;
    }
    if (line.blank) {
      after_blank = true;
      continue;
    }
    if (line.comment) {
      continue;
    }
    bool balanced = !line.too_long && Tokenize(line.text, &fields);
    SectionKind kind;
    bool is_section_line =
        balanced && !fields[0].quoted && fields.size() <= 2 && IsKeyword(fields[0].value, &kind);
    if (is_section_line) {
      end_section();
      current = SectionStart();
      current.kind = kind;
      current.line = line.first_line;
      if (kind != SectionKind::kDirectory) {
        if (fields.size() < 2 || fields[1].value.empty()) {
          ThrowIff(IffCode::kSectionArg, file.name(), line.first_line, std::nullopt,
                   std::string(KindName(kind)) + " section line without an argument");
        }
        current.argument = fields[1].value;
      }
      // The column line: the next line that is not blank or a comment.
      bool found = false;
      while (reader.Next(kind != SectionKind::kDirectory, &line)) {
        if (line.bare_lf && *bare_lf_line == 0) {
          *bare_lf_line = line.first_line;
        }
        if (line.blank || line.comment) {
          continue;
        }
        found = true;
        break;
      }
      if (!found) {
        ThrowIff(IffCode::kBadHeader, file.name(), current.line, std::nullopt,
                 std::string(KindName(kind)) + " section without a column line");
      }
      if (line.too_long) {
        ThrowIff(IffCode::kQuote, file.name(), line.first_line, std::nullopt, "line too long");
      }
      if (!Tokenize(line.text, &fields)) {
        ThrowIff(IffCode::kQuote, file.name(), line.first_line, std::nullopt,
                 "unbalanced quotation mark in the column line");
      }
      CheckColumns(file, line.first_line, kind, fields);
      current.columns = fields;
      current.column_text = line.text;
      in_section = true;
      after_blank = false;
      visitor.BeginSection(current);
      continue;
    }
    bool looks_like_keyword =
        balanced && !fields[0].quoted && fields.size() <= 2 && OnlyLetters(fields[0].value);
    if (!in_section) {
      ThrowIff(IffCode::kUnknownSection, file.name(), line.first_line, std::nullopt,
               looks_like_keyword ? "unknown section keyword '" + fields[0].value + "'"
                                  : std::string("data before any section line"));
    }
    if (after_blank && looks_like_keyword && current.kind != SectionKind::kDirectory) {
      ThrowIff(IffCode::kUnknownSection, file.name(), line.first_line, std::nullopt,
               "unknown section keyword '" + fields[0].value + "'");
    }
    after_blank = false;
    Row row;
    row.line = line.first_line;
    row.offset = line.offset;
    row.text = std::move(line.text);
    if (line.too_long) {
      row.error = IffFailure{IffCode::kQuote, file.name(), row.line, std::nullopt, "line too long"};
    } else if (!balanced) {
      row.error = IffFailure{IffCode::kQuote, file.name(), row.line, std::nullopt,
                             "unbalanced quotation mark"};
    } else if (fields.size() > current.columns.size()) {
      row.error =
          IffFailure{IffCode::kFieldCount, file.name(), row.line, std::nullopt,
                     "row has " + std::to_string(fields.size()) + " fields, the column line " +
                         std::to_string(current.columns.size())};
    } else {
      fields.resize(current.columns.size());
      row.fields = fields;
    }
    visitor.OnRow(row);
  }
  end_section();
}

}  // namespace mailfs::iff
