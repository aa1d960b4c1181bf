// minibatch_sampler.hpp (internal): the order in which a trainer or a worker visits its rows,
// epoch after epoch (the last minibatch of an epoch may be smaller):
//  - Shuffled: each epoch a fresh seeded permutation, cut into minibatches;
//  - Contiguous: each epoch the rows, in the order given, rotated by a random offset below the
//    batch size and cut into runs of `batch` consecutive rows; the runs are visited in a fresh
//    random order. Every row is still seen once an epoch, and the offset changes which rows
//    share a minibatch from one epoch to the next.
// Shared by the single-thread trainer and the asynchronous workers, so that one worker draws
// exactly the minibatches of the single-thread trainer with the same seed.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "common/rng.hpp"
#include "common/state_stream.hpp"
#include "dude/trainer.hpp"

namespace dude::detail {

class MinibatchSampler {
 public:
  /// Stream 0 is the single-thread trainer's; worker w uses stream w.
  MinibatchSampler(std::span<const std::uint32_t> rows, std::size_t batch, BatchOrder order,
                   std::uint64_t seed, std::uint64_t stream = 0)
      : rows_(rows.begin(), rows.end()),
        batch_(std::min(batch, rows.size())),
        order_(order),
        rng_(seed, kStreamBase + stream),
        runs_(order == BatchOrder::Contiguous && batch_ > 0 ? (rows_.size() + batch_ - 1) / batch_
                                                            : 0),
        cursor_(order == BatchOrder::Contiguous ? runs_.size() : rows_.size()) {
    std::iota(runs_.begin(), runs_.end(), std::uint32_t{0});
    if (order == BatchOrder::Contiguous) minibatch_.reserve(batch_);
  }

  /// The next minibatch; valid until the next call.
  std::span<const std::uint32_t> next() {
    return order_ == BatchOrder::Contiguous ? next_run() : next_shuffled();
  }
  std::size_t batch() const { return batch_; }
  /// The rows next() will hand out, where they are known without drawing (shuffled order,
  /// inside an epoch); empty otherwise. Changes nothing: for prefetching their data.
  std::span<const std::uint32_t> upcoming() const {
    if (order_ != BatchOrder::Shuffled || cursor_ >= rows_.size()) return {};
    return {rows_.data() + cursor_, std::min(batch_, rows_.size() - cursor_)};
  }

  /// Its position: this epoch's order, where it is in it, and its random stream (checkpoints;
  /// load() into a sampler made for the same rows and settings). The minibatch handed out
  /// last is not part of it: next() makes a new one.
  void save(StateWriter& out) const {
    out.put_vector(rows_);
    out.put_vector(runs_);
    out.put(rng_);
    out.put(offset_);
    out.put(cursor_);
  }
  void load(StateReader& in) {
    in.get_span(std::span<std::uint32_t>(rows_));
    in.get_span(std::span<std::uint32_t>(runs_));
    rng_ = in.get<Rng>();
    offset_ = in.get<std::size_t>();
    cursor_ = in.get<std::size_t>();
  }

 private:
  std::span<const std::uint32_t> next_shuffled() {
    if (cursor_ >= rows_.size()) {
      rng_.shuffle(std::span<std::uint32_t>(rows_));
      cursor_ = 0;
    }
    const std::size_t take = std::min(batch_, rows_.size() - cursor_);
    const std::span<const std::uint32_t> rows(rows_.data() + cursor_, take);
    cursor_ += take;
    return rows;
  }

  std::span<const std::uint32_t> next_run() {
    const std::size_t n = rows_.size();
    if (n == 0) return {};
    if (cursor_ >= runs_.size()) {
      rng_.shuffle(std::span<std::uint32_t>(runs_));
      offset_ = static_cast<std::size_t>(rng_.below(batch_));
      cursor_ = 0;
    }
    const std::size_t begin = std::size_t{runs_[cursor_++]} * batch_;
    const std::size_t take = std::min(batch_, n - begin);
    minibatch_.clear();
    for (std::size_t i = 0; i < take; ++i) {
      std::size_t position = offset_ + begin + i;
      if (position >= n) position -= n;  // the run that wraps around the end
      minibatch_.push_back(rows_[position]);
    }
    return minibatch_;
  }

  static constexpr std::uint64_t kStreamBase = 0x76d;
  std::vector<std::uint32_t> rows_;  // Shuffled: this epoch's permutation; else as given
  std::size_t batch_;                // rows per minibatch (at most the row count)
  BatchOrder order_;
  Rng rng_;
  std::vector<std::uint32_t> runs_;       // Contiguous: this epoch's order of the runs
  std::size_t offset_ = 0;                // Contiguous: this epoch's rotation of the rows
  std::vector<std::uint32_t> minibatch_;  // Contiguous: the run handed out last
  std::size_t cursor_;                    // next unvisited row (Shuffled) or run (Contiguous)
};

}  // namespace dude::detail
