// Rendering as a list of segments: literal text, raw Blobs, and Blobs
// base64-encoded on the fly. The segment list is built once and then only
// read, so the resulting Blob may be read from several threads at once.
//
// Layout of an entity (RFC 2045/2046):
//   header fields CRLF, an empty line, then the body:
//   * text: the encoded text as is (it may or may not end in CRLF);
//   * base64: 76-column lines, each ending in CRLF;
//   * multipart: "--B" CRLF child (CRLF "--B" CRLF child)* CRLF "--B--",
//     without preamble or epilogue; the top-level entity gets a final CRLF.
// The CRLF before each delimiter belongs to the delimiter, so a text child
// keeps exactly its bytes when parsed again.
//
// Boundaries. kPrefix: boundary_prefix + "_" + n, n counted from 1 over the
// multiparts in depth-first pre-order of the whole message (embedded messages
// included). kContentHash: "=_mailfs_" + the first 24 hex digits of SHA-256
// over "depth=<d>\n" followed by, for every child entity, its size in decimal,
// "\n" and its rendered bytes (d = 0 for the root part, +1 per nesting level,
// an embedded message's root part counting one level below its
// message/rfc822 part). In both styles, if the candidate occurs anywhere in
// the rendered children (text, header fields, nested delimiters), "_x" is
// appended until it does not; base64 output cannot contain "_" and so never
// collides.
#include "backends/mime/renderer.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "backends/error.h"
#include "backends/mime/header_decode.h"
#include "backends/mime/header_encode.h"
#include "backends/sha256.h"

namespace mailfs::mime {
namespace {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::uint64_t kBase64LineInput = 57;   // bytes per line
constexpr std::uint64_t kBase64LineOutput = 78;  // 76 characters + CRLF
constexpr std::size_t kMaxTextLine = 998;
constexpr std::size_t kQpLine = 76;

struct Segment {
  enum class Kind { kLiteral, kBase64, kRaw };
  Kind kind = Kind::kLiteral;
  std::string text;  // kLiteral
  BlobPtr blob;      // kBase64, kRaw
  std::uint64_t size = 0;
};

std::uint64_t Base64EncodedSize(std::uint64_t n) {
  std::uint64_t full = n / kBase64LineInput;
  std::uint64_t rest = n % kBase64LineInput;
  std::uint64_t size = full * kBase64LineOutput;
  if (rest > 0) {
    size += (rest + 2) / 3 * 4 + 2;
  }
  return size;
}

// Encodes |in| (at most 57 bytes, one output line) into |out|, CRLF included;
// returns the number of characters written.
std::size_t EncodeBase64Line(const unsigned char* in, std::size_t n, char* out) {
  char* p = out;
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    std::uint32_t v = (in[i] << 16) | (in[i + 1] << 8) | in[i + 2];
    *p++ = kBase64[(v >> 18) & 63];
    *p++ = kBase64[(v >> 12) & 63];
    *p++ = kBase64[(v >> 6) & 63];
    *p++ = kBase64[v & 63];
  }
  if (n - i == 1) {
    std::uint32_t v = in[i] << 16;
    *p++ = kBase64[(v >> 18) & 63];
    *p++ = kBase64[(v >> 12) & 63];
    *p++ = '=';
    *p++ = '=';
  } else if (n - i == 2) {
    std::uint32_t v = (in[i] << 16) | (in[i + 1] << 8);
    *p++ = kBase64[(v >> 18) & 63];
    *p++ = kBase64[(v >> 12) & 63];
    *p++ = kBase64[(v >> 6) & 63];
    *p++ = '=';
  }
  *p++ = '\r';
  *p++ = '\n';
  return static_cast<std::size_t>(p - out);
}

// Reads exactly |n| bytes of |blob| at |offset|, or throws.
void ReadExact(const Blob& blob, std::uint64_t offset, char* buf, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    std::size_t got = blob.ReadAt(offset + done, buf + done, n - done);
    if (got == 0) {
      throw Error(Errc::kCorrupt, "attachment is shorter than its stated size");
    }
    done += got;
  }
}

// Reads the base64 encoding of |blob| from output |offset|; see ReadAt.
std::size_t ReadBase64(const Blob& blob,
                       std::uint64_t encoded_size,
                       std::uint64_t offset,
                       char* buf,
                       std::size_t n) {
  if (offset >= encoded_size) {
    return 0;
  }
  n = static_cast<std::size_t>(std::min<std::uint64_t>(n, encoded_size - offset));
  const std::uint64_t source_size = blob.Size();
  constexpr std::uint64_t kLinesPerChunk = 16384;  // ~0.9 MiB of input
  std::vector<unsigned char> input;
  std::size_t done = 0;
  while (done < n) {
    std::uint64_t pos = offset + done;
    std::uint64_t first_line = pos / kBase64LineOutput;
    std::uint64_t last_line = (offset + n - 1) / kBase64LineOutput;
    last_line = std::min(last_line, first_line + kLinesPerChunk - 1);
    std::uint64_t in_begin = first_line * kBase64LineInput;
    std::uint64_t in_end = std::min(source_size, (last_line + 1) * kBase64LineInput);
    input.resize(static_cast<std::size_t>(in_end - in_begin));
    ReadExact(blob, in_begin, reinterpret_cast<char*>(input.data()), input.size());
    std::array<char, kBase64LineOutput> line;
    for (std::uint64_t l = first_line; l <= last_line && done < n; ++l) {
      std::uint64_t line_in = (l - first_line) * kBase64LineInput;
      std::size_t count = static_cast<std::size_t>(
          std::min<std::uint64_t>(kBase64LineInput, input.size() - line_in));
      std::size_t len = EncodeBase64Line(input.data() + line_in, count, line.data());
      std::uint64_t line_start = l * kBase64LineOutput;
      std::size_t skip = static_cast<std::size_t>(offset + done - line_start);
      std::size_t take = std::min(len - skip, n - done);
      std::memcpy(buf + done, line.data() + skip, take);
      done += take;
    }
  }
  return done;
}

// The rendered message: segments laid end to end.
class SegmentBlob final : public Blob {
 public:
  explicit SegmentBlob(std::vector<Segment> segments) : segments_(std::move(segments)) {
    starts_.reserve(segments_.size());
    for (const Segment& s : segments_) {
      starts_.push_back(size_);
      size_ += s.size;
    }
  }

  std::uint64_t Size() const override { return size_; }

  std::size_t ReadAt(std::uint64_t offset, char* buf, std::size_t n) const override {
    if (offset >= size_ || n == 0) {
      return 0;
    }
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, size_ - offset));
    auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
    std::size_t index = static_cast<std::size_t>(it - starts_.begin()) - 1;
    std::size_t done = 0;
    while (done < n && index < segments_.size()) {
      const Segment& s = segments_[index];
      std::uint64_t within = offset + done - starts_[index];
      std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(n - done, s.size - within));
      if (want > 0) {
        switch (s.kind) {
          case Segment::Kind::kLiteral:
            std::memcpy(buf + done, s.text.data() + within, want);
            break;
          case Segment::Kind::kRaw:
            ReadExact(*s.blob, within, buf + done, want);
            break;
          case Segment::Kind::kBase64:
            if (ReadBase64(*s.blob, s.size, within, buf + done, want) != want) {
              throw Error(Errc::kCorrupt, "attachment is shorter than its stated size");
            }
            break;
        }
        done += want;
      }
      ++index;
    }
    return done;
  }

 private:
  std::vector<Segment> segments_;
  std::vector<std::uint64_t> starts_;
  std::uint64_t size_ = 0;
};

// Accumulates segments, merging adjacent literals.
class Builder {
 public:
  void Add(std::string_view text) {
    if (text.empty()) {
      return;
    }
    if (segments_.empty() || segments_.back().kind != Segment::Kind::kLiteral) {
      segments_.push_back(Segment{});
    }
    segments_.back().text += text;
    segments_.back().size = segments_.back().text.size();
  }

  void AddBase64(BlobPtr blob) {
    if (!blob || blob->Size() == 0) {
      return;
    }
    std::uint64_t size = Base64EncodedSize(blob->Size());
    segments_.push_back(Segment{Segment::Kind::kBase64, "", std::move(blob), size});
  }

  void AddRaw(BlobPtr blob) {
    if (!blob || blob->Size() == 0) {
      return;
    }
    std::uint64_t size = blob->Size();
    segments_.push_back(Segment{Segment::Kind::kRaw, "", std::move(blob), size});
  }

  void Append(const Builder& other) {
    for (const Segment& s : other.segments_) {
      if (s.kind == Segment::Kind::kLiteral) {
        Add(s.text);
      } else {
        segments_.push_back(s);
      }
    }
  }

  const std::vector<Segment>& segments() const { return segments_; }
  std::vector<Segment> Take() { return std::move(segments_); }

  std::uint64_t Size() const {
    std::uint64_t n = 0;
    for (const Segment& s : segments_) {
      n += s.size;
    }
    return n;
  }

 private:
  std::vector<Segment> segments_;
};

// True if |needle| occurs in the literal or raw segments of |b|. Base64
// segments are skipped: every boundary holds "_", which base64 never emits.
bool Occurs(const Builder& b, std::string_view needle) {
  for (const Segment& s : b.segments()) {
    if (s.kind == Segment::Kind::kLiteral) {
      if (s.text.find(needle) != std::string::npos) {
        return true;
      }
    } else if (s.kind == Segment::Kind::kRaw) {
      if (ReadAll(*s.blob).find(needle) != std::string::npos) {
        return true;
      }
    }
  }
  return false;
}

// True if every segment is ASCII (base64 always is).
bool IsAsciiContent(const Builder& b) {
  for (const Segment& s : b.segments()) {
    std::string raw;
    const std::string* text = &s.text;
    if (s.kind == Segment::Kind::kBase64) {
      continue;
    }
    if (s.kind == Segment::Kind::kRaw) {
      raw = ReadAll(*s.blob);
      text = &raw;
    }
    for (char c : *text) {
      if (static_cast<unsigned char>(c) >= 0x80) {
        return false;
      }
    }
  }
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// Extra headers with these names are dropped so that the structure cannot be
// contradicted.
bool IsReservedHeader(std::string_view name) {
  static constexpr std::string_view kReserved[] = {"From",
                                                   "Sender",
                                                   "Reply-To",
                                                   "To",
                                                   "Cc",
                                                   "Bcc",
                                                   "Subject",
                                                   "Date",
                                                   "Message-ID",
                                                   "In-Reply-To",
                                                   "References",
                                                   "MIME-Version",
                                                   "Content-Type",
                                                   "Content-Transfer-Encoding",
                                                   "Content-Disposition",
                                                   "Content-ID",
                                                   "Content-Description"};
  for (std::string_view r : kReserved) {
    if (EqualsIgnoreCase(name, r)) {
      return true;
    }
  }
  return false;
}

// Line ends to CRLF: CRLF stays, a bare CR or LF becomes CRLF.
std::string NormalizeLineEnds(std::string_view in) {
  std::string out(in.size() * 2, '\0');
  char* p = out.data();
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '\r' || c == '\n') {
      *p++ = '\r';
      *p++ = '\n';
      if (c == '\r' && i + 1 < in.size() && in[i + 1] == '\n') {
        ++i;
      }
    } else {
      *p++ = c;
    }
  }
  out.resize(static_cast<std::size_t>(p - out.data()));
  return out;
}

// 7bit: ASCII without NUL, every line at most 998 octets (CRLF excluded).
bool Is7bit(std::string_view text) {
  std::size_t line = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == 0 || c >= 0x80) {
      return false;
    }
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      line = 0;
      ++i;
      continue;
    }
    if (++line > kMaxTextLine) {
      return false;
    }
  }
  return true;
}


struct Context {
  const RenderOptions& options;
  int next_boundary = 1;
};

void RenderMessageInto(const Message& message, int depth, Context& ctx, Builder& out);

std::string ContentTypeField(const Part& part, std::string_view boundary) {
  std::string type = part.type.empty() ? "application" : part.type;
  std::string subtype = part.subtype.empty() ? "octet-stream" : part.subtype;
  // Text is transcoded to UTF-8 and says so; kept bytes carry only the
  // caller's parameters.
  bool utf8_text = part.IsText() && !part.keep_bytes;
  std::vector<Param> params;
  if (utf8_text) {
    params.push_back({"charset", "utf-8"});
  }
  for (const Param& p : part.params) {
    if ((utf8_text && EqualsIgnoreCase(p.name, "charset")) ||
        (part.IsMultipart() && EqualsIgnoreCase(p.name, "boundary")) || p.name.empty()) {
      continue;
    }
    params.push_back(p);
  }
  if (part.IsMultipart()) {
    params.push_back({"boundary", std::string(boundary)});
  }
  FieldFolder folder("Content-Type");
  folder.Add(" ", type + "/" + subtype + (params.empty() ? "" : ";"));
  for (std::size_t i = 0; i < params.size(); ++i) {
    bool quote = params[i].name == "name" || params[i].name == "boundary";
    AddParam(folder, params[i], quote, i + 1 == params.size());
  }
  return folder.Finish();
}

// The Content-* fields after Content-Type, and the part's extra headers.
std::string TrailingPartFields(const Part& part,
                               std::string_view transfer_encoding,
                               const RenderOptions& options) {
  std::string out;
  if (!transfer_encoding.empty()) {
    out += "Content-Transfer-Encoding: ";
    out += transfer_encoding;
    out += "\r\n";
  }
  if (!part.disposition.empty() || !part.filename.empty()) {
    std::string disposition = part.disposition.empty() ? "attachment" : part.disposition;
    FieldFolder folder("Content-Disposition");
    folder.Add(" ", disposition + (part.filename.empty() ? "" : ";"));
    if (!part.filename.empty()) {
      AddParam(folder, Param{"filename", part.filename}, true, true);
    }
    out += folder.Finish();
  }
  if (!part.content_id.empty()) {
    out += RenderTokenField("Content-ID", "<" + part.content_id + ">");
  }
  if (!part.description.empty()) {
    out += RenderUnstructuredField("Content-Description", part.description);
  }
  if (options.keep_extra_headers) {
    for (const Header& h : part.extra_headers) {
      if (!h.name.empty() && !IsReservedHeader(h.name)) {
        out += RenderUnstructuredField(h.name, h.value);
      }
    }
  }
  return out;
}

std::string HashBoundary(int depth, const std::vector<Builder>& children) {
  Sha256 sha;
  sha.Update("depth=" + std::to_string(depth) + "\n");
  std::vector<char> buf(1 << 16);
  for (const Builder& child : children) {
    sha.Update(std::to_string(child.Size()) + "\n");
    for (const Segment& s : child.segments()) {
      if (s.kind == Segment::Kind::kLiteral) {
        sha.Update(s.text);
        continue;
      }
      for (std::uint64_t pos = 0; pos < s.size;) {
        std::size_t want =
            static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), s.size - pos));
        std::size_t got = s.kind == Segment::Kind::kRaw
                              ? (ReadExact(*s.blob, pos, buf.data(), want), want)
                              : ReadBase64(*s.blob, s.size, pos, buf.data(), want);
        if (got != want) {
          throw Error(Errc::kCorrupt, "attachment is shorter than its stated size");
        }
        sha.Update(std::string_view(buf.data(), got));
        pos += got;
      }
    }
  }
  return "=_mailfs_" + HexLower(sha.Finish()).substr(0, 24);
}

// Renders |part| (header fields for it, empty line, body) into |out|. The
// caller has already written |leading_fields| (message headers) if any.
void RenderPart(const Part& part,
                int depth,
                Context& ctx,
                std::string_view leading_fields,
                Builder& out) {
  if (part.IsMultipart()) {
    int number = ctx.next_boundary++;
    std::vector<Builder> children(part.parts.size());
    for (std::size_t i = 0; i < part.parts.size(); ++i) {
      RenderPart(part.parts[i], depth + 1, ctx, "", children[i]);
    }
    Builder all;
    for (const Builder& c : children) {
      all.Append(c);
    }
    std::string boundary = ctx.options.boundary_style == BoundaryStyle::kPrefix
                               ? ctx.options.boundary_prefix + "_" + std::to_string(number)
                               : HashBoundary(depth, children);
    while (Occurs(all, boundary)) {
      boundary += "_x";
    }
    out.Add(leading_fields);
    out.Add(ContentTypeField(part, boundary));
    out.Add(TrailingPartFields(part, "", ctx.options));
    out.Add("\r\n");
    for (std::size_t i = 0; i < children.size(); ++i) {
      out.Add(i == 0 ? "--" : "\r\n--");
      out.Add(boundary);
      out.Add("\r\n");
      out.Append(children[i]);
    }
    out.Add(children.empty() ? "--" : "\r\n--");
    out.Add(boundary);
    out.Add("--");
    return;
  }

  if (part.type == "message" && part.subtype == "rfc822") {
    Builder inner;
    if (part.message) {
      RenderMessageInto(*part.message, depth + 1, ctx, inner);
    } else {
      inner.AddRaw(part.body);
    }
    out.Add(leading_fields);
    out.Add(ContentTypeField(part, ""));
    out.Add(TrailingPartFields(part, IsAsciiContent(inner) ? "7bit" : "8bit", ctx.options));
    out.Add("\r\n");
    out.Append(inner);
    return;
  }

  if (part.IsText() && !part.keep_bytes) {
    std::string text = NormalizeLineEnds(part.body ? ReadAll(*part.body) : std::string());
    bool seven = Is7bit(text);
    out.Add(leading_fields);
    out.Add(ContentTypeField(part, ""));
    out.Add(TrailingPartFields(part, seven ? "7bit" : "quoted-printable", ctx.options));
    out.Add("\r\n");
    out.Add(seven ? text : EncodeQuotedPrintable(text));
    return;
  }

  // Any other leaf, and kept bytes: base64 over the Blob, never read here.
  out.Add(leading_fields);
  out.Add(ContentTypeField(part, ""));
  out.Add(TrailingPartFields(part, "base64", ctx.options));
  out.Add("\r\n");
  out.AddBase64(part.body);
}

void RenderMessageInto(const Message& message, int depth, Context& ctx, Builder& out) {
  std::string h;
  h += RenderAddressField("From", message.from);
  h += RenderAddressField("Sender", message.sender);
  h += RenderAddressField("Reply-To", message.reply_to);
  h += RenderAddressField("To", message.to);
  h += RenderAddressField("Cc", message.cc);
  h += RenderAddressField("Bcc", message.bcc);
  if (message.subject && !message.subject->empty()) {
    h += RenderUnstructuredField("Subject", *message.subject);
  }
  if (message.date) {
    h += "Date: " + FormatDate(*message.date) + "\r\n";
  }
  if (!message.message_id.empty()) {
    h += RenderTokenField("Message-ID", "<" + message.message_id + ">");
  }
  h += RenderTokenField("In-Reply-To", message.in_reply_to);
  h += RenderTokenField("References", message.references);
  if (ctx.options.keep_extra_headers) {
    for (const Header& x : message.extra_headers) {
      if (!x.name.empty() && !IsReservedHeader(x.name)) {
        h += RenderUnstructuredField(x.name, x.value);
      }
    }
  }
  h += "MIME-Version: 1.0\r\n";
  RenderPart(message.body, depth, ctx, h, out);
}

}  // namespace

// Quoted-printable (RFC 2045 §6.7) of CRLF-normalised text: lines of at most
// 76 characters with soft breaks, "=" always encoded, whitespace before a
// line end (or the end of the text) encoded.
std::string EncodeQuotedPrintable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  // Worst case: every byte as "=XX", plus a soft break per 25 of them.
  std::string out(text.size() * 3 + (text.size() / 24 + 2) * 3, '\0');
  char* p = out.data();
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t eol = text.find("\r\n", start);
    bool has_eol = eol != std::string_view::npos;
    std::size_t end = has_eol ? eol : text.size();
    std::size_t column = 0;
    for (std::size_t i = start; i < end; ++i) {
      auto c = static_cast<unsigned char>(text[i]);
      // Fast path: a printable byte that is neither the line's last nor at
      // the soft-break column is copied as it is.
      if (c >= 33 && c <= 126 && c != '=' && i + 1 < end && column + 1 < kQpLine) {
        *p++ = static_cast<char>(c);
        ++column;
        continue;
      }
      bool last = i + 1 == end;
      bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last);
      std::size_t len = literal ? 1 : 3;
      // A soft break "=" needs one column, except after the line's last token.
      std::size_t limit = last ? kQpLine : kQpLine - 1;
      if (column + len > limit) {
        *p++ = '=';
        *p++ = '\r';
        *p++ = '\n';
        column = 0;
      }
      if (literal) {
        *p++ = static_cast<char>(c);
      } else {
        *p++ = '=';
        *p++ = kHex[c >> 4];
        *p++ = kHex[c & 15];
      }
      column += len;
    }
    if (!has_eol) {
      break;
    }
    *p++ = '\r';
    *p++ = '\n';
    start = eol + 2;
  }
  out.resize(static_cast<std::size_t>(p - out.data()));
  return out;
}

BlobPtr Render(const Message& message, const RenderOptions& options) {
  Context ctx{options};
  Builder out;
  RenderMessageInto(message, 0, ctx, out);
  if (message.body.IsMultipart()) {
    out.Add("\r\n");
  }
  return std::make_shared<SegmentBlob>(out.Take());
}

std::string RenderToString(const Message& message, const RenderOptions& options) {
  return ReadAll(*Render(message, options));
}

bool IsRenderedField(std::string_view name) { return IsReservedHeader(name); }

}  // namespace mailfs::mime
