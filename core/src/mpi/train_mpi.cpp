// dude::mpi::train: rank 0 serves (server_rank.hpp) while a monitor thread of it evaluates
// and reports progress; the other ranks are workers (worker_rank.hpp).
#include <mpi.h>

#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "dude/errors.hpp"
#include "dude/mpi.hpp"
#include "engine/checkpoint_state.hpp"
#include "engine/compact_batch.hpp"
#include "engine/eval_schedule.hpp"
#include "engine/monitor_state.hpp"
#include "engine/policy.hpp"
#include "engine/progress_reporter.hpp"
#include "engine/run_state.hpp"
#include "engine/sparse_policy.hpp"
#include "model/divergence_guard.hpp"
#include "mpi/server_rank.hpp"
#include "mpi/sparse_server_rank.hpp"
#include "mpi/sparse_worker_rank.hpp"
#include "mpi/train_on.hpp"
#include "mpi/worker_rank.hpp"

namespace dude::mpi {

namespace detail {

namespace {

constexpr std::size_t kServerThread = 0;
constexpr std::size_t kMonitorThread = 1;

/// Rank 0's first word to its workers in a run, collective with their wait_for_server():
/// whether `prepare` (the resume of a checkpoint) went well, so that no worker waits for a
/// server that will not serve. Rethrows what `prepare` threw.
template <class Prepare>
void start_server(MPI_Comm comm, Prepare&& prepare) {
  int ready = 1;
  std::exception_ptr error;
  try {
    prepare();
  } catch (...) {
    error = std::current_exception();
    ready = 0;
  }
  MPI_Bcast(&ready, 1, MPI_INT, 0, comm);
  if (error) std::rethrow_exception(error);
}

/// A worker's side of start_server(): throws ConfigError (rank 0 says why) when rank 0 could
/// not start.
void wait_for_server(MPI_Comm comm) {
  int ready = 0;
  MPI_Bcast(&ready, 1, MPI_INT, 0, comm);
  if (ready == 0) throw ConfigError("checkpoints: rank 0 could not resume its checkpoint");
}

/// Rank 0's part: `server` on this thread, the monitor beside it (the checkpoints' resume
/// first, then engine::watch_run, as train_async's monitor); the final point.
template <class Server>
Progress serve_with(MPI_Comm comm, Server& server, engine::RunState& run,
                    const Objective& objective, float* params, const engine::RunHooks& hooks) {
  engine::EvalSchedule schedule(run.config.sgd.eval_every, run.budget.rows);
  engine::ProgressReporter reporter(run, objective, hooks);
  engine::Monitor watch(run, reporter, schedule, objective.num_params());
  engine::MonitorState<Server> state(server, run, schedule, reporter, hooks);
  start_server(comm, [&] { state.resume(); });
  std::thread monitor([&] {
    try {
      engine::watch_run(server, run, watch, state, hooks);
    } catch (...) {
      run.fail(kMonitorThread, std::current_exception());
    }
    run.stop.store(true, std::memory_order_relaxed);
  });
  try {
    server.serve(run.config.dude_warm_start());
  } catch (...) {
    run.fail(kServerThread, std::current_exception());
  }
  run.stop.store(true, std::memory_order_relaxed);
  monitor.join();
  for (const std::exception_ptr& error : run.errors) {
    if (error) std::rethrow_exception(error);
  }
  return reporter.finish(server.snapshot(params), params);
}

/// The shape of `objective`'s sparse model, on minibatches of up to `features` features.
SparseShape sparse_shape(const Objective& objective, std::size_t features) {
  const std::size_t width = objective.first_layer_width();
  return {objective.features(), width, objective.num_params() - objective.features() * width,
          features};
}

/// Rank 0's part on dense data (`batch_features` 0) or on sparse data whose minibatches touch
/// at most `batch_features` features.
Progress serve(MPI_Comm comm, const Objective& objective, const AsyncConfig& config,
               std::uint64_t train_rows, float* params, const engine::RunHooks& hooks,
               std::size_t batch_features) {
  engine::RunState run(config, train_rows, 2);
  if (batch_features > 0) {
    const SparseShape shape = sparse_shape(objective, batch_features);
    const std::unique_ptr<engine::SparsePolicy> policy = engine::make_sparse_policy(
        config.algorithm, config.workers, shape.rows, shape.width, shape.tail, params);
    SparseServerRank server(comm, run, *policy, shape);
    return serve_with(comm, server, run, objective, params, hooks);
  }
  const std::unique_ptr<engine::ServerPolicy> policy =
      engine::make_policy(config.algorithm, config.workers, objective.num_params());
  if (config.newest_wins()) {
    NewestServerRank server(comm, run, *policy, params);
    return serve_with(comm, server, run, objective, params, hooks);
  }
  HandoffServerRank server(comm, run, *policy, params);
  return serve_with(comm, server, run, objective, params, hooks);
}

/// A worker rank's part; its point counts its own posts. On dense data `params` is the last
/// model it got; on sparse data (`batch_features` > 0) it holds only its minibatches' rows,
/// and `params` is left as it was.
Progress work(MPI_Comm comm, int rank, const Objective& objective, const Subset& train,
              const AsyncConfig& config, float* params, std::size_t batch_features) {
  wait_for_server(comm);
  const auto w = static_cast<std::size_t>(rank - 1);
  Progress p;
  p.final = true;
  if (batch_features > 0) {
    SparseWorkerRank<> worker(comm, objective, *train.data, train.rows, config, w, batch_features);
    p.steps = worker.run(config.dude_warm_start());
    p.samples = worker.samples();
    return p;
  }
  WorkerRank<> worker(comm, objective, *train.data, train.rows, config, w);
  p.steps = worker.run(config.dude_warm_start());
  p.samples = worker.samples();
  std::copy(worker.model(), worker.model() + objective.num_params(), params);
  return p;
}

/// Collective: the most features a minibatch of any rank touches, when the data is sparse on
/// some rank (0 when it is dense everywhere).
std::size_t agree_on_batch_features(MPI_Comm comm, const Objective& objective, const Subset& train,
                                    std::size_t batch) {
  const bool mine = train.data != nullptr && train.data->is_sparse();
  std::uint64_t widest = mine ? engine::widest_row(*train.data) : 0;
  MPI_Allreduce(MPI_IN_PLACE, &widest, 1, MPI_UINT64_T, MPI_MAX, comm);
  if (widest == 0) return 0;
  return engine::batch_features(objective.features(), widest, batch);
}

}  // namespace

void check_config(const AsyncConfig& config, int ranks, bool sparse) {
  config.validate();
  using Kind = AlgorithmSpec::Kind;
  const Kind kind = config.algorithm.kind;
  if (kind == Kind::Hogwild) {
    throw ConfigError(
        "algorithm: hogwild has no server and needs one shared model; over MPI "
        "there is none (use asgd)");
  }
  if (kind == Kind::Sgd) throw ConfigError("algorithm: sgd runs in one process, not over MPI");
  if (config.deterministic) {
    throw ConfigError("deterministic: the replay runs in one process, not over MPI");
  }
  if (config.server == ServerPlacement::Workers) {
    throw ConfigError(
        "server placement: over MPI rank 0 is the server (workers serve only with "
        "threads)");
  }
  if (ranks < 2 || config.workers != static_cast<std::size_t>(ranks - 1)) {
    throw ConfigError("workers: " + std::to_string(config.workers) + " workers need " +
                      std::to_string(config.workers + 1) + " MPI ranks (a server and one rank " +
                      "per worker), not " + std::to_string(ranks));
  }
  if (sparse && config.threads_per_worker > 1) {
    throw ConfigError("threads_per_worker: " + std::to_string(config.threads_per_worker) +
                      " threads per worker rank run on dense data only for now (on sparse "
                      "data a worker rank has one)");
  }
  if (sparse && config.newest_wins()) {
    throw ConfigError(
        "slot: triple runs over MPI on dense data only: on sparse data the server answers "
        "each post with the model on the features of the sender's next minibatch, which the "
        "worker rank needs before it can compute again (it holds no more of the model), so "
        "it always waits (use handoff)");
  }
  if (sparse && (kind == Kind::Ringleader || kind == Kind::Malenia)) {
    throw ConfigError("algorithm " + config.algorithm.to_string() +
                      " runs on dense data only for now (its tables are dense)");
  }
}

/// Collective: the settings every rank runs with. When rank 0 resumes a checkpoint (its
/// `checkpoints`; the other ranks' are not read) every rank runs with engine::resumed_settings
/// at the checkpoint's step, as a resumed threaded run does: the workers draw fresh minibatch
/// streams, and DuDe's table is the checkpoint's, so no warm start. A checkpoint of another
/// run (not of `identity`) is refused on every rank before the run: rank 0 throws the
/// CheckpointError naming what differs, the workers a ConfigError that points to it.
AsyncConfig agree_on_settings(MPI_Comm comm, int rank, const AsyncConfig& config,
                              const CheckpointPlan* checkpoints, const std::string& identity) {
  std::uint64_t resume[3] = {0, 0, 0};  // resuming, at which step, refused
  std::exception_ptr refused;
  if (rank == 0 && checkpoints != nullptr && checkpoints->resume != nullptr) {
    resume[0] = 1;
    resume[1] = checkpoints->resume->steps;
    try {
      engine::open_state(*checkpoints->resume, identity);
    } catch (...) {
      refused = std::current_exception();
      resume[2] = 1;
    }
  }
  MPI_Bcast(resume, 3, MPI_UINT64_T, 0, comm);
  if (refused) std::rethrow_exception(refused);
  if (resume[2] != 0) throw ConfigError("checkpoints: rank 0 refused the checkpoint to resume");
  return resume[0] != 0 ? engine::resumed_settings(config, resume[1]) : config;
}

Progress train_on(MPI_Comm comm, const Objective& objective, const Subset& train,
                  const Subset* test, const AsyncConfig& config, float* params,
                  const ProgressCallback& on_progress, const std::atomic<bool>* stop,
                  const CheckpointPlan* checkpoints) {
  int rank = 0, ranks = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  // The collectives before the run, so that every rank refuses a run together.
  const std::size_t batch_features =
      agree_on_batch_features(comm, objective, train, config.sgd.batch);
  std::uint64_t rows = rank == 0 ? 0 : train.rows.size();
  MPI_Allreduce(MPI_IN_PLACE, &rows, 1, MPI_UINT64_T, MPI_SUM, comm);
  // A checkpoint belongs to the settings asked for and to rank 0's data (the workers' rows
  // are theirs: a run is resumed with the same files, ranks and flags).
  const std::string identity = rank == 0 && checkpoints != nullptr
                                   ? engine::run_identity(objective, train, test, config, {})
                                   : "";
  const AsyncConfig settings = agree_on_settings(comm, rank, config, checkpoints, identity);
  check_config(config, ranks, batch_features > 0);
  if (batch_features > 0 && objective.l2() > 0.0f) {
    throw ConfigError("l2: the asynchronous algorithms take no L2 on sparse data yet");
  }
  if (rank != 0) return work(comm, rank, objective, train, settings, params, batch_features);
  ::dude::detail::DivergenceGuard guard(objective, train, config.sgd, params);
  const engine::RunHooks hooks{test, on_progress, stop, guard, checkpoints, &identity};
  return guard.run(params, [&] {
    return serve(comm, objective, settings, rows, params, hooks, batch_features);
  });
}

}  // namespace detail

DataShape agree_on_shape(const DataShape& mine) {
  int ranks = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  constexpr int kFields = 4;
  std::vector<std::uint64_t> shapes(kFields * static_cast<std::size_t>(ranks));
  const std::uint64_t own[kFields] = {mine.features, mine.classes, mine.rows, mine.sparse};
  MPI_Allgather(own, kFields, MPI_UINT64_T, shapes.data(), kFields, MPI_UINT64_T, MPI_COMM_WORLD);
  const auto shape_of = [&](int r) {
    return shapes.data() + kFields * static_cast<std::size_t>(r);
  };
  DataShape job{0, 0, 0, true};
  for (int r = 0; r < ranks; ++r) {
    const std::uint64_t* shape = shape_of(r);
    job.features = std::max(job.features, shape[0]);
    job.classes = std::max(job.classes, static_cast<std::uint32_t>(shape[1]));
    if (r > 0) job.rows += shape[2];
    job.sparse = job.sparse && shape[3] != 0;
  }
  for (int r = 0; r < ranks; ++r) {
    const std::uint64_t* shape = shape_of(r);
    if (shape[0] != job.features && shape[3] == 0) {
      throw ConfigError("train: rank " + std::to_string(r) + "'s data is dense with " +
                        std::to_string(shape[0]) + " features, another rank's has " +
                        std::to_string(job.features) +
                        ": every rank must read data of the same features");
    }
  }
  return job;
}

Progress train(const Objective& objective, const Subset& train, const Subset* test,
               const AsyncConfig& config, float* params, const ProgressCallback& on_progress,
               const std::atomic<bool>* stop, const CheckpointPlan* checkpoints) {
  return detail::train_on(MPI_COMM_WORLD, objective, train, test, config, params, on_progress, stop,
                          checkpoints);
}

void check_config(const AsyncConfig& config) {
  int ranks = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  detail::check_config(config, ranks, false);
}

}  // namespace dude::mpi
