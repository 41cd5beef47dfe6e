#include "backends/pst/writer/ndb_file.h"

#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <type_traits>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <utility>

#include "backends/error.h"
#include "backends/log.h"
#include "backends/pst/writer/ndb_format.h"

namespace mailfs::pst::writer {

using ndb::Get16;
using ndb::Get32;
using ndb::Get64;
using ndb::Hex;
using ndb::Put16;
using ndb::Put32;
using ndb::Put64;

namespace {

constexpr int kMaxTreeDepth = 16;
constexpr int kMaxNesting = 64;
constexpr std::size_t kMaxPendingWrite = 8u << 20;
constexpr std::uint64_t kBlockCacheBytes = 32u << 20;
constexpr std::uint64_t kMaxNodeBytes = 0xFFFFFFFFull;  // lcbTotal is 32 bits

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr CrashPoint kAllCrashPoints[] = {
    CrashPoint::kBeforeDataWrite,   CrashPoint::kMidDataWrite,     CrashPoint::kBeforeDataSync,
    CrashPoint::kBeforeHeader,      CrashPoint::kBeforeHeaderSync, CrashPoint::kBeforeAMapWrite,
    CrashPoint::kBeforeFinalHeader,
};

void ValidateContent(const NodeContent& content, std::uint32_t nid, int depth) {
  if (depth > kMaxNesting) {
    throw Error(Errc::kInvalid, "node " + Hex(nid) + ": subnodes nested too deeply");
  }
  if (content.blocks.size() > ndb::kXBlockMaxEntries * ndb::kXBlockMaxEntries) {
    throw Error(Errc::kInvalid, "node " + Hex(nid) + ": too many data blocks");
  }
  std::uint64_t total = 0;
  for (const auto& b : content.blocks) {
    if (b.size() > kMaxBlockData) {
      throw Error(Errc::kInvalid, "node " + Hex(nid) + ": data block of " +
                                      std::to_string(b.size()) + " bytes (at most 8176)");
    }
    total += b.size();
  }
  if (total > kMaxNodeBytes) {
    throw Error(Errc::kInvalid, "node " + Hex(nid) + ": data larger than 4 GiB");
  }
  if (content.subnodes.size() > ndb::kSlBlockMaxEntries * ndb::kSiBlockMaxEntries) {
    throw Error(Errc::kInvalid, "node " + Hex(nid) + ": too many subnodes");
  }
  for (const auto& [sub, c] : content.subnodes) {
    if (sub == 0) throw Error(Errc::kInvalid, "node " + Hex(nid) + ": subnode id 0");
    ValidateContent(c, sub, depth + 1);
  }
}

}  // namespace

const char* CrashPointName(CrashPoint point) {
  switch (point) {
    case CrashPoint::kBeforeDataWrite: return "before-data-write";
    case CrashPoint::kMidDataWrite: return "mid-data-write";
    case CrashPoint::kBeforeDataSync: return "before-data-sync";
    case CrashPoint::kBeforeHeader: return "before-header";
    case CrashPoint::kBeforeHeaderSync: return "before-header-sync";
    case CrashPoint::kBeforeAMapWrite: return "before-amap-write";
    case CrashPoint::kBeforeFinalHeader: return "before-final-header";
  }
  return "?";
}

// ---------------------------------------------------------------------------
// Opening and creating

namespace {

void ArmFromEnvironment(std::optional<CrashPoint>* point, int* count) {
  const char* env = std::getenv("MAILFS_PST_CRASH");
  if (env == nullptr || *env == '\0') return;
  std::string spec(env);
  int n = 1;
  if (auto colon = spec.find(':'); colon != std::string::npos) {
    n = std::atoi(spec.c_str() + colon + 1);
    spec.resize(colon);
  }
  for (CrashPoint p : kAllCrashPoints) {
    if (spec == CrashPointName(p)) {
      *point = p;
      *count = n > 0 ? n : 1;
      return;
    }
  }
  LOG(kWarning) << "MAILFS_PST_CRASH: unknown crash point '" << spec << "' ignored";
}

}  // namespace

std::unique_ptr<NdbFile> NdbFile::Create(const std::string& path, std::uint8_t crypt_method, bool publish) {
  if (crypt_method != ndb::kCryptNone && crypt_method != ndb::kCryptPermute) {
    throw Error(Errc::kInvalid, path + ": unsupported encoding " + std::to_string(crypt_method));
  }
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) throw Error(Errc::kExists, path + ": file exists");
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  std::unique_ptr<NdbFile> f(new NdbFile());
  f->path_ = path;
  f->writable_ = true;
  f->crypt_ = crypt_method;
  f->fd_ = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (f->fd_ < 0) ThrowErrno(Errc::kIo, "create " + tmp, errno);
  ArmFromEnvironment(&f->env_crash_point_, &f->env_crash_count_);
  try {
    std::string& h = f->header_;
    h.assign(ndb::kHeaderSize, '\0');
    auto* p = reinterpret_cast<std::uint8_t*>(h.data());
    std::memcpy(p, "!BDN", 4);
    std::memcpy(p + ndb::hdr::kMagicClient, "SM", 2);
    Put16(p + ndb::hdr::kVer, ndb::kVerUnicode);
    Put16(p + ndb::hdr::kVerClient, 19);
    p[ndb::hdr::kPlatformCreate] = 1;
    p[ndb::hdr::kPlatformAccess] = 1;
    std::memset(p + ndb::hdr::kRgbFM, 0xFF, 128);
    std::memset(p + ndb::hdr::kRgbFP, 0xFF, 128);
    p[ndb::hdr::kSentinel] = 0x80;
    p[ndb::hdr::kCryptMethod] = crypt_method;
    // §10: highest index used per NID type; predefined NIDs live below.
    f->rgnid_.fill(0x400);
    f->rgnid_[static_cast<int>(NidType::kSearchFolder)] = 0x4000;
    f->rgnid_[static_cast<int>(NidType::kNormalMessage)] = 0x10000;
    f->rgnid_[static_cast<int>(NidType::kAssocMessage)] = 0x8000;
    f->bid_next_b_ = 4;
    f->bid_next_p_ = 1;
    if (::ftruncate(f->fd_, static_cast<off_t>(ndb::kFirstAMap)) != 0) {
      ThrowErrno(Errc::kIo, "extend " + tmp, errno);
    }
    f->Commit();
    if (::fsync(f->fd_) != 0) ThrowErrno(Errc::kIo, "fsync " + tmp, errno);
    f->unpublished_ = tmp;
    if (publish) f->Publish();
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  return f;
}

void NdbFile::Publish() {
  if (unpublished_.empty()) return;
  // RENAME_NOREPLACE: a file that appeared at |path_| meanwhile is kept.
  if (::renameat2(AT_FDCWD, unpublished_.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE) != 0) {
    int err = errno;
    struct stat st;
    if (err == EEXIST) throw Error(Errc::kExists, path_ + ": file exists");
    if (err != EINVAL || ::stat(path_.c_str(), &st) == 0 ||
        ::rename(unpublished_.c_str(), path_.c_str()) != 0) {  // a file system without the flag
      ThrowErrno(Errc::kIo, "rename to " + path_, err == EINVAL ? errno : err);
    }
  }
  unpublished_.clear();
  // Make the rename durable.
  std::string dir = path_.substr(0, path_.rfind('/') == std::string::npos ? 0 : path_.rfind('/'));
  if (dir.empty()) dir = path_.rfind('/') == 0 ? "/" : ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void NdbFile::Discard() {
  if (unpublished_.empty()) return;
  ::unlink(unpublished_.c_str());
  unpublished_.clear();
}

std::unique_ptr<NdbFile> NdbFile::Open(const std::string& path, bool writable) {
  std::unique_ptr<NdbFile> f(new NdbFile());
  f->path_ = path;
  f->writable_ = writable;
  f->fd_ = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (f->fd_ < 0) {
    ThrowErrno(errno == ENOENT ? Errc::kNotFound : Errc::kIo, "open " + path, errno);
  }
  if (writable && ::flock(f->fd_, LOCK_EX | LOCK_NB) != 0) {
    throw Error(Errc::kIo, path + ": opened for writing by another process");
  }
  f->LoadHeader();
  f->LoadTrees();
  f->BuildAllocationMap();
  f->disk_amap_valid_ =
      static_cast<std::uint8_t>(f->header_[ndb::hdr::kAMapValid]) == ndb::kAMapValid2;
  f->disk_amap_current_ = f->disk_amap_valid_ &&
                          std::find(f->amap_dirty_.begin(), f->amap_dirty_.end(), true) == f->amap_dirty_.end();
  f->last_checkpoint_ms_ = NowMs();
  if (writable) {
    ArmFromEnvironment(&f->env_crash_point_, &f->env_crash_count_);
    // A tail past ibFileEof is what an interrupted commit left behind.
    struct stat st;
    if (::fstat(f->fd_, &st) == 0 &&
        static_cast<std::uint64_t>(st.st_size) > ndb::RangeStart(f->ranges_)) {
      if (::ftruncate(f->fd_, static_cast<off_t>(ndb::RangeStart(f->ranges_))) != 0) {
        ThrowErrno(Errc::kIo, "truncate " + path, errno);
      }
    }
  }
  return f;
}

NdbFile::~NdbFile() {
  // A writer with a checkpoint interval leaves the AMap valid behind it,
  // unless a failed commit left the disk in doubt (the next Open() decides).
  if (fd_ >= 0 && writable_ && checkpoint_ms_ != 0 && !header_uncertain_ &&
      (!disk_amap_valid_ || !scrub_.empty())) {
    try {
      CheckpointOrThrow();
      Sync();
    } catch (const Error& e) {
      LOG(kWarning) << path_ << ": AMap left flagged for rebuilding: " << e.what();
    }
  }
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t NdbFile::file_size() const { return ndb::RangeStart(committed_ranges_); }

namespace {

void PReadAll(int fd, std::uint64_t ib, void* buf, std::size_t len, const std::string& path) {
  auto* p = static_cast<char*>(buf);
  std::size_t done = 0;
  while (done < len) {
    ssize_t n = ::pread(fd, p + done, len - done, static_cast<off_t>(ib + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowErrno(Errc::kIo, "read " + path + " at " + Hex(ib + done), errno);
    }
    if (n == 0) {
      throw Error(Errc::kCorrupt, path + ": unexpected end of file at offset " + Hex(ib + done));
    }
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

void NdbFile::LoadHeader() {
  struct stat st;
  if (::fstat(fd_, &st) != 0) ThrowErrno(Errc::kIo, "stat " + path_, errno);
  if (static_cast<std::uint64_t>(st.st_size) < ndb::kHeaderSize) {
    throw Error(Errc::kCorrupt, path_ + ": too short for a PST file (" +
                                    std::to_string(st.st_size) + " bytes)");
  }
  header_.assign(ndb::kHeaderSize, '\0');
  PReadAll(fd_, 0, header_.data(), header_.size(), path_);
  const auto* h = reinterpret_cast<const std::uint8_t*>(header_.data());
  if (std::memcmp(h, "!BDN", 4) != 0) {
    throw Error(Errc::kCorrupt, path_ + ": not a PST file (no !BDN magic at offset 0)");
  }
  const std::uint16_t ver = Get16(h + ndb::hdr::kVer);
  if (ver == 14 || ver == 15) {
    throw Error(Errc::kUnsupported,
                path_ + ": ANSI (32-bit) PST file; mailfs writes only Unicode (64-bit) PST files");
  }
  if (ver != ndb::kVerUnicode) {
    throw Error(Errc::kUnsupported, path_ + ": unsupported PST version " + std::to_string(ver) +
                                        " at offset 0xa (expected 23, Unicode)");
  }
  if (Get32(h + ndb::hdr::kCrcPartial) != ndb::Crc(h + ndb::hdr::kPartialStart, ndb::hdr::kPartialLen)) {
    throw Error(Errc::kCorrupt, path_ + ": header partial CRC mismatch at offset 0x4");
  }
  if (Get32(h + ndb::hdr::kCrcFull) != ndb::Crc(h + ndb::hdr::kFullStart, ndb::hdr::kFullLen)) {
    throw Error(Errc::kCorrupt, path_ + ": header full CRC mismatch at offset 0x20c");
  }
  crypt_ = h[ndb::hdr::kCryptMethod];
  if (crypt_ > ndb::kCryptCyclic) {
    throw Error(Errc::kCorrupt, path_ + ": unknown encoding " + std::to_string(crypt_) +
                                    " at offset 0x201");
  }
  bid_next_b_ = (Get64(h + ndb::hdr::kBidNextB) + 3) & ~3ull;
  bid_next_p_ = Get64(h + ndb::hdr::kBidNextP);
  unique_ = Get32(h + ndb::hdr::kUnique);
  for (std::size_t i = 0; i < 32; ++i) rgnid_[i] = Get32(h + ndb::hdr::kRgnid + 4 * i);
  const std::uint64_t eof = Get64(h + ndb::hdr::kFileEof);
  if (eof < ndb::RangeStart(1)) {
    throw Error(Errc::kCorrupt, path_ + ": ibFileEof " + Hex(eof) + " at offset 0xb8 too small");
  }
  if (static_cast<std::uint64_t>(st.st_size) < eof) {
    throw Error(Errc::kCorrupt, path_ + ": file is " + std::to_string(st.st_size) +
                                    " bytes, shorter than ibFileEof " + std::to_string(eof));
  }
  ranges_ = committed_ranges_ = (eof - ndb::kFirstAMap + ndb::kAMapRange - 1) / ndb::kAMapRange;
}

template <typename Leaf>
std::unique_ptr<typename ndb::PageTree<Leaf>::Page> NdbFile::LoadPage(
    std::uint64_t bid, std::uint64_t ib, int expect_level, std::uint8_t ptype, std::size_t* count,
    int depth) {
  using Page = typename ndb::PageTree<Leaf>::Page;
  const char* tree = ptype == ndb::kPageBbt ? "BBT" : "NBT";
  const std::string where = path_ + ": " + tree + " page " + Hex(bid) + " at offset " + Hex(ib);
  if (depth > kMaxTreeDepth) throw Error(Errc::kCorrupt, where + ": tree too deep");
  if (ib < ndb::kFirstAMap || ib % ndb::kPageSize != 0 ||
      ib + ndb::kPageSize > ndb::RangeStart(ranges_)) {
    throw Error(Errc::kCorrupt, where + ": offset outside the file or misaligned");
  }
  std::uint8_t p[ndb::kPageSize];
  PReadAll(fd_, ib, p, sizeof p, path_);
  if (p[496] != ptype || p[497] != ptype) throw Error(Errc::kCorrupt, where + ": wrong page type");
  if (Get32(p + 500) != ndb::Crc(p, 496)) throw Error(Errc::kCorrupt, where + ": CRC mismatch");
  if (Get64(p + 504) != bid) throw Error(Errc::kCorrupt, where + ": trailer names another page");
  const unsigned c_ent = p[488], cb_ent = p[490];
  const int level = p[491];
  if (expect_level >= 0 && level != expect_level) {
    throw Error(Errc::kCorrupt, where + ": level " + std::to_string(level) + ", expected " +
                                    std::to_string(expect_level));
  }
  const std::size_t want_cb =
      (level == 0 && ptype == ndb::kPageNbt) ? ndb::kNbtEntrySize : ndb::kBtEntrySize;
  if (cb_ent != want_cb || c_ent * cb_ent > ndb::kBtEntryBytes) {
    throw Error(Errc::kCorrupt, where + ": bad entry size or count");
  }
  auto page = std::make_unique<Page>();
  page->level = level;
  page->dirty = false;
  page->bid = bid;
  page->ib = ib;
  std::uint64_t prev = 0;
  for (unsigned i = 0; i < c_ent; ++i) {
    const std::uint8_t* e = p + i * cb_ent;
    const std::uint64_t key = Get64(e);
    if (i > 0 && key <= prev) throw Error(Errc::kCorrupt, where + ": keys out of order");
    prev = key;
    if (level > 0) {
      page->children.push_back(
          LoadPage<Leaf>(Get64(e + 8), Get64(e + 16), level - 1, ptype, count, depth + 1));
      continue;
    }
    Leaf leaf;
    if constexpr (std::is_same_v<Leaf, BbtLeaf>) {
      leaf.key = key;
      leaf.ib = Get64(e + 8);
      leaf.cb = Get16(e + 16);
      leaf.cref = Get16(e + 18);
    } else {
      leaf.key = key & 0xFFFFFFFFull;
      leaf.bid_data = Get64(e + 8);
      leaf.bid_sub = Get64(e + 16);
      leaf.parent = Get32(e + 24);
    }
    page->leaves.push_back(leaf);
    ++*count;
  }
  return page;
}

void NdbFile::LoadTrees() {
  const auto* h = reinterpret_cast<const std::uint8_t*>(header_.data());
  std::size_t n = 0;
  auto nbt = LoadPage<NbtLeaf>(Get64(h + ndb::hdr::kNbtBid), Get64(h + ndb::hdr::kNbtIb), -1,
                               ndb::kPageNbt, &n, 0);
  nbt_.Reset(std::move(nbt), n);
  n = 0;
  auto bbt = LoadPage<BbtLeaf>(Get64(h + ndb::hdr::kBbtBid), Get64(h + ndb::hdr::kBbtIb), -1,
                               ndb::kPageBbt, &n, 0);
  bbt_.Reset(std::move(bbt), n);
}

void NdbFile::BuildAllocationMap() {
  used_.assign(ranges_, std::vector<std::uint8_t>(496, 0));
  free_units_.assign(ranges_, static_cast<std::uint32_t>(ndb::kUnitsPerRange));
  max_run_.assign(ranges_, static_cast<std::uint32_t>(ndb::kUnitsPerRange));
  amap_dirty_.assign(ranges_, false);
  const std::uint64_t eof = ndb::RangeStart(ranges_);
  auto mark = [&](std::uint64_t ib, std::uint64_t bytes, const std::string& what) {
    if (ib < ndb::kFirstAMap || ib + bytes > eof) {
      throw Error(Errc::kCorrupt, path_ + ": " + what + " at offset " + Hex(ib) +
                                      " lies outside the file");
    }
    MarkUnits(ib, bytes, true);
  };
  for (std::uint64_t r = 0; r < ranges_; ++r) {
    mark(ndb::RangeStart(r), ndb::MapPagesInRange(r) * ndb::kPageSize, "map pages");
  }
  auto mark_pages = [&](const auto& page) { mark(page.ib, ndb::kPageSize, "B-tree page"); };
  bbt_.ForEachPage(mark_pages);
  nbt_.ForEachPage(mark_pages);
  bbt_.ForEach([&](const BbtLeaf& b) {
    mark(b.ib, ndb::BlockDiskSize(b.cb), "block " + Hex(b.key));
  });
  // Keep whatever the on-disk AMap also calls used (never allocate over
  // space another producer may still consider taken); rewrite differing pages.
  const bool valid = static_cast<std::uint8_t>(header_[ndb::hdr::kAMapValid]) == ndb::kAMapValid2;
  for (std::uint64_t r = 0; r < ranges_; ++r) {
    std::uint8_t p[ndb::kPageSize];
    PReadAll(fd_, ndb::RangeStart(r), p, sizeof p, path_);
    const bool page_ok = p[496] == ndb::kPageAMap && p[497] == ndb::kPageAMap &&
                         Get32(p + 500) == ndb::Crc(p, 496) && Get64(p + 504) == ndb::RangeStart(r);
    if (valid && page_ok) {
      for (std::size_t i = 0; i < 496; ++i) {
        const std::uint8_t extra = static_cast<std::uint8_t>(p[i] & ~used_[r][i]);
        if (extra == 0) continue;
        used_[r][i] |= extra;
        free_units_[r] -= static_cast<std::uint32_t>(__builtin_popcount(extra));
      }
    }
    amap_dirty_[r] = !valid || !page_ok || std::memcmp(p, used_[r].data(), 496) != 0;
  }
}

// ---------------------------------------------------------------------------
// Reading

std::string NdbFile::ReadBlock(std::uint64_t bid) const {
  const BbtLeaf* leaf = bbt_.Find(bid & ~1ull);
  if (leaf == nullptr) {
    throw Error(Errc::kCorrupt, path_ + ": block " + Hex(bid) + " is not in the BBT");
  }
  const std::uint64_t size = ndb::BlockDiskSize(leaf->cb);
  const std::string where = path_ + ": block " + Hex(bid) + " at offset " + Hex(leaf->ib);
  if (leaf->cb > ndb::kMaxBlockPayload || leaf->ib + size > ndb::RangeStart(committed_ranges_)) {
    throw Error(Errc::kCorrupt, where + ": size or offset out of range");
  }
  std::string buf(size, '\0');
  PReadAll(fd_, leaf->ib, buf.data(), buf.size(), path_);
  const auto* t = reinterpret_cast<const std::uint8_t*>(buf.data()) + size - ndb::kBlockTrailer;
  if (Get16(t) != leaf->cb) throw Error(Errc::kCorrupt, where + ": trailer size disagrees with the BBT");
  if ((Get64(t + 8) & ~1ull) != (bid & ~1ull)) {
    throw Error(Errc::kCorrupt, where + ": trailer names block " + Hex(Get64(t + 8)));
  }
  if (Get32(t + 4) != ndb::Crc(buf.data(), leaf->cb)) {
    throw Error(Errc::kCorrupt, where + ": CRC mismatch");
  }
  buf.resize(leaf->cb);
  if (!ndb::IsInternalBid(bid)) {
    ndb::DecodeBlock(crypt_, bid, reinterpret_cast<std::uint8_t*>(buf.data()), buf.size());
  }
  return buf;
}

void NdbFile::ReadDataTree(std::uint64_t bid, std::vector<std::string>* blocks, int depth) const {
  if (bid == 0) return;
  if (!ndb::IsInternalBid(bid)) {
    blocks->push_back(ReadBlock(bid));
    return;
  }
  const std::string b = ReadBlock(bid);
  const auto* p = reinterpret_cast<const std::uint8_t*>(b.data());
  const std::string where = path_ + ": data tree block " + Hex(bid);
  if (b.size() < 8 || p[0] != ndb::kBtypeXBlock || (p[1] != 1 && p[1] != 2) || depth > 1 ||
      (depth == 1 && p[1] != 1)) {
    throw Error(Errc::kCorrupt, where + ": not an XBLOCK/XXBLOCK");
  }
  const std::size_t n = Get16(p + 2);
  if (8 + 8 * n > b.size()) throw Error(Errc::kCorrupt, where + ": entry count too large");
  std::uint64_t before = 0;
  for (const auto& s : *blocks) before += s.size();
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t child = Get64(p + 8 + 8 * i);
    if (p[1] == 1 && ndb::IsInternalBid(child)) {
      throw Error(Errc::kCorrupt, where + ": XBLOCK entry " + Hex(child) + " is not a data block");
    }
    if (p[1] == 2 && !ndb::IsInternalBid(child)) {
      throw Error(Errc::kCorrupt, where + ": XXBLOCK entry " + Hex(child) + " is not an XBLOCK");
    }
    ReadDataTree(child, blocks, depth + 1);
  }
  std::uint64_t after = 0;
  for (const auto& s : *blocks) after += s.size();
  if (after - before != Get32(p + 4)) {
    throw Error(Errc::kCorrupt, where + ": lcbTotal " + std::to_string(Get32(p + 4)) +
                                    " but the blocks hold " + std::to_string(after - before));
  }
}

void NdbFile::ReadSubnodes(std::uint64_t bid, std::map<std::uint32_t, NodeContent>* out,
                           int depth) const {
  if (bid == 0) return;
  const std::string where = path_ + ": subnode block " + Hex(bid);
  if (depth > kMaxNesting) throw Error(Errc::kCorrupt, where + ": nested too deeply");
  if (!ndb::IsInternalBid(bid)) throw Error(Errc::kCorrupt, where + ": not an internal block");
  const std::string b = ReadBlock(bid);
  const auto* p = reinterpret_cast<const std::uint8_t*>(b.data());
  if (b.size() < 8 || p[0] != ndb::kBtypeSBlock || p[1] > 1) {
    throw Error(Errc::kCorrupt, where + ": not an SLBLOCK/SIBLOCK");
  }
  const std::size_t n = Get16(p + 2);
  const std::size_t esize = p[1] == 0 ? 24 : 16;
  if (8 + esize * n > b.size()) throw Error(Errc::kCorrupt, where + ": entry count too large");
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* e = p + 8 + esize * i;
    if (p[1] == 1) {
      ReadSubnodes(Get64(e + 8), out, depth + 1);
      continue;
    }
    const std::uint32_t nid = Get32(e);
    NodeContent c;
    ReadDataTree(Get64(e + 8), &c.blocks, 0);
    ReadSubnodes(Get64(e + 16), &c.subnodes, depth + 1);
    if (!out->emplace(nid, std::move(c)).second) {
      throw Error(Errc::kCorrupt, where + ": subnode " + Hex(nid) + " listed twice");
    }
  }
}

NodeContent NdbFile::ReadCommitted(const NbtLeaf& entry) const {
  NodeContent c;
  ReadDataTree(entry.bid_data, &c.blocks, 0);
  ReadSubnodes(entry.bid_sub, &c.subnodes, 0);
  return c;
}

bool NdbFile::HasNode(std::uint32_t nid) const {
  if (auto it = staged_.find(nid); it != staged_.end()) return it->second.has_value();
  return nbt_.Find(nid) != nullptr;
}

NodeContent NdbFile::ReadNode(std::uint32_t nid) const {
  if (auto it = staged_.find(nid); it != staged_.end()) {
    if (!it->second) throw Error(Errc::kNotFound, path_ + ": node " + Hex(nid) + " was deleted");
    return it->second->content;
  }
  const NbtLeaf* e = nbt_.Find(nid);
  if (e == nullptr) throw Error(Errc::kNotFound, path_ + ": no node " + Hex(nid));
  return ReadCommitted(*e);
}

std::uint32_t NdbFile::ParentOf(std::uint32_t nid) const {
  if (auto it = staged_.find(nid); it != staged_.end()) {
    if (!it->second) throw Error(Errc::kNotFound, path_ + ": node " + Hex(nid) + " was deleted");
    return it->second->parent;
  }
  const NbtLeaf* e = nbt_.Find(nid);
  if (e == nullptr) throw Error(Errc::kNotFound, path_ + ": no node " + Hex(nid));
  return e->parent;
}

std::vector<std::uint32_t> NdbFile::ListNodes() const {
  std::vector<std::uint32_t> out;
  out.reserve(nbt_.size() + staged_.size());
  auto st = staged_.begin();
  nbt_.ForEach([&](const NbtLeaf& e) {
    const auto nid = static_cast<std::uint32_t>(e.key);
    for (; st != staged_.end() && st->first < nid; ++st) {
      if (st->second) out.push_back(st->first);
    }
    if (st != staged_.end() && st->first == nid) {
      if (st->second) out.push_back(nid);
      ++st;
      return;
    }
    out.push_back(nid);
  });
  for (; st != staged_.end(); ++st) {
    if (st->second) out.push_back(st->first);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Staging

void NdbFile::PutNode(std::uint32_t nid, std::uint32_t parent_nid, NodeContent content) {
  if (!writable_) throw Error(Errc::kReadOnly, path_ + ": opened read-only");
  if ((nid & 0x1F) == static_cast<std::uint32_t>(NidType::kHid)) {
    throw Error(Errc::kInvalid, path_ + ": " + Hex(nid) + " is a heap id, not a node id");
  }
  ValidateContent(content, nid, 0);
  const std::uint32_t type = nid & 0x1F, index = nid >> 5;
  if (index > rgnid_[type] && index >= 0x400) {
    rgnid_[type] = index;
    counters_dirty_ = true;
  }
  staged_[nid] = Staged{parent_nid, std::move(content)};
}

void NdbFile::DeleteNode(std::uint32_t nid) {
  if (!writable_) throw Error(Errc::kReadOnly, path_ + ": opened read-only");
  if (!HasNode(nid)) throw Error(Errc::kNotFound, path_ + ": no node " + Hex(nid));
  if (nbt_.Find(nid) == nullptr) {
    staged_.erase(nid);  // never committed: forget it
  } else {
    staged_[nid] = std::nullopt;
  }
}

std::uint32_t NdbFile::AllocateNid(NidType type) {
  const auto t = static_cast<std::uint32_t>(type);
  for (;;) {
    if (rgnid_[t] >= (1u << 27) - 1) {
      throw Error(Errc::kNoSpace, path_ + ": node ids of type " + Hex(t) + " exhausted");
    }
    const std::uint32_t nid = (++rgnid_[t] << 5) | t;
    counters_dirty_ = true;
    if (!HasNode(nid)) return nid;
  }
}

// ---------------------------------------------------------------------------
// Allocation

void NdbFile::MarkUnits(std::uint64_t ib, std::uint64_t bytes, bool used) {
  std::uint64_t unit = (ib - ndb::kFirstAMap) / 64;
  const std::uint64_t end = (ib + bytes - ndb::kFirstAMap + 63) / 64;
  for (; unit < end; ++unit) {
    const std::uint64_t r = unit / ndb::kUnitsPerRange, u = unit % ndb::kUnitsPerRange;
    std::uint8_t& byte = used_[r][u / 8];
    const auto mask = static_cast<std::uint8_t>(0x80u >> (u % 8));
    if (((byte & mask) != 0) == used) continue;
    byte = static_cast<std::uint8_t>(used ? (byte | mask) : (byte & ~mask));
    free_units_[r] = used ? free_units_[r] - 1 : free_units_[r] + 1;
    if (!used) max_run_[r] = static_cast<std::uint32_t>(ndb::kUnitsPerRange);
    amap_dirty_[r] = true;
  }
}

void NdbFile::AddRange() {
  const std::uint64_t r = ranges_++;
  used_.emplace_back(496, 0);
  free_units_.push_back(static_cast<std::uint32_t>(ndb::kUnitsPerRange));
  max_run_.push_back(static_cast<std::uint32_t>(ndb::kUnitsPerRange));
  amap_dirty_.push_back(true);
  MarkUnits(ndb::RangeStart(r), ndb::MapPagesInRange(r) * ndb::kPageSize, true);
  const std::uint64_t size = ndb::RangeStart(ranges_);
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    ThrowErrno(errno == ENOSPC || errno == EFBIG ? Errc::kNoSpace : Errc::kIo,
               "extend " + path_ + " to " + std::to_string(size) + " bytes", errno);
  }
  const int rc = ::posix_fallocate(fd_, static_cast<off_t>(ndb::RangeStart(r)),
                                   static_cast<off_t>(ndb::kAMapRange));
  if (rc == ENOSPC) ThrowErrno(Errc::kNoSpace, "allocate space in " + path_, rc);
}

std::uint64_t NdbFile::Allocate(std::uint64_t bytes, std::uint64_t align) {
  const std::uint64_t units = bytes / 64, step = align / 64;
  auto aligned = [&](std::uint64_t u) { return (u + step - 1) / step * step; };
  for (std::uint64_t r = cursor_range_;; ++r) {
    if (r == ranges_) AddRange();
    if (free_units_[r] < units || max_run_[r] < units) continue;
    const std::uint64_t from = r == cursor_range_ ? cursor_unit_ : 0;
    const auto& bits = used_[r];
    // First fit: walk the free runs; whole bytes at a time where possible.
    std::uint64_t u = from, run_start = from, longest = 0;
    while (u < ndb::kUnitsPerRange) {
      const std::uint8_t byte = bits[u / 8];
      std::uint64_t next;
      if (u % 8 == 0 && byte == 0xFF) {
        u += 8;
        run_start = u;
        continue;
      }
      if (u % 8 == 0 && byte == 0) {
        next = u + 8;
      } else if ((byte & (0x80u >> (u % 8))) != 0) {
        ++u;
        run_start = u;
        continue;
      } else {
        next = u + 1;
      }
      longest = std::max(longest, next - run_start);
      const std::uint64_t at = aligned(run_start);
      if (next >= at + units) {
        const std::uint64_t ib = ndb::RangeStart(r) + at * 64;
        MarkUnits(ib, bytes, true);
        tentative_.emplace_back(ib, bytes);
        cursor_range_ = r;
        cursor_unit_ = at + units;
        return ib;
      }
      u = next;
    }
    if (from == 0) max_run_[r] = static_cast<std::uint32_t>(longest);
  }
}

std::uint64_t NdbFile::FreeBytes() const {
  std::uint64_t n = 0;
  for (std::uint32_t f : free_units_) n += f;
  return n * 64;
}

std::string NdbFile::AMapPage(std::uint64_t range) const {
  std::string page(ndb::kPageSize, '\0');
  auto* p = reinterpret_cast<std::uint8_t*>(page.data());
  std::memcpy(p, used_[range].data(), 496);
  ndb::SealMapPage(p, ndb::kPageAMap, ndb::RangeStart(range));
  return page;
}

// ---------------------------------------------------------------------------
// Writing

void NdbFile::Crash(CrashPoint point) {
  if (crash_hook_) crash_hook_(point);
  if (env_crash_point_ && *env_crash_point_ == point && --env_crash_count_ == 0) {
    LOG(kWarning) << "MAILFS_PST_CRASH: crash point " << CrashPointName(point) << " reached, killing the daemon";
    ::kill(::getpid(), SIGKILL);
    ::pause();
  }
}

void NdbFile::WriteAt(std::uint64_t ib, const std::string& bytes) {
  if (!pending_.empty() && ib == pending_ib_ + pending_.size() &&
      pending_.size() + bytes.size() <= kMaxPendingWrite) {
    pending_ += bytes;
    return;
  }
  FlushWrites();
  pending_ib_ = ib;
  pending_ = bytes;
}

void NdbFile::FlushWrites() {
  if (pending_.empty()) return;
  std::string data;
  data.swap(pending_);
  auto write = [&](std::size_t from, std::size_t to) {
    while (from < to) {
      ssize_t n = ::pwrite(fd_, data.data() + from, to - from, static_cast<off_t>(pending_ib_ + from));
      if (n < 0) {
        if (errno == EINTR) continue;
        ThrowErrno(errno == ENOSPC ? Errc::kNoSpace : Errc::kIo,
                   "write " + path_ + " at " + Hex(pending_ib_ + from), errno);
      }
      from += static_cast<std::size_t>(n);
    }
  };
  if (data_phase_) {
    const std::size_t half = data.size() / 2 / 64 * 64;
    write(0, half);
    Crash(CrashPoint::kMidDataWrite);
    write(half, data.size());
  } else {
    write(0, data.size());
  }
}

void NdbFile::WriteHeader(const std::string& header) {
  FlushWrites();
  pending_ib_ = 0;
  pending_ = header;
  FlushWrites();
}

void NdbFile::Sync() {
  if (sync_ && ::fdatasync(fd_) != 0) ThrowErrno(Errc::kIo, "fsync " + path_, errno);
}

std::uint64_t NdbFile::WriteBlock(std::string payload, bool internal) {
  const std::uint64_t bid = bid_next_b_ | (internal ? 2u : 0u);
  bid_next_b_ += 4;
  ++blocks_written_;
  if (cache_writes_) CacheBlock(bid, payload);
  const auto cb = static_cast<std::uint16_t>(payload.size());
  if (!internal) {
    ndb::EncodeBlock(crypt_, bid, reinterpret_cast<std::uint8_t*>(payload.data()), payload.size());
  }
  const std::uint64_t size = ndb::BlockDiskSize(cb);
  const std::uint64_t ib = Allocate(size, 64);
  payload.resize(size, '\0');
  auto* t = reinterpret_cast<std::uint8_t*>(payload.data()) + size - ndb::kBlockTrailer;
  Put16(t, cb);
  Put16(t + 2, ndb::Signature(ib, bid));
  Put32(t + 4, ndb::Crc(payload.data(), cb));
  Put64(t + 8, bid);
  WriteAt(ib, payload);
  bbt_.Upsert(BbtLeaf{bid, ib, cb, 2});
  return bid;
}

namespace {

std::string XBlock(std::uint8_t level, const std::vector<std::uint64_t>& bids, std::size_t from,
                   std::size_t to, std::uint32_t total) {
  std::string b(8 + 8 * (to - from), '\0');
  auto* p = reinterpret_cast<std::uint8_t*>(b.data());
  p[0] = ndb::kBtypeXBlock;
  p[1] = level;
  Put16(p + 2, static_cast<std::uint16_t>(to - from));
  Put32(p + 4, total);
  for (std::size_t i = from; i < to; ++i) Put64(p + 8 + 8 * (i - from), bids[i]);
  return b;
}

}  // namespace

// ---------------------------------------------------------------------------
// Reuse of unchanged blocks

void NdbFile::CacheBlock(std::uint64_t bid, const std::string& payload) {
  bid &= ~1ull;
  DropCachedBlock(bid);
  if (payload.size() > kBlockCacheBytes / 4) return;
  if (cache_bytes_ + payload.size() > kBlockCacheBytes) {
    // Over budget: the least recently used half goes.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> by_age;  // (tick, bid)
    by_age.reserve(block_cache_.size());
    for (const auto& [b, c] : block_cache_) by_age.emplace_back(c.tick, b);
    std::sort(by_age.begin(), by_age.end());
    for (const auto& [tick, b] : by_age) {
      if (cache_bytes_ + payload.size() <= kBlockCacheBytes / 2) break;
      DropCachedBlock(b);
    }
  }
  block_cache_[bid] = CachedPayload{payload, ++cache_tick_};
  cache_bytes_ += payload.size();
}

void NdbFile::DropCachedBlock(std::uint64_t bid) {
  auto it = block_cache_.find(bid & ~1ull);
  if (it == block_cache_.end()) return;
  cache_bytes_ -= it->second.bytes.size();
  block_cache_.erase(it);
}

const std::string* NdbFile::CachedBlock(std::uint64_t bid) {
  bid &= ~1ull;
  if (auto it = block_cache_.find(bid); it != block_cache_.end()) {
    it->second.tick = ++cache_tick_;
    return &it->second.bytes;
  }
  std::string payload;
  try {
    payload = ReadBlock(bid);
  } catch (const Error&) {
    return nullptr;  // a damaged old block is simply not reused
  }
  CacheBlock(bid, payload);
  auto it = block_cache_.find(bid);
  return it == block_cache_.end() ? nullptr : &it->second.bytes;
}

void NdbFile::AddRef(std::uint64_t bid) { ++extra_refs_[bid & ~1ull]; }

void NdbFile::DropExtraRef(std::uint64_t bid) {
  auto it = extra_refs_.find(bid & ~1ull);
  if (it != extra_refs_.end() && --it->second == 0) extra_refs_.erase(it);
}

std::uint64_t NdbFile::PutInternal(const std::string& payload, std::uint64_t old_bid,
                                   const std::vector<std::uint64_t>& children) {
  const std::uint64_t bid = PutBlock(payload, true, old_bid);
  // A reused internal block names the same children: their references
  // stay with it, so the ones this commit added for them go again.
  if (bid == old_bid) {
    for (std::uint64_t child : children) {
      if (child != 0) DropExtraRef(child);
    }
  }
  return bid;
}

std::uint64_t NdbFile::PutBlock(const std::string& payload, bool internal, std::uint64_t old_bid) {
  if (old_bid != 0 && ndb::IsInternalBid(old_bid) == internal) {
    const std::string* old = CachedBlock(old_bid);
    if (old != nullptr && *old == payload) {
      AddRef(old_bid);
      return old_bid;
    }
  }
  return WriteBlock(payload, internal);
}

namespace {

// Entries of an internal block (XBLOCK: BIDs; SLBLOCK: nid, data, sub;
// SIBLOCK: nid, child), or nothing if |b| is not such a block.
struct InternalEntry {
  std::uint64_t a = 0, b = 0, c = 0;
};
bool ParseInternal(const std::string& b, std::uint8_t btype, std::uint8_t* level,
                   std::vector<InternalEntry>* out) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(b.data());
  if (b.size() < 8 || p[0] != btype) return false;
  *level = p[1];
  const std::size_t n = Get16(p + 2);
  const std::size_t esize = btype == ndb::kBtypeXBlock ? 8 : (p[1] == 0 ? 24 : 16);
  if (8 + esize * n > b.size()) return false;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* e = p + 8 + esize * i;
    InternalEntry x;
    x.a = Get64(e);
    if (esize >= 16) x.b = Get64(e + 8);
    if (esize == 24) x.c = Get64(e + 16);
    out->push_back(x);
  }
  return true;
}

}  // namespace

std::uint64_t NdbFile::WriteDataTree(const std::vector<std::string>& blocks, std::uint64_t old) {
  if (blocks.empty()) return 0;
  // The old tree's data blocks and XBLOCKs by position (for reuse).
  std::vector<std::uint64_t> old_data, old_x;
  std::uint64_t old_xx = 0;
  if (old != 0 && !ndb::IsInternalBid(old)) {
    old_data.push_back(old);
  } else if (old != 0) {
    std::uint8_t level = 0;
    std::vector<InternalEntry> top;
    const std::string* root = CachedBlock(old);
    if (root != nullptr && ParseInternal(*root, ndb::kBtypeXBlock, &level, &top)) {
      if (level == 1) {
        old_x.push_back(old);
        for (const auto& e : top) old_data.push_back(e.a);
      } else if (level == 2) {
        old_xx = old;
        for (const auto& e : top) {
          old_x.push_back(e.a);
          std::uint8_t sub_level = 0;
          std::vector<InternalEntry> children;
          const std::string* x = CachedBlock(e.a);
          if (x == nullptr || !ParseInternal(*x, ndb::kBtypeXBlock, &sub_level, &children) || sub_level != 1) {
            old_data.clear();  // damaged: no reuse of the rest
            break;
          }
          for (const auto& c : children) old_data.push_back(c.a);
        }
      }
    }
  }
  auto old_at = [](const std::vector<std::uint64_t>& v, std::size_t i) { return i < v.size() ? v[i] : 0; };
  std::vector<std::uint64_t> bids;
  std::vector<std::uint64_t> sizes;
  bids.reserve(blocks.size());
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    bids.push_back(PutBlock(blocks[i], false, old_at(old_data, i)));
    sizes.push_back(blocks[i].size());
  }
  if (bids.size() == 1) return bids.front();
  auto sum = [&](std::size_t from, std::size_t to) {
    std::uint64_t s = 0;
    for (std::size_t i = from; i < to; ++i) s += sizes[i];
    return static_cast<std::uint32_t>(s);
  };
  const std::size_t per = ndb::kXBlockMaxEntries;
  if (bids.size() <= per) {
    return PutInternal(XBlock(1, bids, 0, bids.size(), sum(0, bids.size())), old_at(old_x, 0), bids);
  }
  std::vector<std::uint64_t> xbids;
  for (std::size_t at = 0; at < bids.size(); at += per) {
    const std::size_t to = std::min(bids.size(), at + per);
    const std::vector<std::uint64_t> children(bids.begin() + static_cast<long>(at), bids.begin() + static_cast<long>(to));
    xbids.push_back(PutInternal(XBlock(1, bids, at, to, sum(at, to)), old_at(old_x, at / per), children));
  }
  return PutInternal(XBlock(2, xbids, 0, xbids.size(), sum(0, bids.size())), old_xx, xbids);
}

std::uint64_t NdbFile::WriteSubnodes(const std::map<std::uint32_t, NodeContent>& subnodes,
                                     std::uint64_t old) {
  if (subnodes.empty()) return 0;
  // The old subnode tree: each subnode's trees, and the SLBLOCKs (and
  // SIBLOCK) by position.
  std::map<std::uint32_t, std::pair<std::uint64_t, std::uint64_t>> old_nodes;
  std::vector<std::uint64_t> old_sl;
  std::uint64_t old_si = 0;
  if (old != 0 && ndb::IsInternalBid(old)) {
    std::uint8_t level = 0;
    std::vector<InternalEntry> top;
    const std::string* root = CachedBlock(old);
    auto take_sl = [&](std::uint64_t bid, const std::vector<InternalEntry>& entries) {
      old_sl.push_back(bid);
      for (const auto& e : entries) old_nodes[static_cast<std::uint32_t>(e.a)] = {e.b, e.c};
    };
    if (root != nullptr && ParseInternal(*root, ndb::kBtypeSBlock, &level, &top)) {
      if (level == 0) {
        take_sl(old, top);
      } else if (level == 1) {
        old_si = old;
        for (const auto& e : top) {
          std::uint8_t sub_level = 0;
          std::vector<InternalEntry> entries;
          const std::string* sl = CachedBlock(e.b);
          if (sl == nullptr || !ParseInternal(*sl, ndb::kBtypeSBlock, &sub_level, &entries) || sub_level != 0) break;
          take_sl(e.b, entries);
        }
      }
    }
  }
  struct Entry {
    std::uint32_t nid;
    std::uint64_t data, sub;
  };
  std::vector<Entry> entries;
  entries.reserve(subnodes.size());
  for (const auto& [nid, c] : subnodes) {
    std::uint64_t old_data = 0, old_sub = 0;
    if (auto it = old_nodes.find(nid); it != old_nodes.end()) std::tie(old_data, old_sub) = it->second;
    const std::uint64_t data = WriteDataTree(c.blocks, old_data);
    const std::uint64_t sub = WriteSubnodes(c.subnodes, old_sub);
    entries.push_back({nid, data, sub});
  }
  auto sl_block = [&](std::size_t from, std::size_t to, std::uint64_t old_bid) {
    std::string b(8 + 24 * (to - from), '\0');
    auto* p = reinterpret_cast<std::uint8_t*>(b.data());
    p[0] = ndb::kBtypeSBlock;
    p[1] = 0;
    Put16(p + 2, static_cast<std::uint16_t>(to - from));
    for (std::size_t i = from; i < to; ++i) {
      std::uint8_t* e = p + 8 + 24 * (i - from);
      Put64(e, entries[i].nid);
      Put64(e + 8, entries[i].data);
      Put64(e + 16, entries[i].sub);
    }
    std::vector<std::uint64_t> children;
    for (std::size_t i = from; i < to; ++i) {
      children.push_back(entries[i].data);
      children.push_back(entries[i].sub);
    }
    return PutInternal(b, old_bid, children);
  };
  const std::size_t per = ndb::kSlBlockMaxEntries;
  if (entries.size() <= per) return sl_block(0, entries.size(), old_sl.size() == 1 && old_si == 0 ? old_sl[0] : 0);
  std::string si(8, '\0');
  auto* p = reinterpret_cast<std::uint8_t*>(si.data());
  p[0] = ndb::kBtypeSBlock;
  p[1] = 1;
  std::uint16_t n = 0;
  std::vector<std::uint64_t> sl_bids;
  for (std::size_t at = 0; at < entries.size(); at += per, ++n) {
    const std::uint64_t bid = sl_block(at, std::min(entries.size(), at + per), n < old_sl.size() ? old_sl[n] : 0);
    sl_bids.push_back(bid);
    std::uint8_t e[16];
    Put64(e, entries[at].nid);
    Put64(e + 8, bid);
    si.append(reinterpret_cast<const char*>(e), sizeof e);
  }
  Put16(reinterpret_cast<std::uint8_t*>(si.data()) + 2, n);
  return PutInternal(si, old_si, sl_bids);
}

void NdbFile::Release(std::uint64_t bid, int depth) {
  if (bid == 0) return;
  if (extra_refs_.count(bid & ~1ull) != 0) {
    // The new tree names this block again: the reference moves over.
    DropExtraRef(bid);
    return;
  }
  const BbtLeaf* found = bbt_.Find(bid & ~1ull);
  if (found == nullptr) {
    LOG(kWarning) << path_ << ": dropping a reference to block " << Hex(bid)
                  << ", which is not in the BBT";
    return;
  }
  BbtLeaf leaf = *found;
  if (leaf.cref > 2) {
    --leaf.cref;
    bbt_.Upsert(leaf);
    return;
  }
  if (ndb::IsInternalBid(bid) && depth < kMaxNesting) {
    std::string b;
    if (auto cached = block_cache_.find(bid & ~1ull); cached != block_cache_.end()) {
      b = cached->second.bytes;
    } else {
      try {
        b = ReadBlock(bid);
      } catch (const Error& e) {
        LOG(kWarning) << "not releasing the children of a damaged block: " << e.what();
      }
    }
    const auto* p = reinterpret_cast<const std::uint8_t*>(b.data());
    if (b.size() >= 8) {
      const std::size_t n = Get16(p + 2);
      const bool x = p[0] == ndb::kBtypeXBlock;
      const std::size_t esize = x ? 8 : (p[1] == 0 ? 24 : 16);
      for (std::size_t i = 0; i < n && 8 + esize * (i + 1) <= b.size(); ++i) {
        const std::uint8_t* e = p + 8 + esize * i;
        if (x) {
          Release(Get64(e), depth + 1);
        } else if (esize == 24) {
          Release(Get64(e + 8), depth + 1);
          Release(Get64(e + 16), depth + 1);
        } else {
          Release(Get64(e + 8), depth + 1);
        }
      }
    }
  }
  bbt_.Erase(leaf.key);
  DropCachedBlock(leaf.key);
  freed_.emplace_back(leaf.ib, ndb::BlockDiskSize(leaf.cb));
}

template <typename Leaf>
void NdbFile::WriteTreePages(ndb::PageTree<Leaf>& tree, std::uint8_t ptype) {
  using Page = typename ndb::PageTree<Leaf>::Page;
  tree.Commit([&](Page& page) {
    std::string bytes(ndb::kPageSize, '\0');
    auto* p = reinterpret_cast<std::uint8_t*>(bytes.data());
    std::size_t cb_ent = ndb::kBtEntrySize, max = ndb::kBtMaxEntries;
    if (page.level == 0) {
      if constexpr (std::is_same_v<Leaf, BbtLeaf>) {
        for (std::size_t i = 0; i < page.leaves.size(); ++i) {
          std::uint8_t* e = p + 24 * i;
          const BbtLeaf& l = page.leaves[i];
          Put64(e, l.key);
          Put64(e + 8, l.ib);
          Put16(e + 16, l.cb);
          Put16(e + 18, l.cref);
        }
      } else {
        cb_ent = ndb::kNbtEntrySize;
        max = ndb::kNbtMaxEntries;
        for (std::size_t i = 0; i < page.leaves.size(); ++i) {
          std::uint8_t* e = p + 32 * i;
          const NbtLeaf& l = page.leaves[i];
          Put64(e, l.key);
          Put64(e + 8, l.bid_data);
          Put64(e + 16, l.bid_sub);
          Put32(e + 24, l.parent);
        }
      }
    } else {
      for (std::size_t i = 0; i < page.children.size(); ++i) {
        std::uint8_t* e = p + 24 * i;
        const Page& c = *page.children[i];
        Put64(e, c.FirstKey());
        Put64(e + 8, c.dirty ? c.new_bid : c.bid);
        Put64(e + 16, c.dirty ? c.new_ib : c.ib);
      }
    }
    p[488] = static_cast<std::uint8_t>(page.Count());
    p[489] = static_cast<std::uint8_t>(max);
    p[490] = static_cast<std::uint8_t>(cb_ent);
    p[491] = static_cast<std::uint8_t>(page.level);
    page.new_bid = bid_next_p_++;
    page.new_ib = Allocate(ndb::kPageSize, ndb::kPageSize);
    ndb::SealPage(p, ptype, page.new_ib, page.new_bid);
    WriteAt(page.new_ib, bytes);
  });
}

std::string NdbFile::BuildHeader(std::uint8_t amap_valid, std::uint64_t free_bytes) const {
  std::string h = header_;
  auto* p = reinterpret_cast<std::uint8_t*>(h.data());
  Put64(p + ndb::hdr::kBidNextP, bid_next_p_);
  Put32(p + ndb::hdr::kUnique, unique_);
  for (std::size_t i = 0; i < 32; ++i) Put32(p + ndb::hdr::kRgnid + 4 * i, rgnid_[i]);
  Put64(p + ndb::hdr::kFileEof, ndb::RangeStart(ranges_));
  Put64(p + ndb::hdr::kAMapLast, ndb::RangeStart(ranges_ - 1));
  Put64(p + ndb::hdr::kAMapFree, free_bytes);
  Put64(p + ndb::hdr::kNbtBid, nbt_.RootBid());
  Put64(p + ndb::hdr::kNbtIb, nbt_.RootIb());
  Put64(p + ndb::hdr::kBbtBid, bbt_.RootBid());
  Put64(p + ndb::hdr::kBbtIb, bbt_.RootIb());
  p[ndb::hdr::kAMapValid] = amap_valid;
  Put64(p + ndb::hdr::kBidNextB, bid_next_b_);
  ndb::SealHeader(p);
  return h;
}

void NdbFile::RollBack() {
  pending_.clear();
  for (auto it = tentative_.rbegin(); it != tentative_.rend(); ++it) {
    if (ndb::RangeStart(committed_ranges_) > it->first) MarkUnits(it->first, it->second, false);
  }
  tentative_.clear();
  freed_.clear();
  extra_refs_.clear();
  ranges_ = committed_ranges_;
  used_.resize(ranges_);
  free_units_.resize(ranges_);
  max_run_.resize(ranges_);
  amap_dirty_.resize(ranges_);
  cursor_range_ = cursor_unit_ = 0;
  block_cache_.clear();
  cache_bytes_ = 0;
  if (ranges_ > 0) LoadTrees();
}

std::string NdbFile::AMapPageWithout(
    std::uint64_t range, const std::vector<std::pair<std::uint64_t, std::uint64_t>>& released) const {
  std::string page(ndb::kPageSize, '\0');
  auto* p = reinterpret_cast<std::uint8_t*>(page.data());
  std::memcpy(p, used_[range].data(), 496);
  const std::uint64_t first = range * ndb::kUnitsPerRange;
  for (const auto& [ib, bytes] : released) {
    const std::uint64_t from = (ib - ndb::kFirstAMap) / 64, to = (ib + bytes - ndb::kFirstAMap + 63) / 64;
    for (std::uint64_t unit = std::max(from, first); unit < std::min(to, first + ndb::kUnitsPerRange); ++unit) {
      const std::uint64_t u = unit - first;
      p[u / 8] = static_cast<std::uint8_t>(p[u / 8] & ~(0x80u >> (u % 8)));
    }
  }
  ndb::SealMapPage(p, ndb::kPageAMap, ndb::RangeStart(range));
  return page;
}

void NdbFile::WriteDList() {
  // Its BID is the durable header's bidNextP: never above it, whichever
  // header a crash leaves (a commit only raises the counter).
  std::string dlist(ndb::kPageSize, '\0');
  ndb::SealPage(reinterpret_cast<std::uint8_t*>(dlist.data()), ndb::kPageDList, ndb::kDListOffset,
                Get64(reinterpret_cast<const std::uint8_t*>(header_.data()) + ndb::hdr::kBidNextP));
  WriteAt(ndb::kDListOffset, dlist);
}

void NdbFile::WriteScrub() {
  // Zero what earlier commits released: deleted data is gone for good, and
  // readers that scan free space for lost items (pffexport -m all) find no
  // stale pages or blocks. Only space no committed tree names is touched.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> scrub;
  scrub.swap(scrub_);
  std::sort(scrub.begin(), scrub.end());
  for (const auto& [ib, bytes] : scrub) WriteAt(ib, std::string(bytes, '\0'));
}

void NdbFile::Commit() {
  if (!writable_) throw Error(Errc::kReadOnly, path_ + ": opened read-only");
  if (staged_.empty() && !counters_dirty_ && !bbt_.dirty() && !nbt_.dirty()) {
    const bool amap_work = std::find(amap_dirty_.begin(), amap_dirty_.end(), true) != amap_dirty_.end();
    if (checkpoint_ms_ == 0 && (amap_work || !disk_amap_valid_ || !scrub_.empty())) CheckpointOrThrow();
    return;
  }
  CommitOrThrow();
  if (checkpoint_ms_ == 0 || NowMs() - last_checkpoint_ms_ >= checkpoint_ms_) CheckpointOrThrow();
}

void NdbFile::Checkpoint() {
  if (!writable_) throw Error(Errc::kReadOnly, path_ + ": opened read-only");
  if (header_uncertain_) return;
  CheckpointOrThrow();
}

void NdbFile::CommitOrThrow() {
  // Phase 1: everything new goes to space the committed state does not use.
  std::string header;
  bool amap_written = false;
  try {
    cursor_range_ = cursor_unit_ = 0;
    while (cursor_range_ < ranges_ && free_units_[cursor_range_] == 0) ++cursor_range_;
    Crash(CrashPoint::kBeforeDataWrite);
    data_phase_ = true;
    WriteScrub();
    for (const auto& [nid, staged] : staged_) {
      std::optional<NbtLeaf> old;
      if (const NbtLeaf* e = nbt_.Find(nid)) old = *e;
      cache_writes_ = old.has_value();
      if (staged) {
        const std::uint64_t data = WriteDataTree(staged->content.blocks, old ? old->bid_data : 0);
        const std::uint64_t sub = WriteSubnodes(staged->content.subnodes, old ? old->bid_sub : 0);
        nbt_.Upsert(NbtLeaf{nid, data, sub, staged->parent});
      } else {
        nbt_.Erase(nid);
      }
      if (old) {
        Release(old->bid_data, 0);
        Release(old->bid_sub, 0);
      }
      cache_writes_ = false;
    }
    // Blocks named by the new trees and not released by the old ones.
    for (const auto& [bid, n] : extra_refs_) {
      if (const BbtLeaf* found = bbt_.Find(bid)) {
        BbtLeaf leaf = *found;
        leaf.cref = static_cast<std::uint16_t>(std::min<std::uint32_t>(0xFFFF, leaf.cref + n));
        bbt_.Upsert(leaf);
      }
    }
    extra_refs_.clear();
    WriteTreePages(nbt_, ndb::kPageNbt);
    WriteTreePages(bbt_, ndb::kPageBbt);
    // Map pages of new AMap ranges (beyond the committed end of file).
    for (std::uint64_t r = committed_ranges_; r < ranges_; ++r) {
      WriteAt(ndb::RangeStart(r), AMapPage(r));
      std::uint64_t ib = ndb::RangeStart(r) + ndb::kPageSize;
      auto filled = [&](std::uint8_t ptype) {
        std::string page(ndb::kPageSize, '\xff');
        ndb::SealMapPage(reinterpret_cast<std::uint8_t*>(page.data()), ptype, ib);
        WriteAt(ib, page);
        ib += ndb::kPageSize;
      };
      if (ndb::RangeHasPMap(r)) filled(ndb::kPagePMap);
      if (ndb::RangeHasFMap(r)) filled(ndb::kPageFMap);
      if (ndb::RangeHasFPMap(r)) filled(ndb::kPageFPMap);
    }
    // What this commit releases once its header is durable.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> released = freed_;
    auto release_page = [&](std::uint64_t ib) { released.emplace_back(ib, ndb::kPageSize); };
    nbt_.ForEachReleased(release_page);
    bbt_.ForEachReleased(release_page);
    std::uint64_t free_after = FreeBytes();
    for (const auto& r : released) free_after += r.second;
    // While the durable header says fAMapValid = 0 the AMap may change: it
    // goes out with the data, describing the state this commit makes.
    if (!disk_amap_valid_) {
      std::vector<bool> touched = amap_dirty_;
      for (const auto& [ib, bytes] : released) touched[(ib - ndb::kFirstAMap) / ndb::kAMapRange] = true;
      amap_written = true;
      for (std::uint64_t r = 0; r < ranges_; ++r) {
        if (touched[r]) WriteAt(ndb::RangeStart(r), AMapPageWithout(r, released));
      }
      WriteDList();
    }
    FlushWrites();
    data_phase_ = false;
    Crash(CrashPoint::kBeforeDataSync);
    Sync();
    Crash(CrashPoint::kBeforeHeader);
    // Phase 2: the commit point.
    ++unique_;
    header = BuildHeader(0, free_after);
    data_phase_ = false;
    header_uncertain_ = true;
    WriteHeader(header);
    Crash(CrashPoint::kBeforeHeaderSync);
    Sync();
    header_uncertain_ = false;
  } catch (...) {
    data_phase_ = false;
    cache_writes_ = false;
    if (amap_written) {
      // The AMap pages on disk may now describe neither state.
      std::fill(amap_dirty_.begin(), amap_dirty_.end(), true);
      disk_amap_current_ = false;
    }
    try {
      RollBack();
    } catch (const Error& e) {
      LOG(kError) << "cannot return to the last commit of " << path_ << ": " << e.what();
    }
    if (amap_written) std::fill(amap_dirty_.begin(), amap_dirty_.end(), true);
    throw;
  }
  // Committed: the old locations are free from now on.
  header_ = header;
  disk_amap_valid_ = false;
  committed_ranges_ = ranges_;
  tentative_.clear();
  staged_.clear();
  counters_dirty_ = false;
  auto release_page = [&](std::uint64_t ib) { freed_.emplace_back(ib, ndb::kPageSize); };
  nbt_.Promote(release_page);
  bbt_.Promote(release_page);
  for (const auto& [ib, bytes] : freed_) MarkUnits(ib, bytes, false);
  scrub_.insert(scrub_.end(), freed_.begin(), freed_.end());
  freed_.clear();
  if (amap_written) {
    std::fill(amap_dirty_.begin(), amap_dirty_.end(), false);
    disk_amap_current_ = true;
  } else {
    disk_amap_current_ = false;
  }
}

void NdbFile::CheckpointOrThrow() {
  const bool amap_work = std::find(amap_dirty_.begin(), amap_dirty_.end(), true) != amap_dirty_.end();
  if (disk_amap_valid_ && !amap_work) {
    if (!scrub_.empty()) {
      WriteScrub();
      FlushWrites();
    }
    return;
  }
  try {
    if (disk_amap_valid_) {
      // AMap pages that disagree with a header calling them valid (a file
      // from another producer): flag them invalid before touching them.
      ++unique_;
      header_uncertain_ = true;
      WriteHeader(BuildHeader(0, FreeBytes()));
      Sync();
      header_uncertain_ = false;
      disk_amap_valid_ = false;
    }
    // Phase 3: AMap and density list in place, then the header again with
    // fAMapValid = 2. A failure here leaves a valid file flagged "rebuild AMap".
    Crash(CrashPoint::kBeforeAMapWrite);
    WriteScrub();
    if (amap_work || !disk_amap_current_) {
      for (std::uint64_t r = 0; r < ranges_; ++r) {
        if (amap_dirty_[r] || !disk_amap_current_) WriteAt(ndb::RangeStart(r), AMapPage(r));
      }
      WriteDList();
      FlushWrites();
      Sync();
    } else {
      FlushWrites();
    }
    disk_amap_current_ = true;
    std::fill(amap_dirty_.begin(), amap_dirty_.end(), false);
    Crash(CrashPoint::kBeforeFinalHeader);
    ++unique_;
    const std::string header = BuildHeader(ndb::kAMapValid2, FreeBytes());
    disk_amap_valid_ = true;  // from the pwrite on, assume the flag may be on disk
    WriteHeader(header);
    header_ = header;
    last_checkpoint_ms_ = NowMs();
  } catch (...) {
    pending_.clear();
    std::fill(amap_dirty_.begin(), amap_dirty_.end(), true);
    disk_amap_current_ = false;
    throw;
  }
}

}  // namespace mailfs::pst::writer
