// sparse_worker_rank.hpp (internal): a worker rank of an MPI run on sparse data
// (sparse_server_rank.hpp has the Design): it holds its next minibatch as a CompactBatch,
// computes the gradient there, and posts it with the features of its following minibatch,
// whose model comes back as the reply.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <span>

#include "data/minibatch_sampler.hpp"
#include "dude/async.hpp"
#include "dude/objective.hpp"
#include "engine/compact_batch.hpp"
#include "engine/run_state.hpp"
#include "engine/straggler.hpp"
#include "engine/warm_start.hpp"
#include "mpi/wire.hpp"
#include "mpi/worker_rank.hpp"

namespace dude::mpi::detail {

/// `Batch` is engine::CompactBatch, or a stand-in with its constructor, take, features,
/// model_rows, model_tail, samples and gradient (the tests use one with integer gradients).
template <class Batch = engine::CompactBatch>
class SparseWorkerRank {
 public:
  /// Worker `worker` of `comm` (its rank there is worker + 1), on `rows` of `data` (sparse);
  /// no minibatch of any rank touches more than `max_features` features.
  SparseWorkerRank(MPI_Comm comm, const Objective& objective, const Dataset& data,
                   std::span<const std::uint32_t> rows, const AsyncConfig& config,
                   std::size_t worker, std::size_t max_features)
      : comm_(comm),
        rows_(rows),
        config_(config),
        worker_(worker),
        width_(objective.first_layer_width()),
        tail_(objective.num_params() - objective.features() * width_),
        sampler_(rows, config.sgd.batch, config.sgd.batch_order, config.sgd.seed, worker),
        batch_(objective, data, sampler_.batch()),
        post_(sparse_post_floats(max_features, width_, tail_)),
        model_(max_features * width_ + tail_),
        run_(config, rows.size(), 1) {}

  /// Posts gradients until the server stops it; returns how many. An exception of its own
  /// computation goes to the server as kFailure, and is rethrown once the server stopped it.
  std::uint64_t run(bool warm_start) {
    run_reporting(
        comm_,
        [&] {
          bool running = warm_start ? post_warm_start() : pull_first();
          while (running) running = post_gradient();
        },
        [&] { receive_model(); });
    return posts_;
  }

  std::uint64_t samples() const { return samples_; }
  /// The bytes of the last message this worker posted.
  int last_post_bytes() const { return last_post_bytes_; }

 private:
  /// The model of the first minibatch. False when the server answers kStop.
  bool pull_first() {
    batch_.take(sampler_.next());
    return exchange(kPull, {}, nullptr);
  }

  /// DuDe's warm start: a gradient at x0 on the minibatch warm_start() would draw, posted with
  /// the first minibatch's features.
  bool post_warm_start() {
    const SgdConfig& sgd = config_.sgd;
    ::dude::detail::MinibatchSampler seeds(rows_, sgd.batch, sgd.batch_order, sgd.seed,
                                           engine::kWarmStartStream + worker_);
    batch_.take(seeds.next());
    if (!exchange(kPull, {}, nullptr)) return false;
    engine::GradientHeader header;
    header.worker = static_cast<std::uint32_t>(worker_);
    header.loss = batch_.gradient(gradient_);
    batch_.take(sampler_.next());
    return exchange(kSeed, header, &gradient_);
  }

  /// One gradient at the model of the minibatch held, posted with the next one's features.
  bool post_gradient() {
    const auto started = std::chrono::steady_clock::now();
    engine::GradientHeader header;
    header.loss = batch_.gradient(gradient_);
    header.worker = static_cast<std::uint32_t>(worker_);
    header.samples = static_cast<std::uint32_t>(batch_.samples());
    header.model_version = version_;
    header.sequence = ++posts_;
    samples_ += batch_.samples();
    batch_.take_next(sampler_);  // the server reads the model for these rows
    engine::straggle(run_, started, config_.slowdown_of(worker_));
    return exchange(kGradient, header, &gradient_);
  }

  /// Posts `gradient` (none: a kPull) with the features of the minibatch held, and takes the
  /// reply; false when it is kStop.
  bool exchange(Tag tag, const engine::GradientHeader& header, const engine::SparsePost* gradient) {
    last_post_bytes_ = pack_sparse(post_, header, gradient, batch_.features());
    MPI_Isend(post_.data(), last_post_bytes_, MPI_BYTE, 0, tag, comm_, &send_);
    return receive_model();
  }

  /// Waits for the server's answer and puts the model it carries into the batch held; false
  /// when it is kStop.
  bool receive_model() {
    MPI_Status status;
    MPI_Recv(model_.data(), model_.capacity(), MPI_BYTE, 0, MPI_ANY_TAG, comm_, &status);
    MPI_Wait(&send_, MPI_STATUS_IGNORE);
    if (status.MPI_TAG != kModel) return false;
    version_ = model_.prefix();
    const std::size_t rows = batch_.features().size() * width_;
    std::copy(model_.params(), model_.params() + rows, batch_.model_rows());
    std::copy(model_.params() + rows, model_.params() + rows + tail_, batch_.model_tail());
    return true;
  }

  MPI_Comm comm_;
  std::span<const std::uint32_t> rows_;
  const AsyncConfig& config_;
  const std::size_t worker_;
  const std::size_t width_, tail_;  // the model: first-layer rows of width_ floats, the tail
  ::dude::detail::MinibatchSampler sampler_;
  Batch batch_;                  // the minibatch whose model the last reply carried
  engine::SparsePost gradient_;  // of the minibatch before
  SparsePostMessage post_;
  ModelMessage model_;
  engine::RunState run_;  // for the straggler's wait only: a worker's run ends by kStop
  MPI_Request send_ = MPI_REQUEST_NULL;
  std::uint64_t version_ = 0;  // the server's step count at the model held
  std::uint64_t posts_ = 0;
  std::uint64_t samples_ = 0;
  int last_post_bytes_ = 0;
};

}  // namespace dude::mpi::detail
