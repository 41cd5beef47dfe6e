#include "backends/imap/imap_backend.h"

#include <fcntl.h>
#include <libetpan/libetpan.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "backends/imap/listing_store.h"
#include "backends/imap/mutf7.h"
#include "backends/log.h"
#include "backends/mime/header_decode.h"
#include "backends/sha256.h"

namespace mailfs::imap {
namespace {

constexpr std::size_t kBatchMessages = 64;         // messages per read-ahead FETCH
constexpr std::uint64_t kBatchBytes = 16ull << 20;  // bytes per read-ahead FETCH
constexpr std::size_t kAheadWindow = 512;           // keep this many following messages fetched
constexpr std::size_t kForegroundMessages = 8;      // a reader's own FETCH: its message and a few after

std::string ToLowerAscii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string MessageKeyOf(std::uint32_t uidvalidity, std::uint32_t uid) {
  return "imap:" + std::to_string(uidvalidity) + "/" + std::to_string(uid);
}

// "imap:V/U" -> (V, U); throws kNotFound for anything else.
std::pair<std::uint32_t, std::uint32_t> ParseKey(const MessageKey& key) {
  const std::string& k = key.value;
  std::size_t slash = k.find('/');
  if (k.rfind("imap:", 0) != 0 || slash == std::string::npos) throw Error(Errc::kNotFound, "no message " + k);
  try {
    std::size_t used = 0;
    unsigned long v = std::stoul(k.substr(5, slash - 5), &used);
    if (used != slash - 5) throw std::invalid_argument(k);
    unsigned long u = std::stoul(k.substr(slash + 1), &used);
    if (used != k.size() - slash - 1 || v > 0xFFFFFFFFul || u > 0xFFFFFFFFul || u == 0) throw std::invalid_argument(k);
    return {static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(u)};
  } catch (const std::exception&) {
    throw Error(Errc::kNotFound, "no message " + k);
  }
}

std::int64_t ToEpoch(const mailimap_date_time* dt) {
  if (dt == nullptr) return 0;
  std::tm tm{};
  tm.tm_year = dt->dt_year - 1900;
  tm.tm_mon = dt->dt_month - 1;
  tm.tm_mday = dt->dt_day;
  tm.tm_hour = dt->dt_hour;
  tm.tm_min = dt->dt_min;
  tm.tm_sec = dt->dt_sec;
  std::int64_t t = ::timegm(&tm);
  int zone = dt->dt_zone;
  int sign = zone < 0 ? -1 : 1;
  zone = std::abs(zone);
  return t - sign * ((zone / 100) * 3600 + (zone % 100) * 60);
}

Flags FlagsOf(const mailimap_msg_att_dynamic* dyn) {
  Flags out;
  if (dyn == nullptr || dyn->att_list == nullptr) return out;
  for (clistiter* it = clist_begin(dyn->att_list); it != nullptr; it = clist_next(it)) {
    auto* ff = static_cast<mailimap_flag_fetch*>(clist_content(it));
    if (ff->fl_type != MAILIMAP_FLAG_FETCH_OTHER || ff->fl_flag == nullptr) continue;
    const mailimap_flag* f = ff->fl_flag;
    switch (f->fl_type) {
      case MAILIMAP_FLAG_ANSWERED: out.emplace_back("\\Answered"); break;
      case MAILIMAP_FLAG_FLAGGED: out.emplace_back("\\Flagged"); break;
      case MAILIMAP_FLAG_DELETED: out.emplace_back("\\Deleted"); break;
      case MAILIMAP_FLAG_SEEN: out.emplace_back("\\Seen"); break;
      case MAILIMAP_FLAG_DRAFT: out.emplace_back("\\Draft"); break;
      case MAILIMAP_FLAG_KEYWORD:
        if (f->fl_data.fl_keyword != nullptr) out.emplace_back(f->fl_data.fl_keyword);
        break;
      case MAILIMAP_FLAG_EXTENSION:
        if (f->fl_data.fl_extension != nullptr) out.emplace_back(std::string("\\") + f->fl_data.fl_extension);
        break;
      default: break;
    }
  }
  return out;
}

// What one FETCH response item says about a message.
struct FetchedItem {
  std::uint32_t uid = 0;
  bool has_flags = false;
  Flags flags;
  std::int64_t internal_date = 0;
  std::optional<std::uint64_t> size;
  std::optional<std::string> header_fields;
};

FetchedItem ReadMsgAtt(const mailimap_msg_att* att) {
  FetchedItem out;
  for (clistiter* it = clist_begin(att->att_list); it != nullptr; it = clist_next(it)) {
    auto* item = static_cast<mailimap_msg_att_item*>(clist_content(it));
    if (item->att_type == MAILIMAP_MSG_ATT_ITEM_DYNAMIC) {
      out.has_flags = true;
      out.flags = FlagsOf(item->att_data.att_dyn);
      continue;
    }
    if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC) continue;
    const mailimap_msg_att_static* st = item->att_data.att_static;
    switch (st->att_type) {
      case MAILIMAP_MSG_ATT_UID: out.uid = st->att_data.att_uid; break;
      case MAILIMAP_MSG_ATT_INTERNALDATE: out.internal_date = ToEpoch(st->att_data.att_internal_date); break;
      case MAILIMAP_MSG_ATT_RFC822_SIZE: out.size = st->att_data.att_rfc822_size; break;
      case MAILIMAP_MSG_ATT_BODY_SECTION: {
        const mailimap_msg_att_body_section* b = st->att_data.att_body_section;
        if (b != nullptr && b->sec_body_part != nullptr) {
          out.header_fields = std::string(b->sec_body_part, b->sec_length);
        } else {
          out.header_fields = std::string();
        }
        break;
      }
      default: break;
    }
  }
  return out;
}

// RAII owners of libetpan structures.
struct SetDeleter {
  void operator()(mailimap_set* s) const { mailimap_set_free(s); }
};
using SetPtr = std::unique_ptr<mailimap_set, SetDeleter>;
struct FetchTypeDeleter {
  void operator()(mailimap_fetch_type* t) const { mailimap_fetch_type_free(t); }
};
using FetchTypePtr = std::unique_ptr<mailimap_fetch_type, FetchTypeDeleter>;

SetPtr UidSet(const std::vector<std::uint32_t>& uids) {
  SetPtr set(mailimap_set_new_empty());
  std::vector<std::uint32_t> sorted = uids;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    mailimap_set_add_interval(set.get(), sorted[i], sorted[j]);
    i = j + 1;
  }
  return set;
}

// Runs a UID FETCH whose responses are handed to |on_item| one by one as they
// arrive (libetpan keeps none of them), so a 100,000-message listing never
// sits whole in libetpan's memory.
struct FetchRun {
  std::function<void(const mailimap_msg_att*)> on_item;
  std::exception_ptr error;
};

void OnMsgAtt(mailimap_msg_att* att, void* context) {
  auto* run = static_cast<FetchRun*>(context);
  if (run->error) return;
  try {
    run->on_item(att);
  } catch (...) {
    run->error = std::current_exception();
  }
}

void NoProgress(size_t, size_t, void*) {}

void RunUidFetch(Session& s, mailimap_set* set, mailimap_fetch_type* type, FetchRun& run, const std::string& what) {
  // libetpan calls the item handler only when a progress callback is set.
  mailimap_set_progress_callback(s.raw(), nullptr, NoProgress, nullptr);
  mailimap_set_msg_att_handler(s.raw(), OnMsgAtt, &run);
  clist* result = nullptr;
  int rc = mailimap_uid_fetch(s.raw(), set, type, &result);
  mailimap_set_msg_att_handler(s.raw(), nullptr, nullptr);
  mailimap_set_progress_callback(s.raw(), nullptr, nullptr, nullptr);
  if (result != nullptr) {
    // Items the handler did not take (none expected).
    for (clistiter* it = clist_begin(result); it != nullptr; it = clist_next(it)) {
      OnMsgAtt(static_cast<mailimap_msg_att*>(clist_content(it)), &run);
    }
    mailimap_fetch_list_free(result);
  }
  // A UID FETCH that matched nothing answers OK with no items; NO is an error.
  s.Check(rc, what);
  if (run.error) std::rethrow_exception(run.error);
}

// Body streaming for BODY.PEEK[]: libetpan hands each literal's bytes to
// OnBodyBytes as they arrive; they are appended to the FETCH command's pack
// file, one file for the whole batch: creating a file costs more than
// writing a small message to one.
//
// Pack file: the bodies back to back, then an index of text lines
// "<uid> <offset> <length>\n", then a 24-byte footer: "mfspack1" and the
// index's offset as 16 hex digits. Written under tmp/, renamed into the
// mailbox's cache folder as pack-<first uid>-<random> when the FETCH ends
// (complete or not: what arrived is kept); messages are served from the
// open file before that.
constexpr char kPackMagic[] = "mfspack1";
constexpr std::size_t kPackFooter = 24;

struct BodySink {
  int fd = -1;
  std::uint64_t size = 0;   // bytes written so far
  std::uint64_t start = 0;  // where the message being received began
  bool write_failed = false;
  int write_errno = 0;
};

bool OnBodyBytes(int, mailimap_msg_att_body_section*, const char* bytes, size_t length, void* context) {
  auto* sink = static_cast<BodySink*>(context);
  if (sink->write_failed) return false;
  while (length > 0) {
    ssize_t n = ::write(sink->fd, bytes, length);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      sink->write_failed = true;
      sink->write_errno = errno;
      return false;
    }
    bytes += n;
    length -= static_cast<std::size_t>(n);
    sink->size += static_cast<std::uint64_t>(n);
  }
  return true;
}

bool WriteAllFd(int fd, const std::string& data) {
  for (std::size_t done = 0; done < data.size();) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

struct PackEntry {
  std::uint32_t uid;
  std::uint64_t offset;
  std::uint64_t length;
};

// The index of the pack file |path|; empty if it is not a complete pack.
std::vector<PackEntry> ReadPackIndex(const std::string& path) {
  std::vector<PackEntry> out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  struct stat st;
  char footer[kPackFooter];
  std::string index;
  bool ok = ::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) >= kPackFooter &&
            ::pread(fd, footer, kPackFooter, st.st_size - static_cast<off_t>(kPackFooter)) ==
                static_cast<ssize_t>(kPackFooter) &&
            std::memcmp(footer, kPackMagic, 8) == 0;
  std::uint64_t index_at = 0;
  std::uint64_t index_end = ok ? static_cast<std::uint64_t>(st.st_size) - kPackFooter : 0;
  if (ok) {
    auto [ptr, ec] = std::from_chars(footer + 8, footer + kPackFooter, index_at, 16);
    ok = ec == std::errc() && ptr == footer + kPackFooter && index_at <= index_end;
  }
  if (ok) {
    index.resize(index_end - index_at);
    ok = ::pread(fd, index.data(), index.size(), static_cast<off_t>(index_at)) == static_cast<ssize_t>(index.size());
  }
  ::close(fd);
  if (!ok) return out;
  std::size_t pos = 0;
  while (pos < index.size()) {
    std::size_t nl = index.find('\n', pos);
    if (nl == std::string::npos) return {};
    PackEntry e{};
    const char* p = index.data() + pos;
    const char* end = index.data() + nl;
    auto r1 = std::from_chars(p, end, e.uid);
    if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != ' ') return {};
    auto r2 = std::from_chars(r1.ptr + 1, end, e.offset);
    if (r2.ec != std::errc() || r2.ptr == end || *r2.ptr != ' ') return {};
    auto r3 = std::from_chars(r2.ptr + 1, end, e.length);
    if (r3.ec != std::errc() || r3.ptr != end) return {};
    if (e.uid == 0 || e.offset > index_at || e.length > index_at - e.offset) return {};
    out.push_back(e);
    pos = nl + 1;
  }
  return out;
}

bool IsSpecialUse(const std::string& flag) {
  static const std::set<std::string> kSpecial = {"all", "archive", "drafts", "flagged", "junk", "sent", "trash",
                                                 "important"};
  return kSpecial.count(ToLowerAscii(flag)) != 0;
}

struct MailboxEntry {
  std::string raw;   // server name
  bool selectable = true;
  std::string special_use;
};

class ImapBackend final : public Backend {
 public:
  explicit ImapBackend(ImapOptions options);
  ~ImapBackend() override;

  std::string Describe() const override { return options_.description; }
  Capabilities GetCapabilities() const override;
  FolderId Root() const override { return FolderId{""}; }
  std::vector<FolderInfo> ListFolders(const FolderId& folder) override;
  std::vector<MessageInfo> ListMessages(const FolderId& folder) override;
  BlobPtr Fetch(const FolderId& folder, const MessageKey& key) override;
  void FetchEach(const FolderId& folder, const std::vector<MessageKey>& keys, const FetchEachFn& each) override;
  std::optional<MessageKey> Append(const FolderId& folder, const Blob& content, const Flags& flags,
                                   std::int64_t internal_date) override;
  void Delete(const FolderId& folder, const MessageKey& key) override;
  std::optional<MessageKey> Move(const FolderId& from, const MessageKey& key, const FolderId& to) override;
  void SetFlags(const FolderId& folder, const MessageKey& key, const Flags& flags) override;
  MessageKey SetInternalDate(const FolderId& folder, const MessageKey& key, std::int64_t internal_date) override;
  FolderId CreateFolder(const FolderId& parent, const std::string& name) override;
  FolderId RenameFolder(const FolderId& folder, const FolderId& new_parent, const std::string& new_name) override;
  void DeleteFolder(const FolderId& folder) override;

  // Opens the first session now, so that a bad login fails the mount.
  void Start();

 private:
  using SessionPtr = std::unique_ptr<Session>;

  SessionPtr Acquire(const std::string& mailbox);
  void Release(SessionPtr session);
  // Runs |fn| on a pooled session; a connection that dies under an
  // idempotent operation is replaced and |fn| run once more.
  template <typename Fn>
  auto WithSession(const std::string& mailbox, bool idempotent, const std::string& what, Fn&& fn);

  void RefreshMailboxes(bool force);
  std::string DisplayName(const std::string& raw) const;  // last component, UTF-8
  std::string ParentOf(const std::string& raw) const;

  // Listing helpers (session has |mailbox| selected).
  void FetchListing(Session& s, std::uint32_t from_uid, std::vector<CachedMessage>& out);
  std::map<std::uint32_t, Flags> FetchFlags(Session& s, std::uint32_t last_uid);

  // Fetch(); |read_ahead| false fetches |key| alone and reads nothing ahead.
  BlobPtr FetchOne(const std::string& mailbox, std::uint32_t uidvalidity, std::uint32_t uid, bool read_ahead,
                   const MessageKey& key);

  // Content cache: pack files (one per FETCH of bodies) and, for messages
  // this mount stored or moved, one file per message named by its UID.
  struct Pack {
    std::string path;          // set once
    std::shared_ptr<int> fd;  // while it is being written, then null (opened by name); state_mu_
  };
  struct PackedBody {
    std::shared_ptr<Pack> pack;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
  };
  // Reads the indexes of the mailbox's pack files once. state_mu_ held.
  void ScanPacks(const std::string& mailbox, std::uint32_t uidvalidity);
  // The message from a pack file; null if none holds it.
  BlobPtr OpenPacked(const std::string& mailbox, std::uint32_t uidvalidity, std::uint32_t uid);
  // First 24 hex of SHA-256 of the mailbox name: its files' names in the cache.
  std::string MailboxHash(const std::string& mailbox) const;
  std::string BodyDir(const std::string& mailbox, std::uint32_t uidvalidity) const;
  std::string BodyPath(const std::string& mailbox, std::uint32_t uidvalidity, std::uint32_t uid) const;
  BlobPtr OpenCached(const std::string& path, std::int64_t* mtime = nullptr) const;
  // Fetches |uids| of |mailbox| into the cache in one command.
  void FetchBodies(const std::string& mailbox, std::uint32_t uidvalidity, const std::vector<std::uint32_t>& uids);
  // Up to a batch of uncached, not in-flight messages at or after |uid| in
  // listing order, marked in flight. state_mu_ held.
  std::vector<std::uint32_t> PickBatch(const std::string& mailbox, std::uint32_t uidvalidity, std::uint32_t uid,
                                       bool include_self, std::size_t max_messages = kBatchMessages);
  void FinishBatch(const std::string& mailbox, const std::vector<std::uint32_t>& uids);
  void ScheduleReadAhead(const std::string& mailbox, std::uint32_t uidvalidity, std::uint32_t uid);
  void ReadAheadLoop();
  void AccountCache(std::uint64_t bytes);
  void PruneCache();

  // Writing.
  void RequireWritable() const;
  // Selects |mailbox| and checks that |uidvalidity| is still current.
  void SelectSame(Session& s, const std::string& mailbox, std::uint32_t uidvalidity);
  // APPEND with the §7 outcome check; returns the new UID (0 if unknown).
  std::uint32_t AppendChecked(const std::string& mailbox, const std::string& content, const Flags& flags,
                              std::int64_t internal_date, std::uint32_t* uidvalidity);
  // Looks for a message APPENDed before a connection was lost.
  std::uint32_t FindAppended(Session& s, const std::string& mailbox, std::uint32_t from_uid,
                             const std::string& message_id, std::uint64_t size, std::int64_t internal_date);
  // UID STORE +FLAGS.SILENT (\Deleted) and UID EXPUNGE of one message.
  void ExpungeUid(Session& s, std::uint32_t uid);
  std::string JoinName(const std::string& parent, const std::string& name);
  void ForgetSelections();
  void CacheBody(const std::string& mailbox, std::uint32_t uidvalidity, std::uint32_t uid, const std::string& bytes);
  // Removes a message's body from the cache (its UID is gone).
  void DropCached(const std::string& mailbox, std::uint32_t uidvalidity, std::uint32_t uid);

  ImapOptions options_;
  std::string listing_dir_, body_root_, tmp_dir_;
  mutable std::mutex hash_mu_;  // leaf
  mutable std::unordered_map<std::string, std::string> mailbox_hash_;

  std::mutex folders_mu_;
  std::vector<MailboxEntry> mailboxes_;
  char delimiter_ = 0;
  bool have_mailboxes_ = false;
  std::chrono::steady_clock::time_point listed_at_;

  struct FolderState {
    std::uint32_t uidvalidity = 0;
    std::vector<std::uint32_t> order;                       // listing order
    std::unordered_map<std::uint32_t, std::size_t> index;  // uid -> position in order
    std::unordered_map<std::uint32_t, std::uint64_t> sizes;
    std::unordered_set<std::uint32_t> inflight;
    std::unordered_set<std::uint32_t> cached;  // in the cache (saves a stat per look)
    bool scanned = false;  // |cached| was filled from the cache folder: what it lacks is not cached
  };
  std::mutex state_mu_;
  std::condition_variable inflight_cv_;
  std::map<std::string, FolderState> state_;
  // Whether |uid|'s body is in the cache (remembered once seen). state_mu_ held.
  bool IsCached(FolderState& fs, const std::string& mailbox, std::uint32_t uidvalidity, std::uint32_t uid) const;
  std::uint64_t cache_bytes_ = 0;
  bool pruning_ = false;
  // Packed bodies by (mailbox, UIDVALIDITY) and UID; guarded by state_mu_.
  std::map<std::pair<std::string, std::uint32_t>, std::unordered_map<std::uint32_t, PackedBody>> packed_;
  std::set<std::pair<std::string, std::uint32_t>> packs_scanned_;

  struct AheadRequest {
    std::string mailbox;
    std::uint32_t uidvalidity;
    std::uint32_t uid;
  };
  std::deque<AheadRequest> ahead_queue_;  // guarded by state_mu_
  std::condition_variable ahead_cv_;
  bool stopping_ = false;
  std::vector<std::thread> ahead_threads_;

  bool uidplus_ = false;
  bool move_ = false;

  // APPENDs whose outcome could not be checked (the server was unreachable
  // after the connection broke): a later APPEND of the same message to the
  // same mailbox first looks for it, so that a re-run (rsync) never stores
  // it twice. Guarded by unknown_mu_ (a leaf lock).
  struct UnknownAppend {
    std::string mailbox;
    std::string message_id;
    std::uint64_t size = 0;
    std::int64_t internal_date = 0;
    std::uint32_t from_uid = 0;
  };
  std::mutex unknown_mu_;
  std::vector<UnknownAppend> unknown_;

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<SessionPtr> idle_;
  unsigned open_ = 0;
};

ImapBackend::ImapBackend(ImapOptions options) : options_(std::move(options)) {
  if (options_.connections == 0) options_.connections = 1;
  std::string base = options_.cache_dir + "/imap";
  listing_dir_ = base + "/listings";
  body_root_ = base + "/bodies";
  tmp_dir_ = base + "/tmp";
  std::error_code ec;
  for (const std::string& d : {listing_dir_, body_root_, tmp_dir_}) {
    std::filesystem::create_directories(d, ec);
    if (ec) throw Error(Errc::kIo, "cannot create the cache folder " + d + ": " + ec.message());
  }
  // Leftovers of an interrupted run.
  for (const auto& e : std::filesystem::directory_iterator(tmp_dir_, ec)) std::filesystem::remove(e.path(), ec);
  for (const auto& e : std::filesystem::recursive_directory_iterator(body_root_, ec)) {
    if (e.is_regular_file(ec)) cache_bytes_ += e.file_size(ec);
  }
  // Read-ahead workers: all sessions but one stay free for the caller.
  unsigned workers = std::max(1u, std::min(3u, options_.connections > 1 ? options_.connections - 1 : 1u));
  for (unsigned i = 0; i < workers; ++i) ahead_threads_.emplace_back([this] { ReadAheadLoop(); });
}

ImapBackend::~ImapBackend() {
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    stopping_ = true;
  }
  ahead_cv_.notify_all();
  for (auto& t : ahead_threads_) t.join();
  std::lock_guard<std::mutex> lock(pool_mu_);
  idle_.clear();
}

void ImapBackend::Start() {
  SessionPtr s = Acquire("");
  uidplus_ = s->Has("UIDPLUS");
  move_ = s->Has("MOVE");
  Release(std::move(s));
  RefreshMailboxes(true);
  if (options_.writable && !uidplus_) {
    LOG(kWarning) << options_.description << ": the server lacks UIDPLUS: deleting, moving and changing the "
                  << "date of messages are refused";
  }
}

Capabilities ImapBackend::GetCapabilities() const {
  Capabilities c;
  c.writable = options_.writable;
  c.folders_writable = options_.writable;
  c.can_set_internal_date = options_.writable && uidplus_;
  c.folders_hold_messages_at_root = false;
  c.forbidden_name_char = delimiter_ != '/' ? delimiter_ : 0;
  c.case_insensitive_root_name = options_.inbox_name;  // INBOX in any case (design §3)
  return c;
}

ImapBackend::SessionPtr ImapBackend::Acquire(const std::string& mailbox) {
  std::unique_lock<std::mutex> lock(pool_mu_);
  for (;;) {
    if (!idle_.empty()) {
      auto it = std::find_if(idle_.begin(), idle_.end(),
                             [&](const SessionPtr& s) { return !mailbox.empty() && s->selected() == mailbox; });
      if (it == idle_.end()) it = idle_.end() - 1;
      SessionPtr s = std::move(*it);
      idle_.erase(it);
      return s;
    }
    if (open_ < options_.connections) {
      ++open_;
      lock.unlock();
      try {
        return std::make_unique<Session>(options_.server);
      } catch (...) {
        lock.lock();
        --open_;
        pool_cv_.notify_one();
        throw;
      }
    }
    pool_cv_.wait(lock);
  }
}

void ImapBackend::Release(SessionPtr session) {
  if (session == nullptr) return;
  if (session->broken()) {
    session.reset();
    std::lock_guard<std::mutex> lock(pool_mu_);
    --open_;
  } else {
    std::lock_guard<std::mutex> lock(pool_mu_);
    idle_.push_back(std::move(session));
  }
  pool_cv_.notify_one();
}

template <typename Fn>
auto ImapBackend::WithSession(const std::string& mailbox, bool idempotent, const std::string& what, Fn&& fn) {
  for (int attempt = 0;; ++attempt) {
    SessionPtr s = Acquire(mailbox);
    bool broken = false;
    try {
      if constexpr (std::is_void_v<decltype(fn(*s))>) {
        fn(*s);
        Release(std::move(s));
        return;
      } else {
        auto result = fn(*s);
        Release(std::move(s));
        return result;
      }
    } catch (const Error& e) {
      broken = s != nullptr && s->broken();
      Release(std::move(s));
      if (!(broken && idempotent && attempt == 0 && e.code() == Errc::kIo)) throw;
      LOG(kWarning) << options_.description << ": " << what << ": " << e.what() << "; reconnecting";
    }
  }
}

// ---- Folders ----------------------------------------------------------------

void ImapBackend::RefreshMailboxes(bool force) {
  {
    std::lock_guard<std::mutex> lock(folders_mu_);
    auto age = std::chrono::steady_clock::now() - listed_at_;
    if (have_mailboxes_ && !force && age < std::chrono::seconds(options_.dir_cache_ttl)) return;
  }
  struct Listed {
    std::vector<MailboxEntry> entries;
    char delimiter = 0;
  };
  Listed listed = WithSession("", true, "LIST", [&](Session& s) {
    Listed out;
    clist* result = nullptr;
    s.Check(mailimap_list(s.raw(), "", "*", &result), "LIST");
    for (clistiter* it = result != nullptr ? clist_begin(result) : nullptr; it != nullptr; it = clist_next(it)) {
      auto* mb = static_cast<mailimap_mailbox_list*>(clist_content(it));
      if (mb->mb_name == nullptr) continue;
      MailboxEntry e;
      e.raw = mb->mb_name;
      if (mb->mb_delimiter != 0) out.delimiter = mb->mb_delimiter;
      if (mb->mb_flag != nullptr) {
        if (mb->mb_flag->mbf_type == MAILIMAP_MBX_LIST_FLAGS_SFLAG &&
            mb->mb_flag->mbf_sflag == MAILIMAP_MBX_LIST_SFLAG_NOSELECT) {
          e.selectable = false;
        }
        for (clistiter* o = mb->mb_flag->mbf_oflags != nullptr ? clist_begin(mb->mb_flag->mbf_oflags) : nullptr;
             o != nullptr; o = clist_next(o)) {
          auto* of = static_cast<mailimap_mbx_list_oflag*>(clist_content(o));
          if (of->of_type != MAILIMAP_MBX_LIST_OFLAG_FLAG_EXT || of->of_flag_ext == nullptr) continue;
          std::string flag = of->of_flag_ext;
          std::string lower = ToLowerAscii(flag);
          if (lower == "noselect" || lower == "nonexistent") e.selectable = false;
          if (IsSpecialUse(flag) && e.special_use.empty()) e.special_use = "\\" + flag;
        }
      }
      if (ToLowerAscii(e.raw) == "inbox") e.raw = "INBOX";
      out.entries.push_back(std::move(e));
    }
    if (result != nullptr) mailimap_list_result_free(result);
    return out;
  });
  // Parents the server did not list (a hierarchy with holes) become
  // plain directories.
  std::set<std::string> known;
  for (const auto& e : listed.entries) known.insert(e.raw);
  std::vector<MailboxEntry> extra;
  if (listed.delimiter != 0) {
    for (const auto& e : listed.entries) {
      std::string p = e.raw;
      for (std::size_t pos; (pos = p.rfind(listed.delimiter)) != std::string::npos && pos > 0;) {
        p = p.substr(0, pos);
        if (!known.insert(p).second) break;
        extra.push_back(MailboxEntry{p, false, {}});
      }
    }
  }
  listed.entries.insert(listed.entries.end(), extra.begin(), extra.end());
  std::lock_guard<std::mutex> lock(folders_mu_);
  mailboxes_ = std::move(listed.entries);
  delimiter_ = listed.delimiter;
  have_mailboxes_ = true;
  listed_at_ = std::chrono::steady_clock::now();
}

std::string ImapBackend::ParentOf(const std::string& raw) const {
  if (delimiter_ == 0) return "";
  std::size_t pos = raw.rfind(delimiter_);
  if (pos == std::string::npos || pos == 0) return "";
  return raw.substr(0, pos);
}

std::string ImapBackend::DisplayName(const std::string& raw) const {
  if (raw == "INBOX") return options_.inbox_name;
  std::string last = raw;
  if (delimiter_ != 0) {
    std::size_t pos = raw.rfind(delimiter_);
    if (pos != std::string::npos && pos > 0) last = raw.substr(pos + 1);
  }
  return DecodeMailboxName(last);
}

std::vector<FolderInfo> ImapBackend::ListFolders(const FolderId& folder) {
  RefreshMailboxes(folder.value.empty());
  std::lock_guard<std::mutex> lock(folders_mu_);
  std::vector<FolderInfo> out;
  bool found = folder.value.empty();
  for (const MailboxEntry& e : mailboxes_) {
    if (e.raw == folder.value) found = true;
    if (ParentOf(e.raw) != folder.value || e.raw == folder.value) continue;
    FolderInfo fi;
    fi.id = FolderId{e.raw};
    fi.name = DisplayName(e.raw);
    fi.special_use = e.special_use;
    fi.selectable = e.selectable;
    out.push_back(std::move(fi));
  }
  if (!found) throw Error(Errc::kNotFound, "no mailbox " + folder.value);
  return out;
}

// ---- Listing ----------------------------------------------------------------

void ImapBackend::FetchListing(Session& s, std::uint32_t from_uid, std::vector<CachedMessage>& out) {
  FetchTypePtr type(mailimap_fetch_type_new_fetch_att_list_empty());
  mailimap_fetch_type_new_fetch_att_list_add(type.get(), mailimap_fetch_att_new_uid());
  mailimap_fetch_type_new_fetch_att_list_add(type.get(), mailimap_fetch_att_new_flags());
  mailimap_fetch_type_new_fetch_att_list_add(type.get(), mailimap_fetch_att_new_internaldate());
  mailimap_fetch_type_new_fetch_att_list_add(type.get(), mailimap_fetch_att_new_rfc822_size());
  clist* fields = clist_new();
  for (const char* f : {"DATE", "SUBJECT", "MESSAGE-ID", "FROM"}) clist_append(fields, strdup(f));
  mailimap_section* section = mailimap_section_new_header_fields(mailimap_header_list_new(fields));
  mailimap_fetch_type_new_fetch_att_list_add(type.get(), mailimap_fetch_att_new_body_peek_section(section));
  SetPtr set(mailimap_set_new_interval(from_uid, 0));
  std::size_t first = out.size();
  FetchRun run;
  run.on_item = [&](const mailimap_msg_att* att) {
    FetchedItem item = ReadMsgAtt(att);
    if (item.uid < from_uid || item.uid == 0) return;  // "N:*" also answers the last message
    CachedMessage m;
    m.uid = item.uid;
    m.internal_date = item.internal_date;
    m.size = item.size.value_or(0);
    m.flags = std::move(item.flags);
    m.headers = item.header_fields.value_or(std::string());
    out.push_back(std::move(m));
  };
  RunUidFetch(s, set.get(), type.get(), run, "FETCH (listing)");
  std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
            [](const CachedMessage& a, const CachedMessage& b) { return a.uid < b.uid; });
  out.erase(std::unique(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                        [](const CachedMessage& a, const CachedMessage& b) { return a.uid == b.uid; }),
            out.end());
}

std::map<std::uint32_t, Flags> ImapBackend::FetchFlags(Session& s, std::uint32_t last_uid) {
  std::map<std::uint32_t, Flags> out;
  if (last_uid == 0) return out;
  FetchTypePtr type(mailimap_fetch_type_new_fetch_att_list_empty());
  mailimap_fetch_type_new_fetch_att_list_add(type.get(), mailimap_fetch_att_new_uid());
  mailimap_fetch_type_new_fetch_att_list_add(type.get(), mailimap_fetch_att_new_flags());
  SetPtr set(mailimap_set_new_interval(1, last_uid));
  FetchRun run;
  run.on_item = [&](const mailimap_msg_att* att) {
    FetchedItem item = ReadMsgAtt(att);
    if (item.uid != 0 && item.uid <= last_uid) out[item.uid] = std::move(item.flags);
  };
  RunUidFetch(s, set.get(), type.get(), run, "FETCH (flags)");
  return out;
}

std::vector<MessageInfo> ImapBackend::ListMessages(const FolderId& folder) {
  const std::string& mailbox = folder.value;
  if (mailbox.empty()) return {};
  std::string path = listing_dir_ + "/" + MailboxHash(mailbox);
  bool unchanged = false;
  CachedListing listing = WithSession(mailbox, true, "listing " + Redacted(mailbox), [&](Session& s) {
    MailboxStatus st = s.Select(mailbox, true);
    std::optional<CachedListing> cached = LoadListing(path);
    CachedListing out;
    unchanged = false;
    out.uidvalidity = st.uidvalidity;
    out.highestmodseq = st.highestmodseq;
    if (cached && cached->uidvalidity == st.uidvalidity && st.uidvalidity != 0) {
      unchanged = st.highestmodseq != 0 && st.highestmodseq == cached->highestmodseq &&
                  st.uidnext == cached->uidnext && cached->messages.size() == st.exists;
      if (unchanged) {
        out.messages = std::move(cached->messages);
      } else {
        // Old messages: which are left, and their flags (one small FETCH);
        // new ones: the full listing FETCH from the old UIDNEXT on.
        std::uint32_t old_next = cached->uidnext;
        if (old_next == 0 && !cached->messages.empty()) old_next = cached->messages.back().uid + 1;
        std::map<std::uint32_t, Flags> flags = FetchFlags(s, old_next > 0 ? old_next - 1 : 0);
        for (CachedMessage& m : cached->messages) {
          auto it = flags.find(m.uid);
          if (it == flags.end()) continue;
          m.flags = std::move(it->second);
          out.messages.push_back(std::move(m));
        }
        if (st.uidnext == 0 || st.uidnext > old_next) FetchListing(s, std::max<std::uint32_t>(old_next, 1), out.messages);
      }
    } else {
      FetchListing(s, 1, out.messages);
    }
    std::uint32_t next = st.uidnext;
    if (!out.messages.empty()) next = std::max(next, out.messages.back().uid + 1);
    out.uidnext = next;
    return out;
  });
  if (!unchanged) SaveListing(path, listing);  // else the file says it all already
  std::vector<MessageInfo> infos;
  infos.reserve(listing.messages.size());
  FolderState fresh;
  fresh.uidvalidity = listing.uidvalidity;
  fresh.order.reserve(listing.messages.size());
  // Read-ahead order: the messages' dates, as their names start with them,
  // so that a folder read in name order (ls, cp -a, rsync) finds the next
  // messages already fetched.
  {
    std::vector<std::pair<std::int64_t, std::uint32_t>> by_date;
    by_date.reserve(listing.messages.size());
    for (const CachedMessage& m : listing.messages) {
      std::int64_t when = m.internal_date;
      std::string_view block = mime::HeaderBlock(m.headers);
      if (std::optional<std::string> value = mime::FirstHeader(block, "Date")) {
        if (std::optional<mime::DateTime> date = mime::ParseDate(*value)) when = date->utc_seconds;
      }
      by_date.emplace_back(when, m.uid);
    }
    std::sort(by_date.begin(), by_date.end());
    for (const auto& [when, uid] : by_date) {
      fresh.index[uid] = fresh.order.size();
      fresh.order.push_back(uid);
    }
  }
  for (CachedMessage& m : listing.messages) {
    fresh.sizes[m.uid] = m.size;
    MessageInfo info;
    info.key = MessageKey{MessageKeyOf(listing.uidvalidity, m.uid)};
    info.internal_date = m.internal_date;
    info.flags = std::move(m.flags);
    info.headers = std::move(m.headers);
    info.size = m.size;
    infos.push_back(std::move(info));
  }
  bool scan;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    auto fit = state_.find(mailbox);
    scan = fit == state_.end() || fit->second.uidvalidity != fresh.uidvalidity || !fit->second.scanned;
  }
  // What the cache holds, from one read of its folder (not a stat per
  // message later).
  std::unordered_set<std::uint32_t> on_disk;
  if (scan) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(BodyDir(mailbox, fresh.uidvalidity), ec)) {
      const std::string name = e.path().filename().string();
      std::uint32_t uid = 0;
      auto [ptr, err] = std::from_chars(name.data(), name.data() + name.size(), uid);
      if (err == std::errc() && ptr == name.data() + name.size() && uid != 0) on_disk.insert(uid);
    }
  }
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    if (scan) {
      ScanPacks(mailbox, fresh.uidvalidity);
      for (const auto& [uid, body] : packed_[{mailbox, fresh.uidvalidity}]) on_disk.insert(uid);
    }
    FolderState& fs = state_[mailbox];
    fresh.inflight = std::move(fs.inflight);
    if (fs.uidvalidity == fresh.uidvalidity) {
      fresh.cached = std::move(fs.cached);
      fresh.scanned = fs.scanned;
    }
    if (scan) {
      fresh.cached.insert(on_disk.begin(), on_disk.end());
      fresh.scanned = true;
    }
    fs = std::move(fresh);
  }
  return infos;
}

// ---- Content ----------------------------------------------------------------

std::string ImapBackend::MailboxHash(const std::string& mailbox) const {
  std::lock_guard<std::mutex> lock(hash_mu_);
  auto it = mailbox_hash_.find(mailbox);
  if (it == mailbox_hash_.end()) it = mailbox_hash_.emplace(mailbox, Sha256Hex(mailbox).substr(0, 24)).first;
  return it->second;
}

std::string ImapBackend::BodyDir(const std::string& mailbox, std::uint32_t uidvalidity) const {
  return body_root_ + "/" + MailboxHash(mailbox) + "-" + std::to_string(uidvalidity);
}

std::string ImapBackend::BodyPath(const std::string& mailbox, std::uint32_t uidvalidity, std::uint32_t uid) const {
  return BodyDir(mailbox, uidvalidity) + "/" + std::to_string(uid);
}

BlobPtr ImapBackend::OpenCached(const std::string& path, std::int64_t* mtime) const {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return nullptr;
  }
  if (mtime != nullptr) *mtime = st.st_mtim.tv_sec;
  std::shared_ptr<int> owner(new int(fd), [](int* p) {
    ::close(*p);
    delete p;
  });
  return std::make_shared<FileRangeBlob>(owner, fd, 0, static_cast<std::uint64_t>(st.st_size), path);
}

std::vector<std::uint32_t> ImapBackend::PickBatch(const std::string& mailbox, std::uint32_t uidvalidity,
                                                  std::uint32_t uid, bool include_self, std::size_t max_messages) {
  std::vector<std::uint32_t> batch;
  auto fit = state_.find(mailbox);
  if (fit == state_.end() || fit->second.uidvalidity != uidvalidity) {
    if (include_self) batch.push_back(uid);
    return batch;
  }
  FolderState& fs = fit->second;
  auto pos = fs.index.find(uid);
  if (pos == fs.index.end()) {
    if (include_self) batch.push_back(uid);
    return batch;
  }
  std::uint64_t bytes = 0;
  std::size_t i = pos->second + (include_self ? 0 : 1);
  std::size_t looked = 0;
  for (; i < fs.order.size() && batch.size() < max_messages && bytes < kBatchBytes && looked < 4 * kBatchMessages;
       ++i, ++looked) {
    std::uint32_t u = fs.order[i];
    if (fs.inflight.count(u) != 0) continue;
    if ((u != uid || !include_self) && IsCached(fs, mailbox, uidvalidity, u)) continue;
    batch.push_back(u);
    bytes += fs.sizes[u];
  }
  for (std::uint32_t u : batch) fs.inflight.insert(u);
  return batch;
}

bool ImapBackend::IsCached(FolderState& fs, const std::string& mailbox, std::uint32_t uidvalidity,
                           std::uint32_t uid) const {
  if (fs.cached.count(uid) != 0) return true;
  // A file pruned since is fetched again when read; this only steers
  // read-ahead.
  if (fs.scanned && fs.uidvalidity == uidvalidity) return false;
  auto pit = packed_.find({mailbox, uidvalidity});
  if (pit != packed_.end() && pit->second.count(uid) != 0) {
    fs.cached.insert(uid);
    return true;
  }
  struct stat st;
  if (::stat(BodyPath(mailbox, uidvalidity, uid).c_str(), &st) != 0) return false;
  fs.cached.insert(uid);
  return true;
}

void ImapBackend::FinishBatch(const std::string& mailbox, const std::vector<std::uint32_t>& uids) {
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    auto fit = state_.find(mailbox);
    if (fit != state_.end()) {
      for (std::uint32_t u : uids) fit->second.inflight.erase(u);
    }
  }
  inflight_cv_.notify_all();
}

void ImapBackend::FetchBodies(const std::string& mailbox, std::uint32_t uidvalidity,
                              const std::vector<std::uint32_t>& uids) {
  std::string dir = BodyDir(mailbox, uidvalidity);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(Errc::kIo, "cannot create the cache folder " + dir + ": " + ec.message());
  std::uint64_t added = WithSession(mailbox, true, "FETCH " + Redacted(mailbox), [&](Session& s) {
    const MailboxStatus& st = s.Select(mailbox, false);
    if (st.uidvalidity != uidvalidity) {
      throw Error(Errc::kNotFound, "mailbox " + Redacted(mailbox) + " was replaced on the server (UIDVALIDITY " +
                                       std::to_string(uidvalidity) + " -> " + std::to_string(st.uidvalidity) + ")");
    }
    FetchTypePtr type(mailimap_fetch_type_new_fetch_att_list_empty());
    mailimap_fetch_type_new_fetch_att_list_add(type.get(), mailimap_fetch_att_new_uid());
    mailimap_fetch_type_new_fetch_att_list_add(type.get(),
                                               mailimap_fetch_att_new_body_peek_section(mailimap_section_new(nullptr)));
    SetPtr set = UidSet(uids);

    std::string tmp = tmp_dir_ + "/pack.XXXXXX";
    std::vector<char> name(tmp.begin(), tmp.end());
    name.push_back('\0');
    int fd = ::mkstemp(name.data());
    if (fd < 0) {
      int err = errno;
      throw Error(err == ENOSPC ? Errc::kNoSpace : Errc::kIo,
                  "cannot create a cache file in " + tmp_dir_ + ": " + std::strerror(err));
    }
    tmp = name.data();
    auto pack = std::make_shared<Pack>();
    pack->fd = std::shared_ptr<int>(new int(fd), [](int* p) {
      ::close(*p);
      delete p;
    });
    pack->path = dir + "/pack-" + std::to_string(uids.empty() ? 0 : uids.front()) + "-" +
                 tmp.substr(tmp.size() - 6);
    BodySink sink;
    sink.fd = fd;
    std::vector<PackEntry> entries;
    FetchRun run;
    run.on_item = [&](const mailimap_msg_att* att) {
      FetchedItem item = ReadMsgAtt(att);
      if (sink.write_failed) {
        int err = sink.write_errno;
        throw Error(err == ENOSPC ? Errc::kNoSpace : Errc::kIo,
                    "cannot write the cache file " + tmp + ": " + std::strerror(err));
      }
      std::uint64_t start = sink.start;
      sink.start = sink.size;
      // Only an item with the body (not, say, a flag change the server
      // reports meanwhile) is a message's bytes.
      if (item.uid == 0 || !item.header_fields) return;
      entries.push_back(PackEntry{item.uid, start, sink.size - start});
      // Readers waiting for this message go on now, not at the end of the
      // batch: a copy reads each message as soon as it is in.
      {
        std::lock_guard<std::mutex> lock(state_mu_);
        packed_[{mailbox, uidvalidity}][item.uid] = PackedBody{pack, start, sink.size - start};
        auto fit = state_.find(mailbox);
        if (fit != state_.end()) {
          fit->second.inflight.erase(item.uid);
          if (fit->second.uidvalidity == uidvalidity) fit->second.cached.insert(item.uid);
        }
      }
      inflight_cv_.notify_all();
    };
    // Keeps what arrived (also when the command failed half way): the index,
    // the footer, then the file under its name in the cache folder.
    auto finish = [&]() {
      bool ok = !entries.empty() && !sink.write_failed;
      if (ok) {
        std::string index;
        for (const PackEntry& e : entries) {
          index += std::to_string(e.uid) + " " + std::to_string(e.offset) + " " + std::to_string(e.length) + "\n";
        }
        char footer[kPackFooter + 1];
        std::snprintf(footer, sizeof footer, "%s%016llx", kPackMagic, static_cast<unsigned long long>(sink.size));
        index.append(footer, kPackFooter);
        ok = WriteAllFd(fd, index) && ::rename(tmp.c_str(), pack->path.c_str()) == 0;
      }
      if (!ok) ::unlink(tmp.c_str());
      std::lock_guard<std::mutex> lock(state_mu_);
      if (!ok) {
        // Its messages are fetched again when read (the blobs already
        // handed out keep the file open).
        auto& index = packed_[{mailbox, uidvalidity}];
        for (const PackEntry& e : entries) {
          auto it = index.find(e.uid);
          if (it != index.end() && it->second.pack == pack) index.erase(it);
        }
      }
      pack->fd.reset();  // opened by name from now on
    };
    mailimap_set_msg_body_handler(s.raw(), OnBodyBytes, &sink);
    try {
      RunUidFetch(s, set.get(), type.get(), run, "FETCH");
    } catch (...) {
      mailimap_set_msg_body_handler(s.raw(), nullptr, nullptr);
      finish();
      throw;
    }
    mailimap_set_msg_body_handler(s.raw(), nullptr, nullptr);
    finish();
    return sink.size;
  });
  AccountCache(added);
}

void ImapBackend::ScanPacks(const std::string& mailbox, std::uint32_t uidvalidity) {
  auto key = std::make_pair(mailbox, uidvalidity);
  if (packs_scanned_.count(key) != 0) return;
  packs_scanned_.insert(key);
  auto& index = packed_[key];
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(BodyDir(mailbox, uidvalidity), ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind("pack-", 0) != 0) continue;
    auto pack = std::make_shared<Pack>();
    pack->path = e.path().string();
    for (const PackEntry& pe : ReadPackIndex(pack->path)) {
      index.emplace(pe.uid, PackedBody{pack, pe.offset, pe.length});  // a fetch in progress wins
    }
  }
}

BlobPtr ImapBackend::OpenPacked(const std::string& mailbox, std::uint32_t uidvalidity, std::uint32_t uid) {
  PackedBody body;
  std::shared_ptr<int> owner;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    ScanPacks(mailbox, uidvalidity);
    auto pit = packed_.find({mailbox, uidvalidity});
    if (pit == packed_.end()) return nullptr;
    auto it = pit->second.find(uid);
    if (it == pit->second.end()) return nullptr;
    body = it->second;
    owner = body.pack->fd;  // reset under state_mu_ when the pack is complete
  }
  if (!owner) {
    int fd = ::open(body.pack->path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      // Pruned: fetched again.
      std::lock_guard<std::mutex> lock(state_mu_);
      auto pit = packed_.find({mailbox, uidvalidity});
      if (pit != packed_.end()) pit->second.erase(uid);
      return nullptr;
    }
    owner = std::shared_ptr<int>(new int(fd), [](int* p) {
      ::close(*p);
      delete p;
    });
    struct stat st;
    // Recently used (the cache is pruned oldest first); touched at most
    // hourly, which saves a metadata write per read.
    if (::fstat(fd, &st) == 0 && st.st_mtim.tv_sec < static_cast<std::int64_t>(::time(nullptr)) - 3600) {
      ::futimens(fd, nullptr);
    }
  }
  int fd = *owner;
  return std::make_shared<FileRangeBlob>(owner, fd, body.offset, body.length, body.pack->path);
}

void ImapBackend::AccountCache(std::uint64_t bytes) {
  bool prune = false;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    cache_bytes_ += bytes;
    if (cache_bytes_ > options_.cache_size && !pruning_) {
      pruning_ = true;
      prune = true;
    }
  }
  if (prune) PruneCache();
}

void ImapBackend::PruneCache() {
  // Oldest first by modification time (a hit refreshes it), down to 80%.
  std::vector<std::tuple<std::int64_t, std::uint64_t, std::filesystem::path>> files;
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(body_root_, ec)) {
    struct stat st;
    if (!e.is_regular_file(ec) || ::stat(e.path().c_str(), &st) != 0) continue;
    files.emplace_back(st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec, st.st_size, e.path());
    total += static_cast<std::uint64_t>(st.st_size);
  }
  std::sort(files.begin(), files.end());
  std::uint64_t target = options_.cache_size / 10 * 8;
  for (const auto& [mtime, size, path] : files) {
    if (total <= target) break;
    if (std::filesystem::remove(path, ec)) total -= size;
  }
  std::lock_guard<std::mutex> lock(state_mu_);
  cache_bytes_ = total;
  pruning_ = false;
  for (auto& [mailbox, fs] : state_) {
    // Some of the files remembered are gone: look at the disk again.
    fs.cached.clear();
    fs.scanned = false;
  }
  packed_.clear();  // fetches in progress still hand out their own messages
  packs_scanned_.clear();
}

void ImapBackend::ScheduleReadAhead(const std::string& mailbox, std::uint32_t uidvalidity, std::uint32_t uid) {
  std::lock_guard<std::mutex> lock(state_mu_);
  auto fit = state_.find(mailbox);
  if (fit == state_.end() || fit->second.uidvalidity != uidvalidity) return;
  FolderState& fs = fit->second;
  auto pos = fs.index.find(uid);
  if (pos == fs.index.end()) return;
  // Workers are asked for more only while some of the next messages are
  // neither cached nor coming; each takes the next uncovered batch.
  // Idle workers each get a start a batch apart, so that they fetch
  // side by side from the beginning of a folder.
  std::size_t end = std::min(fs.order.size(), pos->second + 1 + kAheadWindow);
  std::size_t uncovered = 0;
  for (std::size_t i = pos->second + 1; i < end && ahead_queue_.size() < ahead_threads_.size(); ++i) {
    std::uint32_t u = fs.order[i];
    if (fs.inflight.count(u) != 0 || IsCached(fs, mailbox, uidvalidity, u)) continue;
    if (uncovered++ % kBatchMessages != 0) continue;
    bool queued = std::any_of(ahead_queue_.begin(), ahead_queue_.end(), [&](const AheadRequest& r) {
      return r.uid == u && r.mailbox == mailbox;
    });
    if (queued) continue;
    ahead_queue_.push_back(AheadRequest{mailbox, uidvalidity, u});
    ahead_cv_.notify_one();
  }
}

void ImapBackend::ReadAheadLoop() {
  std::unique_lock<std::mutex> lock(state_mu_);
  for (;;) {
    ahead_cv_.wait(lock, [&] { return stopping_ || !ahead_queue_.empty(); });
    if (stopping_) return;
    AheadRequest req = ahead_queue_.front();
    ahead_queue_.pop_front();
    std::vector<std::uint32_t> batch = PickBatch(req.mailbox, req.uidvalidity, req.uid, true);
    if (batch.empty()) continue;
    lock.unlock();
    try {
      FetchBodies(req.mailbox, req.uidvalidity, batch);
    } catch (const Error& e) {
      LOG(kDebug) << options_.description << ": read-ahead in " << Redacted(req.mailbox) << ": " << e.what();
    }
    FinishBatch(req.mailbox, batch);
    lock.lock();
  }
}

BlobPtr ImapBackend::Fetch(const FolderId& folder, const MessageKey& key) {
  auto [uidvalidity, uid] = ParseKey(key);
  return FetchOne(folder.value, uidvalidity, uid, true, key);
}

BlobPtr ImapBackend::FetchOne(const std::string& mailbox, std::uint32_t uidvalidity, std::uint32_t uid,
                              bool read_ahead, const MessageKey& key) {
  std::string path = BodyPath(mailbox, uidvalidity, uid);
  for (int round = 0;; ++round) {
    if (BlobPtr blob = OpenPacked(mailbox, uidvalidity, uid)) {
      if (read_ahead) ScheduleReadAhead(mailbox, uidvalidity, uid);
      return blob;
    }
    std::int64_t mtime = 0;
    if (BlobPtr blob = OpenCached(path, &mtime)) {
      // Recently used (the cache is pruned oldest first); a file touched
      // within the hour is left alone, which saves a metadata write per read.
      if (mtime < static_cast<std::int64_t>(::time(nullptr)) - 3600) ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
      if (read_ahead) ScheduleReadAhead(mailbox, uidvalidity, uid);
      return blob;
    }
    std::vector<std::uint32_t> batch;
    {
      std::unique_lock<std::mutex> lock(state_mu_);
      auto fit = state_.find(mailbox);
      if (fit != state_.end() && fit->second.inflight.count(uid) != 0) {
        inflight_cv_.wait(lock, [&] {
          auto f = state_.find(mailbox);
          return f == state_.end() || f->second.inflight.count(uid) == 0;
        });
        if (round < 3) continue;  // another thread fetched it (or failed)
      }
      if (read_ahead) batch = PickBatch(mailbox, uidvalidity, uid, true, kForegroundMessages);
      if (std::find(batch.begin(), batch.end(), uid) == batch.end()) {
        batch.insert(batch.begin(), uid);
        state_[mailbox].inflight.insert(uid);
      }
    }
    // The workers start on what follows while this thread fetches its few.
    if (read_ahead) ScheduleReadAhead(mailbox, uidvalidity, uid);
    try {
      FetchBodies(mailbox, uidvalidity, batch);
    } catch (...) {
      FinishBatch(mailbox, batch);
      throw;
    }
    FinishBatch(mailbox, batch);
    BlobPtr blob = OpenPacked(mailbox, uidvalidity, uid);
    if (!blob) blob = OpenCached(path);
    if (blob) {
      if (read_ahead) ScheduleReadAhead(mailbox, uidvalidity, uid);
      return blob;
    }
    throw Error(Errc::kNotFound, "message " + key.value + " of " + Redacted(mailbox) + " is no longer on the server");
  }
}

void ImapBackend::FetchEach(const FolderId& folder, const std::vector<MessageKey>& keys, const FetchEachFn& each) {
  const std::string& mailbox = folder.value;
  // The ones neither cached nor coming, per UIDVALIDITY (one, normally),
  // fetched in pipelined batches before they are handed out one by one.
  std::map<std::uint32_t, std::vector<std::uint32_t>> todo;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    auto fit = state_.find(mailbox);
    for (const MessageKey& key : keys) {
      std::pair<std::uint32_t, std::uint32_t> vu;
      try {
        vu = ParseKey(key);
      } catch (const Error&) {
        continue;  // reported below
      }
      auto [uidvalidity, uid] = vu;
      if (fit != state_.end() && fit->second.uidvalidity == uidvalidity) {
        FolderState& fs = fit->second;
        if (fs.inflight.count(uid) != 0 || IsCached(fs, mailbox, uidvalidity, uid)) continue;
        fs.inflight.insert(uid);
      } else {
        struct stat st;
        if (::stat(BodyPath(mailbox, uidvalidity, uid).c_str(), &st) == 0) continue;
        ScanPacks(mailbox, uidvalidity);
        if (packed_[{mailbox, uidvalidity}].count(uid) != 0) continue;
        state_[mailbox].inflight.insert(uid);
        fit = state_.find(mailbox);
      }
      todo[uidvalidity].push_back(uid);
    }
  }
  for (auto& [uidvalidity, uids] : todo) {
    std::size_t i = 0;
    while (i < uids.size()) {
      std::vector<std::uint32_t> batch;
      std::uint64_t bytes = 0;
      {
        std::lock_guard<std::mutex> lock(state_mu_);
        auto fit = state_.find(mailbox);
        for (; i < uids.size() && batch.size() < kBatchMessages && bytes < kBatchBytes; ++i) {
          batch.push_back(uids[i]);
          if (fit != state_.end()) {
            auto sz = fit->second.sizes.find(uids[i]);
            if (sz != fit->second.sizes.end()) bytes += sz->second;
          }
        }
      }
      try {
        FetchBodies(mailbox, uidvalidity, batch);
      } catch (const std::exception& e) {
        // Fetched again one by one below, each failing with its own error.
        LOG(kDebug) << options_.description << ": FETCH of " << batch.size() << " messages of "
                    << Redacted(mailbox) << ": " << e.what();
      }
      FinishBatch(mailbox, batch);
    }
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    BlobPtr blob;
    try {
      auto [uidvalidity, uid] = ParseKey(keys[i]);
      blob = FetchOne(mailbox, uidvalidity, uid, false, keys[i]);
    } catch (const Error& e) {
      each(i, nullptr, &e);
      continue;
    }
    each(i, blob, nullptr);
  }
}

// ---- Writing ----------------------------------------------------------------

struct FlagListDeleter {
  void operator()(mailimap_flag_list* l) const { mailimap_flag_list_free(l); }
};
using FlagListPtr = std::unique_ptr<mailimap_flag_list, FlagListDeleter>;

FlagListPtr MakeFlagList(const Flags& flags) {
  FlagListPtr list(mailimap_flag_list_new_empty());
  for (const std::string& f : flags) {
    std::string lower = ToLowerAscii(f);
    mailimap_flag* flag = nullptr;
    if (lower == "\\answered") {
      flag = mailimap_flag_new_answered();
    } else if (lower == "\\flagged") {
      flag = mailimap_flag_new_flagged();
    } else if (lower == "\\deleted") {
      flag = mailimap_flag_new_deleted();
    } else if (lower == "\\seen") {
      flag = mailimap_flag_new_seen();
    } else if (lower == "\\draft") {
      flag = mailimap_flag_new_draft();
    } else if (lower == "\\recent" || f.empty()) {
      continue;  // set by the server only
    } else if (f[0] == '\\') {
      flag = mailimap_flag_new_flag_extension(strdup(f.c_str() + 1));
    } else {
      flag = mailimap_flag_new_flag_keyword(strdup(f.c_str()));
    }
    mailimap_flag_list_add(list.get(), flag);
  }
  return list;
}

mailimap_date_time* MakeDateTime(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  return mailimap_date_time_new(tm.tm_mday, tm.tm_mon + 1, tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, 0);
}

// The Message-ID of |content| (its first <...> token, else its first word);
// empty if none. Only the header block is looked at.
std::string MessageIdOf(const std::string& content) {
  std::size_t end = content.find("\r\n\r\n");
  std::string_view head(content.data(), end == std::string::npos ? content.size() : end + 2);
  std::size_t pos = 0;
  while (pos < head.size()) {
    std::size_t eol = head.find('\n', pos);
    if (eol == std::string_view::npos) eol = head.size();
    std::string_view line = head.substr(pos, eol - pos);
    if (line.size() > 11 && ToLowerAscii(std::string(line.substr(0, 11))) == "message-id:") {
      std::string value(line.substr(11));
      // Unfold continuation lines.
      for (std::size_t next = eol + 1; next < head.size() && (head[next] == ' ' || head[next] == '\t');) {
        std::size_t e = head.find('\n', next);
        if (e == std::string_view::npos) e = head.size();
        value += ' ';
        value.append(head.substr(next, e - next));
        next = e + 1;
      }
      std::size_t lt = value.find('<');
      std::size_t gt = lt == std::string::npos ? std::string::npos : value.find('>', lt);
      if (gt != std::string::npos) return value.substr(lt, gt - lt + 1);
      std::size_t b = value.find_first_not_of(" \t\r");
      if (b == std::string::npos) return "";
      std::size_t e = value.find_first_of(" \t\r", b);
      return value.substr(b, e == std::string::npos ? std::string::npos : e - b);
    }
    pos = eol + 1;
  }
  return "";
}

std::uint32_t LastOfSet(const mailimap_set* set) {
  std::uint32_t out = 0;
  if (set == nullptr || set->set_list == nullptr) return 0;
  for (clistiter* it = clist_begin(set->set_list); it != nullptr; it = clist_next(it)) {
    auto* item = static_cast<mailimap_set_item*>(clist_content(it));
    out = std::max(out, item->set_last);
  }
  return out;
}

void ImapBackend::RequireWritable() const {
  if (!options_.writable) throw Error(Errc::kReadOnly, options_.description + " is mounted read-only (use -o rw)");
}

void ImapBackend::SelectSame(Session& s, const std::string& mailbox, std::uint32_t uidvalidity) {
  const MailboxStatus& st = s.Select(mailbox, false);
  if (st.uidvalidity != uidvalidity) {
    throw Error(Errc::kNotFound, "mailbox " + Redacted(mailbox) + " was replaced on the server");
  }
}

void ImapBackend::ExpungeUid(Session& s, std::uint32_t uid) {
  if (!uidplus_) throw Error(Errc::kUnsupported, options_.description + ": the server lacks UIDPLUS (UID EXPUNGE)");
  SetPtr set(mailimap_set_new_single(uid));
  FlagListPtr deleted = MakeFlagList({"\\Deleted"});
  mailimap_store_att_flags* att = mailimap_store_att_flags_new_add_flags_silent(deleted.release());
  int rc = mailimap_uid_store(s.raw(), set.get(), att);
  mailimap_store_att_flags_free(att);
  s.Check(rc, "STORE \\Deleted");
  s.Check(mailimap_uid_expunge(s.raw(), set.get()), "UID EXPUNGE");
}

void ImapBackend::DropCached(const std::string& mailbox, std::uint32_t uidvalidity, std::uint32_t uid) {
  ::unlink(BodyPath(mailbox, uidvalidity, uid).c_str());
  std::lock_guard<std::mutex> lock(state_mu_);
  auto fit = state_.find(mailbox);
  if (fit != state_.end() && fit->second.uidvalidity == uidvalidity) fit->second.cached.erase(uid);
  auto pit = packed_.find({mailbox, uidvalidity});
  if (pit != packed_.end()) pit->second.erase(uid);  // its bytes stay in the pack until it is pruned
}

void ImapBackend::CacheBody(const std::string& mailbox, std::uint32_t uidvalidity, std::uint32_t uid,
                            const std::string& bytes) {
  std::string dir = BodyDir(mailbox, uidvalidity);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::string tmp = tmp_dir_ + "/append." + std::to_string(uid) + "." + std::to_string(::gettid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;  // only a cache
  bool ok = true;
  for (std::size_t done = 0; done < bytes.size();) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), BodyPath(mailbox, uidvalidity, uid).c_str()) != 0) {
    ::unlink(tmp.c_str());
    return;
  }
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    auto fit = state_.find(mailbox);
    if (fit != state_.end() && fit->second.uidvalidity == uidvalidity) fit->second.cached.insert(uid);
  }
  AccountCache(bytes.size());
}

std::uint32_t ImapBackend::FindAppended(Session& s, const std::string& mailbox, std::uint32_t from_uid,
                                        const std::string& message_id, std::uint64_t size,
                                        std::int64_t internal_date) {
  s.Select(mailbox, true);
  mailimap_search_key* key = mailimap_search_key_new_multiple_empty();
  mailimap_search_key_multiple_add(key, mailimap_search_key_new_uid(mailimap_set_new_interval(from_uid, 0)));
  if (!message_id.empty()) {
    mailimap_search_key_multiple_add(key,
                                     mailimap_search_key_new_header(strdup("Message-ID"), strdup(message_id.c_str())));
  }
  clist* found = nullptr;
  int rc = mailimap_uid_search(s.raw(), nullptr, key, &found);
  mailimap_search_key_free(key);
  s.Check(rc, "UID SEARCH");
  std::vector<std::uint32_t> uids;
  for (clistiter* it = found != nullptr ? clist_begin(found) : nullptr; it != nullptr; it = clist_next(it)) {
    std::uint32_t u = *static_cast<std::uint32_t*>(clist_content(it));
    if (u >= from_uid) uids.push_back(u);
  }
  if (found != nullptr) mailimap_search_result_free(found);
  if (uids.empty()) return 0;
  FetchTypePtr type(mailimap_fetch_type_new_fetch_att_list_empty());
  mailimap_fetch_type_new_fetch_att_list_add(type.get(), mailimap_fetch_att_new_uid());
  mailimap_fetch_type_new_fetch_att_list_add(type.get(), mailimap_fetch_att_new_internaldate());
  mailimap_fetch_type_new_fetch_att_list_add(type.get(), mailimap_fetch_att_new_rfc822_size());
  SetPtr set = UidSet(uids);
  std::uint32_t match = 0;
  FetchRun run;
  run.on_item = [&](const mailimap_msg_att* att) {
    FetchedItem item = ReadMsgAtt(att);
    if (item.uid >= from_uid && item.size == size && item.internal_date == internal_date) match = item.uid;
  };
  RunUidFetch(s, set.get(), type.get(), run, "FETCH (append check)");
  return match;
}

std::uint32_t ImapBackend::AppendChecked(const std::string& mailbox, const std::string& content, const Flags& flags,
                                         std::int64_t internal_date, std::uint32_t* uidvalidity) {
  std::string message_id = MessageIdOf(content);
  std::optional<UnknownAppend> earlier;
  {
    std::lock_guard<std::mutex> lock(unknown_mu_);
    for (auto it = unknown_.begin(); it != unknown_.end(); ++it) {
      if (it->mailbox == mailbox && it->message_id == message_id && it->size == content.size() &&
          it->internal_date == internal_date) {
        earlier = *it;
        unknown_.erase(it);
        break;
      }
    }
  }
  if (earlier) {
    // The same message was APPENDed before with an unknown outcome.
    std::uint32_t found = 0;
    std::uint32_t validity = 0;
    try {
      std::tie(found, validity) = WithSession(mailbox, true, "APPEND check", [&](Session& s2) {
        std::uint32_t u = FindAppended(s2, mailbox, std::max<std::uint32_t>(earlier->from_uid, 1), message_id,
                                       content.size(), internal_date);
        return std::make_pair(u, s2.Select(mailbox, false).uidvalidity);
      });
    } catch (const Error&) {
      std::lock_guard<std::mutex> lock(unknown_mu_);
      unknown_.push_back(*earlier);
      throw;
    }
    if (found != 0) {
      LOG(kInfo) << options_.description << ": an earlier APPEND to " << Redacted(mailbox)
                 << " with an unknown outcome had been stored (UID " << found << "); not storing it again";
      *uidvalidity = validity;
      return found;
    }
  }
  SessionPtr s = Acquire(mailbox);
  std::uint32_t uidnext_before = 0;
  std::uint32_t uid = 0;
  *uidvalidity = 0;
  try {
    // A UIDNEXT seen before the APPEND bounds the search after a lost
    // connection; an older one only widens it, so the session's selection
    // serves once the mailbox has been selected.
    uidnext_before = s->Select(mailbox, false).uidnext;
  } catch (const Error&) {
    Release(std::move(s));
    throw;  // nothing was sent: the caller may simply see the error
  }
  FlagListPtr flag_list = MakeFlagList(flags);
  mailimap_date_time* date = MakeDateTime(internal_date);
  int rc = mailimap_uidplus_append(s->raw(), mailbox.c_str(), flag_list.get(), date, content.data(), content.size(),
                                   uidvalidity, &uid);
  mailimap_date_time_free(date);
  try {
    s->Check(rc, "APPEND");
    Release(std::move(s));
    return uid;
  } catch (const Error& e) {
    bool lost = s->broken();
    Release(std::move(s));
    if (!lost) throw;
    // The APPEND may or may not have been stored (design.md §7): look
    // before anyone retries, so that a retry never makes a duplicate.
    LOG(kWarning) << options_.description << ": connection lost during APPEND to " << Redacted(mailbox)
                  << "; checking whether the message was stored";
    std::uint32_t found = 0;
    // A restarting server gets until the deadline to answer again.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options_.server.timeout_sec);
    for (;;) {
      try {
        found = WithSession(mailbox, true, "APPEND check", [&](Session& s2) {
          return FindAppended(s2, mailbox, std::max<std::uint32_t>(uidnext_before, 1), message_id, content.size(),
                              internal_date);
        });
        break;
      } catch (const Error& e2) {
        bool retry = (e2.code() == Errc::kIo || e2.code() == Errc::kTimeout) &&
                     std::chrono::steady_clock::now() + std::chrono::milliseconds(500) < deadline;
        if (retry) {
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
          continue;
        }
        LOG(kError) << options_.description << ": APPEND to " << Redacted(mailbox) << ": outcome unknown ("
                    << e2.what() << ")";
        {
          std::lock_guard<std::mutex> lock(unknown_mu_);
          unknown_.push_back(UnknownAppend{mailbox, message_id, content.size(), internal_date,
                                           std::max<std::uint32_t>(uidnext_before, 1)});
        }
        throw Error(Errc::kIo, "APPEND to " + Redacted(mailbox) + ": connection lost, outcome unknown");
      }
    }
    if (found == 0) {
      LOG(kWarning) << options_.description << ": the interrupted APPEND to " << Redacted(mailbox)
                    << " was not stored";
      throw;
    }
    LOG(kInfo) << options_.description << ": the interrupted APPEND to " << Redacted(mailbox)
               << " was stored as UID " << found;
    *uidvalidity = WithSession(mailbox, true, "SELECT", [&](Session& s3) { return s3.Select(mailbox, false).uidvalidity; });
    return found;
  }
}

std::optional<MessageKey> ImapBackend::Append(const FolderId& folder, const Blob& content, const Flags& flags,
                                              std::int64_t internal_date) {
  RequireWritable();
  if (folder.value.empty()) throw Error(Errc::kInvalid, "messages cannot be stored at the root of an IMAP account");
  // libetpan sends a literal from memory: the message is held once, here.
  std::string bytes = ReadAll(content);
  std::uint32_t uidvalidity = 0;
  std::uint32_t uid = AppendChecked(folder.value, bytes, flags, internal_date, &uidvalidity);
  if (uid == 0 || uidvalidity == 0) return std::nullopt;  // no APPENDUID: fs/ lists the folder again
  // Not put in the content cache: a copy into the mount seldom reads back
  // what it wrote, and a cache file per message stored cost more than the
  // APPEND itself on a busy disk. A read fetches it like any other.
  return MessageKey{MessageKeyOf(uidvalidity, uid)};
}

void ImapBackend::Delete(const FolderId& folder, const MessageKey& key) {
  RequireWritable();
  auto [uidvalidity, uid] = ParseKey(key);
  WithSession(folder.value, true, "delete", [&](Session& s) {
    SelectSame(s, folder.value, uidvalidity);
    ExpungeUid(s, uid);
  });
  DropCached(folder.value, uidvalidity, uid);
}

std::optional<MessageKey> ImapBackend::Move(const FolderId& from, const MessageKey& key, const FolderId& to) {
  RequireWritable();
  if (to.value.empty()) throw Error(Errc::kInvalid, "messages cannot be stored at the root of an IMAP account");
  auto [uidvalidity, uid] = ParseKey(key);
  // MOVE is atomic on the server; COPY + EXPUNGE repeated after a lost
  // connection could copy twice, so neither is retried blindly.
  auto [new_validity, new_uid] = WithSession(from.value, false, "move", [&](Session& s) {
    SelectSame(s, from.value, uidvalidity);
    SetPtr set(mailimap_set_new_single(uid));
    std::uint32_t dest_validity = 0;
    mailimap_set* src = nullptr;
    mailimap_set* dst = nullptr;
    if (move_) {
      int rc = mailimap_uidplus_uid_move(s.raw(), set.get(), to.value.c_str(), &dest_validity, &src, &dst);
      SetPtr src_owner(src), dst_owner(dst);
      s.Check(rc, "MOVE");
      return std::pair<std::uint32_t, std::uint32_t>(dest_validity, LastOfSet(dst));
    }
    if (!uidplus_) throw Error(Errc::kUnsupported, options_.description + ": the server has neither MOVE nor UIDPLUS");
    int rc = mailimap_uidplus_uid_copy(s.raw(), set.get(), to.value.c_str(), &dest_validity, &src, &dst);
    SetPtr src_owner(src), dst_owner(dst);
    s.Check(rc, "COPY");
    ExpungeUid(s, uid);
    return std::pair<std::uint32_t, std::uint32_t>(dest_validity, LastOfSet(dst));
  });
  std::string old_path = BodyPath(from.value, uidvalidity, uid);
  if (new_validity == 0 || new_uid == 0) {
    DropCached(from.value, uidvalidity, uid);
    return std::nullopt;
  }
  std::error_code ec;
  std::filesystem::create_directories(BodyDir(to.value, new_validity), ec);
  if (::rename(old_path.c_str(), BodyPath(to.value, new_validity, new_uid).c_str()) == 0) {
    std::lock_guard<std::mutex> lock(state_mu_);
    auto fit = state_.find(to.value);
    if (fit != state_.end() && fit->second.uidvalidity == new_validity) fit->second.cached.insert(new_uid);
  }
  DropCached(from.value, uidvalidity, uid);
  return MessageKey{MessageKeyOf(new_validity, new_uid)};
}

void ImapBackend::SetFlags(const FolderId& folder, const MessageKey& key, const Flags& flags) {
  RequireWritable();
  auto [uidvalidity, uid] = ParseKey(key);
  WithSession(folder.value, true, "STORE", [&](Session& s) {
    SelectSame(s, folder.value, uidvalidity);
    SetPtr set(mailimap_set_new_single(uid));
    mailimap_store_att_flags* att = mailimap_store_att_flags_new_set_flags_silent(MakeFlagList(flags).release());
    int rc = mailimap_uid_store(s.raw(), set.get(), att);
    mailimap_store_att_flags_free(att);
    s.Check(rc, "STORE");
  });
}

MessageKey ImapBackend::SetInternalDate(const FolderId& folder, const MessageKey& key, std::int64_t internal_date) {
  RequireWritable();
  if (!uidplus_) {
    throw Error(Errc::kReadOnly, options_.description + ": changing a date needs UIDPLUS, which the server lacks");
  }
  auto [uidvalidity, uid] = ParseKey(key);
  // Current flags and bytes, then APPEND with the new date, then remove the
  // old copy (design.md §6): a failure at any step leaves the message stored.
  Flags flags = WithSession(folder.value, true, "FETCH (flags)", [&](Session& s) {
    SelectSame(s, folder.value, uidvalidity);
    FetchTypePtr type(mailimap_fetch_type_new_fetch_att_list_empty());
    mailimap_fetch_type_new_fetch_att_list_add(type.get(), mailimap_fetch_att_new_uid());
    mailimap_fetch_type_new_fetch_att_list_add(type.get(), mailimap_fetch_att_new_flags());
    SetPtr set(mailimap_set_new_single(uid));
    std::optional<Flags> out;
    FetchRun run;
    run.on_item = [&](const mailimap_msg_att* att) {
      FetchedItem item = ReadMsgAtt(att);
      if (item.uid == uid) out = item.flags;
    };
    RunUidFetch(s, set.get(), type.get(), run, "FETCH (flags)");
    if (!out) throw Error(Errc::kNotFound, "message " + key.value + " is no longer on the server");
    return *out;
  });
  BlobPtr blob = Fetch(folder, key);
  std::string bytes = ReadAll(*blob);
  std::uint32_t new_validity = 0;
  std::uint32_t new_uid = AppendChecked(folder.value, bytes, flags, internal_date, &new_validity);
  if (new_uid == 0 || new_validity != uidvalidity) {
    throw Error(Errc::kIo, "stored the message again but the server gave no APPENDUID: the old copy is kept");
  }
  CacheBody(folder.value, new_validity, new_uid, bytes);
  WithSession(folder.value, true, "delete", [&](Session& s) {
    SelectSame(s, folder.value, uidvalidity);
    ExpungeUid(s, uid);
  });
  DropCached(folder.value, uidvalidity, uid);
  return MessageKey{MessageKeyOf(new_validity, new_uid)};
}

std::string ImapBackend::JoinName(const std::string& parent, const std::string& name) {
  if (name.empty() || name == "." || name == "..") throw Error(Errc::kInvalid, "invalid folder name");
  std::string enc = EncodeMailboxName(name);
  char delim;
  {
    std::lock_guard<std::mutex> lock(folders_mu_);
    delim = delimiter_;
  }
  if (delim != 0 && enc.find(delim) != std::string::npos) {
    throw Error(Errc::kInvalid, std::string("the server's hierarchy delimiter '") + delim +
                                    "' cannot be part of a folder name");
  }
  if (parent.empty()) {
    if (ToLowerAscii(name) == "inbox" || name == options_.inbox_name) return "INBOX";
    return enc;
  }
  if (delim == 0) throw Error(Errc::kInvalid, "the server has no folder hierarchy");
  return parent + delim + enc;
}

void ImapBackend::ForgetSelections() {
  std::lock_guard<std::mutex> lock(pool_mu_);
  for (auto& s : idle_) s->ForgetSelection();
}

FolderId ImapBackend::CreateFolder(const FolderId& parent, const std::string& name) {
  RequireWritable();
  std::string full = JoinName(parent.value, name);
  RefreshMailboxes(true);
  {
    std::lock_guard<std::mutex> lock(folders_mu_);
    for (const MailboxEntry& e : mailboxes_) {
      if (e.raw == full) throw Error(Errc::kExists, "folder exists");
    }
  }
  WithSession("", false, "CREATE", [&](Session& s) { s.Check(mailimap_create(s.raw(), full.c_str()), "CREATE"); });
  RefreshMailboxes(true);
  return FolderId{full};
}

FolderId ImapBackend::RenameFolder(const FolderId& folder, const FolderId& new_parent, const std::string& new_name) {
  RequireWritable();
  if (folder.value.empty() || folder.value == "INBOX") {
    throw Error(Errc::kInvalid, "INBOX cannot be renamed (its messages would move instead)");
  }
  std::string full = JoinName(new_parent.value, new_name);
  if (full == "INBOX") throw Error(Errc::kExists, "INBOX exists");
  if (full == folder.value) return folder;
  if (full.rfind(folder.value, 0) == 0 && delimiter_ != 0 && full.size() > folder.value.size() &&
      full[folder.value.size()] == delimiter_) {
    throw Error(Errc::kInvalid, "a folder cannot be moved into itself");
  }
  RefreshMailboxes(true);
  {
    std::lock_guard<std::mutex> lock(folders_mu_);
    for (const MailboxEntry& e : mailboxes_) {
      if (e.raw == full) throw Error(Errc::kExists, "folder exists");
    }
  }
  ForgetSelections();
  WithSession("", false, "RENAME", [&](Session& s) {
    s.ForgetSelection();
    s.Check(mailimap_rename(s.raw(), folder.value.c_str(), full.c_str()), "RENAME");
  });
  RefreshMailboxes(true);
  return FolderId{full};
}

void ImapBackend::DeleteFolder(const FolderId& folder) {
  RequireWritable();
  if (folder.value.empty() || folder.value == "INBOX") throw Error(Errc::kInvalid, "INBOX cannot be removed");
  RefreshMailboxes(true);
  bool selectable = true;
  {
    std::lock_guard<std::mutex> lock(folders_mu_);
    bool found = false;
    for (const MailboxEntry& e : mailboxes_) {
      if (e.raw == folder.value) {
        found = true;
        selectable = e.selectable;
      }
      if (ParentOf(e.raw) == folder.value) throw Error(Errc::kNotEmpty, "folder has sub-folders");
    }
    if (!found) throw Error(Errc::kNotFound, "no such folder");
  }
  ForgetSelections();
  WithSession("", false, "DELETE", [&](Session& s) {
    if (selectable) {
      if (s.Select(folder.value, true).exists > 0) throw Error(Errc::kNotEmpty, "folder holds messages");
    }
    // Leave the mailbox first: some servers refuse to delete the selected one.
    if (selectable && !s.Custom("UNSELECT")) s.Select("INBOX", true);
    s.ForgetSelection();
    s.Check(mailimap_delete(s.raw(), folder.value.c_str()), "DELETE");
  });
  ::unlink((listing_dir_ + "/" + MailboxHash(folder.value)).c_str());
  RefreshMailboxes(true);
}

}  // namespace

ImapUrl ParseImapUrl(const std::string& url) {
  ImapUrl out;
  std::string rest;
  if (url.rfind("imaps://", 0) == 0) {
    out.implicit_tls = true;
    out.port = 993;
    rest = url.substr(8);
  } else if (url.rfind("imap://", 0) == 0) {
    out.implicit_tls = false;
    out.port = 143;
    rest = url.substr(7);
  } else {
    throw Error(Errc::kInvalid, url + ": not an imap:// or imaps:// URL");
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('/') != std::string::npos) throw Error(Errc::kInvalid, url + ": a path after the host is not supported");
  std::size_t at = rest.rfind('@');
  if (at == std::string::npos || at == 0) throw Error(Errc::kInvalid, url + ": the user is missing (imaps://user@host)");
  std::string user = rest.substr(0, at);
  std::string hostport = rest.substr(at + 1);
  for (std::size_t i = 0; i < user.size(); ++i) {
    if (user[i] == '%' && i + 2 < user.size() && std::isxdigit(static_cast<unsigned char>(user[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(user[i + 2]))) {
      out.user.push_back(static_cast<char>(std::stoi(user.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.user.push_back(user[i]);
    }
  }
  if (user.find(';') != std::string::npos) throw Error(Errc::kInvalid, url + ": ';AUTH=' in the URL is not supported");
  std::string host = hostport;
  std::size_t colon = hostport.rfind(':');
  if (!hostport.empty() && hostport[0] == '[') {
    std::size_t close = hostport.find(']');
    if (close == std::string::npos) throw Error(Errc::kInvalid, url + ": unterminated [IPv6 address]");
    host = hostport.substr(1, close - 1);
    colon = hostport.size() > close + 1 && hostport[close + 1] == ':' ? close + 1 : std::string::npos;
  } else if (colon != std::string::npos) {
    host = hostport.substr(0, colon);
  }
  if (colon != std::string::npos) {
    std::string port = hostport.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(port) == 0 || std::stoi(port) > 65535) {
      throw Error(Errc::kInvalid, url + ": bad port '" + port + "'");
    }
    out.port = std::stoi(port);
  }
  if (host.empty()) throw Error(Errc::kInvalid, url + ": the host is missing");
  out.host = host;
  return out;
}

std::unique_ptr<Backend> OpenImapAccount(const ImapOptions& options) {
  auto backend = std::make_unique<ImapBackend>(options);
  backend->Start();
  return backend;
}

}  // namespace mailfs::imap
