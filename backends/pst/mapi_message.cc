#include "backends/pst/mapi_message.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "backends/error.h"
#include "backends/mime/charset.h"
#include "backends/mime/header_decode.h"
#include "backends/mime/parser.h"
#include "backends/pst/pff.h"

namespace mailfs::pst {
namespace {

// MAPI property tags (property id only; any value type).
constexpr std::uint32_t kMessageClass = 0x001a;
constexpr std::uint32_t kImportance = 0x0017;
constexpr std::uint32_t kSensitivity = 0x0036;
constexpr std::uint32_t kSubject = 0x0037;
constexpr std::uint32_t kRepresentingName = 0x0042;
constexpr std::uint32_t kRepresentingEmail = 0x0065;
constexpr std::uint32_t kTransportHeaders = 0x007d;
constexpr std::uint32_t kSenderName = 0x0c1a;
constexpr std::uint32_t kSenderEmail = 0x0c1f;
constexpr std::uint32_t kRecipientType = 0x0c15;
constexpr std::uint32_t kDisplayBcc = 0x0e02;
constexpr std::uint32_t kDisplayCc = 0x0e03;
constexpr std::uint32_t kDisplayTo = 0x0e04;
constexpr std::uint32_t kMessageFlags = 0x0e07;
constexpr std::uint32_t kInternetMessageId = 0x1035;
constexpr std::uint32_t kReferences = 0x1039;
constexpr std::uint32_t kInReplyTo = 0x1042;
constexpr std::uint32_t kFlagStatus = 0x1090;
constexpr std::uint32_t kDisplayName = 0x3001;
constexpr std::uint32_t kEmailAddress = 0x3003;
constexpr std::uint32_t kAttachFilenameShort = 0x3704;
constexpr std::uint32_t kAttachFilenameLong = 0x3707;
constexpr std::uint32_t kAttachMimeTag = 0x370e;
constexpr std::uint32_t kAttachContentId = 0x3712;
constexpr std::uint32_t kSmtpAddress = 0x39fe;
constexpr std::uint32_t kInternetCodepage = 0x3fde;
constexpr std::uint32_t kSenderSmtpAddress = 0x5d01;
constexpr std::uint32_t kRepresentingSmtpAddress = 0x5d02;

constexpr int kMaxDepth = 8;  // embedded messages nested deeper are not opened

std::string Str(libpff_item_t* item, std::uint32_t type, int set = 0) {
  return GetString(item, set, type).value_or("");
}

// An address usable as an addr-spec, or empty (Exchange DNs are not).
std::string SmtpOrEmpty(const std::string& a) {
  if (a.find('@') == std::string::npos || a.find(' ') != std::string::npos || a.front() == '/') return "";
  return a;
}

// A mailbox from a display-name property and SMTP / e-mail address properties.
mime::Mailbox MailboxOf(libpff_item_t* item, std::uint32_t name_tag, std::uint32_t smtp_tag,
                        std::uint32_t email_tag) {
  mime::Mailbox mb;
  mb.name = Str(item, name_tag);
  mb.address = SmtpOrEmpty(Str(item, smtp_tag));
  if (mb.address.empty()) mb.address = SmtpOrEmpty(Str(item, email_tag));
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

void AddRecipients(libpff_item_t* message, mime::Message& m) {
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
      mb.address = SmtpOrEmpty(Str(recipients.get(), kSmtpAddress, i));
      if (mb.address.empty()) mb.address = SmtpOrEmpty(Str(recipients.get(), kEmailAddress, i));
      if (mb.name == mb.address) mb.name.clear();
      if (mb.name.empty() && mb.address.empty()) continue;
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
  if (kind == LIBPFF_ATTACHMENT_TYPE_DATA) {
    size64_t size = 0;
    error = nullptr;
    Check(libpff_attachment_get_data_size(attachment, &size, &error), error, "attachment size");
    if (size > (size64_t{1} << 31)) throw Error(Errc::kCorrupt, "attachment size out of range");
    data.resize(static_cast<std::size_t>(size));
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
  }
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

bool IsMailClass(const std::string& cls) {
  auto starts = [&](const char* prefix) {
    std::string p(prefix);
    if (cls.size() < p.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(cls[i])) != std::tolower(static_cast<unsigned char>(p[i]))) {
        return false;
      }
    }
    return cls.size() == p.size() || cls[p.size()] == '.';
  };
  return cls.empty() || starts("IPM.Note") || starts("IPM.Post") || starts("REPORT.IPM.Note") ||
         starts("IPM.Schedule.Meeting");
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
    mime::Mailbox sender = MailboxOf(message, kSenderName, kSenderSmtpAddress, kSenderEmail);
    mime::Mailbox owner = MailboxOf(message, kRepresentingName, kRepresentingSmtpAddress, kRepresentingEmail);
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
    AddRecipients(message, m);
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

  std::vector<mime::Part> content;  // the alternatives of the message text
  if (!IsMailClass(cls)) {
    std::string summary = "Outlook item of class " + cls + "\n";
    if (m.subject) summary += "Subject: " + *m.subject + "\n";
    if (plain && !plain->empty()) summary += "\n" + *plain;
    content.push_back(TextPart("plain", summary));
  } else if (plain) {
    content.push_back(TextPart("plain", *plain));
  }
  if (html) content.push_back(HtmlPart(message, std::move(*html)));
  if (content.empty()) {
    std::optional<std::string> rtf =
        ReadBody(message, libpff_message_get_rtf_body_size, libpff_message_get_rtf_body, "RTF body");
    if (rtf && !StripNul(*rtf).empty()) {
      mime::Part p;
      p.type = "application";
      p.subtype = "rtf";
      p.body = MakeStringBlob(StripNul(std::move(*rtf)));
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
  if (n <= 0) {
    m.body = std::move(text);
    return m;
  }
  m.body = mime::Part();
  m.body.type = "multipart";
  m.body.subtype = "mixed";
  m.body.parts.push_back(std::move(text));
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

Flags MessageFlags(libpff_item_t* message) {
  Flags flags;
  if (GetU32(message, 0, kMessageFlags).value_or(0) & 0x1) flags.push_back("\\Seen");
  if (GetU32(message, 0, kFlagStatus).value_or(0) == 2) flags.push_back("\\Flagged");
  return flags;
}

}  // namespace mailfs::pst
