#include "backends/imap/credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "backends/error.h"

namespace mailfs::imap {
namespace {

std::string FirstLine(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

std::string ReadPassFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) throw Error(Errc::kAuth, "passfile " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(Errc::kAuth, "passfile " + path + ": not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    throw Error(Errc::kAuth, "passfile " + path + " is readable by others: chmod 600 it");
  }
  std::string data;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw Error(Errc::kAuth, "passfile " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > (1 << 20)) break;
  }
  ::close(fd);
  std::string line = FirstLine(data);
  if (line.empty()) throw Error(Errc::kAuth, "passfile " + path + " is empty");
  return line;
}

std::string RunCredentialCommand(const std::string& option, const std::string& command) {
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) throw Error(Errc::kAuth, option + ": cannot run the command: " + std::strerror(errno));
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) {
    if (out.size() < (1 << 20)) out.append(buf, n);
  }
  int status = ::pclose(p);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw Error(Errc::kAuth, option + ": the command failed" +
                                 (status != -1 && WIFEXITED(status) ? " (exit status " +
                                                                          std::to_string(WEXITSTATUS(status)) + ")"
                                                                    : std::string()));
  }
  std::string line = FirstLine(out);
  if (line.empty()) throw Error(Errc::kAuth, option + ": the command printed nothing");
  return line;
}

std::string PromptPassword(const std::string& prompt) {
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    throw Error(Errc::kAuth,
                "no password: give -o passfile=, -o passcmd= or MAILFS_PASSWORD, or run on a terminal");
  }
  termios old{};
  bool have_termios = ::tcgetattr(fd, &old) == 0;
  if (have_termios) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  (void)!::write(fd, prompt.data(), prompt.size());
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
  if (have_termios) ::tcsetattr(fd, TCSAFLUSH, &old);
  (void)!::write(fd, "\n", 1);
  ::close(fd);
  if (line.empty()) throw Error(Errc::kAuth, "no password given");
  return line;
}

}  // namespace mailfs::imap
