// budget.hpp (internal): how much of an asynchronous run's budget (steps, samples or seconds)
// is used.
#pragma once

#include <cstdint>

#include "dude/trainer.hpp"

namespace dude::engine {

/// The budget of a run, checked by whoever applies gradients.
struct Budget {
  std::uint64_t steps = 0;    // 0: none
  std::uint64_t samples = 0;  // epochs * rows, 0: none
  double seconds = 0;         // 0: none
  std::uint64_t rows = 1;     // training rows (for epochs)

  Budget(const SgdConfig& c, std::size_t train_rows)
      : steps(c.steps),
        samples(c.epochs > 0
                    ? static_cast<std::uint64_t>(c.epochs * static_cast<double>(train_rows) + 0.5)
                    : 0),
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

}  // namespace dude::engine
