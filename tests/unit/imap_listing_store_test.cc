// The IMAP listing cache file: round trips, and damaged files read as "no
// listing" (never a crash, never a partial listing).

#include "backends/imap/listing_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace mailfs::imap {
namespace {

CachedListing Sample() {
  CachedListing l;
  l.uidvalidity = 1795499704;
  l.uidnext = 42;
  l.highestmodseq = 123456789012ull;
  CachedMessage a;
  a.uid = 3;
  a.internal_date = 1600000000;
  a.size = 4090;
  a.flags = {"\\Seen", "\\Flagged", "$Label1"};
  a.headers = "Subject: hello\r\n world\r\nDate: Mon, 1 Jan 2001 00:00:00 +0000\r\n\r\n";
  CachedMessage b;
  b.uid = 41;
  b.internal_date = -5;
  b.size = 0;
  b.headers = std::string("\n\n\0binary\r\n", 11);
  l.messages = {a, b};
  return l;
}

TEST(ImapListingStoreTest, RoundTrip) {
  CachedListing l = Sample();
  std::optional<CachedListing> back = ParseListing(SerializeListing(l));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->uidvalidity, l.uidvalidity);
  EXPECT_EQ(back->uidnext, l.uidnext);
  EXPECT_EQ(back->highestmodseq, l.highestmodseq);
  ASSERT_EQ(back->messages.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back->messages[i].uid, l.messages[i].uid);
    EXPECT_EQ(back->messages[i].internal_date, l.messages[i].internal_date);
    EXPECT_EQ(back->messages[i].size, l.messages[i].size);
    EXPECT_EQ(back->messages[i].flags, l.messages[i].flags);
    EXPECT_EQ(back->messages[i].headers, l.messages[i].headers);
  }
}

TEST(ImapListingStoreTest, EmptyListing) {
  CachedListing l;
  l.uidvalidity = 7;
  l.uidnext = 1;
  auto back = ParseListing(SerializeListing(l));
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(back->messages.empty());
}

TEST(ImapListingStoreTest, EveryTruncationIsRejected) {
  std::string data = SerializeListing(Sample());
  for (std::size_t n = 0; n < data.size(); ++n) {
    EXPECT_FALSE(ParseListing(data.substr(0, n)).has_value()) << "prefix of " << n << " bytes";
  }
  EXPECT_FALSE(ParseListing(data + "x").has_value());
}

TEST(ImapListingStoreTest, DamagedFieldsAreRejected) {
  std::string data = SerializeListing(Sample());
  std::string bad_magic = data;
  bad_magic[0] = 'M';
  EXPECT_FALSE(ParseListing(bad_magic).has_value());
  // UIDs out of order.
  CachedListing l = Sample();
  std::swap(l.messages[0], l.messages[1]);
  EXPECT_FALSE(ParseListing(SerializeListing(l)).has_value());
  // A header length beyond the end.
  std::string s = SerializeListing(Sample());
  std::size_t pos = s.find(" 4090 ");
  ASSERT_NE(pos, std::string::npos);
  s.replace(pos, 6, " 4090 99999 ");
  EXPECT_FALSE(ParseListing(s).has_value());
  // A message count larger than the records.
  std::string c = SerializeListing(Sample());
  c.replace(c.find(" 2\n"), 3, " 3\n");
  EXPECT_FALSE(ParseListing(c).has_value());
}

TEST(ImapListingStoreTest, SavesAndLoadsFiles) {
  std::string dir = std::filesystem::temp_directory_path() / ("mailfs-listing-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = dir + "/box";
  EXPECT_FALSE(LoadListing(path).has_value());
  SaveListing(path, Sample());
  auto back = LoadListing(path);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->messages.size(), 2u);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << "garbage";
  }
  EXPECT_FALSE(LoadListing(path).has_value());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mailfs::imap
