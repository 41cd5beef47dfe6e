#include "mount-tools/options.h"

#include <set>
#include <stdexcept>

namespace mailfs {
namespace {

unsigned ParseUnsigned(const std::string& name, const std::string& value, int base) {
  try {
    std::size_t used = 0;
    unsigned long v = std::stoul(value, &used, base);
    if (used != value.size()) throw std::invalid_argument("");
    return static_cast<unsigned>(v);
  } catch (const std::exception&) {
    throw std::invalid_argument("option " + name + " needs a number, not '" + value + "'");
  }
}

// "1G", "512M", "64k" or a byte count.
std::uint64_t ParseSize(const std::string& value) {
  std::size_t used = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(value, &used, 10);
  } catch (const std::exception&) {
    throw std::invalid_argument("cache_size needs a size such as 512M or 2G, not '" + value + "'");
  }
  std::string unit = value.substr(used);
  std::uint64_t mult = 1;
  if (unit == "k" || unit == "K") {
    mult = 1ull << 10;
  } else if (unit == "m" || unit == "M") {
    mult = 1ull << 20;
  } else if (unit == "g" || unit == "G") {
    mult = 1ull << 30;
  } else if (!unit.empty()) {
    throw std::invalid_argument("cache_size needs a size such as 512M or 2G, not '" + value + "'");
  }
  return n * mult;
}

// Splits an -o list at unescaped commas.
std::vector<std::string> SplitOptions(const std::string& list) {
  std::vector<std::string> out;
  std::string cur;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i] == '\\' && i + 1 < list.size()) {
      cur.push_back(list[++i]);
    } else if (list[i] == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(list[i]);
    }
  }
  out.push_back(cur);
  return out;
}

void ApplyOption(MailfsOptions& o, const std::string& opt) {
  if (opt.empty()) return;
  std::size_t eq = opt.find('=');
  std::string name = opt.substr(0, eq);
  std::string value = eq == std::string::npos ? std::string() : opt.substr(eq + 1);
  bool has_value = eq != std::string::npos;
  auto flag = [&](bool& target) {
    if (has_value) throw std::invalid_argument("option " + name + " takes no value");
    target = true;
  };
  // Options mount(8) and fstab use that mean nothing to a FUSE mount.
  static const std::set<std::string> kMountOnly = {"defaults", "auto", "noauto", "user", "nouser", "users",
                                                   "_netdev", "nofail", "dev", "nodev", "suid", "nosuid",
                                                   "exec", "noexec", "atime", "noatime", "relatime", "async",
                                                   "sync"};
  if (kMountOnly.count(name) != 0 || name.rfind("x-", 0) == 0 || name.rfind("comment=", 0) == 0) return;
  if (name == "ro") {
    o.rw = false;
  } else if (name == "rw") {
    flag(o.rw);
  } else if (name == "create") {
    flag(o.create);
  } else if (name == "strict") {
    flag(o.strict);
  } else if (name == "accept_incomplete") {
    flag(o.accept_incomplete);
  } else if (name == "redact") {
    flag(o.redact);
  } else if (name == "allow_other") {
    flag(o.allow_other);
  } else if (name == "default_permissions") {
    o.fuse_options.push_back(name);
  } else if (name == "view") {
    if (value == "raw") {
      o.canonical = false;
    } else if (value == "canonical") {
      o.canonical = true;
    } else {
      throw std::invalid_argument("view must be raw or canonical, not '" + value + "'");
    }
  } else if (name == "cache_dir") {
    if (value.empty()) throw std::invalid_argument("cache_dir needs a folder");
    o.cache_dir = value;
  } else if (name == "uid") {
    o.uid = ParseUnsigned(name, value, 10);
  } else if (name == "gid") {
    o.gid = ParseUnsigned(name, value, 10);
  } else if (name == "umask") {
    o.umask = ParseUnsigned(name, value, 8) & 0777;
  } else if (name == "max_threads") {
    o.max_threads = ParseUnsigned(name, value, 10);
    if (o.max_threads == 0) o.max_threads = 1;
  } else if (name == "connections" || name == "timeout" || name == "dir_cache_ttl") {
    ParseUnsigned(name, value, 10);
    o.backend_options.emplace_back(name, value);
  } else if (name == "cache_size") {
    o.cache_size = ParseSize(value);
  } else if (name == "passfile" || name == "passcmd" || name == "oauth2_cmd" ||
             name == "cafile" || name == "inbox_name") {
    if (!has_value || value.empty()) throw std::invalid_argument("option " + name + " needs a value");
    o.backend_options.emplace_back(name, value);
  } else if (name == "tls") {
    if (value != "implicit" && value != "starttls" && value != "none") {
      throw std::invalid_argument("tls must be implicit, starttls or none");
    }
    o.backend_options.emplace_back(name, value);
  } else if (name == "fsname" || name == "subtype") {
    // Set by mailfs itself.
  } else {
    throw std::invalid_argument("unknown option '" + name + "' (see mailfs --help)");
  }
}

}  // namespace

MailfsOptions ParseCommandLine(int argc, char** argv, bool mount_helper) {
  MailfsOptions o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a == "--version" || a == "-V") {
      o.version = true;
    } else if (a == "-o") {
      if (i + 1 >= argc) throw std::invalid_argument("-o needs an option list");
      for (const auto& opt : SplitOptions(argv[++i])) ApplyOption(o, opt);
    } else if (a.rfind("-o", 0) == 0 && a.size() > 2) {
      for (const auto& opt : SplitOptions(a.substr(2))) ApplyOption(o, opt);
    } else if (mount_helper && (a == "-n" || a == "-s" || a == "-v")) {
      // mount(8) conventions: no mtab, sloppy, verbose.
    } else if (mount_helper && a == "-f") {
      throw std::invalid_argument("fake mount (-f) requested: nothing to do");
    } else if (a == "-f") {
      o.foreground = true;
    } else if (a == "-d") {
      o.debug = true;
      o.foreground = true;
    } else if (a == "--") {
      for (++i; i < argc; ++i) positional.emplace_back(argv[i]);
    } else if (!a.empty() && a[0] == '-') {
      throw std::invalid_argument("unknown argument '" + a + "' (see mailfs --help)");
    } else {
      positional.push_back(a);
    }
  }
  if (o.help || o.version) return o;
  if (positional.size() != 2) throw std::invalid_argument("expected SOURCE and MOUNTPOINT (see mailfs --help)");
  o.source = positional[0];
  o.mountpoint = positional[1];
  if (o.canonical && (o.rw || o.create)) throw std::invalid_argument("view=canonical is read-only: drop rw/create");
  return o;
}

std::string UsageText() {
  return R"(usage: mailfs SOURCE MOUNTPOINT [-o opt[,opt...]] [-f] [-d]
       fusermount3 -u MOUNTPOINT                      (unmount)
       mount -t fuse.mailfs SOURCE MOUNTPOINT -o ...   (or an fstab line)

Shows a mail store as folders of .eml files.

SOURCE:
  path/to/extract-folder   an Exchange Migration Wizard extract (holds a .pkl)
  path/to/file.pkl         the same, by its packing list
  path/to/file.pst         an Outlook data file (read-only in this version)
  memory:                  an empty writable store kept in memory (for tests)
  imaps://user@host[:port] an IMAP account over TLS (port 993)
  imap://user@host[:port]  the same with STARTTLS (port 143); the user may
                           be %-escaped (alice%40example.com)

Options:
  -f                    stay in the foreground, log to stderr
  -d                    foreground with the FUSE request trace
  -h, --help            this text
  -V, --version         the version
  -o ro                 read-only (the default)
  -o rw                 writable (stores that support it)
  -o create             create a new store (PST; refused if it exists)
  -o view=raw           the store's most faithful bytes (default)
  -o view=canonical     every message parsed and rendered again by one
                        deterministic renderer, so diff -r compares content
                        across stores (read-only)
  -o strict             refuse a store that has any unreadable message
  -o accept_incomplete  store written messages even when incomplete
  -o cache_dir=DIR      staging and renderings (default
                        $XDG_CACHE_HOME/mailfs/<source hash>)
  -o cache_size=SIZE    renderings kept in cache_dir, oldest removed first
                        (default 1G; e.g. 512M)
  -o redact             hide subjects, addresses and folder names in logs
  -o allow_other        let other users in (implies default_permissions)
  -o uid=N, gid=N       owner shown for every file (default: you)
  -o umask=NNN          widen the private modes 0400/0500 (0600/0700 rw)
  -o max_threads=N      FUSE worker threads (default 8)
  IMAP (the password is never an option: passfile, passcmd, the
  MAILFS_PASSWORD environment variable, or a prompt on the terminal):
  -o passfile=FILE      first line of FILE (refused unless mode 0600 or 0400)
  -o passcmd=CMD        first line printed by the shell command CMD
  -o oauth2_cmd=CMD     XOAUTH2 with the token CMD prints (run at each login)
  -o tls=implicit|starttls|none
                        TLS mode (default by scheme); none must be explicit
  -o cafile=FILE        also trust the CA certificate(s) in FILE (PEM)
  -o connections=N      IMAP sessions in parallel (default 4)
  -o timeout=S          seconds without progress before an operation fails
                        with ETIMEDOUT (default 60)
  -o dir_cache_ttl=S    folder list kept this long (default 30)
  -o inbox_name=NAME    show INBOX under this name

Exit status:
  0  unmounted cleanly
  1  bad command line
  2  the source cannot be opened (the message names file and position)
  3  authentication failed
  4  the mount point cannot be mounted
  5  at unmount, some written files were never stored (logged as NOT STORED)
)";
}

}  // namespace mailfs
