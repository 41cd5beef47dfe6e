// A NodeStore held in memory: the upper layers' tests run over it, and it
// can stage a whole store before it is written to a file. Commit() keeps a
// copy of the staged state so Rollback() can return to it.
#pragma once

#include <array>
#include <map>

#include "backends/pst/writer/node_store.h"

namespace mailfs::pst::writer {

class MemoryNodeStore final : public NodeStore {
 public:
  MemoryNodeStore();

  bool HasNode(std::uint32_t nid) const override;
  NodeContent ReadNode(std::uint32_t nid) const override;
  std::uint32_t ParentOf(std::uint32_t nid) const override;
  std::vector<std::uint32_t> ListNodes() const override;
  void PutNode(std::uint32_t nid, std::uint32_t parent_nid, NodeContent content) override;
  void DeleteNode(std::uint32_t nid) override;
  std::uint32_t AllocateNid(NidType type) override;
  void Commit() override;

  // Drops every change since the last Commit().
  void Rollback();
  int commits() const { return commits_; }

 private:
  struct Node {
    std::uint32_t parent = 0;
    NodeContent content;
  };
  struct State {
    std::map<std::uint32_t, Node> nodes;
    std::array<std::uint32_t, 32> counters{};
  };
  State staged_;
  State committed_;
  int commits_ = 0;
};

}  // namespace mailfs::pst::writer
