// worker_links.hpp (internal): the server rank's transport to its workers under hand-off, the
// same for dense and sparse data (server_rank.hpp has the Design): one receive posted per
// worker whose post is not taken, MPI_Waitsome for what has arrived, one MPI_Isend reply per
// message, and kStop for every worker at the end. `Prefix` is the posts' prefix (wire.hpp).
// Also what the newest-wins transport (newest_links.hpp) shares with it: the replies, the
// taking of completed receives and the serving loop.
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

namespace dude::mpi::detail {

/// The server's replies to its workers: a buffer and at most one MPI_Isend in flight each.
class Replies {
 public:
  Replies(MPI_Comm comm, std::size_t workers, std::size_t floats)
      : comm_(comm), sends_(workers, MPI_REQUEST_NULL) {
    for (std::size_t w = 0; w < workers; ++w) buffers_.emplace_back(floats);
  }
  /// Worker w's reply buffer, once its previous reply has left (waits for that).
  ModelMessage& wait_free(std::size_t w) {
    MPI_Wait(&sends_[w], MPI_STATUS_IGNORE);
    return buffers_[w];
  }
  /// Worker w's reply buffer if its previous reply has left (or none was sent), else null.
  ModelMessage* test_free(std::size_t w) {
    int left = 0;
    MPI_Test(&sends_[w], &left, MPI_STATUS_IGNORE);
    return left ? &buffers_[w] : nullptr;
  }
  /// Sends the reply in w's buffer: its version and its first `floats` floats.
  void send(std::size_t w, std::size_t floats) {
    MPI_Isend(buffers_[w].data(), ModelMessage::bytes_for(floats), MPI_BYTE, rank_of(w), kModel,
              comm_, &sends_[w]);
  }
  /// Ends w's run: kStop once its last reply has left.
  void send_stop(std::size_t w) {
    MPI_Wait(&sends_[w], MPI_STATUS_IGNORE);
    MPI_Send(nullptr, 0, MPI_BYTE, rank_of(w), kStop, comm_);
  }

 private:
  MPI_Comm comm_;
  std::vector<ModelMessage> buffers_;
  std::vector<MPI_Request> sends_;
};

/// Runs `take(i)` for each of `count` completed receives, every one also past an exception
/// (so that the transport knows whom it still has to hear from), then rethrows the first.
template <class Take>
void take_each(int count, Take&& take) {
  std::exception_ptr error;
  for (int i = 0; i < count; ++i) {
    try {
      take(i);
    } catch (...) {
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

/// The bytes of a received message.
inline int length_of(const MPI_Status& status) {
  int length = 0;
  MPI_Get_count(&status, MPI_BYTE, &length);
  return length;
}

/// The serving loop of a transport `links`: until `run` stops, takes the posts that have
/// arrived, calling `take(w, tag, bytes)` for each (kFailure throws WorkerFailed instead),
/// then `step()`. Then stops every worker: all of them also when either throws, the error on
/// its way winning over a failure seen meanwhile.
template <class Links, class Take, class Step>
void serve_until_stopped(Links& links, const engine::RunState& run, Take&& take, Step&& step) {
  links.post_receives();
  try {
    while (!run.stopping()) {
      links.take_arrived(take);
      step();
    }
  } catch (...) {
    links.stop_workers(false);
    throw;
  }
  links.stop_workers(true);
}

template <class Prefix>
class WorkerLinks {
 public:
  /// Workers 1..workers of `comm`; their posts take up to `post_floats` floats after the
  /// prefix, the replies up to `reply_floats` after the version.
  WorkerLinks(MPI_Comm comm, std::size_t workers, std::size_t post_floats, std::size_t reply_floats)
      : comm_(comm),
        workers_(workers),
        replies_(comm, workers, reply_floats),
        recv_(workers, MPI_REQUEST_NULL),
        taken_(workers, 0),
        completed_(workers),
        statuses_(workers),
        after_stop_(workers, 0) {
    for (std::size_t w = 0; w < workers; ++w) posts_.emplace_back(post_floats);
  }

  MPI_Comm comm() const noexcept { return comm_; }
  /// Worker w's taken post (the server's until its reply is begun).
  const Message<Prefix>& post(std::size_t w) const noexcept { return posts_[w]; }
  /// kGradient posts that came in after the run had stopped, per worker (none applied).
  std::span<const std::uint64_t> posts_after_stop() const noexcept { return after_stop_; }

  /// Until `run` stops: serve_until_stopped.
  template <class Take, class Step>
  void serve(const engine::RunState& run, Take&& take, Step&& step) {
    serve_until_stopped(*this, run, take, step);
  }

  /// Worker w's reply buffer, to fill: its previous reply has left, and the receive of its
  /// next post is posted (so the post it answers must have been read). Never null.
  ModelMessage* begin_reply(std::size_t w) {
    ModelMessage& reply = replies_.wait_free(w);
    post_receive(w);
    return &reply;
  }
  /// Sends the reply begun: its version and its first `floats` floats.
  void send_reply(std::size_t w, std::size_t floats) { replies_.send(w, floats); }

  // The serving loop's steps (serve_until_stopped).
  void post_receives() {
    for (std::size_t w = 0; w < workers_; ++w) post_receive(w);
  }
  /// Takes the posts that have arrived, waiting for one if none has.
  template <class Take>
  void take_arrived(Take& take) {
    int count = 0;
    MPI_Waitsome(static_cast<int>(workers_), recv_.data(), &count, completed_.data(),
                 statuses_.data());
    if (count == MPI_UNDEFINED) return;  // every post is taken already
    take_each(count, [&](int i) {
      const auto w = static_cast<std::size_t>(completed_[i]);
      taken_[w] = 1;
      const int length = length_of(statuses_[i]);
      if (statuses_[i].MPI_TAG == kFailure) throw WorkerFailed(rank_of(w), posts_[w].text(length));
      take(w, statuses_[i].MPI_TAG, length);
    });
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
        if (status.MPI_TAG == kGradient) ++after_stop_[w];
        if (status.MPI_TAG == kFailure && !failure) {
          failure =
              std::make_exception_ptr(WorkerFailed(rank_of(w), posts_[w].text(length_of(status))));
        }
      }
      replies_.send_stop(w);
    }
    if (failure && report_failure) std::rethrow_exception(failure);
  }

 private:
  void post_receive(std::size_t w) {
    taken_[w] = 0;
    MPI_Irecv(posts_[w].data(), posts_[w].capacity(), MPI_BYTE, rank_of(w), MPI_ANY_TAG, comm_,
              &recv_[w]);
  }

  MPI_Comm comm_;
  const std::size_t workers_;
  std::vector<Message<Prefix>> posts_;
  Replies replies_;
  std::vector<MPI_Request> recv_;
  std::vector<char> taken_;
  std::vector<int> completed_;  // MPI_Waitsome's indices
  std::vector<MPI_Status> statuses_;
  std::vector<std::uint64_t> after_stop_;
};

}  // namespace dude::mpi::detail
