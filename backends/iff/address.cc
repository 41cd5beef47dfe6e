#include "backends/iff/address.h"

#include "backends/iff/csv.h"

namespace mailfs::iff {

IffAddress ParseAddressValue(std::string_view value) {
  IffAddress out;
  if (!value.empty() && value.back() == ']') {
    std::size_t open = value.rfind('[');
    if (open != std::string_view::npos) {
      std::string_view inner = value.substr(open + 1, value.size() - open - 2);
      std::size_t colon = inner.find(':');
      if (colon != std::string_view::npos) {
        out.type = std::string(inner.substr(0, colon));
        out.address = std::string(inner.substr(colon + 1));
        std::string_view name = value.substr(0, open);
        while (!name.empty() && name.back() == ' ') {
          name.remove_suffix(1);
        }
        out.name = std::string(name);
        return out;
      }
    }
  }
  out.name = std::string(value);
  return out;
}

IffAddress ParseTypedAddress(std::string_view value) {
  IffAddress out;
  std::size_t colon = value.find(':');
  if (colon == std::string_view::npos) {
    out.name = TrimSpaces(value);
    return out;
  }
  out.type = std::string(value.substr(0, colon));
  out.address = std::string(value.substr(colon + 1));
  return out;
}

std::string ImceaEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '-' || c == '_' || c == '=';
    if (keep) {
      out += static_cast<char>(c);
    } else {
      out += '+';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

mime::Mailbox ToMailbox(const IffAddress& address) {
  mime::Mailbox out;
  out.name = address.name;
  if (address.type.empty() || (EqualsIgnoreCase(address.type, "SMTP") && address.address.empty())) {
    out.address = "IMCEAEX-" + ImceaEncode(address.name) + "@iff.invalid";
  } else if (EqualsIgnoreCase(address.type, "SMTP")) {
    out.address = address.address;
  } else {
    out.address =
        "IMCEA" + ImceaEncode(address.type) + "-" + ImceaEncode(address.address) + "@iff.invalid";
  }
  return out;
}

}  // namespace mailfs::iff
