// run_counters.hpp (internal): the statistics of an asynchronous run (steps, samples,
// staleness, losses, arrivals per worker), written by whoever applies gradients and read by
// the monitor for progress points.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "common/cache_line.hpp"

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
  std::atomic<double> loss_sum{0};                // sum of applied gradients' minibatch losses
  std::unique_ptr<std::atomic<std::uint64_t>[]> arrivals;  // applied gradients per worker

  explicit RunCounters(std::size_t workers) : arrivals(new std::atomic<std::uint64_t>[workers]) {
    for (std::size_t w = 0; w < workers; ++w) arrivals[w].store(0, std::memory_order_relaxed);
  }
  /// Accounts for one applied gradient: computed by `worker` at a model `tau` updates older
  /// than the one it is applied to, with minibatch loss `loss`. Called by one applier at a
  /// time per gradient; the monitor reads the sums.
  void record(std::uint32_t worker, std::uint64_t tau, double loss) {
    staleness_sum.fetch_add(tau, std::memory_order_relaxed);
    staleness_count.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t seen = staleness_max.load(std::memory_order_relaxed);
    while (tau > seen &&
           !staleness_max.compare_exchange_weak(seen, tau, std::memory_order_relaxed)) {
    }
    loss_sum.fetch_add(loss, std::memory_order_relaxed);
    arrivals[worker].fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace dude::engine
