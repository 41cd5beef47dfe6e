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
//     old header never look there. A block whose bytes a rewritten node keeps
//     unchanged is not copied: the new tree names the old BID and its
//     reference count is raised before the old tree's references are dropped,
//     so the block is never unreferenced and never written in place.
//  2. fdatasync, then the header. The header is the only commit point: it
//     names the new BBT/NBT roots, counters and file size. It is 564 bytes
//     inside the first 4 KiB page and written by one pwrite, so a killed
//     process cannot leave half of it (the kernel copies it whole into the
//     page cache), and it carries both CRCs so a torn sector after power loss
//     is detectable. The first fdatasync orders everything the new header
//     names before the header; the second makes the header itself durable,
//     which close() needs (design §6). Two per commit is the least these two
//     duties allow: the data cannot share the header's fdatasync, because
//     after power loss the header could be on disk and a block it names not.
//  3. The AMap (and the density list) is the one structure updated in place,
//     so it may only change while the durable header says fAMapValid = 0
//     ("AMap not valid, rebuild it", §2.6.1). Every commit header is written
//     with fAMapValid = 0. While the durable header already says 0, a commit
//     rewrites the AMap pages that changed — describing the state it is
//     committing, with the space it releases marked free — together with its
//     data, before the first fdatasync; a crash at any point leaves a header
//     with fAMapValid = 0 above AMap pages of any age, which is allowed.
//     While the durable header says 2 (after a checkpoint), the commit leaves
//     the AMap alone; its header (fAMapValid = 0, fdatasync'ed) is what
//     allows the next writes to the AMap.
//     Checkpoint() returns to fAMapValid = 2: it writes the AMap pages the
//     durable header's state needs (if not already there), fdatasyncs, and
//     writes the header again with fAMapValid = 2 and the matching
//     cbAMapFree. Outlook rebuilds an AMap flagged invalid, the readers ignore
//     it, mailfs-pstcheck skips the AMap comparison, and Open() rebuilds it in
//     memory from the trees. By default Commit() ends with a checkpoint (three
//     fdatasyncs, the AMap always valid between commits); a writer with a
//     checkpoint interval (set_checkpoint_interval) checkpoints at most that
//     often and on destruction, two fdatasyncs per commit in between.
//  4. Space a commit released is zeroed after its header is durable (only
//     unreferenced bytes are touched): by the next commit, with its data, or
//     by the next checkpoint, whichever comes first.
//  So after a crash the file shows either the previous commit (any crash
//  before the commit header's pwrite) or the new one.
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
#include <unordered_map>
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
  kBeforeAMapWrite,    // checkpoint: commit header durable, AMap not yet rewritten
  kBeforeFinalHeader,  // checkpoint: AMap rewritten, fAMapValid still 0
};
// "before-data-write", "mid-data-write", ... (used by MAILFS_PST_CRASH).
const char* CrashPointName(CrashPoint point);

class NdbFile final : public NodeStore {
 public:
  // Creates a new, empty Unicode PST at |path| (which must not exist):
  // header, empty BBT and NBT, density list, one AMap range. Atomic: the file
  // appears complete or not at all. bCryptMethod 0 (none) or 1 (permute).
  // With |publish| false the file stays under a temporary name beside
  // |path| until Publish(), so that a caller can commit more (a PST's
  // skeleton) before the file appears.
  static std::unique_ptr<NdbFile> Create(const std::string& path, std::uint8_t crypt_method = 0,
                                         bool publish = true);
  // Gives a file made by Create(..., false) its name (never replacing a file
  // that appeared there meanwhile: kExists) and makes that durable.
  void Publish();
  // Removes a file made by Create(..., false) and never published.
  void Discard();
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

  // Makes the on-disk AMap valid again (fAMapValid = 2) for the committed
  // state; nothing to do if it already is. Staged changes are not touched.
  void Checkpoint();
  // 0 (the default): every Commit() checkpoints. Otherwise a Commit()
  // checkpoints only when the last checkpoint is older than |ms|
  // milliseconds; the destructor checkpoints what is left.
  void set_checkpoint_interval(std::uint32_t ms) { checkpoint_ms_ = ms; }
  bool amap_valid_on_disk() const { return disk_amap_valid_; }

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
  // Blocks written by commits so far (new BIDs; reused blocks not counted).
  std::uint64_t blocks_written() const { return blocks_written_; }
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
  // Writes |payload| as a new block, or names |old_bid| again (one more
  // reference) when that block holds the same bytes.
  std::uint64_t PutBlock(const std::string& payload, bool internal, std::uint64_t old_bid);
  // |old| is the data (subnode) tree the node had, 0 if none: blocks equal
  // to the old ones at the same place are reused.
  std::uint64_t WriteDataTree(const std::vector<std::string>& blocks, std::uint64_t old);
  std::uint64_t WriteSubnodes(const std::map<std::uint32_t, NodeContent>& subnodes, std::uint64_t old);
  void Release(std::uint64_t bid, int depth);
  void AddRef(std::uint64_t bid);
  void DropExtraRef(std::uint64_t bid);
  // PutBlock() of an internal block naming |children|.
  std::uint64_t PutInternal(const std::string& payload, std::uint64_t old_bid,
                            const std::vector<std::uint64_t>& children);
  // The committed block's payload (from the cache of recently written
  // blocks, else read and cached); nullptr when it cannot be read.
  const std::string* CachedBlock(std::uint64_t bid);
  void CacheBlock(std::uint64_t bid, const std::string& payload);
  void DropCachedBlock(std::uint64_t bid);
  void CheckpointOrThrow();
  // The AMap page of |range| for the committed state once the space in
  // |released| (sorted) is free.
  std::string AMapPageWithout(std::uint64_t range,
                              const std::vector<std::pair<std::uint64_t, std::uint64_t>>& released) const;
  void WriteDList();
  void WriteScrub();
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
  std::string BuildHeader(std::uint8_t amap_valid, std::uint64_t free_bytes) const;
  void RollBack();

  std::string path_;
  std::string unpublished_;  // the temporary name until Publish()
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
  // Per range: no run of free units is longer than this (a bound that
  // Allocate() tightens when a scan fails and MarkUnits() resets on frees).
  std::vector<std::uint32_t> max_run_;
  std::vector<bool> amap_dirty_;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> tentative_;  // (ib, bytes)
  std::vector<std::pair<std::uint64_t, std::uint64_t>> freed_;      // (ib, bytes)
  std::uint64_t committed_ranges_ = 0;
  std::uint64_t cursor_range_ = 0;
  std::uint64_t cursor_unit_ = 0;

  std::map<std::uint32_t, std::optional<Staged>> staged_;

  // State of the on-disk AMap (point 3 above).
  bool disk_amap_valid_ = false;    // the durable header says fAMapValid = 2
  bool disk_amap_current_ = false;  // the AMap pages describe the committed state
  std::vector<std::pair<std::uint64_t, std::uint64_t>> scrub_;  // released, not yet zeroed
  std::uint32_t checkpoint_ms_ = 0;
  std::int64_t last_checkpoint_ms_ = 0;  // steady clock
  std::uint64_t blocks_written_ = 0;
  bool header_uncertain_ = false;  // a failed commit may have left its header
  bool cache_writes_ = false;      // the node being written replaces one
  // References this commit added to reused blocks, not yet in the BBT
  // (Release() of the old tree consumes them first).
  std::map<std::uint64_t, std::uint32_t> extra_refs_;

  // Payloads of blocks written or compared recently (by BID), so that a
  // rewritten node is compared with its old blocks without reading them.
  // The least recently used half goes when over kBlockCacheBytes.
  struct CachedPayload {
    std::string bytes;
    std::uint64_t tick = 0;
  };
  std::unordered_map<std::uint64_t, CachedPayload> block_cache_;
  std::uint64_t cache_tick_ = 0;
  std::uint64_t cache_bytes_ = 0;

  // Write coalescing.
  std::uint64_t pending_ib_ = 0;
  std::string pending_;
  bool data_phase_ = false;

  CrashHook crash_hook_;
  std::optional<CrashPoint> env_crash_point_;
  int env_crash_count_ = 1;
};

}  // namespace mailfs::pst::writer
