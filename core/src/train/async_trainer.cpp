// train_async: partitions the data, starts the engine for the chosen algorithm, and turns its
// counters into progress points on the calling thread (the monitor), which also evaluates
// snapshots of the model while training goes on.
#include <thread>

#include "data/minibatch_sampler.hpp"
#include "dude/async.hpp"
#include "dude/errors.hpp"
#include "engine/checkpoint_state.hpp"
#include "engine/eval_schedule.hpp"
#include "engine/gradient_slot.hpp"
#include "engine/hogwild_engine.hpp"
#include "engine/policy.hpp"
#include "engine/progress_reporter.hpp"
#include "engine/replay.hpp"
#include "engine/server_engine.hpp"
#include "engine/sparse_server_engine.hpp"
#include "engine/warm_start.hpp"

namespace dude {

namespace {

using engine::RunState;

/// A threaded run's checkpoints: the engine's state (model, policy, counters), then the
/// monitor's (evaluation schedule and window, divergence memory, time so far).
template <class Engine>
class MonitorState {
 public:
  MonitorState(Engine& engine, RunState& run, engine::EvalSchedule& schedule,
               engine::ProgressReporter& reporter, const engine::RunHooks& hooks)
      : engine_(engine), run_(run), schedule_(schedule), reporter_(reporter), hooks_(hooks) {}

  /// Before the engine starts: continues the plan's checkpoint, if it has one.
  void resume() {
    const CheckpointPlan* plan = hooks_.checkpoints;
    if (plan == nullptr || plan->resume == nullptr) return;
    detail::StateReader in(engine::open_state(*plan->resume, *hooks_.identity));
    engine_.load_state(in);
    schedule_.load(in);
    reporter_.load(in);
    hooks_.guard.load(in);
    run_.resume_clock(in.get<double>());
    in.expect_end();
  }

  Checkpoint make() {
    engine::EngineState state = engine_.save_state();
    detail::StateWriter out;
    out.bytes() = std::move(state.bytes);
    schedule_.save(out);
    reporter_.save(out);
    hooks_.guard.save(out);
    out.put(run_.elapsed());
    return engine::seal_state(*hooks_.identity, state.steps, std::move(out.bytes()));
  }

 private:
  Engine& engine_;
  RunState& run_;
  engine::EvalSchedule& schedule_;
  engine::ProgressReporter& reporter_;
  const engine::RunHooks& hooks_;
};

/// The calling thread's part of a run: budget by time and stop requests, evaluation points,
/// ticks and checkpoints. `Engine` is a ServerEngine or the HogwildEngine.
template <class Engine>
Progress monitor(Engine& engine, RunState& run, const Objective& objective,
                 const engine::RunHooks& hooks, float* params, std::size_t threads) {
  engine::EvalSchedule schedule(run.config.sgd.eval_every, run.budget.rows);
  engine::ProgressReporter reporter(run, objective, hooks);
  engine::Monitor watch(run, reporter, schedule, objective.num_params());
  MonitorState<Engine> state(engine, run, schedule, reporter, hooks);
  const auto checkpoint = [&] { return state.make(); };
  state.resume();
  engine::CheckpointClock checkpoints(hooks.checkpoints,
                                      run.counters.steps.load(std::memory_order_relaxed));
  try {
    engine.start();
    while (!run.stopping()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      if (run.budget.seconds > 0 && run.elapsed() >= run.budget.seconds) break;
      if (hooks.stop_requested()) {
        checkpoints.offer_final(checkpoint);
        break;
      }
      if (!watch.look([&](float* out) { return engine.snapshot(out); })) break;
      checkpoints.offer(run.counters.steps.load(std::memory_order_relaxed), checkpoint);
    }
  } catch (...) {
    run.fail(threads, std::current_exception());
  }
  run.stop.store(true, std::memory_order_relaxed);
  engine.join();
  for (const std::exception_ptr& error : run.errors) {
    if (error) std::rethrow_exception(error);
  }
  return reporter.finish(engine.snapshot(params), params);
}

template <class Slot>
Progress run_server(const Objective& objective, const Dataset& data,
                    const std::vector<std::vector<std::uint32_t>>& shards,
                    const AsyncConfig& config, float* params, const engine::RunHooks& hooks,
                    std::size_t train_rows) {
  if (config.server == ServerPlacement::Workers) {
    throw ConfigError(
        "server placement: workers serve on sparse data only (dense runs fold "
        "each round over a team of threads)");
  }
  const std::size_t threads = config.workers + 1;
  RunState run(config, train_rows, threads + 1);
  const std::unique_ptr<engine::ServerPolicy> policy =
      engine::make_policy(config.algorithm, config.workers, objective.num_params());
  if (config.dude_warm_start()) {
    engine::warm_start(*policy, objective, data, shards, config.sgd, params);
  }
  engine::ServerEngine<Slot> server(objective, data, shards, run, *policy, params);
  return monitor(server, run, objective, hooks, params, threads);
}

/// Whether the sparse engine's workers apply their own arrivals (ServerPlacement): by default
/// when a server thread would have no core of its own. Sync always has a server thread.
bool workers_serve(const AsyncConfig& config, const engine::SparsePolicy& policy) {
  switch (config.server) {
    case ServerPlacement::Thread: return false;
    case ServerPlacement::Workers: return true;
    case ServerPlacement::Auto: break;
  }
  return policy.round_size() == 0 && config.workers >= std::thread::hardware_concurrency();
}

/// The sparse server engine (hand-off only: a worker waits for the model of its next
/// minibatch).
Progress run_sparse_server(const Objective& objective, const Dataset& data,
                           const std::vector<std::vector<std::uint32_t>>& shards,
                           const AsyncConfig& config, float* params, const engine::RunHooks& hooks,
                           std::size_t train_rows) {
  const std::size_t threads = config.workers + 1;
  RunState run(config, train_rows, threads + 1);
  const std::size_t width = objective.first_layer_width();
  const std::unique_ptr<engine::SparsePolicy> policy =
      engine::make_sparse_policy(config.algorithm, config.workers, objective.features(), width,
                                 objective.num_params() - objective.features() * width, params);
  if (config.dude_warm_start()) {
    engine::warm_start(*policy, objective, data, shards, config.sgd);
  }
  engine::SparseServerEngine server(objective, data, shards, run, *policy,
                                    workers_serve(config, *policy));
  return monitor(server, run, objective, hooks, params, threads);
}

/// The settings a threaded run resumed from a checkpoint runs with: its workers' samplers
/// take streams of their own (seeded from the step), or they would replay the first epochs'
/// minibatches; its table is the checkpoint's, so no warm start. The replay and the shards
/// keep the run's seed: the replay's samplers are part of its state.
AsyncConfig resumed_settings(const AsyncConfig& config, const CheckpointPlan* plan) {
  if (plan == nullptr || plan->resume == nullptr || config.deterministic) return config;
  AsyncConfig resumed = config;
  resumed.sgd.seed ^= 0x9E3779B97F4A7C15ull * (plan->resume->steps + 1);
  resumed.warm_start = false;
  return resumed;
}

/// The engine the configuration asks for, on shards of the training rows.
Progress dispatch(const Objective& objective, const Subset& train, const AsyncConfig& requested,
                  float* params, const engine::RunHooks& caller) {
  const std::vector<std::vector<std::uint32_t>> shards = partition_rows(
      *train.data, train.rows, requested.workers, requested.partition, requested.sgd.seed);
  std::string identity;
  if (caller.checkpoints != nullptr) {
    identity = engine::run_identity(objective, train, caller.test, requested, shards);
  }
  const engine::RunHooks hooks{caller.test,  caller.on_progress, caller.stop,
                               caller.guard, caller.checkpoints, &identity};
  const AsyncConfig config = resumed_settings(requested, caller.checkpoints);
  const Dataset& data = *train.data;
  const std::size_t rows = train.rows.size();
  if (data.is_sparse()) {
    if (objective.l2() > 0.0f) {
      throw ConfigError("l2: the asynchronous algorithms take no L2 on sparse data yet");
    }
    if (config.deterministic) {
      return engine::train_virtual_sparse(objective, data, shards, config, params, hooks, rows);
    }
    if (config.algorithm.kind != AlgorithmSpec::Kind::Hogwild) {
      return run_sparse_server(objective, data, shards, config, params, hooks, rows);
    }
  }
  if (config.deterministic) {
    return engine::train_virtual(objective, data, shards, config, params, hooks, rows);
  }
  if (config.algorithm.kind == AlgorithmSpec::Kind::Hogwild) {
    RunState run(config, rows, config.workers + 1);
    engine::HogwildEngine hogwild(objective, data, shards, run, params);
    return monitor(hogwild, run, objective, hooks, params, config.workers);
  }
  // Sync needs the server to hold every worker's gradient until the round is complete.
  const bool handoff =
      config.slot == SlotDiscipline::Handoff || config.algorithm.kind == AlgorithmSpec::Kind::Sync;
  if (handoff) {
    return run_server<engine::HandoffSlot>(objective, data, shards, config, params, hooks, rows);
  }
  return run_server<engine::TripleBufferSlot>(objective, data, shards, config, params, hooks, rows);
}

}  // namespace

Progress train_async(const Objective& objective, const Subset& train, const Subset* test,
                     const AsyncConfig& config, float* params, const ProgressCallback& on_progress,
                     const std::atomic<bool>* stop, const CheckpointPlan* checkpoints) {
  config.validate();
  if (config.threads_per_worker != 1) {
    throw ConfigError(
        "threads_per_worker: only over MPI (dude::mpi::train); here every worker is a thread "
        "already (use more workers)");
  }
  if (config.algorithm.kind == AlgorithmSpec::Kind::Sgd) {
    return train_sgd(objective, train, test, config.sgd, params, on_progress, stop, checkpoints);
  }
  if (train.data == nullptr || train.rows.empty()) throw ConfigError("train: no training rows");
  detail::require_test_rows_for_early_stop(config.sgd, test);
  detail::DivergenceGuard guard(objective, train, config.sgd, params);
  const engine::RunHooks hooks{test, on_progress, stop, guard, checkpoints};
  return guard.run(params, [&] { return dispatch(objective, train, config, params, hooks); });
}

}  // namespace dude
