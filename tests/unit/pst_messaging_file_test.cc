// PST writer, LTP and messaging layers over the NDB layer (NdbFile): the
// parsers read every node of the Outlook- and Aspose-written samples; files
// built by PstStore (skeleton, nested folders, messages of many MIME
// shapes) pass mailfs-pstcheck, pffinfo, pffexport (no stderr), readpst and
// the project's own PST reader, which gives back every message byte for
// byte; changes after reopening (flags, moves, deletes, renames) keep the
// file valid. Prints the size overhead (PST bytes / sum of .eml bytes).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "backends/error.h"
#include "tests/support/temp_dir.h"
#include "backends/pst/check/pst_check.h"
#include "backends/pst/mailfs_props.h"
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

using testing_support::Slurp;
using testing_support::TempDir;

struct RunResult {
  int rc;
  std::string out, err;
};
RunResult RunTool(const std::string& cmd, const TempDir& dir) {
  const std::string out = dir / "cmd.out", err = dir / "cmd.err";
  const int status = std::system((cmd + " >" + out + " 2>" + err).c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, Slurp(out), Slurp(err)};
}

void ExpectCheckClean(const std::string& path) {
  const auto r = check::CheckFile(path);
  ASSERT_TRUE(r.readable) << path << ": " << r.fatal;
  std::string lines;
  for (const auto& f : r.findings) lines += check::FormatFinding(f) + "\n";
  EXPECT_EQ(r.errors(), 0u) << path << "\n" << lines;
  EXPECT_EQ(r.warnings(), 0u) << path << "\n" << lines;
}

bool IsPcType(std::uint32_t nid) {
  switch (TypeOfNid(nid)) {
    case NidType::kNormalFolder:
    case NidType::kSearchFolder:
    case NidType::kNormalMessage:
    case NidType::kAttachment:
    case NidType::kAssocMessage:
    case NidType::kSearchCriteriaObject:
      return true;
    default:
      return nid == kNidMessageStore || nid == kNidNameToIdMap;
  }
}
bool IsTcType(std::uint32_t nid) {
  switch (TypeOfNid(nid)) {
    case NidType::kHierarchyTable:
    case NidType::kContentsTable:
    case NidType::kAssocContentsTable:
    case NidType::kSearchContentsTable:
    case NidType::kReceiveFolderTable:
    case NidType::kOutgoingQueueTable:
    case NidType::kAttachmentTable:
    case NidType::kRecipientTable:
      return true;
    default:
      return nid == 0x6B6 || nid == 0x6D7 || nid == 0x6F8;
  }
}

// Parses a node and, for messages and attachments, their subnodes; returns
// how many PCs and TCs were read.
std::pair<int, int> ParseAll(std::uint32_t nid, const NodeContent& node) {
  int pcs = 0, tcs = 0;
  std::string what = "node " + ltp::Hex(nid);
  // Heaps with reserved client signatures (0xAC in search tables) are not
  // property or table contexts.
  std::uint8_t sig = node.blocks.empty() || node.blocks[0].size() < 4 ? 0 : static_cast<std::uint8_t>(node.blocks[0][3]);
  if (IsPcType(nid)) {
    ltp::ParsePc(node, what);
    ++pcs;
  } else if (IsTcType(nid) && sig == ltp::kClientTc) {
    ltp::ParseTable(node, what);
    ++tcs;
  }
  for (const auto& [sub, content] : node.subnodes) {
    if (TypeOfNid(sub) == NidType::kLtp) continue;  // a value or row matrix
    auto [p, t] = ParseAll(sub, content);
    pcs += p;
    tcs += t;
  }
  return {pcs, tcs};
}

TEST(PstMessagingFile, ParsesEveryNodeOfTheSamples) {
  for (const char* name : {"ms-outlook-pst-rs-Empty.pst", "aspose-Outlook_1.pst"}) {
    if (!fs::exists(kFixtures + name)) GTEST_SKIP() << "shared fixtures not present";
    auto file = NdbFile::Open(kFixtures + name, false);
    int pcs = 0, tcs = 0;
    for (std::uint32_t nid : file->ListNodes()) {
      auto [p, t] = ParseAll(nid, file->ReadNode(nid));
      pcs += p;
      tcs += t;
    }
    std::cout << name << ": " << pcs << " property contexts, " << tcs << " table contexts parsed\n";
    EXPECT_GT(pcs, 8) << name;
    EXPECT_GT(tcs, 20) << name;
  }
}

TEST(PstMessagingFile, OutlooksNameMapAndTemplatesDecode) {
  const std::string empty = kFixtures + "ms-outlook-pst-rs-Empty.pst";
  if (!fs::exists(empty)) GTEST_SKIP() << "shared fixtures not present";
  auto file = NdbFile::Open(empty, false);
  ltp::PropertyMap map = ltp::ParsePc(file->ReadNode(kNidNameToIdMap), "0x61").props;
  NameMap names = NameMap::Parse(map, "0x61");
  ASSERT_EQ(names.entries().size(), 35u);
  EXPECT_EQ(names.entries()[0].prop_id, 0x8000);
  EXPECT_EQ(names.entries()[0].lid, 0x8205u);  // PidLidBusyStatus
  // Our encoder gives Outlook's streams and hash buckets back.
  ltp::PropertyMap again = names.ToProperties();
  for (const auto& [id, v] : map) {
    if (v.data.empty() && !again.count(id)) continue;  // Outlook keeps empty buckets
    if (id == 0x0004) continue;  // string stream: Outlook leaves garbage in the padding
    ASSERT_TRUE(again.count(id)) << ltp::Hex(id);
    EXPECT_EQ(again.at(id).type, v.type) << ltp::Hex(id);
    EXPECT_EQ(ltp::Hex(again.at(id).data.size()), ltp::Hex(v.data.size())) << ltp::Hex(id);
    for (std::size_t k = 0; k < v.data.size() && k < again.at(id).data.size(); ++k) {
      if (v.data[k] != again.at(id).data[k]) {
        ADD_FAILURE() << ltp::Hex(id) << " differs at byte " << k;
        break;
      }
    }
  }
  for (const auto& [id, v] : again) EXPECT_TRUE(map.count(id)) << ltp::Hex(id);
  // Our template tables have Outlook's columns, and the receive-folder row.
  MemoryNodeStore mem;
  PstStore store(mem);
  store.CreateSkeleton();
  for (std::uint32_t nid : {0x60Du, 0x60Eu, 0x60Fu, 0x610u, 0x62Bu, 0x64Cu, 0x671u, 0x692u, 0x6B6u, 0x6D7u,
                            0x6F8u, 0x12Eu, 0x2230u, 0x806Du, 0x806Eu, 0x806Fu}) {
    ltp::Table outlook = ltp::ParseTable(file->ReadNode(nid), "outlook " + ltp::Hex(nid));
    ltp::Table ours = ltp::ParseTable(mem.ReadNode(nid), "ours " + ltp::Hex(nid));
    std::set<std::pair<int, int>> a, b;
    for (const auto& c : outlook.columns) a.insert({c.id, c.type});
    for (const auto& c : ours.columns) b.insert({c.id, c.type});
    EXPECT_EQ(a, b) << ltp::Hex(nid);
    ASSERT_EQ(outlook.rows.size(), ours.rows.size()) << ltp::Hex(nid);
    for (std::size_t i = 0; i < ours.rows.size(); ++i) {
      EXPECT_EQ(outlook.rows[i].row_id, ours.rows[i].row_id);
      EXPECT_EQ(outlook.rows[i].cells, ours.rows[i].cells);
    }
  }
  // Folder PCs and hierarchy rows carry Outlook's values.
  for (std::uint32_t nid : {0x122u, 0x2223u, 0x8022u, 0x8042u, 0x8062u, 0x8082u, 0x2227u}) {
    ltp::PropertyMap outlook = ltp::ParsePc(file->ReadNode(nid), "outlook").props;
    ltp::PropertyMap ours = ltp::ParsePc(mem.ReadNode(nid), "ours").props;
    for (const auto& [id, v] : ours) {
      ASSERT_TRUE(outlook.count(id)) << ltp::Hex(nid) << " " << ltp::Hex(id);
      EXPECT_EQ(outlook.at(id), v) << ltp::Hex(nid) << " " << ltp::Hex(id);
    }
  }
  ltp::Table outlook_root = ltp::ParseTable(file->ReadNode(0x12D), "outlook");
  ltp::Table ours_root = ltp::ParseTable(mem.ReadNode(0x12D), "ours");
  ASSERT_EQ(outlook_root.rows.size(), ours_root.rows.size());
  for (std::size_t i = 0; i < ours_root.rows.size(); ++i) {
    EXPECT_EQ(outlook_root.rows[i].row_id, ours_root.rows[i].row_id);
    for (const auto& [id, v] : ours_root.rows[i].cells) EXPECT_EQ(outlook_root.rows[i].cells.at(id), v) << ltp::Hex(id);
  }
}

// A deterministic corpus of mail in the shapes mailfs meets: plain ASCII,
// UTF-8 and quoted-printable Latin-1 text, RFC 2047 subjects and names,
// multipart/alternative, attachments (RFC 2231 names), multipart/related
// with inline images, message/rfc822 with its own attachment, HTML only,
// long bodies, many recipients, no subject. Sizes follow real mailboxes:
// mostly 2-20 KiB, about one in five with attachments of 20-300 KiB.
std::vector<std::string> Corpus(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  auto pick = [&](std::size_t lo, std::size_t hi) { return lo + rng() % (hi - lo + 1); };
  auto b64 = [](const std::string& in) {
    static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t line = 0;
    for (std::size_t i = 0; i < in.size(); i += 3) {
      std::uint32_t v = static_cast<std::uint8_t>(in[i]) << 16;
      if (i + 1 < in.size()) v |= static_cast<std::uint8_t>(in[i + 1]) << 8;
      if (i + 2 < in.size()) v |= static_cast<std::uint8_t>(in[i + 2]);
      out += k[(v >> 18) & 63];
      out += k[(v >> 12) & 63];
      out += i + 1 < in.size() ? k[(v >> 6) & 63] : '=';
      out += i + 2 < in.size() ? k[v & 63] : '=';
      if ((line += 4) == 76) {
        out += "\r\n";
        line = 0;
      }
    }
    return out + "\r\n";
  };
  auto text = [&](std::size_t bytes, bool utf8) {
    static const char* words[] = {"meeting", "report", "budget", "the", "and", "of", "schedule", "Grüße",
                                  "naïve", "日本語", "über", "project", "review", "tomorrow", "please", "thanks"};
    std::string out;
    std::size_t col = 0;
    while (out.size() < bytes) {
      std::string w = words[rng() % (utf8 ? 16 : 8)];
      if (!utf8 && (w == "Grüße" || w == "naïve")) w = "ok";
      out += w;
      col += w.size() + 1;
      if (col > 70) {
        out += "\r\n";
        col = 0;
      } else {
        out += ' ';
      }
    }
    return out + "\r\n";
  };
  auto binary = [&](std::size_t bytes) {
    std::string out(bytes, '\0');
    for (auto& c : out) c = static_cast<char>(rng() & 0xFF);
    return out;
  };
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    std::string id = std::to_string(i);
    std::string hdr = "Received: from mx" + id + ".example.org by mail.example.com; Tue, 2 Jan 2024 10:" +
                      std::to_string(10 + i % 50) + ":00 +0000\r\n"
                      "From: Sender " + id + " <sender" + id + "@example.org>\r\n"
                      "To: Anna Empfänger <anna@example.com>\r\n"
                      "Date: Tue, 2 Jan 2024 10:00:00 +0100\r\n"
                      "Message-ID: <corpus." + id + "@example.org>\r\nMIME-Version: 1.0\r\n";
    std::string m;
    switch (i % 12) {
      case 0:
        m = hdr + "Subject: plain " + id + "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + text(pick(2000, 20000), false);
        break;
      case 1:
        m = hdr + "Subject: =?UTF-8?B?R3LDvMOfZSDml6XmnKw=?= " + id +
            "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text(pick(2000, 20000), true);
        break;
      case 2:
        m = hdr + "Subject: latin1 " + id +
            "\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            "Gr=FC=DFe aus M=FCnchen,\r\n" + text(pick(1000, 8000), false);
        break;
      case 3:
        m = hdr + "Subject: alternative " + id +
            "\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
            text(pick(1000, 8000), true) + "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>" +
            text(pick(2000, 15000), true) + "</p></body></html>\r\n--alt--\r\n";
        break;
      case 4:
      case 10: {
        std::string name = i % 12 == 4 ? "report-" + id + ".pdf" : "r\xC3\xA9sum\xC3\xA9 " + id + ".bin";
        std::string disp = i % 12 == 4 ? "attachment; filename=\"" + name + "\""
                                       : "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20" + id + ".bin";
        m = hdr + "Subject: attachment " + id + "\r\nContent-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n--mix\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text(pick(500, 3000), true) +
            "--mix\r\nContent-Type: application/octet-stream\r\nContent-Disposition: " + disp +
            "\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(binary(pick(20000, 300000))) + "--mix--\r\n";
        break;
      }
      case 5:
        m = hdr + "Subject: inline image " + id + "\r\nContent-Type: multipart/related; boundary=\"rel\"\r\n\r\n--rel\r\n"
            "Content-Type: text/html; charset=utf-8\r\n\r\n<p>see <img src=\"cid:img" + id + "@x\"></p>\r\n--rel\r\n"
            "Content-Type: image/png\r\nContent-ID: <img" + id + "@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
            b64(binary(pick(3000, 40000))) + "--rel--\r\n";
        break;
      case 6:
        m = hdr + "Subject: forwarded " + id + "\r\nContent-Type: multipart/mixed; boundary=\"fwd\"\r\n\r\n--fwd\r\n"
            "Content-Type: text/plain\r\n\r\nsee below\r\n--fwd\r\nContent-Type: message/rfc822\r\n\r\n"
            "From: inner@example.com\r\nTo: anna@example.com\r\nSubject: inner " + id +
            "\r\nDate: Mon, 1 Jan 2024 09:00:00 +0000\r\nContent-Type: multipart/mixed; boundary=\"in\"\r\n\r\n"
            "--in\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text(pick(500, 4000), true) +
            "--in\r\nContent-Type: text/csv; name=\"data.csv\"\r\nContent-Disposition: attachment; filename=\"data.csv\"\r\n\r\n"
            "a,b\r\n1,2\r\n--in--\r\n--fwd--\r\n";
        break;
      case 7:
        m = hdr + "Subject: long " + id + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text(pick(60000, 150000), true);
        break;
      case 8:
        m = hdr + "Subject: html only " + id + "\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><p>" +
            text(pick(2000, 10000), true) + "</p></html>\r\n";
        break;
      case 9: {
        std::string to;
        for (int k = 0; k < 12; ++k) to += (k ? ", " : "") + std::string("User ") + std::to_string(k) + " <u" + std::to_string(k) + "@example.net>";
        m = "From: list@example.org\r\nTo: " + to + "\r\nCc: =?UTF-8?Q?J=C3=BCrgen?= <j@example.de>\r\nSubject: RE: many " + id +
            "\r\nDate: Wed, 3 Jan 2024 08:00:00 +0000\r\n\r\n" + text(pick(500, 3000), false);
        break;
      }
      default:
        m = "From: nobody@example.org\r\nDate: Thu, 4 Jan 2024 12:00:00 +0000\r\n\r\n";
        break;
    }
    out.push_back(std::move(m));
  }
  return out;
}

struct Expect {
  std::string path;  // folder path under the IPM subtree
  std::vector<std::string> emls;
};

// Walks the project's reader from its root; returns path -> bodies fetched.
std::map<std::string, std::vector<std::string>> ReadBack(const std::string& path) {
  auto backend = OpenPstFile(path, PstOptions{true, ""});
  std::map<std::string, std::vector<std::string>> out;
  std::function<void(const FolderId&, const std::string&)> walk = [&](const FolderId& id, const std::string& p) {
    for (const auto& m : backend->ListMessages(id)) {
      EXPECT_FALSE(m.unreadable) << p << ": " << m.error;
      BlobPtr blob = backend->Fetch(id, m.key);
      std::string bytes(blob->Size(), '\0');
      bytes.resize(blob->ReadAt(0, bytes.data(), bytes.size()));
      out[p].push_back(std::move(bytes));
    }
    for (const auto& f : backend->ListFolders(id)) walk(f.id, p.empty() ? f.name : p + "/" + f.name);
  };
  walk(backend->Root(), "");
  return out;
}

TEST(PstMessagingFile, BuiltFileOpensInEveryReaderAndGivesTheMessagesBack) {
  TempDir dir;
  const std::string path = dir / "built.pst";
  const std::size_t n = 240;
  std::vector<std::string> corpus = Corpus(n, 7);
  std::vector<Expect> expect = {{"Inbox", {}}, {"Inbox/Projekte ü 日本", {}}, {"Archive/2024/Q1", {}}, {"Sent Items", {}}};
  std::uint64_t eml_bytes = 0;
  {
    auto file = NdbFile::Create(path);
    file->set_sync(false);
    PstStore store(*file);
    store.CreateSkeleton();
    std::uint32_t inbox = store.CreateFolder(store.ipm_subtree(), "Inbox");
    std::uint32_t sub = store.CreateFolder(inbox, "Projekte ü 日本");
    std::uint32_t archive = store.CreateFolder(store.ipm_subtree(), "Archive");
    std::uint32_t y2024 = store.CreateFolder(archive, "2024");
    std::uint32_t q1 = store.CreateFolder(y2024, "Q1");
    std::uint32_t sent = store.CreateFolder(store.ipm_subtree(), "Sent Items");
    store.Commit();
    const std::uint32_t folders[] = {inbox, sub, q1, sent};
    for (std::size_t i = 0; i < corpus.size(); ++i) {
      std::size_t f = i % 7 == 0 ? 1 : i % 5 == 0 ? 2 : i % 11 == 0 ? 3 : 0;
      MessageFlags flags;
      flags.read = i % 3 != 0;
      flags.flagged = i % 13 == 0;
      store.AddMessage(folders[f], corpus[i], flags, 1704189600 + static_cast<std::int64_t>(i));
      expect[f].emls.push_back(corpus[i]);
      eml_bytes += corpus[i].size();
      if (i % 50 == 49) store.Commit();
    }
    store.Commit();
  }
  const std::uint64_t pst_bytes = fs::file_size(path);
  std::cout << "corpus: " << n << " messages, " << eml_bytes << " bytes of .eml; PST " << pst_bytes
            << " bytes; overhead " << static_cast<double>(pst_bytes) / static_cast<double>(eml_bytes) << "\n";
  ExpectCheckClean(path);
  {
    // Where the bytes go: node data (all levels) against the file.
    auto file = NdbFile::Open(path, false);
    std::uint64_t node_bytes = 0;
    std::function<void(const NodeContent&)> add = [&](const NodeContent& c) {
      node_bytes += c.TotalSize();
      for (const auto& [sub, content] : c.subnodes) add(content);
    };
    for (std::uint32_t nid : file->ListNodes()) add(file->ReadNode(nid));
    std::cout << "node data " << node_bytes << " bytes (" << static_cast<double>(node_bytes) / static_cast<double>(eml_bytes)
              << " of the .eml bytes), the rest is block and page structure and free space\n";
  }

  RunResult info = RunTool("pffinfo " + path, dir);
  EXPECT_EQ(info.rc, 0) << info.err;
  EXPECT_EQ(info.err, "");
  RunResult exp = RunTool("pffexport -q -m items -f all -t " + dir.path() + "/export " + path, dir);
  EXPECT_EQ(exp.rc, 0);
  EXPECT_EQ(exp.err, "");
  const std::string top = dir.path() + "/export.export/Top of Outlook data file/";
  for (const auto& e : expect) {
    std::size_t count = 0;
    for (const auto& entry : fs::directory_iterator(top + e.path)) {
      if (entry.is_directory() && entry.path().filename().string().rfind("Message", 0) == 0) ++count;
    }
    EXPECT_EQ(count, e.emls.size()) << "pffexport " << e.path;
  }
  // An attachment exported by pffexport has the decoded bytes.
  {
    std::string dir4 = top + "Inbox/Message00004/Attachments";
    bool found = false;
    if (fs::exists(dir4)) {
      for (const auto& entry : fs::directory_iterator(dir4)) {
        found = found || entry.path().filename().string().find("report-4.pdf") != std::string::npos;
      }
    }
    EXPECT_TRUE(found) << dir4;
  }
  RunResult rp = RunTool("mkdir -p " + dir.path() + "/readpst && readpst -j 0 -r -e -D -8 -o " + dir.path() + "/readpst " + path, dir);
  EXPECT_EQ(rp.rc, 0) << rp.out << rp.err;
  for (const auto& e : expect) {
    std::size_t count = 0;
    std::string d = dir.path() + "/readpst/Personal Folders/" + e.path;
    if (fs::exists(d)) {
      for (const auto& entry : fs::directory_iterator(d)) count += entry.path().extension() == ".eml";
    }
    EXPECT_EQ(count, e.emls.size()) << "readpst " << e.path;
  }

  // pst-extractor (npm), when MAILFS_PST_EXTRACTOR_DIR holds
  // node_modules/pst-extractor: messages per folder as listed.
  if (const char* px = std::getenv("MAILFS_PST_EXTRACTOR_DIR"); px != nullptr && fs::exists(std::string(px) + "/node_modules/pst-extractor")) {
    RunResult tree = RunTool(std::string("NODE_PATH=") + px + "/node_modules node " + MAILFS_SHARED_DIR +
                                 "/tools/pst_tree_extractor.js " + path,
                             dir);
    EXPECT_EQ(tree.rc, 0) << tree.err;
    std::map<std::string, std::size_t> listed;
    std::string folder;
    std::istringstream lines(tree.out);
    for (std::string line; std::getline(lines, line);) {
      const std::string prefix = "F (root)/Top of Outlook data file/";
      if (line.rfind(prefix, 0) == 0) {
        folder = line.substr(prefix.size(), line.find(" | ") - prefix.size());
      } else if (line.rfind("  M ", 0) == 0) {
        ++listed[folder];
      }
    }
    for (const auto& e : expect) EXPECT_EQ(listed[e.path], e.emls.size()) << "pst-extractor " << e.path;
  }

  // The project's reader serves the original bytes.
  auto got = ReadBack(path);
  for (const auto& e : expect) {
    std::multiset<std::string> want(e.emls.begin(), e.emls.end());
    std::multiset<std::string> have(got[e.path].begin(), got[e.path].end());
    EXPECT_EQ(have.size(), want.size()) << e.path;
    EXPECT_TRUE(have == want) << e.path;
  }
  EXPECT_TRUE(got["Deleted Items"].empty());
}

TEST(PstMessagingFile, ChangesAfterReopeningKeepTheFileValid) {
  TempDir dir;
  const std::string path = dir / "changes.pst";
  std::vector<std::string> corpus = Corpus(30, 11);
  std::vector<std::uint32_t> ids;
  std::uint32_t a = 0, b = 0;
  {
    auto file = NdbFile::Create(path, 1);
    PstStore store(*file);
    store.CreateSkeleton();
    a = store.CreateFolder(store.ipm_subtree(), "A");
    b = store.CreateFolder(store.ipm_subtree(), "B");
    for (const auto& eml : corpus) ids.push_back(store.AddMessage(a, eml, {}, 1700000000));
    store.Commit();
  }
  {
    auto file = NdbFile::Open(path, true);
    PstStore store(*file);
    store.OpenExisting();
    MessageFlags f;
    f.read = true;
    f.answered = true;
    f.keywords = {"$Label1", "Work"};
    store.SetFlags(ids[0], f);
    store.SetInternalDate(ids[1], 1600000000);
    store.MoveMessage(ids[2], b);
    store.MoveMessage(ids[3], b);
    store.DeleteMessage(ids[4]);
    store.RenameFolder(b, "B renamed");
    std::uint32_t c = store.CreateFolder(b, "C");
    store.DeleteFolder(c);
    store.Commit();
  }
  ExpectCheckClean(path);
  RunResult exp = RunTool("pffexport -q -m items -f all -t " + dir.path() + "/export " + path, dir);
  EXPECT_EQ(exp.rc, 0);
  EXPECT_EQ(exp.err, "");
  auto backend = OpenPstFile(path, PstOptions{true, ""});
  std::map<std::string, std::vector<mailfs::MessageInfo>> listing;
  for (const auto& folder : backend->ListFolders(backend->Root())) listing[folder.name] = backend->ListMessages(folder.id);
  EXPECT_EQ(listing["A"].size(), 27u);
  EXPECT_EQ(listing["B renamed"].size(), 2u);
  bool saw_flags = false, saw_date = false;
  for (const auto& m : listing["A"]) {
    if (std::find(m.flags.begin(), m.flags.end(), "\\Answered") != m.flags.end()) {
      saw_flags = true;
      EXPECT_NE(std::find(m.flags.begin(), m.flags.end(), "\\Seen"), m.flags.end());
    }
    saw_date = saw_date || m.internal_date == 1600000000;
  }
  // Keywords are checked through our own parser: libpff 20180714 overwrites
  // the count of a multi-valued string with 0 when it decodes one
  // (libpff_record_entry_get_multi_value), so no libpff-based reader sees them.
  {
    auto file = NdbFile::Open(path, false);
    PstStore store(*file);
    store.OpenExisting();
    MessageFlags want;
    want.read = true;
    want.answered = true;
    want.keywords = {"$Label1", "Work"};
    EXPECT_EQ(store.GetFlags(ids[0]), want);
    EXPECT_EQ(store.GetInternalDate(ids[1]), 1600000000);
    EXPECT_EQ(store.ListMessages(b).size(), 2u);
  }
  EXPECT_TRUE(saw_flags);
  EXPECT_TRUE(saw_date);
}

TEST(PstMessagingFile, AppendsToAFileOutlookWrote) {
  const std::string sample = kFixtures + "aspose-Outlook_1.pst";
  if (!fs::exists(sample)) GTEST_SKIP() << "shared fixtures not present";
  TempDir dir;
  const std::string path = dir / "append.pst";
  fs::copy_file(sample, path);
  std::size_t before_folders = 0;
  {
    auto file = NdbFile::Open(path, true);
    PstStore store(*file);
    store.OpenExisting();
    before_folders = store.ListFolders(store.ipm_subtree()).size();
    std::uint32_t f = store.CreateFolder(store.ipm_subtree(), "Imported");
    for (const auto& eml : Corpus(12, 3)) store.AddMessage(f, eml, {}, 1700000000);
    store.Commit();
  }
  RunResult exp = RunTool("pffexport -q -m items -f all -t " + dir.path() + "/export " + path, dir);
  EXPECT_EQ(exp.rc, 0);
  EXPECT_EQ(exp.err, "");
  auto file = NdbFile::Open(path, false);
  PstStore store(*file);
  store.OpenExisting();
  auto folders = store.ListFolders(store.ipm_subtree());
  EXPECT_EQ(folders.size(), before_folders + 1);
  auto got = ReadBack(path);
  std::vector<std::string> corpus = Corpus(12, 3);
  std::multiset<std::string> want(corpus.begin(), corpus.end());
  std::multiset<std::string> have(got["Imported"].begin(), got["Imported"].end());
  EXPECT_TRUE(have == want);
}

TEST(PstMessagingFile, AttachmentAboveEightMegabytesAndLongBody) {
  // 9 MB of attachment data needs a two-level data tree (XXBLOCK) in the
  // attachment's subnode; the .eml itself is kept the same way.
  TempDir dir;
  const std::string path = dir / "big.pst";
  std::string data(9 * 1024 * 1024, '\0');
  std::mt19937 rng(5);
  for (auto& c : data) c = static_cast<char>(rng() & 0xFF);
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  for (std::size_t i = 0; i < data.size(); i += 3) {
    std::uint32_t v = static_cast<std::uint8_t>(data[i]) << 16;
    if (i + 1 < data.size()) v |= static_cast<std::uint8_t>(data[i + 1]) << 8;
    if (i + 2 < data.size()) v |= static_cast<std::uint8_t>(data[i + 2]);
    b64 += k[(v >> 18) & 63];
    b64 += k[(v >> 12) & 63];
    b64 += i + 1 < data.size() ? k[(v >> 6) & 63] : '=';
    b64 += i + 2 < data.size() ? k[v & 63] : '=';
    if (i % 57 == 54) b64 += "\r\n";
  }
  std::string body;
  for (int i = 0; body.size() < 300000; ++i) body += "Zeile " + std::to_string(i) + " mit Umlauten äöü\r\n";
  std::string eml = "From: big@example.org\r\nTo: x@example.com\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
                    "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: 8bit\r\n\r\n" + body +
                    "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"big.bin\"\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n" + b64 + "\r\n--b--\r\n";
  {
    auto file = NdbFile::Create(path);
    file->set_sync(false);
    PstStore store(*file);
    store.CreateSkeleton();
    std::uint32_t f = store.CreateFolder(store.ipm_subtree(), "Big");
    store.AddMessage(f, eml, {}, 1700000000);
    store.Commit();
  }
  ExpectCheckClean(path);
  RunResult exp = RunTool("pffexport -q -m items -f all -t " + dir.path() + "/export " + path, dir);
  EXPECT_EQ(exp.rc, 0);
  EXPECT_EQ(exp.err, "");
  std::string exported;
  const std::string att = dir.path() + "/export.export/Top of Outlook data file/Big/Message00001/Attachments";
  if (fs::exists(att)) {
    for (const auto& entry : fs::directory_iterator(att)) exported = Slurp(entry.path().string());
  }
  EXPECT_TRUE(exported == data) << "pffexport attachment of " << exported.size() << " bytes";
  auto got = ReadBack(path);
  ASSERT_EQ(got["Big"].size(), 1u);
  EXPECT_TRUE(got["Big"][0] == eml);
}

}  // namespace
}  // namespace mailfs::pst::writer
