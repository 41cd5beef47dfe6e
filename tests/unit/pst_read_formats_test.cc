// The pieces of the PST reader that turn Outlook data into formats other
// programs read: HTML taken back out of RTF (MS-OXRTFEX), vCard and
// iCalendar of non-mail items, one-off entry IDs of distribution lists, and
// the same conversions on the sample files' contact and appointments.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>

#include "backends/blob.h"
#include "backends/mime/parser.h"
#include "backends/pst/mapi_message.h"
#include "backends/pst/pff.h"
#include "backends/pst/pim_items.h"
#include "backends/pst/pst_backend.h"
#include "backends/pst/rtf_html.h"

namespace mailfs::pst {
namespace {

// ---- HTML from RTF ----------------------------------------------------------

TEST(RtfHtmlTest, TagsAndTextOutsideHtmlrtf) {
  std::string rtf =
      "{\\rtf1\\ansi\\ansicpg1252\\fromhtml1 \\deff0{\\fonttbl{\\f0\\fswiss Arial;}}\r\n"
      "{\\*\\htmltag19 <html>}{\\*\\htmltag34 <head>}{\\*\\htmltag50 <body>}\r\n"
      "\\htmlrtf {\\htmlrtf0 {\\*\\htmltag64 <p>}Hello \\'e9t\\'e9 {\\b\\htmlrtf world\\htmlrtf0 }"
      "{\\*\\htmltag84 &amp;}more\\par\r\n"
      "{\\*\\htmltag72 </p>}\\htmlrtf }\\htmlrtf0 {\\*\\htmltag58 </body>}{\\*\\htmltag27 </html>}}";
  std::optional<std::string> html = HtmlFromRtf(rtf);
  ASSERT_TRUE(html.has_value());
  EXPECT_EQ(*html, "<html><head><body><p>Hello \xC3\xA9t\xC3\xA9 &amp;more\r\n</p></body></html>");
}

TEST(RtfHtmlTest, UnicodeEscapesSkipTheirFallback) {
  std::string rtf = "{\\rtf1\\ansi\\fromhtml1 {\\*\\htmltag0 <b>}\\uc1\\u8364?\\u-3913?x{\\*\\htmltag0 </b>}}";
  std::optional<std::string> html = HtmlFromRtf(rtf);
  ASSERT_TRUE(html.has_value());
  // U+20AC, then -3913 + 65536 = U+F0B7 (a private-use symbol), then "x".
  EXPECT_EQ(*html, "<b>\xE2\x82\xAC\xEF\x82\xB7x</b>");
}

TEST(RtfHtmlTest, EscapedBracesAndFontCodePage) {
  std::string rtf =
      "{\\rtf1\\ansi\\ansicpg1252\\fromhtml1{\\fonttbl{\\f1\\fcharset204 Arial Cyr;}}"
      "{\\*\\htmltag0 <p>}\\f1 \\'cf\\'f0\\'e8\\f0  \\{x\\}\\\\{\\*\\htmltag0 </p>}}";
  std::optional<std::string> html = HtmlFromRtf(rtf);
  ASSERT_TRUE(html.has_value());
  // \fcharset204 is Windows-1251: CF F0 E8 = "При".
  EXPECT_EQ(*html, "<p>\xD0\x9F\xD1\x80\xD0\xB8 {x}\\</p>");
}

TEST(RtfHtmlTest, IgnorableDestinationsAreSkipped) {
  std::string rtf =
      "{\\rtf1\\fromhtml1{\\*\\generator Writer;}{\\colortbl;\\red0\\green0\\blue0;}"
      "{\\*\\mhtmltag0 <img src=\"cid:x\">}{\\*\\htmltag0 <img src=\"a.png\">}}";
  EXPECT_EQ(HtmlFromRtf(rtf).value_or("?"), "<img src=\"a.png\">");
}

TEST(RtfHtmlTest, NotEncapsulatedHtml) {
  // Plain RTF, text before \fromhtml1, and not RTF at all.
  EXPECT_FALSE(HtmlFromRtf("{\\rtf1\\ansi Hello\\par}").has_value());
  EXPECT_FALSE(HtmlFromRtf("{\\rtf1\\ansi Hello \\fromhtml1 {\\*\\htmltag0 <p>}}").has_value());
  EXPECT_FALSE(HtmlFromRtf("{\\rtf1\\fromtext Hello}").has_value());
  EXPECT_FALSE(HtmlFromRtf("<html></html>").has_value());
  EXPECT_FALSE(HtmlFromRtf("").has_value());
}

TEST(RtfHtmlTest, MalformedInputEndsTheText) {
  // Unbalanced group and a truncated \' escape: what came before is kept.
  EXPECT_EQ(HtmlFromRtf("{\\rtf1\\fromhtml1{\\*\\htmltag0 <p>}abc\\'4").value_or("?"), "<p>abc");
  EXPECT_EQ(HtmlFromRtf("{\\rtf1\\fromhtml1{\\*\\htmltag0 <p>}}}}").value_or("?"), "<p>");
}

// ---- vCard ------------------------------------------------------------------

TEST(PimItemsTest, VCardEscapesFoldsAndOrdersFields) {
  Contact c;
  c.formatted_name = "Doe, Jane";
  c.family = "Doe";
  c.given = "Jane";
  c.organization = "Acme; Inc";
  c.emails.push_back(Contact::Email{"jane@example.com", "Jane Doe"});
  c.phones.push_back(Contact::Phone{"work,voice", "+1 555 0100"});
  c.addresses.push_back(Contact::Address{"home", "1 Main St\nApt 2", "Springfield", "", "12345", ""});
  c.birthday = 0;  // 1970-01-01
  c.note = std::string(100, 'n');
  std::string v = FormatVCard(c);
  EXPECT_EQ(v.substr(0, 41), "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Doe\\, Jane\r\n");
  EXPECT_NE(v.find("N:Doe;Jane;;;\r\n"), std::string::npos);
  EXPECT_NE(v.find("ORG:Acme\\; Inc\r\n"), std::string::npos);
  EXPECT_NE(v.find("EMAIL;PREF=1:jane@example.com\r\n"), std::string::npos);
  EXPECT_NE(v.find("TEL;VALUE=text;TYPE=work,voice:+1 555 0100\r\n"), std::string::npos);
  EXPECT_NE(v.find("ADR;TYPE=home:;;1 Main St\\nApt 2;Springfield;;12345;\r\n"), std::string::npos);
  EXPECT_NE(v.find("BDAY:19700101\r\n"), std::string::npos);
  // NOTE: 5 + 100 octets folded at 75.
  EXPECT_NE(v.find("NOTE:" + std::string(70, 'n') + "\r\n " + std::string(30, 'n') + "\r\n"), std::string::npos);
  EXPECT_EQ(v.substr(v.size() - 11), "END:VCARD\r\n");
}

TEST(PimItemsTest, FoldingNeverSplitsUtf8) {
  Contact c;
  c.formatted_name = std::string(71, 'a') + "\xC3\xA9\xC3\xA9";  // "FN:" + 71 = 74 octets, then 2-octet chars
  std::string v = FormatVCard(c);
  EXPECT_NE(v.find("FN:" + std::string(71, 'a') + "\r\n \xC3\xA9\xC3\xA9\r\n"), std::string::npos) << v;
}

TEST(PimItemsTest, DistributionListIsAGroupWithMembers) {
  Contact c;
  c.group = true;
  c.formatted_name = "Team";
  c.members.push_back(mime::Mailbox{"Ann", "ann@example.com"});
  c.members.push_back(mime::Mailbox{"Bob (no SMTP address)", ""});
  std::string v = FormatVCard(c);
  EXPECT_NE(v.find("KIND:group\r\nFN:Team\r\n"), std::string::npos);
  EXPECT_NE(v.find("MEMBER:mailto:ann@example.com\r\n"), std::string::npos);
  EXPECT_EQ(v.find("Bob"), std::string::npos);  // a member without address has no MEMBER URI
  std::string s = SummarizeContact(c);
  EXPECT_EQ(s, "Distribution list: Team\nMember: Ann <ann@example.com>\nMember: Bob (no SMTP address)\n");
}

TEST(PimItemsTest, OneOffEntryIds) {
  // Unicode one-off entry: flags 0, provider UID, version 0, flags 0x8000 (U).
  std::string id("\0\0\0\0", 4);
  id += std::string("\x81\x2B\x1F\xA4\xBE\xA3\x10\x19\x9D\x6E\x00\xDD\x01\x0F\x54\x02", 16);
  id += std::string("\0\0\0\x80", 4);
  auto utf16 = [](const std::string& ascii) {
    std::string out;
    for (char c : ascii) {
      out += c;
      out += '\0';
    }
    return out + std::string("\0\0", 2);
  };
  std::string unicode = id + utf16("Ann") + utf16("SMTP") + utf16("ann@example.com");
  std::optional<mime::Mailbox> mb = ParseOneOffEntryId(unicode);
  ASSERT_TRUE(mb.has_value());
  EXPECT_EQ(mb->name, "Ann");
  EXPECT_EQ(mb->address, "ann@example.com");
  // 8-bit strings (no U flag), an EX address (a DN, never an addr-spec).
  std::string ansi = id.substr(0, 22) + std::string("\0\0", 2) + std::string("Bob\0EX\0/o=Org/cn=bob\0", 21);
  mb = ParseOneOffEntryId(ansi);
  ASSERT_TRUE(mb.has_value());
  EXPECT_EQ(mb->name, "Bob");
  EXPECT_EQ(mb->address, "");
  // Wrong provider, truncated strings.
  std::string other = unicode;
  other[4] = 0;
  EXPECT_FALSE(ParseOneOffEntryId(other).has_value());
  EXPECT_FALSE(ParseOneOffEntryId(unicode.substr(0, unicode.size() - 3)).has_value());
  EXPECT_FALSE(ParseOneOffEntryId("short").has_value());
}

// ---- iCalendar --------------------------------------------------------------

TEST(PimItemsTest, EventWithAttendees) {
  CalendarItem e;
  e.uid = "ABC";
  e.stamp = 86400;
  e.start = 86400 + 3600;
  e.end = 86400 + 7200;
  e.summary = "Plan, review";
  e.location = "Room 5";
  e.organizer = mime::Mailbox{"Org", "org@example.com"};
  e.attendees.push_back(CalendarItem::Attendee{mime::Mailbox{"A: B", "a@example.com"}, "REQ-PARTICIPANT"});
  e.method = "REQUEST";
  std::string ics = FormatICalendar(e);
  EXPECT_EQ(ics,
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mailfs//PST reader//EN\r\nMETHOD:REQUEST\r\n"
            "BEGIN:VEVENT\r\nUID:ABC\r\nDTSTAMP:19700102T000000Z\r\nDTSTART:19700102T010000Z\r\n"
            "DTEND:19700102T020000Z\r\nSUMMARY:Plan\\, review\r\nLOCATION:Room 5\r\nTRANSP:OPAQUE\r\n"
            "ORGANIZER;CN=Org:mailto:org@example.com\r\n"
            "ATTENDEE;CN=\"A: B\";ROLE=REQ-PARTICIPANT:mailto:a@example.com\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n");
  std::string s = SummarizeCalendarItem(e);
  EXPECT_EQ(s,
            "Appointment: Plan, review\nStart: 1970-01-02 01:00 UTC\nEnd: 1970-01-02 02:00 UTC\n"
            "Location: Room 5\nOrganizer: Org <org@example.com>\nAttendee: A: B <a@example.com>\n");
}

TEST(PimItemsTest, TaskIsAVtodoWithDates) {
  CalendarItem t;
  t.task = true;
  t.uid = "T1";
  t.task_start = 10 * 86400;
  t.due = 10 * 86400;  // due the day it starts: DUE is the next day
  t.percent_complete = 50;
  t.status = "IN-PROCESS";
  t.summary = "Write";
  std::string ics = FormatICalendar(t);
  EXPECT_NE(ics.find("BEGIN:VTODO\r\n"), std::string::npos);
  EXPECT_NE(ics.find("DTSTART;VALUE=DATE:19700111\r\nDUE;VALUE=DATE:19700112\r\n"), std::string::npos);
  EXPECT_NE(ics.find("PERCENT-COMPLETE:50\r\n"), std::string::npos);
  EXPECT_NE(ics.find("STATUS:IN-PROCESS\r\n"), std::string::npos);
  EXPECT_EQ(ics.find("TRANSP"), std::string::npos);
  EXPECT_NE(ics.find("END:VTODO\r\n"), std::string::npos);
}

// ---- the sample files -------------------------------------------------------

std::string Sample(const std::string& name) { return std::string(MAILFS_SHARED_DIR) + "/fixtures/pst/" + name; }

#define REQUIRE_SAMPLE(name)                                             \
  if (!std::filesystem::exists(Sample(name))) {                          \
    GTEST_SKIP() << "shared fixture " << Sample(name) << " not present"; \
  }

// The fetched bytes of the one message in folder |folder| of |file|.
std::string OnlyMessage(const std::string& file, const std::string& folder) {
  auto backend = OpenPstFile(Sample(file), PstOptions{});
  std::string found;
  std::function<void(const FolderId&, const std::string&)> visit = [&](const FolderId& id, const std::string& path) {
    if (path == folder) {
      std::vector<MessageInfo> listing = backend->ListMessages(id);
      EXPECT_EQ(listing.size(), 1u);
      if (!listing.empty()) found = ReadAll(*backend->Fetch(id, listing[0].key));
    }
    for (const FolderInfo& f : backend->ListFolders(id)) visit(f.id, path + "/" + f.name);
  };
  visit(backend->Root(), "");
  return found;
}

// The decoded content of the first part of type |type|/|subtype|.
std::string PartText(const mime::Message& m, const std::string& type, const std::string& subtype) {
  for (const mime::Part& p : m.body.parts) {
    if (p.type == type && p.subtype == subtype && p.body) return ReadAll(*p.body);
  }
  return "";
}

TEST(PstItemsTest, ContactAsVCard) {
  REQUIRE_SAMPLE("aspose-Outlook_1.pst");
  mime::Message m = mime::Parse(OnlyMessage("aspose-Outlook_1.pst", "/Contacts"));
  std::string vcard = PartText(m, "text", "vcard");
  EXPECT_EQ(vcard,
            "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Saqib Razzaq\r\nN:Razzaq;Saqib;;;\r\nORG:Aspose\r\n"
            "TITLE:Developer\r\nEMAIL;PREF=1:saqib.razzaq@xp.local\r\n"
            "TEL;VALUE=text;TYPE=work,voice:1110001234\r\nTEL;VALUE=text;TYPE=home,voice:1112223333\r\n"
            "TEL;VALUE=text;TYPE=cell:3334443333\r\nURL:www.aspose.com\r\nEND:VCARD\r\n");
  std::string summary = PartText(m, "text", "plain");
  EXPECT_EQ(summary.rfind("Contact: Saqib Razzaq\r\nOrganization: Aspose\r\n", 0), 0u) << summary;
}

TEST(PstItemsTest, AppointmentAsICalendar) {
  REQUIRE_SAMPLE("aspose-Outlook_1.pst");
  mime::Message m = mime::Parse(OnlyMessage("aspose-Outlook_1.pst", "/Calendar"));
  std::string ics = PartText(m, "text", "calendar");
  // Start and end as Outlook stored them (10:30 in Tashkent, UTC+5), the
  // meeting's global object id as UID, location from PSETID_Appointment.
  EXPECT_NE(ics.find("DTSTART:20110622T053000Z\r\nDTEND:20110622T060000Z\r\n"), std::string::npos) << ics;
  EXPECT_NE(ics.find("UID:040000008200E00074C5B7101A82E008"), std::string::npos) << ics;
  EXPECT_NE(ics.find("SUMMARY:Weekly meeting\r\nLOCATION:Room 5\r\nDESCRIPTION:The usual weekly meeting\r\n"),
            std::string::npos)
      << ics;
  EXPECT_NE(PartText(m, "text", "plain").find("Location: Room 5\r\n"), std::string::npos);
}

TEST(PstItemsTest, AnsiAppointmentAsICalendar) {
  REQUIRE_SAMPLE("go-pst-32-bit.pst");
  mime::Message m = mime::Parse(OnlyMessage("go-pst-32-bit.pst", "/Calendar"));
  EXPECT_EQ(m.subject.value_or(""), "Updated: Olympus training for new hires");
  // The sender is an Exchange DN without SMTP property; the organizer's own
  // row of the recipient table gives the SMTP address of that DN.
  ASSERT_EQ(m.from.size(), 1u);
  EXPECT_EQ(m.from[0].address, "Cyndy.Foulkrod@stellent.com");
  std::string ics = PartText(m, "text", "calendar");
  EXPECT_NE(ics.find("BEGIN:VEVENT\r\n"), std::string::npos) << ics;
  EXPECT_NE(ics.find("SUMMARY:Updated: Olympus training for new hires\r\n"), std::string::npos) << ics;
  EXPECT_NE(ics.find("DTSTART:"), std::string::npos) << ics;
}

TEST(PstItemsTest, NamedPropertiesByLidAndByName) {
  REQUIRE_SAMPLE("aspose-Outlook_1.pst");
  File file(Sample("aspose-Outlook_1.pst"));
  Item root;
  libpff_error_t* error = nullptr;
  ASSERT_EQ(libpff_file_get_root_folder(file.get(), root.out(), &error), 1);
  // Every message: a string-named property of PS_INTERNET_HEADERS where the
  // file has one, found by (set, name) exactly as mailfs-original-mime is.
  int with_content_type = 0, with_location = 0;
  std::function<void(libpff_item_t*)> visit = [&](libpff_item_t* folder) {
    int n = 0;
    libpff_folder_get_number_of_sub_messages(folder, &n, nullptr);
    for (int i = 0; i < n; ++i) {
      Item message;
      ASSERT_EQ(libpff_folder_get_sub_message(folder, i, message.out(), nullptr), 1);
      NamedProperties named(message.get(), 0);
      if (std::optional<std::uint32_t> tag = named.Find(kPsInternetHeaders, "content-type")) {
        ++with_content_type;
        EXPECT_NE(GetString(message.get(), 0, *tag).value_or("").find('/'), std::string::npos);
        EXPECT_FALSE(named.Find(kPsInternetHeaders, "Content-Type").has_value());  // names are exact
        EXPECT_FALSE(named.Find(kPsetidAppointment, "content-type").has_value());  // and per set
      }
      if (std::optional<std::uint32_t> tag = named.Find(kPsetidAppointment, 0x8208)) {
        ++with_location;
        EXPECT_EQ(GetString(message.get(), 0, *tag).value_or(""), "Room 5");
      }
      EXPECT_FALSE(OriginalMime(message.get()).has_value());  // Outlook-written: none
    }
    int subs = 0;
    libpff_folder_get_number_of_sub_folders(folder, &subs, nullptr);
    for (int i = 0; i < subs; ++i) {
      Item sub;
      if (libpff_folder_get_sub_folder(folder, i, sub.out(), nullptr) == 1) visit(sub.get());
    }
  };
  visit(root.get());
  EXPECT_GE(with_content_type, 8);
  EXPECT_EQ(with_location, 1);
}

}  // namespace
}  // namespace mailfs::pst
