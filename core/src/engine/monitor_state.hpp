// monitor_state.hpp (internal): what the monitor of a running engine does besides its points:
// the run's checkpoints and its resume, and the loop that watches the run. The same for the
// threaded engines (train_async) and the MPI server rank (dude::mpi::train), whose monitor
// thread sits beside the server's.
#pragma once

#include <chrono>
#include <thread>

#include "common/state_stream.hpp"
#include "dude/checkpoint.hpp"
#include "engine/checkpoint_state.hpp"
#include "engine/eval_schedule.hpp"
#include "engine/progress_reporter.hpp"
#include "engine/run_state.hpp"

namespace dude::engine {

/// A running engine's checkpoints: the engine's state (model, policy, counters: `Engine`'s
/// save_state and load_state), then the monitor's (evaluation schedule and window, divergence
/// memory, time so far).
template <class Engine>
class MonitorState {
 public:
  MonitorState(Engine& engine, RunState& run, EvalSchedule& schedule, ProgressReporter& reporter,
               const RunHooks& hooks)
      : engine_(engine), run_(run), schedule_(schedule), reporter_(reporter), hooks_(hooks) {}

  /// Before the engine starts: continues the plan's checkpoint, if it has one. A run resumed
  /// at the end of its step or sample budget (its last checkpoint was taken as it ended) is
  /// stopped at once: a server that applies arrivals one at a time would apply one more
  /// before it looked at the budget.
  void resume() {
    const CheckpointPlan* plan = hooks_.checkpoints;
    if (plan == nullptr || plan->resume == nullptr) return;
    detail::StateReader in(open_state(*plan->resume, *hooks_.identity));
    engine_.load_state(in);
    schedule_.load(in);
    reporter_.load(in);
    hooks_.guard.load(in);
    run_.resume_clock(in.get<double>());
    in.expect_end();
    if (run_.budget.spent(run_.counters.steps.load(std::memory_order_relaxed),
                          run_.counters.samples.load(std::memory_order_relaxed))) {
      run_.stop.store(true, std::memory_order_relaxed);
    }
  }

  Checkpoint make() {
    EngineState state = engine_.save_state();
    detail::StateWriter out;
    out.bytes() = std::move(state.bytes);
    schedule_.save(out);
    reporter_.save(out);
    hooks_.guard.save(out);
    out.put(run_.elapsed());
    return seal_state(*hooks_.identity, state.steps, std::move(out.bytes()));
  }

 private:
  Engine& engine_;
  RunState& run_;
  EvalSchedule& schedule_;
  ProgressReporter& reporter_;
  const RunHooks& hooks_;
};

/// The monitor's loop, until the run stops: the time budget, a stop request (with a last
/// checkpoint to continue from), evaluation points and ticks (`monitor`), and checkpoints when
/// due. Returns when the run should end; the caller stops it.
template <class Engine>
void watch_run(Engine& engine, RunState& run, Monitor& monitor, MonitorState<Engine>& state,
               const RunHooks& hooks) {
  const auto checkpoint = [&] { return state.make(); };
  CheckpointClock checkpoints(hooks.checkpoints,
                              run.counters.steps.load(std::memory_order_relaxed));
  while (!run.stopping()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (run.budget.seconds > 0 && run.elapsed() >= run.budget.seconds) return;
    if (hooks.stop_requested()) {
      checkpoints.offer_final(checkpoint);
      return;
    }
    if (!monitor.look([&](float* out) { return engine.snapshot(out); })) return;
    checkpoints.offer(run.counters.steps.load(std::memory_order_relaxed), checkpoint);
  }
}

}  // namespace dude::engine
