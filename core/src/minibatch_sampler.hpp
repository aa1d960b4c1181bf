// minibatch_sampler.hpp (internal): the order in which a trainer or a worker visits its rows:
// each epoch a fresh seeded permutation, cut into minibatches (the last one of an epoch may be
// smaller). Shared by the single-thread trainer and the asynchronous workers, so that one
// worker draws exactly the minibatches of the single-thread trainer with the same seed.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "rng.hpp"

namespace dude {

class MinibatchSampler {
 public:
  /// Stream 0 is the single-thread trainer's; worker w uses stream w.
  MinibatchSampler(std::span<const std::uint32_t> rows, std::size_t batch, std::uint64_t seed,
                   std::uint64_t stream = 0)
      : order_(rows.begin(), rows.end()),
        batch_(std::min(batch, rows.size())),
        rng_(seed, kStreamBase + stream),
        cursor_(order_.size()) {}

  /// The next minibatch; valid until the next call.
  std::span<const std::uint32_t> next() {
    if (cursor_ >= order_.size()) {
      rng_.shuffle(std::span<std::uint32_t>(order_));
      cursor_ = 0;
    }
    const std::size_t take = std::min(batch_, order_.size() - cursor_);
    const std::span<const std::uint32_t> rows(order_.data() + cursor_, take);
    cursor_ += take;
    return rows;
  }
  std::size_t batch() const { return batch_; }

 private:
  static constexpr std::uint64_t kStreamBase = 0x76d;
  std::vector<std::uint32_t> order_;  // this epoch's permutation
  std::size_t batch_;                 // rows per minibatch (at most the row count)
  Rng rng_;
  std::size_t cursor_;                // next unvisited position in order_
};

}  // namespace dude
