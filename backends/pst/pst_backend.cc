// Lock order: PstBackend::mu_ is the only lock; it is held around every libpff
// call and every access to the folder table and listing cache.
#include "backends/pst/pst_backend.h"

#include <sys/stat.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>

#include "backends/error.h"
#include "backends/log.h"
#include "backends/mime/header_decode.h"
#include "backends/mime/renderer.h"
#include "backends/pst/mapi_message.h"
#include "backends/pst/pff.h"
#include "backends/sha256.h"

namespace mailfs::pst {
namespace {

constexpr std::uint32_t kIpmSubtreeNid = 0x8022;

// Bumped whenever the kept listing's format or the MAPI-to-MIME conversion
// (mapi_message.cc, pim_items.cc, rtf_html.cc) changes what Fetch serves; part of
// the listing fingerprint with mime::kRendererVersion.
constexpr int kListingVersion = 4;
constexpr std::uint32_t kPstPassword = 0x67ff;

std::string Hex(std::uint32_t v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

std::uint32_t Identifier(libpff_item_t* item) {
  std::uint32_t id = 0;
  libpff_error_t* error = nullptr;
  Check(libpff_item_get_identifier(item, &id, &error), error, "item identifier");
  return id;
}

std::string FolderName(libpff_item_t* folder) {
  size_t size = 0;
  libpff_error_t* error = nullptr;
  if (Check(libpff_folder_get_utf8_name_size(folder, &size, &error), error, "folder name") != 1 || size == 0) {
    return "";
  }
  std::string name(size, '\0');
  error = nullptr;
  Check(libpff_folder_get_utf8_name(folder, reinterpret_cast<uint8_t*>(name.data()), size, &error), error,
        "folder name");
  name.resize(name.find('\0') == std::string::npos ? name.size() : name.find('\0'));
  return name;
}

// The header block (up to and including the empty line) of the bytes of
// |blob|, read in growing steps; the whole content if it has no empty line.
std::string HeaderBlockOf(const Blob& blob) {
  std::string head;
  std::uint64_t size = blob.Size();
  std::size_t want = 4096;
  while (head.size() < size) {
    std::size_t old = head.size();
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(want, size - old));
    head.resize(old + n);
    head.resize(old + blob.ReadAt(old, head.data() + old, n));
    if (head.size() == old) break;
    std::size_t from = old >= 3 ? old - 3 : 0;
    std::size_t crlf = head.find("\r\n\r\n", from);
    std::size_t lf = head.find("\n\n", from);
    if (crlf != std::string::npos && (lf == std::string::npos || crlf + 2 <= lf)) return head.substr(0, crlf + 4);
    if (lf != std::string::npos) return head.substr(0, lf + 2);
    want *= 2;
  }
  return head;
}

struct FolderNode {
  Item item;  // kept open for the mount's life
  std::string name;
  std::vector<std::uint32_t> children;
  int message_count = 0;
  bool listed = false;
  std::vector<MessageInfo> listing;
};

class PstBackend final : public Backend {
 public:
  PstBackend(const std::string& path, const PstOptions& options) : path_(path), options_(options) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      int err = errno;
      throw Error(err == ENOENT ? Errc::kNotFound : Errc::kIo, path + ": " + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) throw Error(Errc::kInvalid, path + ": not a regular file");
    if (!options.cache_dir.empty()) listing_dir_ = PrepareListingDir(options.cache_dir, st);
    std::lock_guard<std::mutex> lock(mu_);
    file_ = std::make_unique<File>(path);
    try {
      CheckPassword();
      Item root;
      libpff_error_t* error = nullptr;
      if (Check(libpff_file_get_root_folder(file_->get(), root.out(), &error), error, "root folder") != 1) {
        throw Error(Errc::kCorrupt, "no root folder");
      }
      Item ipm = FindIpmSubtree(root.get());
      root_ = Identifier(ipm.get());
      Walk(std::move(ipm), "", 0);
    } catch (const Error& e) {
      throw Error(Errc::kCorrupt, path + ": " + e.what());
    }
    if (options_.strict) {
      for (auto& [id, node] : folders_) {
        ListLocked(id);
        for (const MessageInfo& info : node.listing) {
          if (info.unreadable) throw Error(Errc::kCorrupt, info.error);
        }
      }
    }
  }

  std::string Describe() const override { return "pst:" + path_; }

  Capabilities GetCapabilities() const override { return Capabilities{}; }

  FolderId Root() const override { return FolderId{std::to_string(root_)}; }

  std::vector<FolderInfo> ListFolders(const FolderId& folder) override {
    std::lock_guard<std::mutex> lock(mu_);
    FolderNode& node = Node(folder);
    std::vector<FolderInfo> out;
    for (std::uint32_t child : node.children) {
      FolderInfo info;
      info.id = FolderId{std::to_string(child)};
      info.name = folders_.at(child).name;
      out.push_back(std::move(info));
    }
    return out;
  }

  std::vector<MessageInfo> ListMessages(const FolderId& folder) override {
    std::lock_guard<std::mutex> lock(mu_);
    return ListLocked(Id(folder));
  }

  BlobPtr Fetch(const FolderId& folder, const MessageKey& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::uint32_t fid = Id(folder);
    FolderNode& node = folders_.at(fid);
    ListLocked(fid);
    for (std::size_t i = 0; i < node.listing.size(); ++i) {
      const MessageInfo& info = node.listing[i];
      if (info.key != key) continue;
      if (info.unreadable) throw Error(Errc::kCorrupt, info.error);
      BlobPtr rendered;
      if (auto kept = fresh_.find(key.value); kept != fresh_.end()) {
        // Rendered by the listing a moment ago: served without reading the
        // item again (a copy reads each message once, right after listing).
        rendered = std::move(kept->second);
        fresh_bytes_ -= rendered->Size();
        fresh_.erase(kept);
        return rendered;
      }
      try {
        rendered = RenderAt(node, static_cast<int>(i), nullptr, nullptr);
      } catch (const Error& e) {
        // Read at listing, unreadable now: libpff met damage it had not
        // touched then (its caches differ between the two reads).
        std::string why = Where(node, "message " + std::to_string(i + 1) + ": " + e.what());
        LOG(kWarning) << why;
        throw Error(Errc::kCorrupt, why);
      }
      if (rendered->Size() != info.size) {
        // Only damaged data reads differently twice (libpff meets the damage
        // in another order): the item is as good as unreadable.
        std::string why = Where(node, "message " + std::to_string(i + 1) + " (" + key.value +
                                          "): rendering changed between listing and reading (" +
                                          std::to_string(info.size.value_or(0)) + " then " +
                                          std::to_string(rendered->Size()) + " bytes)");
        LOG(kWarning) << why;
        throw Error(Errc::kCorrupt, why);
      }
      return rendered;
    }
    throw Error(Errc::kNotFound, Describe() + ": no message " + key.value + " in folder " + node.name);
  }

 private:
  void CheckPassword() {
    // PidTagPstPassword protects PST files only; an OST (an Exchange cache)
    // has no such protection and may hold 0xFFFFFFFF there.
    std::uint8_t content = 0;
    libpff_error_t* type_error = nullptr;
    if (Check(libpff_file_get_content_type(file_->get(), &content, &type_error), type_error, "file type") == 1 &&
        content == LIBPFF_FILE_CONTENT_TYPE_OST) {
      return;
    }
    Item store;
    libpff_error_t* error = nullptr;
    if (Check(libpff_file_get_message_store(file_->get(), store.out(), &error), error, "message store") != 1) {
      return;
    }
    if (GetU32(store.get(), 0, kPstPassword).value_or(0) != 0) {
      throw Error(Errc::kCorrupt, "the file is password-protected; protected PST files are not supported");
    }
  }

  // The folder the message store names as its IPM subtree
  // (PR_IPM_SUBTREE_ENTRYID: flags, store UID, node id); an OST's is not
  // 0x8022. Empty Item when the store does not say or the folder cannot be
  // opened.
  Item StoreIpmSubtree() {
    try {
      Item store;
      libpff_error_t* error = nullptr;
      if (Check(libpff_file_get_message_store(file_->get(), store.out(), &error), error, "message store") != 1) {
        return Item();
      }
      std::optional<std::string> id = GetBytes(store.get(), 0, 0x35e0);
      if (!id || id->size() != 24) return Item();
      std::uint32_t nid = 0;
      for (int i = 3; i >= 0; --i) nid = (nid << 8) | static_cast<unsigned char>((*id)[20 + static_cast<std::size_t>(i)]);
      Item folder;
      error = nullptr;
      if (Check(libpff_file_get_item_by_identifier(file_->get(), nid, folder.out(), &error), error, "IPM subtree") != 1) {
        return Item();
      }
      std::uint8_t type = 0;
      error = nullptr;
      if (Check(libpff_item_get_type(folder.get(), &type, &error), error, "IPM subtree") != 1 ||
          type != LIBPFF_ITEM_TYPE_FOLDER) {
        return Item();
      }
      return folder;
    } catch (const Error& e) {
      LOG(kWarning) << path_ << ": the store's IPM subtree entry is not usable (" << e.what()
                    << "); looking for it by node id and name";
      return Item();
    }
  }

  Item FindIpmSubtree(libpff_item_t* root) {
    if (Item from_store = StoreIpmSubtree()) return from_store;
    int n = 0;
    libpff_error_t* error = nullptr;
    Check(libpff_folder_get_number_of_sub_folders(root, &n, &error), error, "root sub-folders");
    std::optional<int> by_name, mailbox;
    for (int i = 0; i < n; ++i) {
      Item sub;
      error = nullptr;
      if (libpff_folder_get_sub_folder(root, i, sub.out(), &error) != 1) {
        if (error != nullptr) libpff_error_free(&error);
        continue;
      }
      if (Identifier(sub.get()) == kIpmSubtreeNid) return sub;
      std::string name = FolderName(sub.get());
      if (!by_name && (name == "Top of Personal Folders" || name == "Top of Outlook data file" ||
                       name == "Top of Information Store")) {
        by_name = i;
      }
      if (!by_name && name == "Root - Mailbox") mailbox = i;
    }
    if (!by_name && mailbox) {
      // An OST: the mailbox root holds IPM_SUBTREE.
      Item box;
      error = nullptr;
      Check(libpff_folder_get_sub_folder(root, *mailbox, box.out(), &error), error, "mailbox root");
      int m = 0;
      error = nullptr;
      Check(libpff_folder_get_number_of_sub_folders(box.get(), &m, &error), error, "mailbox sub-folders");
      for (int i = 0; i < m; ++i) {
        Item sub;
        error = nullptr;
        if (libpff_folder_get_sub_folder(box.get(), i, sub.out(), &error) != 1) {
          if (error != nullptr) libpff_error_free(&error);
          continue;
        }
        if (FolderName(sub.get()) == "IPM_SUBTREE") return sub;
      }
    }
    if (by_name) {
      Item sub;
      error = nullptr;
      Check(libpff_folder_get_sub_folder(root, *by_name, sub.out(), &error), error, "IPM subtree");
      return sub;
    }
    throw Error(Errc::kCorrupt, "no IPM subtree (top of personal folders) found");
  }

  // Records |folder| and, recursively, its sub-folders. A sub-folder that
  // cannot be read is skipped (logged) unless strict.
  void Walk(Item folder, const std::string& path, int depth) {
    std::uint32_t id = Identifier(folder.get());
    if (folders_.count(id) != 0 || depth > 64) return;  // loops in a corrupt file
    FolderNode& node = folders_[id];
    node.name = depth == 0 ? "" : FolderName(folder.get());
    if (depth > 0 && node.name.empty()) node.name = "folder-" + Hex(id);
    std::string here = depth == 0 ? "" : path + "/" + node.name;
    libpff_error_t* error = nullptr;
    int messages = 0;
    if (libpff_folder_get_number_of_sub_messages(folder.get(), &messages, &error) != 1) {
      std::string why = TakeError(error);
      if (options_.strict) throw Error(Errc::kCorrupt, "folder " + here + " (" + Hex(id) + "): " + why);
      LOG(kWarning) << path_ << ": folder " << here << " (" << Hex(id) << "): messages not readable: " << why;
      messages = 0;
    }
    node.message_count = messages;
    int n = 0;
    error = nullptr;
    if (libpff_folder_get_number_of_sub_folders(folder.get(), &n, &error) != 1) {
      std::string why = TakeError(error);
      if (options_.strict) throw Error(Errc::kCorrupt, "folder " + here + " (" + Hex(id) + "): " + why);
      LOG(kWarning) << path_ << ": folder " << here << " (" << Hex(id) << "): sub-folders not readable: " << why;
      n = 0;
    }
    libpff_item_t* raw = folder.get();
    node.item = std::move(folder);
    for (int i = 0; i < n; ++i) {
      Item sub;
      error = nullptr;
      std::uint32_t sub_id = 0;
      try {
        if (Check(libpff_folder_get_sub_folder(raw, i, sub.out(), &error), error, "sub-folder") != 1) continue;
        sub_id = Identifier(sub.get());
      } catch (const Error& e) {
        if (options_.strict) throw Error(Errc::kCorrupt, "folder " + here + ": " + e.what());
        LOG(kWarning) << path_ << ": folder " << here << ": sub-folder " << i << " skipped: " << e.what();
        continue;
      }
      if (folders_.count(sub_id) != 0) continue;
      try {
        Walk(std::move(sub), here, depth + 1);
      } catch (const Error& e) {
        if (options_.strict) throw;
        folders_.erase(sub_id);
        LOG(kWarning) << path_ << ": folder " << here << ": sub-folder " << Hex(sub_id) << " skipped: " << e.what();
        continue;
      }
      folders_.at(id).children.push_back(sub_id);
    }
  }

  std::uint32_t Id(const FolderId& folder) const {
    try {
      std::size_t used = 0;
      unsigned long v = std::stoul(folder.value, &used);
      if (used == folder.value.size() && folders_.count(static_cast<std::uint32_t>(v)) != 0) {
        return static_cast<std::uint32_t>(v);
      }
    } catch (const std::exception&) {
    }
    throw Error(Errc::kNotFound, Describe() + ": no folder " + folder.value);
  }

  FolderNode& Node(const FolderId& folder) { return folders_.at(Id(folder)); }

  std::string Where(const FolderNode& node, const std::string& what) const {
    return path_ + ": folder \"" + (node.name.empty() ? std::string("/") : node.name) + "\": " + what;
  }

  // The bytes of message |index| of |node|: the MIME bytes it was stored with
  // when it keeps them (mailfs_props.h), else its rendering. Attachments are
  // base64-encoded as they are read, never held encoded. Sets |*id| and the
  // date and flags of |*info| when given.
  BlobPtr RenderAt(FolderNode& node, int index, std::uint32_t* id, MessageInfo* info) {
    Item message;
    libpff_error_t* error = nullptr;
    if (Check(libpff_folder_get_sub_message(node.item.get(), index, message.out(), &error), error, "message") != 1) {
      throw Error(Errc::kCorrupt, "message " + std::to_string(index) + " missing");
    }
    std::uint32_t nid = Identifier(message.get());
    if (id != nullptr) *id = nid;
    try {
      if (info != nullptr) {
        info->internal_date = DeliveryTime(message.get());
        info->flags = MessageFlags(message.get());
      }
      if (std::optional<std::string> original = OriginalMime(message.get())) {
        return MakeStringBlob(std::move(*original));
      }
      mime::Message m = BuildMessage(message.get());
      mime::RenderOptions ro;
      // Boundaries named after the item ("=_pst_<node id>_1", ...): the same
      // on every mount, and the exact size is known without reading the
      // attachments through an encoder to hash them.
      ro.boundary_style = mime::BoundaryStyle::kPrefix;
      ro.boundary_prefix = "=_pst_" + Hex(nid).substr(2);
      ro.keep_extra_headers = true;
      return mime::Render(m, ro);
    } catch (const Error& e) {
      throw Error(Errc::kCorrupt, "node " + Hex(nid) + ": " + e.what());
    }
  }

  // The directory for this file's kept listings (created; older ones of the
  // same source removed), or "" when it cannot be used.
  static std::string PrepareListingDir(const std::string& cache_dir, const struct stat& st) {
    std::ostringstream in;
    in << "mailfs pst listing " << kListingVersion << " renderer " << mime::kRendererVersion << "\n"
       << st.st_size << "\t" << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec << "\t" << st.st_dev << "\t"
       << st.st_ino << "\n";
    std::string dir = cache_dir + "/pst-listing-" + Sha256Hex(in.str()).substr(0, 32);
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(cache_dir, ec)) {
      std::string name = e.path().filename().string();
      if (name.rfind("pst-listing-", 0) == 0 && e.path().string() != dir) std::filesystem::remove_all(e.path(), ec);
    }
    ec.clear();
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      LOG(kWarning) << "cannot keep listings in " << dir << ": " << ec.message();
      return "";
    }
    return dir;
  }

  std::string ListingPath(std::uint32_t fid) const { return listing_dir_ + "/" + Hex(fid) + ".list"; }

  // The kept listing of folder |fid| with |count| messages; nullopt when
  // there is none or it does not read back whole.
  std::optional<std::vector<MessageInfo>> ReadKeptListing(std::uint32_t fid, int count) const {
    if (listing_dir_.empty()) return std::nullopt;
    std::ifstream in(ListingPath(fid), std::ios::binary);
    std::string magic;
    long long kept_count = -1;
    if (!in || !std::getline(in, magic) || magic != "mailfs-pst-listing " + std::to_string(kListingVersion) ||
        !(in >> kept_count) || kept_count != count || in.get() != '\n') {
      return std::nullopt;
    }
    std::vector<MessageInfo> out;
    for (int i = 0; i < count; ++i) {
      MessageInfo info;
      std::string key, flags;
      long long date = 0;
      unsigned long long size = 0, error_length = 0, header_length = 0;
      int unreadable = 0;
      if (!std::getline(in, key, '\t') || !(in >> date) || in.get() != '\t' || !std::getline(in, flags, '\t') ||
          !(in >> size) || in.get() != '\t' || !(in >> unreadable) || in.get() != '\t' || !(in >> error_length) ||
          in.get() != '\t' || !(in >> header_length) || in.get() != '\n' || error_length > (1u << 16) ||
          header_length > (1u << 24)) {
        return std::nullopt;
      }
      info.key = MessageKey{key};
      info.internal_date = date;
      std::istringstream words(flags);
      for (std::string f; words >> f;) info.flags.push_back(f);
      info.unreadable = unreadable != 0;
      info.error.resize(error_length);
      info.headers.resize(header_length);
      if (!in.read(info.error.data(), static_cast<std::streamsize>(error_length)) ||
          !in.read(info.headers.data(), static_cast<std::streamsize>(header_length))) {
        return std::nullopt;
      }
      if (!info.unreadable) info.size = size;
      out.push_back(std::move(info));
    }
    return out;
  }

  // Writes the listing of folder |fid| for the next mount (best effort).
  void KeepListing(std::uint32_t fid, const std::vector<MessageInfo>& listing) const {
    if (listing_dir_.empty()) return;
    std::string tmp = ListingPath(fid) + ".tmp" + std::to_string(::getpid());
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << "mailfs-pst-listing " << kListingVersion << "\n" << listing.size() << "\n";
      for (const MessageInfo& info : listing) {
        std::string flags;
        for (const std::string& f : info.flags) flags += (flags.empty() ? "" : " ") + f;
        out << info.key.value << '\t' << info.internal_date << '\t' << flags << '\t' << info.size.value_or(0)
            << '\t' << (info.unreadable ? 1 : 0) << '\t' << info.error.size() << '\t' << info.headers.size() << '\n'
            << info.error << info.headers;
      }
      if (!out.flush()) {
        ::unlink(tmp.c_str());
        return;
      }
    }
    if (::rename(tmp.c_str(), ListingPath(fid).c_str()) != 0) ::unlink(tmp.c_str());
  }

  std::vector<MessageInfo>& ListLocked(std::uint32_t fid) {
    FolderNode& node = folders_.at(fid);
    if (node.listed) return node.listing;
    if (std::optional<std::vector<MessageInfo>> kept = ReadKeptListing(fid, node.message_count)) {
      node.listing = std::move(*kept);
      node.listed = true;
      return node.listing;
    }
    std::vector<MessageInfo> out;
    for (int i = 0; i < node.message_count; ++i) {
      MessageInfo info;
      std::uint32_t nid = 0;
      BlobPtr rendered;
      try {
        rendered = RenderAt(node, i, &nid, &info);
        info.size = rendered->Size();
        info.headers = HeaderBlockOf(*rendered);
      } catch (const Error& e) {
        rendered.reset();
        info = MessageInfo();
        info.unreadable = true;
        info.error = Where(node, std::string("message ") + std::to_string(i + 1) + ": " + e.what());
        LOG(kWarning) << info.error;
      }
      info.key = MessageKey{nid != 0 ? "pst:" + Hex(nid) : "pst:folder-" + Hex(fid) + "-" + std::to_string(i)};
      if (rendered && fresh_bytes_ + rendered->Size() <= kFreshBudget && fresh_.count(info.key.value) == 0) {
        fresh_bytes_ += rendered->Size();
        fresh_.emplace(info.key.value, std::move(rendered));
      }
      out.push_back(std::move(info));
    }
    node.listing = std::move(out);
    node.listed = true;
    KeepListing(fid, node.listing);
    return node.listing;
  }

  const std::string path_;
  const PstOptions options_;
  std::string listing_dir_;  // set in the constructor; empty: listings are not kept
  std::mutex mu_;
  std::unique_ptr<File> file_;          // guarded by mu_
  std::uint32_t root_ = 0;
  std::map<std::uint32_t, FolderNode> folders_;  // guarded by mu_
  // Renderings made by a listing, kept until their first Fetch (at most
  // kFreshBudget bytes; the earliest listed are kept, as a copy reads them
  // first; the budget counts against the daemon's 150 MiB). Guarded by mu_.
  static constexpr std::uint64_t kFreshBudget = 16u << 20;
  std::map<std::string, BlobPtr> fresh_;
  std::uint64_t fresh_bytes_ = 0;
};

}  // namespace
}  // namespace mailfs::pst

#if defined(__SANITIZE_ADDRESS__)
// libpff 20180714 drops some of its own error objects (and, on damaged
// tables, column definitions) on paths where it reports an error for a
// corrupt item; they are allocated inside libpff and never reachable from
// here. Leak reports whose stack goes through libpff are therefore not ours.
extern "C" const char* __lsan_default_suppressions() { return "leak:libpff.so\n"; }
#endif

namespace mailfs::pst {

std::unique_ptr<Backend> OpenPstFile(const std::string& path, const PstOptions& options) {
  return std::make_unique<PstBackend>(path, options);
}

}  // namespace mailfs::pst
