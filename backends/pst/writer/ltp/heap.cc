#include "backends/pst/writer/ltp/heap.h"

#include <algorithm>
#include <cstdio>

#include "backends/error.h"
#include "backends/pst/writer/node_store.h"

namespace mailfs::pst::writer::ltp {
namespace {

constexpr std::uint8_t kHeapSig = 0xEC;
constexpr std::size_t kMaxAllocsPerPage = 2047;

[[noreturn]] void Corrupt(const std::string& what, const std::string& detail) {
  throw Error(Errc::kCorrupt, what + ": heap: " + detail);
}

}  // namespace

std::string Hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::size_t HeapBuilder::HeaderSize(std::size_t page_index) {
  if (page_index == 0) return 12;
  if (page_index == 8 || (page_index > 8 && (page_index - 8) % 128 == 0)) return 66;
  return 2;
}

std::uint32_t HeapBuilder::Allocate(std::string_view bytes) {
  if (bytes.empty() || bytes.size() > kMaxHeapItem) {
    throw Error(Errc::kInvalid, "heap item of " + std::to_string(bytes.size()) +
                                    " bytes (must be 1.." + std::to_string(kMaxHeapItem) + ")");
  }
  auto fits = [&](const Page& p, std::size_t index) {
    std::size_t n = p.items.size() + 1;
    std::size_t end = HeaderSize(index) + p.used + bytes.size();
    end += end % 2;
    return n <= kMaxAllocsPerPage && end + 4 + 2 * (n + 1) <= kMaxBlockData;
  };
  if (pages_.empty() || !fits(pages_.back(), pages_.size() - 1)) pages_.emplace_back();
  Touch(pages_.size() - 1);
  Page& page = pages_.back();
  page.items.emplace_back(bytes);
  page.used += bytes.size();
  return static_cast<std::uint32_t>(((pages_.size() - 1) << 16) | (page.items.size() << 5));
}

void HeapBuilder::Fill(std::uint32_t hid, std::string_view bytes) {
  std::size_t page = hid >> 16;
  std::size_t index = (hid >> 5) & 0x7FF;
  if ((hid & 0x1F) != 0 || page >= pages_.size() || index == 0 ||
      index > pages_[page].items.size() || pages_[page].items[index - 1].size() != bytes.size()) {
    throw Error(Errc::kInvalid, "heap fill of " + Hex(hid) + ": no reserved item of that size");
  }
  if (pages_[page].items[index - 1] == bytes) return;
  Touch(page);
  pages_[page].items[index - 1] = std::string(bytes);
}

HeapBuilder::Mark HeapBuilder::GetMark() const {
  Mark m;
  m.pages = pages_.size();
  if (!pages_.empty()) {
    m.items = pages_.back().items.size();
    m.used = pages_.back().used;
  }
  return m;
}

void HeapBuilder::Truncate(const Mark& mark) {
  if (mark.pages > pages_.size() ||
      (mark.pages == pages_.size() && mark.pages > 0 && mark.items > pages_.back().items.size())) {
    throw Error(Errc::kInvalid, "heap truncation beyond its end");
  }
  if (mark.pages == pages_.size() && (mark.pages == 0 || mark.items == pages_.back().items.size())) return;
  pages_.resize(mark.pages);
  if (mark.pages > 0) {
    Touch(mark.pages - 1);
    pages_.back().items.resize(mark.items);
    pages_.back().used = mark.used;
  } else {
    Touch(0);
  }
}

std::vector<std::string> HeapBuilder::Finish() const {
  const std::size_t count = pages_.empty() ? 1 : pages_.size();
  encoded_.resize(count);
  stale_.resize(count, true);
  for (std::size_t i = 0; i < count; ++i) {
    if (!stale_[i]) continue;
    encoded_[i] = EncodePage(i);
    stale_[i] = false;
  }
  return encoded_;
}

std::string HeapBuilder::EncodePage(std::size_t i) const {
  static const Page kEmpty;
  const Page& p = pages_.empty() ? kEmpty : pages_[i];
  std::string b;
  std::size_t hdr = HeaderSize(i);
  b.reserve(hdr + p.used + 5 + 2 * p.items.size());
  b.resize(hdr, '\0');
  std::vector<std::uint16_t> offsets;
  for (const auto& item : p.items) {
    offsets.push_back(static_cast<std::uint16_t>(b.size()));
    b += item;
  }
  offsets.push_back(static_cast<std::uint16_t>(b.size()));
  if (b.size() % 2) b.push_back('\0');
  std::uint16_t ib_hnpm = static_cast<std::uint16_t>(b.size());
  PutU16(b, static_cast<std::uint16_t>(p.items.size()));
  PutU16(b, 0);  // cFree
  for (auto o : offsets) PutU16(b, o);
  b[0] = static_cast<char>(ib_hnpm & 0xFF);
  b[1] = static_cast<char>(ib_hnpm >> 8);
  if (i == 0) {
    b[2] = static_cast<char>(kHeapSig);
    b[3] = static_cast<char>(client_sig_);
    for (int k = 0; k < 4; ++k) b[4 + k] = static_cast<char>((user_root_ >> (8 * k)) & 0xFF);
  }
  return b;
}

HeapReader::HeapReader(std::vector<std::string> blocks, std::string what)
    : blocks_(std::move(blocks)), what_(std::move(what)) {
  if (blocks_.empty()) Corrupt(what_, "node has no data");
  const std::string& first = blocks_[0];
  if (first.size() < 12) Corrupt(what_, "first block of " + std::to_string(first.size()) + " bytes");
  if (static_cast<std::uint8_t>(first[2]) != kHeapSig) {
    Corrupt(what_, "signature " + Hex(static_cast<std::uint8_t>(first[2])) + " at offset 2, want 0xec");
  }
  client_sig_ = static_cast<std::uint8_t>(first[3]);
  user_root_ = GetU32(first, 4);
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    const std::string& b = blocks_[i];
    std::string where = "page " + std::to_string(i);
    if (b.size() < 2) Corrupt(what_, where + ": block of " + std::to_string(b.size()) + " bytes");
    std::size_t hdr = i == 0 ? 12 : ((i == 8 || (i > 8 && (i - 8) % 128 == 0)) ? 66 : 2);
    std::size_t ib = GetU16(b, 0);
    if (ib < hdr || ib + 4 > b.size()) {
      Corrupt(what_, where + ": page map offset " + std::to_string(ib) + " outside the block of " +
                         std::to_string(b.size()) + " bytes");
    }
    std::size_t count = GetU16(b, ib);
    if (ib + 4 + 2 * (count + 1) > b.size()) {
      Corrupt(what_, where + ": page map of " + std::to_string(count) + " items at offset " +
                         std::to_string(ib) + " overruns the block");
    }
    std::vector<std::uint16_t> map;
    for (std::size_t k = 0; k <= count; ++k) {
      std::uint16_t o = GetU16(b, ib + 4 + 2 * k);
      if (o < hdr || o > ib || (!map.empty() && o < map.back())) {
        Corrupt(what_, where + ": allocation offset " + std::to_string(o) + " (entry " +
                           std::to_string(k) + ") out of order or outside [" + std::to_string(hdr) +
                           ", " + std::to_string(ib) + "]");
      }
      map.push_back(o);
    }
    maps_.push_back(std::move(map));
  }
}

std::string_view HeapReader::Get(std::uint32_t hid) const {
  if (hid == 0) return {};
  std::size_t page = hid >> 16;
  std::size_t index = (hid >> 5) & 0x7FF;
  if ((hid & 0x1F) != 0 || page >= maps_.size() || index == 0 || index >= maps_[page].size()) {
    Corrupt(what_, "no heap item " + Hex(hid));
  }
  const auto& map = maps_[page];
  return std::string_view(blocks_[page]).substr(map[index - 1], map[index] - map[index - 1]);
}

std::vector<std::pair<std::uint32_t, std::size_t>> HeapReader::Items() const {
  std::vector<std::pair<std::uint32_t, std::size_t>> out;
  for (std::size_t p = 0; p < maps_.size(); ++p) {
    for (std::size_t k = 1; k < maps_[p].size(); ++k) {
      out.emplace_back(static_cast<std::uint32_t>((p << 16) | (k << 5)),
                       maps_[p][k] - maps_[p][k - 1]);
    }
  }
  return out;
}

}  // namespace mailfs::pst::writer::ltp
