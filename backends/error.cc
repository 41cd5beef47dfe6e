#include "backends/error.h"

#include <cstring>

namespace mailfs {

std::string_view ErrcName(Errc code) {
  switch (code) {
    case Errc::kNotFound: return "not found";
    case Errc::kExists: return "exists";
    case Errc::kNotDir: return "not a folder";
    case Errc::kIsDir: return "is a folder";
    case Errc::kNotEmpty: return "folder not empty";
    case Errc::kReadOnly: return "read-only";
    case Errc::kUnsupported: return "unsupported";
    case Errc::kInvalid: return "invalid";
    case Errc::kCorrupt: return "corrupt";
    case Errc::kIo: return "i/o error";
    case Errc::kTransient: return "transient failure";
    case Errc::kAuth: return "authentication failed";
    case Errc::kTimeout: return "timed out";
    case Errc::kNoSpace: return "no space";
    case Errc::kPermission: return "not permitted";
  }
  return "unknown";
}

void ThrowErrno(Errc code, std::string_view what, int errno_value) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(errno_value);
  throw Error(code, msg);
}

}  // namespace mailfs
