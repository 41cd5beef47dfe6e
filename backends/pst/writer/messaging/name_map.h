// The name-to-id map (node 0x61, pst-writing.md §8.6, [MS-PST] §2.4.7):
// named properties (property set GUID + numeric LID or string name) mapped
// to property ids 0x8000 + index, with the GUID, entry and string streams
// and the hash buckets that readers use.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/pst/writer/ltp/property.h"

namespace mailfs::pst::writer {

using Guid = std::array<std::uint8_t, 16>;  // as stored (Data1..Data3 little-endian)

inline constexpr Guid kPsMapi = {0x28, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
                                 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};
inline constexpr Guid kPsetidCommon = {0x08, 0x20, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
                                       0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};

struct NamedProperty {
  Guid guid{};
  bool is_string = false;
  std::uint32_t lid = 0;  // numeric name
  std::string name;       // string name, UTF-8
  std::uint16_t prop_id = 0;  // 0x8000 + index
};

class NameMap {
 public:
  // The map of a new file: PidLidInternetAccountName (so that property
  // 0x8000 is taken, which old libpff releases need), mailfs's original-MIME
  // property and PidNameKeywords.
  static NameMap Initial();
  // Reads node 0x61's property context.
  static NameMap Parse(const ltp::PropertyMap& pc, const std::string& what);

  // The property id of a named property, if mapped.
  std::optional<std::uint16_t> Find(const Guid& guid, std::string_view name) const;
  std::optional<std::uint16_t> Find(const Guid& guid, std::uint32_t lid) const;
  // Maps a named property (returns the existing id if already mapped).
  std::uint16_t Add(const Guid& guid, std::string_view name);
  std::uint16_t Add(const Guid& guid, std::uint32_t lid);

  const std::vector<NamedProperty>& entries() const { return entries_; }

  // The PC properties of node 0x61 (bucket count, streams, buckets).
  ltp::PropertyMap ToProperties() const;

 private:
  std::uint16_t GuidIndex(const Guid& guid) const;  // 0 if not in the stream
  std::uint16_t NextId() const;
  std::vector<Guid> guids_;  // stream order; index 3 + i
  std::vector<NamedProperty> entries_;
};

}  // namespace mailfs::pst::writer
