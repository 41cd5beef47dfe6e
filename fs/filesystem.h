// Filesystem: the FUSE-free core of mailfs. It turns a Backend into a tree of
// folders and .eml files — names (design.md §3), views (§4), metadata (§5),
// write staging and commits (§6) — and is driven by fs/fuse_adapter.cc or,
// in tests, directly.
//
// Identity model:
//  * Ino is the inode number handed to the kernel: a counter, 1 = root, never
//    reused during a mount. A stale Ino is answered with kNotFound (ESTALE is
//    not in our table; the kernel treats ENOENT the same for a vanished file).
//  * A folder node is keyed by its FolderId; a message node by (FolderId,
//    MessageKey): re-listing a folder gives the same Ino to the same message.
//    A node for a file being written ("staged") becomes the message node when
//    it is committed; the name used to write it keeps resolving to it.
//  * Lookup counts follow the FUSE protocol: Lookup/Create/Mkdir and entries
//    returned by ReadDirPlus add one, Forget subtracts.
//
// Locking: mu_ guards every node, handle and listing. It is never held across
// a backend call, a staging-file read/write or an invalidation callback.
// Folder loading takes the folder's load mutex first (held across the
// backend's listing calls, so one folder is listed once), then mu_ briefly.
// Order: Node::load_mu -> mu_.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace mailfs::fs {

using Ino = std::uint64_t;
inline constexpr Ino kRootIno = 1;

struct Options {
  bool writable = false;          // -o rw / create / memory:
  bool canonical_view = false;    // -o view=canonical (read-only mounts only)
  bool accept_incomplete = false; // -o accept_incomplete
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t umask = 077;
  std::string cache_dir;          // staging files and renderings live here
  std::uint64_t cache_size = 1ull << 30;  // renderings kept (least recently used go first)
  // A folder read (looked up in, listed) this many seconds after its last
  // listing is listed again, so messages another client added or removed
  // appear and vanish (IMAP: -o dir_cache_ttl). 0: listed once (stores that
  // only this mount changes).
  std::int64_t relist_seconds = 0;
};

struct Attr {
  Ino ino = 0;
  bool is_dir = false;
  mode_t mode = 0;  // with S_IFDIR / S_IFREG
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  std::uint32_t mtime_nsec = 0;
  std::uint32_t nlink = 1;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct DirEntry {
  std::string name;
  Attr attr;
};

struct SetAttrRequest {
  std::optional<std::int64_t> mtime;  // seconds
  std::optional<std::uint64_t> size;
  bool mode = false, owner = false, atime = false;  // accepted, not stored
};

// What the core asks the kernel to forget (deferred: never called under mu_).
class Invalidator {
 public:
  virtual ~Invalidator() = default;
  virtual void InvalidateEntry(Ino parent, const std::string& name) = 0;
  virtual void InvalidateInode(Ino ino) = 0;
};

class Filesystem {
 public:
  // |backend| must outlive nothing else; Filesystem owns it.
  Filesystem(std::unique_ptr<Backend> backend, Options options);
  ~Filesystem();
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  void SetInvalidator(Invalidator* invalidator) { invalidator_ = invalidator; }
  const Options& options() const { return options_; }
  Backend& backend() { return *backend_; }

  // Every operation below may be called concurrently and throws mailfs::Error.
  Attr Lookup(Ino parent, const std::string& name);
  void Forget(Ino ino, std::uint64_t count);
  void AddLookup(Ino ino);
  Attr GetAttr(Ino ino);
  Attr SetAttr(Ino ino, const SetAttrRequest& request);

  // A snapshot of a folder's entries (without "." and "..").
  std::vector<DirEntry> ReadDir(Ino ino);

  // File handles. Open of a message for writing (O_WRONLY/O_RDWR) stages it.
  std::uint64_t Open(Ino ino, int flags);
  // True for a committed message (immutable bytes: the kernel may cache them).
  bool IsCommittedMessage(Ino ino);
  std::size_t Read(std::uint64_t fh, std::uint64_t offset, char* buf, std::size_t size);
  // Reads a committed message without a file handle: read-only mounts let the
  // kernel open files by itself (no OPEN/FLUSH/RELEASE round trips). The last
  // few fetched messages are kept so consecutive reads do not fetch again.
  std::size_t ReadNode(Ino ino, std::uint64_t offset, char* buf, std::size_t size);
  std::size_t Write(std::uint64_t fh, std::uint64_t offset, const char* data, std::size_t size);
  // Commits the message if this handle wrote since the last commit (§6).
  void Flush(std::uint64_t fh);
  void Fsync(std::uint64_t fh);
  void Release(std::uint64_t fh);
  struct Created {
    Attr attr;
    std::uint64_t fh;
  };
  Created Create(Ino parent, const std::string& name, int flags);

  Attr Mkdir(Ino parent, const std::string& name);
  void Unlink(Ino parent, const std::string& name);
  void Rmdir(Ino parent, const std::string& name);
  // flags: 0 or RENAME_NOREPLACE; RENAME_EXCHANGE/RENAME_WHITEOUT -> kInvalid.
  void Rename(Ino parent, const std::string& name, Ino new_parent, const std::string& new_name,
              unsigned flags);

  // Extended attributes (design.md §5). A missing one throws kNotFound, which
  // the adapter answers with ENODATA.
  std::string GetXattr(Ino ino, const std::string& name);
  std::vector<std::string> ListXattr(Ino ino);
  void SetXattr(Ino ino, const std::string& name, const std::string& value);
  void RemoveXattr(Ino ino, const std::string& name);

  // Paths of staged files never committed. Each is logged as "NOT STORED:".
  std::vector<std::string> Shutdown();

  // Flags in the order of design.md §5 ("\Answered \Flagged \Deleted \Seen
  // \Draft", then keywords sorted; \Recent dropped), space-separated.
  static std::string FormatFlags(const Flags& flags);
  // Parses "\Seen $Label"; throws kInvalid for \Deleted or unknown system flags.
  static Flags ParseFlags(const std::string& text);

 private:
  struct Node;
  struct MessageState;
  struct Staging;
  struct Handle;

  using Lock = std::unique_lock<std::mutex>;

  Node& Get(Ino ino);                    // mu_ held; throws kNotFound
  Node* FindChild(Node& dir, const std::string& name);  // mu_ held
  Node& EnsureListed(Ino ino, Lock& lock);  // loads the folder if needed
  void LoadFolder(Ino ino);
  Attr MakeAttr(const Node& node) const;  // mu_ held
  std::string PathOf(const Node& node) const;  // mu_ held, for logs
  void RecomputeNames(Node& dir, std::vector<std::pair<Ino, std::string>>* gone);  // mu_ held
  // Names again the messages of |dir| sharing |base| (one arrived or left):
  // O(folder) comparisons, not a rebuild of the listing. mu_ held.
  void RenameGroup(Node& dir, const std::string& base, std::vector<std::pair<Ino, std::string>>* gone);
  // Removes |ino|'s name and aliases from |dir|. mu_ held.
  void EraseNames(Node& dir, Ino ino);
  static bool CollisionOrder(const Node* a, const Node* b);
  void EnsureHashes(Ino dir_ino, const std::string& base);
  // SHA-256 of the served bytes of |msgs| (of |folder|), fetched together
  // (Backend::FetchEach). Each hash goes to (*out)[i] when |out| is given,
  // else to msgs[i]->sha256_hex; a message that cannot be read is marked
  // unreadable, or its error thrown when |rethrow|. mu_ not held: the
  // states must not be shared yet, or |out| given.
  void HashMessages(const FolderId& folder, const std::vector<MessageState*>& msgs,
                    std::vector<std::string>* out = nullptr, bool rethrow = false);
  void FlushInvalidations(std::vector<std::pair<Ino, std::string>>& gone);
  bool IsDotContext(const Node& dir, const std::string& name) const;  // mu_ held
  void RequireWritable() const;
  // The stored message whose metadata a change on |node| must reach now: a
  // committed message, or the one a write handle staged but never wrote.
  // Null while new content waits for its commit. mu_ held.
  std::shared_ptr<MessageState> CommittedUnderWrite(const Node& node) const;
  BlobPtr FetchServed(const FolderId& folder, const MessageState& msg);
  // FetchServed, refusing bytes whose size differs from the listed one
  // (design §5); failures are logged with |path|.
  BlobPtr FetchChecked(const FolderId& folder, const MessageState& msg, const std::string& path);
  // The readable messages of |dir| named from |base|. mu_ held.
  std::vector<Node*> Group(Node& dir, const std::string& base);
  // Drops |dir|'s message names so that it is listed again. mu_ held.
  void ForgetListing(Node& dir);
  std::string MessageIdOf(Ino ino);
  void Commit(Ino ino, Ino dir_ino, const std::string& written_name);
  std::shared_ptr<MessageState> MakeMessageState(const MessageInfo& info, const FolderId& folder);
  Ino NewNode(std::unique_ptr<Node> node);  // mu_ held
  void DropNodeIfUnused(Ino ino);  // mu_ held

  std::unique_ptr<Backend> backend_;
  Options options_;
  Capabilities caps_;
  Invalidator* invalidator_ = nullptr;
  std::string staging_dir_;

  std::mutex mu_;
  std::map<Ino, std::unique_ptr<Node>> nodes_;
  std::map<std::string, Ino> folder_inos_;                      // FolderId.value -> Ino
  std::map<std::uint64_t, std::unique_ptr<Handle>> handles_;
  Ino next_ino_ = kRootIno;
  std::uint64_t next_fh_ = 1;

  // ReadNode's recently fetched messages, newest first. Own leaf lock.
  std::mutex recent_mu_;
  std::vector<std::pair<Ino, BlobPtr>> recent_;
};

}  // namespace mailfs::fs
