// mpi_job.hpp: one rank of `dude train --backend mpi` or `dude compare --backend mpi` under
// mpirun -np N+1 (mpi_job.cpp, on dude::mpi; mpi_job_none.cpp in a dude built without MPI).
// Rank 0 is the server and prints; ranks 1..N are workers, each on its own data, and print
// only their own errors.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "cli_common.hpp"

namespace dude::cli {

struct JobShape {
  std::uint32_t classes;
  std::uint64_t train_rows;
};

class MpiJob {
 public:
  /// Starts MPI; throws ConfigError when this dude was built without it.
  static std::unique_ptr<MpiJob> start();
  virtual ~MpiJob() = default;

  virtual int rank() const = 0;
  virtual std::size_t workers() const = 0;
  /// The job's workers for --workers `given` (0: not given): its worker ranks. Throws
  /// ConfigError naming the mpirun -np that `given` needs when they differ.
  std::size_t workers_for(std::size_t given) const {
    if (given != 0 && given != workers()) {
      throw ConfigError("--workers " + std::to_string(given) + ": the job has " +
                        std::to_string(workers()) + " worker ranks (mpirun -np " +
                        std::to_string(given + 1) + " for " + std::to_string(given) + ")");
    }
    return workers();
  }
  /// Throws ConfigError, as train() would on every rank, when `config` cannot run over this
  /// job on dense data: for checks before any data is read (dude compare's runs).
  virtual void check(const AsyncConfig& config) const = 0;
  /// This rank's data. With a `{rank}` in --train each worker rank reads its own file (the
  /// rank in place of `{rank}`) and rank 0 only --test; otherwise every rank reads the same
  /// files and a worker keeps its part of the training rows under --partition, seeded as
  /// --workers N would deal them. Rank 0's training rows set the divergence bound.
  virtual TrainTestData load(const TrainTestFlags& io, const AsyncConfig& config,
                             std::uint64_t split_seed) const = 0;
  /// The job's classes (the most of any rank: the model's) and training rows (the worker
  /// ranks' together); collective. Sparse data with fewer features than another rank's (a
  /// LIBSVM shard whose highest index is lower) is widened to the job's.
  virtual JobShape agree_on_shape(TrainTestData& d) const = 0;
  /// dude::mpi::train on this rank's data, with rank 0's `checkpoints` (null on the others).
  virtual Progress train(const Objective& objective, const TrainTestData& d,
                         const AsyncConfig& config, float* params,
                         const ProgressCallback& on_progress, const std::atomic<bool>* stop,
                         const CheckpointPlan* checkpoints) = 0;
  /// dude::mpi::train on `train`, which every rank holds alike (dude compare, whose runs each
  /// deal the rows by their own seed): a worker rank trains its part under config's partition
  /// and seed, as --workers N deals it; only rank 0 evaluates, on `test`, and reports.
  virtual Progress train_shared(const Objective& objective, const Subset& train, const Subset& test,
                                const AsyncConfig& config, float* params,
                                const ProgressCallback& on_progress) = 0;
  /// Runs the command on this rank and returns its exit code. Errors are printed naming the
  /// rank (usage errors, the same on every rank, by rank 0 only). A rank that fails outside
  /// train(), where other ranks may wait for it, ends the whole job (MPI_Abort).
  virtual int run(const std::function<int()>& command) = 0;
};

}  // namespace dude::cli
