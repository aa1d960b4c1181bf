// sparse_server_rank.hpp (internal): rank 0 of an MPI run on sparse data. It applies the
// workers' sparse gradients with the engine's SparsePolicy, as SparseServerEngine does with
// threads, and answers each with the model on the features of the sender's next minibatch.
//
// Design (server_rank.hpp has the transport's, which this shares: WorkerLinks)
// - Workers pull, as in the threaded sparse engine: a worker posts its gradient (rows, values,
//   tail) with the features of its next minibatch, and waits; the server applies the gradient
//   and replies with the model on those features and the tail, stamped with its step count.
//   So a message is the minibatch's non-zeros times the width plus the tail, never O(d), and
//   a worker holds no more of the model than its minibatch uses (a CompactBatch). Its first
//   message (kPull) carries features only; DuDe's warm-start seed is a gradient at x0 that
//   the server answers with x0 on the next features, as every answer before the last seed.
// - Message sizes: a post is sized by its counts (wire.hpp). The receive buffers are sized
//   before the run for the largest post any worker can send: the widest row of any rank's
//   data (allreduced by train_mpi.cpp) times the batch, at most d features. So one posted
//   MPI_Irecv per worker still takes any post, and MPI_Waitsome works as for dense data.
// - Owners: a taken post is copied out of its receive buffer (its features and gradient,
//   O(nnz x width)) as it is taken, because the policy takes a SparsePost; sync holds those
//   copies until its round is complete, then answers each sender.
// - Arrivals are applied one at a time in the order taken, as the threaded sparse engine does
//   (each its own step; sync and fedbuff step at a round's end); staleness and counters are
//   the engine's.
// - The policy is the server thread's, but the monitor thread's snapshot reads the whole
//   model (read_all, O(d), at evaluation points only): a mutex orders them. The server holds
//   it across one arrival's apply and read, uncontended but for those snapshots.
#pragma once

#include <mpi.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "common/state_stream.hpp"
#include "engine/checkpoint_state.hpp"
#include "engine/run_state.hpp"
#include "engine/server_round.hpp"
#include "engine/sparse_policy.hpp"
#include "mpi/worker_links.hpp"

namespace dude::mpi::detail {

/// The shape of a sparse model and of the minibatches it is trained on.
struct SparseShape {
  std::size_t rows = 0;      // first-layer rows: the data's features
  std::size_t width = 0;     // floats per first-layer row
  std::size_t tail = 0;      // floats after the first layer
  std::size_t features = 0;  // the most features one minibatch touches (wire.hpp)
};

class SparseServerRank {
 public:
  /// `comm`: rank 0 is this server, ranks 1..run.config.workers its workers.
  SparseServerRank(MPI_Comm comm, engine::RunState& run, engine::SparsePolicy& policy,
                   const SparseShape& shape);

  /// The run, on the calling thread (the one that started MPI), as ServerRank::serve.
  void serve(bool warm_start);

  /// Copies the whole model now (monitor thread); returns its version.
  std::uint64_t snapshot(float* out);
  /// The server's state between two arrivals, for a checkpoint (monitor thread), as
  /// ServerRank::save_state: the policy (which holds the model) and the counters.
  engine::EngineState save_state();
  /// Continues from save_state()'s bytes (before serve()).
  void load_state(::dude::detail::StateReader& in);

 private:
  /// Copies worker w's post out of its receive buffer; throws when it cannot be of this model
  /// (its counts, its length, its feature ids).
  void unpack(std::size_t w, int tag, int length);
  void take(std::size_t w, int tag, int length);
  /// Answers the monitor's request for a checkpoint, if any; then applies the arrivals
  /// taken, in order, once the warm start is complete.
  void step();
  /// Applies worker w's gradient; false while a sync round is incomplete.
  bool apply(std::size_t w);
  /// The model on worker w's next features, at the current step.
  void answer(std::size_t w);
  engine::EngineState write_state() const;

  engine::RunState& run_;
  engine::SparsePolicy& policy_;
  const SparseShape shape_;
  const std::size_t workers_;
  WorkerLinks<SparseCounts> links_;
  std::mutex policy_lock_;  // the server's apply and read against the monitor's snapshot
  std::vector<std::vector<std::uint32_t>> features_;  // of each worker's next minibatch
  std::vector<engine::SparsePost> gradients_;         // of the taken posts
  std::vector<engine::GradientHeader> headers_;
  std::vector<std::size_t> arrived_;  // taken, not applied yet, in order
  std::vector<std::size_t> held_;     // applied, waiting for the round's end (sync)
  std::size_t seeds_ = 0;
  std::size_t seeds_needed_ = 0;
  engine::ServerCounts counts_;           // steps and samples
  engine::StateRequest state_request_;    // the monitor's checkpoints of the running server
  std::atomic<bool> server_done_{false};  // set by serve() as it leaves
};

}  // namespace dude::mpi::detail
