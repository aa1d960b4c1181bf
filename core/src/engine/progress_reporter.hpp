// progress_reporter.hpp (internal): turns a run's counters into progress points.
#pragma once

#include <cstdint>

#include "dude/checkpoint.hpp"
#include "dude/objective.hpp"
#include "dude/trainer.hpp"
#include "engine/run_state.hpp"
#include "model/divergence_guard.hpp"

namespace dude::engine {

/// What a run hears from and reports to its caller: the test rows, the progress callback, the
/// stop request and the checks of its evaluation points.
struct RunHooks {
  const Subset* test;
  const ProgressCallback& on_progress;
  const std::atomic<bool>* stop;
  detail::DivergenceGuard& guard;
  const CheckpointPlan* checkpoints = nullptr;  // none: no checkpoints, no resume
  const std::string* identity = nullptr;        // run_identity(), when checkpoints are planned

  bool stop_requested() const { return stop != nullptr && stop->load(std::memory_order_relaxed); }
};

/// Turns the counters into progress points: train loss and staleness over the window since
/// the previous evaluation, evaluation of a model on the test rows, checked by the guard.
class ProgressReporter {
 public:
  ProgressReporter(RunState& run, const Objective& objective, const RunHooks& hooks)
      : run_(run),
        objective_(objective),
        test_(hooks.test),
        guard_(hooks.guard),
        shown_(static_cast<bool>(hooks.on_progress)) {}
  /// A point for a model after `steps` server steps. When `evaluation`, `model` is checked
  /// (throws TrainingDiverged) and, if someone sees the points, evaluated on the test rows.
  Progress point(bool evaluation, std::uint64_t steps, const float* model);
  /// The run's last point: checked and evaluated on the test rows.
  Progress final_point(std::uint64_t steps, const float* model);
  /// The window since the previous evaluation (checkpoints).
  void save(detail::StateWriter& out) const {
    out.put(count_at_last_);
    out.put(staleness_at_last_);
  }
  void load(detail::StateReader& in) {
    count_at_last_ = in.get<std::uint64_t>();
    staleness_at_last_ = in.get<std::uint64_t>();
  }

 private:
  Progress point(bool evaluation, std::uint64_t steps, const float* model, bool final);

  RunState& run_;
  const Objective& objective_;
  const Subset* test_;
  detail::DivergenceGuard& guard_;
  const bool shown_;  // a callback sees the points: the evaluations are worth the test rows
  std::uint64_t count_at_last_ = 0;  // counters at the previous evaluation point
  std::uint64_t staleness_at_last_ = 0;
};

}  // namespace dude::engine
