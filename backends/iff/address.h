// IFF address values (iff-format.md §4.4 "Address value grammar", §7.2
// "Address rendering"): "Display Name [TYPE:address]" and its parts, and the
// RFC 5322 mailbox each becomes. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "backends/mime/message.h"

namespace mailfs::iff {

struct IffAddress {
  std::string name;     // display name, may be empty
  std::string type;     // e.g. "SMTP", "X400"; empty when the value has no [TYPE:address]
  std::string address;  // the part after the first ':' inside the brackets
};

// Parses one value (after the multi-value split): the last "[...]" pair that
// ends the value, holding "TYPE:address", is the address; spaces before it
// are dropped; the rest is the display name. A value without such a pair is a
// display name only.
IffAddress ParseAddressValue(std::string_view value);

// Parses a bare "TYPE:address" (a section argument after "migrate:", a PAB
// Email-Address). Without ':' the value is taken as a display name.
IffAddress ParseTypedAddress(std::string_view value);

// The RFC 5322 mailbox for an IFF address: SMTP keeps its address; other
// types become IMCEA{TYPE}-{enc(address)}@iff.invalid; a display name alone
// becomes IMCEAEX-{enc(name)}@iff.invalid.
mime::Mailbox ToMailbox(const IffAddress& address);

// Exchange IMCEA encapsulation of |text|: bytes outside [A-Za-z0-9.-_=]
// become "+XX" (upper-case hex).
std::string ImceaEncode(std::string_view text);

}  // namespace mailfs::iff
