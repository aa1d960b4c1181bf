// progress_reporter.hpp (internal): turns a run's counters into progress points.
#pragma once

#include <cstdint>

#include "dude/objective.hpp"
#include "dude/trainer.hpp"
#include "engine/run_state.hpp"

namespace dude::engine {

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
  double loss_at_last_ = 0;  // counters at the previous evaluation point
  std::uint64_t count_at_last_ = 0;
  std::uint64_t staleness_at_last_ = 0;
};

}  // namespace dude::engine
