// The PST backend: an Outlook data file (.pst, ANSI or Unicode) served
// read-only as folders of .eml messages (design.md §3 "PST"), read with libpff.
//
// Thread safety: libpff handles are not thread-safe, so a PstBackend keeps one
// open libpff file per mount and one mutex that serialises every libpff call.
#pragma once

#include <memory>
#include <string>

#include "backends/backend.h"

namespace mailfs::pst {

struct PstOptions {
  // Refuse the file when any folder or item cannot be read.
  bool strict = false;
  // Where listings are kept between mounts (design.md §5: a remount lists at
  // once, without rendering): "<cache_dir>/pst-listing-<fingerprint>/", one
  // file per folder holding each message's key, date, flags, exact size and
  // header block (or why it is unreadable). The fingerprint covers the
  // file's size, modification time and inode and the conversion's version.
  // Empty: listings are not kept.
  std::string cache_dir;
};

// Opens the PST file at |path| read-only. A missing file throws
// Error(kNotFound); a file libpff cannot open (truncated, corrupt, not a PST)
// or a password-protected one throws Error(kCorrupt); both name the file.
// Without strict, an unreadable item is listed as unreadable and its Fetch
// throws kCorrupt naming its folder and node id; with strict, every item is
// converted at open and the first failure throws kCorrupt.
std::unique_ptr<Backend> OpenPstFile(const std::string& path, const PstOptions& options);

}  // namespace mailfs::pst
