// The core without the kernel: fs::Filesystem over the memory backend, driven
// the way the FUSE adapter drives it (design.md §3, §5, §6).
#include "fs/filesystem.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "backends/memory/memory_backend.h"
#include "backends/sha256.h"
#include "fs/naming.h"
#include "fs/staging.h"

namespace mailfs::fs {
namespace {

class FilesystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mailfs-fs-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    auto backend = std::make_unique<memory::MemoryBackend>();
    mem_ = backend.get();
    Options o;
    o.writable = true;
    o.cache_dir = dir_;
    fs_ = std::make_unique<Filesystem>(std::move(backend), o);
  }
  void TearDown() override {
    fs_.reset();
    std::filesystem::remove_all(dir_);
  }

  Ino MakeFolder(Ino parent, const std::string& name) { return fs_->Mkdir(parent, name).ino; }

  // cp -a: CREATE, WRITE, SETATTR times, SETXATTR flags, FLUSH, RELEASE.
  void CpA(Ino dir, const std::string& name, const std::string& bytes, std::int64_t mtime = 1000000000,
           const std::string& flags = "") {
    auto c = fs_->Create(dir, name, O_WRONLY | O_CREAT | O_EXCL);
    fs_->Write(c.fh, 0, bytes.data(), bytes.size());
    SetAttrRequest r;
    r.mtime = mtime;
    fs_->SetAttr(c.attr.ino, r);
    if (!flags.empty()) fs_->SetXattr(c.attr.ino, "user.mail.flags", flags);
    fs_->Flush(c.fh);
    fs_->Release(c.fh);
  }

  std::set<std::string> Names(Ino dir) {
    std::set<std::string> out;
    for (const auto& e : fs_->ReadDir(dir)) out.insert(e.name);
    return out;
  }

  std::string ReadFile(Ino ino) {
    std::uint64_t fh = fs_->Open(ino, O_RDONLY);
    std::string out(fs_->GetAttr(ino).size, '\0');
    out.resize(fs_->Read(fh, 0, out.data(), out.size()));
    fs_->Release(fh);
    return out;
  }

  std::string dir_;
  memory::MemoryBackend* mem_ = nullptr;
  std::unique_ptr<Filesystem> fs_;
};

const std::string kMsg =
    "From: a@example.com\r\nSubject: Hello\r\nDate: Tue, 6 Aug 2002 10:48:09 +0000\r\n"
    "Message-ID: <one@example.com>\r\n\r\nbody\r\n";

std::string ExpectedName(const std::string& bytes, std::int64_t date) {
  return UniqueName(MessageBaseName(bytes, date));
}

TEST_F(FilesystemTest, CpCommitsAtFlushWithFlagsAndDate) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  CpA(inbox, "written.eml", kMsg, 1234567890, "\\Seen \\Flagged");
  std::string name = ExpectedName(kMsg, 1234567890);
  EXPECT_EQ(Names(inbox), std::set<std::string>{name});
  Attr a = fs_->Lookup(inbox, name);
  EXPECT_EQ(a.size, kMsg.size());
  EXPECT_EQ(a.mtime, 1234567890);
  EXPECT_EQ(fs_->GetXattr(a.ino, "user.mail.flags"), "\\Flagged \\Seen");
  EXPECT_EQ(fs_->GetXattr(a.ino, "user.mail.message-id"), "one@example.com");
  EXPECT_EQ(ReadFile(a.ino), kMsg);
  // The written name keeps resolving to the stored message.
  EXPECT_EQ(fs_->Lookup(inbox, "written.eml").ino, a.ino);
  EXPECT_EQ(mem_->MessageCount(FolderId{"/INBOX"}), 1u);
}

TEST_F(FilesystemTest, BareLfIsStoredAsCrlf) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  std::string lf = "Subject: lf\nMessage-ID: <lf@x>\n\nline one\nline two\n";
  CpA(inbox, "lf.eml", lf);
  std::string crlf = "Subject: lf\r\nMessage-ID: <lf@x>\r\n\r\nline one\r\nline two\r\n";
  Attr a = fs_->Lookup(inbox, ExpectedName(crlf, 1000000000));
  EXPECT_EQ(a.size, crlf.size());
  EXPECT_EQ(ReadFile(a.ino), crlf);
}

TEST_F(FilesystemTest, IncompleteMessageIsRefusedAndNotStored) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  auto c = fs_->Create(inbox, "partial.eml", O_WRONLY | O_CREAT);
  std::string partial = "Subject: cut\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\r\ntext";
  fs_->Write(c.fh, 0, partial.data(), partial.size());
  try {
    fs_->Flush(c.fh);
    FAIL() << "flush should fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kIo);
    EXPECT_NE(std::string(e.what()).find("incomplete message, not stored"), std::string::npos);
  }
  fs_->Release(c.fh);
  EXPECT_EQ(mem_->MessageCount(FolderId{"/INBOX"}), 0u);
  EXPECT_THROW(fs_->Lookup(inbox, "partial.eml"), Error);
}

TEST_F(FilesystemTest, NoSeparatorIsIncomplete) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  auto c = fs_->Create(inbox, "x.eml", O_WRONLY | O_CREAT);
  std::string s = "Subject: no body yet\r\nFrom: a@b";
  fs_->Write(c.fh, 0, s.data(), s.size());
  EXPECT_THROW(fs_->Flush(c.fh), Error);
  fs_->Release(c.fh);
  EXPECT_EQ(mem_->MessageCount(FolderId{"/INBOX"}), 0u);
}

TEST_F(FilesystemTest, NotAMessageIsInvalid) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  auto c = fs_->Create(inbox, "x.eml", O_WRONLY | O_CREAT);
  std::string s = "\x89PNG\r\n\x1a\n binary junk\r\n\r\nmore";
  fs_->Write(c.fh, 0, s.data(), s.size());
  try {
    fs_->Flush(c.fh);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kInvalid);
  }
}

TEST_F(FilesystemTest, VcardIsNotAMessage) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  auto c = fs_->Create(inbox, "Personal Address Book.vcf", O_WRONLY | O_CREAT);
  std::string s = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ann\r\nEMAIL:ann@example.com\r\nEND:VCARD\r\n";
  fs_->Write(c.fh, 0, s.data(), s.size());
  try {
    fs_->Flush(c.fh);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kInvalid);
    EXPECT_NE(std::string(e.what()).find("vCard or iCalendar"), std::string::npos) << e.what();
  }
  fs_->Release(c.fh);
  EXPECT_EQ(mem_->MessageCount(FolderId{"/INBOX"}), 0u);
}

TEST_F(FilesystemTest, RsyncTempFileCommitsAtRename) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  std::string final_name = ExpectedName(kMsg, 1041422400);
  std::string tmp = "." + final_name + ".hB1NgB";
  auto c = fs_->Create(inbox, tmp, O_RDWR | O_CREAT | O_EXCL);
  fs_->Write(c.fh, 0, kMsg.data(), kMsg.size());
  fs_->Flush(c.fh);
  fs_->Release(c.fh);
  EXPECT_EQ(mem_->MessageCount(FolderId{"/INBOX"}), 0u) << "a dot-file is staged until renamed";
  // Metadata after close, before rename.
  fs_->SetXattr(c.attr.ino, "user.mail.flags", "\\Seen");
  SetAttrRequest r;
  r.mtime = 1041422400;
  fs_->SetAttr(c.attr.ino, r);
  fs_->Rename(inbox, tmp, inbox, final_name, 0);
  EXPECT_EQ(mem_->MessageCount(FolderId{"/INBOX"}), 1u);
  Attr a = fs_->Lookup(inbox, final_name);
  EXPECT_EQ(a.mtime, 1041422400);
  EXPECT_EQ(fs_->GetXattr(a.ino, "user.mail.flags"), "\\Seen");
  EXPECT_EQ(fs_->Shutdown().size(), 0u);
}

TEST_F(FilesystemTest, RenameReturnsTheCommitError) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  auto c = fs_->Create(inbox, ".a.eml.XyZ123", O_RDWR | O_CREAT | O_EXCL);
  fs_->Write(c.fh, 0, kMsg.data(), kMsg.size());
  fs_->Flush(c.fh);
  fs_->Release(c.fh);
  mem_->FailNextAppends(1, Errc::kIo);
  try {
    fs_->Rename(inbox, ".a.eml.XyZ123", inbox, "a.eml", 0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kIo);
  }
  EXPECT_THROW(fs_->Lookup(inbox, "a.eml"), Error);
  // The temporary file is still there: rsync unlinks it.
  fs_->Lookup(inbox, ".a.eml.XyZ123");
  EXPECT_EQ(fs_->Shutdown().size(), 1u);
  fs_->Unlink(inbox, ".a.eml.XyZ123");
  EXPECT_EQ(fs_->Shutdown().size(), 0u);
}

TEST_F(FilesystemTest, UnrenamedTempFileIsReportedNotStored) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  auto c = fs_->Create(inbox, ".a.eml.XyZ123", O_RDWR | O_CREAT | O_EXCL);
  fs_->Write(c.fh, 0, kMsg.data(), kMsg.size());
  fs_->Flush(c.fh);
  fs_->Release(c.fh);
  auto not_stored = fs_->Shutdown();
  ASSERT_EQ(not_stored.size(), 1u);
  EXPECT_EQ(not_stored[0], "/INBOX/.a.eml.XyZ123");
}

TEST_F(FilesystemTest, SameMessageIdDifferentBytesBothKept) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  std::string a = kMsg;
  std::string b = kMsg + "different\r\n";
  CpA(inbox, "a.eml", a);
  std::string base = MessageBaseName(a, 1000000000);
  EXPECT_EQ(Names(inbox), std::set<std::string>{base + ".eml"});
  CpA(inbox, "b.eml", b);
  auto names = Names(inbox);
  ASSERT_EQ(names.size(), 2u);
  for (const auto& n : names) EXPECT_EQ(n.rfind(base + " ~", 0), 0u) << n;
  EXPECT_EQ(mem_->MessageCount(FolderId{"/INBOX"}), 2u);
}

TEST_F(FilesystemTest, ByteIdenticalDuplicatesGetCounters) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  CpA(inbox, "a.eml", kMsg);
  CpA(inbox, "b.eml", kMsg);
  auto names = Names(inbox);
  ASSERT_EQ(names.size(), 2u);
  std::string base = MessageBaseName(kMsg, 1000000000);
  std::string h = CollisionName(base, "", 1);  // only to learn the shape
  (void)h;
  int with_counter = 0;
  for (const auto& n : names) with_counter += n.find("-2.eml") != std::string::npos;
  EXPECT_EQ(with_counter, 1);
}

TEST_F(FilesystemTest, RemovingOneOfACollisionKeepsTheOtherReachableByItsOldName) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  CpA(inbox, "a.eml", kMsg);
  CpA(inbox, "b.eml", kMsg + "other\r\n");
  std::vector<std::string> names;
  for (const auto& e : fs_->ReadDir(inbox)) names.push_back(e.name);
  ASSERT_EQ(names.size(), 2u);
  // rm -r: unlink every name read before.
  fs_->Unlink(inbox, names[0]);
  EXPECT_EQ(Names(inbox), std::set<std::string>{ExpectedName(kMsg, 1000000000)});
  fs_->Unlink(inbox, names[1]);
  EXPECT_TRUE(Names(inbox).empty());
  EXPECT_EQ(mem_->MessageCount(FolderId{"/INBOX"}), 0u);
  fs_->Rmdir(kRootIno, "INBOX");
}

TEST_F(FilesystemTest, OverwriteReplacesAndIdenticalOnlyUpdatesMetadata) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  CpA(inbox, "a.eml", kMsg, 1000000000, "\\Seen");
  std::string name = ExpectedName(kMsg, 1000000000);
  Ino ino = fs_->Lookup(inbox, name).ino;
  // Identical bytes, new flags: metadata only.
  std::uint64_t fh = fs_->Open(ino, O_WRONLY | O_TRUNC);
  fs_->Write(fh, 0, kMsg.data(), kMsg.size());
  fs_->SetXattr(ino, "user.mail.flags", "\\Answered");
  SetAttrRequest r;
  r.mtime = 1000000000;
  fs_->SetAttr(ino, r);
  fs_->Flush(fh);
  fs_->Release(fh);
  EXPECT_EQ(mem_->MessageCount(FolderId{"/INBOX"}), 1u);
  EXPECT_EQ(fs_->GetXattr(fs_->Lookup(inbox, name).ino, "user.mail.flags"), "\\Answered");
  // Other bytes: replaced.
  std::string other = kMsg + "v2\r\n";
  fh = fs_->Open(ino, O_WRONLY | O_TRUNC);
  fs_->Write(fh, 0, other.data(), other.size());
  fs_->SetAttr(ino, r);
  fs_->Flush(fh);
  fs_->Release(fh);
  EXPECT_EQ(mem_->MessageCount(FolderId{"/INBOX"}), 1u);
  Attr a = fs_->Lookup(inbox, name);
  EXPECT_EQ(ReadFile(a.ino), other);
}

TEST_F(FilesystemTest, MoveBetweenFoldersAndRenameInPlaceRefused) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  Ino arch = MakeFolder(kRootIno, "Archive");
  CpA(inbox, "a.eml", kMsg);
  std::string name = ExpectedName(kMsg, 1000000000);
  try {
    fs_->Rename(inbox, name, inbox, "other.eml", 0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kPermission);
  }
  fs_->Rename(inbox, name, arch, name, RENAME_NOREPLACE);
  EXPECT_TRUE(Names(inbox).empty());
  EXPECT_EQ(Names(arch), std::set<std::string>{name});
  EXPECT_EQ(mem_->MessageCount(FolderId{"/Archive"}), 1u);
  EXPECT_THROW(fs_->Rename(inbox, "x", arch, "y", 2 /* RENAME_EXCHANGE */), Error);
}

TEST_F(FilesystemTest, UnlinkRmdirAndFolderRename) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  CpA(inbox, "a.eml", kMsg);
  EXPECT_THROW(fs_->Rmdir(kRootIno, "INBOX"), Error);
  fs_->Unlink(inbox, ExpectedName(kMsg, 1000000000));
  EXPECT_EQ(mem_->MessageCount(FolderId{"/INBOX"}), 0u);
  fs_->Rename(kRootIno, "INBOX", kRootIno, "Old%2FInbox", 0);
  EXPECT_EQ(Names(kRootIno), std::set<std::string>{"Old%2FInbox"});
  EXPECT_EQ(mem_->ListFolders(FolderId{"/"})[0].name, "Old/Inbox");
  fs_->Rmdir(kRootIno, "Old%2FInbox");
  EXPECT_TRUE(Names(kRootIno).empty());
}

TEST_F(FilesystemTest, DotFoldersStayInTheMount) {
  Ino dot = MakeFolder(kRootIno, ".rsync-partial");
  EXPECT_TRUE(mem_->ListFolders(FolderId{"/"}).empty());
  auto c = fs_->Create(dot, "a.eml", O_WRONLY | O_CREAT);
  fs_->Write(c.fh, 0, kMsg.data(), kMsg.size());
  fs_->Flush(c.fh);
  fs_->Release(c.fh);
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  EXPECT_EQ(mem_->MessageCount(FolderId{"/INBOX"}), 0u);
  fs_->Rename(dot, "a.eml", inbox, "a.eml", 0);
  EXPECT_EQ(mem_->MessageCount(FolderId{"/INBOX"}), 1u);
}

TEST_F(FilesystemTest, Xattrs) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  CpA(inbox, "a.eml", kMsg);
  Ino ino = fs_->Lookup(inbox, ExpectedName(kMsg, 1000000000)).ino;
  EXPECT_TRUE(fs_->ListXattr(ino).empty());
  EXPECT_THROW(fs_->GetXattr(ino, "user.mail.flags"), Error);
  fs_->SetXattr(ino, "user.mail.flags", "$Label1 \\Seen \\Draft \\Answered \\Recent Junk");
  EXPECT_EQ(fs_->GetXattr(ino, "user.mail.flags"), "\\Answered \\Seen \\Draft $Label1 Junk");
  EXPECT_EQ(fs_->ListXattr(ino), std::vector<std::string>{"user.mail.flags"});
  EXPECT_EQ(fs_->GetXattr(ino, "user.mail.id").rfind("mem:", 0), 0u);
  try {
    fs_->SetXattr(ino, "user.mail.flags", "\\Deleted");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kInvalid);
  }
  try {
    fs_->SetXattr(ino, "system.posix_acl_access", "x");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUnsupported);
  }
  fs_->SetXattr(ino, "user.mail.id", "ignored");
  EXPECT_THROW(fs_->SetXattr(ino, "user.other", "x"), Error);
  fs_->RemoveXattr(ino, "user.mail.flags");
  EXPECT_TRUE(fs_->ListXattr(ino).empty());
  // A folder's special use copied by rsync -X from another mount is
  // accepted and not stored: the destination store names its own.
  fs_->SetXattr(inbox, "user.mail.special-use", "\\Sent");
  EXPECT_TRUE(fs_->ListXattr(inbox).empty());
  fs_->RemoveXattr(inbox, "user.mail.special-use");
  EXPECT_THROW(fs_->SetXattr(ino, "user.mail.special-use", "\\Sent"), Error);
}

// touch(1) opens a committed message O_WRONLY and sets the time on the
// descriptor; setfattr may do the same with flags. Nothing is written, so
// FLUSH commits nothing: the change must reach the store at once.
TEST_F(FilesystemTest, MetadataThroughAnUnwrittenWriteHandleReachesTheStore) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  CpA(inbox, "a.eml", kMsg, 1000000000);
  Ino ino = fs_->Lookup(inbox, ExpectedName(kMsg, 1000000000)).ino;
  std::uint64_t fh = fs_->Open(ino, O_WRONLY);
  SetAttrRequest r;
  r.mtime = 1299215167;
  fs_->SetAttr(ino, r);
  fs_->SetXattr(ino, "user.mail.flags", "\\Flagged Later");
  fs_->Flush(fh);
  fs_->Release(fh);
  auto listed = mem_->ListMessages(FolderId{"/INBOX"});
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].internal_date, 1299215167);
  EXPECT_EQ(Filesystem::FormatFlags(listed[0].flags), "\\Flagged Later");
  EXPECT_EQ(fs_->GetAttr(ino).mtime, 1299215167);
}

// Another client adds a message: a mount with relist_seconds shows it once
// the folder's listing is that old, and hides one that went away.
TEST_F(FilesystemTest, FoldersAreListedAgainAfterRelistSeconds) {
  Options o;
  o.writable = true;
  o.cache_dir = dir_;
  o.relist_seconds = 1;
  auto backend = std::make_unique<memory::MemoryBackend>();
  memory::MemoryBackend* mem = backend.get();
  fs_ = std::make_unique<Filesystem>(std::move(backend), o);
  mem->CreateFolder(FolderId{"/"}, "INBOX");
  Ino inbox = fs_->Lookup(kRootIno, "INBOX").ino;
  EXPECT_TRUE(Names(inbox).empty());
  auto key = mem->Append(FolderId{"/INBOX"}, StringBlob(kMsg), {}, 1000000000);
  EXPECT_TRUE(Names(inbox).empty());  // still the listing of a moment ago
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(Names(inbox), std::set<std::string>{ExpectedName(kMsg, 1000000000)});
  Ino ino = fs_->Lookup(inbox, ExpectedName(kMsg, 1000000000)).ino;
  mem->Delete(FolderId{"/INBOX"}, *key);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_TRUE(Names(inbox).empty());
  EXPECT_THROW(fs_->Lookup(inbox, ExpectedName(kMsg, 1000000000)), Error);
  EXPECT_NE(ino, 0u);
}

// A store that fails a commit may have kept the message anyway (a lost
// answer): the folder is listed again at once, so a re-run sees it.
TEST_F(FilesystemTest, AFailedCommitMakesTheFolderListAgain) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  EXPECT_TRUE(Names(inbox).empty());
  mem_->FailNextAppends(1, Errc::kIo);
  auto c = fs_->Create(inbox, "a.eml", O_WRONLY | O_CREAT);
  fs_->Write(c.fh, 0, kMsg.data(), kMsg.size());
  EXPECT_THROW(fs_->Flush(c.fh), Error);
  fs_->Release(c.fh);
  // It was stored after all, as the server will say when asked.
  mem_->Append(FolderId{"/INBOX"}, StringBlob(kMsg), {}, 1000000000);
  EXPECT_EQ(Names(inbox), std::set<std::string>{ExpectedName(kMsg, 1000000000)});
}

// Byte-identical duplicates take their -N suffixes in the order of their
// dates (then flags), so a copy keeping dates gives each the same name.
TEST_F(FilesystemTest, IdenticalDuplicatesAreNumberedByDate) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  CpA(inbox, "late.eml", kMsg, 2000000000, "\\Seen");
  CpA(inbox, "early.eml", kMsg, 1000000000, "\\Flagged");
  std::string base = MessageBaseName(kMsg, 1000000000);
  auto names = Names(inbox);
  ASSERT_EQ(names.size(), 2u);
  Ino first = fs_->Lookup(inbox, CollisionName(base, Sha256Hex(kMsg), 1)).ino;
  Ino second = fs_->Lookup(inbox, CollisionName(base, Sha256Hex(kMsg), 2)).ino;
  EXPECT_EQ(fs_->GetAttr(first).mtime, 1000000000);
  EXPECT_EQ(fs_->GetAttr(second).mtime, 2000000000);
}

TEST_F(FilesystemTest, ChownAndChmodAreAcceptedAndIgnored) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  CpA(inbox, "a.eml", kMsg);
  Ino ino = fs_->Lookup(inbox, ExpectedName(kMsg, 1000000000)).ino;
  SetAttrRequest r;
  r.mode = true;
  r.owner = true;
  Attr a = fs_->SetAttr(ino, r);
  EXPECT_EQ(a.mode & 0777, 0600u);
  EXPECT_EQ(fs_->SetAttr(inbox, r).mode & 0777, 0700u);
}

TEST_F(FilesystemTest, ForgetDropsUnreachableNodes) {
  Ino inbox = MakeFolder(kRootIno, "INBOX");
  CpA(inbox, "a.eml", kMsg);
  std::string name = ExpectedName(kMsg, 1000000000);
  Ino ino = fs_->Lookup(inbox, name).ino;
  fs_->Forget(ino, 1);
  // Still listed: same inode on the next lookup.
  EXPECT_EQ(fs_->Lookup(inbox, name).ino, ino);
  fs_->Unlink(inbox, name);
  fs_->Forget(ino, 10);
  EXPECT_THROW(fs_->GetAttr(ino), Error);
}

TEST(FilesystemReadOnlyTest, WritesAreRefused) {
  auto backend = std::make_unique<memory::MemoryBackend>();
  backend->CreateFolder(FolderId{"/"}, "INBOX");
  Options o;
  o.writable = false;
  Filesystem fs(std::move(backend), o);
  Ino inbox = fs.Lookup(kRootIno, "INBOX").ino;
  EXPECT_EQ(fs.GetAttr(inbox).mode & 0777, 0500u);
  try {
    fs.Create(inbox, "a.eml", O_WRONLY | O_CREAT);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kReadOnly);
  }
  EXPECT_THROW(fs.Mkdir(kRootIno, "x"), Error);
}

// A read-only store with one folder holding a readable message, an
// unreadable one and a side file.
class FixedBackend final : public Backend {
 public:
  std::string Describe() const override { return "fixed:"; }
  Capabilities GetCapabilities() const override { return Capabilities{}; }
  FolderId Root() const override { return FolderId{"root"}; }
  std::vector<FolderInfo> ListFolders(const FolderId& f) override {
    if (f.value != "root") return {};
    return {FolderInfo{FolderId{"box"}, "Box/1", "\\Sent", true}};
  }
  std::vector<MessageInfo> ListMessages(const FolderId& f) override {
    if (f.value != "box") return {};
    MessageInfo good;
    good.key = MessageKey{"k1"};
    good.internal_date = 86400;
    good.flags = {"\\Seen"};
    MessageInfo bad;
    bad.key = MessageKey{"k2"};
    bad.unreadable = true;
    bad.error = "E_TEST: file X line 9: broken";
    return {good, bad};
  }
  std::vector<SideFile> ListSideFiles(const FolderId& f) override {
    if (f.value != "box") return {};
    return {SideFile{"Book.vcf", MakeStringBlob("BEGIN:VCARD\r\nEND:VCARD\r\n"), 0}};
  }
  BlobPtr Fetch(const FolderId&, const MessageKey& key) override {
    if (key.value == "k1") return MakeStringBlob(kMsg);
    throw Error(Errc::kCorrupt, "E_TEST: file X line 9: broken");
  }
};

TEST(FilesystemFixedTest, UnreadableMessagesSideFilesAndHandlelessReads) {
  Options o;
  Filesystem fs(std::make_unique<FixedBackend>(), o);
  Attr box = fs.Lookup(kRootIno, "Box%2F1");
  EXPECT_EQ(fs.GetXattr(box.ino, "user.mail.special-use"), "\\Sent");
  std::set<std::string> names;
  for (const auto& e : fs.ReadDir(box.ino)) names.insert(e.name);
  std::string good = UniqueName(MessageBaseName(kMsg, 86400));
  std::string bad = UnreadableName("k2");
  EXPECT_EQ(names, (std::set<std::string>{good, bad, "Book.vcf"}));
  // Unreadable: listed, never empty (reads must reach the core), EIO.
  Attr b = fs.Lookup(box.ino, bad);
  EXPECT_GT(b.size, 0u);
  char buf[64];
  try {
    fs.ReadNode(b.ino, 0, buf, sizeof buf);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCorrupt);
  }
  try {
    fs.Open(b.ino, O_RDONLY);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCorrupt);
  }
  // Readable without a handle, exact size.
  Attr g = fs.Lookup(box.ino, good);
  std::string got(g.size, '\0');
  EXPECT_EQ(fs.ReadNode(g.ino, 0, got.data(), got.size()), kMsg.size());
  EXPECT_EQ(got, kMsg);
  EXPECT_EQ(fs.GetXattr(g.ino, "user.mail.id"), "k1");
  // The side file: plain bytes, no mail attributes.
  Attr v = fs.Lookup(box.ino, "Book.vcf");
  EXPECT_EQ(v.size, 24u);
  EXPECT_TRUE(fs.ListXattr(v.ino).empty());
  EXPECT_THROW(fs.GetXattr(v.ino, "user.mail.id"), Error);
  EXPECT_EQ(v.mode & 0777, 0400u);
}

TEST(FlagsTest, FormatAndParse) {
  EXPECT_EQ(Filesystem::FormatFlags({"\\Seen", "b", "\\Answered", "a", "\\Recent"}), "\\Answered \\Seen a b");
  EXPECT_EQ(Filesystem::FormatFlags({}), "");
  EXPECT_EQ(Filesystem::ParseFlags("  \\seen   \\FLAGGED "), (Flags{"\\Flagged", "\\Seen"}));
  EXPECT_THROW(Filesystem::ParseFlags("\\Bogus"), Error);
  EXPECT_THROW(Filesystem::ParseFlags("bad(keyword"), Error);
}

TEST(StagingFileTest, AReusedFileStartsEmpty) {
  std::string dir = std::filesystem::temp_directory_path() / ("mailfs-staging-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    StagingFile first(dir);
    const std::string secret = "Subject: secret\r\n\r\nbody\r\n";
    first.WriteAt(0, secret.data(), secret.size());
    EXPECT_EQ(first.Size(), secret.size());
  }
  for (int i = 0; i < 20; ++i) {  // more than are kept
    std::vector<std::unique_ptr<StagingFile>> files;
    for (int j = 0; j < 12; ++j) {
      files.push_back(std::make_unique<StagingFile>(dir));
      EXPECT_EQ(files.back()->Size(), 0u);
      char c;
      EXPECT_EQ(files.back()->ReadAt(0, &c, 1), 0u);
      files.back()->WriteAt(0, "x", 1);
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mailfs::fs
