#include "backends/pst/writer/messaging/name_map.h"

#include <algorithm>
#include <map>

#include "backends/error.h"
#include "backends/pst/mailfs_props.h"
#include "backends/pst/writer/ltp/heap.h"

namespace mailfs::pst::writer {
namespace {

using ltp::GetU16;
using ltp::GetU32;
using ltp::PutU16;
using ltp::PutU32;

constexpr std::uint32_t kBucketCount = 251;
constexpr std::uint16_t kPidBucketCount = 0x0001;
constexpr std::uint16_t kPidGuidStream = 0x0002;
constexpr std::uint16_t kPidEntryStream = 0x0003;
constexpr std::uint16_t kPidStringStream = 0x0004;
constexpr std::uint16_t kPidBucketBase = 0x1000;
constexpr std::uint32_t kLidInternetAccountName = 0x8580;

constexpr Guid kPsPublicStrings = [] {
  Guid g{};
  for (std::size_t i = 0; i < 16; ++i) g[i] = pst::kPsPublicStrings[i];
  return g;
}();

// The PST CRC (pst-writing.md §3): reflected CRC-32, started at 0, not inverted.
std::uint32_t PstCrc(std::string_view data) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t crc = 0;
  for (char ch : data) crc = table[(crc ^ static_cast<std::uint8_t>(ch)) & 0xFF] ^ (crc >> 8);
  return crc;
}

Guid ToGuid(std::string_view s) {
  Guid g{};
  for (std::size_t i = 0; i < 16; ++i) g[i] = static_cast<std::uint8_t>(s[i]);
  return g;
}

}  // namespace

NameMap NameMap::Initial() {
  NameMap m;
  m.Add(kPsetidCommon, kLidInternetAccountName);
  Guid mailfs{};
  for (std::size_t i = 0; i < 16; ++i) mailfs[i] = pst::kMailfsPropertySet[i];
  m.Add(mailfs, pst::kOriginalMimeName);
  m.Add(kPsPublicStrings, pst::kKeywordsName);
  return m;
}

NameMap NameMap::Parse(const ltp::PropertyMap& pc, const std::string& what) {
  NameMap m;
  auto stream = [&](std::uint16_t id) -> std::string {
    auto it = pc.find(id);
    return it == pc.end() ? std::string() : it->second.data;
  };
  std::string guids = stream(kPidGuidStream);
  std::string entries = stream(kPidEntryStream);
  std::string strings = stream(kPidStringStream);
  if (guids.size() % 16 != 0 || entries.size() % 8 != 0) {
    throw Error(Errc::kCorrupt, what + ": name-to-id map: GUID stream of " + std::to_string(guids.size()) +
                                    " bytes, entry stream of " + std::to_string(entries.size()) + " bytes");
  }
  for (std::size_t at = 0; at < guids.size(); at += 16) m.guids_.push_back(ToGuid(std::string_view(guids).substr(at, 16)));
  for (std::size_t at = 0; at < entries.size(); at += 8) {
    NamedProperty p;
    std::uint32_t key = GetU32(entries, at);
    std::uint16_t wguid = GetU16(entries, at + 4);
    p.prop_id = static_cast<std::uint16_t>(0x8000 + GetU16(entries, at + 6));
    p.is_string = (wguid & 1) != 0;
    std::uint16_t gi = wguid >> 1;
    std::string where = what + ": name-to-id entry " + std::to_string(at / 8);
    if (gi == 1) {
      p.guid = kPsMapi;
    } else if (gi == 2) {
      p.guid = kPsPublicStrings;
    } else if (gi >= 3 && gi - 3u < m.guids_.size()) {
      p.guid = m.guids_[gi - 3];
    } else {
      throw Error(Errc::kCorrupt, where + ": GUID index " + std::to_string(gi) + " outside the GUID stream");
    }
    if (p.is_string) {
      if (key + 4ull > strings.size() || key + 4ull + GetU32(strings, key) > strings.size()) {
        throw Error(Errc::kCorrupt, where + ": string offset " + std::to_string(key) +
                                        " outside the string stream of " + std::to_string(strings.size()) + " bytes");
      }
      p.name = ltp::Utf16ToUtf8(std::string_view(strings).substr(key + 4, GetU32(strings, key)));
    } else {
      p.lid = key;
    }
    m.entries_.push_back(std::move(p));
  }
  return m;
}

std::uint16_t NameMap::GuidIndex(const Guid& guid) const {
  if (guid == kPsMapi) return 1;
  if (guid == kPsPublicStrings) return 2;
  for (std::size_t i = 0; i < guids_.size(); ++i) {
    if (guids_[i] == guid) return static_cast<std::uint16_t>(3 + i);
  }
  return 0;
}

std::uint16_t NameMap::NextId() const {
  std::uint16_t next = 0x8000;
  for (const auto& e : entries_) next = std::max<std::uint16_t>(next, static_cast<std::uint16_t>(e.prop_id + 1));
  if (next == 0) throw Error(Errc::kNoSpace, "name-to-id map is full");
  return next;
}

std::optional<std::uint16_t> NameMap::Find(const Guid& guid, std::string_view name) const {
  for (const auto& e : entries_) {
    if (e.is_string && e.guid == guid && e.name == name) return e.prop_id;
  }
  return std::nullopt;
}

std::optional<std::uint16_t> NameMap::Find(const Guid& guid, std::uint32_t lid) const {
  for (const auto& e : entries_) {
    if (!e.is_string && e.guid == guid && e.lid == lid) return e.prop_id;
  }
  return std::nullopt;
}

std::uint16_t NameMap::Add(const Guid& guid, std::string_view name) {
  if (auto id = Find(guid, name)) return *id;
  if (GuidIndex(guid) == 0) guids_.push_back(guid);
  NamedProperty p;
  p.guid = guid;
  p.is_string = true;
  p.name = std::string(name);
  p.prop_id = NextId();
  entries_.push_back(p);
  return p.prop_id;
}

std::uint16_t NameMap::Add(const Guid& guid, std::uint32_t lid) {
  if (auto id = Find(guid, lid)) return *id;
  if (GuidIndex(guid) == 0) guids_.push_back(guid);
  NamedProperty p;
  p.guid = guid;
  p.lid = lid;
  p.prop_id = NextId();
  entries_.push_back(p);
  return p.prop_id;
}

ltp::PropertyMap NameMap::ToProperties() const {
  ltp::PropertyMap out;
  out[kPidBucketCount] = ltp::Int32Value(kBucketCount);
  std::string guids;
  for (const auto& g : guids_) guids.append(reinterpret_cast<const char*>(g.data()), g.size());
  std::string entries;
  std::string strings;
  std::map<std::uint32_t, std::string> buckets;
  std::vector<NamedProperty> sorted = entries_;
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.prop_id < b.prop_id; });
  for (const auto& e : sorted) {
    std::uint16_t wguid = static_cast<std::uint16_t>((GuidIndex(e.guid) << 1) | (e.is_string ? 1 : 0));
    std::uint16_t index = static_cast<std::uint16_t>(e.prop_id - 0x8000);
    std::uint32_t key = e.lid;
    std::uint32_t hash_key = e.lid;
    if (e.is_string) {
      std::string utf16 = ltp::Utf8ToUtf16(e.name);
      key = static_cast<std::uint32_t>(strings.size());
      PutU32(strings, static_cast<std::uint32_t>(utf16.size()));
      strings += utf16;
      while (strings.size() % 4) strings.push_back('\0');
      hash_key = PstCrc(utf16);
    }
    PutU32(entries, key);
    PutU16(entries, wguid);
    PutU16(entries, index);
    std::string& bucket = buckets[(hash_key ^ wguid) % kBucketCount];
    PutU32(bucket, hash_key);
    PutU16(bucket, wguid);
    PutU16(bucket, index);
  }
  out[kPidGuidStream] = ltp::BinaryValue(guids);
  out[kPidEntryStream] = ltp::BinaryValue(entries);
  out[kPidStringStream] = ltp::BinaryValue(strings);
  for (const auto& [b, bytes] : buckets) {
    out[static_cast<std::uint16_t>(kPidBucketBase + b)] = ltp::BinaryValue(bytes);
  }
  return out;
}

}  // namespace mailfs::pst::writer
