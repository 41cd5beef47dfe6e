// .eml parser: RFC 5322 + MIME bytes -> Message model (libetpan's mailmime for
// the structure). Lenient like a mail client: malformed input still gives a
// model (undecodable parts are kept as application/octet-stream with their raw
// bytes), never a crash, never an exception for bad mail.
#pragma once

#include <string_view>

#include "backends/mime/message.h"

namespace mailfs::mime {

// Parses a whole message held in memory. Text parts are decoded from their
// charset to UTF-8 with CRLF line ends; other leaves are transfer-decoded.
Message Parse(std::string_view bytes);

}  // namespace mailfs::mime
