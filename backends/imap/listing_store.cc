#include "backends/imap/listing_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "backends/log.h"

namespace mailfs::imap {
namespace {

constexpr const char kMagic[] = "mailfs-imap-listing 1\n";

// Reads one '\n'-terminated line from |data| at |pos|.
bool NextLine(const std::string& data, std::size_t& pos, std::string& line) {
  std::size_t nl = data.find('\n', pos);
  if (nl == std::string::npos) return false;
  line.assign(data, pos, nl - pos);
  pos = nl + 1;
  return true;
}

// A decimal number at |pos| of |line|, then one space or the end; false if
// there is none (or it overflows T).
template <typename T>
bool ParseNumber(std::string_view line, std::size_t& pos, T& out) {
  const char* begin = line.data() + pos;
  const char* end = line.data() + line.size();
  auto [ptr, ec] = std::from_chars(begin, end, out);
  if (ec != std::errc() || ptr == begin) return false;
  pos = static_cast<std::size_t>(ptr - line.data());
  if (pos < line.size()) {
    if (line[pos] != ' ') return false;
    ++pos;
  }
  return true;
}

}  // namespace

std::string SerializeListing(const CachedListing& listing) {
  std::string out = kMagic;
  out += std::to_string(listing.uidvalidity) + " " + std::to_string(listing.uidnext) + " " +
         std::to_string(listing.highestmodseq) + " " + std::to_string(listing.messages.size()) + "\n";
  for (const CachedMessage& m : listing.messages) {
    out += std::to_string(m.uid) + " " + std::to_string(m.internal_date) + " " + std::to_string(m.size) + " " +
           std::to_string(m.headers.size());
    for (const std::string& f : m.flags) out += " " + f;
    out += "\n";
    out += m.headers;
    out += "\n";
  }
  return out;
}

std::optional<CachedListing> ParseListing(const std::string& data) {
  if (data.compare(0, sizeof(kMagic) - 1, kMagic) != 0) return std::nullopt;
  std::size_t pos = sizeof(kMagic) - 1;
  std::string line;
  if (!NextLine(data, pos, line)) return std::nullopt;
  CachedListing listing;
  std::size_t count = 0;
  {
    std::size_t p = 0;
    if (!ParseNumber(line, p, listing.uidvalidity) || !ParseNumber(line, p, listing.uidnext) ||
        !ParseNumber(line, p, listing.highestmodseq) || !ParseNumber(line, p, count)) {
      return std::nullopt;
    }
  }
  if (count > data.size()) return std::nullopt;
  listing.messages.reserve(count);
  std::uint32_t last_uid = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (!NextLine(data, pos, line)) return std::nullopt;
    CachedMessage m;
    std::size_t header_bytes = 0;
    std::size_t p = 0;
    if (!ParseNumber(line, p, m.uid) || !ParseNumber(line, p, m.internal_date) || !ParseNumber(line, p, m.size) ||
        !ParseNumber(line, p, header_bytes)) {
      return std::nullopt;
    }
    if (m.uid <= last_uid) return std::nullopt;
    last_uid = m.uid;
    while (p < line.size()) {
      std::size_t space = line.find(' ', p);
      if (space == std::string::npos) space = line.size();
      if (space > p) m.flags.emplace_back(line, p, space - p);
      p = space + 1;
    }
    if (header_bytes > data.size() - pos || data.size() - pos - header_bytes < 1) return std::nullopt;
    m.headers.assign(data, pos, header_bytes);
    pos += header_bytes;
    if (data[pos] != '\n') return std::nullopt;
    ++pos;
    listing.messages.push_back(std::move(m));
  }
  if (pos != data.size()) return std::nullopt;
  return listing;
}

std::optional<CachedListing> LoadListing(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string data;
  struct stat st;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) data.reserve(static_cast<std::size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      LOG(kWarning) << "cannot read the listing cache " << path << ": " << std::strerror(errno);
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  auto listing = ParseListing(data);
  if (!listing) LOG(kWarning) << "ignoring a damaged listing cache file " << path;
  return listing;
}

void SaveListing(const std::string& path, const CachedListing& listing) {
  std::string data = SerializeListing(listing);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    LOG(kWarning) << "cannot write the listing cache " << tmp << ": " << std::strerror(errno);
    return;
  }
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      LOG(kWarning) << "cannot write the listing cache " << tmp << ": " << std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return;
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    LOG(kWarning) << "cannot write the listing cache " << path << ": " << std::strerror(errno);
    ::unlink(tmp.c_str());
  }
}

}  // namespace mailfs::imap
