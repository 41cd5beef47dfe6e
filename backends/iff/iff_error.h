// IFF failure codes (iff-format.md §8) and the error type that carries them.
//
// Every IFF failure is a mailfs::Error with Errc::kCorrupt whose text reads
//   "IFF_E_CODE: <file> line N, offset M: reason"
// (line and offset each only when known). IffError also keeps the pieces, so
// that an error found in a secondary file can be re-attributed to the primary
// row that referenced it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "backends/error.h"

namespace mailfs::iff {

enum class IffCode {
  kCodepage,
  kPkl,
  kMissingFile,
  kAmbiguousFile,
  kBadName,
  kEol,
  kQuote,
  kUnknownSection,
  kSectionArg,
  kBadHeader,
  kFieldCount,
  kFieldValue,
  kDate,
  kFolder,
  kEscape,
  kDirMode,
  kPabClass,
  kPointer,
  kNotListed,
  kOffset,
  kSecFileHeader,
  kSecHeader,
  kSecType,
  kLength,
  kChain,
};

// "IFF_E_CODEPAGE", "IFF_E_PKL", ...
std::string_view IffCodeName(IffCode code);

// Where and why one failure happened.
struct IffFailure {
  IffCode code = IffCode::kPkl;
  std::string file;                     // file name as listed
  std::optional<std::uint64_t> line;    // first physical line, 1-based
  std::optional<std::uint64_t> offset;  // byte offset in |file| or in the secondary
  std::string reason;

  // The one-line text described at the top of this file.
  std::string Format() const;
};

// A failure as an exception: Error(kCorrupt, failure.Format()).
class IffError : public Error {
 public:
  explicit IffError(IffFailure failure);
  const IffFailure& failure() const { return failure_; }

 private:
  IffFailure failure_;
};

// Throws IffError for the given pieces.
[[noreturn]] void ThrowIff(IffCode code,
                           std::string_view file,
                           std::optional<std::uint64_t> line,
                           std::optional<std::uint64_t> offset,
                           std::string_view reason);

// Re-attributes a failure found while following a pointer of primary file
// |primary| line |line|: the text then names the primary row first and the
// secondary file (with its offset) in the reason.
IffFailure AttributeToRow(const IffFailure& failure, std::string_view primary, std::uint64_t line);

}  // namespace mailfs::iff
