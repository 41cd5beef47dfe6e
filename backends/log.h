// Logging: one line per event to stderr (foreground) or syslog (daemon).
//   LOG(kInfo) << "mounted " << path;
// User data (subjects, addresses, folder names) goes through Redacted(), which
// prints "(redacted)" when -o redact is on. Credentials are never logged.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace mailfs {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

struct LogConfig {
  bool to_syslog = false;
  bool debug = false;
  bool redact = false;
};
void SetLogConfig(const LogConfig& config);
const LogConfig& GetLogConfig();
void EmitLog(LogLevel level, const std::string& line);

class LogLine {
 public:
  explicit LogLine(LogLevel level) : level_(level) {}
  ~LogLine() { EmitLog(level_, out_.str()); }
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  template <typename T>
  LogLine& operator<<(const T& v) {
    out_ << v;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream out_;
};

// User data in logs: the value itself, or "(redacted)" under -o redact.
std::string Redacted(std::string_view user_data);

}  // namespace mailfs

// A for-statement (not an if) so that `if (x) LOG(...) << y; else ...` parses
// as written.
#define LOG(level)                                                                   \
  for (bool mailfs_log_once_ = ::mailfs::LogLevel::level != ::mailfs::LogLevel::kDebug || \
                               ::mailfs::GetLogConfig().debug;                          \
       mailfs_log_once_; mailfs_log_once_ = false)                                      \
  ::mailfs::LogLine(::mailfs::LogLevel::level)
