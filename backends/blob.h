// Blob: read-only random access to a byte sequence of known size — a message as
// served, an attachment inside an IFF secondary file, a staged write. Backends
// hand messages to fs/ as Blobs so that large messages are never held whole in
// memory unless the backend chooses to.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace mailfs {

class Blob {
 public:
  virtual ~Blob() = default;
  // Exact size in bytes. Never changes for a given Blob.
  virtual std::uint64_t Size() const = 0;
  // Copies up to |n| bytes starting at |offset| into |buf|; returns the count,
  // which is short only at the end. Throws Error (kIo, kCorrupt) on failure.
  // Safe to call concurrently from several threads.
  virtual std::size_t ReadAt(std::uint64_t offset, char* buf, std::size_t n) const = 0;
};

using BlobPtr = std::shared_ptr<const Blob>;

// A Blob over bytes in memory.
class StringBlob final : public Blob {
 public:
  explicit StringBlob(std::string data) : data_(std::move(data)) {}
  std::uint64_t Size() const override { return data_.size(); }
  std::size_t ReadAt(std::uint64_t offset, char* buf, std::size_t n) const override;
  const std::string& data() const { return data_; }

 private:
  std::string data_;
};

// A Blob over a byte range of a file opened by the caller. The fd is shared
// (pread only) and must outlive the Blob; |owner| keeps it alive if given.
class FileRangeBlob final : public Blob {
 public:
  FileRangeBlob(std::shared_ptr<const void> owner, int fd, std::uint64_t offset, std::uint64_t size,
                std::string name)
      : owner_(std::move(owner)), fd_(fd), offset_(offset), size_(size), name_(std::move(name)) {}
  std::uint64_t Size() const override { return size_; }
  std::size_t ReadAt(std::uint64_t offset, char* buf, std::size_t n) const override;

 private:
  std::shared_ptr<const void> owner_;
  int fd_;
  std::uint64_t offset_;
  std::uint64_t size_;
  std::string name_;  // for error messages
};

BlobPtr MakeStringBlob(std::string data);

// Reads a whole Blob into memory (callers use it only for bounded sizes).
std::string ReadAll(const Blob& blob);

// pread() until |n| bytes or EOF; throws Error(kIo) naming |what| on failure.
std::size_t PreadFull(int fd, char* buf, std::size_t n, std::uint64_t offset, std::string_view what);

}  // namespace mailfs
