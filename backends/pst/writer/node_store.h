// The boundary between the PST writer's layers (pst-writing.md §0).
//
// The NDB layer (ndb_file.{h,cc}) stores nodes: for each NID, its data stream
// and its subnode tree, plus the parent NID. It knows blocks, pages, B-trees,
// allocation maps, the header and the commit point — nothing about heaps,
// tables or properties.
//
// The LTP and messaging layers (ltp/*, messaging/*) turn folders, messages and
// attachments into NodeContent values and back. They never see file offsets,
// BIDs, CRCs or pages.
//
// A node's data is given as its list of data blocks, because a heap-on-node
// stream is cut at heap-page boundaries chosen by the LTP layer (each block is
// one heap page, possibly shorter than 8176 bytes), while a plain byte stream
// is cut into full 8176-byte blocks (use SplitStream()).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mailfs::pst::writer {

// Largest payload of one data block (8192 - 16-byte trailer).
inline constexpr std::size_t kMaxBlockData = 8176;

// One node's bytes: data blocks (each at most kMaxBlockData bytes, in order;
// empty vector = a node without data) and its private subnodes, keyed by the
// subnode NID (unique within the owning node; subnodes may have subnodes).
struct NodeContent {
  std::vector<std::string> blocks;
  std::map<std::uint32_t, NodeContent> subnodes;

  std::uint64_t TotalSize() const {
    std::uint64_t n = 0;
    for (const auto& b : blocks) n += b.size();
    return n;
  }
  std::string Joined() const {
    std::string s;
    s.reserve(TotalSize());
    for (const auto& b : blocks) s += b;
    return s;
  }
};

// Cuts a plain byte stream into full blocks (the last one may be shorter).
inline std::vector<std::string> SplitStream(std::string_view bytes) {
  std::vector<std::string> out;
  for (std::size_t at = 0; at < bytes.size(); at += kMaxBlockData) {
    out.emplace_back(bytes.substr(at, kMaxBlockData));
  }
  return out;
}

// NID types (low 5 bits of a NID, §2.2.2.1).
enum class NidType : std::uint8_t {
  kHid = 0x00,
  kInternal = 0x01,
  kNormalFolder = 0x02,
  kSearchFolder = 0x03,
  kNormalMessage = 0x04,
  kAttachment = 0x05,
  kSearchUpdateQueue = 0x06,
  kSearchCriteriaObject = 0x07,
  kAssocMessage = 0x08,
  kContentsTableIndex = 0x0A,
  kReceiveFolderTable = 0x0B,
  kOutgoingQueueTable = 0x0C,
  kHierarchyTable = 0x0D,
  kContentsTable = 0x0E,
  kAssocContentsTable = 0x0F,
  kSearchContentsTable = 0x10,
  kAttachmentTable = 0x11,
  kRecipientTable = 0x12,
  kSearchTableIndex = 0x13,
  kLtp = 0x1F,
};

inline constexpr std::uint32_t MakeNid(NidType type, std::uint32_t index) {
  return (index << 5) | static_cast<std::uint32_t>(type);
}
inline constexpr NidType TypeOfNid(std::uint32_t nid) {
  return static_cast<NidType>(nid & 0x1F);
}

// What the messaging layer needs from a node store. NdbFile implements it on
// a real file; tests of the upper layers may implement it in memory.
//
// Changes (PutNode, DeleteNode, AllocateNid) are staged and become durable
// only at Commit(), all at once: after a crash the file shows the state of the
// last completed Commit() and nothing of later changes. All methods throw
// mailfs::Error (kCorrupt for a damaged file, kIo for I/O, kNoSpace).
// Not thread-safe: the caller serialises access.
class NodeStore {
 public:
  virtual ~NodeStore() = default;

  virtual bool HasNode(std::uint32_t nid) const = 0;
  // Reads a node, including staged changes. Throws kNotFound if absent.
  virtual NodeContent ReadNode(std::uint32_t nid) const = 0;
  virtual std::uint32_t ParentOf(std::uint32_t nid) const = 0;
  // Every NID in the store (staged view), ascending.
  virtual std::vector<std::uint32_t> ListNodes() const = 0;

  // Creates or replaces a node (its whole content and subnode tree).
  virtual void PutNode(std::uint32_t nid, std::uint32_t parent_nid, NodeContent content) = 0;
  virtual void DeleteNode(std::uint32_t nid) = 0;

  // Next free index for |type| from the header's rgnid counters (§10);
  // returns the full NID. The counter is saved at the next Commit().
  virtual std::uint32_t AllocateNid(NidType type) = 0;

  // Makes every staged change durable (data first, the header as the commit
  // point, fsync). On failure nothing staged is lost from memory and the file
  // still shows the previous commit.
  virtual void Commit() = 0;
};

}  // namespace mailfs::pst::writer
