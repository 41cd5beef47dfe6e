// The one error type of mailfs (design.md §7). Backends and the core throw
// mailfs::Error with a code; only fs/fuse_adapter.cc turns codes into errno.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace mailfs {

enum class Errc {
  kNotFound,
  kExists,
  kNotDir,
  kIsDir,
  kNotEmpty,
  kReadOnly,
  kUnsupported,
  kInvalid,
  kCorrupt,
  kIo,
  kTransient,
  kAuth,
  kTimeout,
  kNoSpace,
  kPermission,
};

// Short stable name of a code, e.g. "kNotFound" -> "not found".
std::string_view ErrcName(Errc code);

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& what) : std::runtime_error(what), code_(code) {}
  Errc code() const noexcept { return code_; }

 private:
  Errc code_;
};

// Throws Error(code, StrCat(what, ": ", strerror(errno_value))).
[[noreturn]] void ThrowErrno(Errc code, std::string_view what, int errno_value);

}  // namespace mailfs
