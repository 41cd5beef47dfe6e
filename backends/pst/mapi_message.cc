#include "backends/pst/mapi_message.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "backends/error.h"
#include "backends/mime/charset.h"
#include "backends/mime/header_decode.h"
#include "backends/mime/parser.h"
#include "backends/pst/mailfs_props.h"
#include "backends/pst/pff.h"
#include "backends/pst/pim_items.h"
#include "backends/pst/rtf_html.h"
#include "backends/utf.h"

namespace mailfs::pst {
namespace {

// MAPI property tags (property id only; any value type).
constexpr std::uint32_t kMessageClass = 0x001a;
constexpr std::uint32_t kImportance = 0x0017;
constexpr std::uint32_t kSensitivity = 0x0036;
constexpr std::uint32_t kSubject = 0x0037;
constexpr std::uint32_t kRepresentingName = 0x0042;
constexpr std::uint32_t kRepresentingAddrType = 0x0064;
constexpr std::uint32_t kRepresentingEmail = 0x0065;
constexpr std::uint32_t kTransportHeaders = 0x007d;
constexpr std::uint32_t kSenderName = 0x0c1a;
constexpr std::uint32_t kSenderAddrType = 0x0c1e;
constexpr std::uint32_t kSenderEmail = 0x0c1f;
constexpr std::uint32_t kRecipientType = 0x0c15;
constexpr std::uint32_t kDisplayBcc = 0x0e02;
constexpr std::uint32_t kDisplayCc = 0x0e03;
constexpr std::uint32_t kDisplayTo = 0x0e04;
constexpr std::uint32_t kMessageFlags = 0x0e07;
constexpr std::uint32_t kInternetMessageId = 0x1035;
constexpr std::uint32_t kReferences = 0x1039;
constexpr std::uint32_t kInReplyTo = 0x1042;
constexpr std::uint32_t kIconIndex = 0x1080;
constexpr std::uint32_t kLastVerbExecuted = 0x1081;
constexpr std::uint32_t kFlagStatus = 0x1090;
constexpr std::uint32_t kDisplayName = 0x3001;
constexpr std::uint32_t kAddrType = 0x3002;
constexpr std::uint32_t kEmailAddress = 0x3003;
constexpr std::uint32_t kCreationTime = 0x3007;
constexpr std::uint32_t kLastModificationTime = 0x3008;
constexpr std::uint32_t kBodyTag = 0x1000;
constexpr std::uint32_t kHtmlTag = 0x1013;
constexpr std::uint32_t kAttachNumber = 0x0e21;
constexpr std::uint32_t kAttachFilenameShort = 0x3704;
constexpr std::uint32_t kAttachFilenameLong = 0x3707;
constexpr std::uint32_t kAttachMimeTag = 0x370e;
constexpr std::uint32_t kAttachContentId = 0x3712;
constexpr std::uint32_t kSmtpAddress = 0x39fe;
constexpr std::uint32_t kInternetCodepage = 0x3fde;
constexpr std::uint32_t kSenderSmtpAddress = 0x5d01;
constexpr std::uint32_t kRepresentingSmtpAddress = 0x5d02;
constexpr std::uint32_t kRecipientFlags = 0x5ffd;

constexpr int kMaxDepth = 8;  // embedded messages nested deeper are not opened

std::string Str(libpff_item_t* item, std::uint32_t type, int set = 0) {
  return GetString(item, set, type).value_or("");
}

// An address usable as an addr-spec, or empty (Exchange DNs are not).
std::string SmtpOrEmpty(const std::string& a) {
  if (a.find('@') == std::string::npos || a.find(' ') != std::string::npos || a.front() == '/') return "";
  return a;
}

// The SMTP address of a mailbox: the SMTP property when it holds one, else
// the e-mail address property when its address type is SMTP (or not stored).
// An Exchange mailbox (type "EX") has a legacy DN there, never used as an
// address; without an SMTP property its address stays unknown (name only).
std::string ResolveSmtp(libpff_item_t* item, int set, std::uint32_t smtp_tag, std::uint32_t type_tag,
                        std::uint32_t email_tag) {
  std::string smtp = SmtpOrEmpty(Str(item, smtp_tag, set));
  if (!smtp.empty()) return smtp;
  std::string type = Str(item, type_tag, set);
  for (char& c : type) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!type.empty() && type != "SMTP") return "";
  return SmtpOrEmpty(Str(item, email_tag, set));
}

// A mailbox from a display-name property and SMTP / e-mail address properties.
mime::Mailbox MailboxOf(libpff_item_t* item, std::uint32_t name_tag, std::uint32_t smtp_tag, std::uint32_t type_tag,
                        std::uint32_t email_tag) {
  mime::Mailbox mb;
  mb.name = Str(item, name_tag);
  mb.address = ResolveSmtp(item, 0, smtp_tag, type_tag, email_tag);
  if (mb.name == mb.address) mb.name.clear();
  return mb;
}

// A body read with one of libpff's message body getters, nullopt if absent.
using SizeFn = int (*)(libpff_item_t*, size_t*, libpff_error_t**);
using BodyFn = int (*)(libpff_item_t*, uint8_t*, size_t, libpff_error_t**);
std::optional<std::string> ReadBody(libpff_item_t* message, SizeFn size_fn, BodyFn body_fn, const char* what) {
  size_t size = 0;
  libpff_error_t* error = nullptr;
  if (Check(size_fn(message, &size, &error), error, what) != 1) return std::nullopt;
  if (size == 0) return std::string();
  std::string out(size, '\0');
  error = nullptr;
  Check(body_fn(message, reinterpret_cast<uint8_t*>(out.data()), size, &error), error, what);
  return out;
}

std::string StripNul(std::string s) {
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

// Valid UTF-8 (shortest forms, no surrogates)?
bool IsUtf8(std::string_view s) { return mime::SanitizeUtf8(s) == s; }

mime::Part TextPart(std::string subtype, std::string text) {
  mime::Part p;
  p.type = "text";
  p.subtype = std::move(subtype);
  p.body = MakeStringBlob(std::move(text));
  return p;
}

// The HTML body as UTF-8: stored bytes are in the message's code page.
mime::Part HtmlPart(libpff_item_t* message, std::string html) {
  html = StripNul(std::move(html));
  if (!IsUtf8(html)) {
    int cp = static_cast<int>(GetU32(message, 0, kInternetCodepage).value_or(1252));
    std::optional<std::string> utf8;
    if (mime::IsSupportedCodePage(cp)) utf8 = mime::CodePageToUtf8(cp, html);
    if (!utf8) utf8 = mime::CodePageToUtf8(1252, html);
    if (utf8) {
      html = std::move(*utf8);
    } else {
      mime::Part p = TextPart("html", std::move(html));
      p.keep_bytes = true;
      return p;
    }
  }
  return TextPart("html", std::move(html));
}

// Exchange legacy DNs (lowercase) with the SMTP address a recipient row of
// the same message gives for them.
using DnMap = std::map<std::string, std::string>;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// When |mb| has no address and its e-mail address property is an Exchange
// DN (type EX) that |dns| resolves, takes that SMTP address.
void ResolveByDn(libpff_item_t* item, std::uint32_t type_tag, std::uint32_t email_tag, const DnMap& dns,
                 mime::Mailbox& mb) {
  if (!mb.address.empty() || Lower(Str(item, type_tag)) != "ex") return;
  auto it = dns.find(Lower(Str(item, email_tag)));
  if (it == dns.end()) return;
  mb.address = it->second;
  if (mb.name == mb.address) mb.name.clear();
}

void AddRecipients(libpff_item_t* message, mime::Message& m, DnMap& dns) {
  Item recipients;
  libpff_error_t* error = nullptr;
  int rc = libpff_message_get_recipients(message, recipients.out(), &error);
  if (rc == -1) {
    // Some items have no usable recipient table; the display fields remain.
    libpff_error_free(&error);
    rc = 0;
  }
  if (rc == 1 && recipients) {
    int n = RecordSetCount(recipients.get());
    for (int i = 0; i < n; ++i) {
      mime::Mailbox mb;
      mb.name = Str(recipients.get(), kDisplayName, i);
      mb.address = ResolveSmtp(recipients.get(), i, kSmtpAddress, kAddrType, kEmailAddress);
      if (!mb.address.empty() && Lower(Str(recipients.get(), kAddrType, i)) == "ex") {
        std::string dn = Str(recipients.get(), kEmailAddress, i);
        if (!dn.empty()) dns.emplace(Lower(dn), mb.address);
      }
      if (mb.name == mb.address) mb.name.clear();
      if (mb.name.empty() && mb.address.empty()) continue;
      // The meeting organizer's own row in an appointment's recipient table
      // (recipOrganizer) is not an attendee; From names the organizer.
      if ((GetU32(recipients.get(), i, kRecipientFlags).value_or(0) & 0x2) != 0) continue;
      switch (GetU32(recipients.get(), i, kRecipientType).value_or(1) & 0x0f) {
        case 2: m.cc.push_back(mb); break;
        case 3: m.bcc.push_back(mb); break;
        default: m.to.push_back(mb); break;
      }
    }
  }
  // Fall back to the display lists (names only, "; " separated).
  auto fallback = [&](std::vector<mime::Mailbox>& list, std::uint32_t tag) {
    if (!list.empty()) return;
    std::string all = Str(message, tag);
    std::size_t start = 0;
    while (start <= all.size()) {
      std::size_t end = all.find(';', start);
      if (end == std::string::npos) end = all.size();
      std::string one = all.substr(start, end - start);
      while (!one.empty() && one.front() == ' ') one.erase(0, 1);
      while (!one.empty() && one.back() == ' ') one.pop_back();
      if (!one.empty()) list.push_back(mime::Mailbox{one, SmtpOrEmpty(one)});
      start = end + 1;
    }
  };
  fallback(m.to, kDisplayTo);
  fallback(m.cc, kDisplayCc);
  fallback(m.bcc, kDisplayBcc);
}

mime::Message BuildAt(libpff_item_t* message, int depth);

// The stored bytes of a data attachment (attach method 1).
std::string AttachmentData(libpff_item_t* attachment) {
  libpff_error_t* error = nullptr;
  size64_t size = 0;
  Check(libpff_attachment_get_data_size(attachment, &size, &error), error, "attachment size");
  if (size > (size64_t{1} << 31)) throw Error(Errc::kCorrupt, "attachment size out of range");
  std::string data(static_cast<std::size_t>(size), '\0');
  std::size_t got = 0;
  error = nullptr;
  if (libpff_attachment_data_seek_offset(attachment, 0, SEEK_SET, &error) < 0) {
    throw Error(Errc::kCorrupt, "attachment data: " + TakeError(error));
  }
  while (got < data.size()) {
    error = nullptr;
    ssize_t n = libpff_attachment_data_read_buffer(attachment, reinterpret_cast<uint8_t*>(data.data() + got),
                                                   data.size() - got, &error);
    if (n < 0) throw Error(Errc::kCorrupt, "attachment data: " + TakeError(error));
    if (n == 0) throw Error(Errc::kCorrupt, "attachment data shorter than its stated size");
    got += static_cast<std::size_t>(n);
  }
  return data;
}

mime::Part AttachmentPart(libpff_item_t* attachment, int index, int depth) {
  std::string name = Str(attachment, kAttachFilenameLong);
  if (name.empty()) name = Str(attachment, kAttachFilenameShort);
  if (name.empty()) name = Str(attachment, kDisplayName);
  if (name.empty()) name = "attachment-" + std::to_string(index + 1);
  int kind = 0;
  libpff_error_t* error = nullptr;
  Check(libpff_attachment_get_type(attachment, &kind, &error), error, "attachment type");
  mime::Part p;
  p.disposition = "attachment";
  p.filename = name;
  if (kind == LIBPFF_ATTACHMENT_TYPE_ITEM) {
    Item embedded;
    error = nullptr;
    int rc = libpff_attachment_get_item(attachment, embedded.out(), &error);
    if (rc == 1 && embedded && depth < kMaxDepth) {
      try {
        p.type = "message";
        p.subtype = "rfc822";
        p.message = std::make_shared<mime::Message>(BuildAt(embedded.get(), depth + 1));
        return p;
      } catch (const Error&) {
        p.message.reset();
      }
    } else if (rc == -1) {
      libpff_error_free(&error);
    }
    p.type = "application";
    p.subtype = "octet-stream";
    p.description = "embedded Outlook item that could not be converted";
    p.body = MakeStringBlob("");
    return p;
  }
  if (kind == LIBPFF_ATTACHMENT_TYPE_REFERENCE) {
    p.type = "application";
    p.subtype = "octet-stream";
    p.description = "reference to a file outside the PST (not stored in it)";
    p.body = MakeStringBlob("");
    return p;
  }
  std::string data;
  if (kind == LIBPFF_ATTACHMENT_TYPE_DATA) data = AttachmentData(attachment);
  p.type = "application";
  p.subtype = "octet-stream";
  std::string mime_tag = Str(attachment, kAttachMimeTag);
  std::size_t slash = mime_tag.find('/');
  bool token_ok = !mime_tag.empty() && slash != std::string::npos && slash > 0 && slash + 1 < mime_tag.size() &&
                  mime_tag.find_first_of(" ;\"\t\r\n", 0) == std::string::npos &&
                  mime_tag.find('/', slash + 1) == std::string::npos && mime::IsAscii(mime_tag);
  if (token_ok) {
    for (char& c : mime_tag) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string type = mime_tag.substr(0, slash);
    if (type != "multipart" && type != "message") {
      p.type = type;
      p.subtype = mime_tag.substr(slash + 1);
    }
  }
  p.keep_bytes = true;
  p.content_id = Str(attachment, kAttachContentId);
  if (!mime::IsAscii(p.content_id)) p.content_id.clear();
  p.body = MakeStringBlob(std::move(data));
  return p;
}

// Does message class |cls| equal |prefix| or start with |prefix| + "."
// (case-insensitively, MS-OXCMSG)?
bool ClassIs(const std::string& cls, std::string_view prefix) {
  if (cls.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(cls[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return cls.size() == prefix.size() || cls[prefix.size()] == '.';
}

enum class Kind { kMail, kContact, kDistList, kAppointment, kMeeting, kTask, kOther };

Kind KindOf(const std::string& cls) {
  if (cls.empty() || ClassIs(cls, "IPM.Note") || ClassIs(cls, "IPM.Post") || ClassIs(cls, "REPORT.IPM.Note")) {
    return Kind::kMail;
  }
  if (ClassIs(cls, "IPM.Schedule.Meeting")) return Kind::kMeeting;
  if (ClassIs(cls, "IPM.Contact")) return Kind::kContact;
  if (ClassIs(cls, "IPM.DistList")) return Kind::kDistList;
  if (ClassIs(cls, "IPM.Appointment")) return Kind::kAppointment;
  if (ClassIs(cls, "IPM.Task")) return Kind::kTask;
  return Kind::kOther;
}

// Named properties of contacts, appointments and tasks (MS-OXOCNTC,
// MS-OXOCAL, MS-OXOTASK): property set and LID.
struct Lid {
  const Guid* set;
  std::uint32_t lid;
};
constexpr Lid kEmail1DisplayName{&kPsetidAddress, 0x8080};
constexpr Lid kDistListName{&kPsetidAddress, 0x8053};
constexpr Lid kDistListOneOffMembers{&kPsetidAddress, 0x8054};
constexpr Lid kWorkStreet{&kPsetidAddress, 0x8045};
constexpr Lid kWorkCity{&kPsetidAddress, 0x8046};
constexpr Lid kWorkState{&kPsetidAddress, 0x8047};
constexpr Lid kWorkPostalCode{&kPsetidAddress, 0x8048};
constexpr Lid kWorkCountry{&kPsetidAddress, 0x8049};
constexpr Lid kBusyStatus{&kPsetidAppointment, 0x8205};
constexpr Lid kLocation{&kPsetidAppointment, 0x8208};
constexpr Lid kStartWhole{&kPsetidAppointment, 0x820d};
constexpr Lid kEndWhole{&kPsetidAppointment, 0x820e};
constexpr Lid kAllDay{&kPsetidAppointment, 0x8215};  // PidLidAppointmentSubType
constexpr Lid kAppointmentState{&kPsetidAppointment, 0x8217};
constexpr Lid kRecurrencePattern{&kPsetidAppointment, 0x8232};
constexpr Lid kTimeZoneStruct{&kPsetidAppointment, 0x8233};
constexpr Lid kGlobalObjectId{&kPsetidMeeting, 0x0003};
constexpr Lid kCleanGlobalObjectId{&kPsetidMeeting, 0x0023};
constexpr Lid kTaskStatus{&kPsetidTask, 0x8101};
constexpr Lid kPercentComplete{&kPsetidTask, 0x8102};
constexpr Lid kTaskStartDate{&kPsetidTask, 0x8104};
constexpr Lid kTaskDueDate{&kPsetidTask, 0x8105};
constexpr Lid kTaskDateCompleted{&kPsetidTask, 0x810f};

// Reads named properties of one item.
class Named {
 public:
  explicit Named(libpff_item_t* item) : item_(item), map_(item, 0) {}
  std::string Str(Lid lid) const {
    std::optional<std::uint32_t> tag = map_.Find(*lid.set, lid.lid);
    return tag ? GetString(item_, 0, *tag).value_or("") : "";
  }
  std::optional<std::uint32_t> U32(Lid lid) const {
    std::optional<std::uint32_t> tag = map_.Find(*lid.set, lid.lid);
    return tag ? GetU32(item_, 0, *tag) : std::nullopt;
  }
  std::optional<bool> Bool(Lid lid) const {
    std::optional<std::uint32_t> tag = map_.Find(*lid.set, lid.lid);
    return tag ? GetBool(item_, 0, *tag) : std::nullopt;
  }
  std::optional<double> Double(Lid lid) const {
    std::optional<std::uint32_t> tag = map_.Find(*lid.set, lid.lid);
    return tag ? GetDouble(item_, 0, *tag) : std::nullopt;
  }
  std::optional<std::int64_t> Time(Lid lid) const {
    std::optional<std::uint32_t> tag = map_.Find(*lid.set, lid.lid);
    std::optional<std::uint64_t> ft = tag ? GetFiletime(item_, 0, *tag) : std::nullopt;
    if (!ft || *ft == 0 || *ft >= 0x7fffffffffffffffULL) return std::nullopt;
    return FiletimeToUnix(*ft);
  }
  std::optional<std::string> Bytes(Lid lid) const {
    std::optional<std::uint32_t> tag = map_.Find(*lid.set, lid.lid);
    return tag ? GetBytes(item_, 0, *tag) : std::nullopt;
  }
  std::vector<std::string> Binaries(Lid lid) const {
    std::optional<std::uint32_t> tag = map_.Find(*lid.set, lid.lid);
    return tag ? GetBinaries(item_, 0, *tag) : std::vector<std::string>();
  }

 private:
  libpff_item_t* item_;
  NamedProperties map_;
};

std::optional<std::int64_t> TimeProp(libpff_item_t* item, std::uint32_t tag) {
  std::optional<std::uint64_t> ft = GetFiletime(item, 0, tag);
  if (!ft || *ft == 0 || *ft >= 0x7fffffffffffffffULL) return std::nullopt;
  return FiletimeToUnix(*ft);
}

std::string HexUpper(std::string_view bytes) {
  std::string out;
  char buf[3];
  for (char c : bytes) {
    std::snprintf(buf, sizeof(buf), "%02X", static_cast<unsigned char>(c));
    out += buf;
  }
  return out;
}

}  // namespace

std::optional<mime::Mailbox> ParseOneOffEntryId(std::string_view id) {
  // MS-OXCDATA 2.2.5.1: flags (4), the one-off provider UID (16), version
  // (2), flags (2; 0x8000 = strings in UTF-16LE), then display name, address
  // type and address, each NUL-terminated.
  static constexpr std::uint8_t kOneOffUid[16] = {0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19,
                                                  0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54, 0x02};
  if (id.size() < 24 || std::memcmp(id.data() + 4, kOneOffUid, 16) != 0) return std::nullopt;
  std::uint16_t flags = static_cast<std::uint16_t>(static_cast<unsigned char>(id[22]) |
                                                   (static_cast<unsigned char>(id[23]) << 8));
  bool unicode = (flags & 0x8000) != 0;
  std::size_t pos = 24;
  std::string fields[3];
  for (std::string& field : fields) {
    if (pos >= id.size()) return std::nullopt;
    if (unicode) {
      std::size_t end = pos;
      while (end + 1 < id.size() && (id[end] != 0 || id[end + 1] != 0)) end += 2;
      if (end + 1 >= id.size()) return std::nullopt;
      field = Utf16LeToUtf8(id.substr(pos, end - pos));
      pos = end + 2;
    } else {
      std::size_t end = id.find('\0', pos);
      if (end == std::string_view::npos) return std::nullopt;
      std::optional<std::string> utf8 = mime::CodePageToUtf8(1252, id.substr(pos, end - pos));
      field = utf8 ? *utf8 : mime::SanitizeUtf8(id.substr(pos, end - pos));
      pos = end + 1;
    }
  }
  mime::Mailbox mb;
  mb.name = fields[0];
  std::string type = fields[1];
  for (char& c : type) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (type == "SMTP" || type.empty()) mb.address = SmtpOrEmpty(fields[2]);
  if (mb.name == mb.address) mb.name.clear();
  return mb;
}

namespace {

Contact ContactOf(libpff_item_t* item, const Named& named, bool group) {
  Contact c;
  c.group = group;
  c.formatted_name = Str(item, kDisplayName);
  if (group) {
    std::string name = named.Str(kDistListName);
    if (!name.empty()) c.formatted_name = name;
    for (const std::string& entry : named.Binaries(kDistListOneOffMembers)) {
      if (std::optional<mime::Mailbox> mb = ParseOneOffEntryId(entry)) {
        if (!mb->name.empty() || !mb->address.empty()) c.members.push_back(*mb);
      }
    }
  } else {
    c.family = Str(item, 0x3a11);
    c.given = Str(item, 0x3a06);
    c.middle = Str(item, 0x3a44);
    c.prefix = Str(item, 0x3a45);
    c.suffix = Str(item, 0x3a05);
    c.nickname = Str(item, 0x3a4f);
    c.organization = Str(item, 0x3a16);
    c.department = Str(item, 0x3a18);
    c.title = Str(item, 0x3a17);
    // E-mail 1..3: address (LID 0x8083 + 0x10 n), its type (0x8082 + ...),
    // the display name Outlook shows (0x8080 + ...) and the original display
    // name (0x8084 + ...), which holds the SMTP address of an EX entry.
    for (std::uint32_t n = 0; n < 3; ++n) {
      std::uint32_t base = kEmail1DisplayName.lid + 0x10 * n;
      std::string type = named.Str(Lid{&kPsetidAddress, base + 2});
      for (char& ch : type) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      std::string address;
      if (type.empty() || type == "SMTP") address = SmtpOrEmpty(named.Str(Lid{&kPsetidAddress, base + 3}));
      if (address.empty()) address = SmtpOrEmpty(named.Str(Lid{&kPsetidAddress, base + 4}));
      if (address.empty()) continue;
      c.emails.push_back(Contact::Email{address, named.Str(Lid{&kPsetidAddress, base})});
    }
    static const struct {
      std::uint32_t tag;
      const char* type;
    } kPhones[] = {{0x3a1a, "voice"},     {0x3a08, "work,voice"}, {0x3a1b, "work,voice"}, {0x3a09, "home,voice"},
                   {0x3a2f, "home,voice"}, {0x3a1c, "cell"},       {0x3a24, "work,fax"},   {0x3a25, "home,fax"},
                   {0x3a21, "pager"},      {0x3a1f, "voice"},      {0x3a02, "voice"}};
    for (const auto& phone : kPhones) {
      std::string number = Str(item, phone.tag);
      if (!number.empty()) c.phones.push_back(Contact::Phone{phone.type, number});
    }
    Contact::Address work{"work", named.Str(kWorkStreet), named.Str(kWorkCity), named.Str(kWorkState),
                          named.Str(kWorkPostalCode), named.Str(kWorkCountry)};
    Contact::Address home{"home", Str(item, 0x3a5d), Str(item, 0x3a59), Str(item, 0x3a5c), Str(item, 0x3a5b),
                          Str(item, 0x3a5a)};
    Contact::Address other{"", Str(item, 0x3a63), Str(item, 0x3a5f), Str(item, 0x3a62), Str(item, 0x3a61),
                           Str(item, 0x3a60)};
    for (Contact::Address* a : {&work, &home, &other}) {
      if (!(a->street + a->city + a->region + a->postal_code + a->country).empty()) c.addresses.push_back(*a);
    }
    for (std::uint32_t tag : {0x3a51u, 0x3a50u}) {
      std::string url = Str(item, tag);
      if (!url.empty()) c.urls.push_back(url);
    }
    c.birthday = TimeProp(item, 0x3a42);
  }
  return c;
}

// The day of an all-day appointment as midnight UTC of that day: Outlook
// stores local midnight converted to UTC, so the stored time is shifted by
// the zone's bias (PidLidTimeZoneStruct, minutes; UTC = local + bias).
// Rounding to the nearest midnight absorbs daylight saving.
std::int64_t AllDayDate(std::int64_t utc, const Named& named) {
  std::int64_t local = utc;
  if (std::optional<std::string> tz = named.Bytes(kTimeZoneStruct); tz && tz->size() >= 4) {
    auto bias = static_cast<std::int32_t>(
        static_cast<std::uint32_t>(static_cast<unsigned char>((*tz)[0])) |
        (static_cast<std::uint32_t>(static_cast<unsigned char>((*tz)[1])) << 8) |
        (static_cast<std::uint32_t>(static_cast<unsigned char>((*tz)[2])) << 16) |
        (static_cast<std::uint32_t>(static_cast<unsigned char>((*tz)[3])) << 24));
    if (bias > -24 * 60 && bias < 24 * 60) local = utc - static_cast<std::int64_t>(bias) * 60;
  }
  std::int64_t day = local >= 0 ? (local + 43200) / 86400 : -((-local + 43200) / 86400);
  return day * 86400;
}

CalendarItem CalendarItemOf(libpff_item_t* item, const Named& named, Kind kind, const std::string& cls,
                            const mime::Message& m) {
  CalendarItem c;
  c.task = kind == Kind::kTask;
  if (kind == Kind::kMeeting) {
    if (ClassIs(cls, "IPM.Schedule.Meeting.Request")) {
      c.method = "REQUEST";
    } else if (ClassIs(cls, "IPM.Schedule.Meeting.Canceled")) {
      c.method = "CANCEL";
    } else if (ClassIs(cls, "IPM.Schedule.Meeting.Resp")) {
      c.method = "REPLY";
    }
  }
  std::optional<std::string> goid = named.Bytes(kGlobalObjectId);
  if (!goid || goid->empty()) goid = named.Bytes(kCleanGlobalObjectId);
  std::uint32_t nid = 0;
  libpff_error_t* error = nullptr;
  Check(libpff_item_get_identifier(item, &nid, &error), error, "item identifier");
  char fallback[48];
  std::snprintf(fallback, sizeof(fallback), "pst-node-%08x@mailfs", nid);
  c.uid = goid && !goid->empty() ? HexUpper(*goid) : fallback;
  c.stamp = TimeProp(item, kLastModificationTime).value_or(TimeProp(item, kCreationTime).value_or(0));
  c.summary = m.subject.value_or("");
  std::optional<std::string> plain =
      GetString(item, 0, 0x1000);  // PR_BODY: the item's description / notes
  if (plain) {
    std::string text = *plain;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
    c.description = text;
  }
  if (std::optional<std::uint32_t> sensitivity = GetU32(item, 0, kSensitivity)) {
    c.classification = *sensitivity == 2 ? "PRIVATE" : *sensitivity == 3 ? "CONFIDENTIAL" : "PUBLIC";
  }
  if (c.task) {
    c.task_start = named.Time(kTaskStartDate);
    c.due = named.Time(kTaskDueDate);
    c.completed = named.Time(kTaskDateCompleted);
    if (std::optional<double> pc = named.Double(kPercentComplete); pc && *pc >= 0 && *pc <= 1) {
      c.percent_complete = static_cast<int>(std::lround(*pc * 100));
    }
    // MS-OXOTASK PidLidTaskStatus: 0 not started, 1 in progress, 2 complete,
    // 3 waiting on someone else, 4 deferred.
    switch (named.U32(kTaskStatus).value_or(0xffffffff)) {
      case 0: c.status = "NEEDS-ACTION"; break;
      case 1: c.status = "IN-PROCESS"; break;
      case 2: c.status = "COMPLETED"; break;
      case 3:
      case 4: c.status = "NEEDS-ACTION"; break;
      default: break;
    }
  } else {
    c.start = named.Time(kStartWhole);
    c.end = named.Time(kEndWhole);
    c.all_day = named.Bool(kAllDay).value_or(false);
    if (c.all_day) {
      if (c.start) c.start = AllDayDate(*c.start, named);
      if (c.end) c.end = AllDayDate(*c.end, named);
    }
    c.location = named.Str(kLocation);
    c.transparent = named.U32(kBusyStatus).value_or(2) == 0;
    c.recurrence = named.Str(kRecurrencePattern);
    // PidLidAppointmentStateFlags: 0x4 = canceled.
    if ((named.U32(kAppointmentState).value_or(0) & 0x4) != 0 || c.method == "CANCEL") c.status = "CANCELLED";
  }
  if (!m.from.empty()) c.organizer = m.from.front();
  for (const mime::Mailbox& who : m.to) c.attendees.push_back(CalendarItem::Attendee{who, "REQ-PARTICIPANT"});
  for (const mime::Mailbox& who : m.cc) c.attendees.push_back(CalendarItem::Attendee{who, "OPT-PARTICIPANT"});
  for (const mime::Mailbox& who : m.bcc) c.attendees.push_back(CalendarItem::Attendee{who, "NON-PARTICIPANT"});
  return c;
}

// A file name for the vCard / iCalendar part: the item's name with the
// characters file systems refuse replaced.
std::string ItemFileName(std::string name, const char* fallback, const char* extension) {
  for (char& ch : name) {
    if (ch == '/' || ch == '\\' || ch == ':' || static_cast<unsigned char>(ch) < 0x20) ch = '_';
  }
  while (!name.empty() && (name.back() == ' ' || name.back() == '.')) name.pop_back();
  if (name.empty()) name = fallback;
  if (name.size() > 120) name = mime::SanitizeUtf8(name.substr(0, 120));
  return name + extension;
}

mime::Message BuildAt(libpff_item_t* message, int depth) {
  mime::Message m;
  std::string headers = Str(message, kTransportHeaders);
  bool have_headers = false;
  if (!headers.empty()) {
    // Normalise to a header block ending in one empty line, then parse it
    // as a message without body: Content-* fields are not kept.
    std::size_t end = headers.find_last_not_of(" \t\r\n");
    headers = headers.substr(0, end == std::string::npos ? 0 : end + 1);
    headers += "\r\n\r\n";
    std::string_view block = mime::HeaderBlock(headers);
    if (!block.empty() && mime::FirstHeader(block, "From")) {
      m = mime::Parse(std::string(block) + "\r\n");
      m.body = mime::Part();
      have_headers = true;
    }
  }
  std::string cls = Str(message, kMessageClass);
  if (!have_headers) {
    // From is the mailbox the message was sent for; Sender the one that sent
    // it, when that is someone else (a delegate).
    // Recipients first: a row there may give the SMTP address of the
    // sender's Exchange DN (a message sent to oneself, a reply-all).
    DnMap dns;
    AddRecipients(message, m, dns);
    mime::Mailbox sender = MailboxOf(message, kSenderName, kSenderSmtpAddress, kSenderAddrType, kSenderEmail);
    ResolveByDn(message, kSenderAddrType, kSenderEmail, dns, sender);
    mime::Mailbox owner =
        MailboxOf(message, kRepresentingName, kRepresentingSmtpAddress, kRepresentingAddrType, kRepresentingEmail);
    ResolveByDn(message, kRepresentingAddrType, kRepresentingEmail, dns, owner);
    bool have_sender = !sender.name.empty() || !sender.address.empty();
    bool have_owner = !owner.name.empty() || !owner.address.empty();
    if (have_owner) {
      m.from.push_back(owner);
      bool same = sender.address.empty() && owner.address.empty() ? sender.name == owner.name
                                                                 : sender.address == owner.address;
      if (have_sender && !same) m.sender.push_back(sender);
    } else if (have_sender) {
      m.from.push_back(sender);
    }
    if (std::optional<std::string> s = GetString(message, 0, kSubject)) {
      // Strip the MAPI subject prefix marker (0x01 + length) when present.
      std::string subject = *s;
      if (subject.size() >= 2 && subject[0] == '\x01') subject.erase(0, 2);
      m.subject = subject;
    }
    uint64_t ft = 0;
    libpff_error_t* error = nullptr;
    if (Check(libpff_message_get_client_submit_time(message, &ft, &error), error, "submit time") == 1 && ft != 0) {
      m.date = mime::DateTime{FiletimeToUnix(ft), 0, false};
    }
    m.message_id = mime::MessageIdToken(Str(message, kInternetMessageId));
    std::string irt = Str(message, kInReplyTo);
    if (mime::IsAscii(irt)) m.in_reply_to = irt;
    std::string refs = Str(message, kReferences);
    if (mime::IsAscii(refs)) m.references = refs;
  }
  auto has_header = [&](const char* name) {
    for (const mime::Header& h : m.extra_headers) {
      if (h.name.size() == std::string_view(name).size() &&
          std::equal(h.name.begin(), h.name.end(), name, [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
          })) {
        return true;
      }
    }
    return false;
  };
  if (std::optional<std::uint32_t> importance = GetU32(message, 0, kImportance);
      importance && *importance != 1 && !has_header("Importance")) {
    m.extra_headers.push_back(mime::Header{"Importance", *importance == 0 ? "low" : "high"});
  }
  if (std::optional<std::uint32_t> sensitivity = GetU32(message, 0, kSensitivity);
      sensitivity && *sensitivity >= 1 && *sensitivity <= 3 && !has_header("Sensitivity")) {
    static const char* const kNames[] = {"", "Personal", "Private", "Company-Confidential"};
    m.extra_headers.push_back(mime::Header{"Sensitivity", kNames[*sensitivity]});
  }
  if (!cls.empty()) m.extra_headers.push_back(mime::Header{"X-MS-Message-Class", cls});

  std::optional<std::string> plain =
      ReadBody(message, libpff_message_get_plain_text_body_size, libpff_message_get_plain_text_body, "text body");
  std::optional<std::string> html =
      ReadBody(message, libpff_message_get_html_body_size, libpff_message_get_html_body, "HTML body");
  if (plain) plain = mime::SanitizeUtf8(StripNul(std::move(*plain)));
  if (html && StripNul(*html).empty()) html.reset();

  Kind kind = KindOf(cls);
  std::vector<mime::Part> content;  // the alternatives of the message text
  std::optional<mime::Part> item_part;  // the vCard / iCalendar of a non-mail item
  if (kind == Kind::kContact || kind == Kind::kDistList) {
    Named named(message);
    Contact c = ContactOf(message, named, kind == Kind::kDistList);
    if (plain) {
      c.note = *plain;
      while (!c.note.empty() && (c.note.back() == '\n' || c.note.back() == '\r' || c.note.back() == ' ')) {
        c.note.pop_back();
      }
    }
    content.push_back(TextPart("plain", SummarizeContact(c)));
    item_part = TextPart("vcard", FormatVCard(c));
    item_part->disposition = "attachment";
    item_part->filename = ItemFileName(c.formatted_name, "contact", ".vcf");
    html.reset();  // the summary carries the notes
  } else if (kind == Kind::kAppointment || kind == Kind::kTask || kind == Kind::kMeeting) {
    Named named(message);
    CalendarItem c = CalendarItemOf(message, named, kind, cls, m);
    item_part = TextPart("calendar", FormatICalendar(c));
    if (!c.method.empty()) item_part->params.push_back(mime::Param{"method", c.method});
    item_part->disposition = "attachment";
    item_part->filename = ItemFileName(c.summary, kind == Kind::kTask ? "task" : "event", ".ics");
    if (kind == Kind::kMeeting) {
      // A meeting request is mail: its own text stays, the invitation is a part.
      if (plain) content.push_back(TextPart("plain", *plain));
    } else {
      content.push_back(TextPart("plain", SummarizeCalendarItem(c)));
      html.reset();  // the summary carries the description
    }
  } else if (kind == Kind::kOther) {
    std::string summary = "Outlook item of class " + cls + "\n";
    if (m.subject) summary += "Subject: " + *m.subject + "\n";
    if (plain && !plain->empty()) summary += "\n" + *plain;
    content.push_back(TextPart("plain", summary));
  } else if (plain) {
    content.push_back(TextPart("plain", *plain));
  }
  std::optional<std::string> rtf;
  bool rtf_read = false;
  auto read_rtf = [&]() {
    if (!rtf_read) {
      rtf = ReadBody(message, libpff_message_get_rtf_body_size, libpff_message_get_rtf_body, "RTF body");
      if (rtf) rtf = StripNul(std::move(*rtf));
      if (rtf && rtf->empty()) rtf.reset();
      rtf_read = true;
    }
  };
  if (!html && (kind == Kind::kMail || kind == Kind::kMeeting)) {
    // Outlook keeps HTML it received as RTF with the HTML encapsulated
    // (\fromhtml1): that HTML, taken back out, is the HTML alternative.
    read_rtf();
    if (rtf) {
      if (std::optional<std::string> from_rtf = HtmlFromRtf(*rtf)) html = std::move(*from_rtf);
    }
  }
  if (html) content.push_back(HtmlPart(message, std::move(*html)));
  if (content.empty()) {
    // Only RTF (not encapsulated HTML): served as it is, never converted to
    // text of our own making.
    read_rtf();
    if (rtf) {
      mime::Part p;
      p.type = "application";
      p.subtype = "rtf";
      p.body = MakeStringBlob(std::move(*rtf));
      content.push_back(std::move(p));
    }
  }
  mime::Part text;
  if (content.empty()) {
    text = TextPart("plain", "");
  } else if (content.size() == 1) {
    text = std::move(content[0]);
  } else {
    text.type = "multipart";
    text.subtype = "alternative";
    text.parts = std::move(content);
  }

  int n = 0;
  libpff_error_t* error = nullptr;
  if (Check(libpff_message_get_number_of_attachments(message, &n, &error), error, "attachments") != 1) n = 0;
  if (n <= 0 && !item_part) {
    m.body = std::move(text);
    return m;
  }
  m.body = mime::Part();
  m.body.type = "multipart";
  m.body.subtype = "mixed";
  m.body.parts.push_back(std::move(text));
  if (item_part) m.body.parts.push_back(std::move(*item_part));
  for (int i = 0; i < n; ++i) {
    Item attachment;
    error = nullptr;
    Check(libpff_message_get_attachment(message, i, attachment.out(), &error), error,
          "attachment " + std::to_string(i + 1));
    try {
      m.body.parts.push_back(AttachmentPart(attachment.get(), i, depth));
    } catch (const Error& e) {
      throw Error(Errc::kCorrupt, "attachment " + std::to_string(i + 1) + ": " + e.what());
    }
  }
  return m;
}

}  // namespace

mime::Message BuildMessage(libpff_item_t* message) { return BuildAt(message, 0); }

std::int64_t DeliveryTime(libpff_item_t* message) {
  uint64_t ft = 0;
  libpff_error_t* error = nullptr;
  if (Check(libpff_message_get_delivery_time(message, &ft, &error), error, "delivery time") != 1 || ft == 0) {
    // Items that were never delivered (contacts, drafts): their creation time.
    error = nullptr;
    if (Check(libpff_message_get_creation_time(message, &ft, &error), error, "creation time") != 1) return 0;
  }
  return ft == 0 ? 0 : FiletimeToUnix(ft);
}

// IMAP flags from MAPI (one mapping for all item classes):
//   \Seen      PR_MESSAGE_FLAGS has MSGFLAG_READ (0x1).
//   \Draft     PR_MESSAGE_FLAGS has MSGFLAG_UNSENT (0x8): composed, never sent.
//   \Flagged   PR_FLAG_STATUS is followupFlagged (2); "complete" (1) is not.
//   \Answered  PR_LAST_VERB_EXECUTED is reply-to-sender (102) or reply-to-all
//              (103); without a last verb, PR_ICON_INDEX is the replied icon
//              (0x105).
//   $Forwarded PR_LAST_VERB_EXECUTED is forward (104), or PR_ICON_INDEX is the
//              forwarded icon (0x106): the keyword IMAP servers use for it.
//   keywords   each value of PidNameKeywords (Outlook's categories, where
//              mailfs also keeps IMAP keywords when it writes a message) that
//              is a valid IMAP atom; categories with spaces or other
//              characters an IMAP keyword cannot hold are left out (user.mail.flags
//              is a space-separated list).
Flags MessageFlags(libpff_item_t* message) {
  Flags flags;
  std::uint32_t message_flags = GetU32(message, 0, kMessageFlags).value_or(0);
  std::optional<std::uint32_t> verb = GetU32(message, 0, kLastVerbExecuted);
  std::uint32_t icon = GetU32(message, 0, kIconIndex).value_or(0);
  bool answered = verb ? (*verb == 102 || *verb == 103) : icon == 0x105;
  bool forwarded = verb ? *verb == 104 : icon == 0x106;
  if (answered) flags.push_back("\\Answered");
  if (GetU32(message, 0, kFlagStatus).value_or(0) == 2) flags.push_back("\\Flagged");
  if (message_flags & 0x1) flags.push_back("\\Seen");
  if (message_flags & 0x8) flags.push_back("\\Draft");
  if (forwarded) flags.push_back("$Forwarded");
  NamedProperties named(message, 0);
  if (std::optional<std::uint32_t> tag = named.Find(kPsPublicStrings, kKeywordsName)) {
    for (const std::string& keyword : GetStrings(message, 0, *tag)) {
      bool atom = !keyword.empty() && keyword[0] != '\\';
      for (char c : keyword) {
        auto b = static_cast<unsigned char>(c);
        if (b <= 0x20 || b >= 0x7f || std::strchr("(){%*\"\\]", c) != nullptr) atom = false;
      }
      if (atom && std::find(flags.begin(), flags.end(), keyword) == flags.end()) flags.push_back(keyword);
    }
  }
  return flags;
}

std::optional<std::string> OriginalMime(libpff_item_t* message) {
  NamedProperties named(message, 0);
  std::optional<std::uint32_t> tag = named.Find(kMailfsPropertySet, kOriginalMimeName);
  if (!tag) return std::nullopt;
  std::optional<std::string> bytes = GetBytes(message, 0, *tag);
  if (!bytes || bytes->empty()) return std::nullopt;
  PackedMime packed(*bytes);
  if (!packed.HasReferences()) return packed.Expand();
  // Sections left out of the kept copy are the bodies, or attachments by
  // their PidTagAttachNumber (the writer numbers them in table order).
  return packed.Expand([message](std::uint32_t number) {
    if (number == kPlainBodyPart || number == kHtmlBodyPart) {
      std::optional<std::string> body = number == kPlainBodyPart ? GetString(message, 0, kBodyTag)
                                                                 : GetBytes(message, 0, kHtmlTag);
      if (!body) throw Error(Errc::kCorrupt, "original message bytes: the body they refer to is missing");
      return std::move(*body);
    }
    int n = 0;
    libpff_error_t* error = nullptr;
    if (Check(libpff_message_get_number_of_attachments(message, &n, &error), error, "attachments") != 1) n = 0;
    for (int i = 0; i < n; ++i) {
      Item attachment;
      error = nullptr;
      Check(libpff_message_get_attachment(message, i, attachment.out(), &error), error,
            "attachment " + std::to_string(i + 1));
      if (GetU32(attachment.get(), 0, kAttachNumber).value_or(static_cast<std::uint32_t>(i)) == number) {
        return AttachmentData(attachment.get());
      }
    }
    throw Error(Errc::kCorrupt, "original message bytes: attachment " + std::to_string(number) + " missing");
  });
}

}  // namespace mailfs::pst
