// HTML carried inside an RTF body (MS-OXRTFEX "encapsulated HTML"): Outlook
// stores an HTML message it received as RTF whose \*\htmltag groups hold the
// HTML markup and whose other text, outside \htmlrtf ... \htmlrtf0 runs, is
// the HTML's text. Taking those two back out gives the HTML again.
//
// Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mailfs::pst {

// The HTML encapsulated in |rtf| (decompressed RTF bytes), as UTF-8; nullopt
// when |rtf| is not encapsulated HTML (no \fromhtml1 in its header, before
// any text or HTML tag). Never fails: malformed RTF (unbalanced groups, a
// truncated escape) ends the text at that point.
std::optional<std::string> HtmlFromRtf(std::string_view rtf);

}  // namespace mailfs::pst
