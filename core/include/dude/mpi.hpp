// dude/mpi.hpp: the same server, policies and fold over MPI (the optional component dude::mpi,
// built with DUDE_WITH_MPI): one process per node, started by mpirun -np N+1. Rank 0 is the
// server; ranks 1..N are workers, worker w = rank w + 1, each on its own rows. This header
// needs no MPI header: the library speaks to MPI_COMM_WORLD.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "dude/async.hpp"
#include "dude/checkpoint.hpp"
#include "dude/errors.hpp"

namespace dude::mpi {

/// MPI for the life of the object (MPI_Init_thread ... MPI_Finalize), at the thread level the
/// backend needs: MPI_THREAD_FUNNELED (only the thread that made the session calls MPI).
/// Throws Error when MPI is already started or cannot give that level.
class Session {
 public:
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  int rank() const noexcept { return rank_; }
  int size() const noexcept { return size_; }
  /// Ends every process of the job with `code` (MPI_Abort). Only for a program whose rank
  /// failed outside train(), while other ranks may wait for it in a collective.
  [[noreturn]] void abort(int code) const;

 private:
  int rank_ = 0;
  int size_ = 1;
};

/// A worker rank failed; rank 0 stopped the run and throws this. what() names the rank.
class WorkerFailed : public Error {
 public:
  WorkerFailed(int rank, const std::string& message)
      : Error("MPI rank " + std::to_string(rank) + " (worker " + std::to_string(rank - 1) +
              ") failed: " + message),
        rank_(rank) {}
  int rank() const noexcept { return rank_; }

 private:
  int rank_;
};

/// The shape of a rank's data.
struct DataShape {
  std::uint64_t features = 0;
  std::uint32_t classes = 0;
  std::uint64_t rows = 0;  // training rows
  bool sparse = false;
};
/// Collective: every rank passes its own shape and gets the job's. Features are the most any
/// rank has: sparse data with fewer (a LIBSVM file whose highest index is lower) is the same
/// data in a wider space (Dataset::widened), but dense data is not, so a rank whose dense data
/// has other features than the job's makes every rank throw ConfigError naming it. Classes are
/// the most any rank has (one class per worker leaves each shard a few); rows are the worker
/// ranks' together (rank 0's do not count); sparse: every rank's data is.
DataShape agree_on_shape(const DataShape& mine);

/// Collective: trains over MPI_COMM_WORLD, with config.workers = ranks - 1, every rank passing
/// the same config and objective. Rank 0 runs the server with the policy of
/// config.algorithm (dude, asgd, asgd-da, sync, fedbuff:K), the learning-rate schedule,
/// budget, evaluation on `test`, divergence checks and progress points of train_async, and
/// returns the final point with `params` the final model. `train` on rank 0: rows whose
/// initial loss bounds the training loss (SgdConfig::divergence_factor); on worker ranks: the
/// rank's own rows, whose minibatch gradients it posts (MinibatchSampler stream w, as worker
/// w of train_async) until the server stops it; it then returns a point of its own posts
/// (steps, samples), and `params` is the last model it got. Sparse data (on any rank) runs as
/// the threaded sparse engine does, every message the size of a minibatch's non-zeros, not of
/// the model; a worker rank then holds only its minibatch's part of the model and leaves
/// `params` as it was. On dense data a worker rank computes each gradient with
/// config.threads_per_worker threads (its rows split among them; only the rank's main thread
/// calls MPI). With config.slot Handoff (and always for sync) a worker waits for the model
/// after each post; with TripleBuffer on dense data newest wins, as with threads: a worker
/// posts and computes on at the newest model that has arrived, and posts that a newer one
/// overtakes are lost work (see core/src/mpi/newest_links.hpp). On rank 0 on_progress is
/// called from a monitor thread (one call at a time); `stop` ends the run after the current
/// round.
/// Throws ConfigError (on every rank) for hogwild, sgd, the replay, ringleader or malenia or
/// L2 or threads_per_worker > 1 or triple slots (but for sync) on sparse data, or a
/// config.workers that is not ranks - 1; rank 0 throws WorkerFailed when a worker failed (the
/// worker rethrows its own error). When it throws after the start, every worker has been
/// stopped: each rank may finalise MPI.
/// With `checkpoints` on rank 0 (the other ranks' are not read) rank 0 hands out checkpoints
/// as train_async does, of the server's state (the model, the policy's memory such as DuDe's
/// table and S, the counters) and its monitor's, taken between two rounds; or it continues the
/// run of `checkpoints->resume`: the server starts from its state, and every worker rank draws
/// fresh minibatch streams seeded from its step, as a resumed threaded run's workers do. The
/// checkpoint must belong to the same settings and to rank 0's same data (CheckpointError
/// otherwise); the workers' rows are not part of its identity.
Progress train(const Objective& objective, const Subset& train, const Subset* test,
               const AsyncConfig& config, float* params, const ProgressCallback& on_progress,
               const std::atomic<bool>* stop = nullptr,
               const CheckpointPlan* checkpoints = nullptr);

/// Throws the ConfigError that train would throw on every rank of MPI_COMM_WORLD for `config`
/// on dense data, before any data is read (a caller checking several runs up front: dude
/// compare). train also checks what sparse data cannot run, once the ranks agreed on it.
void check_config(const AsyncConfig& config);

}  // namespace dude::mpi
