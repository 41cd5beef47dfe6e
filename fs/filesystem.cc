#include "fs/filesystem.h"

#include <fcntl.h>
#include <malloc.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <set>
#include <unordered_map>

#include "backends/log.h"
#include "backends/mime/header_decode.h"
#include "backends/mime/parser.h"
#include "backends/mime/renderer.h"
#include "backends/sha256.h"
#include "fs/naming.h"
#include "fs/staging.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

namespace mailfs::fs {

// One committed message as listed.
struct Filesystem::MessageState {
  MessageKey key;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  Flags flags;
  std::string base;        // "<date> <subject> [<key>]"; a side file's name
  std::string sha256_hex;  // of the served bytes; "" until needed
  std::string error;       // why it is unreadable
  // view=canonical: the rendering (file-backed); a side file: its bytes.
  BlobPtr content;
  bool unreadable = false;
  bool side = false;       // a side file (not a message)
};

// A file being written (design.md §6). Belongs to the node, not the handle.
struct Filesystem::Staging {
  std::shared_ptr<StagingFile> file;
  bool dirty = false;       // written since the last commit
  int write_errno = 0;      // a failed write: every FLUSH returns it
  Errc write_error = Errc::kIo;
  std::string write_message;
  std::optional<std::int64_t> mtime;
  std::optional<Flags> flags;
  std::shared_ptr<MessageState> replaces;  // overwrite of this committed message
};

// What only folders have (kept apart: most nodes are messages).
struct FolderState {
  FolderId folder;
  bool virtual_dot = false;  // a dot-folder: exists only in the mount (§6)
  bool selectable = true;
  std::string special_use;
  bool listed = false;
  std::chrono::steady_clock::time_point listed_at;
  std::shared_ptr<std::mutex> load_mu = std::make_shared<std::mutex>();
  std::map<std::string, Ino> entries;   // visible names
  std::map<std::string, Ino> aliases;   // written names that still resolve
  std::vector<Ino> messages;            // committed message nodes
};

struct Filesystem::Node {
  enum class Kind { kFolder, kMessage, kStaged };
  Kind kind = Kind::kFolder;
  Ino ino = 0;
  Ino parent = 0;
  std::string name;  // current name in parent
  std::uint64_t nlookup = 0;
  std::uint64_t open_handles = 0;

  // Folders only (set for every kFolder node).
  std::unique_ptr<FolderState> dir;
  FolderState& F() { return *dir; }
  const FolderState& F() const { return *dir; }

  // Messages and staged files.
  std::shared_ptr<MessageState> msg;
  std::shared_ptr<Staging> staging;
};

struct Filesystem::Handle {
  Ino ino = 0;
  bool write = false;
  bool wrote = false;  // this handle wrote since the last commit
  BlobPtr blob;        // read handles of committed messages: fetched lazily
  std::mutex mu;       // guards blob
};

namespace {

std::int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IsDotName(const std::string& name) { return !name.empty() && name[0] == '.'; }

constexpr const char* kSystemFlags[] = {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"};

std::string AsciiLower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string Filesystem::FormatFlags(const Flags& flags) {
  std::vector<std::string> out;
  for (const char* sys : kSystemFlags) {
    for (const auto& f : flags) {
      if (AsciiLower(f) == AsciiLower(sys)) {
        out.emplace_back(sys);
        break;
      }
    }
  }
  std::set<std::string> keywords;
  for (const auto& f : flags) {
    if (!f.empty() && f[0] != '\\') keywords.insert(f);
  }
  out.insert(out.end(), keywords.begin(), keywords.end());
  std::string s;
  for (const auto& f : out) {
    if (!s.empty()) s.push_back(' ');
    s += f;
  }
  return s;
}

Flags Filesystem::ParseFlags(const std::string& text) {
  Flags flags;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\0')) ++i;
    std::size_t start = i;
    while (i < text.size() && !(text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\0')) ++i;
    if (start == i) continue;
    std::string tok = text.substr(start, i - start);
    if (tok[0] == '\\') {
      std::string lower = AsciiLower(tok);
      if (lower == "\\deleted") throw Error(Errc::kInvalid, "\\Deleted cannot be set: use unlink");
      if (lower == "\\recent") continue;
      bool known = false;
      for (const char* sys : kSystemFlags) {
        if (lower == AsciiLower(sys)) {
          flags.emplace_back(sys);
          known = true;
        }
      }
      if (!known) throw Error(Errc::kInvalid, "unknown system flag " + tok);
    } else {
      for (unsigned char c : tok) {
        if (c < 0x21 || c > 0x7e || c == '(' || c == ')' || c == '{' || c == '%' || c == '*' || c == '"' ||
            c == ']') {
          throw Error(Errc::kInvalid, "invalid keyword " + tok);
        }
      }
      flags.push_back(tok);
    }
  }
  std::sort(flags.begin(), flags.end());
  flags.erase(std::unique(flags.begin(), flags.end()), flags.end());
  return flags;
}

namespace {

// Keeps the renderings in |dir| under |limit| bytes, removing the least
// recently used first (access time, else modification time).
void PruneRenderings(const std::string& dir, std::uint64_t limit) {
  std::error_code ec;
  struct Item {
    std::int64_t used;
    std::uint64_t size;
    std::string path;
  };
  std::vector<Item> items;
  std::uint64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    struct stat st;
    if (::stat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    std::int64_t used = std::max<std::int64_t>(st.st_atim.tv_sec, st.st_mtim.tv_sec);
    items.push_back(Item{used, static_cast<std::uint64_t>(st.st_size), e.path().string()});
    total += static_cast<std::uint64_t>(st.st_size);
  }
  if (total <= limit) return;
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.used < b.used; });
  for (const Item& i : items) {
    if (total <= limit) break;
    if (::unlink(i.path.c_str()) == 0) total -= i.size;
  }
  LOG(kDebug) << "cache: renderings trimmed to " << total << " bytes in " << dir;
}

}  // namespace

Filesystem::Filesystem(std::unique_ptr<Backend> backend, Options options)
    : backend_(std::move(backend)), options_(std::move(options)), caps_(backend_->GetCapabilities()) {
  if (options_.canonical_view) options_.writable = false;
  if (options_.writable && !caps_.writable) options_.writable = false;
  staging_dir_ = options_.cache_dir.empty() ? std::string("/tmp") : options_.cache_dir + "/staging";
  if (!options_.cache_dir.empty()) {
    ::mkdir(options_.cache_dir.c_str(), 0700);
    ::mkdir(staging_dir_.c_str(), 0700);
    ::mkdir((options_.cache_dir + "/canonical").c_str(), 0700);
    if (options_.canonical_view) PruneRenderings(options_.cache_dir + "/canonical", options_.cache_size);
  }
  auto root = std::make_unique<Node>();
  root->kind = Node::Kind::kFolder;
  root->dir = std::make_unique<FolderState>();
  root->F().folder = backend_->Root();
  root->F().selectable = caps_.folders_hold_messages_at_root;
  root->nlookup = 1;
  std::lock_guard<std::mutex> lock(mu_);
  Ino ino = NewNode(std::move(root));
  folder_inos_[backend_->Root().value] = ino;
}

Filesystem::~Filesystem() = default;

Ino Filesystem::NewNode(std::unique_ptr<Node> node) {
  Ino ino = next_ino_++;
  node->ino = ino;
  nodes_[ino] = std::move(node);
  return ino;
}

Filesystem::Node& Filesystem::Get(Ino ino) {
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) throw Error(Errc::kNotFound, "stale inode " + std::to_string(ino));
  return *it->second;
}

Filesystem::Node* Filesystem::FindChild(Node& dir, const std::string& name) {
  auto it = dir.F().entries.find(name);
  if (it == dir.F().entries.end()) {
    it = dir.F().aliases.find(name);
    if (it == dir.F().aliases.end()) {
      // IMAP's INBOX answers to any case at the root (design §3).
      const std::string& special = caps_.case_insensitive_root_name;
      if (dir.ino != kRootIno || special.empty() || AsciiLower(name) != AsciiLower(special)) return nullptr;
      it = dir.F().entries.find(special);
      if (it == dir.F().entries.end()) return nullptr;
    }
  }
  auto n = nodes_.find(it->second);
  return n == nodes_.end() ? nullptr : n->second.get();
}

void Filesystem::RequireWritable() const {
  if (!options_.writable) throw Error(Errc::kReadOnly, "read-only mount");
}

std::string Filesystem::PathOf(const Node& node) const {
  std::string path;
  const Node* n = &node;
  while (n->ino != kRootIno) {
    path = "/" + n->name + path;
    auto it = nodes_.find(n->parent);
    if (it == nodes_.end()) break;
    n = it->second.get();
  }
  return path.empty() ? "/" : path;
}

bool Filesystem::IsDotContext(const Node& dir, const std::string& name) const {
  return IsDotName(name) || dir.F().virtual_dot;
}

Attr Filesystem::MakeAttr(const Node& node) const {
  Attr a;
  a.ino = node.ino;
  a.uid = options_.uid;
  a.gid = options_.gid;
  mode_t widen = static_cast<mode_t>(~options_.umask & 0777);
  if (node.kind == Node::Kind::kFolder) {
    a.is_dir = true;
    mode_t base = options_.writable ? 0700 : 0500;
    a.mode = S_IFDIR | ((base | (widen & (options_.writable ? 0777 : 0555))) & 07777);
    a.nlink = 2;
    return a;
  }
  mode_t base = options_.writable ? 0600 : 0400;
  a.mode = S_IFREG | ((base | (widen & (options_.writable ? 0666 : 0444))) & 07777);
  if (node.kind == Node::Kind::kStaged) {
    a.size = node.staging->file->Size();
    a.mtime = node.staging->mtime.value_or(node.msg ? node.msg->mtime : NowSeconds());
  } else {
    a.size = node.msg->size;
    a.mtime = node.msg->mtime;
  }
  return a;
}

// ---------------------------------------------------------------------------
// Listing and naming.

std::shared_ptr<Filesystem::MessageState> Filesystem::MakeMessageState(const MessageInfo& info,
                                                                       const FolderId& folder) {
  auto m = std::make_shared<MessageState>();
  m->key = info.key;
  m->mtime = info.internal_date;
  m->flags = info.flags;
  m->unreadable = info.unreadable;
  m->error = info.error;
  if (m->unreadable) {
    m->size = std::max<std::uint64_t>(1, m->error.size());
    return m;
  }
  try {
    std::string headers = info.headers;
    if (options_.canonical_view) {
      // Rendered once, kept on disk under the renderer version (design §4, §5).
      std::string id = Sha256Hex(backend_->Describe() + "\n" + folder.value + "\n" + info.key.value + "\n" +
                                 std::to_string(mime::kRendererVersion));
      std::string path = options_.cache_dir + "/canonical/" + id + ".eml";
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        BlobPtr raw = backend_->Fetch(folder, info.key);
        std::string bytes = ReadAll(*raw);
        std::string rendered = mime::RenderToString(mime::Parse(bytes), mime::RenderOptions{});
        std::string tmp = path + ".tmp" + std::to_string(::getpid());
        int wfd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (wfd < 0) ThrowErrno(Errc::kIo, "cannot write " + tmp, errno);
        std::size_t done = 0;
        while (done < rendered.size()) {
          ssize_t w = ::write(wfd, rendered.data() + done, rendered.size() - done);
          if (w < 0) {
            int e = errno;
            ::close(wfd);
            ThrowErrno(Errc::kIo, "cannot write " + tmp, e);
          }
          done += static_cast<std::size_t>(w);
        }
        ::close(wfd);
        if (::rename(tmp.c_str(), path.c_str()) != 0) ThrowErrno(Errc::kIo, "cannot rename " + tmp, errno);
        fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) ThrowErrno(Errc::kIo, "cannot open " + path, errno);
      }
      struct stat st;
      ::fstat(fd, &st);
      auto owner = std::shared_ptr<int>(new int(fd), [](int* p) {
        ::close(*p);
        delete p;
      });
      m->content = std::make_shared<FileRangeBlob>(owner, fd, 0, static_cast<std::uint64_t>(st.st_size), path);
      std::string head(std::min<std::uint64_t>(static_cast<std::uint64_t>(st.st_size), 65536), '\0');
      head.resize(m->content->ReadAt(0, head.data(), head.size()));
      headers = std::string(mime::HeaderBlock(head));
      m->size = static_cast<std::uint64_t>(st.st_size);
    } else if (headers.empty() || !info.size) {
      BlobPtr raw = backend_->Fetch(folder, info.key);
      m->size = raw->Size();
      std::string head(std::min<std::uint64_t>(m->size, 65536), '\0');
      head.resize(raw->ReadAt(0, head.data(), head.size()));
      if (headers.empty()) headers = std::string(mime::HeaderBlock(head));
    } else {
      m->size = *info.size;
    }
    m->base = MessageBaseName(headers, m->mtime);
  } catch (const Error& e) {
    m->unreadable = true;
    m->error = e.what();
  }
  if (m->unreadable) {
    LOG(kWarning) << "unreadable message " << info.key.value << ": " << m->error;
    // Not 0: the kernel answers reads of an empty file itself, and a read
    // must reach us to fail with EIO (never a silently empty message).
    m->size = std::max<std::uint64_t>(1, m->error.size());
  }
  return m;
}

BlobPtr Filesystem::FetchChecked(const FolderId& folder, const MessageState& msg, const std::string& path) {
  try {
    BlobPtr blob = FetchServed(folder, msg);
    if (blob->Size() != msg.size) {
      throw Error(Errc::kCorrupt, "size changed from " + std::to_string(msg.size) + " to " +
                                      std::to_string(blob->Size()) + " bytes");
    }
    return blob;
  } catch (const Error& e) {
    LOG(kError) << "cannot read " << Redacted(path) << " (" << msg.key.value << "): " << e.what();
    throw;
  }
}

BlobPtr Filesystem::FetchServed(const FolderId& folder, const MessageState& msg) {
  if (msg.unreadable) throw Error(Errc::kCorrupt, msg.error);
  if (msg.content) return msg.content;
  return backend_->Fetch(folder, msg.key);
}

void Filesystem::LoadFolder(Ino ino) {
  FolderId folder;
  bool selectable = true;
  bool virtual_dot = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Node& dir = Get(ino);
    folder = dir.F().folder;
    selectable = dir.F().selectable;
    virtual_dot = dir.F().virtual_dot;
  }
  std::vector<FolderInfo> subfolders;
  std::vector<std::shared_ptr<MessageState>> messages;
  if (!virtual_dot) {
    subfolders = backend_->ListFolders(folder);
    for (SideFile& sf : backend_->ListSideFiles(folder)) {
      auto m = std::make_shared<MessageState>();
      m->key = MessageKey{"side:" + sf.name};
      m->size = sf.content->Size();
      m->mtime = sf.mtime;
      m->content = std::move(sf.content);
      m->side = true;
      m->base = EscapeFolderName(sf.name);
      messages.push_back(std::move(m));
    }
    if (selectable) {
      for (const MessageInfo& info : backend_->ListMessages(folder)) {
        messages.push_back(MakeMessageState(info, folder));
      }
    }
    // Hashes of colliding messages (only they need their bytes hashed).
    std::map<std::string, int> counts;
    for (const auto& m : messages) {
      if (!m->unreadable && !m->side) ++counts[m->base];
    }
    std::vector<MessageState*> colliding;
    for (auto& m : messages) {
      if (m->unreadable || m->side || counts[m->base] < 2) continue;
      colliding.push_back(m.get());
    }
    HashMessages(folder, colliding);
  }
  std::vector<std::pair<Ino, std::string>> gone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Node& dir = Get(ino);
    if (dir.F().listed) return;
    for (const FolderInfo& fi : subfolders) {
      std::string name = EscapeFolderName(fi.name);
      Ino child;
      auto it = folder_inos_.find(fi.id.value);
      if (it != folder_inos_.end() && nodes_.count(it->second) != 0) {
        child = it->second;
      } else {
        auto node = std::make_unique<Node>();
        node->kind = Node::Kind::kFolder;
        node->dir = std::make_unique<FolderState>();
        node->F().folder = fi.id;
        child = NewNode(std::move(node));
        folder_inos_[fi.id.value] = child;
      }
      Node& c = Get(child);
      c.parent = ino;
      c.name = name;
      c.F().selectable = fi.selectable;
      c.F().special_use = fi.special_use;
      dir.F().entries[name] = child;
    }
    // The same message keeps its inode across listings (design.md §5).
    std::unordered_map<std::string, Ino> previous;
    for (Ino m : dir.F().messages) {
      auto n = nodes_.find(m);
      if (n != nodes_.end() && n->second->kind == Node::Kind::kMessage && !n->second->msg->key.value.empty()) {
        previous.emplace(n->second->msg->key.value, m);
      }
    }
    dir.F().messages.clear();
    for (auto& m : messages) {
      Ino child;
      auto it = previous.find(m->key.value);
      if (it != previous.end()) {
        child = it->second;
      } else {
        auto node = std::make_unique<Node>();
        node->kind = Node::Kind::kMessage;
        child = NewNode(std::move(node));
      }
      Node& c = Get(child);
      c.parent = ino;
      c.msg = m;
      dir.F().messages.push_back(child);
    }
    RecomputeNames(dir, &gone);
    dir.F().listed = true;
    dir.F().listed_at = std::chrono::steady_clock::now();
  }
  FlushInvalidations(gone);
  if (options_.canonical_view && !options_.cache_dir.empty()) {
    // Open renderings stay readable: their files are held open.
    PruneRenderings(options_.cache_dir + "/canonical", options_.cache_size);
  }
  // Listing a big folder leaves its renderings' buffers free but mapped:
  // give them back so the daemon's footprint stays what it keeps.
  ::malloc_trim(0);
}

Filesystem::Node& Filesystem::EnsureListed(Ino ino, Lock& lock) {
  Node* dir = &Get(ino);
  if (dir->kind != Node::Kind::kFolder) throw Error(Errc::kNotDir, "not a folder");
  if (dir->F().listed) {
    if (options_.relist_seconds <= 0 || dir->F().virtual_dot ||
        std::chrono::steady_clock::now() - dir->F().listed_at < std::chrono::seconds(options_.relist_seconds)) {
      return *dir;
    }
    // Listed too long ago: list again. Its entries keep answering meanwhile.
    dir->F().listed = false;
  }
  auto load_mu = dir->F().load_mu;
  lock.unlock();
  {
    std::lock_guard<std::mutex> load_lock(*load_mu);
    bool listed;
    {
      std::lock_guard<std::mutex> relock(mu_);
      listed = Get(ino).F().listed;  // another thread listed it while we waited
    }
    if (!listed) LoadFolder(ino);
  }
  lock.lock();
  return Get(ino);
}

void Filesystem::RecomputeNames(Node& dir, std::vector<std::pair<Ino, std::string>>* gone) {
  // Remove old message names, keep folders and staged entries.
  std::map<std::string, Ino> old_names;
  for (auto it = dir.F().entries.begin(); it != dir.F().entries.end();) {
    auto n = nodes_.find(it->second);
    if (n != nodes_.end() && n->second->kind == Node::Kind::kMessage) {
      old_names[it->first] = it->second;
      it = dir.F().entries.erase(it);
    } else {
      ++it;
    }
  }
  std::map<std::string, std::vector<Node*>> by_base;
  std::erase_if(dir.F().messages, [&](Ino m) { return nodes_.count(m) == 0; });
  for (Ino m : dir.F().messages) {
    Node& n = Get(m);
    if (n.msg->side) {
      n.name = n.msg->base;
      dir.F().entries[n.name] = m;
    } else if (n.msg->unreadable) {
      n.name = UnreadableName(n.msg->key.value);
      dir.F().entries[n.name] = m;
    } else {
      by_base[n.msg->base].push_back(&n);
    }
  }
  for (auto& [base, group] : by_base) {
    if (group.size() == 1) {
      group[0]->name = UniqueName(base);
      dir.F().entries[group[0]->name] = group[0]->ino;
      continue;
    }
    std::sort(group.begin(), group.end(), CollisionOrder);
    std::map<std::string, int> dup;
    for (Node* n : group) {
      int index = ++dup[n->msg->sha256_hex];
      n->name = CollisionName(base, n->msg->sha256_hex, index);
      dir.F().entries[n->name] = n->ino;
    }
  }
  if (gone != nullptr) {
    for (const auto& [name, ino] : old_names) {
      auto it = dir.F().entries.find(name);
      if (it == dir.F().entries.end() || it->second != ino) gone->emplace_back(dir.ino, name);
    }
  }
}

std::vector<Filesystem::Node*> Filesystem::Group(Node& dir, const std::string& base) {
  std::vector<Node*> group;
  for (Ino m : dir.F().messages) {
    auto it = nodes_.find(m);
    if (it == nodes_.end()) continue;
    Node& n = *it->second;
    if (n.kind == Node::Kind::kMessage && !n.msg->side && !n.msg->unreadable && n.msg->base == base) {
      group.push_back(&n);
    }
  }
  return group;
}

// Order of a collision group (§3): by content hash, and byte-identical
// duplicates by internal date, then flags, then store identity — so a copy
// that keeps dates and flags (cp -a, rsync -aX) gives every duplicate the
// same -N suffix in the destination as in the source, and a second rsync
// finds nothing to send.
bool Filesystem::CollisionOrder(const Node* a, const Node* b) {
  const MessageState& x = *a->msg;
  const MessageState& y = *b->msg;
  if (x.sha256_hex != y.sha256_hex) return x.sha256_hex < y.sha256_hex;
  if (x.mtime != y.mtime) return x.mtime < y.mtime;
  std::string fx = FormatFlags(x.flags), fy = FormatFlags(y.flags);
  if (fx != fy) return fx < fy;
  return x.key.value < y.key.value;
}

void Filesystem::ForgetListing(Node& dir) {
  dir.F().listed = false;  // its messages keep their inodes when listed again
  std::erase_if(dir.F().entries, [&](const auto& e) {
    auto n = nodes_.find(e.second);
    return n != nodes_.end() && n->second->kind == Node::Kind::kMessage;
  });
}

void Filesystem::RenameGroup(Node& dir, const std::string& base,
                             std::vector<std::pair<Ino, std::string>>* gone) {
  std::vector<Node*> group = Group(dir, base);
  std::vector<std::pair<Ino, std::string>> old;
  for (Node* n : group) {
    auto e = dir.F().entries.find(n->name);
    if (e != dir.F().entries.end() && e->second == n->ino) {
      old.emplace_back(n->ino, n->name);
      dir.F().entries.erase(e);
    }
  }
  if (group.size() == 1) {
    group[0]->name = UniqueName(base);
    dir.F().entries[group[0]->name] = group[0]->ino;
  } else if (group.size() > 1) {
    std::sort(group.begin(), group.end(), CollisionOrder);
    std::map<std::string, int> dup;
    for (Node* n : group) {
      n->name = CollisionName(base, n->msg->sha256_hex, ++dup[n->msg->sha256_hex]);
      dir.F().entries[n->name] = n->ino;
    }
  }
  for (const auto& [ino, name] : old) {
    auto it = dir.F().entries.find(name);
    if (it == dir.F().entries.end() || it->second != ino) {
      // The old name keeps resolving (not listed), so a tool that read the
      // folder before, like rm -r, still finds the message by it.
      if (it == dir.F().entries.end() && nodes_.count(ino) != 0) dir.F().aliases[name] = ino;
      if (gone != nullptr) gone->emplace_back(dir.ino, name);
    }
  }
}

void Filesystem::EraseNames(Node& dir, Ino ino) {
  auto it = nodes_.find(ino);
  if (it != nodes_.end()) {
    auto e = dir.F().entries.find(it->second->name);
    if (e != dir.F().entries.end() && e->second == ino) dir.F().entries.erase(e);
  }
  std::erase_if(dir.F().aliases, [&](const auto& a) { return a.second == ino; });
}

void Filesystem::EnsureHashes(Ino dir_ino, const std::string& base) {
  std::vector<std::pair<FolderId, std::shared_ptr<MessageState>>> todo;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Node& dir = Get(dir_ino);
    for (Node* n : Group(dir, base)) {
      if (n->msg->sha256_hex.empty()) todo.emplace_back(dir.F().folder, n->msg);
    }
  }
  if (todo.empty()) return;
  std::vector<MessageState*> states;
  for (auto& [folder, msg] : todo) states.push_back(msg.get());
  std::vector<std::string> hashes(states.size());
  HashMessages(todo.front().first, states, &hashes, true);
  std::lock_guard<std::mutex> lock(mu_);
  for (std::size_t i = 0; i < states.size(); ++i) states[i]->sha256_hex = hashes[i];
}

void Filesystem::HashMessages(const FolderId& folder, const std::vector<MessageState*>& msgs,
                              std::vector<std::string>* out, bool rethrow) {
  // Messages with their own content (renderings) are hashed from it; the
  // others are fetched together, in as few round trips as the store allows.
  std::vector<MessageKey> keys;
  std::vector<std::size_t> fetched;
  auto put = [&](std::size_t i, const std::string& hash) {
    if (out != nullptr) {
      (*out)[i] = hash;
    } else {
      msgs[i]->sha256_hex = hash;
    }
  };
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    MessageState& m = *msgs[i];
    if (m.unreadable || m.content) {
      try {
        put(i, Sha256HexOfBlob(*FetchServed(folder, m)));
      } catch (const Error& e) {
        if (rethrow) throw;
        m.unreadable = true;
        m.error = e.what();
      }
      continue;
    }
    keys.push_back(m.key);
    fetched.push_back(i);
  }
  if (keys.empty()) return;
  backend_->FetchEach(folder, keys, [&](std::size_t k, const BlobPtr& blob, const Error* error) {
    std::size_t i = fetched[k];
    if (error == nullptr) {
      try {
        put(i, Sha256HexOfBlob(*blob));
        return;
      } catch (const Error& e) {
        if (rethrow) throw;
        msgs[i]->unreadable = true;
        msgs[i]->error = e.what();
        return;
      }
    }
    if (rethrow) throw *error;
    msgs[i]->unreadable = true;
    msgs[i]->error = error->what();
  });
}

void Filesystem::FlushInvalidations(std::vector<std::pair<Ino, std::string>>& gone) {
  if (invalidator_ == nullptr) return;
  for (const auto& [parent, name] : gone) invalidator_->InvalidateEntry(parent, name);
  gone.clear();
}

void Filesystem::DropNodeIfUnused(Ino ino) {
  auto it = nodes_.find(ino);
  if (it == nodes_.end() || ino == kRootIno) return;
  Node& n = *it->second;
  if (n.nlookup > 0 || n.open_handles > 0) return;
  // Still reachable from its parent's listing?
  auto p = nodes_.find(n.parent);
  if (p != nodes_.end()) {
    const FolderState& dir = p->second->F();
    auto e = dir.entries.find(n.name);
    if (e != dir.entries.end() && e->second == ino) return;
    for (const auto& [name, child] : dir.aliases) {
      if (child == ino) return;
    }
  }
  if (n.kind == Node::Kind::kFolder) {
    if (!n.F().entries.empty()) return;
    folder_inos_.erase(n.F().folder.value);
  } else if (n.kind == Node::Kind::kMessage && p != nodes_.end()) {
  }
  nodes_.erase(it);
}

// ---------------------------------------------------------------------------
// Lookup and attributes.

Attr Filesystem::Lookup(Ino parent, const std::string& name) {
  Lock lock(mu_);
  Node& dir = EnsureListed(parent, lock);
  Node* child = FindChild(dir, name);
  if (child == nullptr) throw Error(Errc::kNotFound, "no such entry");
  ++child->nlookup;
  return MakeAttr(*child);
}

void Filesystem::Forget(Ino ino, std::uint64_t count) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  Node& n = *it->second;
  n.nlookup = count > n.nlookup ? 0 : n.nlookup - count;
  DropNodeIfUnused(ino);
}

void Filesystem::AddLookup(Ino ino) {
  std::lock_guard<std::mutex> lock(mu_);
  ++Get(ino).nlookup;
}

Attr Filesystem::GetAttr(Ino ino) {
  std::lock_guard<std::mutex> lock(mu_);
  return MakeAttr(Get(ino));
}

std::shared_ptr<Filesystem::MessageState> Filesystem::CommittedUnderWrite(const Node& node) const {
  if (node.kind == Node::Kind::kMessage) return node.msg;
  if (node.kind == Node::Kind::kStaged && !node.staging->dirty) return node.staging->replaces;
  return nullptr;  // new content waits for its commit, which applies the metadata
}

Attr Filesystem::SetAttr(Ino ino, const SetAttrRequest& request) {
  Lock lock(mu_);
  Node* node = &Get(ino);
  if (!options_.writable) {
    if (request.mtime || request.size) throw Error(Errc::kReadOnly, "read-only mount");
    return MakeAttr(*node);  // chmod/chown on a read-only mount: the kernel's ro flag refuses first
  }
  if (node->kind == Node::Kind::kFolder) return MakeAttr(*node);  // folder times, modes: ignored
  if (request.size) {
    if (node->kind == Node::Kind::kMessage) {
      if (*request.size == node->msg->size) {
        // nothing to do
      } else {
        // Truncating a committed message outside an open handle: stage an
        // overwrite holding the truncated bytes.
        auto staging = std::make_shared<Staging>();
        staging->file = std::make_shared<StagingFile>(staging_dir_);
        staging->replaces = node->msg;
        Node& dir = Get(node->parent);
        FolderId folder = dir.F().folder;
        auto msg = node->msg;
        lock.unlock();
        if (*request.size > 0) {
          BlobPtr old = FetchServed(folder, *msg);
          std::vector<char> buf(1 << 20);
          std::uint64_t off = 0;
          while (off < *request.size) {
            std::size_t got = old->ReadAt(off, buf.data(), std::min<std::uint64_t>(buf.size(), *request.size - off));
            if (got == 0) break;
            staging->file->WriteAt(off, buf.data(), got);
            off += got;
          }
        }
        staging->file->Truncate(*request.size);
        staging->dirty = true;
        lock.lock();
        node = &Get(ino);
        node->kind = Node::Kind::kStaged;
        node->staging = staging;
      }
    } else {
      node->staging->file->Truncate(*request.size);
      node->staging->dirty = true;
    }
  }
  if (request.mtime) {
    if (node->kind == Node::Kind::kStaged) node->staging->mtime = *request.mtime;
    // A committed message opened for writing but not written (touch(1)
    // opens O_WRONLY, then sets the time on the descriptor) has nothing to
    // commit at FLUSH: the change goes to the stored message now.
    std::shared_ptr<MessageState> committed = CommittedUnderWrite(*node);
    if (committed && committed->mtime != *request.mtime) {
      if (!caps_.can_set_internal_date) throw Error(Errc::kReadOnly, "the store cannot change internal dates");
      Node& dir = Get(node->parent);
      FolderId folder = dir.F().folder;
      auto msg = committed;
      lock.unlock();
      MessageKey key = backend_->SetInternalDate(folder, msg->key, *request.mtime);
      lock.lock();
      node = &Get(ino);
      if (key.value != msg->key.value) {
      }
      msg->key = key;
      msg->mtime = *request.mtime;
      // A message without Date: is named by its internal date.
      std::vector<std::pair<Ino, std::string>> gone;
      std::string before = msg->base;
      try {
        BlobPtr b = FetchServed(folder, *msg);
        std::string head(std::min<std::uint64_t>(b->Size(), 65536), '\0');
        lock.unlock();
        head.resize(b->ReadAt(0, head.data(), head.size()));
        lock.lock();
        node = &Get(ino);
        msg->base = MessageBaseName(mime::HeaderBlock(head), msg->mtime);
      } catch (const Error& e) {
        LOG(kWarning) << "cannot re-read " << key.value << ": " << e.what();
      }
      if (msg->base != before) {
        Node& d = Get(node->parent);
        // The written name keeps resolving (§6).
        d.F().aliases[node->name] = ino;
        RenameGroup(d, before, &gone);
        RenameGroup(d, msg->base, &gone);
      }
      lock.unlock();
      FlushInvalidations(gone);
      lock.lock();
      node = &Get(ino);
    }
  }
  return MakeAttr(*node);
}

std::vector<DirEntry> Filesystem::ReadDir(Ino ino) {
  Lock lock(mu_);
  Node& dir = EnsureListed(ino, lock);
  std::vector<DirEntry> out;
  out.reserve(dir.F().entries.size());
  for (const auto& [name, child] : dir.F().entries) {
    auto it = nodes_.find(child);
    if (it == nodes_.end()) continue;
    out.push_back(DirEntry{name, MakeAttr(*it->second)});
  }
  return out;
}

// ---------------------------------------------------------------------------
// Files.

std::uint64_t Filesystem::Open(Ino ino, int flags) {
  Lock lock(mu_);
  Node* node = &Get(ino);
  if (node->kind == Node::Kind::kFolder) throw Error(Errc::kIsDir, "is a folder");
  bool write = (flags & O_ACCMODE) != O_RDONLY;
  if (write) RequireWritable();
  if (write && node->kind == Node::Kind::kMessage) {
    if (node->msg->unreadable) throw Error(Errc::kCorrupt, node->msg->error);
    // Overwrite of a committed message: stage it (§6 "Overwrite").
    auto staging = std::make_shared<Staging>();
    staging->replaces = node->msg;
    Node& dir = Get(node->parent);
    FolderId folder = dir.F().folder;
    auto msg = node->msg;
    lock.unlock();
    staging->file = std::make_shared<StagingFile>(staging_dir_);
    if ((flags & O_TRUNC) == 0) {
      BlobPtr old = FetchServed(folder, *msg);
      std::vector<char> buf(1 << 20);
      std::uint64_t off = 0;
      for (;;) {
        std::size_t got = old->ReadAt(off, buf.data(), buf.size());
        if (got == 0) break;
        staging->file->WriteAt(off, buf.data(), got);
        off += got;
      }
    }
    lock.lock();
    node = &Get(ino);
    node->kind = Node::Kind::kStaged;
    node->staging = staging;
  } else if (write && (flags & O_TRUNC) != 0 && node->kind == Node::Kind::kStaged) {
    node->staging->file->Truncate(0);
    node->staging->dirty = true;
  } else if (!write && node->kind == Node::Kind::kMessage && node->msg->unreadable) {
    LOG(kError) << "cannot read " << Redacted(PathOf(*node)) << ": " << node->msg->error;
    throw Error(Errc::kCorrupt, node->msg->error);
  }
  auto h = std::make_unique<Handle>();
  h->ino = ino;
  h->write = write;
  std::uint64_t fh = next_fh_++;
  handles_[fh] = std::move(h);
  ++node->open_handles;
  return fh;
}

bool Filesystem::IsCommittedMessage(Ino ino) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(ino);
  return it != nodes_.end() && it->second->kind == Node::Kind::kMessage;
}

std::size_t Filesystem::Read(std::uint64_t fh, std::uint64_t offset, char* buf, std::size_t size) {
  Lock lock(mu_);
  auto it = handles_.find(fh);
  if (it == handles_.end()) throw Error(Errc::kInvalid, "bad file handle");
  Handle* h = it->second.get();
  Node& node = Get(h->ino);
  if (node.kind == Node::Kind::kStaged) {
    auto file = node.staging->file;
    lock.unlock();
    return file->ReadAt(offset, buf, size);
  }
  auto msg = node.msg;
  FolderId folder = Get(node.parent).F().folder;
  std::string path = PathOf(node);
  lock.unlock();
  BlobPtr blob;
  {
    std::lock_guard<std::mutex> hl(h->mu);
    if (!h->blob) h->blob = FetchChecked(folder, *msg, path);
    blob = h->blob;
  }
  try {
    return blob->ReadAt(offset, buf, size);
  } catch (const Error& e) {
    LOG(kError) << "cannot read " << Redacted(path) << " (" << msg->key.value << "): " << e.what();
    throw;
  }
}

std::size_t Filesystem::ReadNode(Ino ino, std::uint64_t offset, char* buf, std::size_t size) {
  constexpr std::size_t kRecent = 16;
  BlobPtr blob;
  {
    std::lock_guard<std::mutex> lock(recent_mu_);
    for (auto& [i, b] : recent_) {
      if (i == ino) {
        blob = b;
        break;
      }
    }
  }
  if (!blob) {
    std::shared_ptr<MessageState> msg;
    FolderId folder;
    std::string path;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Node& node = Get(ino);
      if (node.kind == Node::Kind::kFolder) throw Error(Errc::kIsDir, "is a folder");
      if (node.kind != Node::Kind::kMessage) throw Error(Errc::kInvalid, "not a stored message");
      msg = node.msg;
      folder = Get(node.parent).F().folder;
      path = PathOf(node);
    }
    blob = FetchChecked(folder, *msg, path);
    std::lock_guard<std::mutex> lock(recent_mu_);
    recent_.insert(recent_.begin(), {ino, blob});
    if (recent_.size() > kRecent) recent_.pop_back();
  }
  return blob->ReadAt(offset, buf, size);
}

std::size_t Filesystem::Write(std::uint64_t fh, std::uint64_t offset, const char* data, std::size_t size) {
  Lock lock(mu_);
  auto it = handles_.find(fh);
  if (it == handles_.end()) throw Error(Errc::kInvalid, "bad file handle");
  Handle* h = it->second.get();
  if (!h->write) throw Error(Errc::kInvalid, "not open for writing");
  Node& node = Get(h->ino);
  if (node.kind != Node::Kind::kStaged) throw Error(Errc::kInvalid, "message is not being written");
  auto staging = node.staging;
  h->wrote = true;
  staging->dirty = true;
  lock.unlock();
  try {
    staging->file->WriteAt(offset, data, size);
  } catch (const Error& e) {
    std::lock_guard<std::mutex> relock(mu_);
    staging->write_errno = 1;
    staging->write_error = e.code();
    staging->write_message = e.what();
    throw;
  }
  return size;
}

void Filesystem::Flush(std::uint64_t fh) {
  Ino ino;
  Ino dir_ino;
  std::string name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = handles_.find(fh);
    if (it == handles_.end()) return;
    Handle* h = it->second.get();
    if (!h->write) return;
    Node& node = Get(h->ino);
    if (node.kind != Node::Kind::kStaged || node.parent == 0) return;
    if (node.staging->write_errno != 0) {
      throw Error(node.staging->write_error, "an earlier write failed: " + node.staging->write_message);
    }
    if (!h->wrote && !node.staging->dirty) return;
    Node& dir = Get(node.parent);
    if (IsDotContext(dir, node.name)) return;  // committed at rename (§6)
    if (!h->wrote) return;
    h->wrote = false;
    ino = node.ino;
    dir_ino = dir.ino;
    name = node.name;
  }
  Commit(ino, dir_ino, name);
}

void Filesystem::Fsync(std::uint64_t fh) {
  // Commits are durable when they return; a staged file is committed at
  // FLUSH, so fsync has nothing left to do.
  (void)fh;
}

void Filesystem::Release(std::uint64_t fh) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = handles_.find(fh);
  if (it == handles_.end()) return;
  Ino ino = it->second->ino;
  handles_.erase(it);
  auto n = nodes_.find(ino);
  if (n == nodes_.end()) return;
  if (n->second->open_handles > 0) --n->second->open_handles;
  DropNodeIfUnused(ino);
}

Filesystem::Created Filesystem::Create(Ino parent, const std::string& name, int flags) {
  RequireWritable();
  if (name.size() > 255) throw Error(Errc::kInvalid, "name too long");
  auto staging = std::make_shared<Staging>();
  staging->file = std::make_shared<StagingFile>(staging_dir_);
  Lock lock(mu_);
  Node& dir = EnsureListed(parent, lock);
  if (!dir.F().selectable && !dir.F().virtual_dot) throw Error(Errc::kPermission, "this folder cannot hold messages");
  if (Node* existing = FindChild(dir, name)) {
    if ((flags & O_EXCL) != 0) throw Error(Errc::kExists, "exists");
    Ino ino = existing->ino;
    lock.unlock();
    std::uint64_t fh = Open(ino, flags | O_TRUNC);
    std::lock_guard<std::mutex> relock(mu_);
    Node& n = Get(ino);
    ++n.nlookup;
    return Created{MakeAttr(n), fh};
  }
  auto node = std::make_unique<Node>();
  node->kind = Node::Kind::kStaged;
  node->parent = parent;
  node->name = name;
  node->staging = staging;
  node->nlookup = 1;
  node->open_handles = 1;
  Ino ino = NewNode(std::move(node));
  Get(parent).F().entries[name] = ino;
  auto h = std::make_unique<Handle>();
  h->ino = ino;
  h->write = true;
  std::uint64_t fh = next_fh_++;
  handles_[fh] = std::move(h);
  return Created{MakeAttr(Get(ino)), fh};
}

// ---------------------------------------------------------------------------
// Commit (design.md §6).

void Filesystem::Commit(Ino ino, Ino dir_ino, const std::string& written_name) {
  std::shared_ptr<Staging> staging;
  FolderId folder;
  std::string path;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Node& node = Get(ino);
    staging = node.staging;
    folder = Get(dir_ino).F().folder;
    path = PathOf(Get(dir_ino)) + "/" + written_name;
  }
  auto fail = [&](const Error& e) {
    LOG(kError) << "cannot store " << Redacted(path) << ": " << e.what();
    // After a failed commit the written name no longer resolves (§6).
    std::lock_guard<std::mutex> lock(mu_);
    auto n = nodes_.find(ino);
    if (n != nodes_.end()) {
      Node& node = *n->second;
      auto d = nodes_.find(node.parent);
      if (d != nodes_.end()) {
        auto e1 = d->second->F().entries.find(node.name);
        if (e1 != d->second->F().entries.end() && e1->second == ino) d->second->F().entries.erase(e1);
      }
      if (node.staging) node.staging->dirty = false;
      node.parent = 0;
    }
  };
  PreparedMessage prepared;
  try {
    prepared = PrepareForCommit(staging->file, staging_dir_, options_.accept_incomplete);
  } catch (const Error& e) {
    fail(e);
    throw;
  }
  Flags flags = staging->flags.value_or(Flags{});
  std::int64_t date = staging->mtime.value_or(NowSeconds());
  auto replaced = staging->replaces;
  std::optional<MessageKey> key;
  std::string base = MessageBaseName(prepared.header_block, date);
  bool metadata_only = false;
  try {
    if (replaced && !replaced->unreadable) {
      if (replaced->sha256_hex.empty()) replaced->sha256_hex = Sha256HexOfBlob(*FetchServed(folder, *replaced));
      metadata_only = replaced->sha256_hex == prepared.sha256_hex;
    }
    if (metadata_only) {
      if (FormatFlags(replaced->flags) != FormatFlags(flags)) backend_->SetFlags(folder, replaced->key, flags);
      key = replaced->key;
      if (replaced->mtime != date) key = backend_->SetInternalDate(folder, replaced->key, date);
    } else {
      key = backend_->Append(folder, *prepared.content, flags, date);
      if (replaced) {
        try {
          backend_->Delete(folder, replaced->key);
        } catch (const Error& e) {
          LOG(kWarning) << "stored " << Redacted(path) << " but could not remove the message it replaces ("
                        << replaced->key.value << "): " << e.what();
        }
      }
    }
  } catch (const Error& e) {
    fail(e);
    // The store may hold the message even so (an IMAP APPEND whose answer
    // was lost, "outcome unknown"): list the folder again before anything
    // else is looked up in it, so a re-run finds it instead of storing it twice.
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto d = nodes_.find(dir_ino);
      if (d != nodes_.end() && d->second->kind == Node::Kind::kFolder) ForgetListing(*d->second);
    }
    throw;
  }
  std::vector<std::pair<Ino, std::string>> gone;
  if (!key) {
    // The store cannot tell the new key: list the folder again.
    std::lock_guard<std::mutex> lock(mu_);
    Node& dir = Get(dir_ino);
    Node& node = Get(ino);
    dir.F().entries.erase(node.name);
    dir.F().aliases[written_name] = ino;
    node.kind = Node::Kind::kMessage;
    node.staging.reset();
    auto m = std::make_shared<MessageState>();
    m->size = prepared.content->Size();
    m->mtime = date;
    m->flags = flags;
    m->base = base;
    m->sha256_hex = prepared.sha256_hex;
    node.msg = m;
    ForgetListing(dir);
    return;
  }
  bool collides = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Node* n : Group(Get(dir_ino), base)) {
      if (n->ino != ino && n->msg != replaced) collides = true;
    }
  }
  if (collides) EnsureHashes(dir_ino, base);
  {
    std::lock_guard<std::mutex> lock(mu_);
    Node& dir = Get(dir_ino);
    Node& node = Get(ino);
    auto m = std::make_shared<MessageState>();
    m->key = *key;
    m->size = prepared.content->Size();
    m->mtime = date;
    m->flags = flags;
    m->base = base;
    m->sha256_hex = prepared.sha256_hex;
    if (replaced) {
      dir.F().messages.erase(std::remove_if(dir.F().messages.begin(), dir.F().messages.end(),
                                        [&](Ino i) { return nodes_.count(i) == 0 || Get(i).msg == replaced; }),
                         dir.F().messages.end());
    }
    dir.F().entries.erase(node.name);
    node.kind = Node::Kind::kMessage;
    node.msg = m;
    if (staging->dirty && node.staging == staging) staging->dirty = false;
    node.staging.reset();
    if (std::find(dir.F().messages.begin(), dir.F().messages.end(), ino) == dir.F().messages.end()) dir.F().messages.push_back(ino);
    RenameGroup(dir, base, &gone);
    if (replaced && replaced->base != base) RenameGroup(dir, replaced->base, &gone);
    if (node.name != written_name) dir.F().aliases[written_name] = ino;
  }
  FlushInvalidations(gone);
}

// ---------------------------------------------------------------------------
// Folders and names.

Attr Filesystem::Mkdir(Ino parent, const std::string& name) {
  RequireWritable();
  Lock lock(mu_);
  Node& dir = EnsureListed(parent, lock);
  if (FindChild(dir, name) != nullptr) throw Error(Errc::kExists, "exists");
  if (name.size() > 255) throw Error(Errc::kInvalid, "name too long");
  if (IsDotContext(dir, name)) {
    // Dot-folders are never created in the store (§6).
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::kFolder;
    node->dir = std::make_unique<FolderState>();
    node->F().virtual_dot = true;
    node->F().listed = true;
    node->F().listed_at = std::chrono::steady_clock::now();
    node->parent = parent;
    node->name = name;
    node->nlookup = 1;
    node->F().folder = FolderId{dir.F().folder.value + "\n." + name};
    Ino ino = NewNode(std::move(node));
    Get(parent).F().entries[name] = ino;
    return MakeAttr(Get(ino));
  }
  if (!caps_.folders_writable) throw Error(Errc::kReadOnly, "this store cannot create folders");
  std::string store_name = UnescapeFolderName(name);
  if (caps_.forbidden_name_char != 0 && store_name.find(caps_.forbidden_name_char) != std::string::npos) {
    LOG(kWarning) << "mkdir " << Redacted(name) << ": the store's hierarchy delimiter '"
                  << caps_.forbidden_name_char << "' cannot be part of a folder name";
    throw Error(Errc::kInvalid, "folder name contains the store's hierarchy delimiter");
  }
  FolderId parent_folder = dir.F().folder;
  lock.unlock();
  FolderId id = backend_->CreateFolder(parent_folder, store_name);
  lock.lock();
  Node& d = Get(parent);
  auto node = std::make_unique<Node>();
  node->kind = Node::Kind::kFolder;
  node->dir = std::make_unique<FolderState>();
  node->F().folder = id;
  node->F().listed = true;
  node->F().listed_at = std::chrono::steady_clock::now();
  node->parent = parent;
  node->name = EscapeFolderName(store_name);
  node->nlookup = 1;
  Ino ino = NewNode(std::move(node));
  folder_inos_[id.value] = ino;
  d.F().entries[Get(ino).name] = ino;
  if (Get(ino).name != name) d.F().aliases[name] = ino;
  return MakeAttr(Get(ino));
}

void Filesystem::Unlink(Ino parent, const std::string& name) {
  RequireWritable();
  Lock lock(mu_);
  Node& dir = EnsureListed(parent, lock);
  Node* node = FindChild(dir, name);
  if (node == nullptr) throw Error(Errc::kNotFound, "no such entry");
  if (node->kind == Node::Kind::kFolder) throw Error(Errc::kIsDir, "is a folder");
  Ino ino = node->ino;
  std::shared_ptr<MessageState> msg = node->kind == Node::Kind::kMessage ? node->msg
                                      : node->staging->replaces;
  FolderId folder = dir.F().folder;
  if (msg) {
    lock.unlock();
    backend_->Delete(folder, msg->key);
    lock.lock();
  }
  std::vector<std::pair<Ino, std::string>> gone;
  Node& d = Get(parent);
  Node& n = Get(ino);
  EraseNames(d, ino);
  d.F().messages.erase(std::remove(d.F().messages.begin(), d.F().messages.end(), ino), d.F().messages.end());
  n.staging.reset();
  if (n.kind == Node::Kind::kStaged) n.kind = Node::Kind::kMessage, n.msg = msg ? msg : std::make_shared<MessageState>();
  n.parent = 0;
  if (msg && !msg->side && !msg->unreadable) RenameGroup(d, msg->base, &gone);
  DropNodeIfUnused(ino);
  lock.unlock();
  FlushInvalidations(gone);
}

void Filesystem::Rmdir(Ino parent, const std::string& name) {
  RequireWritable();
  Lock lock(mu_);
  Node& dir = EnsureListed(parent, lock);
  Node* node = FindChild(dir, name);
  if (node == nullptr) throw Error(Errc::kNotFound, "no such entry");
  if (node->kind != Node::Kind::kFolder) throw Error(Errc::kNotDir, "not a folder");
  Ino ino = node->ino;
  Node& target = EnsureListed(ino, lock);
  if (!target.F().entries.empty()) throw Error(Errc::kNotEmpty, "folder not empty");
  if (!target.F().virtual_dot) {
    FolderId folder = target.F().folder;
    lock.unlock();
    backend_->DeleteFolder(folder);
    lock.lock();
  }
  Node& d = Get(parent);
  for (auto it = d.F().entries.begin(); it != d.F().entries.end();) it = it->second == ino ? d.F().entries.erase(it) : std::next(it);
  for (auto it = d.F().aliases.begin(); it != d.F().aliases.end();) it = it->second == ino ? d.F().aliases.erase(it) : std::next(it);
  Node& t = Get(ino);
  folder_inos_.erase(t.F().folder.value);
  t.parent = 0;
  DropNodeIfUnused(ino);
}

void Filesystem::Rename(Ino parent, const std::string& name, Ino new_parent, const std::string& new_name,
                        unsigned flags) {
  if ((flags & ~static_cast<unsigned>(RENAME_NOREPLACE)) != 0) {
    throw Error(Errc::kInvalid, "RENAME_EXCHANGE and RENAME_WHITEOUT are not supported");
  }
  RequireWritable();
  Lock lock(mu_);
  Node& src_dir = EnsureListed(parent, lock);
  Node* node = FindChild(src_dir, name);
  if (node == nullptr) throw Error(Errc::kNotFound, "no such entry");
  Ino ino = node->ino;
  Node& dst_dir = EnsureListed(new_parent, lock);
  node = &Get(ino);
  Node* target = FindChild(dst_dir, new_name);
  if (target != nullptr && target->ino == ino) return;
  if (target != nullptr && (flags & RENAME_NOREPLACE) != 0) throw Error(Errc::kExists, "exists");
  if (new_name.size() > 255) throw Error(Errc::kInvalid, "name too long");
  bool dst_dot = IsDotContext(dst_dir, new_name);

  if (node->kind == Node::Kind::kFolder) {
    if (node->F().virtual_dot != dst_dot) {
      // A dot-folder lives only in the mount: let mv copy it (EXDEV).
      throw Error(Errc::kUnsupported, "cross-device: dot-folders exist only in the mount");
    }
    if (target != nullptr) {
      if (target->kind != Node::Kind::kFolder) throw Error(Errc::kNotDir, "not a folder");
      Ino tino = target->ino;
      Node& t = EnsureListed(tino, lock);
      if (!t.F().entries.empty()) throw Error(Errc::kNotEmpty, "folder not empty");
      lock.unlock();
      Rmdir(new_parent, new_name);
      lock.lock();
    }
    Node& n = Get(ino);
    if (n.F().virtual_dot) {
      Get(parent).F().entries.erase(name);
      n.parent = new_parent;
      n.name = new_name;
      Get(new_parent).F().entries[new_name] = ino;
      return;
    }
    for (Ino p = new_parent; p != 0 && p != kRootIno; p = Get(p).parent) {
      if (p == ino) throw Error(Errc::kInvalid, "cannot move a folder into itself");
    }
    if (!caps_.folders_writable) throw Error(Errc::kReadOnly, "this store cannot rename folders");
    FolderId folder = n.F().folder;
    FolderId dest = Get(new_parent).F().folder;
    std::string store_name = UnescapeFolderName(new_name);
    if (caps_.forbidden_name_char != 0 && store_name.find(caps_.forbidden_name_char) != std::string::npos) {
      throw Error(Errc::kInvalid, "folder name contains the store's hierarchy delimiter");
    }
    lock.unlock();
    FolderId id = backend_->RenameFolder(folder, dest, store_name);
    lock.lock();
    Node& moved = Get(ino);
    Get(parent).F().entries.erase(name);
    Get(parent).F().aliases.erase(name);
    folder_inos_.erase(folder.value);
    moved.F().folder = id;
    folder_inos_[id.value] = ino;
    moved.parent = new_parent;
    moved.name = EscapeFolderName(store_name);
    Get(new_parent).F().entries[moved.name] = ino;
    // Everything below has new ids: list it again when asked.
    moved.F().listed = false;
    moved.F().entries.clear();
    moved.F().aliases.clear();
    lock.unlock();
    if (invalidator_ != nullptr) invalidator_->InvalidateInode(ino);
    return;
  }

  if (node->kind == Node::Kind::kStaged) {
    if (dst_dot) {
      Get(parent).F().entries.erase(name);
      node->parent = new_parent;
      node->name = new_name;
      if (target != nullptr) {
        // The replaced entry disappears (a staged file or a message).
        Ino tino = target->ino;
        lock.unlock();
        Unlink(new_parent, new_name);
        lock.lock();
        (void)tino;
      }
      Get(new_parent).F().entries[new_name] = ino;
      return;
    }
    // Commit at rename (rsync's temporary files, §6).
    if (target != nullptr && target->kind == Node::Kind::kFolder) throw Error(Errc::kIsDir, "is a folder");
    std::shared_ptr<MessageState> replaced;
    if (target != nullptr && target->kind == Node::Kind::kMessage) replaced = target->msg;
    Ino tino = target != nullptr ? target->ino : 0;
    if (!Get(new_parent).F().selectable) throw Error(Errc::kPermission, "this folder cannot hold messages");
    Get(parent).F().entries.erase(name);
    node->parent = new_parent;
    node->name = new_name;
    if (replaced) node->staging->replaces = replaced;
    if (tino != 0) {
      Node& t = Get(tino);
      Node& d = Get(new_parent);
      d.F().entries.erase(new_name);
      d.F().aliases.erase(new_name);
      if (t.kind == Node::Kind::kStaged) t.parent = 0;
    }
    Get(new_parent).F().entries[new_name] = ino;
    lock.unlock();
    try {
      Commit(ino, new_parent, new_name);
    } catch (const Error&) {
      // The rename failed: the temporary file is still there under its old
      // name (rsync unlinks it; otherwise it is reported NOT STORED).
      std::lock_guard<std::mutex> relock(mu_);
      auto n = nodes_.find(ino);
      auto d = nodes_.find(parent);
      if (n != nodes_.end() && d != nodes_.end() && n->second->kind == Node::Kind::kStaged) {
        n->second->parent = parent;
        n->second->name = name;
        n->second->staging->dirty = true;
        d->second->F().entries[name] = ino;
      }
      throw;
    }
    return;
  }

  // A committed message.
  if (parent == new_parent) {
    throw Error(Errc::kPermission, "a message's name is computed from its content; it cannot be renamed");
  }
  if (dst_dot) throw Error(Errc::kUnsupported, "cross-device: dot-folders exist only in the mount");
  if (target != nullptr && target->kind == Node::Kind::kFolder) throw Error(Errc::kIsDir, "is a folder");
  if (!Get(new_parent).F().selectable) throw Error(Errc::kPermission, "this folder cannot hold messages");
  std::shared_ptr<MessageState> replaced;
  if (target != nullptr && target->kind == Node::Kind::kMessage) replaced = target->msg;
  Ino tino_replaced = replaced ? target->ino : 0;
  auto msg = node->msg;
  FolderId from = Get(parent).F().folder;
  FolderId to = Get(new_parent).F().folder;
  lock.unlock();
  std::optional<MessageKey> key = backend_->Move(from, msg->key, to);
  if (replaced && replaced->key.value != (key ? key->value : "")) {
    try {
      backend_->Delete(to, replaced->key);
    } catch (const Error& e) {
      LOG(kWarning) << "moved a message over " << Redacted(new_name) << " but could not remove the old one: "
                    << e.what();
    }
  }
  std::vector<std::pair<Ino, std::string>> gone;
  lock.lock();
  Node& sd = Get(parent);
  Node& dd = Get(new_parent);
  Node& n = Get(ino);
  EraseNames(sd, ino);
  sd.F().messages.erase(std::remove(sd.F().messages.begin(), sd.F().messages.end(), ino), sd.F().messages.end());
  RenameGroup(sd, msg->base, &gone);
  if (replaced) {
    dd.F().messages.erase(std::remove_if(dd.F().messages.begin(), dd.F().messages.end(),
                                     [&](Ino i) { return nodes_.count(i) == 0 || Get(i).msg == replaced; }),
                      dd.F().messages.end());
  }
  if (!key) {
    ForgetListing(dd);
    n.parent = 0;
  } else {
    msg->key = *key;
    n.parent = new_parent;
    dd.F().messages.push_back(ino);
    bool collides = Group(dd, msg->base).size() > 1;
    if (collides && msg->sha256_hex.empty()) {
      lock.unlock();
      EnsureHashes(new_parent, msg->base);
      lock.lock();
    }
    Node& dd2 = Get(new_parent);
    if (replaced) {
      EraseNames(dd2, tino_replaced);
      if (replaced->base != msg->base) RenameGroup(dd2, replaced->base, &gone);
    }
    RenameGroup(dd2, msg->base, &gone);
    Node& n2 = Get(ino);
    if (n2.name != new_name) dd2.F().aliases[new_name] = ino;
  }
  lock.unlock();
  FlushInvalidations(gone);
}

// ---------------------------------------------------------------------------
// Extended attributes.

namespace {
constexpr const char kFlagsXattr[] = "user.mail.flags";
constexpr const char kIdXattr[] = "user.mail.id";
constexpr const char kMessageIdXattr[] = "user.mail.message-id";
constexpr const char kSpecialUseXattr[] = "user.mail.special-use";

bool IsForeignNamespace(const std::string& name) {
  return name.rfind("system.", 0) == 0 || name.rfind("security.", 0) == 0 || name.rfind("trusted.", 0) == 0;
}
}  // namespace

// Read from the served bytes when asked (rarely: the name is not listed), so
// listings do not keep a copy for every message.
std::string Filesystem::MessageIdOf(Ino ino) {
  std::shared_ptr<MessageState> msg;
  FolderId folder;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Node& node = Get(ino);
    if (node.kind != Node::Kind::kMessage || node.msg->side || node.msg->unreadable) {
      throw Error(Errc::kNotFound, "no such attribute");
    }
    msg = node.msg;
    folder = Get(node.parent).F().folder;
  }
  BlobPtr blob = FetchServed(folder, *msg);
  std::string head(std::min<std::uint64_t>(blob->Size(), 65536), '\0');
  head.resize(blob->ReadAt(0, head.data(), head.size()));
  std::string id;
  if (auto mid = mime::FirstHeader(mime::HeaderBlock(head), "Message-ID")) id = mime::MessageIdToken(*mid);
  if (id.empty()) throw Error(Errc::kNotFound, "no Message-ID");
  return id;
}

std::string Filesystem::GetXattr(Ino ino, const std::string& name) {
  if (IsForeignNamespace(name)) throw Error(Errc::kUnsupported, "only user.mail.* attributes are stored");
  if (name == kMessageIdXattr) return MessageIdOf(ino);
  std::lock_guard<std::mutex> lock(mu_);
  Node& node = Get(ino);
  if (node.kind == Node::Kind::kFolder) {
    if (name == kSpecialUseXattr && !node.F().special_use.empty()) return node.F().special_use;
    throw Error(Errc::kNotFound, "no such attribute");
  }
  if (node.msg && node.msg->side) throw Error(Errc::kNotFound, "no such attribute");
  if (name == kFlagsXattr) {
    std::string f = node.kind == Node::Kind::kStaged ? FormatFlags(node.staging->flags.value_or(Flags{}))
                                                     : FormatFlags(node.msg->flags);
    if (f.empty()) throw Error(Errc::kNotFound, "no flags");
    return f;
  }
  if (node.kind == Node::Kind::kMessage) {
    if (name == kIdXattr) return node.msg->key.value;
  }
  throw Error(Errc::kNotFound, "no such attribute");
}

std::vector<std::string> Filesystem::ListXattr(Ino ino) {
  std::lock_guard<std::mutex> lock(mu_);
  Node& node = Get(ino);
  std::vector<std::string> out;
  if (node.kind == Node::Kind::kFolder) {
    if (!node.F().special_use.empty()) out.emplace_back(kSpecialUseXattr);
  } else {
    const Flags& f = node.kind == Node::Kind::kStaged ? node.staging->flags.value_or(Flags{}) : node.msg->flags;
    if (!FormatFlags(f).empty()) out.emplace_back(kFlagsXattr);
  }
  return out;
}

void Filesystem::SetXattr(Ino ino, const std::string& name, const std::string& value) {
  if (IsForeignNamespace(name)) throw Error(Errc::kUnsupported, "only user.mail.* attributes are stored");
  RequireWritable();
  Lock lock(mu_);
  Node& node = Get(ino);
  if (name == kIdXattr || name == kMessageIdXattr) return;  // accepted, nothing to do (§5)
  // A folder's special use is listed, so rsync -X and cp -a copy it from one
  // mount to another; the destination store decides its own special folders,
  // so the value is accepted and not stored (refusing it would fail every
  // rsync -aX between mounts with exit status 23).
  if (name == kSpecialUseXattr && node.kind == Node::Kind::kFolder) return;
  if (name != kFlagsXattr || node.kind == Node::Kind::kFolder) {
    throw Error(Errc::kUnsupported, "unsupported attribute " + name);
  }
  Flags flags = ParseFlags(value);
  if (node.kind == Node::Kind::kStaged) node.staging->flags = flags;
  auto msg = CommittedUnderWrite(node);
  if (!msg) return;  // applied at the commit
  FolderId folder = Get(node.parent).F().folder;
  if (FormatFlags(msg->flags) == FormatFlags(flags)) return;
  lock.unlock();
  backend_->SetFlags(folder, msg->key, flags);
  lock.lock();
  msg->flags = flags;
}

void Filesystem::RemoveXattr(Ino ino, const std::string& name) {
  if (IsForeignNamespace(name)) throw Error(Errc::kUnsupported, "only user.mail.* attributes are stored");
  RequireWritable();
  if (name == kFlagsXattr) {
    SetXattr(ino, name, "");
    return;
  }
  if (name == kIdXattr || name == kMessageIdXattr || name == kSpecialUseXattr) return;
  throw Error(Errc::kNotFound, "no such attribute");
}

std::vector<std::string> Filesystem::Shutdown() {
  std::vector<std::string> not_stored;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [ino, node] : nodes_) {
    if (node->kind == Node::Kind::kStaged && node->parent != 0 && node->staging->dirty) {
      std::string path = PathOf(*node);
      LOG(kError) << "NOT STORED: " << Redacted(path);
      not_stored.push_back(path);
    }
  }
  return not_stored;
}

}  // namespace mailfs::fs
