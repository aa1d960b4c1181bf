#include "engine/compact_batch.hpp"

#include <algorithm>

#include "dude/errors.hpp"
#include "model/feature_union.hpp"

namespace dude::engine {
std::size_t widest_row(const Dataset& data) {
  std::size_t widest = 1;
  for (std::size_t r = 0; r < data.rows(); ++r) widest = std::max(widest, data.sparse_row(r).nnz);
  return widest;
}

std::size_t batch_features(std::size_t features, std::size_t widest, std::size_t max_batch) {
  return std::min(features, widest * max_batch);
}

CompactBatch::CompactBatch(const Objective& objective, const Dataset& data, std::size_t max_batch)
    : data_(data),
      local_(objective.spec(), batch_features(data.features(), widest_row(data), max_batch),
             objective.classes(), 0.0f),
      width_(objective.first_layer_width()),
      tail_offset_(local_.features() * width_),
      params_(local_.num_params()),
      ws_(local_.make_workspace(max_batch, false)) {
  if (!data.is_sparse()) throw ConfigError("compact batch: the data must be sparse");
}

void CompactBatch::take(std::span<const std::uint32_t> rows) {
  // The local numbers are the features' places in the minibatch's ascending union, so each
  // row's indices stay ascending.
  detail::collect_features(data_, rows, features_, index_, marks_, keys_, sort_scratch_);
  row_ptr_.assign(1, 0);
  value_.clear();
  labels_.clear();
  for (const std::uint32_t r : rows) {
    const SparseRow row = data_.sparse_row(r);
    value_.insert(value_.end(), row.value, row.value + row.nnz);
    row_ptr_.push_back(value_.size());
    labels_.push_back(data_.label(r));
  }
  all_rows_.resize(labels_.size());
  for (std::size_t i = 0; i < all_rows_.size(); ++i) all_rows_[i] = static_cast<std::uint32_t>(i);
}

double CompactBatch::gradient(SparsePost& post) {
  // As many features as the minibatch uses, so that every one of them is used.
  const Dataset batch = Dataset::sparse_view(
      row_ptr_.data(), index_.data(), value_.data(), labels_.data(), labels_.size(),
      std::max<std::size_t>(features_.size(), 1), local_.classes());
  const double loss = local_.loss_grad_sparse(params_.data(), batch, all_rows_, grad_, ws_);
  const std::span<const std::uint32_t> local_rows = grad_.rows();
  post.rows.resize(local_rows.size());
  post.values.resize(local_rows.size() * width_);
  for (std::size_t i = 0; i < local_rows.size(); ++i) {
    post.rows[i] = features_[local_rows[i]];
    std::copy(grad_.row(i).begin(), grad_.row(i).end(),
              post.values.begin() + static_cast<std::ptrdiff_t>(i * width_));
  }
  post.tail.assign(grad_.tail().begin(), grad_.tail().end());
  return loss;
}

}  // namespace dude::engine
