// Command line of mailfs and mount.mailfs (design.md §10).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mailfs {

struct MailfsOptions {
  std::string source;
  std::string mountpoint;
  bool foreground = false;
  bool debug = false;
  bool help = false;
  bool version = false;

  bool rw = false;
  bool create = false;
  bool canonical = false;
  bool strict = false;
  bool accept_incomplete = false;
  bool redact = false;
  bool allow_other = false;
  std::string cache_dir;
  std::uint64_t cache_size = 1ull << 30;  // bytes kept in cache_dir (renderings)
  std::optional<unsigned> uid, gid;
  unsigned umask = 077;
  unsigned max_threads = 8;
  std::vector<std::string> fuse_options;  // passed to the kernel as they are
  // Options of later backends, accepted and checked here so fstab lines stay
  // valid across versions: connections, timeout, dir_cache_ttl,
  // passfile, passcmd, oauth2_cmd, tls, cafile, inbox_name.
  std::vector<std::pair<std::string, std::string>> backend_options;
};

// Parses argv. |mount_helper|: invoked by mount(8) as mount.mailfs (where -f
// means "fake", -n "no mtab", -s "sloppy", -v "verbose"). Throws
// std::invalid_argument with a message for the user on a bad command line.
MailfsOptions ParseCommandLine(int argc, char** argv, bool mount_helper);

// The --help text.
std::string UsageText();

}  // namespace mailfs
