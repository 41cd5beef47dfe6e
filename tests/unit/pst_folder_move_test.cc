// PST writer: moving a folder under another parent (PstStore::MoveFolder).
// Over an in-memory node store: the NBT parent, the two hierarchy tables,
// both parents' PidTagSubfolders, the cells a row carries, and every refusal
// (into itself or below, special folders, a taken name). Over real files: a
// move in a file mailfs made and in Outlook's sample (its wider tables and
// default folders) keeps the file valid for mailfs-pstcheck, pffexport and
// the project's reader, which finds every message byte for byte at its new
// place; a move staged but not committed leaves the file as it was.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "backends/error.h"
#include "tests/support/temp_dir.h"
#include "backends/pst/check/pst_check.h"
#include "backends/pst/pst_backend.h"
#include "backends/pst/writer/ltp/heap.h"
#include "backends/pst/writer/ltp/table.h"
#include "backends/pst/writer/messaging/memory_node_store.h"
#include "backends/pst/writer/messaging/pst_store.h"
#include "backends/pst/writer/ndb_file.h"

namespace mailfs::pst::writer {
namespace {

namespace fs = std::filesystem;
const std::string kFixtures = std::string(MAILFS_SHARED_DIR) + "/fixtures/pst/";

Errc CodeOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no error";
  return Errc::kInvalid;
}

std::uint32_t Hierarchy(std::uint32_t folder) { return (folder & ~0x1Fu) | 0xD; }

std::string Eml(const std::string& subject, bool with_attachment) {
  std::string eml =
      "From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.org>\r\n"
      "To: anna@example.com\r\n"
      "Subject: " + subject + "\r\n"
      "Date: Tue, 2 Jan 2024 10:00:00 +0000\r\n"
      "Message-ID: <" + subject + "@example.org>\r\n"
      "MIME-Version: 1.0\r\n";
  if (!with_attachment) return eml + "Content-Type: text/plain; charset=utf-8\r\n\r\nGrüße aus " + subject + "\r\n";
  return eml +
         "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
         "--b\r\nContent-Type: text/plain\r\n\r\nbody of " + subject + "\r\n"
         "--b\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n"
         "Content-Disposition: attachment; filename=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
         "AAECAwQFBgcICQ==\r\n--b--\r\n";
}

// The folder invariants of pst-writing.md §8.3 for |folder| and below: PC
// counts = contents rows, PidTagSubfolders = hierarchy rows, the parent's
// row mirrors the PC, NBT parents of messages and subfolders.
void CheckInvariants(NodeStore& nodes, PstStore& store, std::uint32_t folder) {
  store.Flush();
  PstFolder f = store.GetFolder(folder);
  auto messages = store.ListMessages(folder);
  EXPECT_EQ(f.content_count, messages.size()) << f.name;
  for (const auto& m : messages) EXPECT_EQ(nodes.ParentOf(m.nid), folder) << f.name;
  auto children = store.ListFolders(folder);
  EXPECT_EQ(f.has_subfolders, !children.empty()) << f.name;
  if (f.parent != folder) {
    ltp::Table h = ltp::ParseTable(nodes.ReadNode(Hierarchy(f.parent)), "h");
    long at = h.Find(folder);
    ASSERT_GE(at, 0) << f.name;
    EXPECT_EQ(ltp::GetString(h.rows[at].cells, 0x3001), f.name);
    EXPECT_EQ(ltp::GetInt32(h.rows[at].cells, 0x3602), f.content_count);
    EXPECT_EQ(ltp::GetBool(h.rows[at].cells, 0x360A), f.has_subfolders);
  }
  for (const auto& c : children) {
    EXPECT_EQ(c.parent, folder);
    if (TypeOfNid(c.nid) == NidType::kSearchFolder) continue;
    CheckInvariants(nodes, store, c.nid);
  }
}

// How many hierarchy tables of the store have a row for |folder|.
int RowsNaming(NodeStore& nodes, std::uint32_t folder) {
  int n = 0;
  for (std::uint32_t nid : nodes.ListNodes()) {
    if (TypeOfNid(nid) != NidType::kHierarchyTable || nid == 0x60D) continue;
    NodeContent c = nodes.ReadNode(nid);
    if (c.blocks.empty()) continue;
    if (ltp::ParseTable(c, "h").Find(folder) >= 0) ++n;
  }
  return n;
}

TEST(PstFolderMove, MovesATreeAndKeepsEveryTableInStep) {
  MemoryNodeStore nodes;
  PstStore store(nodes);
  store.CreateSkeleton();
  std::uint32_t a = store.CreateFolder(store.ipm_subtree(), "A");
  std::uint32_t b = store.CreateFolder(a, "B");
  std::uint32_t c = store.CreateFolder(b, "C");
  std::uint32_t d = store.CreateFolder(store.ipm_subtree(), "Ärger – 2024");
  std::uint32_t m1 = store.AddMessage(b, Eml("one", false), {}, 1700000000);
  MessageFlags read;
  read.read = true;
  std::uint32_t m2 = store.AddMessage(b, Eml("two", true), read, 1700000001);
  std::uint32_t m3 = store.AddMessage(c, Eml("three", false), {}, 1700000002);
  store.Flush();
  // A cell the PC does not hold (Outlook's hidden counts) travels with the row.
  ltp::Table h = ltp::ParseTable(nodes.ReadNode(Hierarchy(a)), "h");
  h.rows[h.Find(b)].cells[0x6635] = ltp::Int32Value(77);
  std::uint32_t next = 0x7000;
  nodes.PutNode(Hierarchy(a), 0, ltp::BuildTable(h, [&] { return MakeNid(NidType::kLtp, ++next); }));
  store.DiscardCache();

  store.MoveFolder(b, d, "B");
  store.Flush();
  EXPECT_EQ(nodes.ParentOf(b), d);
  EXPECT_EQ(nodes.ParentOf(c), b);
  EXPECT_EQ(nodes.ParentOf(m1), b);
  EXPECT_EQ(nodes.ParentOf(m3), c);
  EXPECT_TRUE(store.ListFolders(a).empty());
  EXPECT_FALSE(store.GetFolder(a).has_subfolders);
  ASSERT_EQ(store.ListFolders(d).size(), 1u);
  EXPECT_EQ(store.ListFolders(d)[0].nid, b);
  EXPECT_TRUE(store.GetFolder(d).has_subfolders);
  EXPECT_EQ(RowsNaming(nodes, b), 1);
  ltp::Table to = ltp::ParseTable(nodes.ReadNode(Hierarchy(d)), "h");
  const auto& row = to.rows[to.Find(b)];
  EXPECT_EQ(ltp::GetInt32(row.cells, 0x6635), 77u);
  EXPECT_EQ(ltp::GetInt32(row.cells, 0x3602), 2u);
  EXPECT_EQ(ltp::GetInt32(row.cells, 0x3603), 1u);
  EXPECT_EQ(ltp::GetBool(row.cells, 0x360A), true);
  EXPECT_EQ(ltp::GetString(row.cells, 0x3613), "IPF.Note");
  EXPECT_EQ(store.ListMessages(b).size(), 2u);
  EXPECT_EQ(*store.OriginalMime(m2), Eml("two", true));
  CheckInvariants(nodes, store, kNidRootFolder);

  // A move with a new name; then back to the top with the old name.
  store.MoveFolder(c, store.ipm_subtree(), "C neu 日本");
  store.Flush();
  EXPECT_EQ(store.GetFolder(c).name, "C neu 日本");
  EXPECT_EQ(nodes.ParentOf(c), store.ipm_subtree());
  EXPECT_FALSE(store.GetFolder(b).has_subfolders);
  EXPECT_EQ(RowsNaming(nodes, c), 1);
  CheckInvariants(nodes, store, kNidRootFolder);
  // Under the same parent it is a rename.
  store.MoveFolder(c, store.ipm_subtree(), "C");
  EXPECT_EQ(store.GetFolder(c).name, "C");
  // A parent that keeps other subfolders keeps its flag.
  std::uint32_t e = store.CreateFolder(d, "E");
  store.MoveFolder(e, a, "E");
  EXPECT_TRUE(store.GetFolder(d).has_subfolders);
  EXPECT_TRUE(store.GetFolder(a).has_subfolders);
  CheckInvariants(nodes, store, kNidRootFolder);
}

TEST(PstFolderMove, Refusals) {
  MemoryNodeStore nodes;
  PstStore store(nodes);
  store.CreateSkeleton();
  std::uint32_t a = store.CreateFolder(store.ipm_subtree(), "A");
  std::uint32_t b = store.CreateFolder(a, "B");
  std::uint32_t c = store.CreateFolder(b, "C");
  std::uint32_t other = store.CreateFolder(store.ipm_subtree(), "Other");
  std::uint32_t taken = store.CreateFolder(other, "B");
  store.Flush();
  EXPECT_EQ(CodeOf([&] { store.MoveFolder(a, a, "A"); }), Errc::kInvalid);
  EXPECT_EQ(CodeOf([&] { store.MoveFolder(a, b, "A"); }), Errc::kInvalid);
  EXPECT_EQ(CodeOf([&] { store.MoveFolder(a, c, "A"); }), Errc::kInvalid);
  EXPECT_EQ(CodeOf([&] { store.MoveFolder(b, other, "B"); }), Errc::kExists);
  EXPECT_EQ(CodeOf([&] { store.MoveFolder(b, other, ""); }), Errc::kInvalid);
  EXPECT_EQ(CodeOf([&] { store.MoveFolder(store.deleted_items(), a, "Deleted Items"); }), Errc::kInvalid);
  EXPECT_EQ(CodeOf([&] { store.MoveFolder(store.ipm_subtree(), a, "x"); }), Errc::kInvalid);
  EXPECT_EQ(CodeOf([&] { store.MoveFolder(kNidRootFolder, a, "x"); }), Errc::kInvalid);
  EXPECT_EQ(CodeOf([&] { store.MoveFolder(b, 0x8024, "B"); }), Errc::kNotFound);
  EXPECT_EQ(CodeOf([&] { store.MoveFolder(0x8024, a, "B"); }), Errc::kNotFound);
  EXPECT_TRUE(store.IsSpecialFolder(store.deleted_items()));
  EXPECT_TRUE(store.IsSpecialFolder(0x8082));  // IPM_COMMON_VIEWS
  EXPECT_FALSE(store.IsSpecialFolder(b));
  EXPECT_TRUE(store.IsWithin(c, a));
  EXPECT_FALSE(store.IsWithin(other, a));
  // Nothing changed.
  EXPECT_EQ(nodes.ParentOf(b), a);
  EXPECT_EQ(nodes.ParentOf(taken), other);
  CheckInvariants(nodes, store, kNidRootFolder);

  // A parent chain that loops is reported, not followed forever.
  NodeContent pc = nodes.ReadNode(a);
  nodes.PutNode(a, c, pc);
  EXPECT_EQ(CodeOf([&] { store.IsWithin(c, other); }), Errc::kCorrupt);
}

// ---------------------------------------------------------------------------
// Real files.

using testing_support::Slurp;
using testing_support::TempDir;

// The findings of mailfs-pstcheck without their file offsets (a rewritten
// node moves).
std::set<std::string> Findings(const std::string& path) {
  const auto r = check::CheckFile(path);
  EXPECT_TRUE(r.readable) << path << ": " << r.fatal;
  std::set<std::string> out;
  for (const auto& f : r.findings) {
    std::string line = check::FormatFinding(f);
    std::size_t colon = line.find(": ");
    out.insert(line.substr(0, line.find(' ')) + line.substr(colon == std::string::npos ? 0 : colon));
  }
  return out;
}

// mailfs-pstcheck finds nothing the file had not before the change (an
// Outlook file comes with warnings of its own: |baseline|), and pffexport
// reads every item without a word on stderr.
void ExpectValid(const std::string& path, const TempDir& dir, const std::set<std::string>& baseline = {}) {
  for (const std::string& f : Findings(path)) EXPECT_TRUE(baseline.count(f)) << path << ": " << f;
  const std::string err = dir / "pffexport.err";
  fs::remove_all(dir / "export.export");
  const std::string cmd = "pffexport -q -m items -f all -t " + dir.path() + "/export " + path + " >/dev/null 2>" + err;
  int status = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << path;
  EXPECT_EQ(Slurp(err), "") << path;
}

// Every folder path (below the IPM subtree) -> its messages' bytes, sorted,
// as the project's read-only reader (libpff) gives them.
std::map<std::string, std::multiset<std::string>> ReadBack(const std::string& path) {
  auto backend = OpenPstFile(path, PstOptions{true, ""});
  std::map<std::string, std::multiset<std::string>> out;
  std::function<void(const FolderId&, const std::string&)> walk = [&](const FolderId& id, const std::string& p) {
    out[p];
    for (const auto& m : backend->ListMessages(id)) {
      EXPECT_FALSE(m.unreadable) << p << ": " << m.error;
      BlobPtr blob = backend->Fetch(id, m.key);
      std::string bytes(blob->Size(), '\0');
      bytes.resize(blob->ReadAt(0, bytes.data(), bytes.size()));
      out[p].insert(std::move(bytes));
    }
    for (const auto& f : backend->ListFolders(id)) walk(f.id, p.empty() ? f.name : p + "/" + f.name);
  };
  walk(backend->Root(), "");
  return out;
}

TEST(PstFolderMove, FileMailfsMadeStaysValidAndCrashSafe) {
  if (std::system("command -v pffexport >/dev/null 2>&1") != 0) GTEST_SKIP() << "pffexport is not installed";
  TempDir dir;
  const std::string path = dir / "move.pst";
  std::uint32_t a = 0, b = 0, d = 0;
  {
    auto file = NdbFile::Create(path, 1);
    PstStore store(*file);
    store.CreateSkeleton();
    a = store.CreateFolder(store.ipm_subtree(), "A");
    b = store.CreateFolder(a, "B");
    std::uint32_t c = store.CreateFolder(b, "C");
    d = store.CreateFolder(store.ipm_subtree(), "Ziel ü");
    for (int i = 0; i < 20; ++i) store.AddMessage(b, Eml("b" + std::to_string(i), i % 3 == 0), {}, 1700000000 + i);
    for (int i = 0; i < 5; ++i) store.AddMessage(c, Eml("c" + std::to_string(i), true), {}, 1700000000 + i);
    store.Commit();
  }
  auto before = ReadBack(path);
  ASSERT_EQ(before["A/B"].size(), 20u);
  ASSERT_EQ(before["A/B/C"].size(), 5u);
  {
    // Staged, never committed: the file keeps the old tree.
    auto file = NdbFile::Open(path, true);
    PstStore store(*file);
    store.OpenExisting();
    store.MoveFolder(b, d, "B");
    store.Flush();
  }
  EXPECT_EQ(ReadBack(path), before);
  {
    auto file = NdbFile::Open(path, true);
    PstStore store(*file);
    store.OpenExisting();
    store.MoveFolder(b, d, "B");
    store.Commit();
  }
  ExpectValid(path, dir);
  auto after = ReadBack(path);
  EXPECT_EQ(after.count("A/B"), 0u);
  EXPECT_EQ(after["Ziel ü/B"], before["A/B"]);
  EXPECT_EQ(after["Ziel ü/B/C"], before["A/B/C"]);
  auto file = NdbFile::Open(path, false);
  PstStore store(*file);
  store.OpenExisting();
  EXPECT_FALSE(store.GetFolder(a).has_subfolders);
  EXPECT_TRUE(store.GetFolder(d).has_subfolders);
  EXPECT_EQ(file->ParentOf(b), d);
}

TEST(PstFolderMove, FileOutlookMadeStaysValid) {
  const std::string sample = kFixtures + "aspose-Outlook_1.pst";
  if (!fs::exists(sample)) GTEST_SKIP() << "shared fixtures not present";
  if (std::system("command -v pffexport >/dev/null 2>&1") != 0) GTEST_SKIP() << "pffexport is not installed";
  TempDir dir;
  const std::string path = dir / "outlook.pst";
  fs::copy_file(sample, path);
  const std::set<std::string> baseline = Findings(path);
  auto before = ReadBack(path);
  auto find = [](PstStore& store, std::uint32_t parent, const std::string& name) {
    for (const auto& f : store.ListFolders(parent)) {
      if (f.name == name) return f.nid;
    }
    ADD_FAILURE() << "no folder " << name;
    return 0u;
  };
  std::uint32_t project = 0, sub_inbox = 0, sent = 0;
  {
    auto file = NdbFile::Open(path, true);
    PstStore store(*file);
    store.OpenExisting();
    std::uint32_t top = store.ipm_subtree();
    std::uint32_t inbox = find(store, top, "Inbox");
    sent = find(store, top, "Sent Items");
    sub_inbox = find(store, inbox, "SubInbox");
    // Outlook's default folders stay where they are.
    for (const char* name : {"Inbox", "Sent Items", "Outbox", "Deleted Items", "Calendar", "Contacts", "Drafts"}) {
      EXPECT_EQ(CodeOf([&] { store.MoveFolder(find(store, top, name), sub_inbox, name); }), Errc::kInvalid) << name;
    }
    project = store.CreateFolder(top, "Projekt");
    std::uint32_t inner = store.CreateFolder(project, "Innen");
    for (int i = 0; i < 6; ++i) store.AddMessage(project, Eml("p" + std::to_string(i), i % 2 == 0), {}, 1700000000 + i);
    store.AddMessage(inner, Eml("inner", true), {}, 1700000100);
    store.Commit();
  }
  auto made = ReadBack(path);
  {
    // Into an Outlook folder (its wide hierarchy table), then a folder
    // Outlook made under another Outlook folder.
    auto file = NdbFile::Open(path, true);
    PstStore store(*file);
    store.OpenExisting();
    store.MoveFolder(project, sub_inbox, "Projekt");
    store.Commit();
    store.MoveFolder(sub_inbox, sent, "SubInbox");
    store.Commit();
  }
  ExpectValid(path, dir, baseline);
  auto after = ReadBack(path);
  EXPECT_EQ(after.count("Projekt"), 0u);
  EXPECT_EQ(after.count("Inbox/SubInbox"), 0u);
  EXPECT_EQ(after["Sent Items/SubInbox/Projekt"], made["Projekt"]);
  EXPECT_EQ(after["Sent Items/SubInbox/Projekt/Innen"], made["Projekt/Innen"]);
  EXPECT_EQ(after["Inbox"], before["Inbox"]);
  EXPECT_EQ(after["Sent Items"], before["Sent Items"]);
  auto file = NdbFile::Open(path, false);
  PstStore store(*file);
  store.OpenExisting();
  std::uint32_t inbox = find(store, store.ipm_subtree(), "Inbox");
  EXPECT_FALSE(store.GetFolder(inbox).has_subfolders);
  EXPECT_TRUE(store.GetFolder(sent).has_subfolders);
  // The row Outlook made for SubInbox kept its other cells.
  ltp::Table h = ltp::ParseTable(file->ReadNode(Hierarchy(sent)), "h");
  ASSERT_GE(h.Find(sub_inbox), 0);
  EXPECT_GT(h.rows[h.Find(sub_inbox)].cells.size(), 4u);
}

}  // namespace
}  // namespace mailfs::pst::writer
