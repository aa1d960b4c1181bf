// stop_signals.hpp: SIGINT and SIGTERM turned into the library's stop flag, so that a run ends
// cleanly and its outputs are written; a second signal ends the process at once.
#pragma once

#include <atomic>

namespace dude::cli {

/// While alive, the first SIGINT or SIGTERM sets stop_flag() (the library polls it and ends the
/// run after its current step); a second one exits at once with 128 + signal, without running
/// destructors, so files already in place stay as they were. The previous handlers come back
/// on destruction. One at a time.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  const std::atomic<bool>& stop_flag() const;
  /// The signal that set the flag, 0 if none came.
  int signal() const;
  /// The exit code of a run ended by signal(): 128 + the signal (130 SIGINT, 143 SIGTERM).
  int exit_code() const { return 128 + signal(); }
  /// "SIGINT" or "SIGTERM".
  const char* signal_name() const;
};

}  // namespace dude::cli
