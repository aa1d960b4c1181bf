// worker_rank.hpp (internal): a worker rank of an MPI run (server_rank.hpp has the Design):
// gradients of its own rows at the model the server sent, posted with MPI_Isend, then it
// waits for its next model or for the end of the run. With threads_per_worker > 1 each
// gradient is a GradientTeam's (engine/gradient_team.hpp), whose helpers never call MPI.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <span>
#include <string>

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
        post_(objective.num_params()),
        model_(objective.num_params()),
        run_(config, rows.size(), 1) {}

  /// Posts gradients until the server stops it; returns how many. An exception of its own
  /// computation goes to the server as kFailure, and is rethrown once the server stopped it.
  std::uint64_t run(bool warm_start) {
    MPI_Bcast(model_.params(), byte_count(objective_.num_params()), MPI_BYTE, 0, comm_);
    model_.set_prefix(0);
    run_reporting(
        comm_,
        [&] {
          bool running = !warm_start || post_warm_start();
          while (running) {
            post_gradient();
            running = receive_model();
          }
        },
        [&] { receive_model(); });
    return posts_;
  }

  /// The last model the server sent.
  const float* model() const { return model_.params(); }
  std::uint64_t samples() const { return samples_; }

 private:
  /// DuDe's warm start: a gradient at x0 on the minibatch warm_start() would draw. False when
  /// the server answers kStop.
  bool post_warm_start() {
    const SgdConfig& sgd = config_.sgd;
    ::dude::detail::MinibatchSampler sampler(rows_, sgd.batch, sgd.batch_order, sgd.seed,
                                             engine::kWarmStartStream + worker_);
    team_.loss_grad(model_.params(), data_, sampler.next(), post_.params());
    MPI_Isend(post_.data(), post_.bytes(), MPI_BYTE, 0, kSeed, comm_, &send_);
    return receive_model();
  }

  /// One gradient at the current model, sent (MPI_Isend, completed in receive_model).
  void post_gradient() {
    const auto started = std::chrono::steady_clock::now();
    const std::span<const std::uint32_t> rows = sampler_.next();
    engine::GradientHeader header;
    header.loss = team_.loss_grad(model_.params(), data_, rows, post_.params());
    header.worker = static_cast<std::uint32_t>(worker_);
    header.samples = static_cast<std::uint32_t>(rows.size());
    header.model_version = model_.prefix();
    header.sequence = ++posts_;
    post_.set_prefix(header);
    samples_ += rows.size();
    engine::straggle(run_, started, config_.slowdown_of(worker_));
    MPI_Isend(post_.data(), post_.bytes(), MPI_BYTE, 0, kGradient, comm_, &send_);
  }

  /// Waits for the server's answer; false when it is kStop.
  bool receive_model() {
    MPI_Status status;
    MPI_Recv(model_.data(), model_.capacity(), MPI_BYTE, 0, MPI_ANY_TAG, comm_, &status);
    MPI_Wait(&send_, MPI_STATUS_IGNORE);
    return status.MPI_TAG == kModel;
  }

  MPI_Comm comm_;
  const Model& objective_;
  const Dataset& data_;
  std::span<const std::uint32_t> rows_;
  const AsyncConfig& config_;
  const std::size_t worker_;
  ::dude::detail::MinibatchSampler sampler_{rows_, config_.sgd.batch, config_.sgd.batch_order,
                                            config_.sgd.seed, worker_};
  engine::GradientTeam<Model> team_{objective_, config_.threads_per_worker, sampler_.batch(),
                                    !data_.is_sparse()};
  Post post_;
  ModelMessage model_;
  engine::RunState run_;  // for the straggler's wait only: a worker's run ends by kStop
  MPI_Request send_ = MPI_REQUEST_NULL;
  std::uint64_t posts_ = 0;
  std::uint64_t samples_ = 0;
};

}  // namespace dude::mpi::detail
