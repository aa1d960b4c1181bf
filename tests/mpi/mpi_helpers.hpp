// mpi_helpers.hpp: what the MPI tests share: ranks, jobs on part of MPI_COMM_WORLD, initial
// models and the partition a worker rank gets.
#pragma once

#include <mpi.h>

#include <span>
#include <vector>

#include "dude/async.hpp"
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

}  // namespace dude::testmpi
