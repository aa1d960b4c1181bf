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
#include "engine/monitor_state.hpp"
#include "engine/policy.hpp"
#include "engine/progress_reporter.hpp"
#include "engine/replay.hpp"
#include "engine/server_engine.hpp"
#include "engine/sparse_server_engine.hpp"
#include "engine/warm_start.hpp"

namespace dude {

namespace {

using engine::RunState;

/// The calling thread's part of a run: budget by time and stop requests, evaluation points,
/// ticks and checkpoints. `Engine` is a ServerEngine or the HogwildEngine.
template <class Engine>
Progress monitor(Engine& engine, RunState& run, const Objective& objective,
                 const engine::RunHooks& hooks, float* params, std::size_t threads) {
  engine::EvalSchedule schedule(run.config.sgd.eval_every, run.budget.rows);
  engine::ProgressReporter reporter(run, objective, hooks);
  engine::Monitor watch(run, reporter, schedule, objective.num_params());
  engine::MonitorState<Engine> state(engine, run, schedule, reporter, hooks);
  state.resume();
  try {
    engine.start();
    engine::watch_run(engine, run, watch, state, hooks);
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
  if (config.newest_wins()) {
    throw ConfigError(
        "slot: triple runs on dense data only: on sparse data the server answers each post "
        "with the model on the features of the worker's next minibatch, which the worker needs "
        "before it can compute again, so it always waits (use handoff)");
  }
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

/// The settings a threaded run resumed from a checkpoint runs with (engine::resumed_settings).
/// The replay and the shards keep the run's seed: the replay's samplers are part of its state.
AsyncConfig resumed_settings(const AsyncConfig& config, const CheckpointPlan* plan) {
  if (plan == nullptr || plan->resume == nullptr || config.deterministic) return config;
  return engine::resumed_settings(config, plan->resume->steps);
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
  if (config.newest_wins()) {
    return run_server<engine::TripleBufferSlot>(objective, data, shards, config, params, hooks,
                                                rows);
  }
  return run_server<engine::HandoffSlot>(objective, data, shards, config, params, hooks, rows);
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
