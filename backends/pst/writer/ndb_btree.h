// An in-memory image of one on-disk B-tree of the node database (the BBT or
// the NBT, [MS-PST] §2.2.2.7.7), edited copy-on-write.
//
// Every page keeps the location it was read from (bid, ib). An edit marks the
// page and its ancestors dirty; Commit() gives each dirty page a new location
// and BID (the old page stays untouched on disk, still part of the committed
// tree until the new header is durable) and collects the locations that become
// free. Nothing about the old state changes until Promote() is called after
// the commit point; Abandon() forgets a failed commit's locations.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace mailfs::pst::ndb {

// Leaf must provide: std::uint64_t key; static constexpr std::size_t kMaxEntries.
template <typename Leaf>
class PageTree {
 public:
  struct Page {
    int level = 0;                 // 0 = leaf
    bool dirty = true;
    std::uint64_t bid = 0, ib = 0; // committed location (0 = never written)
    std::uint64_t new_bid = 0, new_ib = 0;  // location chosen by a running commit
    std::vector<Leaf> leaves;                      // level 0
    std::vector<std::unique_ptr<Page>> children;   // level > 0

    std::uint64_t FirstKey() const {
      if (level == 0) return leaves.empty() ? 0 : leaves.front().key;
      return children.empty() ? 0 : children.front()->FirstKey();
    }
    std::size_t Count() const { return level == 0 ? leaves.size() : children.size(); }
  };

  static constexpr std::size_t kMaxInner = 20;

  PageTree() : root_(std::make_unique<Page>()) {}

  // Replaces the whole tree (after loading it from disk).
  void Reset(std::unique_ptr<Page> root, std::size_t size) {
    root_ = std::move(root);
    size_ = size;
    orphans_.clear();
  }

  std::size_t size() const { return size_; }
  const Page& root() const { return *root_; }

  const Leaf* Find(std::uint64_t key) const {
    const Page* p = root_.get();
    while (p->level > 0) {
      const std::size_t i = ChildIndex(*p, key);
      p = p->children[i].get();
    }
    auto it = std::lower_bound(p->leaves.begin(), p->leaves.end(), key,
                               [](const Leaf& l, std::uint64_t k) { return l.key < k; });
    if (it == p->leaves.end() || it->key != key) return nullptr;
    return &*it;
  }

  // Inserts or replaces the entry with leaf.key.
  void Upsert(const Leaf& leaf) {
    std::unique_ptr<Page> split = UpsertIn(*root_, leaf);
    if (split) {
      auto new_root = std::make_unique<Page>();
      new_root->level = root_->level + 1;
      new_root->children.push_back(std::move(root_));
      new_root->children.push_back(std::move(split));
      root_ = std::move(new_root);
    }
  }

  // Removes the entry with |key|; false when absent.
  bool Erase(std::uint64_t key) {
    if (!EraseIn(*root_, key)) return false;
    --size_;
    while (root_->level > 0 && root_->children.size() == 1) {
      Orphan(*root_);
      root_ = std::move(root_->children.front());
      root_->dirty = true;
    }
    if (root_->level > 0 && root_->children.empty()) {
      Orphan(*root_);
      root_ = std::make_unique<Page>();
    }
    return true;
  }

  // Calls f(const Leaf&) for every entry in key order.
  template <typename F>
  void ForEach(F&& f) const {
    ForEachIn(*root_, f);
  }

  // Assigns new locations to the dirty pages, children first. |write| gets a
  // page (with children already placed) and must set new_bid/new_ib and write
  // it. Returns the root's location as (bid, ib).
  void Commit(const std::function<void(Page&)>& write) { CommitIn(*root_, write); }

  // The commit became durable: dirty pages take their new locations. Calls
  // release(ib) for every old page location that is no longer used.
  void Promote(const std::function<void(std::uint64_t ib)>& release) {
    PromoteIn(*root_, release);
    for (std::uint64_t ib : orphans_) release(ib);
    orphans_.clear();
  }

  // Calls f(ib) for every page location that Promote() would release.
  template <typename F>
  void ForEachReleased(F&& f) const {
    ReleasedIn(*root_, f);
    for (std::uint64_t ib : orphans_) f(ib);
  }

  // The commit failed: forget the locations it chose.
  void Abandon() { AbandonIn(*root_); }

  std::uint64_t RootBid() const { return root_->dirty ? root_->new_bid : root_->bid; }
  std::uint64_t RootIb() const { return root_->dirty ? root_->new_ib : root_->ib; }
  bool dirty() const { return root_->dirty; }

  // Visits every page (committed view): f(const Page&).
  template <typename F>
  void ForEachPage(F&& f) const {
    ForEachPageIn(*root_, f);
  }

 private:
  static std::size_t ChildIndex(const Page& p, std::uint64_t key) {
    // Last child whose first key <= key (the first child for smaller keys).
    std::size_t lo = 0;
    for (std::size_t i = 1; i < p.children.size(); ++i) {
      if (p.children[i]->FirstKey() <= key) lo = i; else break;
    }
    return lo;
  }

  void Orphan(const Page& p) {
    if (p.ib != 0) orphans_.push_back(p.ib);
  }

  std::unique_ptr<Page> UpsertIn(Page& p, const Leaf& leaf) {
    p.dirty = true;
    if (p.level == 0) {
      auto it = std::lower_bound(p.leaves.begin(), p.leaves.end(), leaf.key,
                                 [](const Leaf& l, std::uint64_t k) { return l.key < k; });
      if (it != p.leaves.end() && it->key == leaf.key) {
        *it = leaf;
        return nullptr;
      }
      const bool at_end = it == p.leaves.end();
      p.leaves.insert(it, leaf);
      ++size_;
      if (p.leaves.size() <= Leaf::kMaxEntries) return nullptr;
      auto right = std::make_unique<Page>();
      // Appending (ascending ids) keeps full pages behind; otherwise halves.
      const std::size_t keep = at_end ? Leaf::kMaxEntries : p.leaves.size() / 2;
      right->leaves.assign(p.leaves.begin() + static_cast<std::ptrdiff_t>(keep), p.leaves.end());
      p.leaves.resize(keep);
      return right;
    }
    const std::size_t i = ChildIndex(p, leaf.key);
    std::unique_ptr<Page> split = UpsertIn(*p.children[i], leaf);
    if (!split) return nullptr;
    const bool at_end = i + 1 == p.children.size();
    p.children.insert(p.children.begin() + static_cast<std::ptrdiff_t>(i + 1), std::move(split));
    if (p.children.size() <= kMaxInner) return nullptr;
    auto right = std::make_unique<Page>();
    right->level = p.level;
    const std::size_t keep = at_end ? kMaxInner : p.children.size() / 2;
    for (std::size_t k = keep; k < p.children.size(); ++k) {
      right->children.push_back(std::move(p.children[k]));
    }
    p.children.resize(keep);
    return right;
  }

  bool EraseIn(Page& p, std::uint64_t key) {
    if (p.level == 0) {
      auto it = std::lower_bound(p.leaves.begin(), p.leaves.end(), key,
                                 [](const Leaf& l, std::uint64_t k) { return l.key < k; });
      if (it == p.leaves.end() || it->key != key) return false;
      p.leaves.erase(it);
      p.dirty = true;
      return true;
    }
    const std::size_t i = ChildIndex(p, key);
    if (!EraseIn(*p.children[i], key)) return false;
    p.dirty = true;
    if (p.children[i]->Count() == 0) {
      Orphan(*p.children[i]);
      p.children.erase(p.children.begin() + static_cast<std::ptrdiff_t>(i));
    }
    return true;
  }

  template <typename F>
  static void ForEachIn(const Page& p, F& f) {
    if (p.level == 0) {
      for (const Leaf& l : p.leaves) f(l);
      return;
    }
    for (const auto& c : p.children) ForEachIn(*c, f);
  }

  template <typename F>
  static void ForEachPageIn(const Page& p, F& f) {
    f(p);
    for (const auto& c : p.children) ForEachPageIn(*c, f);
  }

  static void CommitIn(Page& p, const std::function<void(Page&)>& write) {
    if (!p.dirty) return;
    for (auto& c : p.children) CommitIn(*c, write);
    write(p);
  }

  static void PromoteIn(Page& p, const std::function<void(std::uint64_t)>& release) {
    if (!p.dirty) return;
    for (auto& c : p.children) PromoteIn(*c, release);
    if (p.ib != 0) release(p.ib);
    p.bid = p.new_bid;
    p.ib = p.new_ib;
    p.new_bid = p.new_ib = 0;
    p.dirty = false;
  }

  template <typename F>
  static void ReleasedIn(const Page& p, F& f) {
    if (!p.dirty) return;
    for (const auto& c : p.children) ReleasedIn(*c, f);
    if (p.ib != 0) f(p.ib);
  }

  static void AbandonIn(Page& p) {
    if (!p.dirty) return;
    for (auto& c : p.children) AbandonIn(*c);
    p.new_bid = p.new_ib = 0;
  }

  std::unique_ptr<Page> root_;
  std::size_t size_ = 0;
  std::vector<std::uint64_t> orphans_;
};

}  // namespace mailfs::pst::ndb
