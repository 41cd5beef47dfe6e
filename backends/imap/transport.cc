#include "backends/imap/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libetpan/libetpan.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "backends/error.h"

namespace mailfs::imap {
namespace {

std::string OpenSslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "TLS error" : out;
}

ssize_t LowRead(mailstream_low* s, void* buf, size_t n) {
  return static_cast<Channel*>(s->data)->Read(buf, n);
}
ssize_t LowWrite(mailstream_low* s, const void* buf, size_t n) {
  return static_cast<Channel*>(s->data)->Write(buf, n);
}
int LowClose(mailstream_low* s) {
  static_cast<Channel*>(s->data)->Close();
  return 0;
}
int LowGetFd(mailstream_low* s) { return static_cast<Channel*>(s->data)->fd(); }
void LowFree(mailstream_low* s) {
  delete static_cast<Channel*>(s->data);
  s->data = nullptr;
  free(s);  // allocated by mailstream_low_new
}
void LowCancel(mailstream_low* s) { static_cast<Channel*>(s->data)->Abort(); }
struct mailstream_cancel* LowGetCancel(mailstream_low*) { return nullptr; }

mailstream_low_driver kDriver = {
    LowRead, LowWrite, LowClose, LowGetFd, LowFree, LowCancel, LowGetCancel, nullptr, nullptr, nullptr, nullptr,
};

}  // namespace

Channel::Channel(const std::string& host, int port, int timeout_sec)
    : timeout_ms_(timeout_sec > 0 ? timeout_sec * 1000 : 60000) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) throw Error(Errc::kIo, host + ": " + gai_strerror(rc));
  std::string last_error = "no address";
  Errc last_code = Errc::kIo;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last_error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    fd_ = fd;
    if (!WaitFor(POLLOUT)) {
      last_error = timed_out_ ? "connection timed out" : "connection failed";
      last_code = timed_out_ ? Errc::kTimeout : Errc::kIo;
      ::close(fd);
      fd_ = -1;
      timed_out_ = failed_ = false;
      continue;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      last_error = std::strerror(err);
      ::close(fd);
      fd_ = -1;
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    break;
  }
  ::freeaddrinfo(res);
  if (fd_ < 0) throw Error(last_code, host + ":" + service + ": " + last_error);
}

Channel::~Channel() {
  Close();
}

void Channel::Close() {
  if (ssl_ != nullptr) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (ctx_ != nullptr) {
    SSL_CTX_free(ctx_);
    ctx_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void Channel::Abort() {
  failed_ = true;
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

bool Channel::WaitFor(short events) {
  if (failed_) return false;
  pollfd p{fd_, events, 0};
  for (;;) {
    int rc = ::poll(&p, 1, timeout_ms_);
    if (rc > 0) return true;
    if (rc == 0) {
      timed_out_ = failed_ = true;
      return false;
    }
    if (errno != EINTR) {
      failed_ = true;
      return false;
    }
  }
}

long Channel::Read(void* buf, unsigned long n) {
  if (failed_ || fd_ < 0) return -1;
  for (;;) {
    if (ssl_ != nullptr) {
      ERR_clear_error();
      int rc = SSL_read(ssl_, buf, static_cast<int>(std::min<unsigned long>(n, 1 << 30)));
      if (rc > 0) return rc;
      int err = SSL_get_error(ssl_, rc);
      if (err == SSL_ERROR_WANT_READ) {
        if (!WaitFor(POLLIN)) return -1;
      } else if (err == SSL_ERROR_WANT_WRITE) {
        if (!WaitFor(POLLOUT)) return -1;
      } else if (err == SSL_ERROR_ZERO_RETURN) {
        eof_ = true;
        return 0;
      } else {
        failed_ = true;
        return -1;
      }
    } else {
      ssize_t rc = ::recv(fd_, buf, n, 0);
      if (rc == 0) eof_ = true;
      if (rc >= 0) return rc;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        if (!WaitFor(POLLIN)) return -1;
      } else {
        failed_ = true;
        return -1;
      }
    }
  }
}

long Channel::Write(const void* buf, unsigned long n) {
  if (failed_ || fd_ < 0) return -1;
  for (;;) {
    if (ssl_ != nullptr) {
      ERR_clear_error();
      int rc = SSL_write(ssl_, buf, static_cast<int>(std::min<unsigned long>(n, 1 << 30)));
      if (rc > 0) return rc;
      int err = SSL_get_error(ssl_, rc);
      if (err == SSL_ERROR_WANT_READ) {
        if (!WaitFor(POLLIN)) return -1;
      } else if (err == SSL_ERROR_WANT_WRITE) {
        if (!WaitFor(POLLOUT)) return -1;
      } else {
        failed_ = true;
        return -1;
      }
    } else {
      ssize_t rc = ::send(fd_, buf, n, MSG_NOSIGNAL);
      if (rc >= 0) return rc;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        if (!WaitFor(POLLOUT)) return -1;
      } else {
        failed_ = true;
        return -1;
      }
    }
  }
}

void Channel::StartTls(const std::string& host, const TlsSettings& tls) {
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (ctx_ == nullptr) throw Error(Errc::kIo, "TLS: " + OpenSslErrors());
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  if (SSL_CTX_set_default_verify_paths(ctx_) != 1) throw Error(Errc::kIo, "TLS: " + OpenSslErrors());
  if (!tls.cafile.empty() && SSL_CTX_load_verify_locations(ctx_, tls.cafile.c_str(), nullptr) != 1) {
    throw Error(Errc::kIo, "TLS: cannot load cafile " + tls.cafile + ": " + OpenSslErrors());
  }
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  ssl_ = SSL_new(ctx_);
  if (ssl_ == nullptr) throw Error(Errc::kIo, "TLS: " + OpenSslErrors());
  SSL_set_fd(ssl_, fd_);
  in6_addr addr6;
  in_addr addr4;
  bool is_ip = ::inet_pton(AF_INET, host.c_str(), &addr4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &addr6) == 1;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
  if (is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_, host.c_str());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  }
  for (;;) {
    ERR_clear_error();
    int rc = SSL_connect(ssl_);
    if (rc == 1) break;
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (!WaitFor(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT)) {
        throw Error(timed_out_ ? Errc::kTimeout : Errc::kIo, host + ": TLS handshake timed out");
      }
      continue;
    }
    long verify = SSL_get_verify_result(ssl_);
    std::string why = verify != X509_V_OK ? std::string("certificate not trusted: ") +
                                                X509_verify_cert_error_string(verify)
                                          : OpenSslErrors();
    failed_ = true;
    throw Error(Errc::kIo, host + ": TLS handshake failed: " + why);
  }
  if (SSL_get_verify_result(ssl_) != X509_V_OK) {
    failed_ = true;
    throw Error(Errc::kIo, host + ": certificate not trusted: " +
                               X509_verify_cert_error_string(SSL_get_verify_result(ssl_)));
  }
}

_mailstream_low* Channel::ReleaseToStream() {
  mailstream_low* low = mailstream_low_new(this, &kDriver);
  if (low == nullptr) throw Error(Errc::kIo, "out of memory");
  return low;
}

}  // namespace mailfs::imap
