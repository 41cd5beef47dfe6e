// Line reading for packing lists and primary files (iff-format.md §2.1, §2.3):
// physical lines split at LF (CR LF expected, a bare LF accepted and
// reported), then logical lines with "\\" continuation, comment and blank
// line recognition. Reads through a small buffer with pread, so a primary file
// of any size costs constant memory. One reader per thread.
#pragma once

#include <cstdint>
#include <string>

namespace mailfs::iff {

// Longest logical line accepted (iff-format.md §8 safety limits).
inline constexpr std::size_t kMaxLineBytes = 1 << 20;

struct PhysicalLine {
  std::string text;          // without the line end; cut at kMaxLineBytes
  std::uint64_t number = 0;  // 1-based
  std::uint64_t offset = 0;  // byte offset of its first byte
  bool too_long = false;     // longer than kMaxLineBytes (the rest was skipped)
  bool bare_lf = false;      // ended by LF without CR
  bool no_eol = false;       // last line of the file, without any line end
};

// Reads the physical lines of an open file from offset 0.
class PhysicalLineReader {
 public:
  // |fd| stays owned by the caller; |name| is used in error messages.
  PhysicalLineReader(int fd, std::string name);
  // Reads the next line. Returns false at end of file. Throws Error(kIo).
  bool Next(PhysicalLine* line);

 private:
  bool Fill();

  int fd_;
  std::string name_;
  std::string buffer_;
  std::size_t pos_ = 0;
  std::uint64_t file_offset_ = 0;  // offset of buffer_[0]
  std::uint64_t line_number_ = 0;
  bool eof_ = false;
};

struct LogicalLine {
  std::string text;              // continuations joined
  std::uint64_t first_line = 0;  // number of its first physical line
  std::uint64_t offset = 0;      // byte offset of its first physical line
  bool blank = false;            // the physical line was empty
  bool comment = false;          // starts with '!' in column 1
  bool too_long = false;         // over kMaxLineBytes
  bool bare_lf = false;          // some physical line ended with a bare LF
};

// Joins continued physical lines of a primary file into logical lines.
class LogicalLineReader {
 public:
  LogicalLineReader(int fd, std::string name) : physical_(fd, std::move(name)) {}
  // Reads the next logical line; |allow_continuation| is false inside
  // DIRECTORY sections. Returns false at end of file. Throws Error(kIo).
  bool Next(bool allow_continuation, LogicalLine* line);

 private:
  PhysicalLineReader physical_;
};

}  // namespace mailfs::iff
