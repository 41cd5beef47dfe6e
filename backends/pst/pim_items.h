// Outlook's non-mail items written in the formats other programs read:
// contacts and distribution lists as vCard 4.0 (RFC 6350), appointments,
// meeting requests and tasks as iCalendar (RFC 5545), each with a plain-text
// summary of the same fields. The MAPI side (which property fills which
// field) is in mapi_message.cc; this file only formats.
//
// Pure functions, thread-safe. Output lines end in CRLF and are folded at 75
// octets without splitting a UTF-8 sequence.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backends/mime/message.h"

namespace mailfs::pst {

struct Contact {
  bool group = false;  // a distribution list (KIND:group)
  std::string formatted_name;
  std::string family, given, middle, prefix, suffix;
  std::string nickname;
  std::string organization, department, title;
  struct Email {
    std::string address;
    std::string label;  // display name Outlook keeps with it, may be empty
  };
  std::vector<Email> emails;
  struct Phone {
    std::string type;  // RFC 6350 TYPE values, e.g. "work,voice", "cell"
    std::string number;
  };
  std::vector<Phone> phones;
  struct Address {
    std::string type;  // "work", "home" or "" (other)
    std::string street, city, region, postal_code, country;
  };
  std::vector<Address> addresses;
  std::vector<std::string> urls;
  std::optional<std::int64_t> birthday;  // Unix seconds; its UTC date is the day
  std::string note;
  std::vector<mime::Mailbox> members;  // group members
};

// The vCard 4.0 of |c|.
std::string FormatVCard(const Contact& c);
// The plain-text summary of |c| ("Contact: ...", one field a line).
std::string SummarizeContact(const Contact& c);

struct CalendarItem {
  bool task = false;       // VTODO instead of VEVENT
  std::string method;      // iTIP METHOD (REQUEST, REPLY, CANCEL) or empty
  std::string uid;
  std::int64_t stamp = 0;  // DTSTAMP, Unix seconds
  std::optional<std::int64_t> start, end;  // events: UTC date-times
  bool all_day = false;                    // events: start/end written as dates
  // Tasks: dates (their UTC date is the day, as Outlook stores them).
  std::optional<std::int64_t> task_start, due, completed;
  std::optional<int> percent_complete;     // tasks: 0..100
  std::string status;                      // RFC 5545 STATUS value or empty
  std::string summary, location, description;
  std::string classification;              // PUBLIC / PRIVATE / CONFIDENTIAL or empty
  bool transparent = false;                // events: free time (TRANSP:TRANSPARENT)
  std::optional<mime::Mailbox> organizer;
  struct Attendee {
    mime::Mailbox who;
    std::string role;  // REQ-PARTICIPANT, OPT-PARTICIPANT, NON-PARTICIPANT
  };
  std::vector<Attendee> attendees;
  std::string recurrence;  // Outlook's own description of a recurrence, or empty
};

// The iCalendar object (VCALENDAR with one VEVENT or VTODO) of |item|.
std::string FormatICalendar(const CalendarItem& item);
// The plain-text summary of |item|.
std::string SummarizeCalendarItem(const CalendarItem& item);

}  // namespace mailfs::pst
