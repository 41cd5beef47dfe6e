// A structural checker for PST files (issue 5 item 6), the judge behind
// mount-tools/mailfs-pstcheck. The foreign readers do not validate CRCs,
// signatures, allocation maps or B-tree invariants (pst-readers.md §6); this
// does, for Unicode and ANSI files:
//   * header: magic, version, both CRCs, sentinel, encoding, ROOT fields,
//     file size, counters (bidNextB, bidNextP, rgnid) above every id in use;
//   * map pages (AMap, PMap, FMap, FPMap) and the density list: trailers;
//   * BBT and NBT: every page trailer (type, repeat, signature, CRC, BID),
//     entry sizes and counts, key order, parent keys = first key of the
//     child, levels, all leaves at one depth;
//   * every block in the BBT: trailer (size, signature, CRC, BID);
//   * node data trees (XBLOCK/XXBLOCK: type, level, counts, lcbTotal) and
//     subnode trees (SLBLOCK/SIBLOCK: order, keys), node parents, reference
//     counts (cRef = references + 1);
//   * the AMap against every page and block in use (overlaps, space in use
//     but marked free, cbAMapFree);
//   * heap-on-node pages, BTH trees, property contexts and table contexts
//     (TCINFO, column layout, row matrix, row index, cell references).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mailfs::pst::check {

enum class Severity { kError, kWarning };

struct Finding {
  Severity severity;
  std::uint64_t offset;   // file offset of the structure concerned
  std::string structure;  // e.g. "BBT page 0x17b", "node 0x8022 heap"
  std::string message;
};

struct CheckResult {
  bool readable = false;  // false: not a PST file or unreadable (exit 2)
  bool unicode = true;
  std::string fatal;      // why it is unreadable
  std::vector<Finding> findings;
  std::uint64_t file_size = 0, pages = 0, blocks = 0, nodes = 0, heaps = 0;
  std::uint64_t free_bytes = 0;  // unallocated in the AMaps (space a writer reuses)
  // Byte extents whose every bit is protected by a CRC, signature or a
  // comparison (header fields, pages, block payloads and trailers).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> covered;

  std::size_t errors() const;
  std::size_t warnings() const;
};

CheckResult CheckFile(const std::string& path);

// "error at 0x4400: AMap page: CRC mismatch".
std::string FormatFinding(const Finding& f);

}  // namespace mailfs::pst::check
