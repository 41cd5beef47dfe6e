// mount.mailfs SOURCE MOUNTPOINT [-o ...]: the helper mount(8) runs for
// `mount -t mailfs` and fstab lines (`mount -t fuse.mailfs` goes through
// mount.fuse3, which runs mailfs itself).
#include "mount-tools/mailfs_main.h"

int main(int argc, char** argv) { return mailfs::MailfsMain(argc, argv, /*mount_helper=*/true); }
