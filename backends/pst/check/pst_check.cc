#include "backends/pst/check/pst_check.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "backends/pst/writer/ndb_format.h"

namespace mailfs::pst::check {

using ndb::Crc;
using ndb::Get16;
using ndb::Get32;
using ndb::Get64;
using ndb::Hex;

std::size_t CheckResult::errors() const {
  return static_cast<std::size_t>(std::count_if(findings.begin(), findings.end(), [](const Finding& f) {
    return f.severity == Severity::kError;
  }));
}
std::size_t CheckResult::warnings() const { return findings.size() - errors(); }

std::string FormatFinding(const Finding& f) {
  return std::string(f.severity == Severity::kError ? "error" : "warning") + " at " + Hex(f.offset) +
         ": " + f.structure + ": " + f.message;
}

namespace {

constexpr std::size_t kMaxFindings = 2000;
constexpr int kMaxDepth = 16;

// Sizes and offsets that differ between ANSI (32-bit) and Unicode files.
struct Format {
  bool unicode;
  std::size_t id;             // BID / IB size
  std::size_t page_data;      // bytes covered by the page CRC
  std::size_t bt_meta;        // offset of cEnt in a B-tree page
  std::size_t bt_entry;       // BTENTRY / BBTENTRY size
  std::size_t nbt_entry;      // NBTENTRY size
  std::size_t block_trailer;  // BLOCKTRAILER size
  std::size_t max_payload;
  std::size_t amap_bits;      // offset of the bitmap in an AMap page
  std::size_t sl_header;      // SLBLOCK/SIBLOCK header size
  std::size_t row_index_ent;  // TC row index value size
};
constexpr Format kUnicode{true, 8, 496, 488, 24, 32, 16, 8176, 0, 8, 4};
constexpr Format kAnsi{false, 4, 500, 496, 12, 16, 12, 8180, 4, 4, 2};

struct Block {
  std::uint64_t ib = 0;
  std::uint16_t cb = 0, cref = 0;
  std::uint32_t refs = 0;
  bool ok = false;
};
struct Node {
  std::uint64_t data = 0, sub = 0;
  std::uint32_t parent = 0;
  std::uint64_t entry_ib = 0;  // NBT leaf page holding it
};
struct Sub {
  std::uint64_t data = 0, sub = 0;
};
// What the folder checks need from a top-level heap node.
struct HeapSummary {
  bool pc_ok = false;
  std::map<std::uint16_t, std::pair<std::uint16_t, std::uint32_t>> props;  // id -> (type, value)
  bool tc_ok = false;
  std::vector<std::uint32_t> row_ids;
};

bool IsFixedInline(std::uint16_t type) {
  return type == 0x0002 || type == 0x0003 || type == 0x0004 || type == 0x000A || type == 0x000B;
}
std::size_t FixedHeapSize(std::uint16_t type) {
  switch (type) {
    case 0x0005: case 0x0006: case 0x0007: case 0x0014: case 0x0040: return 8;
    case 0x0048: return 16;
    default: return 0;
  }
}
bool IsVariable(std::uint16_t type) {
  return !IsFixedInline(type) && FixedHeapSize(type) == 0;
}

class Checker {
 public:
  Checker(const std::uint8_t* d, std::uint64_t size, CheckResult* r) : d_(d), size_(size), r_(r) {}

  void Run() {
    if (!Header()) return;
    r_->readable = true;
    MapPages();
    std::set<std::uint64_t> seen;
    leaf_depth_ = -1;
    WalkTree(bbt_root_, kBbt, -1, std::nullopt, 0, &seen);
    leaf_depth_ = -1;
    WalkTree(nbt_root_, kNbt, -1, std::nullopt, 0, &seen);
    Blocks();
    Nodes();
    Folders();
    RefCounts();
    AMap();
    Counters();
  }

 private:
  enum Tree { kBbt, kNbt };

  void Add(Severity s, std::uint64_t off, const std::string& st, const std::string& msg) {
    if (r_->findings.size() >= kMaxFindings) return;
    r_->findings.push_back({s, off, st, msg});
    if (r_->findings.size() == kMaxFindings) {
      r_->findings.push_back({Severity::kError, 0, "checker", "too many problems; stopped listing"});
    }
  }
  void Err(std::uint64_t off, const std::string& st, const std::string& msg) {
    Add(Severity::kError, off, st, msg);
  }
  void Warn(std::uint64_t off, const std::string& st, const std::string& msg) {
    Add(Severity::kWarning, off, st, msg);
  }
  std::uint64_t Id(const std::uint8_t* p) const { return f_.unicode ? Get64(p) : Get32(p); }
  bool InFile(std::uint64_t off, std::uint64_t len) const {
    return off <= size_ && len <= size_ - off;
  }
  void Cover(std::uint64_t off, std::uint64_t len) { r_->covered.emplace_back(off, len); }

  // --- header ---------------------------------------------------------------

  bool Header() {
    if (size_ < 512 || std::memcmp(d_, "!BDN", 4) != 0) {
      r_->fatal = size_ < 512 ? "too short for a PST file" : "no !BDN magic at offset 0";
      return false;
    }
    const std::uint16_t ver = Get16(d_ + 10);
    if (ver == 14 || ver == 15) {
      f_ = kAnsi;
    } else if (ver == 23) {
      f_ = kUnicode;
    } else {
      r_->fatal = "unsupported file version " + std::to_string(ver) + " at offset 0xa";
      return false;
    }
    r_->unicode = f_.unicode;
    const std::string h = "header";
    if (std::memcmp(d_ + 8, "SM", 2) != 0) Err(8, h, "wMagicClient is not \"SM\" (a PST)");
    if (Get32(d_ + 4) != Crc(d_ + 8, 471)) Err(4, h, "partial CRC (dwCRCPartial) mismatch");
    if (f_.unicode) {
      if (size_ < ndb::kHeaderSize) {
        r_->fatal = "too short for a Unicode PST header";
        return false;
      }
      if (Get32(d_ + 524) != Crc(d_ + 8, 516)) Err(524, h, "full CRC (dwCRCFull) mismatch");
      Cover(0, 528);
      bid_next_p_ = Get64(d_ + 32);
      for (int i = 0; i < 32; ++i) rgnid_[i] = Get32(d_ + 44 + 4 * i);
      eof_ = Get64(d_ + 184);
      amap_last_ = Get64(d_ + 192);
      amap_free_ = Get64(d_ + 200);
      nbt_root_ = {Get64(d_ + 216), Get64(d_ + 224)};
      bbt_root_ = {Get64(d_ + 232), Get64(d_ + 240)};
      amap_valid_ = d_[248];
      sentinel_ = 512;
      crypt_ = d_[513];
      bid_next_b_ = Get64(d_ + 516);
    } else {
      Cover(0, 8 + 471);
      bid_next_b_ = Get32(d_ + 24);
      bid_next_p_ = Get32(d_ + 28);
      for (int i = 0; i < 32; ++i) rgnid_[i] = Get32(d_ + 36 + 4 * i);
      eof_ = Get32(d_ + 168);
      amap_last_ = Get32(d_ + 172);
      amap_free_ = Get32(d_ + 176);
      nbt_root_ = {Get32(d_ + 184), Get32(d_ + 188)};
      bbt_root_ = {Get32(d_ + 192), Get32(d_ + 196)};
      amap_valid_ = d_[200];
      sentinel_ = 460;
      crypt_ = d_[461];
    }
    if (d_[sentinel_] != 0x80) Err(sentinel_, h, "bSentinel is not 0x80");
    if (crypt_ > 2) Err(sentinel_ + 1, h, "unknown bCryptMethod " + std::to_string(crypt_));
    if (amap_valid_ > 2) Err(f_.unicode ? 248 : 200, h, "unknown fAMapValid value");
    const std::size_t eof_off = f_.unicode ? 184 : 168;
    if (eof_ < ndb::kFirstAMap + 512) {
      Err(eof_off, h, "ibFileEof " + Hex(eof_) + " leaves no room for the first AMap page");
      eof_ = std::min<std::uint64_t>(size_, ndb::RangeStart(1));
    }
    if (size_ < eof_) {
      Err(eof_off, h, "file is " + std::to_string(size_) + " bytes, ibFileEof says " +
                          std::to_string(eof_) + " (truncated)");
      eof_ = size_;
    } else if (size_ > eof_) {
      Warn(eof_off, h, "file is longer (" + std::to_string(size_) + " bytes) than ibFileEof " +
                           std::to_string(eof_) + "; the tail is unused");
    }
    if ((eof_ - ndb::kFirstAMap) % ndb::kAMapRange != 0) {
      // Unicode files grow by whole AMap ranges; ANSI producers stop short.
      Add(f_.unicode ? Severity::kError : Severity::kWarning, eof_off, h,
          "ibFileEof " + Hex(eof_) + " does not end an AMap range");
    }
    ranges_ = (eof_ - ndb::kFirstAMap + ndb::kAMapRange - 1) / ndb::kAMapRange;
    if (amap_last_ != ndb::RangeStart(ranges_ - 1)) {
      Err(eof_off + f_.id, h, "ibAMapLast " + Hex(amap_last_) + " is not the last AMap page " +
                                  Hex(ndb::RangeStart(ranges_ - 1)));
    }
    used_.assign((ranges_ * ndb::kUnitsPerRange + 7) / 8, 0);
    return true;
  }

  // --- allocation bookkeeping ------------------------------------------------

  // Marks [ib, ib+len) as used by |what|; reports overlaps and bounds.
  bool Use(std::uint64_t ib, std::uint64_t len, const std::string& what) {
    if (ib < ndb::kFirstAMap || ib + len > eof_ || ib + len < ib) {
      Err(ib, what, "lies outside the allocatable part of the file");
      return false;
    }
    bool overlap = false;
    for (std::uint64_t u = (ib - ndb::kFirstAMap) / 64, e = (ib + len - ndb::kFirstAMap + 63) / 64;
         u < e; ++u) {
      std::uint8_t& byte = used_[u / 8];
      const auto mask = static_cast<std::uint8_t>(0x80u >> (u % 8));
      if (byte & mask) overlap = true;
      byte |= mask;
    }
    if (overlap) Err(ib, what, "overlaps another page or block");
    return !overlap;
  }

  // Checks a page trailer; returns true when the page can be trusted.
  bool PageTrailer(std::uint64_t ib, std::uint8_t ptype, std::uint64_t bid, bool map_page,
                   const std::string& what) {
    if (!InFile(ib, 512)) {
      Err(ib, what, "beyond the end of the file");
      return false;
    }
    const std::uint8_t* p = d_ + ib;
    const std::uint8_t* t = p + f_.page_data;
    ++r_->pages;
    Cover(ib, 512);
    bool ok = true;
    if (t[0] != ptype) {
      Err(ib + f_.page_data, what, "page type " + Hex(t[0]) + ", expected " + Hex(ptype));
      ok = false;
    }
    if (t[1] != t[0]) {
      Err(ib + f_.page_data + 1, what, "ptypeRepeat " + Hex(t[1]) + " differs from ptype");
      ok = false;
    }
    const std::uint64_t tbid = f_.unicode ? Get64(t + 8) : Get32(t + 4);
    const std::uint32_t tcrc = f_.unicode ? Get32(t + 4) : Get32(t + 8);
    if (tcrc != Crc(p, f_.page_data)) {
      Err(ib + f_.page_data + (f_.unicode ? 4 : 8), what, "page CRC mismatch");
      ok = false;
    }
    if (tbid != bid) {
      Err(ib + f_.page_data + (f_.unicode ? 8 : 4), what,
          "trailer BID " + Hex(tbid) + ", expected " + Hex(bid));
      ok = false;
    }
    const std::uint16_t want_sig = map_page ? 0 : ndb::Signature(ib, bid);
    if (Get16(t + 2) != want_sig) {
      if (map_page) {
        Err(ib + f_.page_data + 2, what, "map page signature is not 0");
      } else {
        Err(ib + f_.page_data + 2, what, "page signature mismatch");
        ok = false;
      }
    }
    return ok;
  }

  void MapPages() {
    for (std::uint64_t r = 0; r < ranges_; ++r) {
      std::uint64_t ib = ndb::RangeStart(r);
      auto page = [&](std::uint8_t ptype, const char* name) {
        const std::string what = std::string(name) + " page " + Hex(ib);
        Use(ib, 512, what);
        PageTrailer(ib, ptype, ib, true, what);
        ib += 512;
      };
      page(ndb::kPageAMap, "AMap");
      if (ndb::RangeHasPMap(r)) page(ndb::kPagePMap, "PMap");
      if (ndb::RangeHasFMap(r)) page(ndb::kPageFMap, "FMap");
      if (ndb::RangeHasFPMap(r)) page(ndb::kPageFPMap, "FPMap");
    }
    if (f_.unicode && InFile(ndb::kDListOffset, 512)) {
      const std::uint8_t* p = d_ + ndb::kDListOffset;
      if (p[496] == ndb::kPageDList) {
        const std::uint64_t bid = Get64(p + 504);
        PageTrailer(ndb::kDListOffset, ndb::kPageDList, bid, false, "density list");
        if (bid > bid_next_p_) Err(ndb::kDListOffset + 504, "density list", "BID above bidNextP");
      } else if (std::any_of(p, p + 512, [](std::uint8_t b) { return b != 0; })) {
        Err(ndb::kDListOffset + 496, "density list", "page type " + Hex(p[496]) + ", expected 0x86");
      } else {
        Warn(ndb::kDListOffset, "density list", "absent (all zero)");
      }
    }
  }

  // --- B-trees ----------------------------------------------------------------

  struct Ref {
    std::uint64_t bid = 0, ib = 0;
  };

  void WalkTree(Ref ref, Tree tree, int level, std::optional<std::uint64_t> first_key, int depth,
                std::set<std::uint64_t>* seen) {
    const std::uint8_t ptype = tree == kBbt ? ndb::kPageBbt : ndb::kPageNbt;
    const std::string what = std::string(tree == kBbt ? "BBT" : "NBT") + " page " + Hex(ref.bid);
    if (depth > kMaxDepth) {
      Err(ref.ib, what, "tree deeper than " + std::to_string(kMaxDepth) + " levels");
      return;
    }
    if (ref.ib % 512 != 0) {
      Err(ref.ib, what, "page offset not 512-aligned");
      return;
    }
    if (!seen->insert(ref.ib).second) {
      Err(ref.ib, what, "page reached twice (shared page or cycle)");
      return;
    }
    if (!Use(ref.ib, 512, what)) {
      if (!InFile(ref.ib, 512)) return;
    }
    max_page_bid_ = std::max(max_page_bid_, ref.bid);
    if (!PageTrailer(ref.ib, ptype, ref.bid, false, what)) return;
    const std::uint8_t* p = d_ + ref.ib;
    const std::uint8_t* m = p + f_.bt_meta;
    const unsigned c_ent = m[0], c_max = m[1], cb_ent = m[2];
    const int c_level = m[3];
    if (level >= 0 && c_level != level) {
      Err(ref.ib + f_.bt_meta + 3, what,
          "cLevel " + std::to_string(c_level) + ", expected " + std::to_string(level));
      return;
    }
    const std::size_t want = (c_level == 0 && tree == kNbt) ? f_.nbt_entry : f_.bt_entry;
    if (cb_ent != want) {
      Err(ref.ib + f_.bt_meta + 2, what, "cbEnt " + std::to_string(cb_ent) + ", expected " +
                                             std::to_string(want));
      return;
    }
    if (c_ent > c_max || c_max * cb_ent > f_.bt_meta) {
      Err(ref.ib + f_.bt_meta, what, "cEnt " + std::to_string(c_ent) + " / cEntMax " +
                                         std::to_string(c_max) + " do not fit the page");
      return;
    }
    if (c_ent == 0 && depth > 0) Warn(ref.ib, what, "empty non-root page");
    if (c_level == 0) {
      if (leaf_depth_ >= 0 && leaf_depth_ != depth) Err(ref.ib, what, "leaves at different depths");
      leaf_depth_ = depth;
    }
    std::uint64_t prev = 0;
    for (unsigned i = 0; i < c_ent; ++i) {
      const std::uint8_t* e = p + i * cb_ent;
      const std::uint64_t eoff = ref.ib + i * cb_ent;
      std::uint64_t key = Id(e);
      if (tree == kNbt && c_level == 0 && f_.unicode && (key >> 32) != 0) {
        Warn(eoff, what, "NID with non-zero upper 32 bits");
        key &= 0xFFFFFFFFull;
      }
      if (i == 0 && first_key && key != *first_key) {
        Err(eoff, what, "first key " + Hex(key) + " differs from the parent's key " + Hex(*first_key));
      }
      if (i > 0 && key <= prev) Err(eoff, what, "key " + Hex(key) + " not above the previous " + Hex(prev));
      prev = key;
      if (c_level > 0) {
        WalkTree({Id(e + f_.id), Id(e + 2 * f_.id)}, tree, c_level - 1, key, depth + 1, seen);
      } else if (tree == kBbt) {
        Block b;
        b.ib = Id(e + f_.id);
        b.cb = Get16(e + 2 * f_.id);
        b.cref = Get16(e + 2 * f_.id + 2);
        if (!blocks_.emplace(key, b).second) Err(eoff, what, "block " + Hex(key) + " listed twice");
      } else {
        Node n;
        n.data = Id(e + f_.id);
        n.sub = Id(e + 2 * f_.id);
        n.parent = Get32(e + 3 * f_.id);
        n.entry_ib = eoff;
        if (!nodes_.emplace(static_cast<std::uint32_t>(key), n).second) {
          Err(eoff, what, "node " + Hex(key) + " listed twice");
        }
      }
    }
  }

  // --- blocks -------------------------------------------------------------------

  void Blocks() {
    for (auto& [bid, b] : blocks_) {
      ++r_->blocks;
      const std::string what = "block " + Hex(bid);
      max_block_bid_ = std::max(max_block_bid_, bid);
      if (b.ib % 64 != 0) {
        Err(b.ib, what, "offset not 64-aligned");
        continue;
      }
      if (b.cb > f_.max_payload) {
        Err(b.ib, what, "cb " + std::to_string(b.cb) + " above the block limit");
        continue;
      }
      const std::uint64_t size = (b.cb + f_.block_trailer + 63) / 64 * 64;
      if (!Use(b.ib, size, what) && !InFile(b.ib, size)) continue;
      if (!InFile(b.ib, size)) continue;
      const std::uint8_t* t = d_ + b.ib + size - f_.block_trailer;
      Cover(b.ib, b.cb);
      Cover(b.ib + size - f_.block_trailer, f_.block_trailer);
      const std::uint64_t toff = b.ib + size - f_.block_trailer;
      bool ok = true;
      if (Get16(t) != b.cb) {
        Err(toff, what, "trailer cb " + std::to_string(Get16(t)) + ", BBT says " + std::to_string(b.cb));
        ok = false;
      }
      const std::uint64_t tbid = f_.unicode ? Get64(t + 8) : Get32(t + 4);
      const std::uint32_t tcrc = f_.unicode ? Get32(t + 4) : Get32(t + 8);
      if (tbid != bid) {
        Err(toff + (f_.unicode ? 8 : 4), what, "trailer BID " + Hex(tbid));
        ok = false;
      }
      if (Get16(t + 2) != ndb::Signature(b.ib, bid)) {
        Err(toff + 2, what, "block signature mismatch");
        ok = false;
      }
      if (tcrc != Crc(d_ + b.ib, b.cb)) {
        Err(toff + (f_.unicode ? 4 : 8), what, "block CRC mismatch");
        ok = false;
      }
      b.ok = ok;
    }
  }

  Block* FindBlock(std::uint64_t bid) {
    auto it = blocks_.find(bid);
    if (it == blocks_.end() && (bid & 1)) it = blocks_.find(bid & ~1ull);
    return it == blocks_.end() ? nullptr : &it->second;
  }

  // Payload of a block, decoded when it is an external data block.
  std::optional<std::string> Payload(std::uint64_t bid) {
    Block* b = FindBlock(bid);
    if (b == nullptr || !b->ok) return std::nullopt;
    std::string s(reinterpret_cast<const char*>(d_ + b->ib), b->cb);
    if (!ndb::IsInternalBid(bid)) {
      ndb::DecodeBlock(crypt_, bid, reinterpret_cast<std::uint8_t*>(s.data()), s.size());
    }
    return s;
  }

  // Counts the reference to |bid| and checks the tree below it; appends the
  // decoded data blocks to |out| when given. Returns false on a broken tree.
  bool DataTree(std::uint64_t bid, const std::string& owner, std::vector<std::string>* out,
                std::uint64_t* total, int level_above) {
    Block* b = FindBlock(bid);
    if (b == nullptr) {
      Err(here_, owner, "data block " + Hex(bid) + " is not in the BBT");
      return false;
    }
    ++b->refs;
    if (!ndb::IsInternalBid(bid)) {
      *total += b->cb;
      if (out) {
        auto s = Payload(bid);
        if (!s) return false;
        out->push_back(std::move(*s));
      }
      return b->ok;
    }
    const std::string what = owner + " XBLOCK " + Hex(bid);
    if (!b->ok) return false;
    const std::uint8_t* p = d_ + b->ib;
    if (b->cb < 8 || p[0] != ndb::kBtypeXBlock || p[1] < 1 || p[1] > 2 ||
        (level_above >= 0 && p[1] != level_above - 1)) {
      Err(b->ib, what, "not an XBLOCK/XXBLOCK at the expected level");
      return false;
    }
    const std::size_t n = Get16(p + 2);
    if (8 + f_.id * n != b->cb) {
      Err(b->ib + 2, what, "cEnt " + std::to_string(n) + " does not match cb " + std::to_string(b->cb));
      return false;
    }
    if (!visited_internal_.insert(bid).second) {
      *total += Get32(p + 4);
      if (out) return DataTreeNoCount(bid, out);
      return true;
    }
    std::uint64_t sum = 0;
    bool ok = true;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t child = Id(p + 8 + f_.id * i);
      if ((p[1] == 1) == ndb::IsInternalBid(child)) {
        Err(b->ib + 8 + f_.id * i, what, "entry " + Hex(child) + " has the wrong kind");
        ok = false;
        continue;
      }
      ok = DataTree(child, owner, out, &sum, p[1]) && ok;
    }
    if (ok && sum != Get32(p + 4)) {
      Err(b->ib + 4, what, "lcbTotal " + std::to_string(Get32(p + 4)) + " but the blocks hold " +
                               std::to_string(sum));
    }
    *total += sum;
    return ok;
  }

  // Collects data of an already checked shared tree without counting refs.
  bool DataTreeNoCount(std::uint64_t bid, std::vector<std::string>* out) {
    if (!ndb::IsInternalBid(bid)) {
      auto s = Payload(bid);
      if (!s) return false;
      out->push_back(std::move(*s));
      return true;
    }
    auto s = Payload(bid);
    if (!s || s->size() < 8) return false;
    const auto* p = reinterpret_cast<const std::uint8_t*>(s->data());
    const std::size_t n = std::min<std::size_t>(Get16(p + 2), (s->size() - 8) / f_.id);
    for (std::size_t i = 0; i < n; ++i) {
      if (!DataTreeNoCount(Id(p + 8 + f_.id * i), out)) return false;
    }
    return true;
  }

  // Counts the reference to subnode block |bid| and checks the tree; fills
  // |subs| with the entries found. Returns false when the block was already
  // checked (a shared tree: what lies below was counted the first time).
  bool SubTree(std::uint64_t bid, const std::string& owner, std::map<std::uint32_t, Sub>* subs,
               int level_above, int depth) {
    Block* b = FindBlock(bid);
    if (b == nullptr) {
      Err(here_, owner, "subnode block " + Hex(bid) + " is not in the BBT");
      return false;
    }
    ++b->refs;
    const std::string what = owner + " subnode block " + Hex(bid);
    if (!ndb::IsInternalBid(bid)) {
      Err(b->ib, what, "is a data block, expected SLBLOCK/SIBLOCK");
      return false;
    }
    if (!b->ok || depth > kMaxDepth) return false;
    const std::uint8_t* p = d_ + b->ib;
    if (b->cb < f_.sl_header || p[0] != ndb::kBtypeSBlock || p[1] > 1 ||
        (level_above >= 0 && p[1] != level_above - 1)) {
      Err(b->ib, what, "not an SLBLOCK/SIBLOCK at the expected level");
      return false;
    }
    const std::size_t n = Get16(p + 2);
    const std::size_t es = p[1] == 0 ? 3 * f_.id : 2 * f_.id;
    if (f_.sl_header + es * n != b->cb) {
      Err(b->ib + 2, what, "cEnt " + std::to_string(n) + " does not match cb " + std::to_string(b->cb));
      return false;
    }
    const bool first_visit = visited_internal_.insert(bid).second;
    bool upper_warned = false;
    std::uint32_t prev = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint8_t* e = p + f_.sl_header + es * i;
      const std::uint64_t eoff = b->ib + f_.sl_header + es * i;
      const std::uint32_t nid = Get32(e);
      if (f_.unicode && p[1] == 0 && Get32(e + 4) != 0 && !upper_warned) {
        Warn(eoff, what, "subnode NIDs with non-zero upper bytes");
        upper_warned = true;
      }
      if (i > 0 && nid <= prev) Err(eoff, what, "subnode " + Hex(nid) + " out of order");
      prev = nid;
      if (p[1] == 1) {
        std::map<std::uint32_t, Sub> below;
        if (first_visit) SubTree(Id(e + f_.id), owner, &below, 1, depth + 1);
        if (!below.empty() && below.begin()->first != nid) {
          Err(eoff, what, "key " + Hex(nid) + " differs from the child's first subnode " +
                              Hex(below.begin()->first));
        }
        subs->insert(below.begin(), below.end());
        continue;
      }
      Sub s{Id(e + f_.id), Id(e + 2 * f_.id)};
      if (!subs->emplace(nid, s).second) Err(eoff, what, "subnode " + Hex(nid) + " listed twice");
    }
    return first_visit;
  }

  // --- nodes -----------------------------------------------------------------------

  static bool HeapType(std::uint32_t nid) {
    switch (nid & 0x1F) {
      case 0x02: case 0x03: case 0x04: case 0x05: case 0x08:
      case 0x0D: case 0x0E: case 0x0F: case 0x10: case 0x11: case 0x12:
        return true;
      default:
        return false;
    }
  }

  // Checks one node or subnode: its data tree, its subnode tree and, for
  // heap nodes, the LTP structures.
  void CheckNode(std::uint32_t nid, std::uint64_t data, std::uint64_t sub, const std::string& what,
                 int depth, HeapSummary* summary) {
    std::map<std::uint32_t, Sub> subs;
    bool descend = true;
    if (sub != 0) descend = SubTree(sub, what, &subs, -1, depth);
    std::vector<std::string> blocks;
    bool data_ok = true;
    std::uint64_t total = 0;
    if (data != 0) data_ok = DataTree(data, what, &blocks, &total, -1);
    // Findings about the node's data name its first block's offset.
    if (const Block* b = FindBlock(data)) here_ = b->ib;
    const std::uint32_t type = nid & 0x1F;
    const bool looks_heap = !blocks.empty() && blocks[0].size() >= 4 &&
                            static_cast<std::uint8_t>(blocks[0][2]) == 0xEC;
    if (data_ok && !blocks.empty()) {
      if (HeapType(nid) && !looks_heap) {
        Err(here_, what, "node of type " + Hex(type) + " does not hold a heap (no 0xEC signature)");
      } else if (looks_heap && (HeapType(nid) || type == 0x01 || type == 0x07)) {
        Heap(blocks, subs, what, summary);
      }
    }
    if (depth > kMaxDepth || !descend) return;
    for (const auto& [snid, s] : subs) {
      CheckNode(snid, s.data, s.sub, what + " subnode " + Hex(snid), depth + 1, nullptr);
    }
  }

  void Nodes() {
    for (const auto& [nid, n] : nodes_) {
      ++r_->nodes;
      const std::string what = "node " + Hex(nid);
      if (n.parent != 0 && nodes_.find(n.parent) == nodes_.end()) {
        Err(n.entry_ib, what, "parent " + Hex(n.parent) + " does not exist");
      }
      if ((nid & 0x1F) == 0) Err(n.entry_ib, what, "NID of type 0 (a heap id)");
      here_ = n.entry_ib;
      CheckNode(nid, n.data, n.sub, what, 0, &summaries_[nid]);
    }
  }

  void RefCounts() {
    for (const auto& [bid, b] : blocks_) {
      const std::string what = "block " + Hex(bid);
      if (b.refs == 0) {
        Warn(b.ib, what, "not referenced by any node (leaked)");
        continue;
      }
      if (!f_.unicode) continue;  // ANSI producers count differently
      if (b.cref < b.refs + 1) {
        Err(b.ib, what, "cRef " + std::to_string(b.cref) + " but " + std::to_string(b.refs) +
                            " references (expected " + std::to_string(b.refs + 1) + ")");
      } else if (b.cref > b.refs + 1) {
        Warn(b.ib, what, "cRef " + std::to_string(b.cref) + " above " + std::to_string(b.refs) +
                             " references + 1");
      }
    }
  }

  // --- heap-on-node, BTH, PC, TC ------------------------------------------------------

  struct HeapView {
    const std::vector<std::string>* blocks;
    std::vector<std::vector<std::uint16_t>> allocs;  // per page: rgibAlloc
  };

  std::optional<std::string_view> Resolve(const HeapView& h, std::uint32_t hid) const {
    if ((hid & 0x1F) != 0) return std::nullopt;
    const std::uint32_t index = (hid >> 5) & 0x7FF, page = hid >> 16;
    if (page >= h.allocs.size() || index == 0 || index >= h.allocs[page].size()) return std::nullopt;
    const auto& a = h.allocs[page];
    const std::string& b = (*h.blocks)[page];
    return std::string_view(b).substr(a[index - 1], a[index] - a[index - 1]);
  }

  static std::uint64_t Key(const char* p, std::size_t n) {
    std::uint64_t k = 0;
    for (std::size_t i = std::min<std::size_t>(n, 8); i-- > 0;) {
      k = (k << 8) | static_cast<std::uint8_t>(p[i]);
    }
    return k;
  }
  static int CompareKeys(const char* a, const char* b, std::size_t n) {
    for (std::size_t i = n; i-- > 0;) {
      const auto x = static_cast<std::uint8_t>(a[i]), y = static_cast<std::uint8_t>(b[i]);
      if (x != y) return x < y ? -1 : 1;
    }
    return 0;
  }

  // Walks a BTH; returns the leaf records (key|data), or nullopt when broken.
  std::optional<std::vector<std::string>> Bth(const HeapView& h, std::uint32_t hid,
                                              std::size_t want_key, std::size_t want_ent,
                                              const std::string& what) {
    auto hdr = Resolve(h, hid);
    if (!hdr || hdr->size() != 8) {
      Err(here_, what, "BTH header HID " + Hex(hid) + " does not resolve to 8 bytes");
      return std::nullopt;
    }
    const auto* p = reinterpret_cast<const std::uint8_t*>(hdr->data());
    const std::size_t cb_key = p[1], cb_ent = p[2], levels = p[3];
    const std::uint32_t root = Get32(p + 4);
    if (p[0] != 0xB5) {
      Err(here_, what, "BTH header type " + Hex(p[0]) + ", expected 0xb5");
      return std::nullopt;
    }
    if ((want_key && cb_key != want_key) || (want_ent && cb_ent != want_ent) ||
        (cb_key != 2 && cb_key != 4 && cb_key != 8 && cb_key != 16) || cb_ent == 0 || cb_ent > 32 ||
        levels > 8) {
      Err(here_, what, "BTH header cbKey " + std::to_string(cb_key) + " cbEnt " + std::to_string(cb_ent) +
                       " levels " + std::to_string(levels) + " not as expected");
      return std::nullopt;
    }
    std::vector<std::string> out;
    if (root == 0) return out;
    bool ok = true;
    BthLevel(h, root, static_cast<int>(levels), cb_key, cb_ent, nullptr, what, &out, &ok);
    if (!ok) return std::nullopt;
    for (std::size_t i = 1; i < out.size(); ++i) {
      if (CompareKeys(out[i - 1].data(), out[i].data(), cb_key) >= 0) {
        Err(here_, what, "BTH keys out of order at record " + std::to_string(i) + " (key " +
                         Hex(Key(out[i].data(), cb_key)) + ")");
        break;
      }
    }
    return out;
  }

  void BthLevel(const HeapView& h, std::uint32_t hid, int level, std::size_t cb_key,
                std::size_t cb_ent, const char* parent_key, const std::string& what,
                std::vector<std::string>* out, bool* ok) {
    auto a = Resolve(h, hid);
    const std::size_t rec = cb_key + (level > 0 ? 4 : cb_ent);
    if (!a || a->empty() || a->size() % rec != 0) {
      Err(here_, what, "BTH node HID " + Hex(hid) + " missing or not a whole number of records");
      *ok = false;
      return;
    }
    if (parent_key && CompareKeys(parent_key, a->data(), cb_key) != 0) {
      Err(here_, what, "BTH index key " + Hex(Key(parent_key, cb_key)) +
                       " differs from the child's first key " + Hex(Key(a->data(), cb_key)));
    }
    for (std::size_t at = 0; at < a->size(); at += rec) {
      if (level > 0) {
        BthLevel(h, Get32(a->data() + at + cb_key), level - 1, cb_key, cb_ent, a->data() + at, what,
                 out, ok);
        if (!*ok) return;
      } else {
        out->emplace_back(a->substr(at, rec));
      }
    }
  }

  bool HnidOk(const HeapView& h, const std::map<std::uint32_t, Sub>& subs, std::uint32_t hnid) {
    if (hnid == 0) return true;
    if ((hnid & 0x1F) == 0) return Resolve(h, hnid).has_value();
    return subs.count(hnid) != 0;
  }

  void Heap(const std::vector<std::string>& blocks, const std::map<std::uint32_t, Sub>& subs,
            const std::string& owner, HeapSummary* summary) {
    ++r_->heaps;
    const std::string what = owner + " heap";
    HeapView h{&blocks, {}};
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const std::string& b = blocks[i];
      const std::size_t hs = i == 0 ? 12 : (i == 8 || (i > 8 && (i - 8) % 128 == 0)) ? 66 : 2;
      const std::string pw = what + " page " + std::to_string(i);
      if (b.size() < hs + 4) {
        Err(here_, pw, "too short for a heap page");
        return;
      }
      const std::size_t map = Get16(b.data());
      if (map < hs || map + 4 > b.size()) {
        Err(here_, pw, "ibHnpm " + std::to_string(map) + " outside the page");
        return;
      }
      const std::size_t c_alloc = Get16(b.data() + map);
      if (map + 4 + 2 * (c_alloc + 1) > b.size()) {
        Err(here_, pw, "page map with " + std::to_string(c_alloc) + " allocations overruns the page");
        return;
      }
      std::vector<std::uint16_t> a(c_alloc + 1);
      for (std::size_t k = 0; k <= c_alloc; ++k) a[k] = Get16(b.data() + map + 4 + 2 * k);
      if (a[0] < hs || a[c_alloc] > map) {
        Err(here_, pw, "allocations outside [header, page map)");
        return;
      }
      for (std::size_t k = 1; k <= c_alloc; ++k) {
        if (a[k] < a[k - 1]) {
          Err(here_, pw, "allocation offsets decrease at " + std::to_string(k));
          return;
        }
      }
      h.allocs.push_back(std::move(a));
    }
    const auto* p0 = reinterpret_cast<const std::uint8_t*>(blocks[0].data());
    const std::uint8_t client = p0[3];
    const std::uint32_t user_root = Get32(p0 + 4);
    if (client == 0xBC) {
      Pc(h, subs, user_root, what, summary);
    } else if (client == 0x7C) {
      Tc(h, subs, user_root, what, summary);
    } else if (client == 0xB5) {
      Bth(h, user_root, 0, 0, what);
    } else if (user_root != 0 && !Resolve(h, user_root)) {
      Err(here_, what, "hidUserRoot " + Hex(user_root) + " does not resolve");
    }
  }

  void Pc(const HeapView& h, const std::map<std::uint32_t, Sub>& subs, std::uint32_t root,
          const std::string& what, HeapSummary* summary) {
    auto recs = Bth(h, root, 2, 6, what + " PC");
    if (!recs) return;
    if (summary) summary->pc_ok = true;
    for (const std::string& r : *recs) {
      const std::uint16_t id = Get16(r.data()), type = Get16(r.data() + 2);
      const std::uint32_t v = Get32(r.data() + 4);
      if (summary) summary->props[id] = {type, v};
      const std::string pw = what + " PC property " + Hex(id) + " type " + Hex(type);
      if (IsFixedInline(type)) continue;
      if (const std::size_t fixed = FixedHeapSize(type)) {
        auto a = Resolve(h, v);
        if (!a || a->size() != fixed) Err(here_, pw, "value HID " + Hex(v) + " is not a " + std::to_string(fixed) + "-byte allocation");
        continue;
      }
      if (!HnidOk(h, subs, v)) Err(here_, pw, "value " + Hex(v) + " is neither an allocation nor a subnode");
      if (type == 0x000D && v != 0 && (v & 0x1F) == 0) {
        auto a = Resolve(h, v);
        if (a && a->size() == 8 && subs.count(Get32(a->data())) == 0) {
          Err(here_, pw, "object names subnode " + Hex(Get32(a->data())) + ", which does not exist");
        }
      }
    }
  }

  void Tc(const HeapView& h, const std::map<std::uint32_t, Sub>& subs, std::uint32_t root,
          const std::string& what_heap, HeapSummary* summary) {
    const std::string what = what_heap + " TC";
    auto info = Resolve(h, root);
    if (!info || info->size() < 22) {
      Err(here_, what, "TCINFO HID " + Hex(root) + " does not resolve");
      return;
    }
    const auto* p = reinterpret_cast<const std::uint8_t*>(info->data());
    const std::size_t cols = p[1];
    if (p[0] != 0x7C || info->size() != 22 + 8 * cols) {
      Err(here_, what, "TCINFO type " + Hex(p[0]) + " / size " + std::to_string(info->size()) +
                       " do not match " + std::to_string(cols) + " columns");
      return;
    }
    const std::uint16_t ib4 = Get16(p + 2), ib2 = Get16(p + 4), ib1 = Get16(p + 6), bm = Get16(p + 8);
    const std::uint32_t row_index = Get32(p + 10), rows_hnid = Get32(p + 14);
    bool layout_ok = true;
    if (!(ib4 <= ib2 && ib2 <= ib1 && ib1 <= bm) || bm != ib1 + (cols + 7) / 8) {
      Err(here_, what, "rgib " + std::to_string(ib4) + "/" + std::to_string(ib2) + "/" + std::to_string(ib1) +
                       "/" + std::to_string(bm) + " inconsistent with " + std::to_string(cols) + " columns");
      layout_ok = false;
    }
    struct Col {
      std::uint32_t tag;
      std::uint16_t ib;
      std::uint8_t cb, bit;
    };
    std::vector<Col> cs;
    std::set<unsigned> bits;
    std::optional<Col> row_id_col;
    for (std::size_t k = 0; k < cols; ++k) {
      const std::uint8_t* c = p + 22 + 8 * k;
      Col col{Get32(c), Get16(c + 4), c[6], c[7]};
      const std::string cw = what + " column " + Hex(col.tag);
      if (k > 0 && col.tag <= cs.back().tag) Err(here_, cw, "columns not sorted by tag");
      if (col.bit >= cols || !bits.insert(col.bit).second) Err(here_, cw, "iBit " + std::to_string(col.bit) + " invalid or reused");
      bool placed;
      switch (col.cb) {
        case 8: case 4: placed = col.ib + col.cb <= ib4; break;
        case 2: placed = col.ib >= ib4 && col.ib + 2 <= ib2; break;
        case 1: placed = col.ib >= ib2 && col.ib + 1 <= ib1; break;
        default: placed = false;
      }
      if (!placed) {
        Err(here_, cw, "cell at " + std::to_string(col.ib) + " of " + std::to_string(col.cb) +
                       " bytes outside its group");
        layout_ok = false;
      }
      if (col.tag == 0x67F20003) row_id_col = col;
      cs.push_back(col);
    }
    auto index = Bth(h, row_index, 4, f_.row_index_ent, what + " row index");
    if (!layout_ok) return;
    const std::size_t row_size = bm;
    // The row matrix.
    std::string matrix;
    std::size_t rows = 0;
    if (rows_hnid != 0) {
      if ((rows_hnid & 0x1F) == 0) {
        auto a = Resolve(h, rows_hnid);
        if (!a) {
          Err(here_, what, "row matrix HID " + Hex(rows_hnid) + " does not resolve");
          return;
        }
        matrix.assign(*a);
        if (row_size == 0 || matrix.size() % row_size != 0) {
          Err(here_, what, "row matrix of " + std::to_string(matrix.size()) + " bytes is not whole rows of " +
                           std::to_string(row_size));
          return;
        }
        rows = matrix.size() / row_size;
      } else {
        auto it = subs.find(rows_hnid);
        if (it == subs.end()) {
          Err(here_, what, "row matrix subnode " + Hex(rows_hnid) + " does not exist");
          return;
        }
        std::vector<std::string> blocks;
        if (!DataTreeNoCount(it->second.data, &blocks) || row_size == 0) return;
        const std::size_t per_block = f_.max_payload / row_size;
        for (std::size_t i = 0; i < blocks.size(); ++i) {
          const std::size_t n = blocks[i].size() / row_size;
          if (i + 1 < blocks.size() && n != per_block) {
            Warn(0, what, "row matrix block " + std::to_string(i) + " holds " + std::to_string(n) +
                              " rows, not " + std::to_string(per_block) + " (unpadded)");
          }
          matrix.append(blocks[i], 0, n * row_size);
          rows += n;
        }
      }
    }
    if (!index) return;
    if (index->size() != rows) {
      Err(here_, what, "row index has " + std::to_string(index->size()) + " entries, the matrix " +
                       std::to_string(rows) + " rows");
      return;
    }
    if (summary) {
      summary->tc_ok = true;
      for (const std::string& r : *index) summary->row_ids.push_back(Get32(r.data()));
    }
    std::set<std::uint32_t> seen_rows;
    for (const std::string& r : *index) {
      const std::uint32_t id = Get32(r.data());
      const std::uint32_t at = f_.row_index_ent == 4 ? Get32(r.data() + 4) : Get16(r.data() + 4);
      if (at >= rows || !seen_rows.insert(at).second) {
        Err(here_, what, "row index entry for row id " + Hex(id) + " points to row " + std::to_string(at));
        continue;
      }
      const char* row = matrix.data() + static_cast<std::size_t>(at) * row_size;
      if (row_id_col && Get32(row + row_id_col->ib) != id) {
        Err(here_, what, "row " + std::to_string(at) + " has row id " + Hex(Get32(row + row_id_col->ib)) +
                         ", the index says " + Hex(id));
      }
      for (const Col& c : cs) {
        const std::uint16_t type = c.tag & 0xFFFF;
        if (!IsVariable(type) || c.cb != 4) continue;
        const bool present = (static_cast<std::uint8_t>(row[ib1 + c.bit / 8]) & (0x80u >> (c.bit % 8))) != 0;
        if (!present) continue;
        const std::uint32_t hnid = Get32(row + c.ib);
        if (!HnidOk(h, subs, hnid)) {
          Err(here_, what, "row " + std::to_string(at) + " column " + Hex(c.tag) + ": value " + Hex(hnid) +
                           " is neither an allocation nor a subnode");
        }
      }
    }
  }

  // --- folders: tables against the NBT (pst-writing.md §8.3) ---------------------

  void FolderTable(std::uint32_t folder, std::uint32_t table, const std::set<std::uint32_t>& children,
                   const char* name, std::size_t* rows) {
    const std::string what = "folder " + Hex(folder) + " " + name + " " + Hex(table);
    auto node = nodes_.find(table);
    if (node == nodes_.end()) {
      if (!children.empty()) {
        Err(nodes_[folder].entry_ib, what, "missing, but " + std::to_string(children.size()) +
                                               " children name the folder as parent");
      }
      return;
    }
    const HeapSummary& s = summaries_[table];
    if (!s.tc_ok) return;
    *rows = s.row_ids.size();
    const std::set<std::uint32_t> listed(s.row_ids.begin(), s.row_ids.end());
    for (std::uint32_t row : listed) {
      if (children.count(row)) continue;
      auto child = nodes_.find(row);
      Err(node->second.entry_ib, what,
          "row for " + Hex(row) +
              (child == nodes_.end() ? ", which does not exist"
                                     : ", whose parent is " + Hex(child->second.parent)));
    }
    for (std::uint32_t child : children) {
      if (!listed.count(child)) {
        Err(node->second.entry_ib, what, "no row for " + Hex(child) + ", which names the folder as parent");
      }
    }
  }

  void Folders() {
    std::map<std::uint32_t, std::set<std::uint32_t>> folders, messages, fai;
    for (const auto& [nid, n] : nodes_) {
      if (n.parent == nid) continue;
      switch (nid & 0x1F) {
        case 0x02: case 0x03: folders[n.parent].insert(nid); break;
        case 0x04: messages[n.parent].insert(nid); break;
        case 0x08: fai[n.parent].insert(nid); break;
        default: break;
      }
    }
    for (const auto& [nid, n] : nodes_) {
      if ((nid & 0x1F) != 0x02) continue;
      const std::uint32_t base = nid & ~0x1Fu;
      std::size_t sub_rows = SIZE_MAX, content_rows = SIZE_MAX, fai_rows = SIZE_MAX;
      FolderTable(nid, base | 0x0D, folders[nid], "hierarchy table", &sub_rows);
      FolderTable(nid, base | 0x0E, messages[nid], "contents table", &content_rows);
      FolderTable(nid, base | 0x0F, fai[nid], "FAI contents table", &fai_rows);
      const HeapSummary& pc = summaries_[nid];
      if (!pc.pc_ok) continue;
      const std::string what = "folder " + Hex(nid) + " PC";
      auto count = pc.props.find(0x3602);
      if (count != pc.props.end() && count->second.first == 0x0003 && content_rows != SIZE_MAX &&
          count->second.second != content_rows) {
        Err(n.entry_ib, what, "PidTagContentCount " + std::to_string(count->second.second) +
                                  " but the contents table has " + std::to_string(content_rows) + " rows");
      }
      auto subfolders = pc.props.find(0x360A);
      if (subfolders != pc.props.end() && subfolders->second.first == 0x000B && sub_rows != SIZE_MAX &&
          (subfolders->second.second != 0) != (sub_rows != 0)) {
        Err(n.entry_ib, what, std::string("PidTagSubfolders is ") +
                                  (subfolders->second.second ? "true" : "false") + " but the hierarchy table has " +
                                  std::to_string(sub_rows) + " rows");
      }
    }
  }

  // --- AMap and counters ---------------------------------------------------------------

  void AMap() {
    std::uint64_t free_units = 0, leaked = 0, first_leak = 0;
    for (std::uint64_t r = 0; r < ranges_; ++r) {
      const std::uint64_t ib = ndb::RangeStart(r);
      if (!InFile(ib, 512)) break;
      const std::uint8_t* bits = d_ + ib + f_.amap_bits;
      std::uint64_t missing = 0, first_missing = 0;
      for (std::uint64_t u = 0; u < ndb::kUnitsPerRange; ++u) {
        const bool marked = (bits[u / 8] & (0x80u >> (u % 8))) != 0;
        const std::uint64_t g = r * ndb::kUnitsPerRange + u;
        const bool used = (used_[g / 8] & (0x80u >> (g % 8))) != 0;
        if (ib + 64 * u >= eof_) break;  // a short last range (ANSI)
        if (!marked) ++free_units;
        if (used && !marked) {
          if (missing++ == 0) first_missing = ib + 64 * u;
        } else if (marked && !used) {
          if (leaked++ == 0) first_leak = ib + 64 * u;
        }
      }
      if (missing != 0 && amap_valid_ != 0) {
        Err(first_missing, "AMap page " + Hex(ib),
            std::to_string(missing * 64) + " bytes in use are marked free, the first at " + Hex(first_missing));
      }
    }
    r_->free_bytes = free_units * 64;
    if (amap_valid_ == 0) {
      Warn(f_.unicode ? 248 : 200, "header", "fAMapValid is 0: the AMap is flagged for rebuilding; not compared");
      return;
    }
    if (leaked != 0) {
      Warn(first_leak, "AMap", std::to_string(leaked * 64) + " bytes marked used hold no page or block, the first at " +
                                   Hex(first_leak));
    }
    if (free_units * 64 != amap_free_) {
      Err(f_.unicode ? 200 : 176, "header",
          "cbAMapFree " + std::to_string(amap_free_) + " but the AMaps have " + std::to_string(free_units * 64) +
              " bytes free");
    }
  }

  void Counters() {
    if (!blocks_.empty() && bid_next_b_ <= max_block_bid_) {
      Err(f_.unicode ? 516 : 24, "header",
          "bidNextB " + Hex(bid_next_b_) + " not above the largest block BID " + Hex(max_block_bid_));
    }
    if (bid_next_p_ <= max_page_bid_) {
      Err(f_.unicode ? 32 : 28, "header",
          "bidNextP " + Hex(bid_next_p_) + " not above the largest page BID " + Hex(max_page_bid_));
    }
    for (const auto& [nid, n] : nodes_) {
      const std::uint32_t type = nid & 0x1F, index = nid >> 5;
      if (index >= 0x400 && index > rgnid_[type]) {
        Err((f_.unicode ? 44 : 36) + 4 * type, "header",
            "rgnid[" + Hex(type) + "] = " + Hex(rgnid_[type]) + " below node " + Hex(nid) + " in use");
      }
    }
  }

  const std::uint8_t* d_;
  std::uint64_t size_;
  CheckResult* r_;
  Format f_ = kUnicode;
  std::uint64_t eof_ = 0, amap_last_ = 0, amap_free_ = 0, ranges_ = 0;
  std::uint64_t bid_next_b_ = 0, bid_next_p_ = 0;
  std::uint32_t rgnid_[32] = {};
  Ref nbt_root_, bbt_root_;
  std::uint8_t amap_valid_ = 0, crypt_ = 0;
  std::size_t sentinel_ = 0;
  int leaf_depth_ = -1;
  std::uint64_t max_page_bid_ = 0, max_block_bid_ = 0;
  std::map<std::uint64_t, Block> blocks_;
  std::map<std::uint32_t, Node> nodes_;
  std::map<std::uint32_t, HeapSummary> summaries_;
  std::uint64_t here_ = 0;  // offset named by findings inside node data
  std::set<std::uint64_t> visited_internal_;
  std::vector<std::uint8_t> used_;
};

}  // namespace

CheckResult CheckFile(const std::string& path) {
  CheckResult r;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r.fatal = "cannot open: " + std::string(std::strerror(errno));
    return r;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    r.fatal = "not a regular file";
    ::close(fd);
    return r;
  }
  r.file_size = static_cast<std::uint64_t>(st.st_size);
  if (r.file_size == 0) {
    r.fatal = "empty file";
    ::close(fd);
    return r;
  }
  void* map = ::mmap(nullptr, r.file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    r.fatal = "cannot map the file: " + std::string(std::strerror(errno));
    return r;
  }
  Checker(static_cast<const std::uint8_t*>(map), r.file_size, &r).Run();
  ::munmap(map, r.file_size);
  return r;
}

}  // namespace mailfs::pst::check
