// Temporary files of writers that were killed mid-write (see AtomicFile): PATH.tmp.PID.
#include <signal.h>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <string>

#include "dude/io.hpp"

namespace dude {
namespace {

/// Whether no process `pid` exists (kill with signal 0 checks without signalling; EPERM means
/// it exists under another user).
bool gone(long pid) { return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH; }

}  // namespace

void remove_stale_temporaries(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string prefix = target.filename().string() + ".tmp.";
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    long pid = 0;
    const char* digits = name.data() + prefix.size();
    const auto [end, failed] = std::from_chars(digits, name.data() + name.size(), pid);
    if (failed != std::errc() || end != name.data() + name.size() || pid <= 0) continue;
    if (gone(pid)) fs::remove(entry.path(), error);
  }
}

}  // namespace dude
