#include "backends/blob.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "backends/error.h"

namespace mailfs {

std::size_t StringBlob::ReadAt(std::uint64_t offset, char* buf, std::size_t n) const {
  if (offset >= data_.size()) return 0;
  std::size_t count = std::min<std::uint64_t>(n, data_.size() - offset);
  std::memcpy(buf, data_.data() + offset, count);
  return count;
}

std::size_t FileRangeBlob::ReadAt(std::uint64_t offset, char* buf, std::size_t n) const {
  if (offset >= size_) return 0;
  std::size_t count = std::min<std::uint64_t>(n, size_ - offset);
  std::size_t got = PreadFull(fd_, buf, count, offset_ + offset, name_);
  if (got != count) {
    throw Error(Errc::kIo, name_ + ": file shrank while being read (offset " +
                               std::to_string(offset_ + offset + got) + ")");
  }
  return got;
}

BlobPtr MakeStringBlob(std::string data) { return std::make_shared<StringBlob>(std::move(data)); }

std::string ReadAll(const Blob& blob) {
  std::string out(blob.Size(), '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    std::size_t got = blob.ReadAt(done, out.data() + done, out.size() - done);
    if (got == 0) throw Error(Errc::kIo, "short read of message content");
    done += got;
  }
  return out;
}

std::size_t PreadFull(int fd, char* buf, std::size_t n, std::uint64_t offset, std::string_view what) {
  std::size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, buf + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      ThrowErrno(Errc::kIo, std::string("cannot read ") + std::string(what), errno);
    }
    if (r == 0) break;
    done += static_cast<std::size_t>(r);
  }
  return done;
}

}  // namespace mailfs
