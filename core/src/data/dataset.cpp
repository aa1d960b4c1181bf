#include "dude/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>

#include "common/page_memory.hpp"
#include "common/rng.hpp"
#include "data/label_names.hpp"
#include "data/sparse_pages.hpp"
#include "dude/errors.hpp"

namespace dude {
namespace {

struct DenseStorage {
  std::shared_ptr<const float[]> x;
  std::vector<std::uint32_t> labels;
};

void check_labels(const std::uint32_t* labels, std::size_t rows, std::uint32_t classes) {
  if (classes < 2)
    throw ConfigError("dataset: classes must be at least 2, got " + std::to_string(classes));
  for (std::size_t i = 0; i < rows; ++i) {
    if (labels[i] >= classes) {
      throw ConfigError("dataset: row " + std::to_string(i) + " has label " +
                        std::to_string(labels[i]) + ", outside [0, " + std::to_string(classes) +
                        ")");
    }
  }
}

}  // namespace

Dataset Dataset::dense(std::size_t features, std::uint32_t classes, std::vector<float> x,
                       std::vector<std::uint32_t> labels) {
  if (features == 0) throw ConfigError("dataset: features must be positive");
  if (x.size() != labels.size() * features) {
    throw ConfigError("dataset: " + std::to_string(x.size()) + " feature values do not make " +
                      std::to_string(labels.size()) + " rows of " + std::to_string(features));
  }
  // The vector becomes a shared array (an aliasing pointer into it): one owning path.
  auto owned = std::make_shared<const std::vector<float>>(std::move(x));
  std::shared_ptr<const float[]> values(owned, owned->data());
  return dense(features, classes, std::move(values), std::move(labels));
}

Dataset Dataset::dense(std::size_t features, std::uint32_t classes,
                       std::shared_ptr<const float[]> x, std::vector<std::uint32_t> labels) {
  if (x == nullptr && !labels.empty()) throw ConfigError("dataset: null feature array");
  auto storage = std::make_shared<DenseStorage>(DenseStorage{std::move(x), std::move(labels)});
  Dataset d = dense_view(storage->x.get(), storage->labels.data(), storage->labels.size(), features,
                         classes);
  d.owner_ = std::move(storage);
  return d;
}

std::shared_ptr<float[]> allocate_features(std::size_t n) {
  std::shared_ptr<std::byte[]> pages = detail::map_pages(n * sizeof(float));
  float* values = reinterpret_cast<float*>(pages.get());
  return std::shared_ptr<float[]>(std::move(pages), values);
}

Dataset Dataset::sparse(std::size_t features, std::uint32_t classes,
                        std::vector<std::uint64_t> row_ptr, std::vector<std::uint32_t> index,
                        std::vector<float> value, std::vector<std::uint32_t> labels) {
  return detail::sparse_dataset(
      features, classes,
      detail::SparsePages{detail::PageArray<std::uint64_t>(row_ptr.data(), row_ptr.size()),
                          detail::PageArray<std::uint32_t>(index.data(), index.size()),
                          detail::PageArray<float>(value.data(), value.size()), std::move(labels)});
}

Dataset detail::sparse_dataset(std::size_t features, std::uint32_t classes, SparsePages pages) {
  if (pages.row_ptr.size() != pages.labels.size() + 1) {
    throw ConfigError("dataset: row_ptr must have rows + 1 entries");
  }
  auto storage = std::make_shared<SparsePages>(std::move(pages));
  Dataset d =
      Dataset::sparse_view(storage->row_ptr.data(), storage->index.data(), storage->value.data(),
                           storage->labels.data(), storage->labels.size(), features, classes);
  return d.kept_alive_by(std::move(storage));
}

Dataset Dataset::dense_view(const float* x, const std::uint32_t* labels, std::size_t rows,
                            std::size_t features, std::uint32_t classes) {
  if (features == 0) throw ConfigError("dataset: features must be positive");
  if (rows > 0 && (x == nullptr || labels == nullptr)) {
    throw ConfigError("dataset: null feature or label pointer");
  }
  Dataset d = labelled(labels, rows, features, classes);
  d.x_ = x;
  return d;
}

Dataset Dataset::sparse_view(const std::uint64_t* row_ptr, const std::uint32_t* index,
                             const float* value, const std::uint32_t* labels, std::size_t rows,
                             std::size_t features, std::uint32_t classes) {
  if (features == 0) throw ConfigError("dataset: features must be positive");
  if (row_ptr == nullptr || (rows > 0 && labels == nullptr)) {
    throw ConfigError("dataset: null row_ptr or label pointer");
  }
  if (row_ptr[0] != 0) throw ConfigError("dataset: row_ptr[0] must be 0");
  for (std::size_t i = 0; i < rows; ++i) {
    if (row_ptr[i + 1] < row_ptr[i]) {
      throw ConfigError("dataset: row_ptr decreases at row " + std::to_string(i));
    }
    for (std::uint64_t j = row_ptr[i]; j < row_ptr[i + 1]; ++j) {
      if (index[j] >= features || (j > row_ptr[i] && index[j] <= index[j - 1])) {
        throw ConfigError("dataset: row " + std::to_string(i) +
                          " has a feature index out of range or not ascending");
      }
    }
  }
  Dataset d = labelled(labels, rows, features, classes);
  d.row_ptr_ = row_ptr;
  d.index_ = index;
  d.value_ = value;
  return d;
}

Dataset Dataset::labelled(const std::uint32_t* labels, std::size_t rows, std::size_t features,
                          std::uint32_t classes) {
  check_labels(labels, rows, classes);
  Dataset d;
  d.labels_ = labels;
  d.rows_ = rows;
  d.features_ = features;
  d.classes_ = classes;
  return d;
}

std::size_t Dataset::stored_values() const noexcept {
  return is_sparse() ? static_cast<std::size_t>(row_ptr_[rows_]) : rows_ * features_;
}

std::span<const std::string> Dataset::label_names() const noexcept {
  if (label_names_ == nullptr) return {};
  return *label_names_;
}

Dataset Dataset::with_label_names(std::vector<std::string> names) const {
  const std::string problem = detail::label_names_problem(names, classes_);
  if (!problem.empty()) throw ConfigError("dataset: " + problem);
  Dataset d = *this;
  d.label_names_ = std::make_shared<const std::vector<std::string>>(std::move(names));
  return d;
}

Dataset Dataset::widened(std::size_t features, std::uint32_t classes) const {
  if (classes < classes_) throw ConfigError("dataset: cannot narrow the class count");
  // A name per class: an added class would have none.
  if (classes != classes_ && label_names_ != nullptr) {
    throw ConfigError("dataset: cannot add classes to named ones");
  }
  if (features != features_ && (!is_sparse() || features < features_)) {
    throw ConfigError("dataset: cannot change the feature count of dense data, or narrow it");
  }
  Dataset d = *this;
  d.features_ = features;
  d.classes_ = classes;
  return d;
}

std::vector<std::size_t> Dataset::class_histogram() const {
  std::vector<std::size_t> counts(classes_, 0);
  for (std::size_t i = 0; i < rows_; ++i) ++counts[labels_[i]];
  return counts;
}

RowSplit split_rows(std::size_t rows, double holdout_fraction, std::uint64_t seed) {
  if (!(holdout_fraction >= 0.0 && holdout_fraction < 1.0)) {
    throw ConfigError("holdout fraction must be in [0, 1)");
  }
  std::vector<std::uint32_t> order = all_rows(rows);
  detail::Rng rng(seed, /*stream=*/0x5b117);
  rng.shuffle(std::span<std::uint32_t>(order));
  const auto held =
      static_cast<std::size_t>(std::llround(holdout_fraction * static_cast<double>(rows)));
  RowSplit split;
  split.holdout.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(held));
  split.train.assign(order.begin() + static_cast<std::ptrdiff_t>(held), order.end());
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.holdout.begin(), split.holdout.end());
  return split;
}

std::vector<std::uint32_t> all_rows(std::size_t rows) {
  std::vector<std::uint32_t> ids(rows);
  std::iota(ids.begin(), ids.end(), 0u);
  return ids;
}

Dataset Dataset::kept_alive_by(std::shared_ptr<const void> owner) const {
  Dataset d = *this;
  d.owner_ = std::move(owner);
  return d;
}

}  // namespace dude
