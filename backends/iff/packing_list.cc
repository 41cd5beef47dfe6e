#include "backends/iff/packing_list.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "backends/blob.h"
#include "backends/error.h"
#include "backends/iff/csv.h"
#include "backends/iff/iff_error.h"
#include "backends/mime/charset.h"

namespace mailfs::iff {

std::string FileNameProblem(std::string_view name) {
  if (name.empty()) {
    return "empty file name";
  }
  if (name == "." || name == "..") {
    return "file name '" + std::string(name) + "' leaves the extract folder";
  }
  if (name.size() > 255) {
    return "file name longer than 255 bytes";
  }
  for (unsigned char c : name) {
    if (c < 0x20) {
      return "file name contains a control byte";
    }
    if (std::string_view("#();,\\/:*?\"<>|").find(static_cast<char>(c)) != std::string_view::npos) {
      return std::string("file name '") + std::string(name) + "' contains '" +
             static_cast<char>(c) + "'";
    }
  }
  return "";
}

PackingList ParsePackingList(std::string_view bytes, const std::string& file_name) {
  PackingList out;
  out.file_name = file_name;
  if (bytes.size() < 2 || bytes.substr(bytes.size() - 2) != "\r\n") {
    ThrowIff(IffCode::kEol, file_name, std::nullopt, bytes.size(),
             "the packing list does not end with CR LF (truncated?)");
  }
  // Split into lines at LF; a CR before the LF is dropped.
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < bytes.size()) {
    std::size_t lf = bytes.find('\n', start);
    std::string_view line = bytes.substr(start, lf - start);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    lines.push_back(line);
    start = lf + 1;
  }
  // Line 1: the code page.
  std::string cp = TrimSpaces(lines[0]);
  std::optional<std::uint64_t> number = ParseU64(cp);
  if (!number || *number > 100000 || !mime::IsSupportedCodePage(static_cast<int>(*number))) {
    ThrowIff(IffCode::kCodepage, file_name, 1, std::nullopt,
             "line 1 must be a supported decimal code page (e.g. 1252 or 850), found '" +
                 std::string(lines[0].substr(0, 40)) + "'");
  }
  out.codepage = static_cast<int>(*number);
  if (lines.size() < 2 || !lines[1].empty()) {
    ThrowIff(IffCode::kPkl, file_name, 2, std::nullopt, "line 2 must be blank");
  }
  std::vector<Field> fields;
  if (lines.size() < 3 || !Tokenize(lines[2], &fields) || fields.size() != 2 ||
      !EqualsIgnoreCase(fields[0].value, "Filename") ||
      !EqualsIgnoreCase(fields[1].value, "Filetype")) {
    ThrowIff(IffCode::kPkl, file_name, 3, std::nullopt, "line 3 must be 'Filename,Filetype'");
  }
  std::set<std::string> seen;
  for (std::size_t i = 3; i < lines.size(); ++i) {
    std::uint64_t line_no = i + 1;
    std::string_view line = lines[i];
    if (line.empty() || line[0] == '!') {
      continue;
    }
    if (!Tokenize(line, &fields)) {
      ThrowIff(IffCode::kQuote, file_name, line_no, std::nullopt, "unbalanced quotation mark");
    }
    if (fields.size() != 2) {
      ThrowIff(IffCode::kPkl, file_name, line_no, std::nullopt,
               "an entry must be 'name,Primary' or 'name,Secondary'");
    }
    PackingEntry entry;
    entry.name = fields[0].value;
    entry.line = line_no;
    if (EqualsIgnoreCase(fields[1].value, "Primary")) {
      entry.role = FileRole::kPrimary;
    } else if (EqualsIgnoreCase(fields[1].value, "Secondary")) {
      entry.role = FileRole::kSecondary;
    } else {
      ThrowIff(IffCode::kPkl, file_name, line_no, std::nullopt,
               "unknown Filetype '" + fields[1].value + "'");
    }
    if (std::string problem = FileNameProblem(entry.name); !problem.empty()) {
      ThrowIff(IffCode::kBadName, file_name, line_no, std::nullopt, problem);
    }
    if (!seen.insert(AsciiLower(entry.name)).second) {
      ThrowIff(IffCode::kPkl, file_name, line_no, std::nullopt,
               "'" + entry.name + "' is listed twice");
    }
    out.entries.push_back(std::move(entry));
  }
  return out;
}

ExtractFile::~ExtractFile() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

namespace {

bool EndsWithPkl(std::string_view name) {
  return name.size() > 4 && EqualsIgnoreCase(name.substr(name.size() - 4), ".pkl");
}

}  // namespace

ExtractDir::ExtractDir(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    ThrowErrno(errno == ENOENT ? Errc::kNotFound : Errc::kIo, "cannot open IFF extract " + path,
               errno);
  }
  std::string dir = path;
  std::string wanted_pkl;
  if (!S_ISDIR(st.st_mode)) {
    std::size_t slash = path.rfind('/');
    dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    wanted_pkl = slash == std::string::npos ? path : path.substr(slash + 1);
  }
  dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) {
    ThrowErrno(Errc::kIo, "cannot open IFF extract folder " + dir, errno);
  }
  int dup_fd = ::dup(dir_fd_);
  DIR* d = dup_fd >= 0 ? ::fdopendir(dup_fd) : nullptr;
  if (d == nullptr) {
    int e = errno;
    if (dup_fd >= 0) {
      ::close(dup_fd);
    }
    ::close(dir_fd_);
    ThrowErrno(Errc::kIo, "cannot list IFF extract folder " + dir, e);
  }
  while (struct dirent* ent = ::readdir(d)) {
    std::string name = ent->d_name;
    if (name != "." && name != "..") {
      entries_.push_back(std::move(name));
    }
  }
  ::closedir(d);
  if (!wanted_pkl.empty()) {
    pkl_name_ = wanted_pkl;
    return;
  }
  std::vector<std::string> pkls;
  for (const std::string& name : entries_) {
    if (EndsWithPkl(name)) {
      pkls.push_back(name);
    }
  }
  if (pkls.size() != 1) {
    ::close(dir_fd_);
    dir_fd_ = -1;
    ThrowIff(IffCode::kPkl, dir, std::nullopt, std::nullopt,
             pkls.empty() ? "no packing list (*.pkl) in the extract folder"
                          : "several packing lists (*.pkl) in the extract folder; name one");
  }
  pkl_name_ = pkls[0];
}

ExtractDir::~ExtractDir() {
  if (dir_fd_ >= 0) {
    ::close(dir_fd_);
  }
}

std::string ExtractDir::ReadPackingList() const {
  auto file = Open(pkl_name_, 0);
  constexpr std::uint64_t kMaxPkl = 16 << 20;
  if (file->size() > kMaxPkl) {
    ThrowIff(IffCode::kPkl, pkl_name_, std::nullopt, std::nullopt,
             "packing list larger than 16 MiB");
  }
  std::string bytes(file->size(), '\0');
  std::size_t got = PreadFull(file->fd(), bytes.data(), bytes.size(), 0, pkl_name_);
  bytes.resize(got);
  return bytes;
}

std::shared_ptr<ExtractFile> ExtractDir::Open(const std::string& name,
                                              std::uint64_t pkl_line) const {
  std::optional<std::uint64_t> line;
  if (pkl_line > 0) {
    line = pkl_line;
  }
  std::vector<const std::string*> matches;
  for (const std::string& entry : entries_) {
    if (EqualsIgnoreCase(entry, name)) {
      matches.push_back(&entry);
    }
  }
  if (matches.empty()) {
    ThrowIff(IffCode::kMissingFile, pkl_line > 0 ? pkl_name_ : name, line, std::nullopt,
             "listed file '" + name + "' does not exist in the extract folder");
  }
  if (matches.size() > 1) {
    ThrowIff(IffCode::kAmbiguousFile, pkl_line > 0 ? pkl_name_ : name, line, std::nullopt,
             "'" + name + "' matches both '" + *matches[0] + "' and '" + *matches[1] +
                 "' (names differ only in case)");
  }
  int fd = ::openat(dir_fd_, matches[0]->c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ELOOP) {
      ThrowIff(IffCode::kMissingFile, pkl_line > 0 ? pkl_name_ : name, line, std::nullopt,
               "'" + name + "' is a symbolic link, which is not followed");
    }
    ThrowErrno(Errc::kIo, "cannot open " + *matches[0], errno);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    ThrowIff(IffCode::kMissingFile, pkl_line > 0 ? pkl_name_ : name, line, std::nullopt,
             "'" + name + "' is not a regular file");
  }
  return std::make_shared<ExtractFile>(fd, name, static_cast<std::uint64_t>(st.st_size));
}

}  // namespace mailfs::iff
