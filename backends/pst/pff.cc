#include "backends/pst/pff.h"

#include <vector>

#include "backends/error.h"
#include "backends/mime/charset.h"
#include "backends/utf.h"

namespace mailfs::pst {

std::string TakeError(libpff_error_t* error) {
  if (error == nullptr) return "unknown libpff error";
  std::vector<char> text(1024, '\0');
  if (libpff_error_sprint(error, text.data(), text.size()) < 0) text[0] = '\0';
  libpff_error_free(&error);
  std::string out(text.data());
  // libpff chains messages with newlines; keep them on one line.
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out.empty() ? "unknown libpff error" : out;
}

int Check(int rc, libpff_error_t* error, const std::string& what) {
  if (rc == -1) throw Error(Errc::kCorrupt, what + ": " + TakeError(error));
  if (error != nullptr) libpff_error_free(&error);
  return rc;
}

Item::~Item() {
  if (item_ != nullptr) libpff_item_free(&item_, nullptr);
}

Item& Item::operator=(Item&& other) noexcept {
  if (this != &other) {
    if (item_ != nullptr) libpff_item_free(&item_, nullptr);
    item_ = other.item_;
    other.item_ = nullptr;
  }
  return *this;
}

File::File(const std::string& path) {
  libpff_error_t* error = nullptr;
  Check(libpff_file_initialize(&file_, &error), error, path + ": cannot initialise libpff");
  error = nullptr;
  if (libpff_file_open(file_, path.c_str(), LIBPFF_OPEN_READ, &error) != 1) {
    std::string why = TakeError(error);
    libpff_file_free(&file_, nullptr);
    throw Error(Errc::kCorrupt, path + ": not a readable PST file (" + why + ")");
  }
  open_ = true;
}

File::~File() {
  if (open_) libpff_file_close(file_, nullptr);
  if (file_ != nullptr) libpff_file_free(&file_, nullptr);
}

namespace {

// An owned record set / record entry.
struct RecordSet {
  libpff_record_set_t* set = nullptr;
  ~RecordSet() {
    if (set != nullptr) libpff_record_set_free(&set, nullptr);
  }
};
struct RecordEntry {
  libpff_record_entry_t* entry = nullptr;
  ~RecordEntry() {
    if (entry != nullptr) libpff_record_entry_free(&entry, nullptr);
  }
};

// Finds property |type| in set |set|: 1 found, 0 absent (or no such set).
int FindEntry(libpff_item_t* item, int set, std::uint32_t type, RecordSet& rs, RecordEntry& re) {
  int count = RecordSetCount(item);
  if (set < 0 || set >= count) return 0;
  libpff_error_t* error = nullptr;
  Check(libpff_item_get_record_set_by_index(item, set, &rs.set, &error), error, "record set");
  error = nullptr;
  // Tags are matched as stored: a named property is looked up by the tag
  // NamedProperties found for it, never by libpff's own LID remapping.
  return Check(libpff_record_set_get_entry_by_type(
                   rs.set, type, 0, &re.entry,
                   LIBPFF_ENTRY_VALUE_FLAG_MATCH_ANY_VALUE_TYPE | LIBPFF_ENTRY_VALUE_FLAG_IGNORE_NAME_TO_ID_MAP,
                   &error),
               error, "property lookup");
}

}  // namespace

int RecordSetCount(libpff_item_t* item) {
  int count = 0;
  libpff_error_t* error = nullptr;
  Check(libpff_item_get_number_of_record_sets(item, &count, &error), error, "record sets");
  return count;
}

std::optional<std::string> GetString(libpff_item_t* item, int set, std::uint32_t type) {
  RecordSet rs;
  RecordEntry re;
  if (FindEntry(item, set, type, rs, re) != 1) return std::nullopt;
  size_t size = 0;
  libpff_error_t* error = nullptr;
  if (libpff_record_entry_get_data_as_utf8_string_size(re.entry, &size, &error) != 1) {
    // Not a string property (or an empty one): treat as absent.
    if (error != nullptr) libpff_error_free(&error);
    return std::nullopt;
  }
  if (size == 0) return std::string();
  std::string out(size, '\0');
  error = nullptr;
  Check(libpff_record_entry_get_data_as_utf8_string(re.entry, reinterpret_cast<uint8_t*>(out.data()), size,
                                                    &error),
        error, "string property");
  out.resize(out.find('\0') == std::string::npos ? out.size() : out.find('\0'));
  return out;
}

namespace {

// A fixed-size property read with |get| (a libpff_record_entry_get_data_as_*
// function); nullopt when absent or of another type.
template <typename T, typename Getter>
std::optional<T> GetScalar(libpff_item_t* item, int set, std::uint32_t type, Getter get) {
  RecordSet rs;
  RecordEntry re;
  if (FindEntry(item, set, type, rs, re) != 1) return std::nullopt;
  T value{};
  libpff_error_t* error = nullptr;
  if (get(re.entry, &value, &error) != 1) {
    if (error != nullptr) libpff_error_free(&error);
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::optional<std::uint32_t> GetU32(libpff_item_t* item, int set, std::uint32_t type) {
  return GetScalar<std::uint32_t>(item, set, type, libpff_record_entry_get_data_as_32bit_integer);
}

std::optional<std::uint64_t> GetFiletime(libpff_item_t* item, int set, std::uint32_t type) {
  return GetScalar<std::uint64_t>(item, set, type, libpff_record_entry_get_data_as_filetime);
}

std::optional<std::string> GetBytes(libpff_item_t* item, int set, std::uint32_t type) {
  RecordSet rs;
  RecordEntry re;
  if (FindEntry(item, set, type, rs, re) != 1) return std::nullopt;
  size_t size = 0;
  libpff_error_t* error = nullptr;
  Check(libpff_record_entry_get_data_size(re.entry, &size, &error), error, "property size");
  std::string out(size, '\0');
  if (size > 0) {
    error = nullptr;
    Check(libpff_record_entry_get_data(re.entry, reinterpret_cast<uint8_t*>(out.data()), size, &error), error,
          "property data");
  }
  return out;
}

std::optional<bool> GetBool(libpff_item_t* item, int set, std::uint32_t type) {
  std::optional<std::uint8_t> v = GetScalar<std::uint8_t>(item, set, type, libpff_record_entry_get_data_as_boolean);
  if (!v) return std::nullopt;
  return *v != 0;
}

std::optional<double> GetDouble(libpff_item_t* item, int set, std::uint32_t type) {
  return GetScalar<double>(item, set, type, libpff_record_entry_get_data_as_floating_point);
}

namespace {

// The values of a multi-valued variable-size property (MS-PST 2.3.3.4.2:
// value count, one offset per value from the start of the data, then the
// values back to back), read from the raw data: libpff 20180714's own
// multi-value decoder overwrites the count in its cached copy, so it is not
// used. Empty when absent; throws Error(kCorrupt) for offsets out of order
// or outside the data. |value_type| receives the stored type.
std::vector<std::string> GetMultiRaw(libpff_item_t* item, int set, std::uint32_t type, std::uint32_t* value_type) {
  RecordSet rs;
  RecordEntry re;
  if (FindEntry(item, set, type, rs, re) != 1) return {};
  libpff_error_t* error = nullptr;
  Check(libpff_record_entry_get_value_type(re.entry, value_type, &error), error, "property type");
  if ((*value_type & 0x1000) == 0) return {};
  size_t size = 0;
  error = nullptr;
  Check(libpff_record_entry_get_data_size(re.entry, &size, &error), error, "property size");
  std::string data(size, '\0');
  if (size > 0) {
    error = nullptr;
    Check(libpff_record_entry_get_data(re.entry, reinterpret_cast<uint8_t*>(data.data()), size, &error), error,
          "property data");
  }
  if (data.size() < 4) return {};
  auto u32 = [&](std::size_t at) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(data[at])) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(data[at + 1])) << 8) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(data[at + 2])) << 16) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(data[at + 3])) << 24);
  };
  std::uint32_t count = u32(0);
  if (count > (data.size() - 4) / 4) {
    throw Error(Errc::kCorrupt, "multi-valued property " + std::to_string(type) + ": " + std::to_string(count) +
                                    " values do not fit in " + std::to_string(data.size()) + " bytes");
  }
  std::vector<std::string> out;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t begin = u32(4 + 4 * static_cast<std::size_t>(i));
    std::uint32_t end = i + 1 < count ? u32(8 + 4 * static_cast<std::size_t>(i)) : static_cast<std::uint32_t>(data.size());
    if (begin < 4 + 4 * count || begin > end || end > data.size()) {
      throw Error(Errc::kCorrupt, "multi-valued property " + std::to_string(type) + ": value " + std::to_string(i) +
                                      " at offsets " + std::to_string(begin) + ".." + std::to_string(end) +
                                      " outside its " + std::to_string(data.size()) + " bytes");
    }
    out.push_back(data.substr(begin, end - begin));
  }
  return out;
}


}  // namespace

std::vector<std::string> GetStrings(libpff_item_t* item, int set, std::uint32_t type) {
  std::uint32_t value_type = 0;
  std::vector<std::string> values = GetMultiRaw(item, set, type, &value_type);
  for (std::string& v : values) {
    if (value_type == 0x101f) {
      v = Utf16LeToUtf8(v);
    } else {
      std::optional<std::string> utf8 = mime::CodePageToUtf8(1252, v);
      v = mime::SanitizeUtf8(v) == v ? v : utf8.value_or(mime::SanitizeUtf8(v));
    }
    while (!v.empty() && v.back() == '\0') v.pop_back();
  }
  if (value_type != 0x101f && value_type != 0x101e) return {};
  return values;
}

std::vector<std::string> GetBinaries(libpff_item_t* item, int set, std::uint32_t type) {
  std::uint32_t value_type = 0;
  std::vector<std::string> values = GetMultiRaw(item, set, type, &value_type);
  if (value_type != 0x1102) return {};
  return values;
}

NamedProperties::NamedProperties(libpff_item_t* item, int set) {
  if (set < 0 || set >= RecordSetCount(item)) return;
  RecordSet rs;
  libpff_error_t* error = nullptr;
  Check(libpff_item_get_record_set_by_index(item, set, &rs.set, &error), error, "record set");
  int n = 0;
  error = nullptr;
  Check(libpff_record_set_get_number_of_entries(rs.set, &n, &error), error, "record set entries");
  for (int i = 0; i < n; ++i) {
    RecordEntry re;
    error = nullptr;
    Check(libpff_record_set_get_entry_by_index(rs.set, i, &re.entry, &error), error, "record entry");
    std::uint32_t tag = 0;
    error = nullptr;
    if (Check(libpff_record_entry_get_entry_type(re.entry, &tag, &error), error, "entry type") != 1 || tag < 0x8000) {
      continue;
    }
    libpff_name_to_id_map_entry_t* map = nullptr;  // owned by the record entry
    error = nullptr;
    if (Check(libpff_record_entry_get_name_to_id_map_entry(re.entry, &map, &error), error, "named property") != 1 ||
        map == nullptr) {
      continue;
    }
    Named named;
    named.tag = tag;
    std::uint8_t kind = 0;
    error = nullptr;
    Check(libpff_name_to_id_map_entry_get_type(map, &kind, &error), error, "named property kind");
    error = nullptr;
    Check(libpff_name_to_id_map_entry_get_guid(map, named.guid.data(), named.guid.size(), &error), error,
          "named property set");
    if (kind == LIBPFF_NAME_TO_ID_MAP_ENTRY_TYPE_NUMERIC) {
      error = nullptr;
      Check(libpff_name_to_id_map_entry_get_number(map, &named.lid, &error), error, "named property id");
    } else if (kind == LIBPFF_NAME_TO_ID_MAP_ENTRY_TYPE_STRING) {
      named.numeric = false;
      size_t size = 0;
      error = nullptr;
      Check(libpff_name_to_id_map_entry_get_utf8_string_size(map, &size, &error), error, "named property name");
      named.name.assign(size, '\0');
      if (size > 0) {
        error = nullptr;
        Check(libpff_name_to_id_map_entry_get_utf8_string(map, reinterpret_cast<uint8_t*>(named.name.data()), size,
                                                          &error),
              error, "named property name");
      }
      named.name.resize(named.name.find('\0') == std::string::npos ? named.name.size() : named.name.find('\0'));
    } else {
      continue;
    }
    named_.push_back(std::move(named));
  }
}

std::optional<std::uint32_t> NamedProperties::Find(const Guid& guid, std::uint32_t lid) const {
  for (const Named& n : named_) {
    if (n.numeric && n.lid == lid && n.guid == guid) return n.tag;
  }
  return std::nullopt;
}

std::optional<std::uint32_t> NamedProperties::Find(const Guid& guid, std::string_view name) const {
  for (const Named& n : named_) {
    if (!n.numeric && n.name == name && n.guid == guid) return n.tag;
  }
  return std::nullopt;
}

std::int64_t FiletimeToUnix(std::uint64_t filetime) {
  return static_cast<std::int64_t>(filetime / 10000000ULL) - 11644473600LL;
}

}  // namespace mailfs::pst
