// The writable PST backend (design.md §6): `-o create` makes a new Unicode
// PST, `-o rw` opens an existing one (made by mailfs, Outlook or another
// producer), and every write operation of backends/backend.h is one commit of
// the PST writer (backends/pst/writer): durable and consistent when it
// returns.
//
// Reading: a message mailfs wrote keeps its original MIME bytes
// (mailfs_props.h) and is served from them; any other message (already in
// an Outlook file) is rendered by the read-only libpff backend, reopened on
// the committed file whenever a commit happened since it was opened.
//
// Thread safety: one mutex (mu_) serialises every call — one writer at a
// time per file (design §8). It is a leaf lock; no callback runs under it.
#pragma once

#include <memory>
#include <string>

#include "backends/backend.h"

namespace mailfs::pst {

struct PstWriteOptions {
  bool create = false;  // a new file; refused if |path| exists
};

// Opens (or with create, makes) a PST file for writing. Throws Error:
// kExists (create, file exists), kNotFound (rw, no file), kUnsupported (an
// ANSI file: only Unicode files are written), kCorrupt (a damaged file).
std::unique_ptr<Backend> OpenWritablePst(const std::string& path, const PstWriteOptions& options);

}  // namespace mailfs::pst
