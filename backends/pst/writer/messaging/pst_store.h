// The messaging layer of the PST writer (pst-writing.md §8, §9, §12): a
// message store over a NodeStore — the skeleton of a new file (every node
// of Outlook's own empty file that the guide documents), folders with their
// hierarchy, contents and FAI tables, and messages built from .eml bytes.
// Every change keeps the folder PCs, the parents' hierarchy rows, the
// contents tables and the counts in step. Changes are staged in the
// NodeStore; the caller decides when to Commit().
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/pst/writer/messaging/mime_to_mapi.h"
#include "backends/pst/writer/ltp/table.h"
#include "backends/pst/writer/messaging/name_map.h"
#include "backends/pst/writer/node_store.h"

namespace mailfs::pst::writer {

inline constexpr std::uint32_t kNidMessageStore = 0x21;
inline constexpr std::uint32_t kNidNameToIdMap = 0x61;
inline constexpr std::uint32_t kNidRootFolder = 0x122;

struct PstFolder {
  std::uint32_t nid = 0;
  std::uint32_t parent = 0;
  std::string name;
  std::uint32_t content_count = 0;
  std::uint32_t unread_count = 0;
  bool has_subfolders = false;
  std::string container_class;
};

struct PstMessage {
  std::uint32_t nid = 0;
  std::string subject;
  std::uint32_t size = 0;           // PidTagMessageSize
  std::int64_t delivery_time = 0;   // seconds since the epoch, 0 if absent
  std::uint32_t message_flags = 0;  // PidTagMessageFlags
};

class PstStore {
 public:
  explicit PstStore(NodeStore& nodes) : nodes_(nodes) {}

  // Writes the nodes of a new, empty store (no Commit()). The store must be
  // empty and its NID counters at their initial values.
  void CreateSkeleton(std::string_view display_name = "Personal Folders");
  // Reads the store PC and the name-to-id map of an existing store; adds
  // mailfs's named properties to the map if missing. Throws kCorrupt.
  void OpenExisting();

  std::string DisplayName() const;
  std::uint32_t root_folder() const { return kNidRootFolder; }
  std::uint32_t ipm_subtree() const { return ipm_subtree_; }
  std::uint32_t deleted_items() const { return deleted_items_; }
  const NamedIds& named_ids() const { return ids_; }

  PstFolder GetFolder(std::uint32_t folder) const;
  // Child folders of |parent|, in hierarchy-table order.
  std::vector<PstFolder> ListFolders(std::uint32_t parent) const;
  std::uint32_t CreateFolder(std::uint32_t parent, std::string_view name);
  void RenameFolder(std::uint32_t folder, std::string_view name);
  // Moves |folder|, with its subfolders and messages, under |new_parent|
  // and names it |name| there: its NBT parent changes, its row leaves the
  // old parent's hierarchy table and joins the new one's (the row's other
  // cells go with it), and both parents' PidTagSubfolders follow. The
  // folder's tables and everything below keep their NIDs. Throws kInvalid
  // for a move into the folder itself or below it, and for a special folder
  // (IsSpecialFolder); kExists when |new_parent| has a subfolder |name|.
  void MoveFolder(std::uint32_t folder, std::uint32_t new_parent, std::string_view name);
  // The folders whose place the store itself records and Outlook never
  // moves: the root folder, the IPM subtree, the folders the message store
  // names by entry id (Deleted Items, Outbox, Sent Items, views, finder), the
  // default folders the root folder names (Calendar, Contacts, Journal,
  // Notes, Tasks, Reminders, Drafts) and the receive folders (Inbox).
  bool IsSpecialFolder(std::uint32_t folder) const;
  // True when |folder| is |ancestor| or lies below it. Throws kCorrupt for
  // a parent chain that does not end at the root folder.
  bool IsWithin(std::uint32_t folder, std::uint32_t ancestor) const;
  // Deletes a folder without messages or subfolders (its folder-associated
  // items go with it): kNotEmpty otherwise.
  void DeleteFolder(std::uint32_t folder);

  std::vector<PstMessage> ListMessages(std::uint32_t folder) const;
  std::uint32_t AddMessage(std::uint32_t folder, std::string_view eml, const MessageFlags& flags,
                           std::int64_t internal_date);
  void DeleteMessage(std::uint32_t message);
  void MoveMessage(std::uint32_t message, std::uint32_t to_folder);
  MessageFlags GetFlags(std::uint32_t message) const;
  void SetFlags(std::uint32_t message, const MessageFlags& flags);
  std::int64_t GetInternalDate(std::uint32_t message) const;
  void SetInternalDate(std::uint32_t message, std::int64_t internal_date);
  // The original MIME bytes kept with the message, if any.
  std::optional<std::string> OriginalMime(std::uint32_t message) const;
  // Their size and header block, without expanding them.
  struct OriginalInfo {
    std::uint64_t size = 0;
    std::string head;  // the bytes up to the first attachment left out of the copy
  };
  std::optional<OriginalInfo> OriginalMimeInfo(std::uint32_t message) const;
  ltp::PropertyMap MessageProperties(std::uint32_t message) const;

  // Writes the tables changed since the last Flush() into the node store
  // (tables are kept parsed in memory between changes).
  void Flush();
  // Flush() and NodeStore::Commit().
  void Commit();
  // Forgets the in-memory tables (after the node store dropped staged
  // changes).
  void DiscardCache();

 private:
  std::uint32_t NewLtpNid() { return nodes_.AllocateNid(NidType::kLtp); }
  ltp::PropertyMap ReadPc(std::uint32_t nid) const;
  void WritePc(std::uint32_t nid, std::uint32_t parent, const ltp::PropertyMap& props);
  const ltp::Table& ReadTable(std::uint32_t nid) const;
  // For any change but an appended row (which AppendTableRow() makes
  // without rebuilding the table's node).
  ltp::Table& MutableTable(std::uint32_t nid);
  void AppendTableRow(std::uint32_t nid, ltp::TableRow row);
  void WriteTable(std::uint32_t nid, ltp::Table table);
  bool HasTable(std::uint32_t nid) const;
  void DeleteTable(std::uint32_t nid);
  void CheckFolder(std::uint32_t folder) const;
  void CheckMessage(std::uint32_t message) const;
  // Re-counts |folder|'s messages into its PC and its parent's hierarchy row.
  void UpdateFolderCounts(std::uint32_t folder, int delta_count, int delta_unread);
  // Writes |folder|'s PC values into its row of its parent's hierarchy table.
  void SyncHierarchyRow(std::uint32_t folder, const ltp::PropertyMap& pc);
  void AddContentsRow(std::uint32_t folder, std::uint32_t message, const ltp::PropertyMap& props);
  void RemoveContentsRow(std::uint32_t folder, std::uint32_t message);
  // Rewrites a message PC (keeping its attachment and table subnodes) and
  // its contents row.
  void RewriteMessage(std::uint32_t message, const ltp::PropertyMap& props);
  std::uint32_t NextRowVersion();
  std::uint32_t FolderNidFromEntryId(const ltp::PropertyMap& store, std::uint16_t id) const;

  NodeStore& nodes_;
  NameMap names_;
  NamedIds ids_;
  std::string record_key_;
  std::uint32_t ipm_subtree_ = 0x8022;
  std::uint32_t deleted_items_ = 0x8062;
  std::uint32_t row_version_ = 0;
  mutable std::map<std::uint32_t, ltp::TableNode> tables_;
  std::set<std::uint32_t> dirty_;
};

// The column sets of Outlook's table templates (pst-writing.md §9.1).
std::vector<ltp::TableColumn> HierarchyColumns();
std::vector<ltp::TableColumn> ContentsColumns();

}  // namespace mailfs::pst::writer
