// run_state.hpp (internal): what the threads of one asynchronous run share besides models and
// gradients: the stop flag, counters for progress reports, errors, and the budget.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <vector>

#include "dude/async.hpp"
#include "common/cache_line.hpp"

namespace dude::engine {

/// Counters the appliers of gradients (the server, or hogwild's workers) add to and the
/// monitor reads. All relaxed: each is a statistic read on its own, never used to publish
/// other data, so no ordering between them is needed.
struct alignas(kFalseSharingRange) RunCounters {
  std::atomic<std::uint64_t> steps{0};            // model updates (sync: rounds)
  std::atomic<std::uint64_t> samples{0};          // rows in applied gradients
  std::atomic<std::uint64_t> staleness_sum{0};    // sum of tau over applied gradients
  std::atomic<std::uint64_t> staleness_count{0};  // applied gradients
  std::atomic<std::uint64_t> staleness_max{0};    // largest tau so far
  std::atomic<double> loss_sum{0};                // sum of applied gradients' minibatch losses
  std::unique_ptr<std::atomic<std::uint64_t>[]> arrivals;  // applied gradients per worker

  explicit RunCounters(std::size_t workers) : arrivals(new std::atomic<std::uint64_t>[workers]) {
    for (std::size_t w = 0; w < workers; ++w) arrivals[w].store(0, std::memory_order_relaxed);
  }
  void raise_staleness_max(std::uint64_t tau) {
    std::uint64_t seen = staleness_max.load(std::memory_order_relaxed);
    while (tau > seen && !staleness_max.compare_exchange_weak(seen, tau, std::memory_order_relaxed)) {
    }
  }
};

/// The budget of a run, checked by whoever applies gradients.
struct Budget {
  std::uint64_t steps = 0;      // 0: none
  std::uint64_t samples = 0;    // epochs * rows, 0: none
  double seconds = 0;           // 0: none
  std::uint64_t rows = 1;       // training rows (for epochs)

  Budget(const SgdConfig& c, std::size_t train_rows)
      : steps(c.steps),
        samples(c.epochs > 0 ? static_cast<std::uint64_t>(c.epochs * static_cast<double>(train_rows) + 0.5) : 0),
        seconds(c.seconds),
        rows(train_rows) {}
  /// Fraction of the budget used, for learning-rate schedules and ETAs.
  double fraction(std::uint64_t done_steps, std::uint64_t done_samples, double elapsed) const {
    if (steps > 0) return static_cast<double>(done_steps) / static_cast<double>(steps);
    if (samples > 0) return static_cast<double>(done_samples) / static_cast<double>(samples);
    return elapsed / seconds;
  }
  bool spent(std::uint64_t done_steps, std::uint64_t done_samples) const {
    return (steps > 0 && done_steps >= steps) || (samples > 0 && done_samples >= samples);
  }
};

/// When the next evaluation point of an asynchronous run is due: every SgdConfig::eval_every
/// server steps, or each time the applied samples pass a multiple of the training rows
/// (eval_every 0: once an epoch). kEvalAtEndOnly is never due (the final point is separate).
class EvalSchedule {
 public:
  EvalSchedule(std::uint64_t eval_every, std::uint64_t rows)
      : every_(eval_every), rows_(rows), next_steps_(eval_every), next_samples_(eval_every > 0 ? 0 : rows) {}
  bool due(std::uint64_t steps, std::uint64_t samples) const {
    return every_ > 0 ? steps >= next_steps_ : samples >= next_samples_;
  }
  /// After a point at (steps, samples): the next is the first multiple past them.
  void advance(std::uint64_t steps, std::uint64_t samples) {
    if (every_ > 0) {
      while (next_steps_ <= steps) next_steps_ += every_;
    } else {
      while (next_samples_ <= samples) next_samples_ += rows_;
    }
  }

 private:
  const std::uint64_t every_;      // server steps between points, 0: per epoch
  const std::uint64_t rows_;       // training rows (an epoch of samples)
  std::uint64_t next_steps_;       // the next point's step count (every_ > 0)
  std::uint64_t next_samples_;     // the next point's sample count (every_ == 0)
};

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
    return dude::learning_rate(config.sgd, static_cast<double>(samples) / static_cast<double>(budget.rows),
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
  const std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  const bool virtual_clock = config.deterministic;
  double virtual_now = 0;  // deterministic runs: the simulated time, set by the driver
  RunCounters counters;
  // Set once by anyone (budget spent, user stop, error); every loop polls it. Relaxed: it
  // only ends loops; the data threads hand over is synchronised by the join.
  alignas(kFalseSharingRange) std::atomic<bool> stop{false};
  // One slot per thread (written by that thread only, read after the join).
  std::vector<std::exception_ptr> errors;
};

/// Turns the counters into progress points: train loss and staleness over the window since
/// the previous evaluation, evaluation of a model on the test rows.
class ProgressReporter {
 public:
  ProgressReporter(RunState& run, const Objective& objective, const Subset* test)
      : run_(run), objective_(objective), test_(test) {}
  /// A point for a model after `steps` server steps; `model` is evaluated when `evaluation`.
  Progress point(bool evaluation, std::uint64_t steps, const float* model);

 private:
  RunState& run_;
  const Objective& objective_;
  const Subset* test_;
  double loss_at_last_ = 0;            // counters at the previous evaluation point
  std::uint64_t count_at_last_ = 0;
  std::uint64_t staleness_at_last_ = 0;
};

/// Sleeps or spins until `deadline` unless the run stops first: slowdown for stragglers.
void wait_until(const RunState& run, std::chrono::steady_clock::time_point deadline);

/// Pins the calling thread to a core (modulo the core count); best effort.
void pin_to_core(std::size_t core);

}  // namespace dude::engine
