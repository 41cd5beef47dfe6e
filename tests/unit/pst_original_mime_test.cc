// The packed form of the original message bytes kept in PST messages.
#include <gtest/gtest.h>

#include <string>

#include "backends/pst/mailfs_props.h"

namespace mailfs::pst {
namespace {

TEST(OriginalMime, PackedBytesComeBackExactly) {
  std::string msg = "From: a@example.com\r\nSubject: x\r\n\r\n";
  for (int i = 0; i < 500; ++i) msg += "a line of text that repeats, number " + std::to_string(i) + "\r\n";
  std::string packed = PackOriginalMime(msg);
  EXPECT_EQ(packed.substr(0, 4), std::string("\0MZ1", 4));
  EXPECT_LT(packed.size(), msg.size() / 3);
  EXPECT_EQ(UnpackOriginalMime(packed), msg);
  EXPECT_EQ(UnpackOriginalMime(PackOriginalMime("")), "");
}

TEST(OriginalMime, UnpackedValuesAreTakenAsTheyAre) {
  EXPECT_EQ(UnpackOriginalMime("From: a@b\r\n\r\nx"), "From: a@b\r\n\r\nx");
}

TEST(OriginalMime, DamageIsReportedNotHidden) {
  std::string packed = PackOriginalMime(std::string(10000, 'x') + "end");
  std::string bad = packed;
  bad[bad.size() / 2] ^= 0x55;
  EXPECT_THROW(UnpackOriginalMime(bad), Error);
  EXPECT_THROW(UnpackOriginalMime(packed.substr(0, packed.size() - 3)), Error);
  EXPECT_THROW(UnpackOriginalMime(packed.substr(0, 7)), Error);
  std::string wrong_size = packed;
  wrong_size[4] ^= 1;
  EXPECT_THROW(UnpackOriginalMime(wrong_size), Error);
}

}  // namespace
}  // namespace mailfs::pst
