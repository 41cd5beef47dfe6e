#include "backends/pst/writer/messaging/pst_store.h"

#include <map>
#include <random>

#include "backends/error.h"
#include "backends/pst/mailfs_props.h"
#include "backends/pst/writer/ltp/heap.h"
#include "backends/pst/writer/ltp/table.h"

namespace mailfs::pst::writer {
namespace {

using ltp::BinaryValue;
using ltp::BoolValue;
using ltp::Hex;
using ltp::Int32Value;
using ltp::PropertyMap;
using ltp::StringValue;
using ltp::Table;
using ltp::TableColumn;
namespace t = ltp::ptype;

constexpr std::uint32_t kNidSearchManagementQueue = 0x1E1;
constexpr std::uint32_t kNidSearchActivityList = 0x201;
constexpr std::uint32_t kNidSearchDomainObject = 0x261;
constexpr std::uint32_t kNidHierarchyTemplate = 0x60D;
constexpr std::uint32_t kNidContentsTemplate = 0x60E;
constexpr std::uint32_t kNidAssocTemplate = 0x60F;
constexpr std::uint32_t kNidSearchContentsTemplate = 0x610;
constexpr std::uint32_t kNidReceiveFolderTable = 0x62B;
constexpr std::uint32_t kNidOutgoingQueueTable = 0x64C;
constexpr std::uint32_t kNidSpamSearchFolder = 0x2223;

constexpr std::uint16_t kPidRecordKey = 0x0FF9;
constexpr std::uint16_t kPidIpmSubtreeEntryId = 0x35E0;
constexpr std::uint16_t kPidWastebasketEntryId = 0x35E3;
constexpr std::uint16_t kPidCommonViewsEntryId = 0x35E6;
constexpr std::uint16_t kPidFinderEntryId = 0x35E7;
constexpr std::uint16_t kPidValidFolderMask = 0x35DF;

std::uint32_t TableNid(std::uint32_t folder, NidType type) { return MakeNid(type, folder >> 5); }

std::vector<TableColumn> Cols(std::initializer_list<std::pair<std::uint16_t, std::uint16_t>> v) {
  std::vector<TableColumn> out;
  for (auto [id, type] : v) out.push_back({id, type});
  return out;
}

std::vector<TableColumn> AssocColumns() {
  return Cols({{0x001A, t::kString}, {0x0E07, t::kInt32}, {0x0E17, t::kInt32}, {0x3001, t::kString},
               {0x6800, t::kString}, {0x6803, t::kBool}, {0x6805, t::kMultiInt32}, {0x682F, t::kString},
               {0x7003, t::kInt32}, {0x7004, t::kBinary}, {0x7005, t::kBinary}, {0x7006, t::kString},
               {0x7007, t::kInt32}});
}

std::vector<TableColumn> SearchContentsColumns() {
  return Cols({{0x0017, t::kInt32}, {0x001A, t::kString}, {0x0036, t::kInt32}, {0x0037, t::kString},
               {0x0042, t::kString}, {0x0057, t::kBool}, {0x0058, t::kBool}, {0x0E03, t::kString},
               {0x0E04, t::kString}, {0x0E05, t::kString}, {0x0E06, t::kTime}, {0x0E07, t::kInt32},
               {0x0E08, t::kInt32}, {0x0E17, t::kInt32}, {0x0E2A, t::kBool}, {0x3008, t::kTime},
               {0x67F1, t::kInt32}});
}

std::vector<TableColumn> RecipientTemplateColumns() {
  return Cols({{0x0C15, t::kInt32}, {0x0E0F, t::kBool}, {0x0FF9, t::kBinary}, {0x0FFE, t::kInt32},
               {0x0FFF, t::kBinary}, {0x3001, t::kString}, {0x3002, t::kString}, {0x3003, t::kString},
               {0x300B, t::kBinary}, {0x3900, t::kInt32}, {0x39FF, t::kString}, {0x3A40, t::kBool}});
}

// Cells of |props| that are columns of |columns| with the same type.
PropertyMap CellsFor(const std::vector<TableColumn>& columns, const PropertyMap& props) {
  PropertyMap cells;
  for (const auto& c : columns) {
    auto it = props.find(c.id);
    if (it != props.end() && it->second.type == c.type) cells[c.id] = it->second;
  }
  return cells;
}

std::string RandomBytes(std::size_t n) {
  std::random_device rd;
  std::string out;
  while (out.size() < n) {
    std::uint32_t v = rd();
    for (int k = 0; k < 4 && out.size() < n; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xFF));
  }
  return out;
}

}  // namespace

std::vector<TableColumn> HierarchyColumns() {
  return Cols({{0x0E30, t::kBinary}, {0x0E33, t::kInt64}, {0x0E34, t::kBinary}, {0x0E38, t::kInt32},
               {0x3001, t::kString}, {0x3602, t::kInt32}, {0x3603, t::kInt32}, {0x360A, t::kBool},
               {0x3613, t::kString}, {0x6635, t::kInt32}, {0x6636, t::kInt32}});
}

std::vector<TableColumn> ContentsColumns() {
  return Cols({{0x0017, t::kInt32}, {0x001A, t::kString}, {0x0036, t::kInt32}, {0x0037, t::kString},
               {0x0039, t::kTime},  {0x0042, t::kString}, {0x0057, t::kBool},  {0x0058, t::kBool},
               {0x0070, t::kString}, {0x0071, t::kBinary}, {0x0E03, t::kString}, {0x0E04, t::kString},
               {0x0E06, t::kTime},  {0x0E07, t::kInt32},  {0x0E08, t::kInt32}, {0x0E17, t::kInt32},
               {0x0E30, t::kBinary}, {0x0E33, t::kInt64}, {0x0E34, t::kBinary}, {0x0E38, t::kInt32},
               {0x0E3C, t::kBinary}, {0x0E3D, t::kBinary}, {0x1097, t::kInt32}, {0x3008, t::kTime},
               {0x3013, t::kBinary}, {0x65C6, t::kInt32}});
}

PropertyMap PstStore::ReadPc(std::uint32_t nid) const {
  return ltp::ParsePc(nodes_.ReadNode(nid), "node " + Hex(nid)).props;
}

void PstStore::WritePc(std::uint32_t nid, std::uint32_t parent, const PropertyMap& props) {
  NodeContent old;
  if (nodes_.HasNode(nid)) old = nodes_.ReadNode(nid);
  NodeContent pc = ltp::BuildPc(props, [this] { return NewLtpNid(); });
  // Keep subnodes that are not property values of the old PC (tables,
  // attachments of a message).
  if (!old.blocks.empty()) {
    for (std::uint32_t sub : ltp::ParsePc(old, "node " + Hex(nid)).value_subnodes) old.subnodes.erase(sub);
  }
  for (auto& [sub, content] : old.subnodes) pc.subnodes.emplace(sub, std::move(content));
  nodes_.PutNode(nid, parent, std::move(pc));
}

const Table& PstStore::ReadTable(std::uint32_t nid) const {
  auto it = tables_.find(nid);
  if (it == tables_.end()) {
    it = tables_.emplace(nid, ltp::TableNode(ltp::ParseTable(nodes_.ReadNode(nid), "node " + Hex(nid)))).first;
  }
  return it->second.table();
}

Table& PstStore::MutableTable(std::uint32_t nid) {
  ReadTable(nid);
  dirty_.insert(nid);
  return tables_.at(nid).Mutable();
}

void PstStore::AppendTableRow(std::uint32_t nid, ltp::TableRow row) {
  ReadTable(nid);
  dirty_.insert(nid);
  tables_.at(nid).Append(std::move(row), [this] { return NewLtpNid(); });
}

void PstStore::WriteTable(std::uint32_t nid, Table table) {
  tables_.insert_or_assign(nid, ltp::TableNode(std::move(table)));
  dirty_.insert(nid);
}

bool PstStore::HasTable(std::uint32_t nid) const { return tables_.count(nid) != 0 || nodes_.HasNode(nid); }

void PstStore::DeleteTable(std::uint32_t nid) {
  tables_.erase(nid);
  dirty_.erase(nid);
  if (nodes_.HasNode(nid)) nodes_.DeleteNode(nid);
}

void PstStore::Flush() {
  for (std::uint32_t nid : dirty_) {
    nodes_.PutNode(nid, 0, tables_.at(nid).Build([this] { return NewLtpNid(); }));
  }
  dirty_.clear();
}

void PstStore::Commit() {
  Flush();
  nodes_.Commit();
}

void PstStore::DiscardCache() {
  tables_.clear();
  dirty_.clear();
}

std::uint32_t PstStore::NextRowVersion() { return ++row_version_; }

void PstStore::CreateSkeleton(std::string_view display_name) {
  if (!nodes_.ListNodes().empty()) {
    throw Error(Errc::kInvalid, "cannot create a PST skeleton in a store that already has nodes");
  }
  // Folder NIDs 0x8022 .. 0x8082 and their tables come from the counters.
  const std::uint32_t folders[4] = {0x8022, 0x8042, 0x8062, 0x8082};
  for (std::uint32_t want : folders) {
    for (NidType type : {NidType::kNormalFolder, NidType::kHierarchyTable, NidType::kContentsTable,
                         NidType::kAssocContentsTable}) {
      std::uint32_t got = nodes_.AllocateNid(type);
      if (got != MakeNid(type, want >> 5)) {
        throw Error(Errc::kInvalid, "new store: NID counter gave " + Hex(got) + ", want " +
                                        Hex(MakeNid(type, want >> 5)));
      }
    }
  }
  record_key_ = RandomBytes(16);
  auto entry_id = [&](std::uint32_t nid) {
    std::string e(4, '\0');
    e += record_key_;
    ltp::PutU32(e, nid);
    return BinaryValue(e);
  };

  // Message store (§8.2).
  PropertyMap store;
  store[kPidRecordKey] = BinaryValue(record_key_);
  store[prop::kDisplayName] = StringValue(display_name);
  std::string version_history;
  ltp::PutU32(version_history, 1);
  version_history += RandomBytes(16);
  ltp::PutU32(version_history, 1);
  store[0x0E34] = BinaryValue(version_history);
  store[0x0E38] = Int32Value(0);
  store[kPidValidFolderMask] = Int32Value(0xC9);
  store[kPidIpmSubtreeEntryId] = entry_id(0x8022);
  store[kPidWastebasketEntryId] = entry_id(0x8062);
  store[kPidCommonViewsEntryId] = entry_id(0x8082);
  store[kPidFinderEntryId] = entry_id(0x8042);
  store[0x6633] = BoolValue(true);
  store[0x67FF] = Int32Value(0);
  WritePc(kNidMessageStore, 0, store);

  names_ = NameMap::Initial();
  WritePc(kNidNameToIdMap, 0, names_.ToProperties());
  ids_.original_mime = *names_.Find(
      [] {
        Guid g{};
        for (std::size_t i = 0; i < 16; ++i) g[i] = pst::kMailfsPropertySet[i];
        return g;
      }(),
      pst::kOriginalMimeName);
  ids_.keywords = *names_.Find(
      [] {
        Guid g{};
        for (std::size_t i = 0; i < 16; ++i) g[i] = pst::kPsPublicStrings[i];
        return g;
      }(),
      pst::kKeywordsName);

  // Search bookkeeping (§8.7).
  nodes_.PutNode(kNidSearchManagementQueue, 0, {});
  NodeContent activity;
  activity.blocks.push_back(std::string("\x23\x22\x00\x00", 4));
  nodes_.PutNode(kNidSearchActivityList, 0, std::move(activity));
  nodes_.PutNode(kNidSearchDomainObject, 0, {});
  // Internal nodes Outlook creates without data (pst-writing.md §9.1).
  for (std::uint32_t nid : {0xE41u, 0xEC1u, 0xF21u}) nodes_.PutNode(nid, 0, {});

  // Table templates.
  WriteTable(kNidHierarchyTemplate, Table{HierarchyColumns(), {}});
  WriteTable(kNidContentsTemplate, Table{ContentsColumns(), {}});
  WriteTable(kNidAssocTemplate, Table{AssocColumns(), {}});
  WriteTable(kNidSearchContentsTemplate, Table{SearchContentsColumns(), {}});
  Table receive{Cols({{0x001A, t::kString}, {0x6605, t::kInt32}}), {}};
  ltp::TableRow receive_row;
  receive_row.row_id = 1;
  receive_row.cells[0x001A] = StringValue("");
  receive_row.cells[0x6605] = Int32Value(kNidRootFolder);
  receive.rows.push_back(receive_row);
  WriteTable(kNidReceiveFolderTable, receive);
  WriteTable(kNidOutgoingQueueTable, Table{Cols({{0x0039, t::kTime}, {0x0E10, t::kInt32}, {0x0E14, t::kInt32}}), {}});
  WriteTable(kAttachmentTableNid, Table{Cols({{0x0E20, t::kInt32}, {0x3704, t::kString}, {0x3705, t::kInt32},
                                              {0x370B, t::kInt32}}),
                                         {}});
  WriteTable(kRecipientTableNid, Table{RecipientTemplateColumns(), {}});
  WriteTable(0x6B6, Table{Cols({{0x0E33, t::kInt64}, {0x0E37, t::kBinary}, {0x0E38, t::kInt32}}), {}});
  WriteTable(0x6D7, Table{Cols({{0x001A, t::kString}, {0x0E30, t::kBinary}, {0x0E31, t::kBinary},
                                {0x0E33, t::kInt64}, {0x0E34, t::kBinary}, {0x0E38, t::kInt32},
                                {0x0E3E, t::kBinary}}),
                          {}});
  WriteTable(0x6F8, Table{Cols({{0x0E33, t::kInt64}, {0x3007, t::kTime}}), {}});

  // Folders (§9): PCs, then their tables.
  auto folder_pc = [](std::string_view name, bool subfolders) {
    PropertyMap m;
    m[prop::kDisplayName] = StringValue(name);
    m[prop::kContentCount] = Int32Value(0);
    m[prop::kContentUnreadCount] = Int32Value(0);
    m[prop::kSubfolders] = BoolValue(subfolders);
    return m;
  };
  auto write_folder = [&](std::uint32_t nid, std::uint32_t parent, const PropertyMap& pc,
                          std::vector<std::uint32_t> children) {
    WritePc(nid, parent, pc);
    Table hierarchy{HierarchyColumns(), {}};
    for (std::uint32_t child : children) {
      ltp::TableRow row;
      row.row_id = child;
      row.row_ver = NextRowVersion();
      hierarchy.rows.push_back(std::move(row));
    }
    WriteTable(TableNid(nid, NidType::kHierarchyTable), hierarchy);
    WriteTable(TableNid(nid, NidType::kContentsTable), Table{ContentsColumns(), {}});
    WriteTable(TableNid(nid, NidType::kAssocContentsTable), Table{AssocColumns(), {}});
  };
  PropertyMap root = folder_pc("", true);
  write_folder(kNidRootFolder, kNidRootFolder, root, {0x8022, 0x8042, kNidSpamSearchFolder, 0x8082});
  PropertyMap top = folder_pc("Top of Outlook data file", true);
  write_folder(0x8022, kNidRootFolder, top, {0x8062});
  PropertyMap search_root = folder_pc("Search Root", false);
  write_folder(0x8042, kNidRootFolder, search_root, {});
  PropertyMap deleted = folder_pc("Deleted Items", false);
  deleted[prop::kComment] = StringValue("Deleted Items folder");
  write_folder(0x8062, 0x8022, deleted, {});
  PropertyMap views = folder_pc("IPM_COMMON_VIEWS", false);
  views[prop::kComment] = StringValue("");
  write_folder(0x8082, kNidRootFolder, views, {});

  // The spam search folder: a search folder PC, its update queue, criteria
  // and search contents table (no hierarchy or FAI tables, like Outlook).
  WritePc(kNidSpamSearchFolder, kNidRootFolder, folder_pc("SPAM Search Folder 2", false));
  nodes_.PutNode(MakeNid(NidType::kSearchUpdateQueue, kNidSpamSearchFolder >> 5), 0, {});
  PropertyMap criteria;
  criteria[0x660B] = Int32Value(0);
  WritePc(MakeNid(NidType::kSearchCriteriaObject, kNidSpamSearchFolder >> 5), 0, criteria);
  WriteTable(MakeNid(NidType::kSearchContentsTable, kNidSpamSearchFolder >> 5), Table{SearchContentsColumns(), {}});

  // Hierarchy rows mirror the child PCs.
  for (std::uint32_t child : {0x8022u, 0x8042u, kNidSpamSearchFolder, 0x8082u, 0x8062u}) {
    SyncHierarchyRow(child, ReadPc(child));
  }
  ipm_subtree_ = 0x8022;
  deleted_items_ = 0x8062;
  Flush();
}

std::uint32_t PstStore::FolderNidFromEntryId(const PropertyMap& store, std::uint16_t id) const {
  auto e = ltp::GetBinary(store, id);
  if (!e || e->size() != 24) {
    throw Error(Errc::kCorrupt, "message store: entry id " + Hex(id) + " missing or not 24 bytes");
  }
  return ltp::GetU32(*e, 20);
}

void PstStore::OpenExisting() {
  PropertyMap store = ReadPc(kNidMessageStore);
  record_key_ = ltp::GetBinary(store, kPidRecordKey).value_or("");
  ipm_subtree_ = FolderNidFromEntryId(store, kPidIpmSubtreeEntryId);
  deleted_items_ = store.count(kPidWastebasketEntryId) ? FolderNidFromEntryId(store, kPidWastebasketEntryId) : 0;
  if (!nodes_.HasNode(ipm_subtree_)) {
    throw Error(Errc::kCorrupt, "message store: IPM subtree folder " + Hex(ipm_subtree_) + " is missing");
  }
  names_ = NameMap::Parse(ReadPc(kNidNameToIdMap), "node 0x61");
  Guid mailfs{};
  Guid pub{};
  for (std::size_t i = 0; i < 16; ++i) {
    mailfs[i] = pst::kMailfsPropertySet[i];
    pub[i] = pst::kPsPublicStrings[i];
  }
  auto original = names_.Find(mailfs, pst::kOriginalMimeName);
  auto keywords = names_.Find(pub, pst::kKeywordsName);
  if (!original || !keywords) {
    ids_.original_mime = names_.Add(mailfs, pst::kOriginalMimeName);
    ids_.keywords = names_.Add(pub, pst::kKeywordsName);
    WritePc(kNidNameToIdMap, nodes_.ParentOf(kNidNameToIdMap), names_.ToProperties());
  } else {
    ids_.original_mime = *original;
    ids_.keywords = *keywords;
  }
}

std::string PstStore::DisplayName() const {
  return ltp::GetString(ReadPc(kNidMessageStore), prop::kDisplayName).value_or("");
}

void PstStore::CheckFolder(std::uint32_t folder) const {
  if (TypeOfNid(folder) != NidType::kNormalFolder || !nodes_.HasNode(folder)) {
    throw Error(Errc::kNotFound, "no folder " + Hex(folder));
  }
}

void PstStore::CheckMessage(std::uint32_t message) const {
  if (TypeOfNid(message) != NidType::kNormalMessage || !nodes_.HasNode(message)) {
    throw Error(Errc::kNotFound, "no message " + Hex(message));
  }
}

PstFolder PstStore::GetFolder(std::uint32_t folder) const {
  if (!nodes_.HasNode(folder)) throw Error(Errc::kNotFound, "no folder " + Hex(folder));
  PropertyMap pc = ReadPc(folder);
  PstFolder f;
  f.nid = folder;
  f.parent = nodes_.ParentOf(folder);
  f.name = ltp::GetString(pc, prop::kDisplayName).value_or("");
  f.content_count = ltp::GetInt32(pc, prop::kContentCount).value_or(0);
  f.unread_count = ltp::GetInt32(pc, prop::kContentUnreadCount).value_or(0);
  f.has_subfolders = ltp::GetBool(pc, prop::kSubfolders).value_or(false);
  f.container_class = ltp::GetString(pc, prop::kContainerClass).value_or("");
  return f;
}

std::vector<PstFolder> PstStore::ListFolders(std::uint32_t parent) const {
  CheckFolder(parent);
  std::vector<PstFolder> out;
  for (const auto& row : ReadTable(TableNid(parent, NidType::kHierarchyTable)).rows) {
    if (!nodes_.HasNode(row.row_id)) {
      throw Error(Errc::kCorrupt, "folder " + Hex(parent) + ": hierarchy row " + Hex(row.row_id) +
                                      " names a missing folder");
    }
    out.push_back(GetFolder(row.row_id));
  }
  return out;
}

void PstStore::SyncHierarchyRow(std::uint32_t folder, const PropertyMap& pc) {
  std::uint32_t parent = nodes_.ParentOf(folder);
  if (parent == folder) return;  // the root folder has no row
  std::uint32_t tnid = TableNid(parent, NidType::kHierarchyTable);
  const Table& current = ReadTable(tnid);
  long at = current.Find(folder);
  PropertyMap cells = CellsFor(current.columns, pc);
  if (at < 0) {
    ltp::TableRow row;
    row.row_id = folder;
    row.row_ver = NextRowVersion();
    row.cells = std::move(cells);
    AppendTableRow(tnid, std::move(row));
  } else {
    // Cells the PC does not hold (Outlook's wider tables) are kept.
    Table& table = MutableTable(tnid);
    for (auto& [id, v] : cells) table.rows[at].cells[id] = std::move(v);
    table.rows[at].row_ver = NextRowVersion();
  }
}

std::uint32_t PstStore::CreateFolder(std::uint32_t parent, std::string_view name) {
  CheckFolder(parent);
  if (name.empty()) throw Error(Errc::kInvalid, "empty folder name");
  for (const auto& f : ListFolders(parent)) {
    if (f.name == name) throw Error(Errc::kExists, "folder \"" + std::string(name) + "\" exists");
  }
  std::uint32_t nid = 0;
  for (int attempt = 0; attempt < 1000 && nid == 0; ++attempt) {
    std::uint32_t candidate = nodes_.AllocateNid(NidType::kNormalFolder);
    bool clash = nodes_.HasNode(candidate);
    for (NidType type : {NidType::kHierarchyTable, NidType::kContentsTable, NidType::kAssocContentsTable}) {
      // Keep the table counters at least at the folder's index.
      std::uint32_t got = 0;
      for (int k = 0; k < (1 << 16); ++k) {
        got = nodes_.AllocateNid(type);
        if ((got >> 5) >= (candidate >> 5)) break;
      }
      if (HasTable(TableNid(candidate, type))) clash = true;
    }
    if (!clash) nid = candidate;
  }
  if (nid == 0) throw Error(Errc::kNoSpace, "no free folder NID");
  PropertyMap pc;
  pc[prop::kDisplayName] = StringValue(name);
  pc[prop::kContentCount] = Int32Value(0);
  pc[prop::kContentUnreadCount] = Int32Value(0);
  pc[prop::kSubfolders] = BoolValue(false);
  pc[prop::kContainerClass] = StringValue("IPF.Note");
  WritePc(nid, parent, pc);
  WriteTable(TableNid(nid, NidType::kHierarchyTable), Table{HierarchyColumns(), {}});
  WriteTable(TableNid(nid, NidType::kContentsTable), Table{ContentsColumns(), {}});
  WriteTable(TableNid(nid, NidType::kAssocContentsTable), Table{AssocColumns(), {}});
  SyncHierarchyRow(nid, pc);
  PropertyMap parent_pc = ReadPc(parent);
  if (!ltp::GetBool(parent_pc, prop::kSubfolders).value_or(false)) {
    parent_pc[prop::kSubfolders] = BoolValue(true);
    WritePc(parent, nodes_.ParentOf(parent), parent_pc);
    SyncHierarchyRow(parent, parent_pc);
  }
  return nid;
}

void PstStore::RenameFolder(std::uint32_t folder, std::string_view name) {
  CheckFolder(folder);
  if (name.empty()) throw Error(Errc::kInvalid, "empty folder name");
  std::uint32_t parent = nodes_.ParentOf(folder);
  if (parent == folder || folder == ipm_subtree_) {
    throw Error(Errc::kPermission, "folder " + Hex(folder) + " cannot be renamed");
  }
  for (const auto& f : ListFolders(parent)) {
    if (f.nid != folder && f.name == name) throw Error(Errc::kExists, "folder \"" + std::string(name) + "\" exists");
  }
  PropertyMap pc = ReadPc(folder);
  pc[prop::kDisplayName] = StringValue(name);
  WritePc(folder, parent, pc);
  SyncHierarchyRow(folder, pc);
}

bool PstStore::IsWithin(std::uint32_t folder, std::uint32_t ancestor) const {
  // A parent chain longer than the store has nodes loops.
  std::size_t limit = nodes_.ListNodes().size() + 1;
  for (std::uint32_t at = folder; limit-- > 0;) {
    if (at == ancestor) return true;
    std::uint32_t up = nodes_.ParentOf(at);
    if (up == at) return false;  // the root folder
    if (!nodes_.HasNode(up)) {
      throw Error(Errc::kCorrupt, "folder " + Hex(at) + ": its parent " + Hex(up) + " is missing");
    }
    at = up;
  }
  throw Error(Errc::kCorrupt, "folder " + Hex(folder) + ": its parent chain loops");
}

bool PstStore::IsSpecialFolder(std::uint32_t folder) const {
  if (folder == kNidRootFolder || nodes_.ParentOf(folder) == folder || folder == ipm_subtree_ ||
      folder == deleted_items_) {
    return true;
  }
  // Entry ids of this store: 24 bytes, the store's record key at 4, the
  // NID at 20 (pst-writing.md §8.2).
  auto names = [&](const std::string& entry_id) {
    if (entry_id.size() != 24 || ltp::GetU32(entry_id, 20) != folder) return false;
    return record_key_.size() != 16 || entry_id.compare(4, 16, record_key_) == 0;
  };
  auto names_by_property = [&](const PropertyMap& pc, std::uint16_t first, std::uint16_t last) {
    for (auto it = pc.lower_bound(first); it != pc.end() && it->first <= last; ++it) {
      if (it->second.type == t::kBinary && names(it->second.data)) return true;
    }
    return false;
  };
  // The message store's folders (IPM subtree, Outbox, Deleted Items, Sent
  // Items, views, common views, finder: 0x35E0-0x35E7) and the default
  // folders the root folder names (Calendar ... Drafts: 0x36D0-0x36D7).
  if (names_by_property(ReadPc(kNidMessageStore), 0x35E0, 0x35E7)) return true;
  if (nodes_.HasNode(kNidRootFolder) && names_by_property(ReadPc(kNidRootFolder), 0x36D0, 0x36D7)) return true;
  // The receive folders (the Inbox): the folder NID column (0x6605) of the
  // receive folder table.
  if (nodes_.HasNode(kNidReceiveFolderTable)) {
    for (const auto& row : ReadTable(kNidReceiveFolderTable).rows) {
      if (ltp::GetInt32(row.cells, 0x6605) == folder) return true;
    }
  }
  return false;
}

void PstStore::MoveFolder(std::uint32_t folder, std::uint32_t new_parent, std::string_view name) {
  CheckFolder(folder);
  CheckFolder(new_parent);
  if (name.empty()) throw Error(Errc::kInvalid, "empty folder name");
  std::uint32_t old_parent = nodes_.ParentOf(folder);
  if (new_parent == old_parent) {
    RenameFolder(folder, name);
    return;
  }
  if (IsSpecialFolder(folder)) {
    throw Error(Errc::kInvalid,
                "folder " + Hex(folder) + " is one of the store's special folders and stays where it is");
  }
  if (IsWithin(new_parent, folder)) {
    throw Error(Errc::kInvalid, "folder " + Hex(folder) + " cannot move into itself or one of its subfolders");
  }
  for (const auto& f : ListFolders(new_parent)) {
    if (f.name == name) throw Error(Errc::kExists, "folder \"" + std::string(name) + "\" exists");
  }
  // The row leaves the old parent's hierarchy table.
  Table& from = MutableTable(TableNid(old_parent, NidType::kHierarchyTable));
  long at = from.Find(folder);
  if (at < 0) {
    throw Error(Errc::kCorrupt, "folder " + Hex(old_parent) + ": no hierarchy row for its subfolder " + Hex(folder));
  }
  ltp::TableRow old_row = std::move(from.rows[at]);
  from.rows.erase(from.rows.begin() + at);
  bool was_last = from.rows.empty();

  // The NBT parent changes; the PC is rewritten only for a new name.
  PropertyMap pc = ReadPc(folder);
  if (ltp::GetString(pc, prop::kDisplayName) != std::string(name)) {
    pc[prop::kDisplayName] = StringValue(name);
    WritePc(folder, new_parent, pc);
  } else {
    nodes_.PutNode(folder, new_parent, nodes_.ReadNode(folder));
  }

  // A row joins the new parent's table: the cells of the old row the new
  // table has columns for (Outlook's replication and hidden counts), then
  // the PC's values over them.
  Table& to = MutableTable(TableNid(new_parent, NidType::kHierarchyTable));
  ltp::TableRow row;
  row.row_id = folder;
  row.row_ver = NextRowVersion();
  row.cells = CellsFor(to.columns, old_row.cells);
  for (auto& [id, v] : CellsFor(to.columns, pc)) row.cells[id] = std::move(v);
  to.rows.push_back(std::move(row));

  if (was_last) {
    PropertyMap old_pc = ReadPc(old_parent);
    old_pc[prop::kSubfolders] = BoolValue(false);
    WritePc(old_parent, nodes_.ParentOf(old_parent), old_pc);
    SyncHierarchyRow(old_parent, old_pc);
  }
  PropertyMap new_pc = ReadPc(new_parent);
  if (!ltp::GetBool(new_pc, prop::kSubfolders).value_or(false)) {
    new_pc[prop::kSubfolders] = BoolValue(true);
    WritePc(new_parent, nodes_.ParentOf(new_parent), new_pc);
    SyncHierarchyRow(new_parent, new_pc);
  }
}

void PstStore::DeleteFolder(std::uint32_t folder) {
  CheckFolder(folder);
  std::uint32_t parent = nodes_.ParentOf(folder);
  if (parent == folder || folder == ipm_subtree_ || folder == deleted_items_) {
    throw Error(Errc::kPermission, "folder " + Hex(folder) + " cannot be deleted");
  }
  if (!ReadTable(TableNid(folder, NidType::kHierarchyTable)).rows.empty() ||
      !ReadTable(TableNid(folder, NidType::kContentsTable)).rows.empty()) {
    throw Error(Errc::kNotEmpty, "folder " + Hex(folder) + " is not empty");
  }
  // Folder-associated items (views, rules Outlook keeps per folder) are not
  // contents: they go with the folder.
  for (const auto& row : ReadTable(TableNid(folder, NidType::kAssocContentsTable)).rows) {
    if (nodes_.HasNode(row.row_id) && nodes_.ParentOf(row.row_id) == folder) nodes_.DeleteNode(row.row_id);
  }
  std::uint32_t tnid = TableNid(parent, NidType::kHierarchyTable);
  Table& siblings = MutableTable(tnid);
  long at = siblings.Find(folder);
  if (at >= 0) siblings.rows.erase(siblings.rows.begin() + at);
  bool last = siblings.rows.empty();
  for (NidType type : {NidType::kHierarchyTable, NidType::kContentsTable, NidType::kAssocContentsTable}) {
    DeleteTable(TableNid(folder, type));
  }
  nodes_.DeleteNode(folder);
  if (last) {
    PropertyMap parent_pc = ReadPc(parent);
    parent_pc[prop::kSubfolders] = BoolValue(false);
    WritePc(parent, nodes_.ParentOf(parent), parent_pc);
    SyncHierarchyRow(parent, parent_pc);
  }
}

std::vector<PstMessage> PstStore::ListMessages(std::uint32_t folder) const {
  CheckFolder(folder);
  std::vector<PstMessage> out;
  for (const auto& row : ReadTable(TableNid(folder, NidType::kContentsTable)).rows) {
    PstMessage m;
    m.nid = row.row_id;
    m.subject = ltp::GetString(row.cells, prop::kSubject).value_or("");
    m.size = ltp::GetInt32(row.cells, prop::kMessageSize).value_or(0);
    if (auto d = ltp::GetInt64(row.cells, prop::kMessageDeliveryTime)) m.delivery_time = ltp::FiletimeToUnix(*d);
    m.message_flags = ltp::GetInt32(row.cells, prop::kMessageFlags).value_or(0);
    out.push_back(std::move(m));
  }
  return out;
}

void PstStore::UpdateFolderCounts(std::uint32_t folder, int delta_count, int delta_unread) {
  PropertyMap pc = ReadPc(folder);
  auto adjust = [&](std::uint16_t id, int delta) {
    long v = static_cast<long>(ltp::GetInt32(pc, id).value_or(0)) + delta;
    pc[id] = Int32Value(static_cast<std::uint32_t>(v < 0 ? 0 : v));
  };
  adjust(prop::kContentCount, delta_count);
  adjust(prop::kContentUnreadCount, delta_unread);
  WritePc(folder, nodes_.ParentOf(folder), pc);
  SyncHierarchyRow(folder, pc);
}

void PstStore::AddContentsRow(std::uint32_t folder, std::uint32_t message, const PropertyMap& props) {
  std::uint32_t tnid = TableNid(folder, NidType::kContentsTable);
  const Table& current = ReadTable(tnid);
  long at = current.Find(message);
  if (at < 0) {
    ltp::TableRow row;
    row.row_id = message;
    row.row_ver = NextRowVersion();
    row.cells = CellsFor(current.columns, props);
    AppendTableRow(tnid, std::move(row));
    return;
  }
  // An existing row: cells from the PC replace the old ones; cells of
  // properties this layer removes (flags) go; other cells (Outlook's
  // computed columns) stay.
  Table& table = MutableTable(tnid);
  ltp::TableRow& row = table.rows[at];
  row.row_ver = NextRowVersion();
  for (std::uint16_t id : {prop::kFlagStatus, prop::kLastVerbExecuted, prop::kIconIndex, ids_.keywords}) {
    if (!props.count(id)) row.cells.erase(id);
  }
  for (auto& [id, v] : CellsFor(table.columns, props)) row.cells[id] = std::move(v);
}

void PstStore::RemoveContentsRow(std::uint32_t folder, std::uint32_t message) {
  std::uint32_t tnid = TableNid(folder, NidType::kContentsTable);
  Table& table = MutableTable(tnid);
  long at = table.Find(message);
  if (at < 0) {
    throw Error(Errc::kCorrupt, "folder " + Hex(folder) + ": no contents row for message " + Hex(message));
  }
  table.rows.erase(table.rows.begin() + at);
}

namespace {
bool IsRead(const PropertyMap& props) { return (ltp::GetInt32(props, prop::kMessageFlags).value_or(0) & 1) != 0; }
}  // namespace

std::uint32_t PstStore::AddMessage(std::uint32_t folder, std::string_view eml, const MessageFlags& flags,
                                   std::int64_t internal_date) {
  CheckFolder(folder);
  BuiltMessage built = BuildMessage(eml, flags, internal_date, ids_, nodes_);
  std::uint32_t nid = nodes_.AllocateNid(NidType::kNormalMessage);
  nodes_.PutNode(nid, folder, std::move(built.node));
  AddContentsRow(folder, nid, built.props);
  UpdateFolderCounts(folder, 1, IsRead(built.props) ? 0 : 1);
  return nid;
}

ltp::PropertyMap PstStore::MessageProperties(std::uint32_t message) const {
  CheckMessage(message);
  return ReadPc(message);
}

void PstStore::DeleteMessage(std::uint32_t message) {
  CheckMessage(message);
  std::uint32_t folder = nodes_.ParentOf(message);
  PropertyMap props = ReadPc(message);
  RemoveContentsRow(folder, message);
  nodes_.DeleteNode(message);
  UpdateFolderCounts(folder, -1, IsRead(props) ? 0 : -1);
}

void PstStore::MoveMessage(std::uint32_t message, std::uint32_t to_folder) {
  CheckMessage(message);
  CheckFolder(to_folder);
  std::uint32_t from = nodes_.ParentOf(message);
  if (from == to_folder) return;
  NodeContent content = nodes_.ReadNode(message);
  PropertyMap props = ltp::ParsePc(content, "node " + Hex(message)).props;
  RemoveContentsRow(from, message);
  nodes_.PutNode(message, to_folder, std::move(content));
  AddContentsRow(to_folder, message, props);
  int unread = IsRead(props) ? 0 : 1;
  UpdateFolderCounts(from, -1, -unread);
  UpdateFolderCounts(to_folder, 1, unread);
}

MessageFlags PstStore::GetFlags(std::uint32_t message) const {
  CheckMessage(message);
  return ReadFlags(ReadPc(message), ids_);
}

void PstStore::RewriteMessage(std::uint32_t message, const PropertyMap& props) {
  std::uint32_t folder = nodes_.ParentOf(message);
  WritePc(message, folder, props);
  AddContentsRow(folder, message, props);
}

void PstStore::SetFlags(std::uint32_t message, const MessageFlags& flags) {
  CheckMessage(message);
  PropertyMap props = ReadPc(message);
  bool was_read = IsRead(props);
  ApplyFlags(props, flags, ids_);
  RewriteMessage(message, props);
  if (was_read != flags.read) UpdateFolderCounts(nodes_.ParentOf(message), 0, flags.read ? -1 : 1);
}

std::int64_t PstStore::GetInternalDate(std::uint32_t message) const {
  CheckMessage(message);
  auto t = ltp::GetInt64(ReadPc(message), prop::kMessageDeliveryTime);
  return t ? ltp::FiletimeToUnix(*t) : 0;
}

void PstStore::SetInternalDate(std::uint32_t message, std::int64_t internal_date) {
  CheckMessage(message);
  PropertyMap props = ReadPc(message);
  props[prop::kMessageDeliveryTime] = ltp::TimeValue(ltp::UnixToFiletime(internal_date));
  RewriteMessage(message, props);
}

std::optional<std::string> PstStore::OriginalMime(std::uint32_t message) const {
  CheckMessage(message);
  NodeContent node = nodes_.ReadNode(message);
  std::string what = "node " + Hex(message);
  PropertyMap props = ltp::ParsePc(node, what).props;
  std::optional<std::string> stored = ltp::GetBinary(props, ids_.original_mime);
  if (!stored) return std::nullopt;
  PackedMime packed(*stored);
  if (!packed.HasReferences()) return packed.Expand();
  // Sections left out of the kept copy are the message's bodies, or its
  // attachments found by PidTagAttachNumber among its attachment subnodes.
  return packed.Expand([&](std::uint32_t number) -> std::string {
    if (number == pst::kPlainBodyPart || number == pst::kHtmlBodyPart) {
      std::optional<std::string> body = number == pst::kPlainBodyPart ? ltp::GetString(props, prop::kBody)
                                                                      : ltp::GetBinary(props, prop::kHtml);
      if (!body) throw Error(Errc::kCorrupt, what + ": original message bytes: the body they refer to is missing");
      return std::move(*body);
    }
    for (const auto& [sub, content] : node.subnodes) {
      if ((sub & 0x1F) != static_cast<std::uint32_t>(NidType::kAttachment)) continue;
      PropertyMap attachment = ltp::ParsePc(content, what + " attachment " + Hex(sub)).props;
      if (ltp::GetInt32(attachment, prop::kAttachNumber) != number) continue;
      if (std::optional<std::string> data = ltp::GetBinary(attachment, prop::kAttachDataBinary)) return std::move(*data);
    }
    throw Error(Errc::kCorrupt, what + ": original message bytes: attachment " + std::to_string(number) + " missing");
  });
}

std::optional<PstStore::OriginalInfo> PstStore::OriginalMimeInfo(std::uint32_t message) const {
  CheckMessage(message);
  std::optional<std::string> stored = ltp::GetBinary(ReadPc(message), ids_.original_mime);
  if (!stored) return std::nullopt;
  PackedMime packed(*stored);
  return OriginalInfo{packed.size(), std::string(packed.Head())};
}

}  // namespace mailfs::pst::writer
