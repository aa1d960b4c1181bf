// mpi_job.hpp: one rank of `dude train --backend mpi` under mpirun -np N+1 (mpi_job.cpp, on
// dude::mpi; mpi_job_none.cpp in a dude built without MPI). Rank 0 is the server and prints;
// ranks 1..N are workers, each on its own data, and print only their own errors.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

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
  /// dude::mpi::train on this rank's data.
  virtual Progress train(const Objective& objective, const TrainTestData& d,
                         const AsyncConfig& config, float* params,
                         const ProgressCallback& on_progress, const std::atomic<bool>* stop) = 0;
  /// Runs the command on this rank and returns its exit code. Errors are printed naming the
  /// rank (usage errors, the same on every rank, by rank 0 only). A rank that fails outside
  /// train(), where other ranks may wait for it, ends the whole job (MPI_Abort).
  virtual int run(const std::function<int()>& command) = 0;
};

}  // namespace dude::cli
