#include "backends/iff/model_builder.h"

#include <map>
#include <utility>

#include "backends/blob.h"
#include "backends/error.h"
#include "backends/iff/address.h"
#include "backends/iff/csv.h"
#include "backends/mime/charset.h"
#include "backends/mime/header_decode.h"
#include "backends/sha256.h"

namespace mailfs::iff {

namespace {

const mime::Mailbox kUnknownSender{"Unknown sender", "unknown@iff.invalid"};

mime::DateTime ZoneUnknown(const LocalDateTime& t) {
  mime::DateTime d;
  d.utc_seconds = t.AsUtcSeconds();
  d.zone_minutes = 0;
  d.zone_unknown = true;
  return d;
}

std::string ReadRange(const DataRange& range) {
  std::string out(static_cast<std::size_t>(range.length), '\0');
  std::size_t got =
      PreadFull(range.file->fd(), out.data(), out.size(), range.offset, range.file->name());
  if (got != out.size()) {
    throw Error(Errc::kIo, range.file->name() + ": file shrank while being read (offset " +
                               std::to_string(range.offset + got) + ")");
  }
  return out;
}

std::string Join(const std::vector<std::string>& values, std::string_view sep) {
  std::string out;
  for (const std::string& v : values) {
    if (!out.empty()) {
      out += sep;
    }
    out += v;
  }
  return out;
}

mime::Part TextPart(std::string subtype, std::string text, std::string filename) {
  mime::Part part;
  part.type = "text";
  part.subtype = std::move(subtype);
  if (!filename.empty()) {
    part.disposition = "attachment";
    part.filename = std::move(filename);
  }
  part.body = MakeStringBlob(std::move(text));
  return part;
}

mime::Part Mixed(std::vector<mime::Part> parts) {
  mime::Part root;
  root.type = "multipart";
  root.subtype = "mixed";
  root.parts = std::move(parts);
  return root;
}

// Line ends to CR LF (a bare CR or LF becomes CR LF).
std::string ToCrlf(std::string_view in) {
  std::string out(in.size() * 2, '\0');
  char* p = out.data();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r') {
      *p++ = '\r';
      *p++ = '\n';
      if (i + 1 < in.size() && in[i + 1] == '\n') {
        ++i;
      }
    } else if (in[i] == '\n') {
      *p++ = '\r';
      *p++ = '\n';
    } else {
      *p++ = in[i];
    }
  }
  out.resize(static_cast<std::size_t>(p - out.data()));
  return out;
}

void AddHeader(mime::Message& m, std::string name, std::string value) {
  m.extra_headers.push_back(mime::Header{std::move(name), std::move(value)});
}

// ---- vCard 4.0 (RFC 6350) ----

std::string VcardEscape(std::string_view value) {
  std::string out;
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case ',':
        out += "\\,";
        break;
      case ';':
        out += "\\;";
        break;
      case '\r':
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Appends "line" folded at 75 octets (never inside a UTF-8 sequence), CR LF.
void AddVcardLine(std::string& out, std::string_view line) {
  std::size_t col = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    bool starts_char = (c & 0xC0) != 0x80;
    if (starts_char && col >= 75) {
      out += "\r\n ";
      col = 1;
    }
    out += line[i];
    ++col;
  }
  out += "\r\n";
}

void AddProperty(std::string& out, std::string_view name, std::string_view value) {
  if (!value.empty()) {
    AddVcardLine(out, std::string(name) + ":" + std::string(value));
  }
}

std::string Compound(std::initializer_list<std::string_view> parts) {
  std::string out;
  bool any = false;
  bool first = true;
  for (std::string_view p : parts) {
    if (!first) {
      out += ';';
    }
    first = false;
    out += VcardEscape(p);
    any = any || !p.empty();
  }
  return any ? out : "";
}

std::string UuidUrn(std::string_view seed) {
  std::string h = Sha256Hex(seed);
  h[12] = '5';  // name-based version nibble
  h[16] = "89ab"[(h[16] >= 'a' ? h[16] - 'a' + 10 : h[16] - '0') & 3];
  return "urn:uuid:" + h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" +
         h.substr(16, 4) + "-" + h.substr(20, 12);
}

// Adds EMAIL (SMTP) or X-IFF-ADDRESS (other types) lines for "TYPE:address".
void AddAddress(std::string& out, std::string_view value) {
  IffAddress a = ParseTypedAddress(value);
  if (EqualsIgnoreCase(a.type, "SMTP") && !a.address.empty()) {
    AddProperty(out, "EMAIL", VcardEscape(a.address));
  } else {
    AddProperty(out, "X-IFF-ADDRESS", VcardEscape(value));
  }
}

}  // namespace

std::string OriginHash(const MessageOrigin& origin) {
  return Sha256Hex(origin.primary + ":" + std::to_string(origin.line)).substr(0, 32);
}

mime::RenderOptions IffRenderOptions(const MessageOrigin& origin) {
  mime::RenderOptions options;
  options.boundary_style = mime::BoundaryStyle::kPrefix;
  options.boundary_prefix = "=_iff_" + OriginHash(origin);
  options.keep_extra_headers = true;
  return options;
}

std::string MediaTypeForName(std::string_view name) {
  static const std::map<std::string, std::string, std::less<>> kTypes = {
      {"bmp", "image/bmp"},
      {"csv", "text/csv"},
      {"doc", "application/msword"},
      {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {"gif", "image/gif"},
      {"gz", "application/gzip"},
      {"htm", "text/html"},
      {"html", "text/html"},
      {"ics", "text/calendar"},
      {"jpeg", "image/jpeg"},
      {"jpg", "image/jpeg"},
      {"mp3", "audio/mpeg"},
      {"msg", "application/vnd.ms-outlook"},
      {"pdf", "application/pdf"},
      {"png", "image/png"},
      {"ppt", "application/vnd.ms-powerpoint"},
      {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
      {"rtf", "application/rtf"},
      {"tif", "image/tiff"},
      {"tiff", "image/tiff"},
      {"txt", "text/plain"},
      {"vcf", "text/vcard"},
      {"wav", "audio/wav"},
      {"xls", "application/vnd.ms-excel"},
      {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
      {"xml", "text/xml"},
      {"zip", "application/zip"},
  };
  std::size_t dot = name.rfind('.');
  if (dot != std::string_view::npos) {
    auto it = kTypes.find(AsciiLower(name.substr(dot + 1)));
    if (it != kTypes.end()) {
      return it->second;
    }
  }
  return "application/octet-stream";
}

mime::Message BuildMailMessage(const MailRecord& record, const MessageOrigin& origin) {
  mime::Message m;
  if (record.sender.empty()) {
    m.from.push_back(kUnknownSender);
  } else {
    m.from.push_back(ToMailbox(ParseAddressValue(record.sender[0])));
  }
  for (const std::string& v : record.to) {
    m.to.push_back(ToMailbox(ParseAddressValue(v)));
  }
  for (const std::string& v : record.cc) {
    m.cc.push_back(ToMailbox(ParseAddressValue(v)));
  }
  for (const std::string& v : record.bcc) {
    m.bcc.push_back(ToMailbox(ParseAddressValue(v)));
  }

  std::uint64_t body_length = 0;
  for (const DataRange& r : record.body) {
    body_length += r.length;
  }
  m.subject = record.subject;
  if (body_length == 0) {
    // A free document: the Wizard takes the subject from the document.
    for (const AttachmentRecord& a : record.attachments) {
      if (a.type == SectionType::kDocument) {
        m.subject = a.name;
        break;
      }
    }
  }
  if (record.send_date) {
    m.date = ZoneUnknown(*record.send_date);
  } else if (record.received_date) {
    m.date = ZoneUnknown(*record.received_date);
  }
  m.message_id = OriginHash(origin) + "@iff.invalid";

  if (record.received_date) {
    std::string when = mime::FormatDate(ZoneUnknown(*record.received_date));
    AddHeader(m, "Received", "by iff-import; " + when);
    AddHeader(m, "X-IFF-Received-Date", when);
  }
  if (!m.date) {
    AddHeader(m, "X-IFF-Date-Missing", "yes");
  }
  if (record.priority == 1) {
    AddHeader(m, "X-Priority", "1 (Highest)");
    AddHeader(m, "Importance", "high");
  } else if (record.priority == -1) {
    AddHeader(m, "X-Priority", "5 (Lowest)");
    AddHeader(m, "Importance", "low");
  }
  if (record.unsent) {
    AddHeader(m, "X-Unsent", "1");
  }
  if (record.sender.size() > 1) {
    AddHeader(m, "X-IFF-Sender-Extra",
              Join(std::vector<std::string>(record.sender.begin() + 1, record.sender.end()), "; "));
  }
  AddHeader(m, "X-IFF-Mailbox", record.mailbox ? *record.mailbox : std::string());
  AddHeader(m, "X-IFF-Folder", record.folder_path.empty() ? "Inbox" : record.folder_path);

  std::string raw;
  for (const DataRange& r : record.body) {
    raw += ReadRange(r);
  }
  std::optional<std::string> decoded = mime::CodePageToUtf8(origin.codepage, raw);
  std::string text = ToCrlf(decoded ? *decoded : mime::SanitizeUtf8(raw));
  mime::Part body = TextPart("plain", std::move(text), "");
  if (record.attachments.empty()) {
    m.body = std::move(body);
    return m;
  }
  std::vector<mime::Part> parts;
  parts.push_back(std::move(body));
  for (const AttachmentRecord& a : record.attachments) {
    mime::Part part;
    std::string media = a.macbinary                        ? "application/x-macbinary"
                        : a.type == SectionType::kSchedule ? "application/octet-stream"
                                                           : MediaTypeForName(a.name);
    std::size_t slash = media.find('/');
    part.type = media.substr(0, slash);
    part.subtype = media.substr(slash + 1);
    part.disposition = "attachment";
    part.filename = a.name;
    part.keep_bytes = true;  // the stored bytes, even for text types (§7.3)
    if (!a.position.empty()) {
      part.extra_headers.push_back(mime::Header{"X-IFF-Position", a.position});
    }
    part.body = std::make_shared<FileRangeBlob>(a.data.file, a.data.file->fd(), a.data.offset,
                                                a.data.length, a.data.file->name());
    parts.push_back(std::move(part));
  }
  m.body = Mixed(std::move(parts));
  return m;
}

std::string PabCsv(const PabRecord& record) {
  std::string out = record.column_line + "\r\n";
  for (const std::string& line : record.lines) {
    out += line;
    out += "\r\n";
  }
  return out;
}

std::string PabVcards(const PabRecord& record) {
  // Column indexes (kPabColumns order).
  enum {
    kClass,
    kDisplay,
    kEmail,
    kFirst,
    kLast,
    kAddress,
    kCity,
    kState,
    kZip,
    kCountry,
    kTitle,
    kCompany,
    kDepartment,
    kOffice,
    kAssistant,
    kBus,
    kBus2,
    kAssistNum,
    kFax,
    kHome,
    kHome2,
    kMobile,
    kPager,
    kNote,
    kCount
  };
  std::vector<std::string> uids;
  std::map<std::string, std::size_t> by_name;  // lower-case display name -> row
  for (std::size_t i = 0; i < record.rows.size(); ++i) {
    uids.push_back(UuidUrn("pab\n" + record.source + "\n" + std::to_string(i)));
    if (record.rows[i].size() == kCount) {
      by_name.emplace(AsciiLower(record.rows[i][kDisplay]), i);
    }
  }
  std::string out;
  for (std::size_t i = 0; i < record.rows.size(); ++i) {
    const std::vector<std::string>& r = record.rows[i];
    if (r.size() != kCount) {
      continue;
    }
    bool group = EqualsIgnoreCase(r[kClass], "dl");
    AddVcardLine(out, "BEGIN:VCARD");
    AddVcardLine(out, "VERSION:4.0");
    AddVcardLine(out, group ? "KIND:group" : "KIND:individual");
    AddVcardLine(out, "UID:" + uids[i]);
    AddVcardLine(out, "FN:" + VcardEscape(r[kDisplay]));
    if (group) {
      for (const std::string& member : SplitMultiValue(r[kEmail])) {
        auto it = by_name.find(AsciiLower(member));
        IffAddress a = ParseTypedAddress(member);
        if (it != by_name.end() && it->second != i) {
          AddVcardLine(out, "MEMBER:" + uids[it->second]);
        } else if (EqualsIgnoreCase(a.type, "SMTP") && !a.address.empty()) {
          AddVcardLine(out, "MEMBER:mailto:" + a.address);
        } else {
          AddProperty(out, "X-IFF-MEMBER", VcardEscape(member));
        }
      }
    } else {
      AddProperty(out, "N", Compound({r[kLast], r[kFirst], "", "", ""}));
      for (const std::string& value : SplitMultiValue(r[kEmail])) {
        AddAddress(out, value);
      }
      AddProperty(out, "ORG", Compound({r[kCompany], r[kDepartment]}));
      AddProperty(out, "TITLE", VcardEscape(r[kTitle]));
      AddProperty(
          out, "ADR;TYPE=work",
          Compound({"", r[kOffice], r[kAddress], r[kCity], r[kState], r[kZip], r[kCountry]}));
      AddProperty(out, "TEL;TYPE=\"work,voice\"", VcardEscape(r[kBus]));
      AddProperty(out, "TEL;TYPE=\"work,voice\"", VcardEscape(r[kBus2]));
      AddProperty(out, "TEL;TYPE=x-assistant", VcardEscape(r[kAssistNum]));
      AddProperty(out, "TEL;TYPE=\"work,fax\"", VcardEscape(r[kFax]));
      AddProperty(out, "TEL;TYPE=\"home,voice\"", VcardEscape(r[kHome]));
      AddProperty(out, "TEL;TYPE=\"home,voice\"", VcardEscape(r[kHome2]));
      AddProperty(out, "TEL;TYPE=cell", VcardEscape(r[kMobile]));
      AddProperty(out, "TEL;TYPE=pager", VcardEscape(r[kPager]));
      AddProperty(out, "X-ASSISTANT", VcardEscape(r[kAssistant]));
    }
    AddProperty(out, "NOTE", VcardEscape(r[kNote]));
    AddVcardLine(out, "END:VCARD");
  }
  return out;
}

mime::Message BuildPabMessage(const PabRecord& record, const MessageOrigin& origin) {
  mime::Message m;
  mime::Mailbox owner = ToMailbox(ParseTypedAddress(record.mailbox));
  m.from.push_back(owner);
  m.to.push_back(owner);
  m.subject = "Personal Address Book";
  m.message_id = OriginHash(origin) + "@iff.invalid";
  AddHeader(m, "X-IFF-Date-Missing", "yes");
  AddHeader(m, "X-IFF-Mailbox", record.mailbox);
  std::vector<mime::Part> parts;
  parts.push_back(TextPart("plain", "", ""));
  parts.push_back(TextPart("csv", PabCsv(record), "pab.csv"));
  m.body = Mixed(std::move(parts));
  return m;
}

std::string DirectoryCsv(const DirectoryRecord& record) {
  std::string out = record.column_line + "\r\n";
  for (const std::string& line : record.lines) {
    out += line;
    out += "\r\n";
  }
  return out;
}

std::string DirectoryVcards(const DirectoryRecord& record) {
  auto column = [&](std::initializer_list<std::string_view> names) -> std::optional<std::size_t> {
    for (std::string_view name : names) {
      for (std::size_t i = 0; i < record.columns.size(); ++i) {
        if (EqualsIgnoreCase(record.columns[i], name)) {
          return i;
        }
      }
    }
    return std::nullopt;
  };
  auto cls = column({"Obj-class"});
  auto display = column({"Display-Name"});
  auto common = column({"Common-Name"});
  auto last = column({"Last Name", "Surname"});
  auto first = column({"First Name", "Given-Name"});
  auto proxies = column({"Secondary-Proxy-Addresses"});
  auto company = column({"Company"});
  auto department = column({"Department"});
  auto title = column({"Title"});
  auto server = column({"Home-Server"});
  std::string out;
  for (std::size_t i = 0; i < record.rows.size(); ++i) {
    const std::vector<std::string>& r = record.rows[i];
    auto get = [&](std::optional<std::size_t> c) -> std::string {
      return c && *c < r.size() ? r[*c] : std::string();
    };
    std::string fn = get(display).empty() ? get(common) : get(display);
    AddVcardLine(out, "BEGIN:VCARD");
    AddVcardLine(out, "VERSION:4.0");
    AddVcardLine(out, EqualsIgnoreCase(get(cls), "dl") ? "KIND:group" : "KIND:individual");
    AddVcardLine(out, "UID:" + UuidUrn("directory\n" + record.source + "\n" + std::to_string(i)));
    AddVcardLine(out, "FN:" + VcardEscape(fn));
    AddProperty(out, "N", Compound({get(last), get(first), "", "", ""}));
    std::string proxy_list = get(proxies);
    std::size_t start = 0;
    while (start <= proxy_list.size() && !proxy_list.empty()) {
      std::size_t end = proxy_list.find('%', start);
      std::string_view value = std::string_view(proxy_list).substr(start, end - start);
      if (StartsWithIgnoreCase(value, "MIGRATE:")) {
        value.remove_prefix(8);
      }
      if (!value.empty()) {
        AddAddress(out, value);
      }
      if (end == std::string::npos) {
        break;
      }
      start = end + 1;
    }
    AddProperty(out, "ORG", Compound({get(company), get(department)}));
    AddProperty(out, "TITLE", VcardEscape(get(title)));
    AddProperty(out, "X-IFF-COMMON-NAME", VcardEscape(get(common)));
    AddProperty(out, "X-IFF-HOME-SERVER", VcardEscape(get(server)));
    AddVcardLine(out, "END:VCARD");
  }
  return out;
}

}  // namespace mailfs::iff
