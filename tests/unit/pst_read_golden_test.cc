// Golden renderings of every message of the sample PST files: the SHA-256 of
// the bytes Fetch serves, per folder and node id, in
// tests/golden/pst/<sample>.sha256, and the full bytes of a few short ones
// (contact, appointments) in tests/golden/pst/<sample>/<node>.eml. Any change
// of the conversion shows up here; when it is intended, regenerate with
//   MAILFS_UPDATE_GOLDEN=1 build/dev/tests/pst_read_golden_test
// and review the diff (and bump kListingVersion in pst_backend.cc).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "backends/blob.h"
#include "backends/pst/pst_backend.h"
#include "backends/sha256.h"

namespace mailfs::pst {
namespace {

std::string Sample(const std::string& name) { return std::string(MAILFS_SHARED_DIR) + "/fixtures/pst/" + name; }
std::string Golden(const std::string& name) { return std::string(MAILFS_SOURCE_DIR) + "/tests/golden/pst/" + name; }

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool Updating() {
  const char* v = std::getenv("MAILFS_UPDATE_GOLDEN");
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}

// Checks (or, when updating, writes) the digests of every message of
// |sample| and the full bytes of the messages whose node id is in |full|.
void CheckSample(const std::string& sample, const std::vector<std::string>& full) {
  if (!std::filesystem::exists(Sample(sample))) GTEST_SKIP() << "shared fixture " << Sample(sample) << " not present";
  auto backend = OpenPstFile(Sample(sample), PstOptions{});
  std::string digests;
  std::map<std::string, std::string> bytes_of;  // node id -> bytes
  std::function<void(const FolderId&, const std::string&)> visit = [&](const FolderId& id, const std::string& path) {
    for (const MessageInfo& info : backend->ListMessages(id)) {
      ASSERT_FALSE(info.unreadable) << info.error;
      std::string bytes = ReadAll(*backend->Fetch(id, info.key));
      digests += Sha256Hex(bytes) + "  " + (path.empty() ? "/" : path) + " " + info.key.value + " " +
                 std::to_string(bytes.size()) + "\n";
      bytes_of[info.key.value] = bytes;
    }
    for (const FolderInfo& f : backend->ListFolders(id)) visit(f.id, path + "/" + f.name);
  };
  visit(backend->Root(), "");
  std::string stem = sample.substr(0, sample.size() - 4);
  if (Updating()) {
    std::filesystem::create_directories(Golden(stem));
    std::ofstream(Golden(stem + ".sha256"), std::ios::binary | std::ios::trunc) << digests;
    for (const std::string& key : full) {
      std::ofstream(Golden(stem + "/" + key.substr(4) + ".eml"), std::ios::binary | std::ios::trunc) << bytes_of[key];
    }
    return;
  }
  EXPECT_EQ(digests, Slurp(Golden(stem + ".sha256")));
  for (const std::string& key : full) {
    ASSERT_EQ(bytes_of.count(key), 1u) << key;
    EXPECT_EQ(bytes_of[key], Slurp(Golden(stem + "/" + key.substr(4) + ".eml"))) << key;
  }
}

TEST(PstGoldenTest, EmptyFile) { CheckSample("ms-outlook-pst-rs-Empty.pst", {}); }

TEST(PstGoldenTest, AnsiFile) { CheckSample("go-pst-32-bit.pst", {"pst:0x200024"}); }

TEST(PstGoldenTest, FileWithAttachments) {
  // The contact, the appointment and the shortest mail in full.
  CheckSample("aspose-Outlook_1.pst", {"pst:0x200284", "pst:0x2002c4", "pst:0x200244"});
}

}  // namespace
}  // namespace mailfs::pst
