// SHA-256 helpers (OpenSSL's libcrypto: audited, fast, already on every Debian).
#pragma once

#include <string>
#include <string_view>

#include "backends/blob.h"

namespace mailfs {

// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view data);
  // Raw 32-byte digest; the object must not be used afterwards.
  std::string Finish();

 private:
  void* ctx_;
};

// Lowercase hex of SHA-256(data).
std::string Sha256Hex(std::string_view data);
// Lowercase hex of SHA-256 over a whole Blob, streamed in 1 MiB reads.
std::string Sha256HexOfBlob(const Blob& blob);
std::string HexLower(std::string_view bytes);

}  // namespace mailfs
