// The IFF backend: an Exchange Migration Wizard extract (.pkl packing list,
// .pri primary files, .sec secondary files) served read-only as folders of
// .eml messages (iff-format.md, design.md §3 "IFF").
#pragma once

#include <memory>
#include <string>

#include "backends/backend.h"

namespace mailfs::iff {

struct IffOptions {
  // Fail on any error, including errors confined to one message.
  bool strict = false;
  // Where listings (each message's rendered size and header block) are kept
  // between mounts, so a remount lists without rendering; empty: not kept.
  // Keyed by the renderer version and the size and time of every listed file.
  std::string cache_dir;
};

// Opens the extract at |path| (the extract folder holding one .pkl, or the .pkl
// itself). Structural errors (packing list, code page, missing/ambiguous
// files, unreadable primary file, unknown sections, ...) throw
// Error(Errc::kCorrupt, "IFF_E_...: <file> line N [offset M]: reason"); so do
// message errors under |options.strict|. Without strict, a broken message is
// listed as unreadable and its Fetch throws kCorrupt with the same kind of
// message. Secondary files are read with positioned reads, never loaded whole.
std::unique_ptr<Backend> OpenIffExtract(const std::string& path, const IffOptions& options);

}  // namespace mailfs::iff
