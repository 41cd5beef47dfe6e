#include "backends/pst/writer/messaging/mime_to_mapi.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "backends/error.h"
#include "backends/mime/header_decode.h"
#include "backends/mime/parser.h"
#include "backends/pst/mailfs_props.h"
#include "backends/pst/writer/ltp/heap.h"
#include "backends/pst/writer/ltp/table.h"
#include "backends/sha256.h"

namespace mailfs::pst::writer {
namespace {

using ltp::BinaryValue;
using ltp::BoolValue;
using ltp::Int32Value;
using ltp::PropertyMap;
using ltp::StringValue;
using ltp::TimeValue;
using ltp::UnixToFiletime;

constexpr std::uint32_t kMsgFlagRead = 0x01;
constexpr std::uint32_t kMsgFlagUnsent = 0x08;
constexpr std::uint32_t kMsgFlagHasAttach = 0x10;
constexpr std::uint32_t kFlagStatusFlagged = 2;
constexpr std::uint32_t kVerbReplyToSender = 102;
constexpr std::uint32_t kIconReplied = 0x105;

std::string BlobBytes(const BlobPtr& blob) {
  if (!blob) return {};
  std::string s(blob->Size(), '\0');
  std::size_t got = blob->ReadAt(0, s.data(), s.size());
  s.resize(got);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

const mime::Header* FindHeader(const mime::Message& m, std::string_view name) {
  for (const auto& h : m.extra_headers) {
    if (Lower(h.name) == Lower(name)) return &h;
  }
  return nullptr;
}

std::string ToCrlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 40);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out.push_back('\r');
    out.push_back(s[i]);
  }
  return out;
}

// Splits "RE: topic" into ("RE: ", "topic"): a prefix is 1..3 letters or
// digits then a colon and a space, the way Outlook derives it.
std::pair<std::string, std::string> SplitSubject(const std::string& subject) {
  std::size_t colon = subject.find(':');
  if (colon == std::string::npos || colon == 0 || colon > 3 || colon + 1 >= subject.size() ||
      subject[colon + 1] != ' ') {
    return {"", subject};
  }
  for (std::size_t i = 0; i < colon; ++i) {
    if (!std::isalnum(static_cast<unsigned char>(subject[i]))) return {"", subject};
  }
  return {subject.substr(0, colon + 2), subject.substr(colon + 2)};
}

// Long text that is pure ASCII is stored as PtypString8 (one byte per
// character instead of two; every reader decodes it with the message code
// page, of which ASCII is a subset); other text as UTF-16.
ltp::PropValue TextValue(std::string_view utf8, bool& used_8bit) {
  for (char c : utf8) {
    if (static_cast<unsigned char>(c) >= 0x80) return StringValue(utf8);
  }
  used_8bit = true;
  return {ltp::ptype::kString8, std::string(utf8)};
}

std::string DisplayOf(const mime::Mailbox& m) { return m.name.empty() ? m.address : m.name; }

std::string JoinNames(const std::vector<mime::Mailbox>& list) {
  std::string out;
  for (const auto& m : list) {
    if (!out.empty()) out += "; ";
    out += DisplayOf(m);
  }
  return out;
}

// Plain text from HTML for text-only readers: tags dropped, script and
// style contents dropped, line breaks for block ends, common entities.
std::string HtmlToText(std::string_view html) {
  std::string out;
  std::size_t i = 0;
  auto starts = [&](std::size_t at, std::string_view w) {
    if (at + w.size() > html.size()) return false;
    for (std::size_t k = 0; k < w.size(); ++k) {
      if (std::tolower(static_cast<unsigned char>(html[at + k])) != w[k]) return false;
    }
    return true;
  };
  while (i < html.size()) {
    char c = html[i];
    if (c == '<') {
      for (std::string_view skip : {"script", "style"}) {
        if (starts(i + 1, skip)) {
          std::string close = "</" + std::string(skip);
          std::size_t j = i;
          while (j < html.size() && !starts(j, close)) ++j;
          i = j;
          break;
        }
      }
      bool heading = starts(i + 1, "/h") && i + 3 < html.size() && html[i + 3] >= '1' && html[i + 3] <= '6';
      bool block = starts(i + 1, "br") || starts(i + 1, "/p") || starts(i + 1, "/div") ||
                   starts(i + 1, "/tr") || starts(i + 1, "/li") || heading;
      std::size_t end = html.find('>', i);
      if (end == std::string_view::npos) break;
      i = end + 1;
      if (block) out += "\r\n";
      continue;
    }
    if (c == '&') {
      std::size_t semi = html.find(';', i);
      if (semi != std::string_view::npos && semi - i <= 8) {
        std::string ent = Lower(html.substr(i + 1, semi - i - 1));
        std::string rep;
        if (ent == "amp") rep = "&";
        else if (ent == "lt") rep = "<";
        else if (ent == "gt") rep = ">";
        else if (ent == "quot") rep = "\"";
        else if (ent == "apos") rep = "'";
        else if (ent == "nbsp") rep = " ";
        if (!rep.empty()) {
          out += rep;
          i = semi + 1;
          continue;
        }
      }
    }
    if (c == '\r' || c == '\n') {
      if (!out.empty() && out.back() != ' ' && out.back() != '\n') out.push_back(' ');
      ++i;
      continue;
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

// 8.3 name for PidTagAttachFilename.
std::string ShortName(const std::string& name) {
  std::size_t dot = name.rfind('.');
  std::string base = dot == std::string::npos ? name : name.substr(0, dot);
  std::string ext = dot == std::string::npos ? "" : name.substr(dot + 1);
  auto clean = [](const std::string& s, std::size_t n) {
    std::string out;
    for (char c : s) {
      if (out.size() == n) break;
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') {
        out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
      }
    }
    return out;
  };
  std::string b = clean(base, 8);
  if (b.empty()) b = "ATTACH";
  std::string e = clean(ext, 3);
  return e.empty() ? b : b + "." + e;
}

// 16 bytes unique per message (PidTagSearchKey).
std::string SearchKeyOf(std::string_view seed) {
  Sha256 h;
  h.Update(seed);
  return h.Finish().substr(0, 16);
}

struct Attachment {
  const mime::Part* part = nullptr;
  bool hidden = false;
};

struct Collected {
  const mime::Part* plain = nullptr;
  const mime::Part* html = nullptr;
  std::vector<Attachment> attachments;
  bool smime_signed = false;
  bool smime_enveloped = false;
};

void Collect(const mime::Part& p, bool in_related, Collected& c) {
  if (p.IsMultipart()) {
    if (p.subtype == "signed") c.smime_signed = true;
    for (const auto& child : p.parts) Collect(child, in_related || p.subtype == "related", c);
    return;
  }
  if (p.type == "application" && (p.subtype == "pkcs7-mime" || p.subtype == "x-pkcs7-mime")) {
    c.smime_enveloped = true;
  }
  bool body_candidate = p.IsText() && p.disposition != "attachment" && p.filename.empty() && !p.message;
  if (body_candidate && p.subtype == "plain" && !c.plain) {
    c.plain = &p;
    return;
  }
  if (body_candidate && p.subtype == "html" && !c.html) {
    c.html = &p;
    return;
  }
  c.attachments.push_back({&p, in_related && !p.content_id.empty() && p.disposition != "attachment"});
}

std::string NameOf(const mime::Part& p) {
  if (!p.filename.empty()) return p.filename;
  for (const auto& param : p.params) {
    if (param.name == "name") return param.value;
  }
  return {};
}

void AddAddress(PropertyMap& m, const mime::Mailbox& box, std::uint16_t name, std::uint16_t type,
                std::uint16_t email, std::uint16_t smtp, std::uint16_t entry, std::uint16_t key) {
  m[name] = StringValue(DisplayOf(box));
  m[type] = StringValue("SMTP");
  m[email] = StringValue(box.address);
  m[smtp] = StringValue(box.address);
  m[entry] = BinaryValue(OneOffEntryId(DisplayOf(box), box.address));
  m[key] = BinaryValue(SmtpSearchKey(box.address));
}

ltp::Table RecipientTable(const mime::Message& msg) {
  using ltp::TableColumn;
  namespace t = ltp::ptype;
  ltp::Table table;
  table.columns = {{prop::kRecipientType, t::kInt32}, {0x0E0F, t::kBool},           {0x0FF9, t::kBinary},
                   {0x0FFE, t::kInt32},               {0x0FFF, t::kBinary},         {prop::kDisplayName, t::kString},
                   {prop::kAddressType, t::kString},  {prop::kEmailAddress, t::kString}, {prop::kSearchKey, t::kBinary},
                   {0x3900, t::kInt32},               {0x39FF, t::kString},         {0x3A40, t::kBool},
                   {prop::kRowid, t::kInt32},         {0x39FE, t::kString},         {0x5FFF, t::kInt32}};
  std::uint32_t row = 0;
  auto add = [&](const std::vector<mime::Mailbox>& list, std::uint32_t type) {
    for (const auto& box : list) {
      ltp::TableRow r;
      r.row_id = row;
      r.row_ver = row;
      std::string entry = OneOffEntryId(DisplayOf(box), box.address);
      r.cells[prop::kRecipientType] = Int32Value(type);
      r.cells[0x0E0F] = BoolValue(false);
      r.cells[0x0FF9] = BinaryValue(entry);
      r.cells[0x0FFE] = Int32Value(6);  // MAPI_MAILUSER
      r.cells[0x0FFF] = BinaryValue(entry);
      r.cells[prop::kDisplayName] = StringValue(DisplayOf(box));
      r.cells[prop::kAddressType] = StringValue("SMTP");
      r.cells[prop::kEmailAddress] = StringValue(box.address);
      r.cells[prop::kSearchKey] = BinaryValue(SmtpSearchKey(box.address));
      r.cells[0x3900] = Int32Value(0);
      r.cells[0x39FF] = StringValue(DisplayOf(box));
      r.cells[0x3A40] = BoolValue(false);
      r.cells[prop::kRowid] = Int32Value(row);
      r.cells[0x39FE] = StringValue(box.address);
      r.cells[0x5FFF] = Int32Value(1);
      table.rows.push_back(std::move(r));
      ++row;
    }
  };
  add(msg.to, 1);
  add(msg.cc, 2);
  add(msg.bcc, 3);
  return table;
}

std::optional<std::int64_t> ReceivedTime(const mime::Message& msg) {
  const mime::Header* h = FindHeader(msg, "Received");
  if (!h) return std::nullopt;
  std::size_t semi = h->value.rfind(';');
  if (semi == std::string::npos) return std::nullopt;
  auto d = mime::ParseDate(h->value.substr(semi + 1));
  if (!d) return std::nullopt;
  return d->utc_seconds;
}

class Builder {
 public:
  Builder(const NamedIds& ids, NodeStore& store) : ids_(ids), store_(store) {}

  BuiltMessage Build(const mime::Message& msg, std::string_view raw, const MessageFlags& flags,
                     std::optional<std::int64_t> delivery_time);

 private:
  std::uint32_t NewLtpNid() { return store_.AllocateNid(NidType::kLtp); }
  NodeContent BuildAttachment(const Attachment& a, std::uint32_t number, std::uint32_t& size_out,
                              ltp::TableRow& row, std::string_view bytes);

  const NamedIds& ids_;
  NodeStore& store_;
};

// |bytes|: the decoded content of a leaf part (unused for message/rfc822).
NodeContent Builder::BuildAttachment(const Attachment& a, std::uint32_t number, std::uint32_t& size_out,
                                     ltp::TableRow& row, std::string_view bytes) {
  const mime::Part& p = *a.part;
  PropertyMap m;
  auto nid_source = [this] { return NewLtpNid(); };
  std::string mime_type = p.type + "/" + p.subtype;
  std::string name = NameOf(p);
  NodeContent node;
  std::uint32_t method = 1;
  std::uint32_t size = 0;
  if (p.message) {
    method = 5;
    const mime::Message& inner = *p.message;
    if (name.empty()) name = inner.subject.value_or("");
    MessageFlags read;
    read.read = true;
    BuiltMessage embedded = Build(inner, {}, read, std::nullopt);
    std::uint32_t enid = store_.AllocateNid(NidType::kNormalMessage);
    size = static_cast<std::uint32_t>(embedded.node.TotalSize());
    m[prop::kAttachDataBinary] = ltp::ObjectValue(enid, size);
    m[prop::kDisplayName] = StringValue(inner.subject.value_or(name));
    node.subnodes[enid] = std::move(embedded.node);
  } else {
    size = static_cast<std::uint32_t>(bytes.size());
    m[prop::kAttachDataBinary] = BinaryValue(bytes);
    if (!name.empty()) m[prop::kDisplayName] = StringValue(name);
  }
  if (!name.empty()) {
    m[prop::kAttachLongFilename] = StringValue(name);
    m[prop::kAttachFilename] = StringValue(ShortName(name));
    std::size_t dot = name.rfind('.');
    if (dot != std::string::npos && dot + 1 < name.size()) m[prop::kAttachExtension] = StringValue(name.substr(dot));
  }
  m[prop::kAttachSize] = Int32Value(size);
  m[prop::kAttachNumber] = Int32Value(number);
  m[prop::kAttachMethod] = Int32Value(method);
  m[prop::kRenderingPosition] = Int32Value(0xFFFFFFFF);
  m[prop::kAttachMimeTag] = StringValue(mime_type);
  if (!p.content_id.empty()) m[prop::kAttachContentId] = StringValue(p.content_id);
  if (a.hidden) {
    m[prop::kAttachFlags] = Int32Value(4);
    m[prop::kAttachmentHidden] = BoolValue(true);
  }
  NodeContent pc = ltp::BuildPc(m, nid_source);
  node.blocks = std::move(pc.blocks);
  for (auto& [nid, sub] : pc.subnodes) node.subnodes[nid] = std::move(sub);
  size_out = size;
  row.cells[prop::kAttachSize] = m[prop::kAttachSize];
  if (m.count(prop::kAttachFilename)) row.cells[prop::kAttachFilename] = m[prop::kAttachFilename];
  row.cells[prop::kAttachMethod] = m[prop::kAttachMethod];
  row.cells[prop::kRenderingPosition] = m[prop::kRenderingPosition];
  return node;
}

BuiltMessage Builder::Build(const mime::Message& msg, std::string_view raw, const MessageFlags& flags,
                            std::optional<std::int64_t> delivery_time) {
  PropertyMap m;
  Collected c;
  Collect(msg.body, false, c);

  std::string message_class = "IPM.Note";
  if (c.smime_enveloped) message_class = "IPM.Note.SMIME";
  else if (c.smime_signed) message_class = "IPM.Note.SMIME.MultipartSigned";
  m[prop::kMessageClass] = StringValue(message_class);

  if (msg.subject) {
    auto [prefix, topic] = SplitSubject(*msg.subject);
    m[prop::kSubject] = StringValue(*msg.subject);
    m[prop::kSubjectPrefix] = StringValue(prefix);
    m[prop::kNormalizedSubject] = StringValue(topic);
    m[prop::kConversationTopic] = StringValue(topic);
  }

  std::optional<std::int64_t> sent;
  if (msg.date) sent = msg.date->utc_seconds;
  std::optional<std::int64_t> delivered = delivery_time;
  if (!delivered) delivered = ReceivedTime(msg);
  if (!delivered) delivered = sent;
  if (sent) m[prop::kClientSubmitTime] = TimeValue(UnixToFiletime(*sent));
  if (delivered) {
    m[prop::kMessageDeliveryTime] = TimeValue(UnixToFiletime(*delivered));
    m[prop::kCreationTime] = TimeValue(UnixToFiletime(*delivered));
    m[prop::kLastModificationTime] = TimeValue(UnixToFiletime(*delivered));
  }

  std::uint32_t importance = 1;
  if (const mime::Header* h = FindHeader(msg, "Importance")) {
    std::string v = Lower(h->value);
    if (v.find("high") != std::string::npos) importance = 2;
    if (v.find("low") != std::string::npos) importance = 0;
  } else if (const mime::Header* x = FindHeader(msg, "X-Priority")) {
    std::string v = x->value;
    std::size_t at = v.find_first_not_of(" \t");
    if (at != std::string::npos && (v[at] == '1' || v[at] == '2')) importance = 2;
    if (at != std::string::npos && (v[at] == '4' || v[at] == '5')) importance = 0;
  }
  m[prop::kImportance] = Int32Value(importance);
  std::uint32_t sensitivity = 0;
  if (const mime::Header* h = FindHeader(msg, "Sensitivity")) {
    std::string v = Lower(h->value);
    if (v.find("personal") != std::string::npos) sensitivity = 1;
    if (v.find("private") != std::string::npos) sensitivity = 2;
    if (v.find("confidential") != std::string::npos) sensitivity = 3;
  }
  m[prop::kSensitivity] = Int32Value(sensitivity);

  const std::vector<mime::Mailbox>& sender = msg.sender.empty() ? msg.from : msg.sender;
  if (!sender.empty()) {
    AddAddress(m, sender[0], prop::kSenderName, prop::kSenderAddrType, prop::kSenderEmail,
               prop::kSenderSmtpAddress, prop::kSenderEntryId, prop::kSenderSearchKey);
  }
  if (!msg.from.empty()) {
    AddAddress(m, msg.from[0], prop::kSentRepresentingName, prop::kSentRepresentingAddrType,
               prop::kSentRepresentingEmail, prop::kSentRepresentingSmtpAddress,
               prop::kSentRepresentingEntryId, prop::kSentRepresentingSearchKey);
  }
  m[prop::kDisplayTo] = StringValue(JoinNames(msg.to));
  m[prop::kDisplayCc] = StringValue(JoinNames(msg.cc));
  m[prop::kDisplayBcc] = StringValue(JoinNames(msg.bcc));
  if (!msg.message_id.empty()) m[prop::kInternetMessageId] = StringValue("<" + msg.message_id + ">");
  if (!msg.in_reply_to.empty()) m[prop::kInReplyToId] = StringValue(msg.in_reply_to);
  if (!msg.references.empty()) m[prop::kInternetReferences] = StringValue(msg.references);
  bool used_8bit = false;
  if (!raw.empty()) {
    std::string headers = ToCrlf(mime::HeaderBlock(raw));
    if (headers.size() < 2 || headers.compare(headers.size() - 2, 2, "\r\n") != 0) headers += "\r\n";
    m[prop::kTransportHeaders] = TextValue(headers, used_8bit);
  }

  std::string plain = c.plain ? BlobBytes(c.plain->body) : std::string();
  std::string html = c.html ? BlobBytes(c.html->body) : std::string();
  if (c.html) {
    m[prop::kHtml] = BinaryValue(html);
    m[prop::kInternetCodepage] = Int32Value(65001);
    if (!c.plain) plain = HtmlToText(html);
  }
  if (c.plain || c.html) m[prop::kBody] = TextValue(plain, used_8bit);
  if (used_8bit) m[prop::kMessageCodepage] = Int32Value(1252);
  m[prop::kNativeBody] = Int32Value(c.html && !c.plain ? 3 : 1);
  m[prop::kMessageLocaleId] = Int32Value(1033);

  std::string seed(raw);
  if (seed.empty()) seed = msg.message_id + "\n" + msg.subject.value_or("") + "\n" + plain;
  m[prop::kSearchKey] = BinaryValue(SearchKeyOf(seed));
  m[prop::kMessageStatus] = Int32Value(0);
  m[prop::kMessageSize] = Int32Value(static_cast<std::uint32_t>(raw.empty() ? plain.size() + html.size() : raw.size()));
  m[prop::kHasAttachments] = BoolValue(!c.attachments.empty());
  m[prop::kMessageFlags] = Int32Value(c.attachments.empty() ? 0 : kMsgFlagHasAttach);
  ApplyFlags(m, flags, ids_);
  // Decoded attachment contents by attachment number; the kept original
  // refers to them instead of holding their base64 again.
  // Views of the parsed bodies where they are in memory (a copy otherwise):
  // a large message is not held once more.
  std::vector<std::string_view> contents(c.attachments.size());
  std::vector<std::string> copies;
  copies.reserve(c.attachments.size());
  for (std::size_t i = 0; i < c.attachments.size(); ++i) {
    const mime::Part& p = *c.attachments[i].part;
    // A text attachment keeps its own bytes (charset and line ends as sent).
    const BlobPtr& body = p.original_body ? p.original_body : p.body;
    if (p.message || !body) continue;
    if (const auto* in_memory = dynamic_cast<const StringBlob*>(body.get())) {
      contents[i] = in_memory->data();
    } else {
      contents[i] = copies.emplace_back(BlobBytes(body));
    }
  }
  if (!raw.empty() && ids_.original_mime != 0) {
    std::vector<StoredPart> parts;
    for (std::size_t i = 0; i < contents.size(); ++i) {
      parts.push_back({static_cast<std::uint32_t>(i), contents[i], false});
    }
    // The bodies as a reader gets them back from the properties (the plain
    // one only when it is the part's own text, not derived from the HTML).
    std::optional<std::string> stored_plain = c.plain ? ltp::GetString(m, prop::kBody) : std::nullopt;
    if (stored_plain) parts.push_back({pst::kPlainBodyPart, *stored_plain, true});
    if (c.html) parts.push_back({pst::kHtmlBodyPart, html, true});
    m[ids_.original_mime] = BinaryValue(pst::PackOriginalMime(raw, parts));
  }

  BuiltMessage out;
  auto nid_source = [this] { return NewLtpNid(); };
  std::map<std::uint32_t, NodeContent> subnodes;
  subnodes[kRecipientTableNid] = ltp::BuildTable(RecipientTable(msg), nid_source);
  if (!c.attachments.empty()) {
    ltp::Table table;
    namespace t = ltp::ptype;
    table.columns = {{prop::kAttachSize, t::kInt32},
                     {prop::kAttachFilename, t::kString},
                     {prop::kAttachMethod, t::kInt32},
                     {prop::kRenderingPosition, t::kInt32}};
    std::uint32_t number = 0;
    for (const auto& a : c.attachments) {
      std::uint32_t anid = store_.AllocateNid(NidType::kAttachment);
      ltp::TableRow row;
      row.row_id = anid;
      row.row_ver = number;
      std::uint32_t size = 0;
      subnodes[anid] = BuildAttachment(a, number, size, row, contents[number]);
      table.rows.push_back(std::move(row));
      ++number;
    }
    subnodes[kAttachmentTableNid] = ltp::BuildTable(table, nid_source);
  }
  NodeContent pc = ltp::BuildPc(m, nid_source);
  out.node.blocks = std::move(pc.blocks);
  out.node.subnodes = std::move(subnodes);
  for (auto& [nid, sub] : pc.subnodes) out.node.subnodes[nid] = std::move(sub);
  out.props = std::move(m);
  return out;
}

}  // namespace

std::string OneOffEntryId(std::string_view name, std::string_view address) {
  static constexpr std::uint8_t kOneOffUid[16] = {0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19,
                                                  0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54, 0x02};
  std::string out(4, '\0');
  out.append(reinterpret_cast<const char*>(kOneOffUid), 16);
  ltp::PutU16(out, 0);       // version
  ltp::PutU16(out, 0x8000);  // MAPI_UNICODE
  for (std::string_view s : {name, std::string_view("SMTP"), address}) {
    out += ltp::Utf8ToUtf16(s);
    ltp::PutU16(out, 0);
  }
  return out;
}

std::string SmtpSearchKey(std::string_view address) {
  std::string out = "SMTP:";
  for (char ch : address) out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  out.push_back('\0');
  return out;
}

void ApplyFlags(PropertyMap& m, const MessageFlags& flags, const NamedIds& ids) {
  std::uint32_t bits = ltp::GetInt32(m, prop::kMessageFlags).value_or(0);
  bits &= ~(kMsgFlagRead | kMsgFlagUnsent);
  if (flags.read) bits |= kMsgFlagRead;
  if (flags.draft) bits |= kMsgFlagUnsent;
  m[prop::kMessageFlags] = Int32Value(bits);
  if (flags.flagged) {
    m[prop::kFlagStatus] = Int32Value(kFlagStatusFlagged);
  } else {
    m.erase(prop::kFlagStatus);
  }
  if (flags.answered) {
    m[prop::kLastVerbExecuted] = Int32Value(kVerbReplyToSender);
    m[prop::kIconIndex] = Int32Value(kIconReplied);
  } else if (ltp::GetInt32(m, prop::kLastVerbExecuted) == kVerbReplyToSender) {
    m.erase(prop::kLastVerbExecuted);
    m.erase(prop::kIconIndex);
  }
  if (ids.keywords != 0) {
    if (flags.keywords.empty()) {
      m.erase(ids.keywords);
    } else {
      m[ids.keywords] = ltp::MultiStringValue(flags.keywords);
    }
  }
}

MessageFlags ReadFlags(const PropertyMap& m, const NamedIds& ids) {
  MessageFlags f;
  std::uint32_t bits = ltp::GetInt32(m, prop::kMessageFlags).value_or(0);
  f.read = (bits & kMsgFlagRead) != 0;
  f.draft = (bits & kMsgFlagUnsent) != 0;
  f.flagged = ltp::GetInt32(m, prop::kFlagStatus) == kFlagStatusFlagged;
  auto verb = ltp::GetInt32(m, prop::kLastVerbExecuted);
  f.answered = verb && (*verb == kVerbReplyToSender || *verb == 103);  // reply to sender / all
  if (ids.keywords != 0) {
    if (auto k = ltp::GetMultiString(m, ids.keywords)) f.keywords = *k;
  }
  return f;
}

BuiltMessage BuildMessage(std::string_view eml, const MessageFlags& flags, std::int64_t delivery_time,
                          const NamedIds& ids, NodeStore& store) {
  mime::Message msg = mime::Parse(eml);
  Builder b(ids, store);
  return b.Build(msg, eml, flags, delivery_time);
}

}  // namespace mailfs::pst::writer
