#include "backends/memory/memory_backend.h"

#include <string_view>

#include "backends/mime/header_decode.h"

namespace mailfs::memory {
namespace {

std::string EscapeComponent(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == '%') {
      out += "%25";
    } else if (c == '/') {
      out += "%2F";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string UnescapeComponent(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s.substr(i, 3) == "%2F") {
      out.push_back('/');
      i += 2;
    } else if (s.substr(i, 3) == "%25") {
      out.push_back('%');
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::uint64_t ParseKey(const MessageKey& key) {
  constexpr std::string_view kPrefix = "mem:";
  if (key.value.rfind(kPrefix, 0) != 0) throw Error(Errc::kNotFound, "no such message: " + key.value);
  try {
    return std::stoull(key.value.substr(kPrefix.size()));
  } catch (const std::exception&) {
    throw Error(Errc::kNotFound, "no such message: " + key.value);
  }
}

MessageKey MakeKey(std::uint64_t serial) { return MessageKey{"mem:" + std::to_string(serial)}; }

}  // namespace

MemoryBackend::MemoryBackend() = default;

Capabilities MemoryBackend::GetCapabilities() const {
  Capabilities caps;
  caps.writable = true;
  caps.folders_writable = true;
  caps.can_set_internal_date = true;
  caps.folders_hold_messages_at_root = false;
  return caps;
}

std::string MemoryBackend::ChildId(const FolderId& parent, const std::string& name) {
  std::string id = parent.value;
  if (id.back() != '/') id.push_back('/');
  return id + EscapeComponent(name);
}

MemoryBackend::Folder& MemoryBackend::FindFolder(const FolderId& id) {
  if (id.value.empty() || id.value[0] != '/') throw Error(Errc::kNotFound, "no such folder: " + id.value);
  Folder* f = &root_;
  std::string_view rest(id.value);
  rest.remove_prefix(1);
  while (!rest.empty()) {
    std::size_t slash = rest.find('/');
    std::string name = UnescapeComponent(rest.substr(0, slash));
    auto it = f->children.find(name);
    if (it == f->children.end()) throw Error(Errc::kNotFound, "no such folder: " + id.value);
    f = it->second.get();
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  return *f;
}

MemoryBackend::Message& MemoryBackend::FindMessage(Folder& folder, const MessageKey& key,
                                                   std::uint64_t* serial) {
  std::uint64_t s = ParseKey(key);
  auto it = folder.messages.find(s);
  if (it == folder.messages.end()) throw Error(Errc::kNotFound, "no such message: " + key.value);
  if (serial != nullptr) *serial = s;
  return it->second;
}

std::vector<FolderInfo> MemoryBackend::ListFolders(const FolderId& folder) {
  std::lock_guard<std::mutex> lock(mu_);
  Folder& f = FindFolder(folder);
  std::vector<FolderInfo> out;
  for (const auto& [name, child] : f.children) {
    FolderInfo info;
    info.id = FolderId{ChildId(folder, name)};
    info.name = name;
    out.push_back(std::move(info));
  }
  return out;
}

std::vector<MessageInfo> MemoryBackend::ListMessages(const FolderId& folder) {
  std::lock_guard<std::mutex> lock(mu_);
  Folder& f = FindFolder(folder);
  std::vector<MessageInfo> out;
  out.reserve(f.messages.size());
  for (const auto& [serial, m] : f.messages) {
    MessageInfo info;
    info.key = MakeKey(serial);
    info.internal_date = m.internal_date;
    info.flags = m.flags;
    info.headers = std::string(mime::HeaderBlock(m.content->data()));
    info.size = m.content->Size();
    out.push_back(std::move(info));
  }
  return out;
}

BlobPtr MemoryBackend::Fetch(const FolderId& folder, const MessageKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  return FindMessage(FindFolder(folder), key, nullptr).content;
}

std::optional<MessageKey> MemoryBackend::Append(const FolderId& folder, const Blob& content,
                                                const Flags& flags, std::int64_t internal_date) {
  std::string bytes = ReadAll(content);  // outside the lock: content may be a slow file
  std::lock_guard<std::mutex> lock(mu_);
  Folder& f = FindFolder(folder);
  if (fail_appends_ > 0) {
    --fail_appends_;
    throw Error(fail_code_, "injected append failure");
  }
  std::uint64_t serial = next_serial_++;
  f.messages[serial] = Message{std::make_shared<StringBlob>(std::move(bytes)), internal_date, flags};
  return MakeKey(serial);
}

void MemoryBackend::Delete(const FolderId& folder, const MessageKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  Folder& f = FindFolder(folder);
  std::uint64_t serial = 0;
  FindMessage(f, key, &serial);
  f.messages.erase(serial);
}

std::optional<MessageKey> MemoryBackend::Move(const FolderId& from, const MessageKey& key,
                                              const FolderId& to) {
  std::lock_guard<std::mutex> lock(mu_);
  Folder& src = FindFolder(from);
  Folder& dst = FindFolder(to);
  std::uint64_t serial = 0;
  Message m = FindMessage(src, key, &serial);
  src.messages.erase(serial);
  std::uint64_t moved = next_serial_++;
  dst.messages[moved] = std::move(m);
  return MakeKey(moved);
}

void MemoryBackend::SetFlags(const FolderId& folder, const MessageKey& key, const Flags& flags) {
  std::lock_guard<std::mutex> lock(mu_);
  FindMessage(FindFolder(folder), key, nullptr).flags = flags;
}

MessageKey MemoryBackend::SetInternalDate(const FolderId& folder, const MessageKey& key,
                                          std::int64_t internal_date) {
  std::lock_guard<std::mutex> lock(mu_);
  FindMessage(FindFolder(folder), key, nullptr).internal_date = internal_date;
  return key;
}

FolderId MemoryBackend::CreateFolder(const FolderId& parent, const std::string& name) {
  if (name.empty() || name == "." || name == "..") throw Error(Errc::kInvalid, "invalid folder name");
  std::lock_guard<std::mutex> lock(mu_);
  Folder& p = FindFolder(parent);
  if (p.children.count(name) != 0) throw Error(Errc::kExists, "folder exists: " + name);
  p.children[name] = std::make_unique<Folder>();
  return FolderId{ChildId(parent, name)};
}

FolderId MemoryBackend::RenameFolder(const FolderId& folder, const FolderId& new_parent,
                                     const std::string& new_name) {
  if (new_name.empty() || new_name == "." || new_name == "..") {
    throw Error(Errc::kInvalid, "invalid folder name");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (folder.value == "/") throw Error(Errc::kInvalid, "cannot rename the root");
  std::size_t slash = folder.value.rfind('/');
  FolderId parent{slash == 0 ? "/" : folder.value.substr(0, slash)};
  std::string old_name = UnescapeComponent(folder.value.substr(slash + 1));
  Folder& src_parent = FindFolder(parent);
  Folder& dst_parent = FindFolder(new_parent);
  std::string target = ChildId(new_parent, new_name);
  if (target.rfind(folder.value + "/", 0) == 0) throw Error(Errc::kInvalid, "cannot move a folder into itself");
  if (target == folder.value) return folder;
  if (dst_parent.children.count(new_name) != 0) throw Error(Errc::kExists, "folder exists: " + new_name);
  auto node = std::move(src_parent.children.at(old_name));
  src_parent.children.erase(old_name);
  dst_parent.children[new_name] = std::move(node);
  return FolderId{target};
}

void MemoryBackend::DeleteFolder(const FolderId& folder) {
  std::lock_guard<std::mutex> lock(mu_);
  if (folder.value == "/") throw Error(Errc::kInvalid, "cannot delete the root");
  Folder& f = FindFolder(folder);
  if (!f.children.empty() || !f.messages.empty()) throw Error(Errc::kNotEmpty, "folder not empty");
  std::size_t slash = folder.value.rfind('/');
  FolderId parent{slash == 0 ? "/" : folder.value.substr(0, slash)};
  FindFolder(parent).children.erase(UnescapeComponent(folder.value.substr(slash + 1)));
}

void MemoryBackend::FailNextAppends(int count, Errc code) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_appends_ = count;
  fail_code_ = code;
}

std::size_t MemoryBackend::MessageCount(const FolderId& folder) {
  std::lock_guard<std::mutex> lock(mu_);
  return FindFolder(folder).messages.size();
}

}  // namespace mailfs::memory
