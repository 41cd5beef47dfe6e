#include "backends/mime/packed_mime.h"

#include <zlib.h>

#include <algorithm>
#include <limits>
#include <unordered_map>

#include "backends/error.h"
#include "backends/mime/renderer.h"

namespace mailfs {
namespace {

constexpr std::string_view kRawMagic{"\0MZ1", 4};
constexpr std::string_view kSkeletonMagic{"\0MZ2", 4};
constexpr std::uint64_t kMaxSize = std::uint64_t{1} << 34;
// Sections decoding to fewer bytes are left in the skeleton: a reference
// costs 22 bytes and the lookup is not worth it.
constexpr std::size_t kMinPart = 64;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

[[noreturn]] void Damaged(const std::string& what) { throw Error(Errc::kCorrupt, "original message bytes: " + what); }

void PutLe(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::uint64_t GetLe(std::string_view in, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(in[at + static_cast<std::size_t>(i)]);
  return v;
}

std::uint32_t Crc32(std::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  constexpr std::size_t kChunk = std::size_t{1} << 30;
  for (std::size_t at = 0; at < bytes.size(); at += kChunk) {
    std::size_t n = std::min(kChunk, bytes.size() - at);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + at), static_cast<uInt>(n));
  }
  return static_cast<std::uint32_t>(crc);
}

std::string Deflate(std::string_view bytes, std::string prefix) {
  uLongf bound = compressBound(static_cast<uLong>(bytes.size()));
  std::size_t head = prefix.size();
  prefix.resize(head + bound);
  if (compress2(reinterpret_cast<Bytef*>(prefix.data() + head), &bound, reinterpret_cast<const Bytef*>(bytes.data()),
                static_cast<uLong>(bytes.size()), 6) != Z_OK) {
    throw Error(Errc::kNoSpace, "cannot compress the original message bytes");
  }
  prefix.resize(head + bound);
  return prefix;
}

std::string Inflate(std::string_view z, std::uint64_t size) {
  std::string out(size, '\0');
  uLongf got = static_cast<uLongf>(size);
  int rc = uncompress(reinterpret_cast<Bytef*>(out.data()), &got, reinterpret_cast<const Bytef*>(z.data()),
                      static_cast<uLong>(z.size()));
  if (rc != Z_OK || got != size) Damaged("damaged compressed data");
  return out;
}

// Inflates a stream of unknown size (the skeleton), at most |limit| bytes.
std::string InflateAll(std::string_view z, std::uint64_t limit) {
  z_stream s{};
  if (inflateInit(&s) != Z_OK) throw Error(Errc::kNoSpace, "cannot inflate the original message bytes");
  std::string out;
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(z.data()));
  s.avail_in = static_cast<uInt>(z.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    std::size_t have = out.size();
    out.resize(have + 65536);
    s.next_out = reinterpret_cast<Bytef*>(out.data() + have);
    s.avail_out = 65536;
    rc = inflate(&s, Z_NO_FLUSH);
    out.resize(have + 65536 - s.avail_out);
    if (out.size() > limit) rc = Z_DATA_ERROR;
    if (rc == Z_OK && s.avail_in == 0 && s.avail_out != 0) rc = Z_DATA_ERROR;  // stream cut short
  }
  bool whole = rc == Z_STREAM_END && s.avail_in == 0;
  inflateEnd(&s);
  if (!whole) Damaged("damaged compressed skeleton");
  return out;
}

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
         c == '=';
}

struct Line {
  std::size_t begin = 0;
  std::size_t content_end = 0;
  std::size_t end = 0;  // after the line end
  int eol = 0;          // 0 none, 1 LF, 2 CRLF
};

// A base64 section: whole lines [begin, end) of one width and line end.
struct Section {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::uint64_t decoded = 0;
  std::uint32_t width = 0;
  std::uint8_t layout = 0;
};

// Checks that lines[first..last] form one base64 body as an encoder writes
// it, and describes it.
bool AsSection(std::string_view bytes, const std::vector<Line>& lines, std::size_t first, std::size_t last,
               Section& out) {
  std::size_t width = lines[first].content_end - lines[first].begin;
  std::size_t chars = 0;
  for (std::size_t i = first; i <= last; ++i) {
    std::size_t len = lines[i].content_end - lines[i].begin;
    if (i < last && len != width) return false;
    if (i == last && (len == 0 || len > width)) return false;
    chars += len;
  }
  if (width % 4 != 0 || chars % 4 != 0) return false;
  // '=' only as the last one or two characters of the section.
  std::size_t pad = 0;
  std::string_view tail = bytes.substr(lines[last].begin, lines[last].content_end - lines[last].begin);
  while (pad < 2 && pad < tail.size() && tail[tail.size() - 1 - pad] == '=') ++pad;
  for (std::size_t i = first; i <= last; ++i) {
    std::string_view text = bytes.substr(lines[i].begin, lines[i].content_end - lines[i].begin);
    std::size_t stop = i == last ? text.size() - pad : text.size();
    if (text.substr(0, stop).find('=') != std::string_view::npos) return false;
  }
  if (width > std::numeric_limits<std::uint32_t>::max()) return false;
  out.begin = lines[first].begin;
  out.end = lines[last].end;
  out.decoded = chars / 4 * 3 - pad;
  out.width = static_cast<std::uint32_t>(width);
  out.layout = static_cast<std::uint8_t>((lines[first].eol == 2 ? 1 : 0) | (lines[last].eol == 0 ? 2 : 0));
  return true;
}

std::string_view EolOf(std::uint8_t layout) { return (layout & 1) != 0 ? "\r\n" : "\n"; }

// Every candidate section of |bytes|: maximal runs of non-empty lines made
// only of base64 characters, sharing one line end.
std::vector<Section> FindSections(std::string_view bytes) {
  std::vector<Line> lines;
  for (std::size_t at = 0; at < bytes.size();) {
    Line l;
    l.begin = at;
    std::size_t nl = bytes.find('\n', at);
    if (nl == std::string_view::npos) {
      l.content_end = l.end = bytes.size();
    } else {
      l.end = nl + 1;
      l.eol = nl > at && bytes[nl - 1] == '\r' ? 2 : 1;
      l.content_end = l.eol == 2 ? nl - 1 : nl;
    }
    lines.push_back(l);
    at = l.end;
  }
  auto candidate = [&](const Line& l) {
    if (l.content_end == l.begin) return false;
    for (std::size_t i = l.begin; i < l.content_end; ++i) {
      if (!IsBase64Char(bytes[i])) return false;
    }
    return true;
  };
  std::vector<Section> out;
  for (std::size_t i = 0; i < lines.size();) {
    if (!candidate(lines[i])) {
      ++i;
      continue;
    }
    std::size_t last = i;
    while (last + 1 < lines.size() && lines[last].eol != 0 && candidate(lines[last + 1]) &&
           (lines[last + 1].eol == lines[i].eol || lines[last + 1].eol == 0)) {
      ++last;
    }
    Section s;
    if (AsSection(bytes, lines, i, last, s) && s.decoded >= kMinPart) out.push_back(s);
    i = last + 1;
  }
  return out;
}

}  // namespace

std::string Base64Lines(std::string_view bytes, std::size_t width, std::string_view eol, bool final_eol) {
  std::size_t chars = (bytes.size() + 2) / 3 * 4;
  if (width == 0) width = std::max<std::size_t>(chars, 1);
  std::string out;
  out.reserve(chars + (chars / width + 1) * eol.size());
  std::size_t col = 0;
  auto put = [&](char c) {
    out.push_back(c);
    if (++col == width) {
      out.append(eol);
      col = 0;
    }
  };
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                      static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                      static_cast<unsigned char>(bytes[i + 2]);
    put(kAlphabet[v >> 18]);
    put(kAlphabet[(v >> 12) & 63]);
    put(kAlphabet[(v >> 6) & 63]);
    put(kAlphabet[v & 63]);
  }
  if (i < bytes.size()) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    bool two = i + 1 < bytes.size();
    if (two) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    put(kAlphabet[v >> 18]);
    put(kAlphabet[(v >> 12) & 63]);
    put(two ? kAlphabet[(v >> 6) & 63] : '=');
    put('=');
  }
  if (col != 0) out.append(eol);
  // Every line now ends in |eol|; drop the last one when the original had none.
  if (!final_eol && !out.empty() && out.size() >= eol.size()) out.resize(out.size() - eol.size());
  return out;
}

namespace {

// A section chosen for a reference, and its record.
struct Chosen {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string record;
};

std::string LfLineEnds(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out.push_back(text[i]);
  }
  return out;
}

std::string TextForm(std::string_view text, std::uint8_t form) {
  if (form == 1) return LfLineEnds(text);
  if (form == 2) return mime::EncodeQuotedPrintable(text);
  return std::string(text);
}

// Where a MIME body may start: after each empty line.
std::vector<std::size_t> BodyStarts(std::string_view bytes) {
  std::vector<std::size_t> out;
  for (std::size_t at = bytes.find('\n'); at != std::string_view::npos; at = bytes.find('\n', at + 1)) {
    std::size_t next = at + 1;
    if (next < bytes.size() && bytes[next] == '\n') out.push_back(next + 1);
    if (next + 1 < bytes.size() && bytes[next] == '\r' && bytes[next + 1] == '\n') out.push_back(next + 2);
  }
  return out;
}

}  // namespace

std::string PackMime(std::string_view bytes, std::span<const StoredPart> parts) {
  std::string raw_prefix(kRawMagic);
  PutLe(raw_prefix, bytes.size(), 8);

  std::vector<Chosen> chosen;
  std::unordered_map<std::uint64_t, std::vector<const StoredPart*>> by_size;
  bool any_text = false;
  for (const StoredPart& part : parts) {
    if (part.bytes.size() < kMinPart) continue;
    by_size[part.bytes.size()].push_back(&part);
    any_text = any_text || part.text;
  }
  if (!by_size.empty()) {
    for (const Section& s : FindSections(bytes)) {
      auto it = by_size.find(s.decoded);
      if (it == by_size.end()) continue;
      std::string_view text = bytes.substr(s.begin, s.end - s.begin);
      for (const StoredPart* part : it->second) {
        if (Base64Lines(part->bytes, s.width, EolOf(s.layout), (s.layout & 2) == 0) != text) continue;
        Chosen c{s.begin, s.end, "B"};
        PutLe(c.record, part->number, 4);
        PutLe(c.record, s.decoded, 8);
        PutLe(c.record, s.width, 4);
        c.record.push_back(static_cast<char>(s.layout));
        chosen.push_back(std::move(c));
        break;
      }
    }
  }
  if (any_text) {
    std::vector<std::size_t> starts = BodyStarts(bytes);
    for (const StoredPart& part : parts) {
      if (!part.text || part.bytes.size() < kMinPart) continue;
      bool found = false;
      for (std::uint8_t form = 0; form < 3 && !found; ++form) {
        if (form == 1 && part.bytes.find("\r\n") == std::string_view::npos) continue;
        std::string encoded = TextForm(part.bytes, form);
        if (form == 2 && encoded == part.bytes) continue;
        for (std::size_t at : starts) {
          if (bytes.size() - at < encoded.size() || bytes.compare(at, encoded.size(), encoded) != 0) continue;
          Chosen c{at, at + encoded.size(), "T"};
          PutLe(c.record, part.number, 4);
          PutLe(c.record, part.bytes.size(), 8);
          PutLe(c.record, encoded.size(), 8);
          c.record.push_back(static_cast<char>(form));
          chosen.push_back(std::move(c));
          found = true;
          break;
        }
      }
    }
  }
  std::sort(chosen.begin(), chosen.end(), [](const Chosen& a, const Chosen& b) { return a.begin < b.begin; });

  std::string skeleton;
  std::size_t copied = 0;
  bool referenced = false;
  auto literal = [&](std::size_t end) {
    while (copied < end) {
      std::size_t n = std::min<std::size_t>(end - copied, std::numeric_limits<std::uint32_t>::max());
      skeleton.push_back('L');
      PutLe(skeleton, n, 4);
      skeleton.append(bytes.substr(copied, n));
      copied += n;
    }
  };
  for (const Chosen& c : chosen) {
    if (c.begin < copied) continue;  // overlaps one taken before
    literal(c.begin);
    skeleton += c.record;
    copied = c.end;
    referenced = true;
  }
  if (!referenced) return Deflate(bytes, std::move(raw_prefix));
  literal(bytes.size());
  skeleton.push_back('E');
  std::string prefix(kSkeletonMagic);
  PutLe(prefix, bytes.size(), 8);
  PutLe(prefix, Crc32(bytes), 4);
  std::string packed = Deflate(skeleton, std::move(prefix));
  // The packer's own proof: the value expands to exactly |bytes|.
  bool same = false;
  try {
    same = PackedMime(packed).Matches(bytes, [&](std::uint32_t n) {
      for (const StoredPart& part : parts) {
        if (part.number == n) return part.bytes;
      }
      throw Error(Errc::kCorrupt, "no part " + std::to_string(n));
    });
  } catch (const Error&) {
    same = false;
  }
  return same ? packed : Deflate(bytes, std::move(raw_prefix));
}

PackedMime::PackedMime(std::string_view stored) {
  bool raw = stored.substr(0, kRawMagic.size()) == kRawMagic;
  bool skeleton = stored.substr(0, kSkeletonMagic.size()) == kSkeletonMagic;
  if (!raw && !skeleton) {
    // No message starts with NUL: a value that does is a damaged or unknown form.
    if (!stored.empty() && stored[0] == '\0') Damaged("unknown form");
    size_ = stored.size();
    skeleton_ = std::string(stored);
    records_.push_back(Record{true, 0, skeleton_.size()});
    return;
  }
  std::size_t header = skeleton ? 16 : 12;
  if (stored.size() < header) Damaged("truncated header");
  size_ = GetLe(stored, 4, 8);
  if (size_ > kMaxSize) Damaged("implausible size");
  if (raw) {
    skeleton_ = Inflate(stored.substr(header), size_);
    records_.push_back(Record{true, 0, skeleton_.size()});
    return;
  }
  checked_ = true;
  crc_ = static_cast<std::uint32_t>(GetLe(stored, 12, 4));
  skeleton_ = InflateAll(stored.substr(header), size_ + 64 * 1024 * 1024);
  std::string_view s = skeleton_;
  std::size_t at = 0;
  std::uint64_t total = 0;
  auto need = [&](std::size_t n) {
    if (s.size() - at < n) Damaged("skeleton cut short at byte " + std::to_string(at));
  };
  for (;;) {
    need(1);
    char tag = s[at++];
    if (tag == 'E') break;
    Record r;
    if (tag == 'L') {
      need(4);
      std::size_t len = GetLe(s, at, 4);
      at += 4;
      need(len);
      r.offset = at;
      r.length = len;
      at += len;
      total += len;
    } else if (tag == 'B') {
      need(17);
      r.literal = false;
      r.kind = 'B';
      r.part = static_cast<std::uint32_t>(GetLe(s, at, 4));
      r.decoded_size = GetLe(s, at + 4, 8);
      r.width = static_cast<std::uint32_t>(GetLe(s, at + 12, 4));
      r.layout = static_cast<std::uint8_t>(s[at + 16]);
      at += 17;
      if (r.width == 0 || r.width % 4 != 0 || r.layout > 3 || r.decoded_size == 0 || r.decoded_size > kMaxSize) {
        Damaged("bad part reference at byte " + std::to_string(at - 17));
      }
      std::uint64_t chars = (r.decoded_size + 2) / 3 * 4;
      std::uint64_t lines = (chars + r.width - 1) / r.width;
      total += chars + lines * ((r.layout & 1) != 0 ? 2 : 1) - ((r.layout & 2) != 0 ? ((r.layout & 1) != 0 ? 2 : 1) : 0);
      references_.push_back(r.part);
    } else if (tag == 'T') {
      need(21);
      r.literal = false;
      r.kind = 'T';
      r.part = static_cast<std::uint32_t>(GetLe(s, at, 4));
      r.decoded_size = GetLe(s, at + 4, 8);
      r.encoded_size = GetLe(s, at + 12, 8);
      r.layout = static_cast<std::uint8_t>(s[at + 20]);
      at += 21;
      if (r.layout > 2 || r.decoded_size > kMaxSize || r.encoded_size > kMaxSize) {
        Damaged("bad text reference at byte " + std::to_string(at - 21));
      }
      total += r.encoded_size;
      references_.push_back(r.part);
    } else {
      Damaged("unknown skeleton record at byte " + std::to_string(at - 1));
    }
    records_.push_back(r);
  }
  if (at != s.size()) Damaged("bytes after the end of the skeleton");
  if (total != size_) Damaged("skeleton does not add up to the recorded size");
}

std::string_view PackedMime::Head() const {
  if (records_.empty() || !records_.front().literal) return {};
  return Text(records_.front());
}

bool PackedMime::Matches(std::string_view bytes,
                         const std::function<std::string_view(std::uint32_t)>& part) const {
  if (bytes.size() != size_) return false;
  std::size_t at = 0;
  for (const Record& r : records_) {
    std::string encoded;
    std::string_view piece;
    if (r.literal) {
      piece = Text(r);
    } else {
      std::string_view stored = part(r.part);
      if (stored.size() != r.decoded_size) return false;
      encoded = r.kind == 'B' ? Base64Lines(stored, r.width, EolOf(r.layout), (r.layout & 2) == 0)
                              : TextForm(stored, r.layout);
      piece = encoded;
    }
    if (bytes.size() - at < piece.size() || bytes.compare(at, piece.size(), piece) != 0) return false;
    at += piece.size();
  }
  return at == bytes.size() && (!checked_ || Crc32(bytes) == crc_);
}

std::string PackedMime::Expand(const std::function<std::string(std::uint32_t)>& part) const {
  if (records_.size() == 1 && records_.front().literal && !checked_) return skeleton_;
  std::string out;
  out.reserve(size_);
  for (const Record& r : records_) {
    if (r.literal) {
      out.append(Text(r));
      continue;
    }
    if (!part) Damaged("part " + std::to_string(r.part) + " needed but not available");
    std::string bytes = part(r.part);
    if (bytes.size() != r.decoded_size) {
      Damaged("part " + std::to_string(r.part) + " holds " + std::to_string(bytes.size()) + " bytes, " +
              std::to_string(r.decoded_size) + " expected");
    }
    if (r.kind == 'B') {
      out += Base64Lines(bytes, r.width, EolOf(r.layout), (r.layout & 2) == 0);
      continue;
    }
    std::string text = TextForm(bytes, r.layout);
    if (text.size() != r.encoded_size) {
      Damaged("part " + std::to_string(r.part) + " encodes to " + std::to_string(text.size()) + " bytes, " +
              std::to_string(r.encoded_size) + " expected");
    }
    out += text;
  }
  if (out.size() != size_) Damaged("expanded to " + std::to_string(out.size()) + " bytes, " + std::to_string(size_) + " expected");
  if (checked_ && Crc32(out) != crc_) Damaged("checksum mismatch after expanding");
  return out;
}

}  // namespace mailfs
