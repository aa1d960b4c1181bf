// compact_batch.hpp (internal): a worker's minibatch of sparse rows as a small problem of its
// own, so that a worker never holds the whole model.
//
// The minibatch's features (the union of its rows', ascending) are renumbered 0..m-1 in that
// order; the rows are copied with the new numbers, and a copy of the objective sized for the
// largest minibatch computes the gradient on a compact parameter array: the m first-layer rows,
// then the tail. The worker fills those m rows and the tail from the server (pull), computes,
// and posts the gradient under the original feature ids. Memory and time are the minibatch's
// non-zeros times the width, plus the tail, at any number of features.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "data/minibatch_sampler.hpp"
#include "data/prefetch_rows.hpp"
#include "dude/dataset.hpp"
#include "dude/objective.hpp"
#include "engine/sparse_policy.hpp"

namespace dude::engine {

/// The most non-zeros a row of `data` (sparse) has, at least 1.
std::size_t widest_row(const Dataset& data);
/// The most features a minibatch of up to `max_batch` rows, none with more than `widest`
/// non-zeros, touches among `features`: a CompactBatch's capacity.
std::size_t batch_features(std::size_t features, std::size_t widest, std::size_t max_batch);

class CompactBatch {
 public:
  /// For minibatches of up to max_batch rows of `data` (sparse) under `objective`.
  CompactBatch(const Objective& objective, const Dataset& data, std::size_t max_batch);

  /// Takes a minibatch: its features become the local rows.
  void take(std::span<const std::uint32_t> rows);
  /// Takes the sampler's next minibatch, and starts loading the rows of the one after
  /// (data/prefetch_rows.hpp): they are far apart in a large data set, and a step ahead their
  /// cache misses are over before take() reads them.
  void take_next(detail::MinibatchSampler& sampler) {
    take(sampler.next());
    detail::prefetch_rows(data_, sampler.upcoming());
  }
  /// The minibatch's features, ascending: the first-layer rows to fill.
  std::span<const std::uint32_t> features() const noexcept { return features_; }
  /// Where the model goes: features().size() x width floats, and the tail.
  float* model_rows() noexcept { return params_.data(); }
  float* model_tail() noexcept { return params_.data() + tail_offset_; }
  std::size_t samples() const noexcept { return labels_.size(); }
  /// The minibatch's mean loss and gradient at the filled model, into `post` (under the
  /// original feature ids).
  double gradient(SparsePost& post);

 private:
  const Dataset& data_;
  Objective local_;  // the objective over max-minibatch-many features
  std::size_t width_;
  std::size_t tail_offset_;              // local features x width
  std::vector<float> params_;            // local first-layer rows, then the tail
  std::vector<std::uint32_t> features_;  // local row i is feature features_[i]
  std::vector<std::uint64_t> row_ptr_;   // the minibatch, renumbered (CSR)
  std::vector<std::uint32_t> index_;
  std::vector<float> value_;
  std::vector<std::uint32_t> labels_;
  std::vector<std::uint32_t> all_rows_;  // 0 .. batch - 1
  std::vector<std::uint32_t> marks_;     // take()'s scratch (model/feature_union.hpp)
  std::vector<std::uint64_t> keys_, sort_scratch_;
  Workspace ws_;
  SparseGradient grad_;
};

}  // namespace dude::engine
