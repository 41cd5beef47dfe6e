#include "backends/pst/writer/messaging/memory_node_store.h"

#include "backends/error.h"
#include "backends/pst/writer/ltp/heap.h"

namespace mailfs::pst::writer {

MemoryNodeStore::MemoryNodeStore() {
  // Initial counters of a new file (pst-writing.md §10).
  staged_.counters.fill(0x400);
  staged_.counters[static_cast<int>(NidType::kSearchFolder)] = 0x4000;
  staged_.counters[static_cast<int>(NidType::kNormalMessage)] = 0x10000;
  staged_.counters[static_cast<int>(NidType::kAssocMessage)] = 0x8000;
  committed_ = staged_;
}

bool MemoryNodeStore::HasNode(std::uint32_t nid) const { return staged_.nodes.count(nid) != 0; }

NodeContent MemoryNodeStore::ReadNode(std::uint32_t nid) const {
  auto it = staged_.nodes.find(nid);
  if (it == staged_.nodes.end()) throw Error(Errc::kNotFound, "no node " + ltp::Hex(nid));
  return it->second.content;
}

std::uint32_t MemoryNodeStore::ParentOf(std::uint32_t nid) const {
  auto it = staged_.nodes.find(nid);
  if (it == staged_.nodes.end()) throw Error(Errc::kNotFound, "no node " + ltp::Hex(nid));
  return it->second.parent;
}

std::vector<std::uint32_t> MemoryNodeStore::ListNodes() const {
  std::vector<std::uint32_t> out;
  for (const auto& [nid, node] : staged_.nodes) out.push_back(nid);
  return out;
}

void MemoryNodeStore::PutNode(std::uint32_t nid, std::uint32_t parent_nid, NodeContent content) {
  for (const auto& b : content.blocks) {
    if (b.size() > kMaxBlockData || b.empty()) {
      throw Error(Errc::kInvalid, "node " + ltp::Hex(nid) + ": data block of " + std::to_string(b.size()) + " bytes");
    }
  }
  staged_.nodes[nid] = Node{parent_nid, std::move(content)};
}

void MemoryNodeStore::DeleteNode(std::uint32_t nid) {
  if (staged_.nodes.erase(nid) == 0) throw Error(Errc::kNotFound, "no node " + ltp::Hex(nid));
}

std::uint32_t MemoryNodeStore::AllocateNid(NidType type) {
  auto& c = staged_.counters[static_cast<int>(type)];
  ++c;
  return MakeNid(type, c);
}

void MemoryNodeStore::Commit() {
  committed_ = staged_;
  ++commits_;
}

void MemoryNodeStore::Rollback() { staged_ = committed_; }

}  // namespace mailfs::pst::writer
