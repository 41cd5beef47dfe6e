// mailfs SOURCE MOUNTPOINT [-o ...] [-f] [-d]
#include "mount-tools/mailfs_main.h"

int main(int argc, char** argv) { return mailfs::MailfsMain(argc, argv, /*mount_helper=*/false); }
