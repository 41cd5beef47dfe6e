#include "backends/sha256.h"

#include <openssl/evp.h>

#include <vector>

#include "backends/error.h"

namespace mailfs {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1) {
    throw Error(Errc::kIo, "SHA-256 initialisation failed");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::Update(std::string_view data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}

std::string Sha256::Finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string HexLower(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return HexLower(h.Finish());
}

std::string Sha256HexOfBlob(const Blob& blob) {
  Sha256 h;
  std::vector<char> buf(1 << 20);
  std::uint64_t off = 0;
  for (;;) {
    std::size_t got = blob.ReadAt(off, buf.data(), buf.size());
    if (got == 0) break;
    h.Update(std::string_view(buf.data(), got));
    off += got;
  }
  return HexLower(h.Finish());
}

}  // namespace mailfs
