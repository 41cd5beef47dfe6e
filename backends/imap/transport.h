// The byte stream under libetpan: a TCP socket with our own TLS (OpenSSL),
// handed to libetpan as a custom mailstream_low driver.
//
// Why our own TLS rather than libetpan's: Debian's libetpan does TLS with
// GnuTLS and verifies nothing; it exposes the peer certificate but not the
// chain it was sent with, so a chain with intermediates could not be checked
// properly. Doing the handshake ourselves with OpenSSL gives chain and host
// name verification against the system CAs (plus -o cafile), and puts every
// read and write under our own deadline (poll on a non-blocking socket), so
// no call can block longer than the timeout. STARTTLS needs no stream swap:
// the same driver switches from plain to TLS after the server's OK.
//
// Thread safety: a Channel belongs to one session, used by one thread at a
// time.
#pragma once

#include <string>

struct ssl_st;
struct ssl_ctx_st;
struct _mailstream_low;

namespace mailfs::imap {

struct TlsSettings {
  std::string cafile;  // extra trusted CA certificate(s), PEM; empty = system CAs only
};

class Channel {
 public:
  // Connects to host:port within |timeout_sec|. Throws Error(kIo/kTimeout).
  Channel(const std::string& host, int port, int timeout_sec);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // TLS handshake on the connected socket, verifying the chain and that the
  // certificate names |host|. Throws Error(kIo) naming the verification error.
  void StartTls(const std::string& host, const TlsSettings& tls);
  bool tls() const { return ssl_ != nullptr; }

  // Reads/writes with the deadline; -1 on error or timeout (see timed_out()).
  long Read(void* buf, unsigned long n);
  long Write(const void* buf, unsigned long n);
  bool timed_out() const { return timed_out_; }
  bool failed() const { return failed_; }
  bool closed_by_peer() const { return eof_; }
  int fd() const { return fd_; }
  void Close();
  // Immediately fails every later read/write (used to abandon a session).
  void Abort();

  // A mailstream_low whose data is this Channel; freeing it deletes the Channel.
  _mailstream_low* ReleaseToStream();

 private:
  bool WaitFor(short events);  // poll with the deadline

  int fd_ = -1;
  int timeout_ms_;
  ssl_ctx_st* ctx_ = nullptr;
  ssl_st* ssl_ = nullptr;
  bool timed_out_ = false;
  bool failed_ = false;
  bool eof_ = false;
};

}  // namespace mailfs::imap
