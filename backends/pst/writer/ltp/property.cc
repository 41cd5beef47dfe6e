#include "backends/pst/writer/ltp/property.h"

#include "backends/error.h"
#include "backends/pst/writer/ltp/bth.h"
#include "backends/pst/writer/ltp/heap.h"
#include "backends/utf.h"

namespace mailfs::pst::writer::ltp {
namespace {

constexpr std::int64_t kFiletimeEpochOffset = 11644473600LL;  // 1601-01-01 .. 1970-01-01

void AppendUtf16(std::string& out, std::uint32_t cp) {
  if (cp >= 0x10000) {
    cp -= 0x10000;
    PutU16(out, static_cast<std::uint16_t>(0xD800 + (cp >> 10)));
    PutU16(out, static_cast<std::uint16_t>(0xDC00 + (cp & 0x3FF)));
  } else {
    PutU16(out, static_cast<std::uint16_t>(cp));
  }
}

// True if the PC stores the value in dwValueHnid itself.
bool InlineInPc(std::uint16_t type) {
  switch (type) {
    case ptype::kInt16:
    case ptype::kInt32:
    case ptype::kFloat32:
    case ptype::kError:
    case ptype::kBool:
      return true;
    default:
      return false;
  }
}

void CheckSize(const PropValue& v, std::uint16_t id) {
  std::size_t fixed = FixedSize(v.type);
  if (fixed != 0 && v.data.size() != fixed) {
    throw Error(Errc::kInvalid, "property " + Hex(id) + " of type " + Hex(v.type) + " has " +
                                    std::to_string(v.data.size()) + " bytes, want " +
                                    std::to_string(fixed));
  }
}

}  // namespace

std::size_t FixedSize(std::uint16_t type) {
  switch (type) {
    case ptype::kBool:
      return 1;
    case ptype::kInt16:
      return 2;
    case ptype::kInt32:
    case ptype::kFloat32:
    case ptype::kError:
      return 4;
    case ptype::kFloat64:
    case ptype::kCurrency:
    case ptype::kAppTime:
    case ptype::kInt64:
    case ptype::kTime:
      return 8;
    case ptype::kGuid:
      return 16;
    default:
      return 0;
  }
}

std::string Utf8ToUtf16(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<std::uint8_t>(s[i]);
    std::uint32_t cp = 0xFFFD;
    std::size_t len = 1;
    auto cont = [&](std::size_t k) {
      return i + k < s.size() && (static_cast<std::uint8_t>(s[i + k]) & 0xC0) == 0x80;
    };
    if (c < 0x80) {
      cp = c;
    } else if (c >= 0xC2 && c < 0xE0 && cont(1)) {
      cp = ((c & 0x1Fu) << 6) | (s[i + 1] & 0x3F);
      len = 2;
    } else if (c >= 0xE0 && c < 0xF0 && cont(1) && cont(2)) {
      std::uint32_t v = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3F);
      if (v >= 0x800 && (v < 0xD800 || v > 0xDFFF)) {
        cp = v;
        len = 3;
      }
    } else if (c >= 0xF0 && c < 0xF5 && cont(1) && cont(2) && cont(3)) {
      std::uint32_t v = ((c & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) |
                        ((s[i + 2] & 0x3Fu) << 6) | (s[i + 3] & 0x3F);
      if (v >= 0x10000 && v <= 0x10FFFF) {
        cp = v;
        len = 4;
      }
    }
    AppendUtf16(out, cp);
    i += len;
  }
  return out;
}

std::string Utf16ToUtf8(std::string_view s) { return Utf16LeToUtf8(s); }

PropValue Int16Value(std::uint16_t v) {
  PropValue p{ptype::kInt16, {}};
  PutU16(p.data, v);
  return p;
}
PropValue Int32Value(std::uint32_t v) {
  PropValue p{ptype::kInt32, {}};
  PutU32(p.data, v);
  return p;
}
PropValue BoolValue(bool v) { return {ptype::kBool, std::string(1, v ? '\1' : '\0')}; }
PropValue Int64Value(std::uint64_t v) {
  PropValue p{ptype::kInt64, {}};
  PutU64(p.data, v);
  return p;
}
PropValue TimeValue(std::uint64_t filetime) {
  PropValue p{ptype::kTime, {}};
  PutU64(p.data, filetime);
  return p;
}
PropValue StringValue(std::string_view utf8) { return {ptype::kString, Utf8ToUtf16(utf8)}; }
PropValue BinaryValue(std::string_view bytes) { return {ptype::kBinary, std::string(bytes)}; }
PropValue GuidValue(std::string_view sixteen) {
  if (sixteen.size() != 16) throw Error(Errc::kInvalid, "GUID of " + std::to_string(sixteen.size()) + " bytes");
  return {ptype::kGuid, std::string(sixteen)};
}
PropValue MultiStringValue(const std::vector<std::string>& utf8) {
  PropValue p{ptype::kMultiString, {}};
  std::vector<std::string> items;
  for (const auto& s : utf8) items.push_back(Utf8ToUtf16(s));
  std::uint32_t offset = static_cast<std::uint32_t>(4 + 4 * items.size());
  PutU32(p.data, static_cast<std::uint32_t>(items.size()));
  for (const auto& s : items) {
    PutU32(p.data, offset);
    offset += static_cast<std::uint32_t>(s.size());
  }
  for (const auto& s : items) p.data += s;
  return p;
}
PropValue MultiInt32Value(const std::vector<std::uint32_t>& v) {
  PropValue p{ptype::kMultiInt32, {}};
  for (auto x : v) PutU32(p.data, x);
  return p;
}
PropValue ObjectValue(std::uint32_t subnode_nid, std::uint32_t size) {
  PropValue p{ptype::kObject, {}};
  PutU32(p.data, subnode_nid);
  PutU32(p.data, size);
  return p;
}

std::uint64_t UnixToFiletime(std::int64_t seconds) {
  std::int64_t s = seconds + kFiletimeEpochOffset;
  if (s < 0) s = 0;
  return static_cast<std::uint64_t>(s) * 10000000ULL;
}
std::int64_t FiletimeToUnix(std::uint64_t filetime) {
  return static_cast<std::int64_t>(filetime / 10000000ULL) - kFiletimeEpochOffset;
}

std::optional<std::uint32_t> GetInt32(const PropertyMap& m, std::uint16_t id) {
  auto it = m.find(id);
  if (it == m.end() || it->second.type != ptype::kInt32 || it->second.data.size() != 4) return std::nullopt;
  return GetU32(it->second.data, 0);
}
std::optional<bool> GetBool(const PropertyMap& m, std::uint16_t id) {
  auto it = m.find(id);
  if (it == m.end() || it->second.type != ptype::kBool || it->second.data.empty()) return std::nullopt;
  return it->second.data[0] != 0;
}
std::optional<std::uint64_t> GetInt64(const PropertyMap& m, std::uint16_t id) {
  auto it = m.find(id);
  if (it == m.end() || (it->second.type != ptype::kInt64 && it->second.type != ptype::kTime) ||
      it->second.data.size() != 8) {
    return std::nullopt;
  }
  return GetU64(it->second.data, 0);
}
std::optional<std::string> GetString(const PropertyMap& m, std::uint16_t id) {
  auto it = m.find(id);
  if (it == m.end()) return std::nullopt;
  if (it->second.type == ptype::kString) return Utf16ToUtf8(it->second.data);
  if (it->second.type == ptype::kString8) return it->second.data;
  return std::nullopt;
}
std::optional<std::string> GetBinary(const PropertyMap& m, std::uint16_t id) {
  auto it = m.find(id);
  if (it == m.end() || it->second.type != ptype::kBinary) return std::nullopt;
  return it->second.data;
}
std::optional<std::vector<std::string>> GetMultiString(const PropertyMap& m, std::uint16_t id) {
  auto it = m.find(id);
  if (it == m.end() || it->second.type != ptype::kMultiString) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& s : SplitMultiValue(it->second.data, "property " + Hex(id))) {
    out.push_back(Utf16ToUtf8(s));
  }
  return out;
}

std::vector<std::string> SplitMultiValue(std::string_view data, const std::string& what) {
  std::vector<std::string> out;
  if (data.empty()) return out;
  if (data.size() < 4) throw Error(Errc::kCorrupt, what + ": multi-value of " + std::to_string(data.size()) + " bytes");
  std::uint32_t count = GetU32(data, 0);
  if (count > (data.size() - 4) / 4) {
    throw Error(Errc::kCorrupt, what + ": multi-value count " + std::to_string(count) +
                                    " does not fit in " + std::to_string(data.size()) + " bytes");
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t begin = GetU32(data, 4 + 4 * i);
    std::uint32_t end = i + 1 < count ? GetU32(data, 8 + 4 * i) : static_cast<std::uint32_t>(data.size());
    if (begin < 4 + 4 * count || begin > end || end > data.size()) {
      throw Error(Errc::kCorrupt, what + ": multi-value item " + std::to_string(i) + " at offsets " +
                                      std::to_string(begin) + ".." + std::to_string(end) +
                                      " outside the value of " + std::to_string(data.size()) + " bytes");
    }
    out.emplace_back(data.substr(begin, end - begin));
  }
  return out;
}

NodeContent BuildPc(const PropertyMap& props, const NidSource& new_subnode_nid) {
  HeapBuilder heap(kClientPc);
  std::uint32_t header = heap.Reserve(8);
  NodeContent node;
  std::vector<BthRecord> records;
  for (const auto& [id, v] : props) {
    CheckSize(v, id);
    std::uint32_t value = 0;
    if (InlineInPc(v.type)) {
      value = static_cast<std::uint32_t>(GetUnsigned(v.data, 0, v.data.size()));
    } else if (v.data.empty()) {
      value = 0;
    } else if (v.data.size() <= kMaxHeapItem) {
      value = heap.Allocate(v.data);
    } else {
      value = new_subnode_nid();
      node.subnodes[value].blocks = SplitStream(v.data);
    }
    BthRecord r;
    r.key = id;
    PutU16(r.data, v.type);
    PutU32(r.data, value);
    records.push_back(std::move(r));
  }
  WriteBth(heap, 2, 6, std::move(records), header);
  heap.SetUserRoot(header);
  node.blocks = heap.Finish();
  return node;
}

ParsedPc ParsePc(const NodeContent& node, const std::string& what) {
  HeapReader heap(node.blocks, what);
  if (heap.client_sig() != kClientPc) {
    throw Error(Errc::kCorrupt, what + ": heap client signature " + Hex(heap.client_sig()) +
                                    ", want 0xbc (property context)");
  }
  BthContents bth = ReadBth(heap, heap.user_root());
  if (bth.cb_key != 2 || bth.cb_ent != 6) {
    throw Error(Errc::kCorrupt, what + ": property BTH with key size " + std::to_string(bth.cb_key) +
                                    " and data size " + std::to_string(bth.cb_ent) + ", want 2 and 6");
  }
  ParsedPc out;
  for (const auto& r : bth.records) {
    auto id = static_cast<std::uint16_t>(r.key);
    PropValue v;
    v.type = GetU16(r.data, 0);
    std::uint32_t hnid = GetU32(r.data, 2);
    std::string where = what + ": property " + Hex(id);
    if (InlineInPc(v.type)) {
      PutUnsigned(v.data, hnid, FixedSize(v.type));
    } else if (IsHid(hnid)) {
      v.data = std::string(heap.Get(hnid));
    } else {
      auto it = node.subnodes.find(hnid);
      if (it == node.subnodes.end()) {
        throw Error(Errc::kCorrupt, where + ": value in subnode " + Hex(hnid) + ", which is missing");
      }
      v.data = it->second.Joined();
      out.value_subnodes.push_back(hnid);
    }
    std::size_t fixed = FixedSize(v.type);
    if (fixed != 0 && v.data.size() != fixed) {
      throw Error(Errc::kCorrupt, where + " of type " + Hex(v.type) + " has " +
                                      std::to_string(v.data.size()) + " bytes, want " + std::to_string(fixed));
    }
    out.props[id] = std::move(v);
  }
  return out;
}

}  // namespace mailfs::pst::writer::ltp
