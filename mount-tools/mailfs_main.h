// main() of mailfs and mount.mailfs.
#pragma once

namespace mailfs {

// Parses the command line, opens the source, mounts and serves until
// unmounted. Returns an ExitCode (exit_codes.h).
int MailfsMain(int argc, char** argv, bool mount_helper);

}  // namespace mailfs
