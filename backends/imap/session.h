// One authenticated IMAP connection (libetpan's mailimap over our Channel).
//
// A Session is used by one thread at a time (the pool in imap_backend.cc
// hands it out). Any stream-level failure marks it broken; the pool then
// drops it and opens a new one.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "backends/error.h"
#include "backends/imap/transport.h"

struct mailimap;

namespace mailfs::imap {

enum class TlsMode { kImplicit, kStartTls, kNone };

struct ServerConfig {
  std::string host;
  int port = 993;
  TlsMode tls = TlsMode::kImplicit;
  TlsSettings tls_settings;
  std::string user;
  // Credentials, asked for when a session logs in (the backend caches them).
  std::function<std::string()> password;
  std::function<std::string()> oauth2_token;  // set: XOAUTH2 instead of a password
  int timeout_sec = 60;
};

struct MailboxStatus {
  std::uint32_t uidvalidity = 0;
  std::uint32_t uidnext = 0;
  std::uint32_t exists = 0;
  std::uint64_t highestmodseq = 0;  // 0 without CONDSTORE
};

class Session {
 public:
  // Connects, secures and logs in. Throws kAuth (rejected credentials), kIo,
  // kTimeout.
  explicit Session(const ServerConfig& config);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  mailimap* raw() { return imap_; }
  bool broken() const;
  bool Has(const char* capability);

  // SELECTs |mailbox| (raw server name) unless it is selected already and
  // |refresh| is false. Throws kNotFound when the server refuses it.
  const MailboxStatus& Select(const std::string& mailbox, bool refresh);
  const std::string& selected() const { return selected_; }
  void ForgetSelection() { selected_.clear(); }

  // Throws the Error for a libetpan result code |rc| of command |what|
  // (no-op for success). Stream and parse failures mark the session broken.
  void Check(int rc, const std::string& what, Errc refused = Errc::kIo);
  // The text of the last tagged response (for error messages).
  std::string LastResponse() const;

  // Sends "<tag> |command|" and waits for the tagged reply; true for OK.
  bool Custom(const std::string& command);

 private:
  void Login(const ServerConfig& config);
  void RefreshCapabilities();

  mailimap* imap_ = nullptr;
  Channel* channel_ = nullptr;  // owned by imap_'s stream
  std::string host_;
  std::string selected_;
  MailboxStatus status_;
  bool broken_ = false;
  bool condstore_ = false;
};

}  // namespace mailfs::imap
