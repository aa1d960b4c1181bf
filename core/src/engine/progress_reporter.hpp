// progress_reporter.hpp (internal): turns a run's counters into progress points.
#pragma once

#include <cstdint>
#include <vector>

#include "dude/checkpoint.hpp"
#include "dude/objective.hpp"
#include "dude/trainer.hpp"
#include "engine/eval_schedule.hpp"
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
        on_progress_(hooks.on_progress),
        shown_(static_cast<bool>(hooks.on_progress)) {}
  /// A point for a model after `steps` server steps. When `evaluation`, `model` is checked
  /// (throws TrainingDiverged) and, if someone sees the points, evaluated on the test rows.
  Progress point(bool evaluation, std::uint64_t steps, const float* model);
  /// Hands a point to the caller's callback, if there is one.
  void send(const Progress& point) const {
    if (on_progress_) on_progress_(point);
  }
  /// The run's end, after `steps` server steps with `params` holding its model: the best
  /// point's model instead when early stopping ended it; that model checked and evaluated on
  /// the test rows as the last point, which is sent and returned.
  Progress finish(std::uint64_t steps, float* params);
  /// Early stopping's verdict on the points so far: the run should end.
  bool plateau_reached() const { return guard_.plateau_reached(); }
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
  const ProgressCallback& on_progress_;
  const bool shown_;  // a callback sees the points: the evaluations are worth the test rows
  std::uint64_t count_at_last_ = 0;  // counters at the previous evaluation point
  std::uint64_t staleness_at_last_ = 0;
};

}  // namespace dude::engine

namespace dude::engine {

/// What watches a run whose engine works on other threads or processes (the threaded engines,
/// the MPI server rank), every few milliseconds: an evaluation point on a fresh snapshot of
/// the model when one is due, else a tick when one is due. Time budgets, stop requests and
/// checkpoints stay the caller's.
class Monitor {
 public:
  Monitor(RunState& run, ProgressReporter& reporter, EvalSchedule& schedule, std::size_t params)
      : run_(run), reporter_(reporter), schedule_(schedule), params_(params) {}

  /// One look; `snapshot(float* out)` copies a recent model and returns its version. Returns
  /// false once early stopping says the run should end.
  template <class Snapshot>
  bool look(Snapshot&& snapshot) {
    const std::uint64_t steps = run_.counters.steps.load(std::memory_order_relaxed);
    const std::uint64_t samples = run_.counters.samples.load(std::memory_order_relaxed);
    if (schedule_.due(steps, samples) && !run_.budget.spent(steps, samples)) {
      // Made at the first evaluation on the way: a run evaluated only at its end (on the
      // caller's model) never holds a second model, which at 2^24 sparse features is 800 MB.
      if (snapshot_.empty()) snapshot_.resize(params_);
      const std::uint64_t version = snapshot(snapshot_.data());
      reporter_.send(reporter_.point(true, version, snapshot_.data()));
      schedule_.advance(steps, samples);
      last_tick_ = run_.elapsed();
      return !reporter_.plateau_reached();
    }
    const double tick_seconds = run_.config.sgd.tick_seconds;
    if (tick_seconds > 0 && run_.elapsed() - last_tick_ >= tick_seconds) {
      const Progress p = reporter_.point(false, steps, nullptr);
      reporter_.send(p);
      last_tick_ = p.wall_seconds;
    }
    return true;
  }

 private:
  RunState& run_;
  ProgressReporter& reporter_;
  EvalSchedule& schedule_;
  const std::size_t params_;
  std::vector<float> snapshot_;
  double last_tick_ = 0;
};

}  // namespace dude::engine
