// The IFF Backend: opens an extract, builds its folder tree and message
// entries once (extract_builder.h), then serves listings and renderings.
//
// Identity: FolderId is the decimal index of a folder node ("0" is the root);
// MessageKey is "iff:<primary file>:<first physical line>" (for PAB
// messages, the line of their section line).
//
// Side files (Backend::ListSideFiles), plain files that are not messages:
//  * in each mailbox folder with PAB sections, "Personal Address Book.vcf":
//    the vCards of all its PAB sections, in processing order;
//  * at the root, for DIRECTORY sections in processing order, "Directory.csv"
//    (the first section), "Directory-2.csv", "Directory-3.csv", ... (the
//    others) and "Directory.vcf" (the vCards of every section).
// A file built from a section with a broken row is listed but unreadable:
// its reads throw kCorrupt with the IFF_E_... text.
//
// Locking: after OpenIffExtract everything is immutable except the
// side-file cache. Lock order: IffBackend::cache_mu_ is the only lock
// and a leaf; it is never held while rendering, building side files or
// reading a file.
#include "backends/iff/iff_backend.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <utility>

#include "backends/iff/extract_builder.h"
#include "backends/iff/iff_error.h"
#include "backends/iff/model_builder.h"
#include "backends/iff/packing_list.h"
#include "backends/iff/primary.h"
#include "backends/iff/secondary.h"
#include "backends/log.h"
#include "backends/mime/renderer.h"

namespace mailfs::iff {

namespace {

// The header block of a rendering: every header line with its CR LF, without
// the empty line that ends the block.
std::string ReadHeaderBlock(const Blob& blob) {
  constexpr std::size_t kStep = 4096;
  constexpr std::size_t kMax = 1 << 20;
  std::string out;
  while (out.size() < kMax) {
    std::size_t old = out.size();
    out.resize(old + kStep);
    std::size_t got = blob.ReadAt(old, out.data() + old, kStep);
    out.resize(old + got);
    std::size_t end = out.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
    if (end != std::string::npos) {
      // A copy, not a resize: listings keep thousands of these, and the
      // buffer's capacity would stay at a whole read step.
      return out.substr(0, end + 2);
    }
    if (got == 0) {
      break;
    }
  }
  return out;
}

// A side file that cannot be produced: every read throws kCorrupt with the
// error text. Its size is that of the text, so that reads reach it.
class UnreadableBlob final : public Blob {
 public:
  explicit UnreadableBlob(std::string error) : error_(std::move(error)) {}
  std::uint64_t Size() const override { return error_.size(); }
  std::size_t ReadAt(std::uint64_t offset, char* buf, std::size_t n) const override {
    (void)offset, (void)buf, (void)n;
    throw Error(Errc::kCorrupt, error_);
  }

 private:
  std::string error_;
};

// |text|, or an unreadable Blob if |error| is set.
BlobPtr SideContent(std::string text, const std::string& error) {
  if (!error.empty()) {
    return std::make_shared<UnreadableBlob>(error);
  }
  return MakeStringBlob(std::move(text));
}

// Drops folders that hold no message, directly or below them.
bool Prune(Extract& extract, std::size_t node) {
  FolderNode& folder = extract.folders[node];
  std::vector<std::size_t> kept;
  for (std::size_t child : folder.children) {
    if (Prune(extract, child)) {
      kept.push_back(child);
    }
  }
  extract.folders[node].children = std::move(kept);
  return !extract.folders[node].children.empty() || !extract.folders[node].messages.empty();
}

class IffBackend final : public Backend {
 public:
  IffBackend(std::string path, Extract extract)
      : path_(std::move(path)), extract_(std::move(extract)) {
    for (std::size_t i = 0; i < extract_.entries.size(); ++i) {
      by_key_.emplace(extract_.entries[i].key, i);
    }
  }

  std::string Describe() const override { return "iff:" + path_; }

  Capabilities GetCapabilities() const override { return Capabilities{}; }

  FolderId Root() const override { return FolderId{"0"}; }

  std::vector<FolderInfo> ListFolders(const FolderId& folder) override {
    const FolderNode& node = extract_.folders[Index(folder)];
    std::vector<FolderInfo> out;
    for (std::size_t child : node.children) {
      const FolderNode& c = extract_.folders[child];
      out.push_back(FolderInfo{FolderId{std::to_string(child)}, c.name, c.special_use, true});
    }
    return out;
  }

  // Not cached: fs/ lists a read-only folder once per mount, and a second
  // copy of every header block would double the listing's memory.
  std::vector<MessageInfo> ListMessages(const FolderId& folder) override {
    std::size_t index = Index(folder);
    std::vector<MessageInfo> listing;
    listing.reserve(extract_.folders[index].messages.size());
    for (std::size_t entry : extract_.folders[index].messages) {
      listing.push_back(Info(extract_.entries[entry]));
    }
    return listing;
  }

  std::vector<SideFile> ListSideFiles(const FolderId& folder) override {
    std::size_t index = Index(folder);
    {
      std::lock_guard<std::mutex> lock(cache_mu_);
      auto it = side_files_.find(index);
      if (it != side_files_.end()) {
        return *it->second;
      }
    }
    auto files = std::make_shared<std::vector<SideFile>>(BuildSideFiles(index));
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto [it, inserted] = side_files_.emplace(index, std::move(files));
    return *it->second;
  }

  BlobPtr Fetch(const FolderId& folder, const MessageKey& key) override {
    std::size_t index = Index(folder);
    auto it = by_key_.find(key.value);
    if (it == by_key_.end() || extract_.entries[it->second].folder != index) {
      throw Error(Errc::kNotFound, "no message " + key.value + " in this folder");
    }
    const MessageEntry& entry = extract_.entries[it->second];
    if (!entry.error.empty()) {
      throw Error(Errc::kCorrupt, entry.error);
    }
    return RenderEntry(entry);
  }

 private:
  std::size_t Index(const FolderId& folder) const {
    std::optional<std::uint64_t> n = ParseU64(folder.value);
    if (!n || *n >= extract_.folders.size() || (*n != 0 && !Reachable(*n))) {
      throw Error(Errc::kNotFound, "no such folder in " + Describe());
    }
    return static_cast<std::size_t>(*n);
  }

  // False for folders pruned from the tree.
  bool Reachable(std::size_t node) const {
    while (node != 0) {
      std::size_t parent = extract_.folders[node].parent;
      const auto& siblings = extract_.folders[parent].children;
      if (std::find(siblings.begin(), siblings.end(), node) == siblings.end()) {
        return false;
      }
      node = parent;
    }
    return true;
  }

  BlobPtr RenderEntry(const MessageEntry& entry) const {
    mime::Message message;
    switch (entry.kind) {
      case EntryKind::kMail:
        message = BuildMailMessage(extract_.mails[entry.index], entry.origin);
        break;
      case EntryKind::kPab:
        message = BuildPabMessage(extract_.pabs[entry.index], entry.origin);
        break;
    }
    return mime::Render(message, IffRenderOptions(entry.origin));
  }

  // The side files of folder |index| (see the file comment); no file when
  // the extract has no PAB or DIRECTORY section for it.
  std::vector<SideFile> BuildSideFiles(std::size_t index) const {
    std::vector<SideFile> out;
    if (index == 0) {
      std::string vcards;
      std::string error;
      for (std::size_t i = 0; i < extract_.directories.size(); ++i) {
        const DirectoryRecord& record = extract_.directories[i];
        std::string name = i == 0 ? "Directory.csv" : "Directory-" + std::to_string(i + 1) + ".csv";
        out.push_back(SideFile{name, SideContent(DirectoryCsv(record), record.error), 0});
        vcards += DirectoryVcards(record);
        if (error.empty()) {
          error = record.error;
        }
      }
      if (!extract_.directories.empty()) {
        out.push_back(SideFile{"Directory.vcf", SideContent(std::move(vcards), error), 0});
      }
      return out;
    }
    if (extract_.folders[index].parent != 0) {
      return out;
    }
    // A mailbox folder: its PAB messages sit in its Inbox.
    bool any = false;
    std::string vcards;
    std::string error;
    for (const MessageEntry& entry : extract_.entries) {
      if (entry.kind != EntryKind::kPab || extract_.folders[entry.folder].parent != index) {
        continue;
      }
      any = true;
      vcards += PabVcards(extract_.pabs[entry.index]);
      if (error.empty()) {
        error = entry.error;
      }
    }
    if (any) {
      out.push_back(
          SideFile{"Personal Address Book.vcf", SideContent(std::move(vcards), error), 0});
    }
    return out;
  }

  MessageInfo Info(const MessageEntry& entry) const {
    MessageInfo info;
    info.key = MessageKey{entry.key};
    info.internal_date = entry.internal_date;
    if (entry.seen) {
      info.flags.push_back("\\Seen");
    }
    if (!entry.error.empty()) {
      info.unreadable = true;
      info.error = entry.error;
      return info;
    }
    try {
      BlobPtr blob = RenderEntry(entry);
      info.size = blob->Size();
      info.headers = ReadHeaderBlock(*blob);
    } catch (const Error& e) {
      info.unreadable = true;
      info.error = std::string(e.what());
      LOG(kWarning) << entry.key << ": " << e.what();
    }
    return info;
  }

  const std::string path_;
  const Extract extract_;
  std::map<std::string, std::size_t> by_key_;

  std::mutex cache_mu_;  // guards side_files_
  std::map<std::size_t, std::shared_ptr<const std::vector<SideFile>>> side_files_;
};

}  // namespace

std::unique_ptr<Backend> OpenIffExtract(const std::string& path, const IffOptions& options) {
  ExtractDir dir(path);
  PackingList pkl = ParsePackingList(dir.ReadPackingList(), dir.pkl_name());
  Extract extract;
  extract.codepage = pkl.codepage;
  std::vector<std::pair<std::shared_ptr<ExtractFile>, const PackingEntry*>> primaries;
  for (const PackingEntry& entry : pkl.entries) {
    std::shared_ptr<ExtractFile> file = dir.Open(entry.name, entry.line);
    extract.files.push_back(file);
    if (entry.role == FileRole::kPrimary) {
      extract.primaries.insert(AsciiLower(entry.name));
      primaries.emplace_back(file, &entry);
    } else {
      std::uint64_t column_length = CheckSecondaryFileHeader(*file);
      extract.secondaries.emplace(AsciiLower(entry.name), ListedSecondary{file, column_length});
    }
  }
  for (const auto& [file, entry] : primaries) {
    ExtractBuilder builder(extract, options, entry->name);
    std::uint64_t bare_lf_line = 0;
    ParsePrimary(*file, builder, &bare_lf_line);
    if (bare_lf_line != 0) {
      LOG(kWarning) << entry->name << " line " << bare_lf_line
                    << ": line ends with LF instead of CR LF; accepted";
    }
  }
  Prune(extract, 0);
  return std::make_unique<IffBackend>(path, std::move(extract));
}

}  // namespace mailfs::iff
