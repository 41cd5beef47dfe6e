#include "fs/staging.h"

#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <set>
#include <vector>

#include "backends/error.h"
#include "backends/mime/header_decode.h"
#include "backends/sha256.h"

namespace mailfs::fs {

namespace {

// Files of released staging files, emptied and kept for the next ones:
// emptying a file costs less than making one (up to a millisecond on a busy
// ext4), and a copy into the mount stages every message it writes.
constexpr std::size_t kSparesMax = 8;
std::mutex spares_mu;
std::vector<std::pair<std::string, int>>& Spares() {
  static auto* spares = new std::vector<std::pair<std::string, int>>;  // outlives every StagingFile
  return *spares;
}

}  // namespace

StagingFile::StagingFile(const std::string& dir) : dir_(dir) {
  {
    std::lock_guard<std::mutex> lock(spares_mu);
    auto& spares = Spares();
    for (auto it = spares.begin(); it != spares.end(); ++it) {
      if (it->first == dir) {
        fd_ = it->second;
        spares.erase(it);
        return;
      }
    }
  }
  fd_ = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    // Some file systems lack O_TMPFILE: create and unlink at once.
    std::string templ = dir + "/stage-XXXXXX";
    fd_ = ::mkostemp(templ.data(), O_CLOEXEC);
    if (fd_ < 0) ThrowErrno(errno == ENOSPC ? Errc::kNoSpace : Errc::kIo, "cannot create staging file in " + dir, errno);
    ::unlink(templ.c_str());
  }
}

StagingFile::~StagingFile() {
  if (fd_ < 0) return;
  if (::ftruncate(fd_, 0) == 0) {
    std::lock_guard<std::mutex> lock(spares_mu);
    if (Spares().size() < kSparesMax) {
      Spares().emplace_back(dir_, fd_);
      return;
    }
  }
  ::close(fd_);
}

std::uint64_t StagingFile::Size() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) ThrowErrno(Errc::kIo, "cannot stat staging file", errno);
  return static_cast<std::uint64_t>(st.st_size);
}

std::size_t StagingFile::ReadAt(std::uint64_t offset, char* buf, std::size_t n) const {
  return PreadFull(fd_, buf, n, offset, "staging file");
}

void StagingFile::WriteAt(std::uint64_t offset, const char* data, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    ssize_t w = ::pwrite(fd_, data + done, n - done, static_cast<off_t>(offset + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      ThrowErrno(errno == ENOSPC || errno == EDQUOT ? Errc::kNoSpace : Errc::kIo, "cannot write staging file",
                 errno);
    }
    done += static_cast<std::size_t>(w);
  }
}

void StagingFile::Truncate(std::uint64_t size) {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) ThrowErrno(Errc::kIo, "cannot truncate staging file", errno);
}

namespace {

// True if |line| (no line end) is a header field or the start of one.
bool LooksLikeField(std::string_view line) {
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  for (std::size_t i = 0; i < colon; ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if (c <= 32 || c >= 127) return false;
  }
  return true;
}

// The boundary parameter of a Content-Type value, if it is a multipart.
std::optional<std::string> MultipartBoundary(std::string_view value) {
  std::string lower;
  for (char c : value) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  std::size_t start = lower.find_first_not_of(" \t");
  if (start == std::string::npos || lower.compare(start, 10, "multipart/") != 0) return std::nullopt;
  std::size_t pos = lower.find("boundary");
  while (pos != std::string::npos) {
    std::size_t eq = pos + 8;
    while (eq < lower.size() && (lower[eq] == ' ' || lower[eq] == '\t')) ++eq;
    if (eq < lower.size() && lower[eq] == '=' && (pos == 0 || lower[pos - 1] == ';' || lower[pos - 1] == ' ' ||
                                                   lower[pos - 1] == '\t')) {
      std::size_t v = eq + 1;
      while (v < value.size() && (value[v] == ' ' || value[v] == '\t')) ++v;
      std::string b;
      if (v < value.size() && value[v] == '"') {
        for (++v; v < value.size() && value[v] != '"'; ++v) {
          if (value[v] == '\\' && v + 1 < value.size()) ++v;
          b.push_back(value[v]);
        }
      } else {
        while (v < value.size() && value[v] != ';' && value[v] != ' ' && value[v] != '\t' && value[v] != '\r' &&
               value[v] != '\n') {
          b.push_back(value[v++]);
        }
      }
      if (!b.empty()) return b;
    }
    pos = lower.find("boundary", pos + 8);
  }
  return std::nullopt;
}

// Streams |blob| line by line (LF-terminated; the last line may lack one).
template <typename F>
void ForEachLine(const Blob& blob, F&& fn) {
  std::vector<char> buf(1 << 20);
  std::string carry;
  std::uint64_t off = 0;
  for (;;) {
    std::size_t got = blob.ReadAt(off, buf.data(), buf.size());
    if (got == 0) break;
    off += got;
    std::size_t start = 0;
    for (std::size_t i = 0; i < got; ++i) {
      if (buf[i] == '\n') {
        if (carry.empty()) {
          fn(std::string_view(buf.data() + start, i + 1 - start), true);
        } else {
          carry.append(buf.data() + start, i + 1 - start);
          fn(std::string_view(carry), true);
          carry.clear();
        }
        start = i + 1;
      }
    }
    carry.append(buf.data() + start, got - start);
  }
  if (!carry.empty()) fn(std::string_view(carry), false);
}

}  // namespace

PreparedMessage PrepareForCommit(const BlobPtr& staged, const std::string& dir, bool accept_incomplete) {
  // One pass: header checks, separator, multipart boundaries, line ends.
  bool in_headers = true;
  bool saw_separator = false;
  bool first_line = true;
  bool needs_normalising = false;
  std::string header_block;
  std::string part_headers;  // headers of the current part (for nested multiparts)
  bool in_part_headers = false;
  std::set<std::string> open_boundaries;
  std::set<std::string> closed_boundaries;
  std::string current_field;  // top-level: to find Content-Type (unfolded later)
  std::string invalid_reason;

  auto note_content_type = [&](std::string_view block) {
    if (auto ct = mime::FirstHeader(block, "Content-Type")) {
      if (auto b = MultipartBoundary(*ct)) open_boundaries.insert(*b);
    }
  };

  ForEachLine(*staged, [&](std::string_view line, bool has_lf) {
    std::string_view body = line;
    if (has_lf) body.remove_suffix(1);
    bool crlf = !body.empty() && body.back() == '\r';
    if (crlf) body.remove_suffix(1);
    if (has_lf && !crlf) needs_normalising = true;
    if (body.find('\r') != std::string_view::npos) needs_normalising = true;
    if (in_headers) {
      if (body.empty() && has_lf) {
        in_headers = false;
        saw_separator = true;
        note_content_type(header_block);
        return;
      }
      if (first_line ? !LooksLikeField(body)
                     : !(LooksLikeField(body) || (!body.empty() && (body[0] == ' ' || body[0] == '\t')))) {
        if (invalid_reason.empty()) {
          invalid_reason = first_line ? "it does not start with a header field"
                                      : "a header line is neither a field nor a continuation";
        }
      }
      // "BEGIN:VCARD", "BEGIN:VCALENDAR": a contact or calendar file (an
      // extract's address book, say) looks like header fields but is no
      // message; said as such rather than as an incomplete one.
      if (first_line && body.size() >= 6 && ::strncasecmp(body.data(), "BEGIN:", 6) == 0) {
        invalid_reason = "it is a vCard or iCalendar object (" + std::string(body.substr(0, 64)) + "), not a message";
      }
      first_line = false;
      header_block.append(body);
      header_block.append("\r\n");
      return;
    }
    if (in_part_headers) {
      if (body.empty()) {
        in_part_headers = false;
        note_content_type(part_headers);
        part_headers.clear();
      } else {
        part_headers.append(body);
        part_headers.append("\r\n");
      }
      return;
    }
    if (body.size() > 2 && body[0] == '-' && body[1] == '-' && !open_boundaries.empty()) {
      std::string_view rest = body.substr(2);
      while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
      for (const auto& b : open_boundaries) {
        if (rest == b) {
          in_part_headers = true;
          part_headers.clear();
          break;
        }
        if (rest.size() == b.size() + 2 && rest.substr(0, b.size()) == b && rest.substr(b.size()) == "--") {
          closed_boundaries.insert(b);
          break;
        }
      }
    }
  });

  if (!invalid_reason.empty() && !accept_incomplete) {
    throw Error(Errc::kInvalid, "not an RFC 5322 message, not stored: " + invalid_reason);
  }
  if (!accept_incomplete) {
    if (!saw_separator) throw Error(Errc::kIo, "incomplete message, not stored: no header/body separator");
    for (const auto& b : open_boundaries) {
      if (closed_boundaries.count(b) == 0) {
        throw Error(Errc::kIo, "incomplete message, not stored: multipart boundary \"" + b + "\" is never closed");
      }
    }
  }

  PreparedMessage out;
  out.header_block = header_block;
  if (!needs_normalising) {
    out.content = staged;
    out.sha256_hex = Sha256HexOfBlob(*staged);
    return out;
  }
  auto normal = std::make_shared<StagingFile>(dir);
  Sha256 hash;
  std::string chunk;
  std::uint64_t woff = 0;
  auto flush_chunk = [&]() {
    normal->WriteAt(woff, chunk.data(), chunk.size());
    hash.Update(chunk);
    woff += chunk.size();
    chunk.clear();
  };
  ForEachLine(*staged, [&](std::string_view line, bool has_lf) {
    std::string_view body = line;
    if (has_lf) body.remove_suffix(1);
    if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
    // A bare CR inside a line is a line end too.
    std::size_t start = 0;
    for (std::size_t i = 0; i < body.size(); ++i) {
      if (body[i] == '\r') {
        chunk.append(body.substr(start, i - start));
        chunk.append("\r\n");
        start = i + 1;
      }
    }
    chunk.append(body.substr(start));
    if (has_lf) chunk.append("\r\n");
    if (chunk.size() >= (1 << 20)) flush_chunk();
  });
  flush_chunk();
  out.sha256_hex = HexLower(hash.Finish());
  out.content = normal;
  return out;
}

}  // namespace mailfs::fs
