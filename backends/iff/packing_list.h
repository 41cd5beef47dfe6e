// The packing list (iff-format.md §3) and the extract directory it lives in:
// file name rules (§2.6), case-insensitive resolution of listed names, and one
// open descriptor per listed file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mailfs::iff {

// Why a file name is not acceptable (iff-format.md §2.6), or empty if it is.
std::string FileNameProblem(std::string_view name);

enum class FileRole { kPrimary, kSecondary };

struct PackingEntry {
  std::string name;  // as listed
  FileRole role = FileRole::kPrimary;
  std::uint64_t line = 0;  // line of the entry in the packing list
};

struct PackingList {
  std::string file_name;  // the .pkl's own name
  int codepage = 0;
  std::vector<PackingEntry> entries;  // in listed order
};

// Parses packing list bytes. Throws IffError (IFF_E_CODEPAGE, IFF_E_PKL,
// IFF_E_BAD_NAME, IFF_E_EOL).
PackingList ParsePackingList(std::string_view bytes, const std::string& file_name);

// An open file of the extract: read-only descriptor closed on destruction.
// Shared by every Blob that reads from it.
class ExtractFile {
 public:
  ExtractFile(int fd, std::string name, std::uint64_t size)
      : fd_(fd), name_(std::move(name)), size_(size) {}
  ~ExtractFile();
  ExtractFile(const ExtractFile&) = delete;
  ExtractFile& operator=(const ExtractFile&) = delete;
  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  std::uint64_t size() const { return size_; }

 private:
  int fd_;
  std::string name_;
  std::uint64_t size_;
};

// The directory of an extract, opened once; names resolve only inside it.
class ExtractDir {
 public:
  // Opens |path|: a directory holding exactly one *.pkl, or a .pkl file.
  // Throws Error(kNotFound/kIo) or IffError(IFF_E_PKL) when no single
  // packing list can be found.
  explicit ExtractDir(const std::string& path);
  ~ExtractDir();
  ExtractDir(const ExtractDir&) = delete;
  ExtractDir& operator=(const ExtractDir&) = delete;

  const std::string& pkl_name() const { return pkl_name_; }
  // Reads the whole packing list (refusing absurd sizes).
  std::string ReadPackingList() const;
  // Opens |name| (matched ASCII case-insensitively). Throws IffError
  // IFF_E_MISSING_FILE or IFF_E_AMBIGUOUS_FILE, attributed to |pkl_line|.
  std::shared_ptr<ExtractFile> Open(const std::string& name, std::uint64_t pkl_line) const;

 private:
  int dir_fd_ = -1;
  std::string pkl_name_;
  std::vector<std::string> entries_;  // names of the directory entries
};

}  // namespace mailfs::iff
