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
// Listings kept between mounts (IffOptions::cache_dir): one file per folder in
// "<cache_dir>/iff-listing-<fingerprint>/", holding each message's key, size
// and header block. The fingerprint covers the renderer version, this file's
// format and the name, size and modification time of every listed file, so
// an edited extract is never served stale sizes. Files are written to a
// temporary name and renamed; an unreadable or foreign file is ignored.
//
// Locking: after OpenIffExtract everything is immutable except the
// side-file cache. Lock order: IffBackend::cache_mu_ is the only lock
// and a leaf; it is never held while rendering, building side files or
// reading a file.
#include "backends/iff/iff_backend.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>
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
#include "backends/sha256.h"

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

// Bumped when the listing file format or the IFF-to-MIME mapping changes.
constexpr int kListingFormat = 1;

// The fingerprint of an extract's files (see the file comment).
std::string ExtractFingerprint(const Extract& extract) {
  std::ostringstream in;
  in << "mailfs iff listing " << kListingFormat << " renderer " << mime::kRendererVersion << "\n";
  for (const auto& file : extract.files) {
    struct stat st;
    if (::fstat(file->fd(), &st) != 0) {
      return std::string();
    }
    in << file->name() << "\t" << st.st_size << "\t" << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec << "\t"
       << st.st_ino << "\n";
  }
  return Sha256Hex(in.str()).substr(0, 32);
}

class IffBackend final : public Backend {
 public:
  IffBackend(std::string path, Extract extract, std::string listing_dir)
      : path_(std::move(path)), extract_(std::move(extract)), listing_dir_(std::move(listing_dir)) {
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
    std::unordered_map<std::string, std::pair<std::uint64_t, std::string>> kept = ReadKeptListing(index);
    std::vector<MessageInfo> listing;
    listing.reserve(extract_.folders[index].messages.size());
    bool rendered = false;
    for (std::size_t i : extract_.folders[index].messages) {
      const MessageEntry& entry = extract_.entries[i];
      auto it = kept.find(entry.key);
      if (it != kept.end() && entry.error.empty()) {
        MessageInfo info = BaseInfo(entry);
        info.size = it->second.first;
        info.headers = std::move(it->second.second);
        listing.push_back(std::move(info));
      } else {
        listing.push_back(Info(entry));
        rendered = rendered || entry.error.empty();
      }
    }
    if (rendered) {
      KeepListing(index, listing);
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

  // What a listing says of |entry| without rendering it.
  static MessageInfo BaseInfo(const MessageEntry& entry) {
    MessageInfo info;
    info.key = MessageKey{entry.key};
    info.internal_date = entry.internal_date;
    if (entry.seen) {
      info.flags.push_back("\\Seen");
    }
    return info;
  }

  std::string ListingPath(std::size_t index) const {
    return listing_dir_ + "/" + std::to_string(index) + ".list";
  }

  // The kept listing of folder |index|: key -> (size, header block). Empty
  // when there is none or it cannot be read.
  std::unordered_map<std::string, std::pair<std::uint64_t, std::string>> ReadKeptListing(
      std::size_t index) const {
    std::unordered_map<std::string, std::pair<std::uint64_t, std::string>> out;
    if (listing_dir_.empty()) {
      return out;
    }
    std::ifstream in(ListingPath(index), std::ios::binary);
    std::string magic;
    if (!in || !std::getline(in, magic) || magic != "mailfs-iff-listing " + std::to_string(kListingFormat)) {
      return out;
    }
    std::string key;
    while (std::getline(in, key, '\t')) {
      std::uint64_t size = 0;
      std::uint64_t length = 0;
      char tab = 0;
      char newline = 0;
      if (!(in >> size) || !in.get(tab) || tab != '\t' || !(in >> length) || !in.get(newline) ||
          newline != '\n' || length > (1u << 20)) {
        return {};
      }
      std::string headers(length, '\0');
      if (!in.read(headers.data(), static_cast<std::streamsize>(length))) {
        return {};
      }
      out.emplace(std::move(key), std::make_pair(size, std::move(headers)));
    }
    return out;
  }

  // Writes the listing of folder |index| for the next mount (best effort).
  void KeepListing(std::size_t index, const std::vector<MessageInfo>& listing) const {
    if (listing_dir_.empty()) {
      return;
    }
    std::string tmp = ListingPath(index) + ".tmp" + std::to_string(::getpid());
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << "mailfs-iff-listing " << kListingFormat << "\n";
      for (const MessageInfo& info : listing) {
        if (info.unreadable || !info.size) {
          continue;
        }
        out << info.key.value << '\t' << *info.size << '\t' << info.headers.size() << '\n' << info.headers;
      }
      if (!out.flush()) {
        ::unlink(tmp.c_str());
        return;
      }
    }
    if (::rename(tmp.c_str(), ListingPath(index).c_str()) != 0) {
      ::unlink(tmp.c_str());
    }
  }

  MessageInfo Info(const MessageEntry& entry) const {
    MessageInfo info = BaseInfo(entry);
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
  const std::string listing_dir_;  // empty: listings are not kept
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
  std::string listing_dir;
  if (!options.cache_dir.empty()) {
    std::string fingerprint = ExtractFingerprint(extract);
    if (!fingerprint.empty()) {
      listing_dir = options.cache_dir + "/iff-listing-" + fingerprint;
      // Listings of earlier versions of this extract are stale: remove them.
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator(options.cache_dir, ec)) {
        std::string name = e.path().filename().string();
        if (name.rfind("iff-listing-", 0) == 0 && e.path().string() != listing_dir) {
          std::filesystem::remove_all(e.path(), ec);
        }
      }
      std::filesystem::create_directories(listing_dir, ec);
      if (ec) {
        LOG(kWarning) << "cannot keep listings in " << listing_dir << ": " << ec.message();
        listing_dir.clear();
      }
    }
  }
  return std::make_unique<IffBackend>(path, std::move(extract), std::move(listing_dir));
}

}  // namespace mailfs::iff
