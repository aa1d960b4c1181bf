// newest_links.hpp (internal): the server rank's transport to its workers when newest wins
// (--slot triple on dense data), the MPI form of the threaded engine's TripleBufferSlot.
//
// Design
// - Newest wins, nobody waits: a worker posts its gradient and computes on at the newest model
//   that has arrived (worker_rank.hpp), never waiting for a model; the server applies the
//   newest post it has of each worker, and whatever is overwritten is lost work, as with the
//   threaded engine's TripleBufferSlot. DuDe's S stays the sum of its table: the server keeps
//   the table, and an overwritten post never reaches it. Rounds, versions and the staleness
//   tau are hand-off's: a post carries the version of the model it was computed at, and tau
//   is the steps the server took between that version and the step applying it.
// - Two places overwrite, because MPI cannot withdraw a message once sent. (1) The worker:
//   it sends with MPI_Issend, which completes once the server has received the post, and
//   sends a finished gradient only if its previous post has completed (MPI_Test); otherwise
//   the finished one is overwritten by its next (never sent; WorkerRank::overwritten), the one
//   on its way stays, and the worker computes on at once. So the server holds at most one
//   unread post per worker, and no queue of unexpected messages grows while a slow server
//   folds (with MPI_Isend small posts would complete at once, and pile up at the server,
//   oldest first). (2) The server: a worker's post taken but not yet applied (held for the
//   warm start, or taken again in the same pass) gives way to a newer post of that worker
//   (ServerRank::take, PostCounts::overwritten).
// - Two receive buffers per worker, and a receive always posted: the moment a receive
//   completes, the next one is posted into the worker's other buffer, before the post is
//   taken. Owners: the buffer under the posted receive belongs to MPI; the other holds the
//   worker's last taken post and belongs to the server, and the round being gathered may
//   read it, until the next completion of that worker hands it back to MPI. The server takes
//   posts only between rounds, and a newer post of a worker replaces its older one in the
//   round being gathered before anything reads that buffer again. So a round never reads a
//   buffer MPI writes.
// - Taking: MPI_Waitsome as under hand-off (the server's own loop drives progress, also that
//   of the workers' MPI_Issend), then one MPI_Testsome for the posts that came in meanwhile.
//   One pass, not until none is left: workers that post faster than the server takes must
//   not keep it from applying.
// - Replies: after a round, each worker whose post it applied gets the new model, unless the
//   model sent to it before has not left yet (MPI_Test): then it gets a later one (newest
//   wins on the way back too), and the server never waits for a worker. A seed's reply (x0)
//   is the first to its worker, so it always goes.
// - Stopping: the server cannot know whether a post is on its way, so every worker ends the
//   conversation: the server sends every worker kStop (once its last model has left), then
//   reads each worker's messages up to its kStop, the worker's last (sent once it got the
//   server's kStop and its own last post was received). Gradients read then count as come
//   after the stop; a failure read then is thrown once every worker has ended. No message is
//   left unmatched, also when the server throws.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <exception>
#include <span>
#include <vector>

#include "dude/errors.hpp"
#include "dude/mpi.hpp"
#include "engine/run_state.hpp"
#include "mpi/wire.hpp"
#include "mpi/worker_links.hpp"

namespace dude::mpi::detail {

class NewestLinks {
 public:
  /// Workers 1..workers of `comm`; their posts take up to `post_floats` floats after the
  /// header, the replies up to `reply_floats` after the version.
  NewestLinks(MPI_Comm comm, std::size_t workers, std::size_t post_floats, std::size_t reply_floats)
      : comm_(comm),
        workers_(workers),
        replies_(comm, workers, reply_floats),
        recv_(workers, MPI_REQUEST_NULL),
        receiving_(workers, 0),
        completed_(workers),
        statuses_(workers),
        after_stop_(workers, 0) {
    for (std::size_t i = 0; i < 2 * workers; ++i) posts_.emplace_back(post_floats);
  }

  MPI_Comm comm() const noexcept { return comm_; }
  /// Worker w's last taken post (the server's until w's next post is taken).
  const Post& post(std::size_t w) const noexcept { return posts_[2 * w + (receiving_[w] ^ 1)]; }
  /// kGradient posts that came in after the run had stopped, per worker (none applied).
  std::span<const std::uint64_t> posts_after_stop() const noexcept { return after_stop_; }

  /// Until `run` stops: serve_until_stopped.
  template <class Take, class Step>
  void serve(const engine::RunState& run, Take&& take, Step&& step) {
    serve_until_stopped(*this, run, take, step);
  }

  /// Worker w's reply buffer, to fill, if its previous reply has left; else null: w gets a
  /// later model.
  ModelMessage* begin_reply(std::size_t w) { return replies_.test_free(w); }
  /// Sends the reply begun: its version and its first `floats` floats.
  void send_reply(std::size_t w, std::size_t floats) { replies_.send(w, floats); }

  // The serving loop's steps (serve_until_stopped).
  void post_receives() {
    for (std::size_t w = 0; w < workers_; ++w) post_receive(w);
  }
  /// Takes the posts that have arrived, waiting for one if none has, then once more those
  /// that arrived meanwhile.
  template <class Take>
  void take_arrived(Take& take) {
    int count = 0;
    MPI_Waitsome(static_cast<int>(workers_), recv_.data(), &count, completed_.data(),
                 statuses_.data());
    take_completed(count, take);
    MPI_Testsome(static_cast<int>(workers_), recv_.data(), &count, completed_.data(),
                 statuses_.data());
    take_completed(count, take);
  }
  /// Sends every worker kStop, then reads each one's messages up to its own kStop. A failure
  /// read meanwhile is thrown after every worker has ended when `report_failure`.
  void stop_workers(bool report_failure) {
    for (std::size_t w = 0; w < workers_; ++w) replies_.send_stop(w);
    std::exception_ptr failure;
    for (std::size_t w = 0; w < workers_; ++w) {
      for (;;) {
        MPI_Status status;
        MPI_Wait(&recv_[w], &status);
        if (status.MPI_TAG == kStop) break;
        const Post& message = posts_[2 * w + receiving_[w]];
        if (status.MPI_TAG == kGradient) ++after_stop_[w];
        if (status.MPI_TAG == kFailure && !failure) {
          failure =
              std::make_exception_ptr(WorkerFailed(rank_of(w), message.text(length_of(status))));
        }
        post_receive(w);  // into the same buffer: nothing is kept now
      }
    }
    if (failure && report_failure) std::rethrow_exception(failure);
  }

 private:
  void post_receive(std::size_t w) {
    Post& buffer = posts_[2 * w + receiving_[w]];
    MPI_Irecv(buffer.data(), buffer.capacity(), MPI_BYTE, rank_of(w), MPI_ANY_TAG, comm_,
              &recv_[w]);
  }

  /// Takes `count` completed receives (none when MPI_UNDEFINED or 0): each worker's next
  /// receive goes into its other buffer first, whatever the message.
  template <class Take>
  void take_completed(int count, Take& take) {
    if (count == MPI_UNDEFINED) return;
    take_each(count, [&](int i) {
      const auto w = static_cast<std::size_t>(completed_[i]);
      receiving_[w] ^= 1;
      post_receive(w);
      const int length = length_of(statuses_[i]);
      if (statuses_[i].MPI_TAG == kFailure) throw WorkerFailed(rank_of(w), post(w).text(length));
      take(w, statuses_[i].MPI_TAG, length);
    });
  }

  MPI_Comm comm_;
  const std::size_t workers_;
  std::vector<Post> posts_;  // worker w's two: 2w and 2w + 1
  Replies replies_;
  std::vector<MPI_Request> recv_;
  std::vector<std::uint8_t> receiving_;  // which of w's two buffers its posted receive fills
  std::vector<int> completed_;           // MPI_Waitsome's and MPI_Testsome's indices
  std::vector<MPI_Status> statuses_;
  std::vector<std::uint64_t> after_stop_;
};

}  // namespace dude::mpi::detail
