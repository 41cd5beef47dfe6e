// mailfs-pstcheck [-q] FILE: structural check of a PST file (see
// backends/pst/check/pst_check.h for what is checked).
// Prints one line per problem ("error at 0x…: structure: message"; warnings
// too unless -q) and a summary. Exit status: 0 no errors (warnings allowed),
// 1 errors found, 2 the file cannot be read as a PST file, 64 usage.
#include <cstdio>
#include <cstring>
#include <string>

#include "backends/pst/check/pst_check.h"

int main(int argc, char** argv) {
  bool quiet = false;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "-q") == 0) {
      quiet = true;
    } else if (std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "--help") == 0) {
      std::printf("usage: mailfs-pstcheck [-q] FILE\n"
                  "Checks the structure of a PST file. Exit status: 0 no errors, 1 errors,\n"
                  "2 not readable as a PST file. -q: do not list warnings.\n");
      return 0;
    } else if (path.empty() && argv[i][0] != '-') {
      path = argv[i];
    } else {
      std::fprintf(stderr, "mailfs-pstcheck: unexpected argument '%s'\n", argv[i]);
      return 64;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "usage: mailfs-pstcheck [-q] FILE\n");
    return 64;
  }
  const auto r = mailfs::pst::check::CheckFile(path);
  if (!r.readable) {
    std::printf("%s: cannot check: %s\n", path.c_str(), r.fatal.c_str());
    return 2;
  }
  for (const auto& f : r.findings) {
    if (quiet && f.severity == mailfs::pst::check::Severity::kWarning) continue;
    std::printf("%s\n", mailfs::pst::check::FormatFinding(f).c_str());
  }
  std::printf("%s: %s PST, %llu bytes (%llu free), %llu pages, %llu blocks, %llu nodes, %llu heaps: "
              "%zu errors, %zu warnings\n",
              path.c_str(), r.unicode ? "Unicode" : "ANSI", static_cast<unsigned long long>(r.file_size),
              static_cast<unsigned long long>(r.free_bytes), static_cast<unsigned long long>(r.pages),
              static_cast<unsigned long long>(r.blocks), static_cast<unsigned long long>(r.nodes),
              static_cast<unsigned long long>(r.heaps), r.errors(), r.warnings());
  return r.errors() == 0 ? 0 : 1;
}
