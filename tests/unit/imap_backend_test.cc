// The IMAP backend against a scripted server on loopback (tls=none): what it
// sends, how it reads the answers (FETCH items in any order, literals,
// tagged NO), the listing cache, deadlines, dropped connections, and the
// check after a connection lost during APPEND (design.md §7). The real
// server (Dovecot) is exercised by tests/integration/test_imap_*.sh.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backends/error.h"
#include "backends/imap/imap_backend.h"

namespace mailfs::imap {
namespace {

struct StoredMessage {
  std::uint32_t uid;
  std::string flags;  // as in a FETCH response, e.g. "\\Seen"
  std::string date;   // INTERNALDATE
  std::string bytes;
};

// A small IMAP server: one thread per connection, one mailbox "INBOX" and an
// empty "Archive". Behaviour switches let tests break it on purpose.
class FakeServer {
 public:
  FakeServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(listen_fd_, 16);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~FakeServer() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : sessions_) t.join();
    for (int fd : fds_) ::close(fd);
  }
  int port() const { return port_; }

  std::mutex mu_;
  std::vector<StoredMessage> inbox_;
  std::uint32_t uidvalidity_ = 77;
  std::uint32_t uidnext_ = 1;
  std::uint64_t modseq_ = 5;
  std::map<std::string, int> counts_;  // command name -> times seen
  std::string password_ = "pw";
  bool uid_last_ = false;              // put UID after the other FETCH items
  int hang_body_fetches_ = 0;          // never answer the next N body FETCHes
  int drop_body_fetches_ = 0;          // close the connection on the next N body FETCHes
  int drop_after_append_ = 0;          // store, then close without answering (N times)
  int drop_before_append_ = 0;         // read the literal, close, store nothing (N times)
  int drop_searches_ = 0;              // close the connection on the next N UID SEARCHes

  int Count(const std::string& command) {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_[command];
  }
  void Add(const std::string& flags, const std::string& bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    inbox_.push_back({uidnext_++, flags, "01-Feb-2003 04:05:06 +0100", bytes});
    ++modseq_;
  }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      std::lock_guard<std::mutex> lock(mu_);
      fds_.push_back(fd);
      sessions_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  static bool ReadLine(int fd, std::string& buf, std::string& line) {
    for (;;) {
      std::size_t nl = buf.find("\r\n");
      if (nl != std::string::npos) {
        line = buf.substr(0, nl);
        buf.erase(0, nl + 2);
        return true;
      }
      char tmp[4096];
      ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
      if (n <= 0) return false;
      buf.append(tmp, static_cast<std::size_t>(n));
    }
  }
  static bool ReadBytes(int fd, std::string& buf, std::size_t n, std::string& out) {
    while (buf.size() < n) {
      char tmp[4096];
      ssize_t r = ::recv(fd, tmp, sizeof(tmp), 0);
      if (r <= 0) return false;
      buf.append(tmp, static_cast<std::size_t>(r));
    }
    out = buf.substr(0, n);
    buf.erase(0, n);
    return true;
  }
  static void Send(int fd, const std::string& s) { (void)!::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }

  std::string FetchItem(const StoredMessage& m, std::size_t seq, bool body, bool listing) {
    std::string items;
    std::string uid = "UID " + std::to_string(m.uid);
    if (!uid_last_) items = uid;
    auto add = [&](const std::string& s) { items += (items.empty() ? "" : " ") + s; };
    if (listing) {
      add("FLAGS (" + m.flags + ")");
      add("INTERNALDATE \"" + m.date + "\"");
      add("RFC822.SIZE " + std::to_string(m.bytes.size()));
      std::string head = m.bytes.substr(0, m.bytes.find("\r\n\r\n") + 4);
      add("BODY[HEADER.FIELDS (DATE SUBJECT MESSAGE-ID FROM)] {" + std::to_string(head.size()) + "}\r\n" + head);
    } else if (body) {
      add("BODY[] {" + std::to_string(m.bytes.size()) + "}\r\n" + m.bytes);
    } else {
      add("FLAGS (" + m.flags + ")");
      add("INTERNALDATE \"" + m.date + "\"");
      add("RFC822.SIZE " + std::to_string(m.bytes.size()));
    }
    if (uid_last_) add(uid);
    return "* " + std::to_string(seq) + " FETCH (" + items + ")\r\n";
  }

  // "1:*", "3", "2:4,7" -> does |uid| match (with * = the highest UID)?
  bool InSet(const std::string& set, std::uint32_t uid, std::uint32_t max_uid) {
    std::size_t pos = 0;
    while (pos <= set.size()) {
      std::size_t comma = set.find(',', pos);
      std::string part = set.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      std::size_t colon = part.find(':');
      auto num = [&](const std::string& s) { return s == "*" ? max_uid : static_cast<std::uint32_t>(std::stoul(s)); };
      std::uint32_t a = num(part.substr(0, colon));
      std::uint32_t b = colon == std::string::npos ? a : num(part.substr(colon + 1));
      if (a > b) std::swap(a, b);
      if (uid >= a && uid <= b) return true;
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    return false;
  }

  void Serve(int fd) {
    std::string buf, line;
    Send(fd, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake ready\r\n");
    std::string selected;
    while (ReadLine(fd, buf, line)) {
      std::string tag = line.substr(0, line.find(' '));
      std::string rest = line.substr(tag.size() + 1);
      std::string cmd = rest.substr(0, rest.find(' '));
      for (char& c : cmd) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      std::unique_lock<std::mutex> lock(mu_);
      if (cmd == "UID") {
        std::string sub = rest.substr(4, rest.find(' ', 4) - 4);
        cmd += " " + sub;
      }
      ++counts_[cmd];
      if (cmd == "CAPABILITY") {
        Send(fd, "* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR UIDPLUS CONDSTORE MOVE\r\n" + tag + " OK done\r\n");
      } else if (cmd == "AUTHENTICATE") {
        std::string expected = "AGFsaWNlAHB3";  // "\0alice\0pw"
        bool ok = password_ == "pw" && rest.find(expected) != std::string::npos;
        Send(fd, tag + (ok ? " OK logged in\r\n" : " NO [AUTHENTICATIONFAILED] bad\r\n"));
      } else if (cmd == "LIST") {
        Send(fd, "* LIST (\\HasNoChildren) \"/\" INBOX\r\n* LIST (\\HasNoChildren \\Archive) \"/\" Archive\r\n" + tag +
                     " OK done\r\n");
      } else if (cmd == "SELECT") {
        std::string box = rest.substr(7, rest.find(' ', 7) - 7);
        if (box != "INBOX" && box != "Archive") {
          Send(fd, tag + " NO [NONEXISTENT] no such mailbox\r\n");
          continue;
        }
        selected = box;
        std::size_t exists = box == "INBOX" ? inbox_.size() : 0;
        Send(fd, "* " + std::to_string(exists) + " EXISTS\r\n* OK [UIDVALIDITY " + std::to_string(uidvalidity_) +
                     "] ok\r\n* OK [UIDNEXT " + std::to_string(uidnext_) + "] ok\r\n* OK [HIGHESTMODSEQ " +
                     std::to_string(modseq_) + "] ok\r\n" + tag + " OK [READ-WRITE] selected\r\n");
      } else if (cmd == "STATUS") {
        Send(fd, "* STATUS INBOX (UIDNEXT " + std::to_string(uidnext_) + ")\r\n" + tag + " OK done\r\n");
      } else if (cmd == "UID FETCH") {
        std::string args = rest.substr(10);
        std::string set = args.substr(0, args.find(' '));
        bool body = args.find("BODY.PEEK[]") != std::string::npos;
        bool listing = args.find("HEADER.FIELDS") != std::string::npos;
        if (body && hang_body_fetches_ > 0) {
          --hang_body_fetches_;
          lock.unlock();
          while (ReadLine(fd, buf, line)) {
          }
          return;
        }
        if (body && drop_body_fetches_ > 0) {
          --drop_body_fetches_;
          ::shutdown(fd, SHUT_RDWR);
          return;
        }
        std::string out;
        std::uint32_t max_uid = inbox_.empty() ? 0 : inbox_.back().uid;
        if (selected == "INBOX") {
          for (std::size_t i = 0; i < inbox_.size(); ++i) {
            if (InSet(set, inbox_[i].uid, max_uid)) out += FetchItem(inbox_[i], i + 1, body, listing);
          }
        }
        Send(fd, out + tag + " OK fetched\r\n");
      } else if (cmd == "UID SEARCH") {
        // Only "UID SEARCH UID n:* HEADER Message-ID <id>" is understood.
        if (drop_searches_ > 0) {
          --drop_searches_;
          ::shutdown(fd, SHUT_RDWR);
          return;
        }
        std::string args = rest.substr(11);
        std::size_t u = args.find("UID ");
        std::string set = args.substr(u + 4, args.find(' ', u + 4) - u - 4);
        std::size_t h = args.find("<");
        std::string id = h == std::string::npos ? "" : args.substr(h, args.find('>', h) - h + 1);
        std::string hits;
        std::uint32_t max_uid = inbox_.empty() ? 0 : inbox_.back().uid;
        for (const auto& m : inbox_) {
          if (InSet(set, m.uid, max_uid) && (id.empty() || m.bytes.find(id) != std::string::npos)) {
            hits += " " + std::to_string(m.uid);
          }
        }
        Send(fd, "* SEARCH" + hits + "\r\n" + tag + " OK searched\r\n");
      } else if (cmd == "APPEND") {
        std::size_t open = rest.rfind('{');
        std::size_t n = std::stoul(rest.substr(open + 1));
        Send(fd, "+ go on\r\n");
        std::string literal, tail;
        lock.unlock();
        if (!ReadBytes(fd, buf, n, literal) || !ReadLine(fd, buf, tail)) return;
        lock.lock();
        if (drop_before_append_ > 0) {
          --drop_before_append_;
          ::shutdown(fd, SHUT_RDWR);
          return;
        }
        std::size_t f0 = rest.find('(');
        std::string flags = f0 == std::string::npos ? "" : rest.substr(f0 + 1, rest.find(')') - f0 - 1);
        std::size_t d0 = rest.find('"', rest.find(' '));
        std::string date = rest.substr(d0 + 1, rest.find('"', d0 + 1) - d0 - 1);
        inbox_.push_back({uidnext_++, flags, date, literal});
        ++modseq_;
        if (drop_after_append_ > 0) {
          --drop_after_append_;
          ::shutdown(fd, SHUT_RDWR);
          return;
        }
        Send(fd, tag + " OK [APPENDUID " + std::to_string(uidvalidity_) + " " + std::to_string(inbox_.back().uid) +
                     "] stored\r\n");
      } else if (cmd == "LOGOUT") {
        Send(fd, "* BYE bye\r\n" + tag + " OK bye\r\n");
        return;
      } else {
        Send(fd, tag + " BAD not in this script\r\n");
      }
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::vector<std::thread> sessions_;
  std::vector<int> fds_;
};

const std::string kMsg1 =
    "From: Alice <alice@example.com>\r\nSubject: first\r\nMessage-ID: <one@example.com>\r\n"
    "Date: Mon, 3 Feb 2003 04:05:06 +0000\r\n\r\nbody one\r\n";
const std::string kMsg2 = "Subject: second\r\nMessage-ID: <two@example.com>\r\n\r\n" + std::string(300000, 'x') + "\r\n";

class ImapBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = std::filesystem::temp_directory_path() /
             ("mailfs-imap-test-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(cache_);
    server_.Add("\\Seen \\Flagged $Work", kMsg1);
    server_.Add("", kMsg2);
  }
  void TearDown() override { std::filesystem::remove_all(cache_); }

  ImapOptions Options(int timeout = 5) {
    ImapOptions o;
    o.server.host = "127.0.0.1";
    o.server.port = server_.port();
    o.server.tls = TlsMode::kNone;
    o.server.user = "alice";
    o.server.password = [] { return std::string("pw"); };
    o.server.timeout_sec = timeout;
    o.description = "test";
    o.cache_dir = cache_;
    o.connections = 2;
    o.writable = true;
    return o;
  }

  FakeServer server_;
  std::string cache_;
};

TEST_F(ImapBackendTest, ListsFoldersAndMessages) {
  auto b = OpenImapAccount(Options());
  auto folders = b->ListFolders(b->Root());
  ASSERT_EQ(folders.size(), 2u);
  EXPECT_EQ(folders[0].name, "INBOX");
  EXPECT_EQ(folders[1].name, "Archive");
  EXPECT_EQ(folders[1].special_use, "\\Archive");
  auto msgs = b->ListMessages(FolderId{"INBOX"});
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].key.value, "imap:77/1");
  EXPECT_EQ(msgs[0].size, kMsg1.size());
  EXPECT_EQ(msgs[0].internal_date, 1044068706);  // 01-Feb-2003 04:05:06 +0100
  EXPECT_EQ(msgs[0].flags, (Flags{"\\Seen", "\\Flagged", "$Work"}));
  EXPECT_EQ(msgs[0].headers, kMsg1.substr(0, kMsg1.find("\r\n\r\n") + 4));
  EXPECT_TRUE(msgs[1].flags.empty());
  EXPECT_EQ(server_.Count("UID FETCH"), 1);
}

TEST_F(ImapBackendTest, FetchesBodiesWhateverTheItemOrder) {
  server_.uid_last_ = true;
  auto b = OpenImapAccount(Options());
  auto msgs = b->ListMessages(FolderId{"INBOX"});
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[1].key.value, "imap:77/2");
  // Read-ahead follows the dates (the order names sort in): the second
  // message (no Date:, internal date 1 Feb 2003) comes before the first
  // (Date: 3 Feb 2003), so fetching it brings the first in the same FETCH.
  BlobPtr two = b->Fetch(FolderId{"INBOX"}, msgs[1].key);
  EXPECT_EQ(ReadAll(*two), kMsg2);
  int fetches = server_.Count("UID FETCH");
  BlobPtr one = b->Fetch(FolderId{"INBOX"}, msgs[0].key);
  EXPECT_EQ(ReadAll(*one), kMsg1);
  EXPECT_EQ(server_.Count("UID FETCH"), fetches);
}

TEST_F(ImapBackendTest, RemountListsFromTheCacheWithoutFetching) {
  {
    auto b = OpenImapAccount(Options());
    b->ListMessages(FolderId{"INBOX"});
  }
  int fetches = server_.Count("UID FETCH");
  {
    auto b = OpenImapAccount(Options());
    auto msgs = b->ListMessages(FolderId{"INBOX"});
    EXPECT_EQ(msgs.size(), 2u);
    EXPECT_EQ(msgs[0].headers, kMsg1.substr(0, kMsg1.find("\r\n\r\n") + 4));
  }
  EXPECT_EQ(server_.Count("UID FETCH"), fetches);
  // A new message: old ones are checked by a FLAGS-only FETCH, the new one listed.
  server_.Add("", kMsg1);
  auto b = OpenImapAccount(Options());
  auto msgs = b->ListMessages(FolderId{"INBOX"});
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[2].key.value, "imap:77/3");
  EXPECT_EQ(server_.Count("UID FETCH"), fetches + 2);
}

TEST_F(ImapBackendTest, FetchedBodiesAreServedFromTheCacheAfterARemount) {
  {
    auto b = OpenImapAccount(Options());
    auto msgs = b->ListMessages(FolderId{"INBOX"});
    ASSERT_EQ(msgs.size(), 2u);
    EXPECT_EQ(ReadAll(*b->Fetch(FolderId{"INBOX"}, msgs[0].key)), kMsg1);
    EXPECT_EQ(ReadAll(*b->Fetch(FolderId{"INBOX"}, msgs[1].key)), kMsg2);
  }
  int fetches = server_.Count("UID FETCH");
  auto b = OpenImapAccount(Options());
  auto msgs = b->ListMessages(FolderId{"INBOX"});
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(ReadAll(*b->Fetch(FolderId{"INBOX"}, msgs[1].key)), kMsg2);
  EXPECT_EQ(ReadAll(*b->Fetch(FolderId{"INBOX"}, msgs[0].key)), kMsg1);
  EXPECT_EQ(server_.Count("UID FETCH"), fetches);
  // A damaged pack is not believed: its messages are fetched again.
  for (const auto& e : std::filesystem::recursive_directory_iterator(cache_)) {
    if (e.path().filename().string().rfind("pack-", 0) == 0) std::filesystem::resize_file(e.path(), 10);
  }
  auto again = OpenImapAccount(Options());
  msgs = again->ListMessages(FolderId{"INBOX"});
  EXPECT_EQ(ReadAll(*again->Fetch(FolderId{"INBOX"}, msgs[0].key)), kMsg1);
  EXPECT_GT(server_.Count("UID FETCH"), fetches);
}

TEST_F(ImapBackendTest, FetchEachFetchesTheseMessagesOnly) {
  auto b = OpenImapAccount(Options());
  auto msgs = b->ListMessages(FolderId{"INBOX"});
  ASSERT_EQ(msgs.size(), 2u);
  int fetches = server_.Count("UID FETCH");
  std::vector<std::string> got;
  b->FetchEach(FolderId{"INBOX"}, {msgs[1].key}, [&](std::size_t i, const BlobPtr& blob, const Error* error) {
    EXPECT_EQ(i, 0u);
    ASSERT_EQ(error, nullptr);
    got.push_back(ReadAll(*blob));
  });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], kMsg2);
  EXPECT_EQ(server_.Count("UID FETCH"), fetches + 1);
  // Nothing was read ahead: the other message needs a FETCH of its own.
  EXPECT_EQ(ReadAll(*b->Fetch(FolderId{"INBOX"}, msgs[0].key)), kMsg1);
  EXPECT_EQ(server_.Count("UID FETCH"), fetches + 2);
  // A key that names nothing comes back with its error.
  int errors = 0;
  b->FetchEach(FolderId{"INBOX"}, {MessageKey{"imap:77/99"}, MessageKey{"bogus"}},
               [&](std::size_t, const BlobPtr& blob, const Error* error) {
                 EXPECT_EQ(blob, nullptr);
                 ASSERT_NE(error, nullptr);
                 EXPECT_EQ(error->code(), Errc::kNotFound);
                 ++errors;
               });
  EXPECT_EQ(errors, 2);
}

TEST_F(ImapBackendTest, RefusalsMapToCodes) {
  auto b = OpenImapAccount(Options());
  try {
    b->ListMessages(FolderId{"Gone"});
    ADD_FAILURE() << "listed a missing folder";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kNotFound);
  }
  auto o = Options();
  o.server.password = [] { return std::string("wrong"); };
  try {
    OpenImapAccount(o);
    ADD_FAILURE() << "logged in with a wrong password";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kAuth);
  }
}

TEST_F(ImapBackendTest, SilentServerTimesOutWithinTheDeadline) {
  auto b = OpenImapAccount(Options(1));
  auto msgs = b->ListMessages(FolderId{"INBOX"});
  server_.hang_body_fetches_ = 5;
  auto t0 = std::chrono::steady_clock::now();
  try {
    b->Fetch(FolderId{"INBOX"}, msgs[0].key);
    ADD_FAILURE() << "fetched from a silent server";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kTimeout) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));
}

TEST_F(ImapBackendTest, DroppedConnectionIsReopenedForReads) {
  auto b = OpenImapAccount(Options());
  auto msgs = b->ListMessages(FolderId{"INBOX"});
  server_.drop_body_fetches_ = 1;
  EXPECT_EQ(ReadAll(*b->Fetch(FolderId{"INBOX"}, msgs[0].key)), kMsg1);
  server_.drop_body_fetches_ = 10;
  std::filesystem::remove_all(cache_ + "/imap/bodies");
  try {
    b->Fetch(FolderId{"INBOX"}, msgs[1].key);
    ADD_FAILURE() << "fetched over dropped connections";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kIo) << e.what();
  }
}

TEST_F(ImapBackendTest, AppendReturnsTheNewKeyAndKeepsFlagsAndDate) {
  auto b = OpenImapAccount(Options());
  std::string msg = "Subject: new\r\nMessage-ID: <new@example.com>\r\n\r\nhello\r\n";
  auto key = b->Append(FolderId{"INBOX"}, StringBlob(msg), {"\\Seen", "$Label"}, 1044068706);
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->value, "imap:77/3");
  std::lock_guard<std::mutex> lock(server_.mu_);
  EXPECT_EQ(server_.inbox_.back().bytes, msg);
  EXPECT_EQ(server_.inbox_.back().flags, "\\Seen $Label");
  EXPECT_EQ(server_.inbox_.back().date, " 1-Feb-2003 03:05:06 +0000");  // date-day-fixed
}

TEST_F(ImapBackendTest, AppendCutOffAfterStoringIsFoundNotRepeated) {
  auto b = OpenImapAccount(Options());
  b->ListMessages(FolderId{"INBOX"});
  server_.drop_after_append_ = 1;
  std::string msg = "Subject: new\r\nMessage-ID: <cut@example.com>\r\n\r\nhello\r\n";
  auto key = b->Append(FolderId{"INBOX"}, StringBlob(msg), {}, 1044068706);
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->value, "imap:77/3");
  EXPECT_EQ(server_.Count("APPEND"), 1);
  EXPECT_EQ(server_.Count("UID SEARCH"), 1);
  std::lock_guard<std::mutex> lock(server_.mu_);
  EXPECT_EQ(server_.inbox_.size(), 3u);
}

TEST_F(ImapBackendTest, AppendCutOffBeforeStoringFailsWithoutRetry) {
  auto b = OpenImapAccount(Options());
  b->ListMessages(FolderId{"INBOX"});
  server_.drop_before_append_ = 1;
  std::string msg = "Subject: new\r\nMessage-ID: <lost@example.com>\r\n\r\nhello\r\n";
  try {
    b->Append(FolderId{"INBOX"}, StringBlob(msg), {}, 1044068706);
    ADD_FAILURE() << "an APPEND that was not stored succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kIo) << e.what();
  }
  EXPECT_EQ(server_.Count("APPEND"), 1);
  std::lock_guard<std::mutex> lock(server_.mu_);
  EXPECT_EQ(server_.inbox_.size(), 2u);
}

TEST_F(ImapBackendTest, AppendWithUnknownOutcomeIsNotStoredTwiceByARerun) {
  auto b = OpenImapAccount(Options(1));
  b->ListMessages(FolderId{"INBOX"});
  server_.drop_after_append_ = 1;
  server_.drop_searches_ = 100;  // the check cannot learn anything until the deadline
  std::string msg = "Subject: new\r\nMessage-ID: <unknown@example.com>\r\n\r\nhello\r\n";
  try {
    b->Append(FolderId{"INBOX"}, StringBlob(msg), {}, 1044068706);
    ADD_FAILURE() << "an APPEND with an unknown outcome succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kIo) << e.what();
  }
  server_.drop_searches_ = 0;
  // The re-run (rsync, cp again) finds the stored copy instead of adding one.
  auto key = b->Append(FolderId{"INBOX"}, StringBlob(msg), {}, 1044068706);
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->value, "imap:77/3");
  EXPECT_EQ(server_.Count("APPEND"), 1);
  // Another message is appended as usual.
  auto other = b->Append(FolderId{"INBOX"}, StringBlob("Subject: other\r\n\r\nx\r\n"), {}, 1044068706);
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->value, "imap:77/4");
  std::lock_guard<std::mutex> lock(server_.mu_);
  EXPECT_EQ(server_.inbox_.size(), 4u);
}

TEST_F(ImapBackendTest, ReadOnlyMountRefusesWrites) {
  auto o = Options();
  o.writable = false;
  auto b = OpenImapAccount(o);
  EXPECT_FALSE(b->GetCapabilities().writable);
  try {
    b->Append(FolderId{"INBOX"}, StringBlob("Subject: x\r\n\r\n"), {}, 0);
    ADD_FAILURE() << "appended on a read-only mount";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kReadOnly);
  }
  EXPECT_EQ(server_.Count("APPEND"), 0);
}

}  // namespace
}  // namespace mailfs::imap
