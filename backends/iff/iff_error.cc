#include "backends/iff/iff_error.h"

#include <utility>

namespace mailfs::iff {

std::string_view IffCodeName(IffCode code) {
  switch (code) {
    case IffCode::kCodepage:
      return "IFF_E_CODEPAGE";
    case IffCode::kPkl:
      return "IFF_E_PKL";
    case IffCode::kMissingFile:
      return "IFF_E_MISSING_FILE";
    case IffCode::kAmbiguousFile:
      return "IFF_E_AMBIGUOUS_FILE";
    case IffCode::kBadName:
      return "IFF_E_BAD_NAME";
    case IffCode::kEol:
      return "IFF_E_EOL";
    case IffCode::kQuote:
      return "IFF_E_QUOTE";
    case IffCode::kUnknownSection:
      return "IFF_E_UNKNOWN_SECTION";
    case IffCode::kSectionArg:
      return "IFF_E_SECTION_ARG";
    case IffCode::kBadHeader:
      return "IFF_E_BAD_HEADER";
    case IffCode::kFieldCount:
      return "IFF_E_FIELD_COUNT";
    case IffCode::kFieldValue:
      return "IFF_E_FIELD_VALUE";
    case IffCode::kDate:
      return "IFF_E_DATE";
    case IffCode::kFolder:
      return "IFF_E_FOLDER";
    case IffCode::kEscape:
      return "IFF_E_ESCAPE";
    case IffCode::kDirMode:
      return "IFF_E_DIR_MODE";
    case IffCode::kPabClass:
      return "IFF_E_PAB_CLASS";
    case IffCode::kPointer:
      return "IFF_E_POINTER";
    case IffCode::kNotListed:
      return "IFF_E_NOT_LISTED";
    case IffCode::kOffset:
      return "IFF_E_OFFSET";
    case IffCode::kSecFileHeader:
      return "IFF_E_SEC_FILE_HEADER";
    case IffCode::kSecHeader:
      return "IFF_E_SEC_HEADER";
    case IffCode::kSecType:
      return "IFF_E_SEC_TYPE";
    case IffCode::kLength:
      return "IFF_E_LENGTH";
    case IffCode::kChain:
      return "IFF_E_CHAIN";
  }
  return "IFF_E_UNKNOWN";
}

std::string IffFailure::Format() const {
  std::string out(IffCodeName(code));
  out += ": ";
  out += file;
  if (line) {
    out += " line " + std::to_string(*line);
  }
  if (offset) {
    out += line ? ", offset " : " offset ";
    out += std::to_string(*offset);
  }
  out += ": ";
  out += reason;
  return out;
}

IffError::IffError(IffFailure failure)
    : Error(Errc::kCorrupt, failure.Format()), failure_(std::move(failure)) {}

void ThrowIff(IffCode code,
              std::string_view file,
              std::optional<std::uint64_t> line,
              std::optional<std::uint64_t> offset,
              std::string_view reason) {
  throw IffError(IffFailure{code, std::string(file), line, offset, std::string(reason)});
}

IffFailure AttributeToRow(const IffFailure& failure, std::string_view primary, std::uint64_t line) {
  if (failure.file == primary && failure.line) {
    return failure;  // already names the row
  }
  IffFailure out;
  out.code = failure.code;
  out.file = std::string(primary);
  out.line = line;
  out.offset = failure.offset;
  out.reason = failure.file.empty() || failure.file == primary
                   ? failure.reason
                   : failure.file + ": " + failure.reason;
  return out;
}

}  // namespace mailfs::iff
