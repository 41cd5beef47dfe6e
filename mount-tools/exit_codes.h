// Exit statuses of the mailfs tools (documented in README.md and --help).
#pragma once

namespace mailfs {

enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 1,        // bad command line or option
  kExitSource = 2,       // the source cannot be opened or is structurally broken
  kExitAuth = 3,         // authentication failed
  kExitMount = 4,        // the mount point cannot be mounted
  kExitNotStored = 5,    // at unmount, some written files were never stored
};

}  // namespace mailfs
