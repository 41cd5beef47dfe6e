// The one FUSE adapter: libfuse3's low-level API on top of fs::Filesystem.
// It is the only file that includes fuse_lowlevel.h and the only place where
// mailfs::Errc becomes an errno (design.md §7).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "fs/filesystem.h"

namespace mailfs::fs {

struct FuseConfig {
  std::string mountpoint;
  std::string fsname;          // shown in /proc/mounts (the SOURCE)
  bool foreground = false;
  bool debug = false;          // libfuse's request trace (-d)
  bool read_only = false;      // kernel "ro" flag
  bool allow_other = false;    // implies default_permissions
  unsigned max_threads = 8;
  std::vector<std::string> extra_options;  // passed through as -o
};

// Errno for an error code (the table of design.md §7).
int ToErrno(Errc code);

// Mounts |fs| at config.mountpoint and serves requests until unmounted or
// signalled. |on_mounted| runs after the mount exists (before daemonising).
// Returns 0 on a clean unmount, or an exit status: 4 if the mount failed.
int RunFuse(Filesystem& fs, const FuseConfig& config, const std::function<void()>& on_mounted);

}  // namespace mailfs::fs
