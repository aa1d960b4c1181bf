// test_data.hpp: small seeded data sets for tests.
#pragma once

#include <random>
#include <vector>

#include "dude/dataset.hpp"

namespace testdata {

inline dude::Dataset random_dense(std::size_t rows, std::size_t features, std::uint32_t classes,
                                  std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> x(rows * features);
  for (float& v : x) v = normal(rng);
  std::vector<std::uint32_t> labels(rows);
  for (std::size_t i = 0; i < rows; ++i) labels[i] = static_cast<std::uint32_t>(i % classes);
  return dude::Dataset::dense(features, classes, std::move(x), std::move(labels));
}

/// About `per_row` nonzeros per row at random ascending positions.
inline dude::Dataset random_sparse(std::size_t rows, std::size_t features, std::uint32_t classes,
                                   std::size_t per_row, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::bernoulli_distribution keep(static_cast<double>(per_row) / static_cast<double>(features));
  std::vector<std::uint64_t> row_ptr{0};
  std::vector<std::uint32_t> index;
  std::vector<float> value;
  std::vector<std::uint32_t> labels;
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::uint32_t j = 0; j < features; ++j) {
      if (keep(rng)) {
        index.push_back(j);
        value.push_back(normal(rng));
      }
    }
    row_ptr.push_back(index.size());
    labels.push_back(static_cast<std::uint32_t>(i % classes));
  }
  return dude::Dataset::sparse(features, classes, std::move(row_ptr), std::move(index),
                               std::move(value), std::move(labels));
}

/// The same rows stored dense (zeros written out).
inline dude::Dataset densified(const dude::Dataset& sparse) {
  std::vector<float> x(sparse.rows() * sparse.features(), 0.0f);
  std::vector<std::uint32_t> labels(sparse.rows());
  for (std::size_t i = 0; i < sparse.rows(); ++i) {
    const dude::SparseRow row = sparse.sparse_row(i);
    for (std::size_t k = 0; k < row.nnz; ++k)
      x[i * sparse.features() + row.index[k]] = row.value[k];
    labels[i] = sparse.label(i);
  }
  return dude::Dataset::dense(sparse.features(), sparse.classes(), std::move(x), std::move(labels));
}

}  // namespace testdata
