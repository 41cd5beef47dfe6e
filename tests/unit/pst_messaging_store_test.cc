// PST writer, messaging layer over an in-memory node store: the skeleton of
// a new file against Outlook's own empty file (node list, parents, node
// sizes), folders and their tables and counts, messages built from .eml
// (MIME to MAPI), flags, moves, deletes, and the original bytes kept.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "backends/error.h"
#include "backends/pst/mailfs_props.h"
#include "backends/pst/writer/ltp/heap.h"
#include "backends/pst/writer/ltp/table.h"
#include "backends/pst/writer/messaging/memory_node_store.h"
#include "backends/pst/writer/messaging/pst_store.h"

namespace mailfs::pst::writer {
namespace {

using ltp::GetString;

Errc CodeOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no error";
  return Errc::kInvalid;
}

struct OutlookNode {
  std::uint32_t parent = 0;
  long size = -1;  // -1: no data
};

// expected/ms-outlook-pst-rs-Empty.nbt.txt: "nid=000021 ... (cb=294  ) ... parent=0".
std::map<std::uint32_t, OutlookNode> OutlookEmptyNodes() {
  std::ifstream in(std::string(MAILFS_SHARED_DIR) + "/fixtures/pst/expected/ms-outlook-pst-rs-Empty.nbt.txt");
  std::map<std::uint32_t, OutlookNode> out;
  std::string line;
  std::regex re(R"(nid=([0-9a-f]+) .*?(\(cb=\s*(\d+)\s*\)|\(no data\)).*parent=([0-9a-f]+))");
  while (std::getline(in, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, re)) continue;
    OutlookNode n;
    n.parent = static_cast<std::uint32_t>(std::stoul(m[4], nullptr, 16));
    if (m[3].matched) n.size = std::stol(m[3]);
    out[static_cast<std::uint32_t>(std::stoul(m[1], nullptr, 16))] = n;
  }
  return out;
}

TEST(PstMessagingSkeleton, HasOutlooksNodesParentsAndSizes) {
  auto outlook = OutlookEmptyNodes();
  if (outlook.empty()) GTEST_SKIP() << "shared fixtures not present";
  ASSERT_EQ(outlook.size(), 47u);
  MemoryNodeStore nodes;
  PstStore store(nodes);
  store.CreateSkeleton();
  std::set<std::uint32_t> ours;
  for (auto nid : nodes.ListNodes()) ours.insert(nid);
  // Undocumented nodes whose contents are unknown are left out (pst-writing.md §9.1).
  const std::set<std::uint32_t> omitted = {0xC01, 0xE01, 0xEE1, 0xF01};
  // Nodes whose contents differ from Outlook's on purpose: the store PC
  // (no undocumented properties), the name-to-id map (mailfs's entries),
  // tables for which Outlook uses wider column sets than the templates
  // (root FAI, IPM subtree, Search Root, common views FAI), Deleted Items.
  const std::set<std::uint32_t> other_size = {0x21, 0x61, 0x12F, 0x802D, 0x802E, 0x804D, 0x8062, 0x808F};
  for (const auto& [nid, n] : outlook) {
    if (omitted.count(nid)) {
      EXPECT_FALSE(ours.count(nid)) << ltp::Hex(nid);
      continue;
    }
    ASSERT_TRUE(ours.count(nid)) << "missing " << ltp::Hex(nid);
    EXPECT_EQ(nodes.ParentOf(nid), n.parent) << ltp::Hex(nid);
    NodeContent c = nodes.ReadNode(nid);
    if (n.size < 0) {
      EXPECT_TRUE(c.blocks.empty()) << ltp::Hex(nid);
    } else if (!other_size.count(nid)) {
      EXPECT_EQ(static_cast<long>(c.TotalSize()), n.size) << ltp::Hex(nid);
    }
  }
  EXPECT_EQ(ours.size(), outlook.size() - omitted.size());
}

TEST(PstMessagingSkeleton, FoldersAndStoreProperties) {
  MemoryNodeStore nodes;
  PstStore store(nodes);
  store.CreateSkeleton("My Mail");
  EXPECT_EQ(store.DisplayName(), "My Mail");
  auto top = store.ListFolders(kNidRootFolder);
  ASSERT_EQ(top.size(), 4u);
  EXPECT_EQ(top[0].name, "Top of Outlook data file");
  EXPECT_EQ(top[1].name, "Search Root");
  EXPECT_EQ(top[2].name, "SPAM Search Folder 2");
  EXPECT_EQ(top[3].name, "IPM_COMMON_VIEWS");
  auto ipm = store.ListFolders(store.ipm_subtree());
  ASSERT_EQ(ipm.size(), 1u);
  EXPECT_EQ(ipm[0].name, "Deleted Items");
  EXPECT_EQ(ipm[0].nid, store.deleted_items());
  // Root hierarchy row index sorted numerically; rows in Outlook's order.
  ltp::Table h = ltp::ParseTable(nodes.ReadNode(0x12D), "0x12d");
  std::vector<std::uint32_t> ids;
  for (const auto& r : h.rows) ids.push_back(r.row_id);
  EXPECT_EQ(ids, (std::vector<std::uint32_t>{0x8022, 0x8042, 0x2223, 0x8082}));
  EXPECT_EQ(GetString(h.rows[0].cells, 0x3001), "Top of Outlook data file");
  EXPECT_EQ(ltp::GetBool(h.rows[0].cells, 0x360A), true);
  // Store entry ids: 4 zero bytes, the record key, the folder NID.
  ltp::PropertyMap s = ltp::ParsePc(nodes.ReadNode(0x21), "store").props;
  auto key = ltp::GetBinary(s, 0x0FF9);
  ASSERT_TRUE(key && key->size() == 16);
  EXPECT_EQ(*ltp::GetBinary(s, 0x35E0), std::string(4, '\0') + *key + std::string("\x22\x80\0\0", 4));
  EXPECT_EQ(ltp::GetInt32(s, 0x35DF), 0xC9u);
  // Name-to-id map: property 0x8000 taken, our two names mapped.
  EXPECT_EQ(store.named_ids().original_mime, 0x8001);
  EXPECT_EQ(store.named_ids().keywords, 0x8002);
  ltp::PropertyMap map = ltp::ParsePc(nodes.ReadNode(0x61), "map").props;
  EXPECT_EQ(ltp::GetInt32(map, 0x0001), 251u);
  EXPECT_EQ(ltp::GetBinary(map, 0x0003)->size(), 24u);
  // A second skeleton in a non-empty store is refused.
  EXPECT_EQ(CodeOf([&] { store.CreateSkeleton(); }), Errc::kInvalid);
  // Reopening finds the same ids.
  PstStore again(nodes);
  again.OpenExisting();
  EXPECT_EQ(again.ipm_subtree(), 0x8022u);
  EXPECT_EQ(again.deleted_items(), 0x8062u);
  EXPECT_EQ(again.named_ids().original_mime, 0x8001);
  EXPECT_EQ(again.named_ids().keywords, 0x8002);
}

// Checks the folder invariants of pst-writing.md §8.3 for every folder
// under |folder|: PC counts = contents rows, unread count, subfolder flag =
// hierarchy rows, parent's row mirrors the PC, messages' NBT parent.
void CheckInvariants(NodeStore& nodes, PstStore& store, std::uint32_t folder) {
  store.Flush();
  PstFolder f = store.GetFolder(folder);
  auto messages = store.ListMessages(folder);
  EXPECT_EQ(f.content_count, messages.size()) << f.name;
  std::uint32_t unread = 0;
  for (const auto& m : messages) {
    EXPECT_EQ(nodes.ParentOf(m.nid), folder);
    if (!(m.message_flags & 1)) ++unread;
  }
  EXPECT_EQ(f.unread_count, unread) << f.name;
  auto children = store.ListFolders(folder);
  EXPECT_EQ(f.has_subfolders, !children.empty()) << f.name;
  if (f.parent != folder) {
    ltp::Table h = ltp::ParseTable(nodes.ReadNode((f.parent & ~0x1Fu) | 0xD), "h");
    long at = h.Find(folder);
    ASSERT_GE(at, 0) << f.name;
    EXPECT_EQ(GetString(h.rows[at].cells, 0x3001), f.name);
    EXPECT_EQ(ltp::GetInt32(h.rows[at].cells, 0x3602), f.content_count);
    EXPECT_EQ(ltp::GetInt32(h.rows[at].cells, 0x3603), f.unread_count);
    EXPECT_EQ(ltp::GetBool(h.rows[at].cells, 0x360A), f.has_subfolders);
  }
  for (const auto& c : children) {
    EXPECT_EQ(c.parent, folder);
    if (TypeOfNid(c.nid) == NidType::kSearchFolder) continue;
    CheckInvariants(nodes, store, c.nid);
  }
}

TEST(PstMessagingFolders, CreateRenameDelete) {
  MemoryNodeStore nodes;
  PstStore store(nodes);
  store.CreateSkeleton();
  std::uint32_t inbox = store.CreateFolder(store.ipm_subtree(), "Inbox");
  EXPECT_EQ(inbox, MakeNid(NidType::kNormalFolder, 0x405));
  std::uint32_t sub = store.CreateFolder(inbox, "Projekte ü 日本");
  std::uint32_t deeper = store.CreateFolder(sub, "2024");
  store.Flush();
  EXPECT_TRUE(nodes.HasNode((deeper & ~0x1Fu) | 0xD));
  EXPECT_TRUE(nodes.HasNode((deeper & ~0x1Fu) | 0xE));
  EXPECT_TRUE(nodes.HasNode((deeper & ~0x1Fu) | 0xF));
  EXPECT_EQ(nodes.ParentOf((deeper & ~0x1Fu) | 0xE), 0u);
  EXPECT_EQ(store.GetFolder(sub).name, "Projekte ü 日本");
  EXPECT_EQ(store.GetFolder(sub).container_class, "IPF.Note");
  EXPECT_TRUE(store.GetFolder(inbox).has_subfolders);
  EXPECT_EQ(CodeOf([&] { store.CreateFolder(inbox, "Projekte ü 日本"); }), Errc::kExists);
  EXPECT_EQ(CodeOf([&] { store.CreateFolder(0x8024, "x"); }), Errc::kNotFound);
  CheckInvariants(nodes, store, kNidRootFolder);

  store.RenameFolder(deeper, "2025");
  EXPECT_EQ(store.ListFolders(sub)[0].name, "2025");
  EXPECT_EQ(CodeOf([&] { store.RenameFolder(store.ipm_subtree(), "x"); }), Errc::kPermission);
  std::uint32_t sibling = store.CreateFolder(sub, "other");
  EXPECT_EQ(CodeOf([&] { store.RenameFolder(sibling, "2025"); }), Errc::kExists);
  CheckInvariants(nodes, store, kNidRootFolder);

  EXPECT_EQ(CodeOf([&] { store.DeleteFolder(sub); }), Errc::kNotEmpty);
  EXPECT_EQ(CodeOf([&] { store.DeleteFolder(store.deleted_items()); }), Errc::kPermission);
  store.DeleteFolder(deeper);
  store.DeleteFolder(sibling);
  EXPECT_FALSE(nodes.HasNode(deeper));
  EXPECT_FALSE(nodes.HasNode((deeper & ~0x1Fu) | 0xE));
  EXPECT_FALSE(store.GetFolder(sub).has_subfolders);
  CheckInvariants(nodes, store, kNidRootFolder);
}

TEST(PstMessagingFolders, ForeignCellsStayAndAssociatedItemsGoWithTheFolder) {
  MemoryNodeStore nodes;
  PstStore store(nodes);
  store.CreateSkeleton();
  std::uint32_t f = store.CreateFolder(store.ipm_subtree(), "Views");
  std::uint32_t m = store.AddMessage(f, "Subject: s\r\n\r\nx\r\n", {}, 7);
  store.Flush();
  // Cells a PC does not hold, as Outlook's wider tables have them.
  auto add_cell = [&](std::uint32_t tnid, std::uint32_t row_id, std::uint16_t id, ltp::PropValue v) {
    ltp::Table t = ltp::ParseTable(nodes.ReadNode(tnid), "t");
    t.rows[t.Find(row_id)].cells[id] = v;
    std::uint32_t next = 0x7000;
    nodes.PutNode(tnid, 0, ltp::BuildTable(t, [&] { return MakeNid(NidType::kLtp, ++next); }));
  };
  add_cell(0x802D, f, 0x6635, ltp::Int32Value(77));
  add_cell((f & ~0x1Fu) | 0xE, m, 0x0E30, ltp::BinaryValue("repl"));
  store.DiscardCache();
  store.RenameFolder(f, "Views 2");
  MessageFlags read;
  read.read = true;
  store.SetFlags(m, read);
  store.Flush();
  ltp::Table h = ltp::ParseTable(nodes.ReadNode(0x802D), "h");
  EXPECT_EQ(ltp::GetInt32(h.rows[h.Find(f)].cells, 0x6635), 77u);
  EXPECT_EQ(GetString(h.rows[h.Find(f)].cells, 0x3001), "Views 2");
  ltp::Table c = ltp::ParseTable(nodes.ReadNode((f & ~0x1Fu) | 0xE), "c");
  EXPECT_EQ(ltp::GetBinary(c.rows[0].cells, 0x0E30), "repl");
  EXPECT_EQ(ltp::GetInt32(c.rows[0].cells, 0x0E07), 1u);

  // A folder-associated item (type 8) listed in the FAI table.
  store.DeleteMessage(m);
  store.Flush();
  std::uint32_t fai = MakeNid(NidType::kAssocMessage, 0x8001);
  ltp::PropertyMap p;
  p[0x001A] = ltp::StringValue("IPM.Microsoft.FolderDesign.NamedView");
  nodes.PutNode(fai, f, ltp::BuildPc(p, [] { return MakeNid(NidType::kLtp, 0x9000); }));
  ltp::Table t = ltp::ParseTable(nodes.ReadNode((f & ~0x1Fu) | 0xF), "fai");
  ltp::TableRow row;
  row.row_id = fai;
  row.cells[0x001A] = p[0x001A];
  t.rows.push_back(row);
  nodes.PutNode((f & ~0x1Fu) | 0xF, 0, ltp::BuildTable(t, [] { return MakeNid(NidType::kLtp, 0x9001); }));
  store.DiscardCache();
  store.DeleteFolder(f);
  EXPECT_FALSE(nodes.HasNode(fai));
  EXPECT_FALSE(nodes.HasNode(f));
  CheckInvariants(nodes, store, kNidRootFolder);
}

const char kSimple[] =
    "Received: from mx.example.org by mail.example.com; Tue, 2 Jan 2024 10:00:05 +0000\r\n"
    "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.org>\r\n"
    "To: Anna <anna@example.com>, bob@example.com\r\n"
    "Cc: \"Carl, C.\" <carl@example.net>\r\n"
    "Subject: =?UTF-8?B?UkU6IEdyw7zDn2Ug5pel5pys?=\r\n"
    "Date: Tue, 2 Jan 2024 10:00:00 +0000\r\n"
    "Message-ID: <m1@example.org>\r\n"
    "In-Reply-To: <m0@example.com>\r\n"
    "References: <m-1@example.com> <m0@example.com>\r\n"
    "Importance: high\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Hallo Anna,\r\nschöne Grüße.\r\n";

const char kAlternativeWithAttachments[] =
    "From: alice@example.com\r\n"
    "To: bob@example.com\r\n"
    "Bcc: secret@example.com\r\n"
    "Subject: report\r\n"
    "Date: Wed, 3 Jan 2024 11:00:00 +0100\r\n"
    "Message-ID: <m2@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: multipart/related; boundary=\"b2\"\r\n"
    "\r\n"
    "--b2\r\n"
    "Content-Type: multipart/alternative; boundary=\"b3\"\r\n"
    "\r\n"
    "--b3\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "plain text\r\n"
    "--b3\r\n"
    "Content-Type: text/html; charset=us-ascii\r\n"
    "\r\n"
    "<p>html <img src=\"cid:logo@x\"></p>\r\n"
    "--b3--\r\n"
    "--b2\r\n"
    "Content-Type: image/png\r\n"
    "Content-ID: <logo@x>\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "iVBORw0KGgo=\r\n"
    "--b2--\r\n"
    "--b1\r\n"
    "Content-Type: application/pdf; name=\"r\xC3\xa9sum\xC3\xa9.pdf\"\r\n"
    "Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "JVBERi0xLjQK\r\n"
    "--b1\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: inner@example.com\r\n"
    "To: alice@example.com\r\n"
    "Subject: inner message\r\n"
    "Date: Mon, 1 Jan 2024 09:00:00 +0000\r\n"
    "Content-Type: multipart/mixed; boundary=\"i1\"\r\n"
    "\r\n"
    "--i1\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "inner body\r\n"
    "--i1\r\n"
    "Content-Type: text/csv; name=\"data.csv\"\r\n"
    "Content-Disposition: attachment; filename=\"data.csv\"\r\n"
    "\r\n"
    "a,b\r\n"
    "--i1--\r\n"
    "--b1--\r\n";

TEST(PstMessagingMessages, SimpleMessageProperties) {
  MemoryNodeStore nodes;
  PstStore store(nodes);
  store.CreateSkeleton();
  std::uint32_t inbox = store.CreateFolder(store.ipm_subtree(), "Inbox");
  MessageFlags flags;
  flags.read = true;
  flags.flagged = true;
  flags.keywords = {"$label1", "Wichtig"};
  std::uint32_t m = store.AddMessage(inbox, kSimple, flags, 1704189605);
  EXPECT_EQ(m, MakeNid(NidType::kNormalMessage, 0x10001));
  EXPECT_EQ(nodes.ParentOf(m), inbox);
  ltp::PropertyMap p = store.MessageProperties(m);
  EXPECT_EQ(GetString(p, 0x001A), "IPM.Note");
  EXPECT_EQ(GetString(p, 0x0037), "RE: Grüße 日本");
  EXPECT_EQ(GetString(p, 0x003D), "RE: ");
  EXPECT_EQ(GetString(p, 0x0E1D), "Grüße 日本");
  EXPECT_EQ(GetString(p, 0x0070), "Grüße 日本");
  EXPECT_EQ(GetString(p, 0x0C1A), "Jürgen Müller");
  EXPECT_EQ(GetString(p, 0x0C1F), "juergen@example.org");
  EXPECT_EQ(GetString(p, 0x0C1E), "SMTP");
  EXPECT_EQ(GetString(p, 0x0042), "Jürgen Müller");
  EXPECT_EQ(GetString(p, 0x5D02), "juergen@example.org");
  EXPECT_EQ(ltp::GetBinary(p, 0x0C1D), std::string("SMTP:JUERGEN@EXAMPLE.ORG\0", 25));
  EXPECT_EQ(GetString(p, 0x0E04), "Anna; bob@example.com");
  EXPECT_EQ(GetString(p, 0x0E03), "Carl, C.");
  EXPECT_EQ(GetString(p, 0x0E02), "");
  EXPECT_EQ(GetString(p, 0x1035), "<m1@example.org>");
  EXPECT_EQ(GetString(p, 0x1042), "<m0@example.com>");
  EXPECT_EQ(GetString(p, 0x1039), "<m-1@example.com> <m0@example.com>");
  EXPECT_EQ(GetString(p, 0x1000), "Hallo Anna,\r\nschöne Grüße.\r\n");
  EXPECT_FALSE(p.count(0x1013));
  EXPECT_EQ(ltp::GetInt32(p, 0x0017), 2u);
  EXPECT_EQ(ltp::GetInt64(p, 0x0039), ltp::UnixToFiletime(1704189600));
  EXPECT_EQ(ltp::GetInt64(p, 0x0E06), ltp::UnixToFiletime(1704189605));
  EXPECT_EQ(ltp::GetInt32(p, 0x0E07), 1u);  // read, no attachments, not unsent
  EXPECT_EQ(ltp::GetInt32(p, 0x0E08), sizeof(kSimple) - 1);
  EXPECT_EQ(ltp::GetBinary(p, 0x300B)->size(), 16u);
  std::string headers = *GetString(p, 0x007D);
  EXPECT_EQ(headers.rfind("Received: from mx", 0), 0u);
  EXPECT_NE(headers.find("Content-Transfer-Encoding: 8bit\r\n"), std::string::npos);
  EXPECT_EQ(headers.find("Hallo"), std::string::npos);
  EXPECT_EQ(store.OriginalMime(m), std::string(kSimple));
  EXPECT_EQ(store.GetFlags(m), flags);
  EXPECT_EQ(store.GetInternalDate(m), 1704189605);

  // Recipient table: To, To, Cc with one-off entry ids.
  NodeContent node = nodes.ReadNode(m);
  ltp::Table r = ltp::ParseTable(node.subnodes.at(kRecipientTableNid), "recipients");
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(GetString(r.rows[0].cells, 0x3001), "Anna");
  EXPECT_EQ(GetString(r.rows[0].cells, 0x3003), "anna@example.com");
  EXPECT_EQ(ltp::GetInt32(r.rows[0].cells, 0x0C15), 1u);
  EXPECT_EQ(GetString(r.rows[1].cells, 0x3001), "bob@example.com");
  EXPECT_EQ(ltp::GetInt32(r.rows[2].cells, 0x0C15), 2u);
  EXPECT_EQ(GetString(r.rows[2].cells, 0x39FE), "carl@example.net");
  std::string entry = *ltp::GetBinary(r.rows[0].cells, 0x0FFF);
  EXPECT_EQ(entry.substr(0, 20), std::string("\0\0\0\0\x81\x2B\x1F\xA4\xBE\xA3\x10\x19\x9D\x6E\x00\xDD\x01\x0F\x54\x02", 20));
  EXPECT_EQ(entry.substr(20, 4), std::string("\0\0\0\x80", 4));
  EXPECT_FALSE(node.subnodes.count(kAttachmentTableNid));

  // Folder contents row and counts.
  auto list = store.ListMessages(inbox);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].subject, "RE: Grüße 日本");
  EXPECT_EQ(list[0].delivery_time, 1704189605);
  CheckInvariants(nodes, store, kNidRootFolder);
}

TEST(PstMessagingMessages, BodiesAttachmentsAndEmbeddedMessages) {
  MemoryNodeStore nodes;
  PstStore store(nodes);
  store.CreateSkeleton();
  std::uint32_t inbox = store.CreateFolder(store.ipm_subtree(), "Inbox");
  std::uint32_t m = store.AddMessage(inbox, kAlternativeWithAttachments, {}, 1704276000);
  ltp::PropertyMap p = store.MessageProperties(m);
  EXPECT_EQ(GetString(p, 0x1000), "plain text");
  EXPECT_EQ(ltp::GetBinary(p, 0x1013), "<p>html <img src=\"cid:logo@x\"></p>");
  EXPECT_EQ(ltp::GetInt32(p, 0x3FDE), 65001u);
  EXPECT_EQ(ltp::GetInt32(p, 0x0E07), 0x10u);  // unread, has attachments
  EXPECT_EQ(ltp::GetBool(p, 0x0E1B), true);
  EXPECT_EQ(GetString(p, 0x0E02), "secret@example.com");
  EXPECT_EQ(store.GetFolder(inbox).unread_count, 1u);

  NodeContent node = nodes.ReadNode(m);
  ltp::Table at = ltp::ParseTable(node.subnodes.at(kAttachmentTableNid), "attachments");
  ASSERT_EQ(at.rows.size(), 3u);
  std::vector<ltp::PropertyMap> atts;
  for (const auto& row : at.rows) {
    EXPECT_EQ(TypeOfNid(row.row_id), NidType::kAttachment);
    atts.push_back(ltp::ParsePc(node.subnodes.at(row.row_id), "attachment").props);
  }
  // Inline image: hidden, content id, flags 4.
  EXPECT_EQ(ltp::GetBinary(atts[0], 0x3701), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(GetString(atts[0], 0x3712), "logo@x");
  EXPECT_EQ(ltp::GetInt32(atts[0], 0x3714), 4u);
  EXPECT_EQ(ltp::GetBool(atts[0], 0x7FFE), true);
  EXPECT_EQ(GetString(atts[0], 0x370E), "image/png");
  // PDF by value with its RFC 2231 name.
  EXPECT_EQ(GetString(atts[1], 0x3707), "résumé.pdf");
  EXPECT_EQ(GetString(atts[1], 0x3704), "RSUM.PDF");
  EXPECT_EQ(GetString(atts[1], 0x3703), ".pdf");
  EXPECT_EQ(ltp::GetBinary(atts[1], 0x3701), "%PDF-1.4\n");
  EXPECT_EQ(ltp::GetInt32(atts[1], 0x3705), 1u);
  EXPECT_EQ(ltp::GetInt32(atts[1], 0x0E20), 9u);
  // Embedded message: method 5, PtypObject naming a subnode of the attachment.
  EXPECT_EQ(ltp::GetInt32(atts[2], 0x3705), 5u);
  ASSERT_EQ(atts[2].at(0x3701).type, ltp::ptype::kObject);
  std::uint32_t enid = ltp::GetU32(atts[2].at(0x3701).data, 0);
  const NodeContent& anode = node.subnodes.at(at.rows[2].row_id);
  ASSERT_TRUE(anode.subnodes.count(enid));
  const NodeContent& inner = anode.subnodes.at(enid);
  ltp::PropertyMap ip = ltp::ParsePc(inner, "embedded").props;
  EXPECT_EQ(GetString(ip, 0x0037), "inner message");
  EXPECT_EQ(GetString(ip, 0x1000), "inner body");
  EXPECT_FALSE(ip.count(store.named_ids().original_mime));
  ltp::Table iat = ltp::ParseTable(inner.subnodes.at(kAttachmentTableNid), "inner attachments");
  ASSERT_EQ(iat.rows.size(), 1u);
  ltp::PropertyMap csv = ltp::ParsePc(inner.subnodes.at(iat.rows[0].row_id), "csv").props;
  EXPECT_EQ(GetString(csv, 0x3707), "data.csv");
  EXPECT_EQ(ltp::GetBinary(csv, 0x3701), "a,b");
  EXPECT_TRUE(inner.subnodes.count(kRecipientTableNid));
  EXPECT_EQ(store.OriginalMime(m), std::string(kAlternativeWithAttachments));
}

// A text attachment is stored as its own bytes (charset and bare LF line
// ends as sent), not as the UTF-8 CRLF text the parser makes of it.
TEST(PstMessagingMessages, TextAttachmentsKeepTheirBytes) {
  MemoryNodeStore nodes;
  PstStore store(nodes);
  store.CreateSkeleton();
  std::uint32_t f = store.CreateFolder(store.ipm_subtree(), "Inbox");
  const std::string eml =
      "From: a@b.c\r\nSubject: latin\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"z\"\r\n\r\n"
      "--z\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
      "--z\r\nContent-Type: text/plain; charset=iso-8859-1; name=\"x.txt\"\r\n"
      "Content-Disposition: attachment; filename=\"x.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "Y2Fm6QpsaW5lMgo=\r\n--z--\r\n";
  std::uint32_t m = store.AddMessage(f, eml, {}, 1);
  NodeContent node = nodes.ReadNode(m);
  ltp::Table at = ltp::ParseTable(node.subnodes.at(kAttachmentTableNid), "attachments");
  ASSERT_EQ(at.rows.size(), 1u);
  ltp::PropertyMap a = ltp::ParsePc(node.subnodes.at(at.rows[0].row_id), "attachment").props;
  EXPECT_EQ(ltp::GetBinary(a, 0x3701), "caf\xe9\nline2\n");
  EXPECT_EQ(store.OriginalMime(m), eml);
}

TEST(PstMessagingMessages, LargeValuesHtmlOnlyAndEmptyMessage) {
  MemoryNodeStore nodes;
  PstStore store(nodes);
  store.CreateSkeleton();
  std::uint32_t f = store.CreateFolder(store.ipm_subtree(), "Big");
  std::string body;
  for (int i = 0; body.size() < 200000; ++i) body += "line " + std::to_string(i) + " äöü\r\n";
  std::string eml = "From: a@b.c\r\nSubject: big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body;
  std::uint32_t m = store.AddMessage(f, eml, {}, 1);
  ltp::PropertyMap p = store.MessageProperties(m);
  EXPECT_EQ(GetString(p, 0x1000), body);
  EXPECT_EQ(store.OriginalMime(m), eml);
  NodeContent node = nodes.ReadNode(m);
  std::size_t ltp_subnodes = 0;
  for (const auto& [nid, sub] : node.subnodes) {
    if (TypeOfNid(nid) == NidType::kLtp) ++ltp_subnodes;
    for (std::size_t i = 0; i + 1 < sub.blocks.size(); ++i) EXPECT_EQ(sub.blocks[i].size(), kMaxBlockData);
  }
  // The body; the kept original refers to it and is small enough for the heap.
  EXPECT_EQ(ltp_subnodes, 1u);

  std::uint32_t h = store.AddMessage(
      f, "Subject: html\r\nContent-Type: text/html\r\n\r\n<html><style>p{}</style><p>A &amp; B</p><br>C</html>", {}, 2);
  ltp::PropertyMap hp = store.MessageProperties(h);
  EXPECT_EQ(GetString(hp, 0x1000), "A & B\r\n\r\nC");
  EXPECT_EQ(ltp::GetInt32(hp, 0x1016), 3u);

  std::uint32_t e = store.AddMessage(f, "", {}, 3);
  ltp::PropertyMap ep = store.MessageProperties(e);
  EXPECT_FALSE(ep.count(0x0037));
  EXPECT_EQ(store.OriginalMime(e), std::nullopt);  // nothing to keep
  EXPECT_EQ(store.ListMessages(f).size(), 3u);
  CheckInvariants(nodes, store, kNidRootFolder);
}

TEST(PstMessagingMessages, FlagsDatesMovesAndDeletes) {
  MemoryNodeStore nodes;
  PstStore store(nodes);
  store.CreateSkeleton();
  std::uint32_t a = store.CreateFolder(store.ipm_subtree(), "A");
  std::uint32_t b = store.CreateFolder(store.ipm_subtree(), "B");
  std::vector<std::uint32_t> ids;
  for (int i = 0; i < 40; ++i) {
    MessageFlags fl;
    fl.read = i % 2 == 0;
    std::string eml = "Subject: n" + std::to_string(i) + "\r\n\r\n" + std::string(i * 300, 'x') + "\r\n";
    ids.push_back(store.AddMessage(a, eml, fl, 1000 + i));
  }
  EXPECT_EQ(store.GetFolder(a).content_count, 40u);
  EXPECT_EQ(store.GetFolder(a).unread_count, 20u);
  // The contents table outgrew one heap item: the row matrix is a subnode.
  store.Flush();
  NodeContent contents = nodes.ReadNode((a & ~0x1Fu) | 0xE);
  EXPECT_FALSE(contents.subnodes.empty());
  CheckInvariants(nodes, store, kNidRootFolder);

  MessageFlags all;
  all.read = true;
  all.answered = true;
  all.draft = true;
  all.flagged = true;
  all.keywords = {"Junk", "$Forwarded"};
  store.SetFlags(ids[1], all);
  EXPECT_EQ(store.GetFlags(ids[1]), all);
  EXPECT_EQ(store.GetFolder(a).unread_count, 19u);
  EXPECT_EQ(ltp::GetInt32(store.MessageProperties(ids[1]), 0x0E07), 0x09u);
  store.SetFlags(ids[1], {});
  EXPECT_EQ(store.GetFlags(ids[1]), MessageFlags{});
  EXPECT_EQ(store.GetFolder(a).unread_count, 20u);
  EXPECT_EQ(store.OriginalMime(ids[1]), "Subject: n1\r\n\r\n" + std::string(300, 'x') + "\r\n");

  store.SetInternalDate(ids[2], 1700000000);
  EXPECT_EQ(store.GetInternalDate(ids[2]), 1700000000);
  for (const auto& m : store.ListMessages(a)) {
    if (m.nid == ids[2]) {
      EXPECT_EQ(m.delivery_time, 1700000000);
    }
  }

  store.MoveMessage(ids[3], b);  // unread
  store.MoveMessage(ids[4], b);  // read
  EXPECT_EQ(nodes.ParentOf(ids[3]), b);
  EXPECT_EQ(store.GetFolder(a).content_count, 38u);
  EXPECT_EQ(store.GetFolder(b).content_count, 2u);
  EXPECT_EQ(store.GetFolder(b).unread_count, 1u);
  EXPECT_EQ(CodeOf([&] { store.MoveMessage(ids[3], 0x12345602); }), Errc::kNotFound);

  store.DeleteMessage(ids[5]);
  EXPECT_FALSE(nodes.HasNode(ids[5]));
  EXPECT_EQ(CodeOf([&] { store.DeleteMessage(ids[5]); }), Errc::kNotFound);
  EXPECT_EQ(store.GetFolder(a).content_count, 37u);
  EXPECT_EQ(CodeOf([&] { store.DeleteFolder(b); }), Errc::kNotEmpty);
  store.DeleteMessage(ids[3]);
  store.DeleteMessage(ids[4]);
  store.DeleteFolder(b);
  CheckInvariants(nodes, store, kNidRootFolder);
}

TEST(PstMessagingMessages, StagedChangesRollBackUntilCommit) {
  MemoryNodeStore nodes;
  PstStore store(nodes);
  store.CreateSkeleton();
  store.Commit();
  std::uint32_t f = store.CreateFolder(store.ipm_subtree(), "Tmp");
  store.AddMessage(f, "Subject: x\r\n\r\nx\r\n", {}, 5);
  nodes.Rollback();
  store.DiscardCache();
  EXPECT_FALSE(nodes.HasNode(f));
  EXPECT_EQ(store.ListFolders(store.ipm_subtree()).size(), 1u);
  CheckInvariants(nodes, store, kNidRootFolder);
}

}  // namespace
}  // namespace mailfs::pst::writer
