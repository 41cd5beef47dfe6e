// NdbFile: the node database of a Unicode PST file ([MS-PST] §2.2), the
// NodeStore the LTP and messaging layers write through.
//
// Reading: Open() loads the header and both B-trees (BBT: block id -> offset,
// size, reference count; NBT: node id -> data block, subnode block, parent)
// into memory, verifying every page trailer. ReadNode() follows data trees
// (XBLOCK/XXBLOCK) and subnode trees (SLBLOCK/SIBLOCK) and decodes permute or
// cyclic blocks. Files written by Outlook or other producers are accepted;
// ANSI (32-bit) files are refused.
//
// Writing: PutNode()/DeleteNode() only stage. Commit() writes the staged nodes
// and makes them durable together.
//
// Crash safety — why a kill -9 (or power loss) at any moment leaves a file
// that every reader opens and that holds exactly the last committed state:
//
//  1. Copy-on-write. A commit writes new data blocks, internal blocks and
//     B-tree pages only into space that the committed state does not use
//     (free in the in-memory AMap, which is never looser than the on-disk
//     one), and gives them new BIDs. Space released by the commit (old blocks
//     whose reference count drops, replaced pages) is not reused before the
//     commit is durable, so the committed trees stay intact on disk
//     throughout. When the file grows, the new AMap ranges (AMap, PMap, FMap,
//     FPMap pages) are written beyond the committed ibFileEof; readers of the
//     old header never look there.
//  2. fsync, then the header. The header is the only commit point: it names
//     the new BBT/NBT roots, counters and file size. It is 564 bytes inside
//     the first 4 KiB page and written by one pwrite, so a killed process
//     cannot leave half of it (the kernel copies it whole into the page
//     cache), and it carries both CRCs so a torn sector after power loss is
//     detectable.
//  3. The AMap is the one structure updated in place. The commit header is
//     therefore written with fAMapValid = 0 ("AMap not valid, rebuild it",
//     §2.6.1) and fsync'ed before any AMap page changes; then the AMap pages
//     and the density list are rewritten, fsync'ed, and the header is written
//     a second time with fAMapValid = 2 and the matching cbAMapFree. A crash
//     in between leaves the new state with an AMap flagged invalid — Outlook
//     rebuilds it, the readers ignore it, mailfs-pstcheck skips the AMap
//     comparison, and Open() rebuilds it in memory from the trees.
//     Space the commit released is zeroed in this phase too (after the
//     commit point, so only unreferenced bytes are touched).
//  So after a crash the file shows either the previous commit (any crash
//  before the first header write of step 2 completes) or the new one.
//  Leftovers of an interrupted commit are unreferenced blocks in space the
//  AMap calls free, or a tail past ibFileEof that Open(writable) truncates.
//
// Crash injection for tests: SetCrashHook() installs a callback run at each
// CrashPoint; the environment variable MAILFS_PST_CRASH=<point>[:<n>] makes
// the n-th (default first) arrival at that point kill the process with
// SIGKILL (a real kill -9, for loop tests through the daemon).
//
// Not thread-safe (see NodeStore).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/pst/writer/ndb_btree.h"
#include "backends/pst/writer/node_store.h"

namespace mailfs::pst::writer {

// Points of Commit() where a crash can be injected, in order.
enum class CrashPoint {
  kBeforeDataWrite,    // nothing of the commit written yet
  kMidDataWrite,       // half of a data write done (a torn write)
  kBeforeDataSync,     // all data written, fsync not done ("during fsync")
  kBeforeHeader,       // data durable, header not written
  kBeforeHeaderSync,   // commit header written (fAMapValid 0), not fsync'ed
  kBeforeAMapWrite,    // commit header durable, AMap not yet rewritten
  kBeforeFinalHeader,  // AMap rewritten, fAMapValid still 0
};
// "before-data-write", "mid-data-write", ... (used by MAILFS_PST_CRASH).
const char* CrashPointName(CrashPoint point);

class NdbFile final : public NodeStore {
 public:
  // Creates a new, empty Unicode PST at |path| (which must not exist):
  // header, empty BBT and NBT, density list, one AMap range. Atomic: the file
  // appears complete or not at all. bCryptMethod 0 (none) or 1 (permute).
  static std::unique_ptr<NdbFile> Create(const std::string& path, std::uint8_t crypt_method = 0);
  // Opens an existing Unicode PST. Throws Error(kCorrupt) naming the file
  // and offset for damage, kUnsupported for ANSI files or other versions.
  static std::unique_ptr<NdbFile> Open(const std::string& path, bool writable);

  ~NdbFile() override;
  NdbFile(const NdbFile&) = delete;
  NdbFile& operator=(const NdbFile&) = delete;

  bool HasNode(std::uint32_t nid) const override;
  NodeContent ReadNode(std::uint32_t nid) const override;
  std::uint32_t ParentOf(std::uint32_t nid) const override;
  std::vector<std::uint32_t> ListNodes() const override;
  void PutNode(std::uint32_t nid, std::uint32_t parent_nid, NodeContent content) override;
  void DeleteNode(std::uint32_t nid) override;
  std::uint32_t AllocateNid(NidType type) override;
  void Commit() override;

  // Hook called at each crash point of Commit(). Tests may throw from it to
  // abandon the commit at that point (the file keeps what was written so far).
  using CrashHook = std::function<void(CrashPoint)>;
  void SetCrashHook(CrashHook hook) { crash_hook_ = std::move(hook); }

  // Whether fsync is called (on by default; tests of pure layout may turn it
  // off to run faster — never in production).
  void set_sync(bool sync) { sync_ = sync; }

  const std::string& path() const { return path_; }
  std::uint8_t crypt_method() const { return crypt_; }
  bool writable() const { return writable_; }
  std::uint64_t file_size() const;
  std::uint64_t block_count() const { return bbt_.size(); }
  std::uint32_t rgnid(std::size_t type) const { return rgnid_.at(type); }
  bool has_staged_changes() const { return !staged_.empty() || counters_dirty_; }

  struct BbtLeaf {
    static constexpr std::size_t kMaxEntries = 20;
    std::uint64_t key = 0;  // BID
    std::uint64_t ib = 0;
    std::uint16_t cb = 0;
    std::uint16_t cref = 0;
  };
  struct NbtLeaf {
    static constexpr std::size_t kMaxEntries = 15;
    std::uint64_t key = 0;  // NID
    std::uint64_t bid_data = 0;
    std::uint64_t bid_sub = 0;
    std::uint32_t parent = 0;
  };

 private:
  struct Staged {
    std::uint32_t parent = 0;
    NodeContent content;
  };

  NdbFile() = default;
  void LoadHeader();
  void LoadTrees();
  void BuildAllocationMap();
  template <typename Leaf>
  std::unique_ptr<typename ndb::PageTree<Leaf>::Page> LoadPage(std::uint64_t bid, std::uint64_t ib,
                                                               int expect_level, std::uint8_t ptype,
                                                               std::size_t* count, int depth);
  // Reading.
  std::string ReadBlock(std::uint64_t bid) const;  // decoded payload
  void ReadDataTree(std::uint64_t bid, std::vector<std::string>* blocks, int depth) const;
  void ReadSubnodes(std::uint64_t bid, std::map<std::uint32_t, NodeContent>* out, int depth) const;
  NodeContent ReadCommitted(const NbtLeaf& entry) const;

  // Writing (inside Commit).
  void CommitOrThrow();
  std::uint64_t WriteBlock(std::string payload, bool internal);
  std::uint64_t WriteDataTree(const std::vector<std::string>& blocks);
  std::uint64_t WriteSubnodes(const std::map<std::uint32_t, NodeContent>& subnodes);
  void Release(std::uint64_t bid, int depth);
  template <typename Leaf>
  void WriteTreePages(ndb::PageTree<Leaf>& tree, std::uint8_t ptype);
  std::uint64_t Allocate(std::uint64_t bytes, std::uint64_t align);
  void AddRange();
  void MarkUnits(std::uint64_t ib, std::uint64_t bytes, bool used);
  std::string AMapPage(std::uint64_t range) const;
  std::uint64_t FreeBytes() const;
  void WriteAt(std::uint64_t ib, const std::string& bytes);
  void FlushWrites();
  void WriteHeader(const std::string& header);
  void Sync();
  void Crash(CrashPoint point);
  std::string BuildHeader(std::uint8_t amap_valid) const;
  void RollBack();

  std::string path_;
  int fd_ = -1;
  bool writable_ = false;
  bool sync_ = true;
  std::uint8_t crypt_ = 0;

  // Committed header image and counters (counters include staged NIDs).
  std::string header_;
  std::uint64_t bid_next_b_ = 4;
  std::uint64_t bid_next_p_ = 1;
  std::uint32_t unique_ = 0;
  std::array<std::uint32_t, 32> rgnid_{};
  bool counters_dirty_ = false;

  ndb::PageTree<BbtLeaf> bbt_;
  ndb::PageTree<NbtLeaf> nbt_;

  // Allocation: one bitmap of 3968 64-byte units per AMap range (MSB first,
  // as on disk). |used_| = committed state + this commit's allocations.
  std::uint64_t ranges_ = 0;
  std::vector<std::vector<std::uint8_t>> used_;
  std::vector<std::uint32_t> free_units_;
  std::vector<bool> amap_dirty_;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> tentative_;  // (ib, bytes)
  std::vector<std::pair<std::uint64_t, std::uint64_t>> freed_;      // (ib, bytes)
  std::uint64_t committed_ranges_ = 0;
  std::uint64_t cursor_range_ = 0;
  std::uint64_t cursor_unit_ = 0;

  std::map<std::uint32_t, std::optional<Staged>> staged_;

  // Write coalescing.
  std::uint64_t pending_ib_ = 0;
  std::string pending_;
  bool data_phase_ = false;

  CrashHook crash_hook_;
  std::optional<CrashPoint> env_crash_point_;
  int env_crash_count_ = 1;
};

}  // namespace mailfs::pst::writer
