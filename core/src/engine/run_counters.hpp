// run_counters.hpp (internal): the statistics of an asynchronous run (steps, samples,
// staleness, losses, arrivals per worker), written by whoever applies gradients and read by
// the monitor for progress points.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "common/cache_line.hpp"
#include "common/state_stream.hpp"

namespace dude::engine {

/// Counters the appliers of gradients (the server, or hogwild's workers) add to and the
/// monitor reads. All relaxed: each is a statistic read on its own, never used to publish
/// other data, so no ordering between them is needed.
struct alignas(kFalseSharingRange) RunCounters {
  std::atomic<std::uint64_t> steps{0};            // model updates (sync: rounds)
  std::atomic<std::uint64_t> samples{0};          // rows in applied gradients
  std::atomic<std::uint64_t> staleness_sum{0};    // sum of tau over applied gradients
  std::atomic<std::uint64_t> staleness_count{0};  // applied gradients
  std::atomic<std::uint64_t> staleness_max{0};    // largest tau so far
  std::atomic<double> loss_sum{0};  // applied gradients' minibatch losses since the last
                                    // evaluation point (the reporter restarts it)
  std::unique_ptr<std::atomic<std::uint64_t>[]> arrivals;  // applied gradients per worker

  explicit RunCounters(std::size_t workers) : arrivals(new std::atomic<std::uint64_t>[workers]) {
    for (std::size_t w = 0; w < workers; ++w) arrivals[w].store(0, std::memory_order_relaxed);
  }
  /// Accounts for one applied gradient: computed by `worker` at a model `tau` updates older
  /// than the one it is applied to, with minibatch loss `loss`. Called by one applier at a
  /// time per gradient; the monitor reads the sums.
  void record(std::uint32_t worker, std::uint64_t tau, double loss) {
    record_batch(worker, 1, tau, tau, loss);
  }
  /// The same for `count` gradients of one worker at once: their staleness summed (at most
  /// tau_max each) and their losses summed, one update of each counter (hogwild's workers
  /// batch theirs, so that they do not contend for these lines on every step).
  void record_batch(std::uint32_t worker, std::uint64_t count, std::uint64_t tau_sum,
                    std::uint64_t tau_max, double losses) {
    staleness_sum.fetch_add(tau_sum, std::memory_order_relaxed);
    staleness_count.fetch_add(count, std::memory_order_relaxed);
    std::uint64_t seen = staleness_max.load(std::memory_order_relaxed);
    while (tau_max > seen &&
           !staleness_max.compare_exchange_weak(seen, tau_max, std::memory_order_relaxed)) {
    }
    loss_sum.fetch_add(losses, std::memory_order_relaxed);
    arrivals[worker].fetch_add(count, std::memory_order_relaxed);
  }

  /// Checkpoints, taken while nobody records (the replay's thread, or a paused engine).
  void save(detail::StateWriter& out, std::size_t workers) const {
    for (const auto* c : {&steps, &samples, &staleness_sum, &staleness_count, &staleness_max})
      out.put(c->load(std::memory_order_relaxed));
    out.put(loss_sum.load(std::memory_order_relaxed));
    for (std::size_t w = 0; w < workers; ++w) out.put(arrivals[w].load(std::memory_order_relaxed));
  }
  void load(detail::StateReader& in, std::size_t workers) {
    for (auto* c : {&steps, &samples, &staleness_sum, &staleness_count, &staleness_max})
      c->store(in.get<std::uint64_t>(), std::memory_order_relaxed);
    loss_sum.store(in.get<double>(), std::memory_order_relaxed);
    for (std::size_t w = 0; w < workers; ++w)
      arrivals[w].store(in.get<std::uint64_t>(), std::memory_order_relaxed);
  }
};

}  // namespace dude::engine
