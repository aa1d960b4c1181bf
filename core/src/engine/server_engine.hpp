// server_engine.hpp (internal): workers post gradients through per-worker slots; one server
// thread applies them with a policy and hands models back through the pool.
//
// Worker w:  pin the newest model -> minibatch gradient from its own shard, written straight
//            into its slot -> unpin -> (straggler wait) -> publish -> wait if the slot hands
//            off, folding chunks of the server's current round meanwhile (fold_team.hpp).
// Server:    poll every slot once per round; apply what arrived (one policy call, so DuDe can
//            use the exact batched fold, split into chunks of coordinates that the server, its
//            helpers and the waiting workers claim) into a free pool buffer; publish it;
//            release the slots.
//            Sync keeps polling without releasing until every worker's gradient is in.
// Nothing on these paths locks or allocates.
#pragma once

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/threads.hpp"
#include "data/minibatch_sampler.hpp"
#include "dude/errors.hpp"
#include "dude/objective.hpp"
#include "engine/checkpoint_state.hpp"
#include "engine/fold_team.hpp"
#include "engine/model_pool.hpp"
#include "engine/policy.hpp"
#include "engine/run_state.hpp"
#include "engine/server_round.hpp"
#include "engine/server_threads.hpp"
#include "engine/straggler.hpp"

namespace dude::engine {

/// `Model` is dude::Objective, or a stand-in with the same num_params / make_workspace /
/// loss_grad members (the stress tests use one that returns integer-valued gradients).
template <class Slot, class Model = Objective>
class ServerEngine {
 public:
  /// The pool has one reader per worker plus one for the monitor (evaluation snapshots).
  ServerEngine(const Model& objective, const Dataset& data,
               const std::vector<std::vector<std::uint32_t>>& shards, RunState& run,
               ServerPolicy& policy, const float* initial)
      : objective_(objective),
        data_(data),
        shards_(shards),
        run_(run),
        policy_(policy),
        params_(objective.num_params()),
        workers_(shards.size()),
        pool_(params_, workers_ + 1),
        team_(run.config.server_threads, params_, spin_polls_),
        threads_(run, workers_) {
    for (std::size_t w = 0; w < workers_; ++w) slots_.push_back(std::make_unique<Slot>(params_));
    std::copy(initial, initial + params_, pool_.writable());
    pool_.publish(0);
  }

  /// Starts the server and worker threads.
  void start() {
    threads_.start([this] { serve(); }, [this](std::size_t w) { work(w); },
                   [this] {
                     for (auto& slot : slots_) {
                       if (slot->poll()) slot->release();
                     }
                   },
                   [this] { server_done_.store(true, std::memory_order_release); });
  }
  void join() { threads_.join(); }
  /// Copies a consistent recent model (monitor thread only); returns its version.
  std::uint64_t snapshot(float* out) {
    const ModelPool::View view = pool_.acquire(workers_);
    std::copy(view.params, view.params + params_, out);
    pool_.release(workers_);
    return view.version;
  }
  /// The engine's state between two rounds, for a checkpoint (monitor thread): the model, the
  /// policy's memory and the counters, written by the server when it next looks, or by this
  /// thread once the server has left. Gradients in the slots are not part of it: a resumed run
  /// has its workers compute afresh.
  EngineState save_state() {
    return state_request_.ask(server_done_, [this] { return write_state(); });
  }
  /// Continues from save_state()'s bytes (before start()).
  void load_state(detail::StateReader& in) { read_server_state(in, pool_, policy_, run_); }

  /// The final model, after join().
  const float* final_model() const { return pool_.current(); }
  std::uint64_t final_version() const { return pool_.current_version(); }

 private:
  void work(std::size_t w) {
    const SgdConfig& sgd = run_.config.sgd;
    detail::MinibatchSampler sampler(shards_[w], sgd.batch, sgd.batch_order, sgd.seed, w);
    Workspace ws = objective_.make_workspace(sampler.batch(), !data_.is_sparse());
    const double slowdown = run_.config.slowdown_of(w);
    Slot& slot = *slots_[w];
    std::uint64_t sequence = 0;
    while (!run_.stopping()) {
      const auto started = std::chrono::steady_clock::now();
      const ModelPool::View model = pool_.acquire(w);
      const std::span<const std::uint32_t> rows = sampler.next();
      const double loss =
          objective_.loss_grad(model.params, data_, rows, slot.producer_buffer(), ws);
      pool_.release(w);
      GradientHeader& header = slot.producer_header();
      header.worker = static_cast<std::uint32_t>(w);
      header.samples = static_cast<std::uint32_t>(rows.size());
      header.model_version = model.version;
      header.sequence = ++sequence;
      header.loss = loss;
      straggle(run_, started, slowdown);
      slot.publish();
      // While its post waits for the server, the worker folds chunks of the current round.
      slot.wait_until_consumed(spin_polls_, [this] { return team_.help(); });
    }
  }

  void serve() {
    const std::size_t round = policy_.round_size();
    std::vector<Arrival> arrivals;
    arrivals.reserve(workers_);
    std::vector<char> taken(workers_, 0);
    ServerCounts counts{run_.counters.steps.load(std::memory_order_relaxed),  // 0, or resumed
                        run_.counters.samples.load(std::memory_order_relaxed)};
    unsigned idle = 0;
    while (!run_.stopping()) {
      state_request_.serve([this] { return write_state(); });
      bool fresh = false;
      for (std::size_t w = 0; w < workers_; ++w) {
        if (!taken[w] && slots_[w]->poll()) {
          taken[w] = 1;
          arrivals.push_back({slots_[w]->consumer_buffer(), &slots_[w]->consumer_header()});
          fresh = true;
        }
      }
      if (arrivals.empty() || arrivals.size() < round) {
        if (!fresh) back_off(idle);
        continue;
      }
      idle = 0;
      apply_round(policy_, team_, pool_, run_, arrivals, counts);
      for (const Arrival& a : arrivals) slots_[a.header->worker]->release();
      std::fill(taken.begin(), taken.end(), 0);
      arrivals.clear();
    }
  }

  EngineState write_state() const { return write_server_state(pool_, policy_, run_); }

  /// Idle server: spin, then yield, then sleep. With a core for every thread the server spins
  /// long (a sleeping server adds its wake-up latency to every hand-off: bench/RESULTS.md,
  /// "Measurements behind the code"); when threads outnumber cores it spins
  /// briefly, so that waiting for slow workers does not take a core from them.
  void back_off(unsigned& idle) const {
    ++idle;
    if (idle < spin_polls_) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else if (idle < 2 * spin_polls_ + 256) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }

  const Model& objective_;
  const Dataset& data_;
  const std::vector<std::vector<std::uint32_t>>& shards_;
  RunState& run_;
  ServerPolicy& policy_;
  const std::size_t params_;
  const std::size_t workers_;
  ModelPool pool_;
  std::vector<std::unique_ptr<Slot>> slots_;
  // Polls the idle server (and an idle fold helper) spins before yielding: long when the
  // workers, the server's fold team and the monitor each have a core.
  const unsigned spin_polls_ =
      workers_ + run_.config.server_threads + 1 <= std::thread::hardware_concurrency() ? 1u << 14
                                                                                       : 64u;
  FoldTeam team_;  // the server thread, its fold helpers and, as guests, the waiting workers
  ServerThreads threads_;
  StateRequest state_request_;            // the monitor's checkpoints of the running engine
  std::atomic<bool> server_done_{false};  // set by the server thread as it leaves
};

}  // namespace dude::engine
