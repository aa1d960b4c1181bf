// server_rank.hpp (internal): rank 0 of an MPI run, the server. It applies the workers'
// gradients with the engine's ServerPolicy, exactly as ServerEngine does with threads, and
// hands each worker its next model.
//
// Design
// - Processes: rank 0 is the server, rank w + 1 is worker w (worker_rank.hpp). The server's
//   main thread makes every MPI call of rank 0; a monitor thread of rank 0 (train_mpi.cpp)
//   evaluates snapshots of the model and calls the progress callback, and never calls MPI.
//   A worker rank makes every MPI call on its main thread too; with threads_per_worker > 1
//   its gradient team's helpers (engine/gradient_team.hpp) compute parts of each gradient
//   between the barriers of the main thread's loss_grad call, and never call MPI. So
//   MPI_THREAD_FUNNELED is all the job needs: it is the level every MPI library gives cheaply
//   (no lock inside MPI), where MPI_THREAD_MULTIPLE would take MPI's locks on every call for
//   nothing. The fold team's helper threads (--server-threads) never call MPI either.
// - Hand-off, as HandoffSlot does it: a worker posts a gradient and waits for its model, so
//   nothing is lost and every gradient is applied once. The server keeps one MPI_Irecv posted
//   per worker whose post it has not taken and takes what has arrived with MPI_Waitsome,
//   which returns every receive completed by then (all that arrived during the last round
//   are folded together in the next) and blocks only when none is: the server has nothing to
//   apply then. So its own loop drives the progress of MPI, for the model sends too; no
//   progress thread. A taken post stays in its receive buffer (the policy reads it in
//   place) until its round is applied; then the receive is posted again, before the model
//   goes out, so the worker's next message always finds it. Every message of a worker gets
//   exactly one reply (DuDe's warm-start seed too, answered with x0), so a worker whose post
//   is not taken has exactly one message on its way, and one whose post is taken waits.
// - The transport (the receives, Waitsome, the replies and the stop below) is WorkerLinks
//   (worker_links.hpp), written once for every server rank: this one on dense data, and
//   SparseServerRank (sparse_server_rank.hpp), whose messages are a minibatch's non-zeros.
// - Owners: posts_[w] belongs to MPI while recv_[w] is active, to the server while taken_[w];
//   replies_[w] belongs to MPI while send_[w] is active. Each model goes out from a copy of
//   its own (O(d), far cheaper than sending it), because the pool recycles the server's
//   buffers while a send may still read; the previous send to w is completed before its
//   buffer is reused.
// - Rounds: the round is whatever has arrived (sync: all N, policy round_size()), applied
//   with begin_round and apply_range over the fold team, the same code and the same order
//   of arithmetic as the threaded server, so one worker rank equals the single-thread trainer
//   bit for bit and sync equals minibatch SGD with an N-times batch.
// - Stopping: when the run stops (budget, stop request, an error anywhere; a request from the
//   monitor is seen when the next post arrives, one gradient's time), the server takes
//   every worker's outstanding message (a worker computing always sends exactly one more:
//   a seed, a gradient, or its failure) and answers each worker with kStop instead of a
//   model. A receive that completed is taken even when another in the same MPI_Waitsome
//   reports a failure. So
//   no message is left unmatched and every rank leaves the protocol together, also when the
//   server throws; a worker that fails says so with kFailure and the server reports it as
//   WorkerFailed naming the rank. A worker process that dies is mpirun's to report.
// - Hogwild is refused: its workers write one shared model in place, lock-free, reading
//   whatever mix of updates is there. Across processes there is no shared model; the nearest
//   form (MPI_Accumulate into a window on rank 0) is asgd without the server's loop, whose
//   progress MPI does not guarantee without one, not the algorithm the paper compares.
// - Newest wins (--slot triple, dense data): the same server over NewestLinks
//   (newest_links.hpp has its Design). take() then may find a worker's older post still in
//   the round being gathered and replaces it; the rest is the same code. Either way the
//   server counts what became of every post it read (PostCounts), so that the tests can
//   check that each had exactly one fate.
// - Checkpoints: the monitor asks for the state through engine::StateRequest, as it asks the
//   threaded server; the server answers in step(), between two rounds (the policy, the pool's
//   current model and the counters are the server thread's), and once serve() has left the
//   monitor writes the state itself (engine::ServerLeaving).
#pragma once

#include <mpi.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "common/state_stream.hpp"
#include "engine/checkpoint_state.hpp"
#include "engine/fold_team.hpp"
#include "engine/model_pool.hpp"
#include "engine/policy.hpp"
#include "engine/run_state.hpp"
#include "engine/server_round.hpp"
#include "mpi/newest_links.hpp"
#include "mpi/worker_links.hpp"

namespace dude::mpi::detail {

/// What became of the gradient posts the server read, per worker. Every post read was
/// applied (RunCounters::arrivals), overwritten (a newer post of its worker came before its
/// round: newest wins only) or left unapplied (beyond the step budget, or in the round the
/// stop left); the posts that came in after the stop are counted apart, never applied.
struct PostCounts {
  std::vector<std::uint64_t> read, overwritten, unapplied, after_stop;
};

/// `Links`: HandoffLinks (each worker waits for its model) or NewestLinks (newest wins).
template <class Links>
class ServerRank {
 public:
  /// `comm`: rank 0 is this server, ranks 1..run.config.workers its workers.
  ServerRank(MPI_Comm comm, engine::RunState& run, engine::ServerPolicy& policy,
             const float* initial);

  /// The run, on the calling thread (the one that started MPI): sends the initial model,
  /// takes the warm start when `warm_start`, applies rounds until the run stops, then stops
  /// every worker. Throws WorkerFailed, TrainingDiverged or the policy's errors, with every
  /// worker stopped.
  void serve(bool warm_start);

  /// Copies a consistent recent model (monitor thread); returns its version.
  std::uint64_t snapshot(float* out);
  /// The server's state between two rounds, for a checkpoint (monitor thread): the model,
  /// the policy's memory and the counters, written by the server when it next takes posts
  /// (a gradient's time), or by this thread once the server has left. Posts not yet applied
  /// are not part of it: a resumed run has its workers compute afresh.
  engine::EngineState save_state();
  /// Continues from save_state()'s bytes (before serve()).
  void load_state(::dude::detail::StateReader& in);

  /// After serve() returned: what became of each worker's posts.
  PostCounts post_counts() const;

 private:
  void take(std::size_t w, int tag, int length);
  /// Applies the round gathered once it is complete, and the warm start is.
  void step();
  void apply_round();
  void send_model(std::size_t w);
  engine::EngineState write_state() const;

  static constexpr std::size_t kNotGathered = static_cast<std::size_t>(-1);

  engine::RunState& run_;
  engine::ServerPolicy& policy_;
  const std::size_t params_;
  const std::size_t workers_;
  Links links_;
  engine::ModelPool pool_;  // the server writes, the monitor (reader 0) snapshots
  engine::FoldTeam team_;   // the server thread and its fold helpers
  std::vector<engine::GradientHeader> headers_;  // of the taken posts
  std::vector<engine::Arrival> arrivals_;        // the round being gathered
  std::vector<std::size_t> gathered_;            // w's index in arrivals_, or kNotGathered
  std::size_t seeds_ = 0;                        // warm-start gradients taken
  std::size_t seeds_needed_ = 0;                 // every worker's under a warm start
  engine::ServerCounts counts_;                  // steps and samples so far
  PostCounts posts_;
  engine::StateRequest state_request_;    // the monitor's checkpoints of the running server
  std::atomic<bool> server_done_{false};  // set by serve() as it leaves
};

using HandoffLinks = WorkerLinks<engine::GradientHeader>;
using HandoffServerRank = ServerRank<HandoffLinks>;
using NewestServerRank = ServerRank<NewestLinks>;

}  // namespace dude::mpi::detail
