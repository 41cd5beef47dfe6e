// RAII wrappers over the libpff handles the PST backend uses, and typed
// readers for MAPI properties. libpff functions return 1 (done), 0 (value not
// present) or -1 (error, with a libpff_error_t); the wrappers keep that
// convention where absence matters and turn -1 into Error(kCorrupt).
//
// Thread safety: libpff handles are NOT thread-safe. Nothing here locks; the
// caller (PstBackend) holds its one mutex around every call into this file.
#pragma once

#include <libpff.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailfs::pst {

// The text of |error| (may be null), freeing it.
std::string TakeError(libpff_error_t* error);

// An owned libpff_item_t (folder, message, attachment, recipients).
class Item {
 public:
  Item() = default;
  explicit Item(libpff_item_t* item) : item_(item) {}
  ~Item();
  Item(Item&& other) noexcept : item_(other.item_) { other.item_ = nullptr; }
  Item& operator=(Item&& other) noexcept;
  Item(const Item&) = delete;
  Item& operator=(const Item&) = delete;

  libpff_item_t* get() const { return item_; }
  // For libpff functions that fill in a new item.
  libpff_item_t** out() { return &item_; }
  explicit operator bool() const { return item_ != nullptr; }

 private:
  libpff_item_t* item_ = nullptr;
};

// An open libpff_file_t, closed and freed on destruction.
class File {
 public:
  // Opens |path| read-only. Throws Error(kCorrupt) naming the file.
  explicit File(const std::string& path);
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  libpff_file_t* get() const { return file_; }

 private:
  libpff_file_t* file_ = nullptr;
  bool open_ = false;
};

// Readers of one property of record set |set| of |item|, any value type.
// Return the value, nullopt when absent; throw Error(kCorrupt) on a libpff error.
std::optional<std::string> GetString(libpff_item_t* item, int set, std::uint32_t type);
std::optional<std::uint32_t> GetU32(libpff_item_t* item, int set, std::uint32_t type);
std::optional<std::uint64_t> GetFiletime(libpff_item_t* item, int set, std::uint32_t type);
std::optional<std::string> GetBytes(libpff_item_t* item, int set, std::uint32_t type);

std::optional<bool> GetBool(libpff_item_t* item, int set, std::uint32_t type);
std::optional<double> GetDouble(libpff_item_t* item, int set, std::uint32_t type);
// Multi-valued strings (PT_MV_STRING8 / PT_MV_UNICODE) and binaries
// (PT_MV_BINARY); empty when absent.
std::vector<std::string> GetStrings(libpff_item_t* item, int set, std::uint32_t type);
std::vector<std::string> GetBinaries(libpff_item_t* item, int set, std::uint32_t type);

// A property set GUID in the byte order stored in the file (Data1..Data3
// little-endian), as mailfs_props.h spells them.
using Guid = std::array<std::uint8_t, 16>;
inline constexpr Guid kPsetidAppointment = {0x02, 0x20, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
                                            0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};
inline constexpr Guid kPsetidTask = {0x03, 0x20, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
                                     0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};
inline constexpr Guid kPsetidAddress = {0x04, 0x20, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
                                        0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};
inline constexpr Guid kPsetidCommon = {0x08, 0x20, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
                                       0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};
inline constexpr Guid kPsInternetHeaders = {0x86, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
                                            0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};
// PSETID_Meeting {6ED8DA90-450B-101B-98DA-00AA003F1305}.
inline constexpr Guid kPsetidMeeting = {0x90, 0xDA, 0xD8, 0x6E, 0x0B, 0x45, 0x1B, 0x10,
                                        0x98, 0xDA, 0x00, 0xAA, 0x00, 0x3F, 0x13, 0x05};

// The named properties of one record set: which property tag (0x8000 and
// up) the file's name-to-id map gives each (property set, LID or name). One
// scan of the set; lookups after that need no libpff call.
class NamedProperties {
 public:
  NamedProperties(libpff_item_t* item, int set);
  // The tag of the numeric named property |lid| of |guid|, if the set has it.
  std::optional<std::uint32_t> Find(const Guid& guid, std::uint32_t lid) const;
  // The tag of the string named property |name| (exact) of |guid|.
  std::optional<std::uint32_t> Find(const Guid& guid, std::string_view name) const;

 private:
  struct Named {
    Guid guid{};
    bool numeric = true;
    std::uint32_t lid = 0;
    std::string name;
    std::uint32_t tag = 0;
  };
  std::vector<Named> named_;
};

// Number of record sets of |item| (recipients: one per recipient).
int RecordSetCount(libpff_item_t* item);

// Throws Error(kCorrupt, what + ": " + libpff's text) when |rc| is -1.
// Returns |rc| otherwise (1 or 0).
int Check(int rc, libpff_error_t* error, const std::string& what);

// FILETIME (100 ns since 1601) to seconds since the Unix epoch.
std::int64_t FiletimeToUnix(std::uint64_t filetime);

}  // namespace mailfs::pst
