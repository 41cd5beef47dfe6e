// Staging of written messages (design.md §6): every created or truncated
// message is written to an anonymous file under the cache directory, never
// held whole in memory, and checked before it is committed to the store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "backends/backend.h"
#include "backends/blob.h"

namespace mailfs::fs {

// An anonymous (already unlinked) temporary file in |dir|. Thread-compatible:
// Write/Truncate are serialised by the caller; ReadAt may run concurrently.
// A released one is emptied and its file kept for the next (a few at most).
class StagingFile final : public Blob {
 public:
  // Throws Error(kIo/kNoSpace) if the file cannot be made.
  explicit StagingFile(const std::string& dir);
  ~StagingFile() override;
  StagingFile(const StagingFile&) = delete;
  StagingFile& operator=(const StagingFile&) = delete;

  std::uint64_t Size() const override;
  std::size_t ReadAt(std::uint64_t offset, char* buf, std::size_t n) const override;
  // Writes at |offset|; throws Error(kNoSpace/kIo).
  void WriteAt(std::uint64_t offset, const char* data, std::size_t n);
  void Truncate(std::uint64_t size);
  int fd() const { return fd_; }

 private:
  std::string dir_;
  int fd_ = -1;
};

// What a commit stores: the checked, CRLF-normalised content and what the
// core needs to name it.
struct PreparedMessage {
  BlobPtr content;          // bytes to store (CRLF line ends)
  std::string header_block; // for naming
  std::string sha256_hex;   // of |content|
};

// Checks |staged| per design.md §6 and returns it ready to store: throws
// Error(kInvalid, ...) when it is not an RFC 5322 message, Error(kIo,
// "incomplete message, not stored: ...") when it has no header/body separator
// or an unclosed multipart (unless |accept_incomplete|). Bare LF (and bare CR)
// line ends become CRLF, written to a new staging file in |dir|.
PreparedMessage PrepareForCommit(const BlobPtr& staged, const std::string& dir, bool accept_incomplete);

}  // namespace mailfs::fs
