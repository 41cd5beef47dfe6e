// The IMAP backend (design.md §2-§8): an account on an IMAP server, over
// libetpan, as a mailfs::Backend.
//
//  * FolderId = the mailbox's name as the server spells it (modified UTF-7),
//    "" for the root. MessageKey = "imap:UIDVALIDITY/UID".
//  * Sessions come from a pool of at most -o connections=N; each remembers
//    the mailbox it has selected, and a caller gets one that has its mailbox
//    selected when there is one. A session whose connection failed is
//    dropped; idempotent operations are retried once on a new session.
//  * Listings are kept in <cache_dir>/imap/listings and revalidated with
//    UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ; bodies are cached in
//    <cache_dir>/imap/bodies (-o cache_size, oldest dropped first) and
//    served from there as FileRangeBlobs: libetpan hands each body to us in
//    chunks as it arrives (mailimap_set_msg_body_handler), so a message is
//    never whole in memory on the read path.
//
// Locking (order: folders_mu_ -> state_mu_ -> pool_mu_; each is held only
// for bookkeeping, never across network I/O):
//  * folders_mu_: the mailbox list (LIST result) and its age.
//  * state_mu_: per-mailbox listing order, in-flight fetches, the cache size.
//  * pool_mu_: idle sessions and the count of open ones.
//  * unknown_mu_ (leaf): APPENDs whose outcome could not be checked.
// Read-ahead: up to three worker threads fetch the messages that follow the
// one just read, in the order of their Date headers (the order their names
// sort in), one pipelined UID FETCH per batch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "backends/backend.h"
#include "backends/imap/session.h"

namespace mailfs::imap {

struct ImapOptions {
  ServerConfig server;
  std::string description;  // "imaps://alice@host" for logs
  bool writable = false;
  std::string cache_dir;
  std::uint64_t cache_size = 1ull << 30;
  unsigned connections = 4;
  unsigned dir_cache_ttl = 30;
  std::string inbox_name = "INBOX";
};

// Source URL: imap://user@host[:port] or imaps://user@host[:port]. The user
// may be %-escaped (e.g. an address: alice%40example.com). Throws kInvalid.
struct ImapUrl {
  bool implicit_tls = true;
  std::string user;
  std::string host;
  int port = 993;
};
ImapUrl ParseImapUrl(const std::string& url);

// Connects (one session, so that a wrong password or certificate fails the
// mount at once) and returns the backend. Throws kAuth, kIo, kTimeout.
std::unique_ptr<Backend> OpenImapAccount(const ImapOptions& options);

}  // namespace mailfs::imap
