// RAII wrappers over the libpff handles the PST backend uses, and typed
// readers for MAPI properties. libpff functions return 1 (done), 0 (value not
// present) or -1 (error, with a libpff_error_t); the wrappers keep that
// convention where absence matters and turn -1 into Error(kCorrupt).
//
// Thread safety: libpff handles are NOT thread-safe. Nothing here locks; the
// caller (PstBackend) holds its one mutex around every call into this file.
#pragma once

#include <libpff.h>

#include <cstdint>
#include <optional>
#include <string>

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

// Number of record sets of |item| (recipients: one per recipient).
int RecordSetCount(libpff_item_t* item);

// Throws Error(kCorrupt, what + ": " + libpff's text) when |rc| is -1.
// Returns |rc| otherwise (1 or 0).
int Check(int rc, libpff_error_t* error, const std::string& what);

// FILETIME (100 ns since 1601) to seconds since the Unix epoch.
std::int64_t FiletimeToUnix(std::uint64_t filetime);

}  // namespace mailfs::pst
