// hogwild_engine.hpp (internal): Hogwild! (Niu et al. 2011): no server; every worker reads the
// shared model, computes a gradient on its shard, and subtracts lr * g from the shared model
// itself, without locks.
//
// Design
// - The shared model is the caller's params array. Concurrent plain float stores would be a
//   data race (undefined behaviour, and ThreadSanitizer reports it), so every element access
//   goes through std::atomic_ref<float> with relaxed order: a load, then a store of the
//   updated value. This is exactly Hogwild!'s semantics: updates of different workers to the
//   same coordinate may overwrite each other (lost updates), single floats are never torn, and
//   no ordering between coordinates is promised or needed. On x86 relaxed float loads and
//   stores are plain moves; the cost is that the compiler does not vectorise the loops.
// - A worker copies the model into private memory before computing (the objective reads plain
//   floats), so it computes on a private, possibly inconsistent mix of recent updates, as in
//   the paper. On sparse data it copies and updates only its minibatch's first-layer rows and
//   the tail, computing on a compact copy of the minibatch (compact_batch.hpp): a step costs
//   the non-zeros, as Hogwild! on sparse problems intends.
// - Counters are shared by all workers (fetch_add); the step counter gives each gradient its
//   staleness: updates applied by others between its read and its own update.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "common/aligned_buffer.hpp"
#include "common/prefetch.hpp"
#include "common/threads.hpp"
#include "data/minibatch_sampler.hpp"
#include "dude/errors.hpp"
#include "dude/objective.hpp"
#include "engine/checkpoint_state.hpp"
#include "engine/compact_batch.hpp"
#include "engine/run_state.hpp"
#include "engine/straggler.hpp"

namespace dude::engine {

class HogwildEngine {
 public:
  HogwildEngine(const Objective& objective, const Dataset& data,
                const std::vector<std::vector<std::uint32_t>>& shards, RunState& run, float* shared)
      : objective_(objective),
        data_(data),
        shards_(shards),
        run_(run),
        shared_(shared),
        params_(objective.num_params()) {
    static_assert(std::atomic_ref<float>::is_always_lock_free);
  }

  void start() {
    for (std::size_t w = 0; w < shards_.size(); ++w) {
      threads_.emplace_back([this, w] {
        try {
          if (run_.config.pin_threads) detail::pin_to_core(w);
          if (data_.is_sparse()) {
            work_sparse(w);
          } else {
            work(w);
          }
        } catch (...) {
          run_.fail(w, std::current_exception());
        }
      });
    }
  }
  void join() {
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }
  /// The model and the counters as they are now (monitor thread), racy as hogwild's reads
  /// are, for a checkpoint.
  EngineState save_state() const {
    const std::uint64_t steps = run_.counters.steps.load(std::memory_order_relaxed);
    detail::StateWriter out;
    std::vector<float> model(params_);
    load(0, params_, model.data());
    out.put_vector(model);
    run_.counters.save(out, shards_.size());
    return {std::move(out.bytes()), steps};
  }
  /// Continues from save_state()'s bytes (before start()).
  void load_state(detail::StateReader& in) {
    in.get_span(std::span<float>(shared_, params_));
    run_.counters.load(in, shards_.size());
  }

  /// Copies the shared model as it is now (monitor thread); returns the step count.
  std::uint64_t snapshot(float* out) const {
    const std::uint64_t steps = run_.counters.steps.load(std::memory_order_relaxed);
    load(0, params_, out);
    return steps;
  }

 private:
  void work(std::size_t w) {
    const SgdConfig& sgd = run_.config.sgd;
    detail::MinibatchSampler sampler(shards_[w], sgd.batch, sgd.batch_order, sgd.seed, w);
    Workspace ws = objective_.make_workspace(sampler.batch(), !data_.is_sparse());
    AlignedFloats model(params_), grad(params_);
    const double slowdown = run_.config.slowdown_of(w);
    const RunCounters& counters = run_.counters;
    Records records;
    while (!run_.stopping()) {
      const auto started = std::chrono::steady_clock::now();
      const std::uint64_t read_at = counters.steps.load(std::memory_order_relaxed);
      load(0, params_, model.data());
      const std::span<const std::uint32_t> rows = sampler.next();
      const double loss = objective_.loss_grad(model.data(), data_, rows, grad.data(), ws);
      TrainingDiverged::check(loss, read_at, static_cast<std::uint32_t>(w));
      straggle(run_, started, slowdown);
      const auto lr =
          static_cast<float>(run_.learning_rate(counters.steps.load(std::memory_order_relaxed),
                                                counters.samples.load(std::memory_order_relaxed)));
      subtract(0, params_, lr, grad.data());
      account(w, read_at, rows.size(), loss, records);
    }
    records.flush(run_.counters, w);
  }

  /// A worker's staleness and losses since it last handed them to the counters.
  struct Records {
    static constexpr std::uint64_t kEvery = 64;  // gradients between hand-overs
    std::uint64_t count = 0, tau_sum = 0, tau_max = 0;
    double losses = 0;
    void flush(RunCounters& counters, std::size_t w) {
      if (count == 0) return;
      counters.record_batch(static_cast<std::uint32_t>(w), count, tau_sum, tau_max, losses);
      *this = {};
    }
  };

  /// Counts an applied gradient: the step and the samples at once (the budget and the next
  /// gradients' staleness need them), its staleness (updates others applied between its read
  /// and its own) and loss in `records`, handed over every Records::kEvery gradients; stops the
  /// run when the budget is spent.
  void account(std::size_t w, std::uint64_t read_at, std::size_t samples_in, double loss,
               Records& records) {
    RunCounters& counters = run_.counters;
    const std::uint64_t step = counters.steps.fetch_add(1, std::memory_order_relaxed) + 1;
    const std::uint64_t samples =
        counters.samples.fetch_add(samples_in, std::memory_order_relaxed) + samples_in;
    const std::uint64_t tau = step - 1 - read_at;
    ++records.count;
    records.tau_sum += tau;
    records.tau_max = std::max(records.tau_max, tau);
    records.losses += loss;
    if (records.count == Records::kEvery) records.flush(counters, w);
    if (run_.budget.spent(step, samples)) run_.stop.store(true, std::memory_order_relaxed);
  }

  /// On sparse data a worker reads and updates only its minibatch's first-layer rows and the
  /// tail (the same relaxed atomic_ref accesses), computing on a compact copy.
  void work_sparse(std::size_t w) {
    const SgdConfig& sgd = run_.config.sgd;
    detail::MinibatchSampler sampler(shards_[w], sgd.batch, sgd.batch_order, sgd.seed, w);
    CompactBatch batch(objective_, data_, sampler.batch());
    SparsePost post;
    const std::size_t width = objective_.first_layer_width();
    const std::size_t tail_offset = objective_.features() * width;
    const std::size_t tail = params_ - tail_offset;
    const double slowdown = run_.config.slowdown_of(w);
    const RunCounters& counters = run_.counters;
    Records records;
    while (!run_.stopping()) {
      const auto started = std::chrono::steady_clock::now();
      batch.take_next(sampler);
      const std::uint64_t read_at = counters.steps.load(std::memory_order_relaxed);
      const std::span<const std::uint32_t> features = batch.features();
      detail::prefetch_matrix_rows(shared_, features, width);
      for (std::size_t i = 0; i < features.size(); ++i) {
        load(std::size_t{features[i]} * width, width, batch.model_rows() + i * width);
      }
      load(tail_offset, tail, batch.model_tail());
      const double loss = batch.gradient(post);
      TrainingDiverged::check(loss, read_at, static_cast<std::uint32_t>(w));
      straggle(run_, started, slowdown);
      const auto lr =
          static_cast<float>(run_.learning_rate(counters.steps.load(std::memory_order_relaxed),
                                                counters.samples.load(std::memory_order_relaxed)));
      for (std::size_t i = 0; i < post.rows.size(); ++i) {
        subtract(std::size_t{post.rows[i]} * width, width, lr, post.values.data() + i * width);
      }
      subtract(tail_offset, tail, lr, post.tail.data());
      account(w, read_at, batch.samples(), loss, records);
    }
    records.flush(run_.counters, w);
  }

  /// out = shared[at, at + n), coordinate by coordinate.
  void load(std::size_t at, std::size_t n, float* out) const {
    for (std::size_t i = 0; i < n; ++i) {
      out[i] = std::atomic_ref<float>(shared_[at + i]).load(std::memory_order_relaxed);
    }
  }
  /// shared[at, at + n) -= lr * g, coordinate by coordinate (a lost update is Hogwild!'s).
  void subtract(std::size_t at, std::size_t n, float lr, const float* g) {
    for (std::size_t i = 0; i < n; ++i) {
      std::atomic_ref<float> x(shared_[at + i]);
      x.store(x.load(std::memory_order_relaxed) - lr * g[i], std::memory_order_relaxed);
    }
  }

  const Objective& objective_;
  const Dataset& data_;
  const std::vector<std::vector<std::uint32_t>>& shards_;
  RunState& run_;
  float* const shared_;  // the model every worker updates (the caller's params)
  const std::size_t params_;
  std::vector<std::thread> threads_;
};

}  // namespace dude::engine
