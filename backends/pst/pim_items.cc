#include "backends/pst/pim_items.h"

#include <cstdio>

#include "backends/mime/header_decode.h"

namespace mailfs::pst {
namespace {

// Appends one content line, folded at 75 octets (RFC 6350 §3.2, RFC 5545
// §3.1): a fold never splits a UTF-8 sequence.
void Line(std::string& out, const std::string& line) {
  std::size_t col = 0;
  for (std::size_t i = 0; i < line.size();) {
    std::size_t len = 1;
    auto b = static_cast<unsigned char>(line[i]);
    if (b >= 0xF0) {
      len = 4;
    } else if (b >= 0xE0) {
      len = 3;
    } else if (b >= 0xC0) {
      len = 2;
    }
    if (i + len > line.size()) len = line.size() - i;
    if (col + len > 75) {
      out += "\r\n ";
      col = 1;
    }
    out.append(line, i, len);
    col += len;
    i += len;
  }
  out += "\r\n";
}

// A text value escaped (backslash, comma, semicolon, line ends; RFC 6350
// §3.4, RFC 5545 §3.3.11). |keep_commas|: commas are not special (URIs).
std::string Escape(const std::string& v, bool keep_commas = false) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '\\' || c == ';' || (c == ',' && !keep_commas)) {
      out += '\\';
      out += c;
    } else if (c == '\r') {
      if (i + 1 < v.size() && v[i + 1] == '\n') ++i;
      out += "\\n";
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
      continue;  // other controls are not allowed in values
    } else {
      out += c;
    }
  }
  return out;
}

// A parameter value, quoted when it holds characters that need it; double
// quotes cannot be represented and become single quotes (RFC 6868 aside).
std::string Param(const std::string& v) {
  std::string clean;
  for (char c : v) {
    if (c == '"') {
      clean += '\'';
    } else if (static_cast<unsigned char>(c) >= 0x20) {
      clean += c;
    }
  }
  if (clean.find_first_of(";:,") != std::string::npos) return "\"" + clean + "\"";
  return clean;
}

std::string DateOf(std::int64_t t) {
  mime::UtcCalendar c = mime::BreakDownUtc(t);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04lld%02d%02d", static_cast<long long>(c.year), c.month, c.day);
  return buf;
}

std::string DateTimeOf(std::int64_t t) {
  mime::UtcCalendar c = mime::BreakDownUtc(t);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04lld%02d%02dT%02d%02d%02dZ", static_cast<long long>(c.year), c.month, c.day,
                c.hour, c.minute, c.second);
  return buf;
}

std::string ReadableDate(std::int64_t t) {
  mime::UtcCalendar c = mime::BreakDownUtc(t);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02d", static_cast<long long>(c.year), c.month, c.day);
  return buf;
}

std::string ReadableDateTime(std::int64_t t) {
  mime::UtcCalendar c = mime::BreakDownUtc(t);
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02d %02d:%02d UTC", static_cast<long long>(c.year), c.month, c.day,
                c.hour, c.minute);
  return buf;
}

std::string MailboxText(const mime::Mailbox& m) {
  if (m.name.empty()) return m.address;
  if (m.address.empty()) return m.name;
  return m.name + " <" + m.address + ">";
}

void Field(std::string& out, const char* label, const std::string& value) {
  if (!value.empty()) out += std::string(label) + ": " + value + "\n";
}

}  // namespace

std::string FormatVCard(const Contact& c) {
  std::string out;
  Line(out, "BEGIN:VCARD");
  Line(out, "VERSION:4.0");
  if (c.group) Line(out, "KIND:group");
  // FN is required (RFC 6350 §6.2.1); an item without any name keeps an empty one.
  Line(out, "FN:" + Escape(c.formatted_name));
  if (!c.group && (!c.family.empty() || !c.given.empty() || !c.middle.empty() || !c.prefix.empty() ||
                   !c.suffix.empty())) {
    Line(out, "N:" + Escape(c.family) + ";" + Escape(c.given) + ";" + Escape(c.middle) + ";" + Escape(c.prefix) +
                  ";" + Escape(c.suffix));
  }
  if (!c.nickname.empty()) Line(out, "NICKNAME:" + Escape(c.nickname));
  if (!c.organization.empty() || !c.department.empty()) {
    Line(out, "ORG:" + Escape(c.organization) + (c.department.empty() ? "" : ";" + Escape(c.department)));
  }
  if (!c.title.empty()) Line(out, "TITLE:" + Escape(c.title));
  int pref = 1;
  for (const Contact::Email& e : c.emails) {
    // The label Outlook shows with an address has no vCard 4.0 parameter
    // (LABEL belongs to ADR); the summary keeps it.
    Line(out, "EMAIL;PREF=" + std::to_string(pref++) + ":" + Escape(e.address));
  }
  for (const Contact::Phone& p : c.phones) {
    // TYPE takes a comma-separated list of tokens (RFC 6350 §5.6).
    std::string type = p.type.empty() ? "" : ";TYPE=" + p.type;
    Line(out, "TEL;VALUE=text" + type + ":" + Escape(p.number));
  }
  for (const Contact::Address& a : c.addresses) {
    std::string type = a.type.empty() ? "" : ";TYPE=" + a.type;
    // ADR: post office box; extended address; street; locality; region; code; country.
    Line(out, "ADR" + type + ":;;" + Escape(a.street) + ";" + Escape(a.city) + ";" + Escape(a.region) + ";" +
                  Escape(a.postal_code) + ";" + Escape(a.country));
  }
  for (const std::string& u : c.urls) Line(out, "URL:" + Escape(u, true));
  if (c.birthday) Line(out, "BDAY:" + DateOf(*c.birthday));
  for (const mime::Mailbox& m : c.members) {
    if (!m.address.empty()) {
      Line(out, "MEMBER:mailto:" + m.address);
    }
  }
  if (!c.note.empty()) Line(out, "NOTE:" + Escape(c.note));
  Line(out, "END:VCARD");
  return out;
}

std::string SummarizeContact(const Contact& c) {
  std::string out = std::string(c.group ? "Distribution list" : "Contact") + ": " + c.formatted_name + "\n";
  std::string org = c.organization;
  if (!c.department.empty()) org += (org.empty() ? "" : ", ") + c.department;
  Field(out, "Organization", org);
  Field(out, "Title", c.title);
  for (const Contact::Email& e : c.emails) {
    Field(out, "E-mail", e.label.empty() || e.label == e.address ? e.address : e.label + " <" + e.address + ">");
  }
  for (const Contact::Phone& p : c.phones) Field(out, ("Phone (" + p.type + ")").c_str(), p.number);
  for (const Contact::Address& a : c.addresses) {
    std::string text;
    for (const std::string* part : {&a.street, &a.city, &a.region, &a.postal_code, &a.country}) {
      if (part->empty()) continue;
      if (!text.empty()) text += ", ";
      text += *part;
    }
    Field(out, a.type.empty() ? "Address" : ("Address (" + a.type + ")").c_str(), text);
  }
  for (const std::string& u : c.urls) Field(out, "Web page", u);
  if (c.birthday) Field(out, "Birthday", ReadableDate(*c.birthday));
  for (const mime::Mailbox& m : c.members) Field(out, "Member", MailboxText(m));
  if (!c.note.empty()) out += "\n" + c.note + (c.note.back() == '\n' ? "" : "\n");
  return out;
}

std::string FormatICalendar(const CalendarItem& item) {
  std::string out;
  Line(out, "BEGIN:VCALENDAR");
  Line(out, "VERSION:2.0");
  Line(out, "PRODID:-//mailfs//PST reader//EN");
  if (!item.method.empty()) Line(out, "METHOD:" + item.method);
  const char* component = item.task ? "VTODO" : "VEVENT";
  Line(out, std::string("BEGIN:") + component);
  Line(out, "UID:" + Escape(item.uid));
  Line(out, "DTSTAMP:" + DateTimeOf(item.stamp));
  if (item.task) {
    if (item.task_start) Line(out, "DTSTART;VALUE=DATE:" + DateOf(*item.task_start));
    // RFC 5545 §3.8.2.3: DUE must be later than DTSTART; a due date on the
    // start day is written as the day after the start (an all-day span).
    if (item.due) {
      std::int64_t due = *item.due;
      if (item.task_start && DateOf(due) <= DateOf(*item.task_start)) due = *item.task_start + 86400;
      Line(out, "DUE;VALUE=DATE:" + DateOf(due));
    }
    if (item.completed) Line(out, "COMPLETED:" + DateTimeOf(*item.completed));
    if (item.percent_complete) Line(out, "PERCENT-COMPLETE:" + std::to_string(*item.percent_complete));
  } else {
    if (item.start) {
      Line(out, item.all_day ? "DTSTART;VALUE=DATE:" + DateOf(*item.start) : "DTSTART:" + DateTimeOf(*item.start));
    }
    if (item.end && (!item.start || *item.end >= *item.start)) {
      Line(out, item.all_day ? "DTEND;VALUE=DATE:" + DateOf(*item.end) : "DTEND:" + DateTimeOf(*item.end));
    }
  }
  if (!item.summary.empty()) Line(out, "SUMMARY:" + Escape(item.summary));
  if (!item.location.empty()) Line(out, "LOCATION:" + Escape(item.location));
  if (!item.description.empty()) Line(out, "DESCRIPTION:" + Escape(item.description));
  if (!item.classification.empty()) Line(out, "CLASS:" + item.classification);
  if (!item.status.empty()) Line(out, "STATUS:" + item.status);
  if (!item.task) Line(out, std::string("TRANSP:") + (item.transparent ? "TRANSPARENT" : "OPAQUE"));
  if (item.organizer && !item.organizer->address.empty()) {
    std::string cn = item.organizer->name.empty() ? "" : ";CN=" + Param(item.organizer->name);
    Line(out, "ORGANIZER" + cn + ":mailto:" + item.organizer->address);
  }
  for (const CalendarItem::Attendee& a : item.attendees) {
    if (a.who.address.empty()) continue;
    std::string cn = a.who.name.empty() ? "" : ";CN=" + Param(a.who.name);
    Line(out, "ATTENDEE" + cn + ";ROLE=" + a.role + ":mailto:" + a.who.address);
  }
  Line(out, std::string("END:") + component);
  Line(out, "END:VCALENDAR");
  return out;
}

std::string SummarizeCalendarItem(const CalendarItem& item) {
  std::string out = std::string(item.task ? "Task" : "Appointment") + ": " + item.summary + "\n";
  if (item.task) {
    if (item.task_start) Field(out, "Start date", ReadableDate(*item.task_start));
    if (item.due) Field(out, "Due date", ReadableDate(*item.due));
    if (item.completed) Field(out, "Completed", ReadableDate(*item.completed));
    if (item.percent_complete) Field(out, "Percent complete", std::to_string(*item.percent_complete) + "%");
    Field(out, "Status", item.status);
  } else {
    auto when = [&](std::int64_t t) { return item.all_day ? ReadableDate(t) : ReadableDateTime(t); };
    if (item.start) Field(out, "Start", when(*item.start));
    if (item.end) Field(out, "End", when(*item.end));
    if (item.all_day) out += "All day: yes\n";
    Field(out, "Location", item.location);
    Field(out, "Recurrence", item.recurrence);
    Field(out, "Status", item.status);
  }
  if (item.organizer) Field(out, "Organizer", MailboxText(*item.organizer));
  for (const CalendarItem::Attendee& a : item.attendees) {
    Field(out, a.role == "OPT-PARTICIPANT" ? "Optional attendee"
               : a.role == "NON-PARTICIPANT" ? "Resource"
                                             : "Attendee",
          MailboxText(a.who));
  }
  if (!item.description.empty()) {
    out += "\n" + item.description + (item.description.back() == '\n' ? "" : "\n");
  }
  return out;
}

}  // namespace mailfs::pst
