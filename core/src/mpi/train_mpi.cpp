// dude::mpi::train: rank 0 serves (server_rank.hpp) while a monitor thread of it evaluates
// and reports progress; the other ranks are workers (worker_rank.hpp).
#include <mpi.h>

#include <chrono>
#include <exception>
#include <thread>
#include <vector>

#include "dude/errors.hpp"
#include "dude/mpi.hpp"
#include "engine/eval_schedule.hpp"
#include "engine/policy.hpp"
#include "engine/progress_reporter.hpp"
#include "engine/run_state.hpp"
#include "model/divergence_guard.hpp"
#include "mpi/server_rank.hpp"
#include "mpi/train_on.hpp"
#include "mpi/worker_rank.hpp"

namespace dude::mpi {

namespace detail {

namespace {

constexpr std::size_t kServerThread = 0;
constexpr std::size_t kMonitorThread = 1;

/// The monitor thread of rank 0: the time budget and stop requests, then points and ticks as
/// train_async's monitor makes them (checkpoints are not offered over MPI yet).
void watch(ServerRank& server, engine::RunState& run, engine::ProgressReporter& reporter,
           const engine::RunHooks& hooks, std::size_t params) {
  const engine::Budget& budget = run.budget;
  engine::EvalSchedule schedule(run.config.sgd.eval_every, budget.rows);
  engine::Monitor monitor(run, reporter, schedule, params);
  while (!run.stopping()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if ((budget.seconds > 0 && run.elapsed() >= budget.seconds) || hooks.stop_requested()) break;
    if (!monitor.look([&](float* out) { return server.snapshot(out); })) break;
  }
  run.stop.store(true, std::memory_order_relaxed);
}

/// Rank 0's part: the server on this thread, the monitor beside it; the final point.
Progress serve(MPI_Comm comm, const Objective& objective, const AsyncConfig& config,
               std::uint64_t train_rows, float* params, const engine::RunHooks& hooks) {
  engine::RunState run(config, train_rows, 2);
  const std::unique_ptr<engine::ServerPolicy> policy =
      engine::make_policy(config.algorithm, config.workers, objective.num_params());
  ServerRank server(comm, run, *policy, params);
  engine::ProgressReporter reporter(run, objective, hooks);
  std::thread monitor([&] {
    try {
      watch(server, run, reporter, hooks, objective.num_params());
    } catch (...) {
      run.fail(kMonitorThread, std::current_exception());
    }
  });
  try {
    server.serve(config.algorithm.kind == AlgorithmSpec::Kind::Dude && config.warm_start);
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

/// A worker rank's part; its point counts its own posts.
Progress work(MPI_Comm comm, int rank, const Objective& objective, const Subset& train,
              const AsyncConfig& config, float* params) {
  WorkerRank<> worker(comm, objective, *train.data, train.rows, config,
                      static_cast<std::size_t>(rank - 1));
  Progress p;
  p.steps = worker.run(config.algorithm.kind == AlgorithmSpec::Kind::Dude && config.warm_start);
  p.samples = worker.samples();
  p.final = true;
  std::copy(worker.model(), worker.model() + objective.num_params(), params);
  return p;
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
  if (config.slot != SlotDiscipline::Handoff) {
    throw ConfigError("slot: only handoff over MPI so far (a worker waits for its model)");
  }
  if (ranks < 2 || config.workers != static_cast<std::size_t>(ranks - 1)) {
    throw ConfigError("workers: " + std::to_string(config.workers) + " workers need " +
                      std::to_string(config.workers + 1) + " MPI ranks (a server and one rank " +
                      "per worker), not " + std::to_string(ranks));
  }
  if (sparse) throw ConfigError("train: sparse data does not run over MPI yet (dense only)");
}

Progress train_on(MPI_Comm comm, const Objective& objective, const Subset& train,
                  const Subset* test, const AsyncConfig& config, float* params,
                  const ProgressCallback& on_progress, const std::atomic<bool>* stop) {
  int rank = 0, ranks = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  // The collectives before the run, so that every rank refuses a run together.
  int sparse = train.data != nullptr && train.data->is_sparse();
  MPI_Allreduce(MPI_IN_PLACE, &sparse, 1, MPI_INT, MPI_LOR, comm);
  std::uint64_t rows = rank == 0 ? 0 : train.rows.size();
  MPI_Allreduce(MPI_IN_PLACE, &rows, 1, MPI_UINT64_T, MPI_SUM, comm);
  check_config(config, ranks, sparse != 0);
  if (rank != 0) return work(comm, rank, objective, train, config, params);
  ::dude::detail::DivergenceGuard guard(objective, train, config.sgd, params);
  const engine::RunHooks hooks{test, on_progress, stop, guard};
  return guard.run(params, [&] { return serve(comm, objective, config, rows, params, hooks); });
}

}  // namespace detail

DataShape agree_on_shape(const DataShape& mine) {
  int ranks = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  constexpr int kFields = 3;
  std::vector<std::uint64_t> shapes(kFields * static_cast<std::size_t>(ranks));
  const std::uint64_t own[kFields] = {mine.features, mine.classes, mine.rows};
  MPI_Allgather(own, kFields, MPI_UINT64_T, shapes.data(), kFields, MPI_UINT64_T, MPI_COMM_WORLD);
  DataShape job{shapes[0], 0, 0};
  for (int r = 0; r < ranks; ++r) {
    const std::uint64_t* shape = shapes.data() + kFields * static_cast<std::size_t>(r);
    if (shape[0] != job.features) {
      throw ConfigError("train: rank " + std::to_string(r) + "'s data has " +
                        std::to_string(shape[0]) + " features, rank 0's " +
                        std::to_string(job.features));
    }
    job.classes = std::max(job.classes, static_cast<std::uint32_t>(shape[1]));
    if (r > 0) job.rows += shape[2];
  }
  return job;
}

Progress train(const Objective& objective, const Subset& train, const Subset* test,
               const AsyncConfig& config, float* params, const ProgressCallback& on_progress,
               const std::atomic<bool>* stop) {
  return detail::train_on(MPI_COMM_WORLD, objective, train, test, config, params, on_progress,
                          stop);
}

}  // namespace dude::mpi
