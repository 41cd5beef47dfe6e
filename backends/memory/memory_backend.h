// MemoryBackend: a complete, writable mail store held in memory. It is the
// reference implementation of backends/backend.h, used by the core's tests and
// mounted by `mailfs memory: MOUNTPOINT` for integration tests.
//
// Locking: one mutex (mu_) guards the whole store; it is a leaf lock and no
// callback runs under it. Fetched Blobs are immutable copies, safe to read
// after the message is deleted.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "backends/backend.h"

namespace mailfs::memory {

class MemoryBackend final : public Backend {
 public:
  MemoryBackend();

  std::string Describe() const override { return "memory:"; }
  Capabilities GetCapabilities() const override;
  FolderId Root() const override { return FolderId{"/"}; }
  std::vector<FolderInfo> ListFolders(const FolderId& folder) override;
  std::vector<MessageInfo> ListMessages(const FolderId& folder) override;
  BlobPtr Fetch(const FolderId& folder, const MessageKey& key) override;
  std::optional<MessageKey> Append(const FolderId& folder, const Blob& content, const Flags& flags,
                                   std::int64_t internal_date) override;
  void Delete(const FolderId& folder, const MessageKey& key) override;
  std::optional<MessageKey> Move(const FolderId& from, const MessageKey& key,
                                 const FolderId& to) override;
  void SetFlags(const FolderId& folder, const MessageKey& key, const Flags& flags) override;
  MessageKey SetInternalDate(const FolderId& folder, const MessageKey& key,
                             std::int64_t internal_date) override;
  FolderId CreateFolder(const FolderId& parent, const std::string& name) override;
  FolderId RenameFolder(const FolderId& folder, const FolderId& new_parent,
                        const std::string& new_name) override;
  void DeleteFolder(const FolderId& folder) override;

  // Test hooks: the next |count| Append calls fail with |code|.
  void FailNextAppends(int count, Errc code);
  // Number of messages stored in |folder| (tests).
  std::size_t MessageCount(const FolderId& folder);

 private:
  struct Message {
    std::shared_ptr<const StringBlob> content;
    std::int64_t internal_date = 0;
    Flags flags;
  };
  struct Folder {
    std::map<std::string, std::unique_ptr<Folder>> children;  // by name
    std::map<std::uint64_t, Message> messages;                // by serial
  };

  // Resolves a folder id ("/" or "/a/b", components joined by '/' with '/'
  // and '%' inside names written as %2F and %25). Throws kNotFound.
  Folder& FindFolder(const FolderId& id);
  Message& FindMessage(Folder& folder, const MessageKey& key, std::uint64_t* serial);
  static std::string ChildId(const FolderId& parent, const std::string& name);

  std::mutex mu_;
  Folder root_;
  std::uint64_t next_serial_ = 1;
  int fail_appends_ = 0;
  Errc fail_code_ = Errc::kIo;
};

}  // namespace mailfs::memory
