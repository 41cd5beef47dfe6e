#include "backends/pst/rw/pst_write_backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>

#include "backends/log.h"
#include "backends/mime/header_decode.h"
#include "backends/pst/pst_backend.h"
#include "backends/pst/writer/messaging/pst_store.h"
#include "backends/pst/writer/ndb_file.h"

namespace mailfs::pst {
namespace {

using writer::MessageFlags;
using writer::NdbFile;
using writer::PstStore;

std::string KeyText(std::uint32_t nid) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "pst:0x%x", nid);
  return buf;
}

// Parses "0x..." (hex) or a decimal number; nullopt when it is neither.
std::optional<std::uint32_t> ParseNumber(std::string_view s, int base) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (base == 16 && c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    if (d >= base) return std::nullopt;
    v = v * static_cast<unsigned>(base) + static_cast<unsigned>(d);
  }
  if (v > 0xFFFFFFFFu) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

MessageFlags ToMapi(const Flags& flags) {
  MessageFlags out;
  for (const std::string& f : flags) {
    if (f == "\\Seen") {
      out.read = true;
    } else if (f == "\\Flagged") {
      out.flagged = true;
    } else if (f == "\\Answered") {
      out.answered = true;
    } else if (f == "\\Draft") {
      out.draft = true;
    } else if (!f.empty() && f[0] != '\\') {
      out.keywords.push_back(f);  // \Deleted, \Recent and unknown system flags are not stored
    }
  }
  return out;
}

Flags FromMapi(const MessageFlags& mf) {
  Flags out;
  if (mf.read) out.push_back("\\Seen");
  if (mf.flagged) out.push_back("\\Flagged");
  if (mf.answered) out.push_back("\\Answered");
  if (mf.draft) out.push_back("\\Draft");
  for (const std::string& k : mf.keywords) out.push_back(k);
  return out;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Commits between two checkpoints of the AMap (ndb_file.h, point 3): two
// fdatasyncs per commit, one more at most this often and at unmount.
constexpr std::uint32_t kCheckpointMs = 1000;

class PstWriteBackend final : public Backend {
 public:
  PstWriteBackend(const std::string& path, const PstWriteOptions& options) : path_(path) {
    if (options.create) {
      if (FileExists(path)) throw Error(Errc::kExists, path + ": file exists (create never overwrites; use rw)");
      // The file appears under its name only with its skeleton committed: a
      // crash before that leaves no file (a temporary one beside it at most).
      file_ = NdbFile::Create(path, 0, /*publish=*/false);
      file_->set_checkpoint_interval(kCheckpointMs);
      try {
        store_ = std::make_unique<PstStore>(*file_);
        store_->CreateSkeleton();
        store_->Commit();
        root_ = store_->ipm_subtree();
        file_->Publish();
      } catch (...) {
        store_.reset();
        file_->Discard();
        file_.reset();
        throw;
      }
    } else {
      if (!FileExists(path)) throw Error(Errc::kNotFound, path + ": no such file (use -o create to make one)");
      Load();
    }
  }

  std::string Describe() const override { return "pst:" + path_; }

  Capabilities GetCapabilities() const override {
    Capabilities caps;
    caps.writable = true;
    caps.folders_writable = true;
    caps.can_set_internal_date = true;
    return caps;
  }

  FolderId Root() const override { return FolderId{std::to_string(root_)}; }

  std::vector<FolderInfo> ListFolders(const FolderId& folder) override {
    std::lock_guard<std::mutex> lock(mu_);
    Usable();
    std::uint32_t fid = FolderNid(folder);
    std::vector<FolderInfo> out;
    for (const writer::PstFolder& f : store_->ListFolders(fid)) {
      FolderInfo info;
      info.id = FolderId{std::to_string(f.nid)};
      info.name = f.name;
      out.push_back(std::move(info));
    }
    return out;
  }

  std::vector<MessageInfo> ListMessages(const FolderId& folder) override {
    std::lock_guard<std::mutex> lock(mu_);
    Usable();
    std::uint32_t fid = FolderNid(folder);
    std::vector<MessageInfo> out;
    for (const writer::PstMessage& m : store_->ListMessages(fid)) out.push_back(InfoLocked(fid, m.nid));
    return out;
  }

  BlobPtr Fetch(const FolderId& folder, const MessageKey& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    Usable();
    std::uint32_t fid = FolderNid(folder);
    std::uint32_t nid = MessageNid(fid, key);
    if (std::optional<std::string> original = store_->OriginalMime(nid)) {
      return MakeStringBlob(std::move(*original));
    }
    return Reader().Fetch(folder, key);
  }

  std::optional<MessageKey> Append(const FolderId& folder, const Blob& content, const Flags& flags,
                                   std::int64_t internal_date) override {
    std::string bytes = ReadAll(content);  // outside the lock: content may be a slow file
    std::lock_guard<std::mutex> lock(mu_);
    Usable();
    std::uint32_t fid = FolderNid(folder);
    std::uint32_t nid = 0;
    Change([&] { nid = store_->AddMessage(fid, bytes, ToMapi(flags), internal_date); });
    MessageInfo info;
    info.key = MessageKey{KeyText(nid)};
    info.internal_date = internal_date;
    info.flags = FromMapi(ToMapi(flags));
    info.headers = std::string(mime::HeaderBlock(bytes));
    info.size = bytes.size();
    infos_[nid] = info;
    return info.key;
  }

  void Delete(const FolderId& folder, const MessageKey& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    Usable();
    std::uint32_t nid = MessageNid(FolderNid(folder), key);
    Change([&] { store_->DeleteMessage(nid); });
    infos_.erase(nid);
  }

  std::optional<MessageKey> Move(const FolderId& from, const MessageKey& key, const FolderId& to) override {
    std::lock_guard<std::mutex> lock(mu_);
    Usable();
    std::uint32_t nid = MessageNid(FolderNid(from), key);
    std::uint32_t target = FolderNid(to);
    Change([&] { store_->MoveMessage(nid, target); });
    return key;  // the node keeps its id; only its parent changes
  }

  void SetFlags(const FolderId& folder, const MessageKey& key, const Flags& flags) override {
    std::lock_guard<std::mutex> lock(mu_);
    Usable();
    std::uint32_t nid = MessageNid(FolderNid(folder), key);
    MessageFlags mf = ToMapi(flags);
    Change([&] { store_->SetFlags(nid, mf); });
    if (auto it = infos_.find(nid); it != infos_.end()) it->second.flags = FromMapi(mf);
  }

  MessageKey SetInternalDate(const FolderId& folder, const MessageKey& key, std::int64_t internal_date) override {
    std::lock_guard<std::mutex> lock(mu_);
    Usable();
    std::uint32_t nid = MessageNid(FolderNid(folder), key);
    Change([&] { store_->SetInternalDate(nid, internal_date); });
    if (auto it = infos_.find(nid); it != infos_.end()) it->second.internal_date = internal_date;
    return key;
  }

  FolderId CreateFolder(const FolderId& parent, const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    Usable();
    std::uint32_t pid = FolderNid(parent);
    RefuseTakenName(pid, name, 0);
    std::uint32_t nid = 0;
    Change([&] { nid = store_->CreateFolder(pid, name); });
    return FolderId{std::to_string(nid)};
  }

  FolderId RenameFolder(const FolderId& folder, const FolderId& new_parent, const std::string& new_name) override {
    std::lock_guard<std::mutex> lock(mu_);
    Usable();
    std::uint32_t fid = FolderNid(folder);
    std::uint32_t pid = FolderNid(new_parent);
    if (fid == root_) throw Error(Errc::kInvalid, Describe() + ": the root folder cannot be renamed");
    if (pid == store_->GetFolder(fid).parent) {
      RefuseTakenName(pid, new_name, fid);
      Change([&] { store_->RenameFolder(fid, new_name); });
      return folder;
    }
    // A move under another parent: the folder, its subfolders and messages
    // keep their NIDs, so every id the mount holds stays valid.
    if (store_->IsSpecialFolder(fid)) {
      throw Error(Errc::kInvalid, Describe() + ": folder " + folder.value +
                                      " is one of the store's special folders and cannot be moved");
    }
    if (store_->IsWithin(pid, fid)) {
      throw Error(Errc::kInvalid, Describe() + ": folder " + folder.value + " cannot move into itself or below itself");
    }
    RefuseTakenName(pid, new_name, fid);
    Change([&] { store_->MoveFolder(fid, pid, new_name); });
    return folder;
  }

  void DeleteFolder(const FolderId& folder) override {
    std::lock_guard<std::mutex> lock(mu_);
    Usable();
    std::uint32_t fid = FolderNid(folder);
    if (fid == root_) throw Error(Errc::kInvalid, Describe() + ": the root folder cannot be deleted");
    Change([&] { store_->DeleteFolder(fid); });
  }

  void Close() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (broken_) throw Error(Errc::kIo, Describe() + ": the file could not be reopened after a failed commit");
    // Leave the AMap valid (fAMapValid = 2) behind the last commits.
    file_->Checkpoint();
  }

 private:
  // Opens the committed state of the file.
  void Load() {
    store_.reset();
    file_.reset();
    file_ = NdbFile::Open(path_, /*writable=*/true);
    file_->set_checkpoint_interval(kCheckpointMs);
    store_ = std::make_unique<PstStore>(*file_);
    store_->OpenExisting();
    // OpenExisting may add mailfs's named properties to the map.
    if (file_->has_staged_changes()) store_->Commit();
    root_ = store_->ipm_subtree();
    infos_.clear();
    ++generation_;
  }

  void Usable() const {
    if (broken_) throw Error(Errc::kIo, Describe() + ": the file could not be reopened after a failed commit");
  }

  // Runs one change and commits it. On failure the staged remains of the
  // change are dropped by reopening the file at its last commit, so a failed
  // message can never slip into a later commit.
  template <typename F>
  void Change(F&& change) {
    try {
      change();
      store_->Commit();
    } catch (const Error& e) {
      LOG(kWarning) << Describe() << ": change not stored: " << e.what();
      try {
        Load();
      } catch (const Error& again) {
        broken_ = true;
        LOG(kError) << Describe() << ": cannot reopen after a failed commit: " << again.what();
      }
      throw;
    }
    ++generation_;
  }

  std::uint32_t FolderNid(const FolderId& folder) const {
    std::optional<std::uint32_t> nid = ParseNumber(folder.value, 10);
    if (!nid || writer::TypeOfNid(*nid) != writer::NidType::kNormalFolder || !file_->HasNode(*nid)) {
      throw Error(Errc::kNotFound, Describe() + ": no folder " + folder.value);
    }
    return *nid;
  }

  std::uint32_t MessageNid(std::uint32_t fid, const MessageKey& key) const {
    std::string_view v = key.value;
    std::optional<std::uint32_t> nid;
    if (v.rfind("pst:0x", 0) == 0) nid = ParseNumber(v.substr(6), 16);
    if (!nid || !file_->HasNode(*nid) || file_->ParentOf(*nid) != fid ||
        writer::TypeOfNid(*nid) != writer::NidType::kNormalMessage) {
      throw Error(Errc::kNotFound, Describe() + ": no message " + key.value + " in folder " + std::to_string(fid));
    }
    return *nid;
  }

  void RefuseTakenName(std::uint32_t parent, const std::string& name, std::uint32_t except) {
    for (const writer::PstFolder& f : store_->ListFolders(parent)) {
      if (f.nid != except && f.name == name) throw Error(Errc::kExists, Describe() + ": folder " + name + " exists");
    }
  }

  MessageInfo InfoLocked(std::uint32_t fid, std::uint32_t nid) {
    if (auto it = infos_.find(nid); it != infos_.end()) return it->second;
    MessageInfo info;
    if (std::optional<writer::PstStore::OriginalInfo> original = store_->OriginalMimeInfo(nid)) {
      info.key = MessageKey{KeyText(nid)};
      info.internal_date = store_->GetInternalDate(nid);
      info.flags = FromMapi(store_->GetFlags(nid));
      info.headers = std::string(mime::HeaderBlock(original->head));
      info.size = original->size;
    } else {
      info = ForeignInfo(fid, nid);
    }
    infos_[nid] = info;
    return info;
  }

  // A message mailfs did not write: as the read-only backend renders it.
  MessageInfo ForeignInfo(std::uint32_t fid, std::uint32_t nid) {
    MessageKey key{KeyText(nid)};
    for (MessageInfo& m : Reader().ListMessages(FolderId{std::to_string(fid)})) {
      if (m.key == key) return m;
    }
    MessageInfo info;
    info.key = key;
    info.unreadable = true;
    info.error = Describe() + ": message " + key.value + " in folder " + std::to_string(fid) +
                 " cannot be read by libpff";
    return info;
  }

  Backend& Reader() {
    if (!reader_ || reader_generation_ != generation_) {
      reader_.reset();
      reader_ = OpenPstFile(path_, PstOptions{});
      reader_generation_ = generation_;
    }
    return *reader_;
  }

  const std::string path_;
  std::mutex mu_;
  std::unique_ptr<NdbFile> file_;
  std::unique_ptr<PstStore> store_;
  std::uint32_t root_ = 0;
  bool broken_ = false;
  std::map<std::uint32_t, MessageInfo> infos_;  // by message NID; dropped when the file is reloaded
  std::uint64_t generation_ = 0;                // bumped at every commit
  std::unique_ptr<Backend> reader_;             // libpff view of the file as of reader_generation_
  std::uint64_t reader_generation_ = 0;
};

}  // namespace

std::unique_ptr<Backend> OpenWritablePst(const std::string& path, const PstWriteOptions& options) {
  return std::make_unique<PstWriteBackend>(path, options);
}

}  // namespace mailfs::pst
