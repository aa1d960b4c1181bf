// worker_rank.hpp (internal): a worker rank of an MPI run (server_rank.hpp has the Design):
// gradients of its own rows at the model the server sent, posted with MPI_Isend, then it
// waits for its next model or for the end of the run. When newest wins (newest_links.hpp has
// that Design) it posts with MPI_Issend instead and computes on at the newest model that has
// arrived, without waiting for one. With threads_per_worker > 1 each gradient is a
// GradientTeam's (engine/gradient_team.hpp), whose helpers never call MPI.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <vector>

#include "data/minibatch_sampler.hpp"
#include "dude/async.hpp"
#include "dude/objective.hpp"
#include "engine/gradient_team.hpp"
#include "engine/run_state.hpp"
#include "engine/straggler.hpp"
#include "engine/warm_start.hpp"
#include "mpi/wire.hpp"

namespace dude::mpi::detail {

/// Sends the text of `failure` to the server as kFailure (cut to kFailureBytes).
inline void report_failure(MPI_Comm comm, const std::exception_ptr& failure) {
  std::string text;
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    text = e.what();
  } catch (...) {
    text = "an exception that is not a std::exception";
  }
  text.resize(std::min(text.size(), kFailureBytes));
  MPI_Send(text.data(), static_cast<int>(text.size()), MPI_BYTE, 0, kFailure, comm);
}

/// A worker rank's protocol around `posts()`, which posts until the server answers kStop: an
/// exception from it goes to the server as kFailure, then `receive_stop()` takes the server's
/// kStop, and the exception is rethrown.
template <class Posts, class ReceiveStop>
void run_reporting(MPI_Comm comm, Posts&& posts, ReceiveStop&& receive_stop) {
  std::exception_ptr failure;
  try {
    posts();
  } catch (...) {
    failure = std::current_exception();
  }
  if (!failure) return;
  report_failure(comm, failure);
  receive_stop();
  std::rethrow_exception(failure);
}

/// `Model` is dude::Objective, or a stand-in with its num_params / make_workspace /
/// loss_grad (the tests use one with integer gradients, as the engine's stress test does).
template <class Model = Objective>
class WorkerRank {
 public:
  /// Worker `worker` of `comm` (its rank there is worker + 1), on `rows` of `data`.
  WorkerRank(MPI_Comm comm, const Model& objective, const Dataset& data,
             std::span<const std::uint32_t> rows, const AsyncConfig& config, std::size_t worker)
      : comm_(comm),
        objective_(objective),
        data_(data),
        rows_(rows),
        config_(config),
        worker_(worker),
        newest_(config.newest_wins()),
        run_(config, rows.size(), 1) {
    // Newest wins: a post in flight and the next one being computed; a model to compute at
    // and the next one being received. Hand-off needs one of each.
    for (int i = 0; i < (newest_ ? 2 : 1); ++i) {
      outbox_.emplace_back(objective.num_params());
      models_.emplace_back(objective.num_params());
    }
  }

  /// Posts gradients until the server stops it; returns how many. An exception of its own
  /// computation goes to the server as kFailure, and is rethrown once the server stopped it.
  std::uint64_t run(bool warm_start) {
    MPI_Bcast(models_[0].params(), byte_count(objective_.num_params()), MPI_BYTE, 0, comm_);
    models_[0].set_prefix(0);
    if (newest_) {
      run_newest(warm_start);
    } else {
      run_handoff(warm_start);
    }
    return posts_;
  }

  /// The last model the server sent.
  const float* model() const { return models_[current_].params(); }
  std::uint64_t samples() const { return samples_; }
  /// Newest wins: the posts of run() overwritten here, never sent (each was finished while
  /// the post before it was still on its way to the server).
  std::uint64_t overwritten() const { return overwritten_; }

 private:
  void run_handoff(bool warm_start) {
    run_reporting(
        comm_,
        [&] {
          bool running = true;
          if (warm_start) {
            post_seed();
            running = receive_model();
          }
          while (running) {
            post_gradient();
            running = receive_model();
          }
        },
        [&] { receive_model(); });
  }

  /// Newest wins: posts without waiting, neither for a model (it takes the newest that has
  /// arrived after each post) nor for the server to take its post; at the end answers the
  /// server's kStop with its own.
  void run_newest(bool warm_start) {
    receive_next_model();
    run_reporting(
        comm_,
        [&] {
          bool running = true;
          if (warm_start) {
            post_seed();
            running = wait_for_model();
          }
          while (running) {
            post_gradient();
            running = take_newest_models();
          }
          end_conversation();
        },
        [&] {
          while (wait_for_model()) {
          }
          end_conversation();
        });
  }

  /// DuDe's warm start: a gradient at x0 on the minibatch warm_start() would draw.
  void post_seed() {
    const SgdConfig& sgd = config_.sgd;
    ::dude::detail::MinibatchSampler sampler(rows_, sgd.batch, sgd.batch_order, sgd.seed,
                                             engine::kWarmStartStream + worker_);
    Post& post = outbox_[next_post_];
    team_.loss_grad(model(), data_, sampler.next(), post.params());
    send(post, kSeed);
  }

  /// One gradient at the current model, sent (its send completed by the next receive_model
  /// under hand-off; see send() when newest wins).
  void post_gradient() {
    const auto started = std::chrono::steady_clock::now();
    const std::span<const std::uint32_t> rows = sampler_.next();
    Post& post = outbox_[next_post_];
    engine::GradientHeader header;
    header.loss = team_.loss_grad(model(), data_, rows, post.params());
    header.worker = static_cast<std::uint32_t>(worker_);
    header.samples = static_cast<std::uint32_t>(rows.size());
    header.model_version = models_[current_].prefix();
    header.sequence = ++posts_;
    post.set_prefix(header);
    samples_ += rows.size();
    engine::straggle(run_, started, config_.slowdown_of(worker_));
    send(post, kGradient);
  }

  /// Hand-off: MPI_Isend. Newest wins: MPI_Issend if the server has received the previous
  /// post, and the next post goes into the other buffer; else this one is overwritten by the
  /// next (never sent), and the one on its way stays: MPI cannot withdraw it.
  void send(Post& post, int tag) {
    if (!newest_) {
      MPI_Isend(post.data(), post.bytes(), MPI_BYTE, 0, tag, comm_, &send_);
      return;
    }
    int received = 0;
    MPI_Test(&send_, &received, MPI_STATUS_IGNORE);  // true when none is on its way
    if (!received) {
      ++overwritten_;
      return;
    }
    MPI_Issend(post.data(), post.bytes(), MPI_BYTE, 0, tag, comm_, &send_);
    next_post_ ^= 1;
  }

  /// Hand-off: waits for the server's answer; false when it is kStop.
  bool receive_model() {
    MPI_Status status;
    MPI_Recv(models_[0].data(), models_[0].capacity(), MPI_BYTE, 0, MPI_ANY_TAG, comm_, &status);
    MPI_Wait(&send_, MPI_STATUS_IGNORE);
    return status.MPI_TAG == kModel;
  }

  // Newest wins: a receive always posted into the model buffer not computed at.
  void receive_next_model() {
    ModelMessage& next = models_[current_ ^ 1];
    MPI_Irecv(next.data(), next.capacity(), MPI_BYTE, 0, MPI_ANY_TAG, comm_, &model_receive_);
  }
  /// Computes at the model received, and receives the next; false when it was kStop.
  bool adopt(const MPI_Status& status) {
    if (status.MPI_TAG == kStop) return false;
    current_ ^= 1;
    receive_next_model();
    return true;
  }
  /// Waits for the next model; false when the server answered kStop.
  bool wait_for_model() {
    MPI_Status status;
    MPI_Wait(&model_receive_, &status);
    return adopt(status);
  }
  /// Takes every model that has arrived, keeping the newest; false once kStop came.
  bool take_newest_models() {
    for (;;) {
      int arrived = 0;
      MPI_Status status;
      MPI_Test(&model_receive_, &arrived, &status);
      if (!arrived) return true;
      if (!adopt(status)) return false;
    }
  }
  /// The worker's last message, once its last post was received: the server reads up to it.
  void end_conversation() {
    MPI_Wait(&send_, MPI_STATUS_IGNORE);
    MPI_Send(nullptr, 0, MPI_BYTE, 0, kStop, comm_);
  }

  MPI_Comm comm_;
  const Model& objective_;
  const Dataset& data_;
  std::span<const std::uint32_t> rows_;
  const AsyncConfig& config_;
  const std::size_t worker_;
  const bool newest_;
  ::dude::detail::MinibatchSampler sampler_{rows_, config_.sgd.batch, config_.sgd.batch_order,
                                            config_.sgd.seed, worker_};
  engine::GradientTeam<Model> team_{objective_, config_.threads_per_worker, sampler_.batch(),
                                    !data_.is_sparse()};
  std::vector<Post> outbox_;          // the posts' buffers: one, or two when newest wins
  std::vector<ModelMessage> models_;  // the models' buffers: likewise
  std::size_t next_post_ = 0;         // the buffer of the next post
  std::size_t current_ = 0;           // the buffer of the model computed at
  engine::RunState run_;              // for the straggler's wait only: a worker's run ends by kStop
  MPI_Request send_ = MPI_REQUEST_NULL;
  MPI_Request model_receive_ = MPI_REQUEST_NULL;  // newest wins only
  std::uint64_t posts_ = 0;
  std::uint64_t overwritten_ = 0;  // newest wins: posts never sent
  std::uint64_t samples_ = 0;
};

}  // namespace dude::mpi::detail
