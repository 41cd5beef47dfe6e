// UTF-8 and UTF-16 helpers shared by the backends (IMAP's modified UTF-7,
// PST strings read through libpff and by the PST writer's parser).
#pragma once

#include <string>
#include <string_view>

namespace mailfs {

// Appends code point |cp| as UTF-8.
void AppendUtf8(std::string& out, char32_t cp);

// UTF-16LE code units (no terminator) as UTF-8. An unpaired surrogate, and
// an odd last byte, become U+FFFD: damage is shown, never dropped.
std::string Utf16LeToUtf8(std::string_view utf16le);

}  // namespace mailfs
