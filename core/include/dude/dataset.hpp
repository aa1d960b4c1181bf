// dude/dataset.hpp: an in-memory labelled data set, dense or sparse.
//
// Dense features are row-major float32 (rows x features); sparse features are CSR with
// strictly ascending 0-based column indices per row. Labels are class ids in [0, classes).
// A Dataset is an immutable view: it either owns its arrays (loaders) or points at memory
// the caller keeps alive (views). Copies share the same arrays, so handing a Dataset to many
// threads costs nothing; all const members are thread-safe. Data read from text with named
// labels (fastText) also carries the class names, shared the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace dude {

/// One sparse row: `nnz` (index, value) pairs with ascending indices.
struct SparseRow {
  const std::uint32_t* index;
  const float* value;
  std::size_t nnz;
};

class Dataset {
 public:
  Dataset() = default;

  /// Takes ownership of dense row-major features (rows * features values) and labels.
  static Dataset dense(std::size_t features, std::uint32_t classes, std::vector<float> x,
                       std::vector<std::uint32_t> labels);
  /// Shares ownership of dense row-major features (rows * features values, e.g. from
  /// allocate_features) and takes the labels.
  static Dataset dense(std::size_t features, std::uint32_t classes,
                       std::shared_ptr<const float[]> x, std::vector<std::uint32_t> labels);
  /// Takes ownership of CSR arrays: row_ptr has rows + 1 entries, starting at 0.
  static Dataset sparse(std::size_t features, std::uint32_t classes,
                        std::vector<std::uint64_t> row_ptr, std::vector<std::uint32_t> index,
                        std::vector<float> value, std::vector<std::uint32_t> labels);
  /// A view over caller memory; nothing is copied, the caller keeps it alive and unchanged.
  static Dataset dense_view(const float* x, const std::uint32_t* labels, std::size_t rows,
                            std::size_t features, std::uint32_t classes);
  static Dataset sparse_view(const std::uint64_t* row_ptr, const std::uint32_t* index,
                             const float* value, const std::uint32_t* labels, std::size_t rows,
                             std::size_t features, std::uint32_t classes);

  bool is_sparse() const noexcept { return row_ptr_ != nullptr; }
  std::size_t rows() const noexcept { return rows_; }
  std::size_t features() const noexcept { return features_; }
  std::uint32_t classes() const noexcept { return classes_; }
  /// Stored feature values (rows * features when dense, nnz when sparse).
  std::size_t stored_values() const noexcept;

  /// Row i of a dense data set (features() floats).
  const float* dense_row(std::size_t i) const noexcept { return x_ + i * features_; }
  /// Row i of a sparse data set.
  SparseRow sparse_row(std::size_t i) const noexcept {
    const std::uint64_t b = row_ptr_[i], e = row_ptr_[i + 1];
    return {index_ + b, value_ + b, static_cast<std::size_t>(e - b)};
  }
  std::uint32_t label(std::size_t i) const noexcept { return labels_[i]; }
  std::span<const std::uint32_t> labels() const noexcept { return {labels_, rows_}; }

  /// The name of each class by id (fastText data: its labels in byte order), or nothing when
  /// the labels are plain class ids.
  std::span<const std::string> label_names() const noexcept;
  /// The same rows with named classes: names[c] names class c. Throws ConfigError unless there
  /// is one name per class, each non-empty, at most 1024 bytes, without blanks, line breaks or
  /// NUL bytes, and all distinct.
  Dataset with_label_names(std::vector<std::string> names) const;
  /// The same data set, keeping `owner` (the memory its arrays lie in) alive for as long as
  /// any copy lives.
  Dataset kept_alive_by(std::shared_ptr<const void> owner) const;

  /// The same rows seen with a wider feature space (sparse only: absent features are zero),
  /// or with more classes (not when the classes are named); used to evaluate a test set on a
  /// model trained with more.
  Dataset widened(std::size_t features, std::uint32_t classes) const;

  /// Number of rows holding each class.
  std::vector<std::size_t> class_histogram() const;

 private:
  /// A view with the shape and labels set and checked, its features not yet.
  static Dataset labelled(const std::uint32_t* labels, std::size_t rows, std::size_t features,
                          std::uint32_t classes);

  std::shared_ptr<const void> owner_;  // keeps owned arrays alive; null for views
  std::shared_ptr<const std::vector<std::string>> label_names_;  // null: numeric labels
  const float* x_ = nullptr;
  const std::uint64_t* row_ptr_ = nullptr;
  const std::uint32_t* index_ = nullptr;
  const float* value_ = nullptr;
  const std::uint32_t* labels_ = nullptr;
  std::size_t rows_ = 0;
  std::size_t features_ = 0;
  std::uint32_t classes_ = 0;
};

/// Room for n feature values (zeroed), mapped from the operating system. Arrays of 2 MiB or
/// more lie on transparent huge pages where the system grants them (Linux madvise before the
/// first touch): a row visited in random order then costs no TLB miss, which lifts the
/// trainer's read rate (bench/RESULTS.md). The IDX loader keeps its features in such arrays.
std::shared_ptr<float[]> allocate_features(std::size_t n);

/// Splits row ids 0..rows-1 into a training part and a held-out part of about
/// `holdout_fraction * rows` rows, reproducibly from `seed`. Both lists come back sorted.
struct RowSplit {
  std::vector<std::uint32_t> train;
  std::vector<std::uint32_t> holdout;
};
RowSplit split_rows(std::size_t rows, double holdout_fraction, std::uint64_t seed);

/// Row ids 0..rows-1.
std::vector<std::uint32_t> all_rows(std::size_t rows);

}  // namespace dude
