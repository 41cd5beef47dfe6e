// The Backend interface (design.md §2): what every mail store — IMAP, PST, IFF,
// memory — offers the core in fs/. Backends never see FUSE and never speak
// errno: failures are mailfs::Error with an Errc (backends/error.h).
//
// Identity model:
//  * FolderId is opaque to fs/ and stable for the mount's life. The root folder
//    is Root(); its children are the top-level directories of the mount.
//  * MessageKey names one message's bytes for as long as the store keeps it
//    (IMAP "imap:UIDVALIDITY/UID", PST "pst:0x200024", IFF "iff:FILE.PRI:line",
//    memory "mem:N"). It is shown as the xattr user.mail.id.
//  * A message's bytes never change under one MessageKey: a replaced message
//    gets a new key.
//
// Concurrency: every method may be called from several FUSE threads at once;
// each backend documents its own locking in its header. fs/ holds no lock of
// its own across a backend call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/blob.h"
#include "backends/error.h"

namespace mailfs {

struct FolderId {
  std::string value;
  auto operator<=>(const FolderId&) const = default;
};

struct MessageKey {
  std::string value;
  auto operator<=>(const MessageKey&) const = default;
};

// Flags as the store spells them: system flags with their backslash
// ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft") and keywords
// ("$Forwarded", "Junk"). Order is not significant; fs/ normalises it.
using Flags = std::vector<std::string>;

struct FolderInfo {
  FolderId id;
  std::string name;         // one path component, UTF-8, unescaped (fs/ escapes it)
  std::string special_use;  // e.g. "\\Sent"; empty if none
  bool selectable = true;   // false: a container that holds no messages (IMAP \Noselect)
};

// Listing metadata of one message: never the body.
struct MessageInfo {
  MessageKey key;
  // Internal date, seconds since the epoch, UTC (IMAP INTERNALDATE, PST
  // delivery time, IFF Received-Date else Send-Date).
  std::int64_t internal_date = 0;
  Flags flags;
  // The header block of the bytes Fetch() serves — at least the first Date,
  // Subject, Message-ID and From fields, as raw bytes (folded lines allowed).
  // Empty when the backend cannot know it without fetching; fs/ then fetches.
  std::string headers;
  // Exact size of the bytes Fetch() serves, when known before fetching.
  std::optional<std::uint64_t> size;
  // Set when the message's bytes cannot be produced (a corrupt PST item, a
  // broken IFF row): it is listed as "(unreadable)" and Fetch() throws
  // kCorrupt. |error| says why, naming file and position.
  bool unreadable = false;
  std::string error;
};

// A plain file shown among a folder's entries that is not a message, e.g. an
// IFF address book as vCards. Read-only; not part of any mail store.
struct SideFile {
  std::string name;          // one path component, UTF-8 (no '/')
  BlobPtr content;
  std::int64_t mtime = 0;    // seconds since the epoch, UTC
};

struct Capabilities {
  bool writable = false;         // Append/Delete/Move/SetFlags/SetInternalDate work
  bool folders_writable = false; // CreateFolder/RenameFolder/DeleteFolder work
  bool can_set_internal_date = false;
  bool folders_hold_messages_at_root = false;  // messages may live in Root()
  // Hierarchy delimiter of the store other than '/', which cannot appear in
  // folder names (IMAP '.'); 0 if none.
  char forbidden_name_char = 0;
  // A root folder whose name matches in any ASCII case: lookup and mkdir of
  // "inbox" or "Inbox" find it (IMAP's INBOX, or the name -o inbox_name
  // shows it under). Empty if none.
  std::string case_insensitive_root_name;
};

class Backend {
 public:
  virtual ~Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // A short description for logs: "iff:/data/IMAP.001", "imaps://alice@host".
  virtual std::string Describe() const = 0;
  virtual Capabilities GetCapabilities() const = 0;
  virtual FolderId Root() const = 0;

  // Sub-folders of |folder|. Throws kNotFound if |folder| vanished.
  virtual std::vector<FolderInfo> ListFolders(const FolderId& folder) = 0;

  // Messages of |folder|: metadata only. Throws kNotFound if |folder| vanished.
  virtual std::vector<MessageInfo> ListMessages(const FolderId& folder) = 0;

  // Plain files to show in |folder| besides its messages (default: none).
  virtual std::vector<SideFile> ListSideFiles(const FolderId& folder) {
    (void)folder;
    return {};
  }

  // The message's bytes as served in view=raw. Never marks it read. Throws
  // kNotFound (gone), kCorrupt (cannot be produced), kIo/kTimeout (store).
  // The Blob may be read lazily; its reads throw the same codes.
  virtual BlobPtr Fetch(const FolderId& folder, const MessageKey& key) = 0;

  // The bytes of several messages of |folder| for a caller that needs each
  // of them once and nothing around them (fs/ hashing the messages whose
  // names collide): |each| gets every key's index in |keys| and its Blob, or
  // the Error that fetching it raised (then the Blob is null). Stores fetch
  // them in as few round trips as they can and read nothing ahead of them.
  // |each| may throw; that ends the call. Default: Fetch() one by one.
  using FetchEachFn = std::function<void(std::size_t index, const BlobPtr& blob, const Error* error)>;
  virtual void FetchEach(const FolderId& folder, const std::vector<MessageKey>& keys, const FetchEachFn& each) {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      BlobPtr blob;
      try {
        blob = Fetch(folder, keys[i]);
      } catch (const Error& e) {
        each(i, nullptr, &e);
        continue;
      }
      each(i, blob, nullptr);
    }
  }

  // Stores |content| (a complete RFC 5322 message, CRLF line ends) in |folder|
  // with |flags| and |internal_date|. Returns the new key when the store can
  // know it. Durable when it returns (design.md §6). Throws kReadOnly, kIo, ...
  virtual std::optional<MessageKey> Append(const FolderId& folder, const Blob& content,
                                           const Flags& flags, std::int64_t internal_date) {
    (void)folder, (void)content, (void)flags, (void)internal_date;
    throw Error(Errc::kReadOnly, Describe() + " is read-only");
  }

  // Deletes a message for good.
  virtual void Delete(const FolderId& folder, const MessageKey& key) {
    (void)folder, (void)key;
    throw Error(Errc::kReadOnly, Describe() + " is read-only");
  }

  // Moves a message to another folder; returns its new key when known.
  virtual std::optional<MessageKey> Move(const FolderId& from, const MessageKey& key,
                                         const FolderId& to) {
    (void)from, (void)key, (void)to;
    throw Error(Errc::kReadOnly, Describe() + " is read-only");
  }

  // Replaces the message's flags.
  virtual void SetFlags(const FolderId& folder, const MessageKey& key, const Flags& flags) {
    (void)folder, (void)key, (void)flags;
    throw Error(Errc::kReadOnly, Describe() + " is read-only");
  }

  // Changes the internal date; returns the new key if the message had to be
  // stored again (IMAP), else |key|.
  virtual MessageKey SetInternalDate(const FolderId& folder, const MessageKey& key,
                                     std::int64_t internal_date) {
    (void)folder, (void)key, (void)internal_date;
    throw Error(Errc::kReadOnly, Describe() + " is read-only");
  }

  // Creates folder |name| (unescaped UTF-8) under |parent|. Throws kExists.
  virtual FolderId CreateFolder(const FolderId& parent, const std::string& name) {
    (void)parent, (void)name;
    throw Error(Errc::kReadOnly, Describe() + " is read-only");
  }

  // Renames/moves a folder; returns its new id.
  virtual FolderId RenameFolder(const FolderId& folder, const FolderId& new_parent,
                                const std::string& new_name) {
    (void)folder, (void)new_parent, (void)new_name;
    throw Error(Errc::kReadOnly, Describe() + " is read-only");
  }

  // Deletes an empty folder. Throws kNotEmpty if it holds messages or folders.
  virtual void DeleteFolder(const FolderId& folder) {
    (void)folder;
    throw Error(Errc::kReadOnly, Describe() + " is read-only");
  }

  // Called once at unmount: flush whatever is buffered. Throws on failure.
  virtual void Close() {}

 protected:
  Backend() = default;
};

}  // namespace mailfs
