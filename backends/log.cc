#include "backends/log.h"

#include <syslog.h>

#include <cstdio>
#include <mutex>

namespace mailfs {
namespace {
LogConfig g_config;  // set once in main() before threads start
std::mutex g_emit_mu;
}  // namespace

void SetLogConfig(const LogConfig& config) { g_config = config; }
const LogConfig& GetLogConfig() { return g_config; }

void EmitLog(LogLevel level, const std::string& line) {
  if (g_config.to_syslog) {
    int prio = level == LogLevel::kError     ? LOG_ERR
               : level == LogLevel::kWarning ? LOG_WARNING
               : level == LogLevel::kInfo    ? LOG_INFO
                                             : LOG_DEBUG;
    syslog(prio, "%s", line.c_str());
    return;
  }
  const char* tag = level == LogLevel::kError     ? "error"
                    : level == LogLevel::kWarning ? "warning"
                    : level == LogLevel::kInfo    ? "info"
                                                  : "debug";
  std::lock_guard<std::mutex> lock(g_emit_mu);
  std::fprintf(stderr, "mailfs: %s: %s\n", tag, line.c_str());
  std::fflush(stderr);
}

std::string Redacted(std::string_view user_data) {
  if (g_config.redact) return "(redacted)";
  return std::string(user_data);
}

}  // namespace mailfs
