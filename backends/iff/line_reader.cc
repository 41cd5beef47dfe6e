#include "backends/iff/line_reader.h"

#include <cstring>
#include <utility>

#include "backends/blob.h"
#include "backends/iff/csv.h"

namespace mailfs::iff {

namespace {
constexpr std::size_t kChunk = 64 * 1024;
}  // namespace

PhysicalLineReader::PhysicalLineReader(int fd, std::string name)
    : fd_(fd), name_(std::move(name)) {}

bool PhysicalLineReader::Fill() {
  if (eof_) {
    return false;
  }
  // Drop the consumed prefix, then append one chunk.
  file_offset_ += pos_;
  buffer_.erase(0, pos_);
  pos_ = 0;
  std::size_t old = buffer_.size();
  buffer_.resize(old + kChunk);
  std::size_t got = PreadFull(fd_, buffer_.data() + old, kChunk, file_offset_ + old, name_);
  buffer_.resize(old + got);
  if (got < kChunk) {
    eof_ = true;
  }
  return got > 0;
}

bool PhysicalLineReader::Next(PhysicalLine* line) {
  line->text.clear();
  line->too_long = false;
  line->bare_lf = false;
  line->no_eol = false;
  bool started = false;
  for (;;) {
    if (pos_ >= buffer_.size() && !Fill()) {
      if (!started) {
        return false;
      }
      line->no_eol = true;
      break;
    }
    if (!started) {
      started = true;
      line->number = ++line_number_;
      line->offset = file_offset_ + pos_;
    }
    const char* begin = buffer_.data() + pos_;
    std::size_t avail = buffer_.size() - pos_;
    const void* lf = std::memchr(begin, '\n', avail);
    std::size_t take = lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - begin) : avail;
    if (!line->too_long) {
      std::size_t room = kMaxLineBytes + 1 - line->text.size();
      line->text.append(begin, std::min(take, room));
      if (line->text.size() > kMaxLineBytes) {
        line->too_long = true;
        line->text.resize(kMaxLineBytes);
      }
    }
    pos_ += take;
    if (lf) {
      ++pos_;
      break;
    }
  }
  if (!line->no_eol) {
    if (!line->too_long && !line->text.empty() && line->text.back() == '\r') {
      line->text.pop_back();
    } else if (!line->too_long) {
      line->bare_lf = true;
    }
  }
  return true;
}

namespace {

bool EndsInContinuation(const std::string& text) {
  return text.size() >= 2 && text[text.size() - 1] == '\\' && text[text.size() - 2] == '\\' &&
         OutsideQuotesAtEnd(text);
}

}  // namespace

bool LogicalLineReader::Next(bool allow_continuation, LogicalLine* line) {
  PhysicalLine phys;
  if (!physical_.Next(&phys)) {
    return false;
  }
  line->first_line = phys.number;
  line->offset = phys.offset;
  line->too_long = phys.too_long;
  line->bare_lf = phys.bare_lf;
  line->blank = phys.text.empty() && !phys.too_long;
  line->comment = !phys.text.empty() && phys.text[0] == '!';
  line->text = std::move(phys.text);
  if (line->blank || line->comment || !allow_continuation) {
    return true;
  }
  while (!line->too_long && EndsInContinuation(line->text)) {
    line->text.resize(line->text.size() - 2);
    if (!physical_.Next(&phys)) {
      break;
    }
    line->bare_lf = line->bare_lf || phys.bare_lf;
    if (phys.too_long || line->text.size() + phys.text.size() > kMaxLineBytes) {
      line->too_long = true;
      break;
    }
    line->text += phys.text;
  }
  return true;
}

}  // namespace mailfs::iff
