// mpi_helpers.hpp: what the MPI tests share: ranks, jobs on part of MPI_COMM_WORLD, initial
// models and the partition a worker rank gets.
#pragma once

#include <catch2/catch.hpp>

#include <mpi.h>

#include <span>
#include <vector>

#include "data/minibatch_sampler.hpp"
#include "dude/async.hpp"
#include "dude/mpi.hpp"
#include "dude/objective.hpp"
#include "dude/partition.hpp"

namespace dude::testmpi {

inline int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

/// Ranks 0 and 1 of MPI_COMM_WORLD as a job of one server and one worker; MPI_COMM_NULL on
/// the others, which sit the test out.
struct TwoRanks {
  TwoRanks() { MPI_Comm_split(MPI_COMM_WORLD, world_rank() < 2 ? 0 : MPI_UNDEFINED, 0, &comm); }
  ~TwoRanks() {
    if (comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
  }
  MPI_Comm comm = MPI_COMM_NULL;
};

inline std::vector<float> initial(const Objective& objective, std::uint64_t seed) {
  std::vector<float> params(objective.num_params());
  objective.init_params(params.data(), seed);
  return params;
}

/// Worker w's rows as train_async would give them: the partition of `rows`.
inline std::vector<std::uint32_t> shard_of(const Dataset& data, std::span<const std::uint32_t> rows,
                                           const AsyncConfig& config, std::size_t worker) {
  return partition_rows(data, rows, config.workers, config.partition, config.sgd.seed)[worker];
}

/// The sync tests' run: `rounds` rounds of a minibatch of `batch` rows from each worker.
inline AsyncConfig sync_config(std::size_t workers, std::size_t batch, std::uint64_t rounds) {
  AsyncConfig config;
  config.sgd.steps = rounds;
  config.sgd.batch = batch;
  config.sgd.seed = 4;
  config.sgd.lr = 0.2f;
  config.workers = workers;
  config.algorithm = AlgorithmSpec::parse("sync");
  return config;
}

/// Minibatch SGD from `x` on `data` (dense) with sync's minibatches: each step all workers'
/// next ones (worker w's sampler on its shard of `rows`) as one batch.
inline void minibatch_sgd(const Objective& objective, const Dataset& data,
                          std::span<const std::uint32_t> rows, const AsyncConfig& config,
                          std::vector<float>& x) {
  const SgdConfig& sgd = config.sgd;
  std::vector<dude::detail::MinibatchSampler> samplers;
  for (std::size_t w = 0; w < config.workers; ++w) {
    samplers.emplace_back(shard_of(data, rows, config, w), sgd.batch, sgd.batch_order, sgd.seed, w);
  }
  Workspace ws = objective.make_workspace(config.workers * sgd.batch);
  std::vector<float> grad(x.size());
  for (std::uint64_t round = 0; round < sgd.steps; ++round) {
    std::vector<std::uint32_t> batch;
    for (auto& sampler : samplers) {
      const auto next = sampler.next();
      batch.insert(batch.end(), next.begin(), next.end());
    }
    objective.loss_grad(x.data(), data, batch, grad.data(), ws);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] -= sgd.lr * grad[i];
  }
}

/// How many of `params` differ from `reference` by more than float rounding.
inline std::size_t count_off(const std::vector<float>& params, const std::vector<float>& reference,
                             double margin, double epsilon) {
  std::size_t off = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    off += !(params[i] == Approx(reference[i]).margin(margin).epsilon(epsilon));
  }
  return off;
}

/// Runs `job` on every rank of MPI_COMM_WORLD, one whose worker 1 (rank 2) throws "disk on
/// fire": rank 0 must report it as WorkerFailed naming rank 2, rank 2 must rethrow its own
/// error, and the other ranks must end without one.
template <class Job>
void expect_worker_1_fails(Job&& job) {
  switch (world_rank()) {
    case 0:
      try {
        job();
        FAIL("the server did not report the failed worker");
      } catch (const mpi::WorkerFailed& e) {
        CHECK(e.rank() == 2);
        CHECK_THAT(e.what(), Catch::Equals("MPI rank 2 (worker 1) failed: disk on fire"));
      }
      break;
    case 2: CHECK_THROWS_WITH(job(), "disk on fire"); break;
    default: CHECK_NOTHROW(job());
  }
}

}  // namespace dude::testmpi
