// sparse_server_engine.hpp (internal): the server engine on sparse data, every step at the
// cost of its non-zeros (docs/DESIGN.md §10.2).
//
// Design
// - Workers pull: a worker computes on a compact copy of its minibatch (CompactBatch), posts
//   its sparse gradient together with the features of its next minibatch, and waits; the
//   server applies the gradient with a SparsePolicy, then writes the model on those features
//   (and the tail) into the worker's compact buffers, at the step it has reached, and hands the
//   worker back. No step copies or reads the whole model, and each gradient is computed at one
//   consistent model version: the one the server read for it, which includes the worker's own
//   previous gradient (one worker is exactly SGD).
// - Ownership is the hand-off slot's protocol (gradient_slot.hpp), used for its state word only:
//   while the slot is EMPTY the worker owns its Exchange (the batch, the post, the header);
//   while FULL the server does. publish() (release) and poll() (acquire) hand the Exchange to
//   the server, release() (seq_cst) and the worker's acquire load hand it back, so every access
//   to it is ordered by the slot and nothing else is shared between a worker and the server.
//   Sync holds a round's slots until its last arrival, then answers them all.
// - Staleness: tau is the server's steps between the model a gradient was computed at (the
//   version stamped on the reply) and the step that applies it, as in the dense engine.
// - Snapshots for evaluation: the monitor stores its buffer's address and asks by bumping
//   snapshot_wanted_ (release); the server, between arrivals and while idle, reads the request
//   (acquire), writes the whole model into that buffer and publishes the count it served
//   (release); the monitor, which does not touch the buffer meanwhile, waits for it (acquire). A
//   server that stops first sets server_done_ (release) as it leaves: it will not touch the policy
//   again, so the monitor then reads the policy itself (after its acquire), as it does after join.
// - Workers that serve (ServerPlacement::Workers): no server thread. A worker that has its
//   gradient and its next minibatch takes serving_ (a fair ticket lock, ticket_lock.hpp), applies
//   its own arrival, reads its next model, and lets go: the same apply() and answer() in the order
//   the workers take the lock, so versions and tau mean what they mean above. Everything the server
//   thread owned (the policy, counts_) is owned by whoever holds serving_; the monitor
//   takes it for snapshots and checkpoints. When the workers take every core this saves the third
//   thread's context switches and a hand-off's wake-up per minibatch (bench/RESULTS.md,
//   "Sparse data on two cores"). Sync keeps its server thread: its workers wait for the round.
#pragma once

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>  // std::lock_guard
#include <span>
#include <thread>
#include <vector>

#include "common/threads.hpp"
#include "data/minibatch_sampler.hpp"
#include "dude/errors.hpp"
#include "dude/objective.hpp"
#include "engine/checkpoint_state.hpp"
#include "engine/compact_batch.hpp"
#include "engine/gradient_slot.hpp"
#include "engine/run_state.hpp"
#include "engine/server_round.hpp"
#include "engine/server_threads.hpp"
#include "engine/sparse_policy.hpp"
#include "engine/straggler.hpp"
#include "engine/ticket_lock.hpp"

namespace dude::engine {

class SparseServerEngine {
 public:
  SparseServerEngine(const Objective& objective, const Dataset& data,
                     const std::vector<std::vector<std::uint32_t>>& shards, RunState& run,
                     SparsePolicy& policy, bool workers_serve)
      : run_(run),
        policy_(policy),
        workers_(shards.size()),
        workers_serve_(workers_serve),
        threads_(run, workers_) {
    if (workers_serve && policy.round_size() != 0) {
      throw ConfigError(
          "server placement: sync needs a server thread (its workers wait for the round)");
    }
    const SgdConfig& sgd = run.config.sgd;
    for (std::size_t w = 0; w < workers_; ++w) {
      detail::MinibatchSampler sampler(shards[w], sgd.batch, sgd.batch_order, sgd.seed, w);
      CompactBatch batch(objective, data, sampler.batch());
      auto exchange = std::make_unique<Exchange>(std::move(sampler), std::move(batch));
      exchange->batch.take(exchange->sampler.next());
      answer(*exchange);  // the first minibatch's model: the initial one, version 0
      exchanges_.push_back(std::move(exchange));
    }
  }

  void start() {
    if (workers_serve_) {
      threads_.start_workers([this](std::size_t w) { work_and_serve(w); });
      return;
    }
    threads_.start([this] { serve(); }, [this](std::size_t w) { work(w); },
                   [this] {
                     for (auto& ex : exchanges_) {
                       if (ex->slot.poll()) ex->slot.release();
                     }
                   },
                   [this] { server_done_.store(true, std::memory_order_release); });
  }
  void join() {
    threads_.join();
    joined_ = true;
  }
  /// Copies a recent model (monitor thread only); returns its version.
  std::uint64_t snapshot(float* out) {
    if (workers_serve_) {
      const std::lock_guard<TicketLock> lock(serving_);
      policy_.read_all(out);
      return counts_.version;
    }
    if (joined_) {
      policy_.read_all(out);
      return counts_.version;
    }
    snapshot_target_ = out;  // published by the release below
    const std::uint64_t wanted = snapshot_wanted_.fetch_add(1, std::memory_order_release) + 1;
    for (;;) {
      if (snapshot_served_.load(std::memory_order_acquire) >= wanted) return snapshot_version_;
      // A server that has left will serve nothing more, and touches the policy no more.
      if (server_done_.load(std::memory_order_acquire)) {
        policy_.read_all(out);
        return counts_.version;
      }
      std::this_thread::yield();
    }
  }

  /// The state between two arrivals, for a checkpoint (monitor thread): the policy (which
  /// holds the model) and the counters, written by the server when it next looks, or by this
  /// thread once the server has left. The minibatches in the exchanges are not part of it.
  EngineState save_state() {
    if (workers_serve_) {
      const std::lock_guard<TicketLock> lock(serving_);
      return write_state();
    }
    if (joined_) return write_state();
    return state_request_.ask(server_done_, [this] { return write_state(); });
  }
  /// Continues from save_state()'s bytes (before start()): every worker's first minibatch then
  /// reads the resumed model.
  void load_state(detail::StateReader& in) {
    counts_ = read_sparse_server_state(in, policy_, run_);
    for (auto& exchange : exchanges_) answer(*exchange);
  }

 private:
  /// What a worker and the server hand each other through the slot.
  struct Exchange {
    Exchange(detail::MinibatchSampler s, CompactBatch b)
        : sampler(std::move(s)), batch(std::move(b)) {}
    detail::MinibatchSampler sampler;
    CompactBatch batch;  // the next minibatch; the server fills its model
    SparsePost post;     // the gradient of the previous one
    GradientHeader header;
    std::uint64_t model_version = 0;  // the step at which the server filled batch's model
    HandoffSlot slot{0};
  };

  void work(std::size_t w) {
    Exchange& ex = *exchanges_[w];
    for (std::uint64_t sequence = 1; !run_.stopping(); ++sequence) {
      prepare_post(ex, w, sequence);
      ex.slot.publish();
      ex.slot.wait_until_consumed();
    }
  }

  /// A worker that serves: its own arrival is applied, and its next model read, under serving_.
  void work_and_serve(std::size_t w) {
    Exchange& ex = *exchanges_[w];
    for (std::uint64_t sequence = 1; !run_.stopping(); ++sequence) {
      prepare_post(ex, w, sequence);
      const std::lock_guard<TicketLock> lock(serving_);
      if (run_.stopping()) break;
      apply(ex);
      answer(ex);
      if (run_.budget.spent(counts_.version, counts_.samples))
        run_.stop.store(true, std::memory_order_relaxed);
    }
  }

  /// The gradient of the exchange's minibatch, its header, and the next minibatch taken (the
  /// server reads the model for its rows); then the worker's slowdown.
  void prepare_post(Exchange& ex, std::size_t w, std::uint64_t sequence) {
    const auto started = std::chrono::steady_clock::now();
    const double loss = ex.batch.gradient(ex.post);
    ex.header = {static_cast<std::uint32_t>(w), static_cast<std::uint32_t>(ex.batch.samples()),
                 ex.model_version, sequence, loss};
    ex.batch.take_next(ex.sampler);
    straggle(run_, started, run_.config.slowdown_of(w));
  }

  /// The model on the exchange's next minibatch, at the current step.
  void answer(Exchange& ex) {
    policy_.read(ex.batch.features(), ex.batch.model_rows(), ex.batch.model_tail());
    ex.model_version = counts_.version;
  }

  void serve() {
    const Budget& budget = run_.budget;
    std::vector<Exchange*> held;  // sync: the round's slots, answered at its end
    std::vector<char> taken(workers_, 0);
    unsigned idle = 0;
    while (!run_.stopping()) {
      serve_snapshot();
      state_request_.serve([this] { return write_state(); });
      bool fresh = false;
      for (std::size_t w = 0; w < workers_ && !run_.stopping(); ++w) {
        Exchange& ex = *exchanges_[w];
        if (taken[w] || !ex.slot.poll()) continue;
        fresh = true;
        taken[w] = 1;
        held.push_back(&ex);
        if (!apply(ex)) continue;  // sync: the round is not complete
        for (Exchange* done : held) {
          answer(*done);
          taken[done->header.worker] = 0;
          done->slot.release();
        }
        held.clear();
        if (budget.spent(counts_.version, counts_.samples))
          run_.stop.store(true, std::memory_order_relaxed);
      }
      if (fresh) {
        idle = 0;
      } else {
        back_off(idle);
      }
    }
  }

  /// Accounts for an arrival and applies it; false while a sync round is incomplete. The
  /// policy is the caller's alone here (the server thread, or the worker holding serving_).
  bool apply(Exchange& ex) {
    NoLock alone;
    return apply_sparse_arrival(policy_, run_, ex.header, ex.post, counts_, alone);
  }

  void serve_snapshot() {
    const std::uint64_t wanted = snapshot_wanted_.load(std::memory_order_acquire);
    if (wanted == snapshot_served_.load(std::memory_order_relaxed)) return;
    policy_.read_all(snapshot_target_);
    snapshot_version_ = counts_.version;
    snapshot_served_.store(wanted, std::memory_order_release);
  }

  EngineState write_state() const { return write_sparse_server_state(policy_, run_); }

  /// Idle server: yield (a worker's next post is one small gradient away, and a sleeping
  /// server would add its wake-up latency to every step); sleep only after a long idle
  /// stretch, as when every worker straggles.
  void back_off(unsigned& idle) const {
    if (++idle < (1u << 14)) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }

  RunState& run_;
  SparsePolicy& policy_;
  const std::size_t workers_;
  const bool workers_serve_;  // no server thread: see the Design block
  TicketLock serving_;        // held by the worker applying its arrival, or the monitor
  std::vector<std::unique_ptr<Exchange>> exchanges_;
  ServerCounts counts_;  // steps and samples (server thread; read by the monitor after join)
  bool joined_ = false;
  float* snapshot_target_ = nullptr;  // the monitor's buffer for the snapshot it waits for
  std::uint64_t snapshot_version_ = 0;
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> snapshot_wanted_{0};  // monitor
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> snapshot_served_{0};  // server
  std::atomic<bool> server_done_{false};  // set by the server thread as it leaves
  StateRequest state_request_;            // the monitor's checkpoints of the running engine
  ServerThreads threads_;
};

}  // namespace dude::engine
