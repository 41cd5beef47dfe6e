// IMAP mailbox names: modified UTF-7 (RFC 3501 §5.1.3) <-> UTF-8. libetpan has
// no codec of its own.
#pragma once

#include <string>
#include <string_view>

namespace mailfs::imap {

// Decodes a mailbox name as the server sends it. Malformed shifts (bad base64,
// an unterminated "&...", odd bit counts, lone surrogates, directly encoded
// characters outside 0x20-0x7e) become U+FFFD; never throws.
std::string DecodeMailboxName(std::string_view mutf7);

// Encodes a UTF-8 name for the server. Throws Error(kInvalid) when |utf8| is
// not valid UTF-8.
std::string EncodeMailboxName(std::string_view utf8);

}  // namespace mailfs::imap
