// The deterministic renderer: Message model -> RFC 5322 bytes (CRLF), used by
// the IFF backend (iff-format.md §7) and by view=canonical (design.md §4).
// Same input, same bytes, on every run and machine: no clocks, no random
// boundaries.
//
// Output layout:
//  * header fields in the fixed order From, Sender, Reply-To, To, Cc, Bcc,
//    Subject, Date, Message-ID, In-Reply-To, References, then (if
//    keep_extra_headers) Message::extra_headers in order, then MIME-Version:
//    1.0 and the root part's Content-* fields. Empty fields are omitted.
//  * non-ASCII header text as RFC 2047 encoded words (UTF-8, B or Q, whichever
//    is shorter), addresses as `"Name" <addr>` or `<addr>`, lines folded at 78
//    columns; parameters with RFC 2231 (`filename*=UTF-8''...`) when non-ASCII.
//  * text parts as UTF-8 with CRLF line ends: Content-Transfer-Encoding 7bit if
//    ASCII with lines <= 998 octets, else quoted-printable; every other leaf,
//    and every leaf with Part::keep_bytes (text/* included, without a charset
//    parameter), base64 with 76-column lines over its bytes as they are.
//  * multipart boundaries: BoundaryStyle::kContentHash gives "=_mailfs_" + 24
//    hex digits of SHA-256 over the part's encoded content + its depth
//    (design.md §4); BoundaryStyle::kPrefix gives boundary_prefix + "_" + n
//    (n = 1, 2, ... in depth-first order), checked not to occur in any text part.
//
// Large leaves are not copied: the result is a Blob that base64-encodes
// attachment Blobs on the fly, so its exact Size() is known without reading
// them (under kPrefix; kContentHash must read them to hash).
#pragma once

#include <string>
#include <string_view>

#include "backends/blob.h"
#include "backends/mime/message.h"

namespace mailfs::mime {

// Bumped whenever any rendering changes; part of every cache key.
inline constexpr int kRendererVersion = 1;

enum class BoundaryStyle { kContentHash, kPrefix };

struct RenderOptions {
  BoundaryStyle boundary_style = BoundaryStyle::kContentHash;
  std::string boundary_prefix;  // for kPrefix, e.g. "=_iff_3fa9c2d1"
  bool keep_extra_headers = false;  // render Message/Part::extra_headers
};

// True for the header fields the renderer writes itself (the fixed set above
// and the Content-* fields), case-insensitively. Extra headers with these
// names are never rendered; the parser keeps only the others as extras.
bool IsRenderedField(std::string_view name);

// Renders |message|. Throws Error(kIo/kCorrupt) only if reading a leaf fails.
BlobPtr Render(const Message& message, const RenderOptions& options);

// Quoted-printable of CRLF text as the renderer writes text parts: lines of
// at most 76 characters with soft breaks, "=" always encoded, whitespace
// before a line end or the end encoded.
std::string EncodeQuotedPrintable(std::string_view text);

// Convenience: the rendering as a string (tests, small messages).
std::string RenderToString(const Message& message, const RenderOptions& options);

}  // namespace mailfs::mime
