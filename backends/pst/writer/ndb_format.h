// On-disk constants and small codecs of the Unicode PST node database
// ([MS-PST] §2.2; pst-writing.md §2–§6): little-endian access, the PST CRC,
// block/page signatures, data-block encodings, and the allocation geometry
// (AMap ranges and the map-page slots at their start).
//
// Shared by the NDB writer (ndb_file.*) and the structural checker
// (backends/pst/check). Nothing here does I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace mailfs::pst::ndb {

// --- little-endian helpers -------------------------------------------------

inline std::uint16_t Get16(const void* p) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  return static_cast<std::uint16_t>(b[0] | (b[1] << 8));
}
inline std::uint32_t Get32(const void* p) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  return static_cast<std::uint32_t>(b[0]) | (static_cast<std::uint32_t>(b[1]) << 8) |
         (static_cast<std::uint32_t>(b[2]) << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
}
inline std::uint64_t Get64(const void* p) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  return static_cast<std::uint64_t>(Get32(b)) | (static_cast<std::uint64_t>(Get32(b + 4)) << 32);
}
inline void Put16(void* p, std::uint16_t v) {
  auto* b = static_cast<std::uint8_t*>(p);
  b[0] = static_cast<std::uint8_t>(v);
  b[1] = static_cast<std::uint8_t>(v >> 8);
}
inline void Put32(void* p, std::uint32_t v) {
  auto* b = static_cast<std::uint8_t*>(p);
  for (int i = 0; i < 4; ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline void Put64(void* p, std::uint64_t v) {
  Put32(p, static_cast<std::uint32_t>(v));
  Put32(static_cast<std::uint8_t*>(p) + 4, static_cast<std::uint32_t>(v >> 32));
}

// --- checksums and signatures (§5.3, §5.5) ----------------------------------

// CRC-32 with the reflected polynomial 0xEDB88320, started at |seed| (0 for a
// fresh CRC) and not inverted at the end.
std::uint32_t Crc(const void* data, std::size_t len, std::uint32_t seed = 0);

// Signature of a block or B-tree page at file offset |ib| with id |bid|.
inline std::uint16_t Signature(std::uint64_t ib, std::uint64_t bid) {
  const std::uint32_t x = static_cast<std::uint32_t>(ib) ^ static_cast<std::uint32_t>(bid);
  return static_cast<std::uint16_t>((x >> 16) ^ x);
}

// --- data-block encodings (§5.1, §5.2) --------------------------------------

enum CryptMethod : std::uint8_t { kCryptNone = 0, kCryptPermute = 1, kCryptCyclic = 2 };

// Encodes / decodes |len| bytes in place for |method|; |bid| keys the cyclic
// method. Only external data blocks are encoded.
void EncodeBlock(std::uint8_t method, std::uint64_t bid, std::uint8_t* data, std::size_t len);
void DecodeBlock(std::uint8_t method, std::uint64_t bid, std::uint8_t* data, std::size_t len);

// --- sizes ------------------------------------------------------------------

inline constexpr std::uint64_t kPageSize = 512;
inline constexpr std::uint64_t kHeaderSize = 564;
inline constexpr std::size_t kMaxBlockSize = 8192;
inline constexpr std::size_t kBlockTrailer = 16;
inline constexpr std::size_t kMaxBlockPayload = kMaxBlockSize - kBlockTrailer;  // 8176

// Bytes a block of |cb| payload bytes occupies on disk (payload, padding and
// trailer, a multiple of 64).
inline constexpr std::uint64_t BlockDiskSize(std::uint64_t cb) {
  return (cb + kBlockTrailer + 63) / 64 * 64;
}

// Page types (PAGETRAILER.ptype).
enum PageType : std::uint8_t {
  kPageBbt = 0x80,
  kPageNbt = 0x81,
  kPageFMap = 0x82,
  kPagePMap = 0x83,
  kPageAMap = 0x84,
  kPageFPMap = 0x85,
  kPageDList = 0x86,
};

// B-tree page layout (Unicode): 488 bytes of entries, then cEnt, cEntMax,
// cbEnt, cLevel, 4 bytes padding, then the 16-byte trailer.
inline constexpr std::size_t kBtEntryBytes = 488;
inline constexpr std::size_t kBtEntrySize = 24;   // BTENTRY and BBTENTRY
inline constexpr std::size_t kNbtEntrySize = 32;  // NBTENTRY
inline constexpr std::size_t kBtMaxEntries = 20;  // 488 / 24
inline constexpr std::size_t kNbtMaxEntries = 15; // 488 / 32

// Internal block kinds (btype).
inline constexpr std::uint8_t kBtypeXBlock = 0x01;
inline constexpr std::uint8_t kBtypeSBlock = 0x02;
inline constexpr std::size_t kXBlockMaxEntries = (kMaxBlockPayload - 8) / 8;     // 1021
inline constexpr std::size_t kSlBlockMaxEntries = (kMaxBlockPayload - 8) / 24;   // 340
inline constexpr std::size_t kSiBlockMaxEntries = (kMaxBlockPayload - 8) / 16;   // 510

// BID bit 1 marks an internal block (XBLOCK, XXBLOCK, SLBLOCK, SIBLOCK).
inline constexpr bool IsInternalBid(std::uint64_t bid) { return (bid & 2) != 0; }

// --- header field offsets (Unicode, §2.2.2.6) -------------------------------

namespace hdr {
inline constexpr std::size_t kMagic = 0;
inline constexpr std::size_t kCrcPartial = 4;
inline constexpr std::size_t kMagicClient = 8;
inline constexpr std::size_t kVer = 10;
inline constexpr std::size_t kVerClient = 12;
inline constexpr std::size_t kPlatformCreate = 14;
inline constexpr std::size_t kPlatformAccess = 15;
inline constexpr std::size_t kBidNextP = 32;
inline constexpr std::size_t kUnique = 40;
inline constexpr std::size_t kRgnid = 44;
inline constexpr std::size_t kRoot = 180;
inline constexpr std::size_t kFileEof = 184;
inline constexpr std::size_t kAMapLast = 192;
inline constexpr std::size_t kAMapFree = 200;
inline constexpr std::size_t kPMapFree = 208;
inline constexpr std::size_t kNbtBid = 216;
inline constexpr std::size_t kNbtIb = 224;
inline constexpr std::size_t kBbtBid = 232;
inline constexpr std::size_t kBbtIb = 240;
inline constexpr std::size_t kAMapValid = 248;
inline constexpr std::size_t kRgbFM = 256;
inline constexpr std::size_t kRgbFP = 384;
inline constexpr std::size_t kSentinel = 512;
inline constexpr std::size_t kCryptMethod = 513;
inline constexpr std::size_t kBidNextB = 516;
inline constexpr std::size_t kCrcFull = 524;
// CRC ranges.
inline constexpr std::size_t kPartialStart = 8;
inline constexpr std::size_t kPartialLen = 471;
inline constexpr std::size_t kFullStart = 8;
inline constexpr std::size_t kFullLen = 516;
}  // namespace hdr

inline constexpr std::uint16_t kVerUnicode = 23;
inline constexpr std::uint8_t kAMapValid2 = 2;

// --- allocation geometry (§2.2.2.7, pst-writing.md §6) -----------------------

inline constexpr std::uint64_t kDListOffset = 0x4200;
inline constexpr std::uint64_t kFirstAMap = 0x4400;
inline constexpr std::uint64_t kAMapRange = 0x3E000;  // 496 * 8 * 64 bytes
inline constexpr std::uint64_t kUnitsPerRange = kAMapRange / 64;  // 3968

// File offset of AMap range |n|.
inline constexpr std::uint64_t RangeStart(std::uint64_t n) { return kFirstAMap + n * kAMapRange; }
inline constexpr bool RangeHasPMap(std::uint64_t n) { return n % 8 == 0; }
inline constexpr bool RangeHasFMap(std::uint64_t n) { return n >= 128 && (n - 128) % 496 == 0; }
inline constexpr bool RangeHasFPMap(std::uint64_t n) {
  return n >= 8192 && (n - 8192) % (496 * 64) == 0;
}
// Number of 512-byte map-page slots at the start of range |n| (AMap first,
// then PMap, FMap, FPMap when the range has them).
inline constexpr std::uint64_t MapPagesInRange(std::uint64_t n) {
  return 1 + (RangeHasPMap(n) ? 1 : 0) + (RangeHasFMap(n) ? 1 : 0) + (RangeHasFPMap(n) ? 1 : 0);
}

// Fills the 16-byte page trailer at page[496..511] (CRC over page[0..495]).
void SealPage(std::uint8_t* page, std::uint8_t ptype, std::uint64_t ib, std::uint64_t bid);
// A map page (AMap, PMap, FMap, FPMap): signature 0, BID = own offset.
void SealMapPage(std::uint8_t* page, std::uint8_t ptype, std::uint64_t ib);

// Computes both header CRCs in place (header is kHeaderSize bytes).
void SealHeader(std::uint8_t* header);

// "0x1a2b" for reports and errors.
std::string Hex(std::uint64_t v);

}  // namespace mailfs::pst::ndb
