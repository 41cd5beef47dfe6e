#include "backends/iff/extract_builder.h"

#include <utility>

#include "backends/iff/csv.h"
#include "backends/iff/secondary.h"
#include "backends/log.h"
#include "backends/mime/charset.h"

namespace mailfs::iff {

namespace {

// Longest overflow value read into memory.
constexpr std::uint64_t kMaxOverflowValue = 1 << 20;
// Deepest folder path accepted (iff-format.md §8).
constexpr std::size_t kMaxFolderDepth = 64;

bool IsPointerField(const Field& f) {
  return !f.quoted && !f.value.empty() && f.value[0] == '#';
}

std::string SpecialUse(std::string_view name) {
  if (EqualsIgnoreCase(name, "Sent Items")) {
    return "\\Sent";
  }
  if (EqualsIgnoreCase(name, "Deleted Items")) {
    return "\\Trash";
  }
  return "";
}

// A field written back as CSV: quoted when it holds ',', '"' or starts with
// '#' or '!'.
std::string CsvField(std::string_view value) {
  bool quote = value.find_first_of(",\"") != std::string_view::npos ||
               (!value.empty() && (value[0] == '#' || value[0] == '!'));
  if (!quote) {
    return std::string(value);
  }
  std::string out = "\"";
  for (char c : value) {
    out += c;
    if (c == '"') {
      out += '"';
    }
  }
  out += '"';
  return out;
}

}  // namespace

std::size_t Extract::Child(std::size_t parent, const std::string& name) {
  for (std::size_t child : folders[parent].children) {
    if (EqualsIgnoreCase(folders[child].name, name)) {
      return child;
    }
  }
  FolderNode node;
  node.name = name;
  node.parent = parent;
  // Special folders sit directly below a mailbox.
  if (parent != 0 && folders[parent].parent == 0) {
    node.special_use = SpecialUse(name);
  }
  folders.push_back(std::move(node));
  folders[parent].children.push_back(folders.size() - 1);
  return folders.size() - 1;
}

ExtractBuilder::ExtractBuilder(Extract& extract, const IffOptions& options, std::string primary)
    : extract_(extract), options_(options), primary_(std::move(primary)) {}

std::string ExtractBuilder::Decode(std::string_view bytes) const {
  if (mime::IsAscii(bytes)) {
    return std::string(bytes);
  }
  // Not value_or(): its argument would be computed every time.
  if (auto text = mime::CodePageToUtf8(extract_.codepage, bytes)) {
    return std::move(*text);
  }
  return mime::SanitizeUtf8(bytes);
}

std::string ExtractBuilder::Report(const IffFailure& failure, std::uint64_t line) {
  IffFailure attributed = AttributeToRow(failure, primary_, line);
  if (options_.strict) {
    throw IffError(attributed);
  }
  std::string text = attributed.Format();
  LOG(kWarning) << text;
  return text;
}

std::size_t ExtractBuilder::AddEntry(MessageEntry entry) {
  std::size_t folder = entry.folder;
  extract_.entries.push_back(std::move(entry));
  extract_.folders[folder].messages.push_back(extract_.entries.size() - 1);
  return extract_.entries.size() - 1;
}

void ExtractBuilder::BeginSection(const SectionStart& section) {
  section_ = section;
  section_failure_.reset();
  if (section.kind == SectionKind::kDirectory) {
    mailbox_.clear();
    DirectoryRecord record;
    record.source = primary_ + ":" + std::to_string(section.line);
    for (const Field& f : section.columns) {
      record.columns.push_back(Decode(f.value));
    }
    std::string text = UndoDirectoryEscapes(section.column_text).value_or(section.column_text);
    record.column_line = Decode(text);
    extract_.directories.push_back(std::move(record));
    record_ = extract_.directories.size() - 1;
    return;
  }
  std::string argument = Decode(section.argument);
  if (StartsWithIgnoreCase(argument, "migrate:")) {
    argument.erase(0, 8);
  }
  if (EqualsIgnoreCase(argument, "PublicMessages") || EqualsIgnoreCase(argument, "PublicMessage")) {
    argument = "PublicMessages";
  }
  if (argument.empty()) {
    ThrowIff(IffCode::kSectionArg, primary_, section.line, std::nullopt,
             "section argument is empty after 'migrate:'");
  }
  mailbox_ = argument;
  shared_mailbox_ = std::make_shared<const std::string>(argument);
  mailbox_folder_ = extract_.Child(0, argument);
  if (section.kind == SectionKind::kPab) {
    PabRecord record;
    record.source = primary_ + ":" + std::to_string(section.line);
    record.mailbox = argument;
    record.column_line = Decode(section.column_text);
    extract_.pabs.push_back(std::move(record));
    record_ = extract_.pabs.size() - 1;
  }
}

void ExtractBuilder::EndSection() {
  switch (section_.kind) {
    case SectionKind::kMailMessage:
      return;
    case SectionKind::kDirectory:
      // No folder and no message (§4.2): the record feeds the root's side
      // files, which a broken row makes unreadable.
      if (section_failure_) {
        extract_.directories[record_].error =
            Report(*section_failure_, section_failure_->line.value_or(section_.line));
      }
      return;
    case SectionKind::kPab:
      break;
  }
  MessageEntry entry;
  entry.kind = EntryKind::kPab;
  entry.origin = MessageOrigin{primary_, section_.line, extract_.codepage};
  entry.key = "iff:" + primary_ + ":" + std::to_string(section_.line);
  entry.index = record_;
  entry.folder = extract_.Child(mailbox_folder_, "Inbox");
  if (section_failure_) {
    entry.error = Report(*section_failure_, section_failure_->line.value_or(section_.line));
  }
  AddEntry(std::move(entry));
}

const ListedSecondary& ExtractBuilder::Pointer(std::string_view value,
                                               std::uint64_t line,
                                               std::uint64_t* offset) const {
  // '#' name '(' digits ')'
  std::size_t open = value.rfind('(');
  if (value.size() < 4 || value[0] != '#' || value.back() != ')' ||
      open == std::string_view::npos || open < 1) {
    ThrowIff(IffCode::kPointer, primary_, line, std::nullopt,
             "'" + std::string(value.substr(0, 80)) + "' is not a #FILE(offset) pointer");
  }
  std::string name(value.substr(1, open - 1));
  std::string_view digits = value.substr(open + 1, value.size() - open - 2);
  bool all_digits = !digits.empty();
  for (char c : digits) {
    all_digits = all_digits && c >= '0' && c <= '9';
  }
  if (!all_digits) {
    ThrowIff(IffCode::kPointer, primary_, line, std::nullopt,
             "'" + std::string(value.substr(0, 80)) + "' is not a #FILE(offset) pointer");
  }
  if (std::string problem = FileNameProblem(name); !problem.empty()) {
    ThrowIff(IffCode::kBadName, primary_, line, std::nullopt, "pointer: " + problem);
  }
  std::optional<std::uint64_t> parsed = ParseU64(digits);
  if (!parsed) {
    ThrowIff(IffCode::kOffset, primary_, line, std::nullopt,
             "pointer offset " + std::string(digits) + " overflows");
  }
  *offset = *parsed;
  auto it = extract_.secondaries.find(AsciiLower(name));
  if (it == extract_.secondaries.end()) {
    bool primary = extract_.primaries.count(AsciiLower(name)) > 0;
    ThrowIff(IffCode::kNotListed, primary_, line, std::nullopt,
             "pointer names '" + name + "', which the packing list " +
                 (primary ? "lists as Primary, not Secondary" : "does not list"));
  }
  return it->second;
}

void ExtractBuilder::ResolveOverflow(Field& field, std::uint64_t line) const {
  if (!IsPointerField(field)) {
    return;
  }
  std::uint64_t offset = 0;
  const ListedSecondary& sec = Pointer(field.value, line, &offset);
  std::vector<Section> chain = ReadChain(*sec.file, sec.column_line_length, offset, "field");
  if (chain[0].type != SectionType::kOther && chain[0].type != SectionType::kBody) {
    ThrowIff(IffCode::kSecType, sec.file->name(), std::nullopt, offset,
             "a field pointer must lead to an Other section");
  }
  std::uint64_t total = 0;
  for (const Section& s : chain) {
    if (s.type == SectionType::kOther || s.type == SectionType::kBody) {
      total += s.length;
    }
  }
  if (total > kMaxOverflowValue) {
    ThrowIff(IffCode::kLength, sec.file->name(), std::nullopt, offset,
             "field value of " + std::to_string(total) + " bytes is longer than 1 MiB");
  }
  std::string value;
  for (const Section& s : chain) {
    if (s.type != SectionType::kOther && s.type != SectionType::kBody) {
      continue;
    }
    std::size_t old = value.size();
    value.resize(old + s.length);
    std::size_t got =
        PreadFull(sec.file->fd(), value.data() + old, s.length, s.data_offset, sec.file->name());
    if (got != s.length) {
      throw Error(Errc::kIo, sec.file->name() + ": file shrank while being read");
    }
  }
  if (value.size() >= 2 && value.compare(value.size() - 2, 2, "\r\n") == 0) {
    value.resize(value.size() - 2);
  }
  field.value = std::move(value);
  field.quoted = true;
}

void ExtractBuilder::OnRow(const Row& row) {
  switch (section_.kind) {
    case SectionKind::kMailMessage:
      MailRow(row);
      break;
    case SectionKind::kPab:
      PabRow(row);
      break;
    case SectionKind::kDirectory:
      DirectoryRow(row);
      break;
  }
}

void ExtractBuilder::MailRow(const Row& row) {
  MessageEntry entry;
  entry.kind = EntryKind::kMail;
  entry.origin = MessageOrigin{primary_, row.line, extract_.codepage};
  entry.key = "iff:" + primary_ + ":" + std::to_string(row.line);
  entry.folder = mailbox_folder_;
  MailRecord record;
  record.mailbox = shared_mailbox_;
  std::optional<IffFailure> failure = row.error;
  std::vector<Field> fields = row.fields;
  auto fail = [&](IffCode code, const std::string& reason) {
    ThrowIff(code, primary_, row.line, std::nullopt, reason);
  };
  // The folder first, so that a message broken later still lists in it.
  if (!failure) {
    try {
      ResolveOverflow(fields[0], row.line);
      std::string path = Decode(fields[0].value);
      std::size_t b = path.find_first_not_of('\\');
      std::size_t e = path.find_last_not_of('\\');
      path = b == std::string::npos ? "" : path.substr(b, e - b + 1);
      std::size_t start = 0;
      std::vector<std::string> parts;
      while (!path.empty()) {
        std::size_t sep = path.find('\\', start);
        std::string part = path.substr(start, sep == std::string::npos ? sep : sep - start);
        if (part.empty()) {
          fail(IffCode::kFolder, "empty component in folder path '" + path + "'");
        }
        parts.push_back(std::move(part));
        if (parts.size() > kMaxFolderDepth) {
          fail(IffCode::kFolder, "folder path deeper than 64 levels");
        }
        if (sep == std::string::npos) {
          break;
        }
        start = sep + 1;
      }
      std::size_t folder = mailbox_folder_;
      if (parts.empty()) {
        folder = extract_.Child(folder, "Inbox");
      }
      for (const std::string& part : parts) {
        folder = extract_.Child(folder, part);
      }
      entry.folder = folder;
      record.folder_path = path;
    } catch (const IffError& e) {
      failure = e.failure();
    }
  }
  if (!failure) {
    try {
      for (std::size_t i = 1; i < 11; ++i) {
        ResolveOverflow(fields[i], row.line);
      }
      auto values = [&](std::size_t i) {
        std::vector<std::string> out;
        for (std::string& v : SplitMultiValue(fields[i].value)) {
          out.push_back(Decode(v));
        }
        return out;
      };
      record.sender = values(1);
      record.to = values(2);
      record.cc = values(3);
      record.bcc = values(4);
      record.subject = Decode(fields[5].value);
      auto date = [&](std::size_t i, const char* column) -> std::optional<LocalDateTime> {
        if (fields[i].value.empty()) {
          return std::nullopt;
        }
        std::optional<LocalDateTime> t = ParseIffDate(fields[i].value);
        if (!t) {
          fail(IffCode::kDate, std::string(column) + " '" + fields[i].value.substr(0, 40) +
                                   "' is not a valid YYYYMMDDhhmmss date");
        }
        return t;
      };
      record.send_date = date(6, "Send-Date");
      record.received_date = date(7, "Received-Date");
      const std::string& priority = fields[8].value;
      if (priority.empty() || priority == "0") {
        record.priority = 0;
      } else if (priority == "1") {
        record.priority = 1;
      } else if (priority == "-1") {
        record.priority = -1;
      } else {
        fail(IffCode::kFieldValue, "Priority '" + priority.substr(0, 40) + "' is not -1, 0 or 1");
      }
      auto boolean = [&](std::size_t i, const char* column) {
        if (fields[i].value.empty() || EqualsIgnoreCase(fields[i].value, "FALSE")) {
          return false;
        }
        if (EqualsIgnoreCase(fields[i].value, "TRUE")) {
          return true;
        }
        fail(IffCode::kFieldValue,
             std::string(column) + " '" + fields[i].value.substr(0, 40) + "' is not TRUE or FALSE");
        return false;
      };
      record.unread = boolean(9, "Unread");
      record.unsent = boolean(10, "Unsent");
      const Field& body = fields[11];
      if (!body.value.empty()) {
        if (!IsPointerField(body)) {
          fail(IffCode::kPointer, "Body must be an unquoted #FILE(offset) pointer");
        }
        std::uint64_t offset = 0;
        const ListedSecondary& sec = Pointer(body.value, row.line, &offset);
        std::vector<Section> chain = ReadChain(*sec.file, sec.column_line_length, offset, "BODY");
        if (chain[0].type != SectionType::kBody) {
          ThrowIff(IffCode::kSecType, sec.file->name(), std::nullopt, offset,
                   "the first section of a Body chain is not a Body section");
        }
        for (const Section& s : chain) {
          if (s.encoding_set && extract_.warned_encoding.insert(sec.file->name()).second) {
            LOG(kWarning) << sec.file->name() << " offset " << s.header_offset
                          << ": the reserved Encoding field is set; ignored";
          }
          DataRange range{sec.file, s.data_offset, s.length};
          switch (s.type) {
            case SectionType::kBody:
              record.body.push_back(range);
              break;
            case SectionType::kAttachment:
            case SectionType::kDocument:
            case SectionType::kSchedule:
              record.attachments.push_back(
                  AttachmentRecord{s.type, Decode(s.name), s.position, s.macbinary, range});
              break;
            case SectionType::kOther:
              break;
          }
        }
      }
    } catch (const IffError& e) {
      failure = e.failure();
    }
  }
  if (failure) {
    entry.error = Report(*failure, row.line);
  } else {
    entry.seen = !record.unread;
    if (record.received_date) {
      entry.internal_date = record.received_date->AsUtcSeconds();
    } else if (record.send_date) {
      entry.internal_date = record.send_date->AsUtcSeconds();
    }
  }
  extract_.mails.push_back(std::move(record));
  entry.index = extract_.mails.size() - 1;
  AddEntry(std::move(entry));
}

void ExtractBuilder::PabRow(const Row& row) {
  if (section_failure_) {
    return;  // the message is already unreadable
  }
  if (row.error) {
    section_failure_ = row.error;
    return;
  }
  try {
    std::vector<Field> fields = row.fields;
    bool rewritten = false;
    for (Field& f : fields) {
      if (IsPointerField(f)) {
        ResolveOverflow(f, row.line);
        rewritten = true;
      }
    }
    const std::string& cls = fields[0].value;
    if (!EqualsIgnoreCase(cls, "entry") && !EqualsIgnoreCase(cls, "dl")) {
      ThrowIff(IffCode::kPabClass, primary_, row.line, std::nullopt,
               "PAB Obj-class '" + cls.substr(0, 40) + "' is not entry or dl");
    }
    std::vector<std::string> values;
    for (const Field& f : fields) {
      values.push_back(Decode(f.value));
    }
    PabRecord& record = extract_.pabs[record_];
    if (rewritten) {
      std::string line;
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (i != 0) line += ',';
        line += CsvField(values[i]);
      }
      record.lines.push_back(std::move(line));
    } else {
      record.lines.push_back(Decode(row.text));
    }
    record.rows.push_back(std::move(values));
  } catch (const IffError& e) {
    section_failure_ = AttributeToRow(e.failure(), primary_, row.line);
  }
}

void ExtractBuilder::DirectoryRow(const Row& row) {
  if (section_failure_) {
    return;
  }
  if (row.error) {
    section_failure_ = row.error;
    return;
  }
  try {
    std::vector<std::string> values;
    for (std::size_t i = 0; i < row.fields.size(); ++i) {
      const Field& f = row.fields[i];
      if (IsPointerField(f)) {
        ThrowIff(IffCode::kPointer, primary_, row.line, std::nullopt,
                 "pointers are not allowed in DIRECTORY sections");
      }
      std::optional<std::string> value = UndoDirectoryEscapes(f.value);
      if (!value) {
        ThrowIff(IffCode::kEscape, primary_, row.line, std::nullopt,
                 "backslash not followed by r, n or \\ in column " + std::to_string(i + 1));
      }
      values.push_back(Decode(*value));
    }
    DirectoryRecord& record = extract_.directories[record_];
    for (std::size_t i = 0; i < record.columns.size() && i < values.size(); ++i) {
      if (EqualsIgnoreCase(record.columns[i], "Mode") && !EqualsIgnoreCase(values[i], "create")) {
        ThrowIff(IffCode::kDirMode, primary_, row.line, std::nullopt,
                 "DIRECTORY Mode '" + values[i].substr(0, 40) + "' is not create");
      }
    }
    std::optional<std::string> line = UndoDirectoryEscapes(row.text);
    record.lines.push_back(Decode(line.value_or(row.text)));
    record.rows.push_back(std::move(values));
  } catch (const IffError& e) {
    section_failure_ = AttributeToRow(e.failure(), primary_, row.line);
  }
}

}  // namespace mailfs::iff
