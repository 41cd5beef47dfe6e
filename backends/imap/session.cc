#include "backends/imap/session.h"

#include <libetpan/libetpan.h>

#include <memory>

#include "backends/log.h"

namespace mailfs::imap {
namespace {

std::string Base64(const std::string& in) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

}  // namespace

Session::Session(const ServerConfig& config) : host_(config.host) {
  auto channel = std::make_unique<Channel>(config.host, config.port, config.timeout_sec);
  if (config.tls == TlsMode::kImplicit) channel->StartTls(config.host, config.tls_settings);
  imap_ = mailimap_new(0, nullptr);
  if (imap_ == nullptr) throw Error(Errc::kIo, "out of memory");
  mailimap_set_timeout(imap_, config.timeout_sec);
  Channel* raw_channel = channel.get();
  mailstream_low* low = channel->ReleaseToStream();
  channel.release();  // owned by |low| from here on
  mailstream* stream = mailstream_new(low, 8192);
  if (stream == nullptr) {
    mailstream_low_free(low);
    mailimap_free(imap_);
    throw Error(Errc::kIo, "out of memory");
  }
  channel_ = raw_channel;
  try {
    int rc = mailimap_connect(imap_, stream);
    if (rc != MAILIMAP_NO_ERROR_AUTHENTICATED && rc != MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
      // libetpan closed (and so freed) the stream and our Channel.
      channel_ = nullptr;
      throw Error(Errc::kIo, config.host + ": no IMAP greeting (closed, timed out or not IMAP)");
    }
    if (config.tls == TlsMode::kStartTls) {
      RefreshCapabilities();
      if (!mailimap_has_extension(imap_, const_cast<char*>("STARTTLS"))) {
        throw Error(Errc::kIo, config.host + ": the server does not offer STARTTLS (use imaps:// or -o tls=none)");
      }
      Check(mailimap_starttls(imap_), "STARTTLS");
      channel_->StartTls(config.host, config.tls_settings);
    }
    if (rc != MAILIMAP_NO_ERROR_AUTHENTICATED) Login(config);
    RefreshCapabilities();
    condstore_ = Has("CONDSTORE");
  } catch (...) {
    mailimap_free(imap_);
    imap_ = nullptr;
    throw;
  }
}

Session::~Session() {
  if (imap_ != nullptr) {
    // No LOGOUT: the server sees the socket close, and a dead server cannot
    // delay the unmount.
    mailimap_free(imap_);
  }
}

bool Session::broken() const { return broken_ || channel_ == nullptr || channel_->failed(); }

void Session::RefreshCapabilities() {
  struct mailimap_capability_data* caps = nullptr;
  Check(mailimap_capability(imap_, &caps), "CAPABILITY");
  if (caps != nullptr) mailimap_capability_data_free(caps);
}

bool Session::Has(const char* capability) {
  return mailimap_has_extension(imap_, const_cast<char*>(capability)) != 0;
}

std::string Session::LastResponse() const {
  if (imap_ != nullptr && imap_->imap_response != nullptr) return imap_->imap_response;
  return {};
}

void Session::Check(int rc, const std::string& what, Errc refused) {
  if (rc == MAILIMAP_NO_ERROR || rc == MAILIMAP_NO_ERROR_AUTHENTICATED || rc == MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
    return;
  }
  if (rc == MAILIMAP_ERROR_STREAM || rc == MAILIMAP_ERROR_CONNECTION_REFUSED || rc == MAILIMAP_ERROR_PARSE ||
      rc == MAILIMAP_ERROR_MEMORY || rc == MAILIMAP_ERROR_BAD_STATE) {
    bool timeout = channel_ != nullptr && channel_->timed_out();
    bool eof = channel_ != nullptr && (channel_->closed_by_peer() || channel_->failed());
    broken_ = true;
    if (channel_ != nullptr) channel_->Abort();
    if (timeout) throw Error(Errc::kTimeout, host_ + ": " + what + ": no answer within the timeout");
    if (rc == MAILIMAP_ERROR_PARSE && !eof) throw Error(Errc::kIo, host_ + ": " + what + ": unreadable server response");
    if (rc == MAILIMAP_ERROR_BAD_STATE) throw Error(Errc::kIo, host_ + ": " + what + ": not possible in this state");
    throw Error(Errc::kIo, host_ + ": " + what + ": connection lost");
  }
  std::string text = LastResponse();
  throw Error(refused, host_ + ": " + what + " refused" + (text.empty() ? "" : ": " + text));
}

bool Session::Custom(const std::string& command) {
  int rc = mailimap_custom_command(imap_, command.c_str());
  if (rc == MAILIMAP_NO_ERROR) return true;
  if (rc == MAILIMAP_ERROR_CUSTOM_COMMAND) return false;
  Check(rc, command.substr(0, command.find(' ')));
  return false;
}

void Session::Login(const ServerConfig& config) {
  if (config.oauth2_token) {
    std::string token = config.oauth2_token();
    int rc = mailimap_oauth2_authenticate(imap_, config.user.c_str(), token.c_str());
    if (rc != MAILIMAP_NO_ERROR) {
      if (rc == MAILIMAP_ERROR_STREAM || rc == MAILIMAP_ERROR_PARSE) Check(rc, "AUTHENTICATE XOAUTH2");
      throw Error(Errc::kAuth, config.host + ": XOAUTH2 login of " + config.user + " refused: " + LastResponse());
    }
    return;
  }
  std::string password = config.password ? config.password() : std::string();
  RefreshCapabilities();
  int rc;
  const char* how;
  if (mailimap_has_authentication(imap_, const_cast<char*>("PLAIN")) && Has("SASL-IR")) {
    how = "AUTHENTICATE PLAIN";
    std::string blob;
    blob.push_back('\0');
    blob += config.user;
    blob.push_back('\0');
    blob += password;
    std::string command = "AUTHENTICATE PLAIN " + Base64(blob);
    rc = mailimap_custom_command(imap_, command.c_str());
    if (rc == MAILIMAP_ERROR_CUSTOM_COMMAND) rc = MAILIMAP_ERROR_LOGIN;
    // libetpan did not see a login: tell it the state changed.
    if (rc == MAILIMAP_NO_ERROR) imap_->imap_state = MAILIMAP_STATE_AUTHENTICATED;
  } else {
    if (Has("LOGINDISABLED")) {
      throw Error(Errc::kAuth, config.host + ": the server refuses LOGIN and offers no AUTHENTICATE PLAIN");
    }
    how = "LOGIN";
    rc = mailimap_login(imap_, config.user.c_str(), password.c_str());
  }
  if (rc == MAILIMAP_NO_ERROR) return;
  if (rc == MAILIMAP_ERROR_STREAM || rc == MAILIMAP_ERROR_PARSE) Check(rc, how);
  throw Error(Errc::kAuth, config.host + ": " + how + " of " + config.user + " refused: " + LastResponse());
}

const MailboxStatus& Session::Select(const std::string& mailbox, bool refresh) {
  if (!refresh && selected_ == mailbox && !mailbox.empty()) return status_;
  selected_.clear();
  status_ = MailboxStatus{};
  int rc;
  if (condstore_) {
    uint64_t modseq = 0;
    rc = mailimap_select_condstore(imap_, mailbox.c_str(), &modseq);
    status_.highestmodseq = modseq;
  } else {
    rc = mailimap_select(imap_, mailbox.c_str());
  }
  Check(rc, "SELECT", Errc::kNotFound);
  if (imap_->imap_selection_info != nullptr) {
    status_.uidvalidity = imap_->imap_selection_info->sel_uidvalidity;
    status_.uidnext = imap_->imap_selection_info->sel_uidnext;
    status_.exists = imap_->imap_selection_info->sel_exists;
  }
  selected_ = mailbox;
  return status_;
}

}  // namespace mailfs::imap
