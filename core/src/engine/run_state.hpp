// run_state.hpp (internal): what the threads of one asynchronous run share besides models and
// gradients: the configuration, the budget, the counters, the stop flag and the errors.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <vector>

#include "common/cache_line.hpp"
#include "dude/async.hpp"
#include "engine/budget.hpp"
#include "engine/run_counters.hpp"

namespace dude::engine {

/// Shared by every thread of a run.
struct RunState {
  RunState(const AsyncConfig& c, std::size_t train_rows, std::size_t threads)
      : config(c), budget(c.sgd, train_rows), counters(c.workers), errors(threads) {}

  /// Seconds since the start: wall time, or the virtual clock of a deterministic run.
  double elapsed() const {
    if (virtual_clock) return virtual_now;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  double learning_rate(std::uint64_t steps, std::uint64_t samples) const {
    return dude::learning_rate(config.sgd,
                               static_cast<double>(samples) / static_cast<double>(budget.rows),
                               budget.fraction(steps, samples, elapsed()));
  }
  /// Called by a thread that failed: keeps its exception and stops the run.
  void fail(std::size_t thread, std::exception_ptr error) {
    errors[thread] = std::move(error);
    stop.store(true, std::memory_order_relaxed);
  }
  bool stopping() const { return stop.load(std::memory_order_relaxed); }

  const AsyncConfig& config;
  const Budget budget;
  /// Continues a run that had been going for `seconds` (a resumed checkpoint).
  void resume_clock(double seconds) {
    start = std::chrono::steady_clock::now() -
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                std::chrono::duration<double>(seconds));
  }

  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  const bool virtual_clock = config.deterministic;
  double virtual_now = 0;  // deterministic runs: the simulated time, set by the driver
  RunCounters counters;
  // Set once by anyone (budget spent, user stop, error); every loop polls it. Relaxed: it
  // only ends loops; the data threads hand over is synchronised by the join.
  alignas(kFalseSharingRange) std::atomic<bool> stop{false};
  // One slot per thread (written by that thread only, read after the join).
  std::vector<std::exception_ptr> errors;
};

}  // namespace dude::engine
