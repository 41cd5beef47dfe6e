// Property values and the Property Context (PC, pst-writing.md §7.3,
// [MS-PST] §2.3.3): a heap whose user root is a BTH of
// (property id -> type + value or HNID).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/pst/writer/node_store.h"

namespace mailfs::pst::writer::ltp {

// Property types ([MS-OXCDATA] §2.11.1).
namespace ptype {
inline constexpr std::uint16_t kInt16 = 0x0002;
inline constexpr std::uint16_t kInt32 = 0x0003;
inline constexpr std::uint16_t kFloat32 = 0x0004;
inline constexpr std::uint16_t kFloat64 = 0x0005;
inline constexpr std::uint16_t kCurrency = 0x0006;
inline constexpr std::uint16_t kAppTime = 0x0007;
inline constexpr std::uint16_t kError = 0x000A;
inline constexpr std::uint16_t kBool = 0x000B;
inline constexpr std::uint16_t kObject = 0x000D;
inline constexpr std::uint16_t kInt64 = 0x0014;
inline constexpr std::uint16_t kString8 = 0x001E;
inline constexpr std::uint16_t kString = 0x001F;
inline constexpr std::uint16_t kTime = 0x0040;
inline constexpr std::uint16_t kGuid = 0x0048;
inline constexpr std::uint16_t kBinary = 0x0102;
inline constexpr std::uint16_t kMulti = 0x1000;
inline constexpr std::uint16_t kMultiInt32 = 0x1003;
inline constexpr std::uint16_t kMultiString = 0x101F;
inline constexpr std::uint16_t kMultiBinary = 0x1102;
}  // namespace ptype

// Size in bytes of a fixed-size type's value (1 for booleans), 0 for a
// variable-size type (strings, binaries, multi-valued, objects).
std::size_t FixedSize(std::uint16_t type);

// A property value as stored: fixed-size types as their little-endian bytes
// (FixedSize() of them), PtypString as UTF-16LE without terminator,
// PtypBinary as is, multi-valued types in the [MS-PST] §2.3.3.4 layout,
// PtypObject as the 8-byte (subnode NID, size) record.
struct PropValue {
  std::uint16_t type = 0;
  std::string data;
  bool operator==(const PropValue&) const = default;
};
using PropertyMap = std::map<std::uint16_t, PropValue>;  // keyed by property id

// UTF-8 <-> UTF-16LE. Invalid UTF-8 becomes U+FFFD; unpaired surrogates
// in UTF-16 become U+FFFD.
std::string Utf8ToUtf16(std::string_view utf8);
std::string Utf16ToUtf8(std::string_view utf16le);

PropValue Int16Value(std::uint16_t v);
PropValue Int32Value(std::uint32_t v);
PropValue BoolValue(bool v);
PropValue Int64Value(std::uint64_t v);
PropValue TimeValue(std::uint64_t filetime);
PropValue StringValue(std::string_view utf8);
PropValue BinaryValue(std::string_view bytes);
PropValue GuidValue(std::string_view sixteen_bytes);
PropValue MultiStringValue(const std::vector<std::string>& utf8);
PropValue MultiInt32Value(const std::vector<std::uint32_t>& v);
PropValue ObjectValue(std::uint32_t subnode_nid, std::uint32_t size);

// Seconds since the Unix epoch -> FILETIME and back.
std::uint64_t UnixToFiletime(std::int64_t seconds);
std::int64_t FiletimeToUnix(std::uint64_t filetime);

// Typed reads from a map; nullopt when absent or of another type.
std::optional<std::uint32_t> GetInt32(const PropertyMap& m, std::uint16_t id);
std::optional<bool> GetBool(const PropertyMap& m, std::uint16_t id);
std::optional<std::uint64_t> GetInt64(const PropertyMap& m, std::uint16_t id);  // kInt64 or kTime
std::optional<std::string> GetString(const PropertyMap& m, std::uint16_t id);  // UTF-8
std::optional<std::string> GetBinary(const PropertyMap& m, std::uint16_t id);
std::optional<std::vector<std::string>> GetMultiString(const PropertyMap& m, std::uint16_t id);

// Decodes a multi-valued variable-size value (strings, binaries) into its
// items (raw bytes); throws kCorrupt naming |what| if malformed.
std::vector<std::string> SplitMultiValue(std::string_view data, const std::string& what);

// Gives a fresh subnode NID (type NID_TYPE_LTP) for a value that does not
// fit in the heap.
using NidSource = std::function<std::uint32_t()>;

// Builds a PC node: heap pages plus one subnode per value larger than
// kMaxHeapItem. Throws kInvalid for a value of the wrong size for its type.
NodeContent BuildPc(const PropertyMap& props, const NidSource& new_subnode_nid);

struct ParsedPc {
  PropertyMap props;
  // Subnodes of the node that hold property values (so an update can drop them).
  std::vector<std::uint32_t> value_subnodes;
};

// Reads a PC node, resolving values stored in subnodes. Throws kCorrupt
// naming |what| and the position for bad bytes.
ParsedPc ParsePc(const NodeContent& node, const std::string& what);

}  // namespace mailfs::pst::writer::ltp
