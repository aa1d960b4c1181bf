// worker_links.hpp (internal): the server rank's transport to its workers, the same for dense
// and sparse data (server_rank.hpp has the Design): one receive posted per worker whose post
// is not taken, MPI_Waitsome for what has arrived, one MPI_Isend reply per message, and kStop
// for every worker at the end. `Prefix` is the posts' prefix (wire.hpp).
#pragma once

#include <mpi.h>

#include <exception>
#include <vector>

#include "dude/errors.hpp"
#include "dude/mpi.hpp"
#include "engine/run_state.hpp"
#include "mpi/wire.hpp"

namespace dude::mpi::detail {

template <class Prefix>
class WorkerLinks {
 public:
  /// Workers 1..workers of `comm`; their posts take up to `post_floats` floats after the
  /// prefix, the replies up to `reply_floats` after the version.
  WorkerLinks(MPI_Comm comm, std::size_t workers, std::size_t post_floats, std::size_t reply_floats)
      : comm_(comm),
        workers_(workers),
        recv_(workers, MPI_REQUEST_NULL),
        send_(workers, MPI_REQUEST_NULL),
        taken_(workers, 0),
        completed_(workers),
        statuses_(workers) {
    for (std::size_t w = 0; w < workers; ++w) {
      posts_.emplace_back(post_floats);
      replies_.emplace_back(reply_floats);
    }
  }

  MPI_Comm comm() const noexcept { return comm_; }
  /// Worker w's taken post (the server's until its reply is begun).
  const Message<Prefix>& post(std::size_t w) const noexcept { return posts_[w]; }

  /// Until `run` stops: takes the posts that have arrived, calling `take(w, tag, bytes)` for
  /// each (kFailure throws WorkerFailed instead), then `step()`. Then stops every worker: all
  /// of them also when either throws, the error on its way winning over a failure seen
  /// meanwhile.
  template <class Take, class Step>
  void serve(const engine::RunState& run, Take&& take, Step&& step) {
    for (std::size_t w = 0; w < workers_; ++w) post_receive(w);
    try {
      while (!run.stopping()) {
        take_arrived(take);
        step();
      }
    } catch (...) {
      stop_workers(false);
      throw;
    }
    stop_workers(true);
  }

  /// Worker w's reply buffer, to fill: its previous reply has left, and the receive of its
  /// next post is posted (so the post it answers must have been read).
  ModelMessage& begin_reply(std::size_t w) {
    MPI_Wait(&send_[w], MPI_STATUS_IGNORE);
    post_receive(w);
    return replies_[w];
  }
  /// Sends the reply begun: its version and its first `floats` floats.
  void send_reply(std::size_t w, std::size_t floats) {
    MPI_Isend(replies_[w].data(), ModelMessage::bytes_for(floats), MPI_BYTE, rank_of(w), kModel,
              comm_, &send_[w]);
  }

 private:
  void post_receive(std::size_t w) {
    taken_[w] = 0;
    MPI_Irecv(posts_[w].data(), posts_[w].capacity(), MPI_BYTE, rank_of(w), MPI_ANY_TAG, comm_,
              &recv_[w]);
  }

  /// Takes the posts that have arrived, waiting for one if none has.
  template <class Take>
  void take_arrived(Take& take) {
    int count = 0;
    MPI_Waitsome(static_cast<int>(workers_), recv_.data(), &count, completed_.data(),
                 statuses_.data());
    if (count == MPI_UNDEFINED) return;  // every post is taken already
    // Every completed receive is taken, also past a failure, so that stop_workers() knows
    // whom it still has to hear from; the first error is thrown after.
    std::exception_ptr error;
    for (int i = 0; i < count; ++i) {
      const auto w = static_cast<std::size_t>(completed_[i]);
      taken_[w] = 1;
      int length = 0;
      MPI_Get_count(&statuses_[i], MPI_BYTE, &length);
      try {
        if (statuses_[i].MPI_TAG == kFailure) {
          throw WorkerFailed(rank_of(w), posts_[w].text(length));
        }
        take(w, statuses_[i].MPI_TAG, length);
      } catch (...) {
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
  }

  /// Every worker is computing (its receive is posted: it sends one more message) or waiting
  /// (its post is taken): each gets kStop once its last message is in. A failure reported
  /// meanwhile is thrown after every worker is stopped when `report_failure`.
  void stop_workers(bool report_failure) {
    std::exception_ptr failure;
    for (std::size_t w = 0; w < workers_; ++w) {
      if (!taken_[w]) {
        MPI_Status status;
        MPI_Wait(&recv_[w], &status);
        int length = 0;
        MPI_Get_count(&status, MPI_BYTE, &length);
        if (status.MPI_TAG == kFailure && !failure) {
          failure = std::make_exception_ptr(WorkerFailed(rank_of(w), posts_[w].text(length)));
        }
      }
      MPI_Wait(&send_[w], MPI_STATUS_IGNORE);
      MPI_Send(nullptr, 0, MPI_BYTE, rank_of(w), kStop, comm_);
    }
    if (failure && report_failure) std::rethrow_exception(failure);
  }

  MPI_Comm comm_;
  const std::size_t workers_;
  std::vector<Message<Prefix>> posts_;
  std::vector<ModelMessage> replies_;
  std::vector<MPI_Request> recv_, send_;
  std::vector<char> taken_;
  std::vector<int> completed_;  // MPI_Waitsome's indices
  std::vector<MPI_Status> statuses_;
};

}  // namespace dude::mpi::detail
