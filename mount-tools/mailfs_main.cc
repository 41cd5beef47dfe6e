#include "mount-tools/mailfs_main.h"

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>

#include "backends/error.h"
#include "backends/iff/iff_backend.h"
#include "backends/imap/credentials.h"
#include "backends/imap/imap_backend.h"
#include "backends/log.h"
#include "backends/memory/memory_backend.h"
#include "backends/pst/pst_backend.h"
#include "backends/pst/rw/pst_write_backend.h"
#include "backends/sha256.h"
#include "fs/filesystem.h"
#include "fs/fuse_adapter.h"
#include "mount-tools/exit_codes.h"
#include "mount-tools/options.h"

namespace mailfs {
namespace {

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

bool EndsWithNoCase(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  for (std::size_t i = 0; i < suffix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i]) return false;
  }
  return true;
}

std::string DefaultCacheDir(const std::string& source_identity) {
  std::string base;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0') {
    base = x;
  } else if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    base = std::string(h) + "/.cache";
  } else {
    base = "/tmp/mailfs-cache-" + std::to_string(::getuid());
  }
  return base + "/mailfs/" + Sha256Hex(source_identity).substr(0, 16);
}

unsigned OptionNumber(const std::string& value) { return static_cast<unsigned>(std::stoul(value)); }

// An imap:// or imaps:// source with the IMAP options (design.md §9, §10).
// The password is read here, before the daemon detaches from the terminal.
std::unique_ptr<Backend> OpenImap(const MailfsOptions& o, const std::string& cache_dir) {
  if (o.create) throw Error(Errc::kInvalid, "create is for PST files; an IMAP account is made writable with rw");
  imap::ImapUrl url = imap::ParseImapUrl(o.source);
  imap::ImapOptions io;
  io.server.host = url.host;
  io.server.port = url.port;
  io.server.user = url.user;
  io.server.tls = url.implicit_tls ? imap::TlsMode::kImplicit : imap::TlsMode::kStartTls;
  std::string passfile, passcmd, oauth2_cmd;
  bool port_given = o.source.find(':', o.source.find('@')) != std::string::npos;
  for (const auto& [name, value] : o.backend_options) {
    if (name == "connections") {
      io.connections = std::max(1u, OptionNumber(value));
    } else if (name == "timeout") {
      io.server.timeout_sec = static_cast<int>(std::max(1u, OptionNumber(value)));
    } else if (name == "dir_cache_ttl") {
      io.dir_cache_ttl = OptionNumber(value);
    } else if (name == "passfile") {
      passfile = value;
    } else if (name == "passcmd") {
      passcmd = value;
    } else if (name == "oauth2_cmd") {
      oauth2_cmd = value;
    } else if (name == "cafile") {
      // Absolute: the daemon runs from "/" once mounted.
      std::error_code ec;
      io.server.tls_settings.cafile = std::filesystem::absolute(value, ec).string();
    } else if (name == "inbox_name") {
      io.inbox_name = value;
    } else if (name == "tls") {
      if (value == "implicit") {
        io.server.tls = imap::TlsMode::kImplicit;
        if (!port_given) io.server.port = 993;
      } else if (value == "starttls") {
        io.server.tls = imap::TlsMode::kStartTls;
        if (!port_given) io.server.port = 143;
      } else {
        io.server.tls = imap::TlsMode::kNone;
      }
    }
  }
  if (!oauth2_cmd.empty()) {
    io.server.oauth2_token = [oauth2_cmd] { return imap::RunCredentialCommand("oauth2_cmd", oauth2_cmd); };
  } else {
    std::string password;
    if (!passfile.empty()) {
      password = imap::ReadPassFile(passfile);
    } else if (!passcmd.empty()) {
      password = imap::RunCredentialCommand("passcmd", passcmd);
    } else if (const char* env = std::getenv("MAILFS_PASSWORD"); env != nullptr && *env != '\0') {
      password = env;
      ::unsetenv("MAILFS_PASSWORD");  // not inherited by anything the daemon runs
    } else {
      password = imap::PromptPassword("Password for " + url.user + "@" + url.host + ": ");
    }
    io.server.password = [password] { return password; };
  }
  io.description = o.source;
  io.writable = o.rw;
  io.cache_dir = cache_dir;
  io.cache_size = o.cache_size;
  return imap::OpenImapAccount(io);
}

std::unique_ptr<Backend> OpenSource(const MailfsOptions& o, const std::string& cache_dir, bool* writable) {
  *writable = false;
  if (o.source == "memory:") {
    *writable = true;
    return std::make_unique<memory::MemoryBackend>();
  }
  if (StartsWith(o.source, "imap://") || StartsWith(o.source, "imaps://")) {
    *writable = o.rw;
    return OpenImap(o, cache_dir);
  }
  if (EndsWithNoCase(o.source, ".pst") || EndsWithNoCase(o.source, ".ost")) {
    if (o.rw || o.create) {
      if (EndsWithNoCase(o.source, ".ost")) {
        throw Error(Errc::kReadOnly, o.source + ": offline folder files (.ost) are read-only (drop rw/create)");
      }
      pst::PstWriteOptions wo;
      wo.create = o.create;
      *writable = true;
      return pst::OpenWritablePst(o.source, wo);
    }
    pst::PstOptions po;
    po.strict = o.strict;
    po.cache_dir = cache_dir;
    return pst::OpenPstFile(o.source, po);
  }
  if (o.rw || o.create) throw Error(Errc::kReadOnly, o.source + ": IFF extracts are read-only (drop rw/create)");
  iff::IffOptions io;
  io.strict = o.strict;
  io.cache_dir = cache_dir;
  return iff::OpenIffExtract(o.source, io);
}

}  // namespace

int MailfsMain(int argc, char** argv, bool mount_helper) {
  std::signal(SIGPIPE, SIG_IGN);
  // glibc gives each FUSE worker thread its own malloc arena, and each arena
  // keeps what it freed: with 8 workers copying messages that was tens of
  // MiB of resident memory nobody used. Two arenas keep the footprint to
  // what the daemon holds.
  ::mallopt(M_ARENA_MAX, 2);
  MailfsOptions o;
  try {
    o = ParseCommandLine(argc, argv, mount_helper);
  } catch (const std::invalid_argument& e) {
    std::cerr << "mailfs: " << e.what() << "\n";
    return kExitUsage;
  }
  if (o.help) {
    std::cout << UsageText();
    return kExitOk;
  }
  if (o.version) {
    std::cout << "mailfs " << MAILFS_VERSION << "\n";
    return kExitOk;
  }
  LogConfig lc;
  lc.debug = o.debug;
  lc.redact = o.redact;
  lc.to_syslog = false;  // switched to syslog after daemonising (below)
  SetLogConfig(lc);

  std::error_code ec;
  std::string mountpoint = std::filesystem::absolute(o.mountpoint, ec).string();
  struct stat st;
  if (::stat(mountpoint.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    std::cerr << "mailfs: mount point " << o.mountpoint << " is not a folder\n";
    return kExitMount;
  }

  std::string source_identity = o.source;
  if (o.source != "memory:" && !StartsWith(o.source, "imap")) {
    source_identity = std::filesystem::absolute(o.source, ec).string();
  }
  std::string cache_dir = o.cache_dir.empty() ? DefaultCacheDir(source_identity) : o.cache_dir;
  std::filesystem::create_directories(cache_dir, ec);
  if (ec) {
    std::cerr << "mailfs: cannot create the cache folder " << cache_dir << ": " << ec.message() << "\n";
    return kExitSource;
  }
  ::chmod(cache_dir.c_str(), 0700);
  std::unique_ptr<Backend> backend;
  bool writable = false;
  try {
    backend = OpenSource(o, cache_dir, &writable);
  } catch (const Error& e) {
    std::cerr << "mailfs: " << e.what() << "\n";
    return e.code() == Errc::kAuth ? kExitAuth : kExitSource;
  } catch (const std::exception& e) {
    std::cerr << "mailfs: " << o.source << ": " << e.what() << "\n";
    return kExitSource;
  }

  fs::Options fo;
  fo.writable = writable && (o.rw || o.create || o.source == "memory:");
  fo.canonical_view = o.canonical;
  if (fo.canonical_view) fo.writable = false;
  fo.accept_incomplete = o.accept_incomplete;
  fo.uid = o.uid.value_or(::getuid());
  fo.gid = o.gid.value_or(::getgid());
  fo.umask = o.umask;
  fo.cache_size = o.cache_size;
  fo.cache_dir = cache_dir;
  if (StartsWith(o.source, "imap://") || StartsWith(o.source, "imaps://")) {
    // Other clients change an IMAP account: folders are listed again when
    // read after dir_cache_ttl seconds (design §8; default 30).
    fo.relist_seconds = 30;
    for (const auto& [name, value] : o.backend_options) {
      if (name == "dir_cache_ttl") fo.relist_seconds = OptionNumber(value);
    }
  }

  auto filesystem = std::make_unique<fs::Filesystem>(std::move(backend), fo);
  fs::FuseConfig fc;
  fc.mountpoint = mountpoint;
  fc.fsname = o.source;
  fc.foreground = o.foreground;
  fc.debug = o.debug;
  fc.read_only = !fo.writable;
  fc.allow_other = o.allow_other;
  fc.max_threads = o.max_threads;
  fc.extra_options = o.fuse_options;
  bool foreground = o.foreground;
  int rc = fs::RunFuse(*filesystem, fc, [&] {
    if (!foreground) {
      LogConfig bg = GetLogConfig();
      bg.to_syslog = true;
      SetLogConfig(bg);
    }
    LOG(kInfo) << "mounted " << Redacted(o.source) << " on " << mountpoint << (fo.writable ? " (rw)" : " (ro)");
  });
  if (rc != 0) return kExitMount;
  std::vector<std::string> not_stored = filesystem->Shutdown();
  try {
    filesystem->backend().Close();
  } catch (const Error& e) {
    LOG(kError) << "closing " << Redacted(o.source) << ": " << e.what();
    return kExitNotStored;
  }
  if (!not_stored.empty()) {
    LOG(kError) << not_stored.size() << " written file(s) were never stored";
    return kExitNotStored;
  }
  LOG(kInfo) << "unmounted " << mountpoint;
  return kExitOk;
}

}  // namespace mailfs
