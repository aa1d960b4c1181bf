#include "model/lazy_l2.hpp"

#include <cmath>
#include <string>

#include "dude/errors.hpp"
#include "dude/kernels.hpp"

namespace dude::detail {

LazyL2::LazyL2(std::size_t rows, std::size_t width, float l2)
    : width_(width), l2_(l2), stamp_(l2 > 0.0f ? rows : 0, 0.0) {}

void LazyL2::bring_up(std::uint32_t row, float* params) {
  const double behind = clock_ - stamp_[row];
  if (behind == 0.0) return;
  kernels::scale(static_cast<float>(std::exp(behind)), params + std::size_t{row} * width_, width_);
  stamp_[row] = clock_;
}

void LazyL2::catch_up(const Dataset& data, std::span<const std::uint32_t> rows, float* params) {
  if (l2_ == 0.0f) return;
  for (const std::uint32_t r : rows) {
    const SparseRow row = data.sparse_row(r);
    // A feature in several rows is brought up once: then it is up to date.
    for (std::size_t k = 0; k < row.nnz; ++k) bring_up(row.index[k], params);
  }
}

void LazyL2::catch_up_all(float* params) {
  for (std::size_t row = 0; row < stamp_.size(); ++row) {
    bring_up(static_cast<std::uint32_t>(row), params);
  }
}

void LazyL2::step(const SparseGradient& grad, float lr, float* params) {
  if (l2_ == 0.0f) {
    grad.add_to(-lr, params);
    return;
  }
  const double shrink = 1.0 - static_cast<double>(lr) * static_cast<double>(l2_);
  if (!(shrink > 0.0)) {
    throw ConfigError("l2: lr * l2 = " + std::to_string(lr * l2_) +
                      " must stay below 1 for sparse data (it would zero every weight)");
  }
  const auto decay = static_cast<float>(shrink);
  const std::span<const std::uint32_t> rows = grad.rows();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    float* x = params + std::size_t{rows[i]} * width_;
    kernels::scale(decay, x, width_);
    kernels::axpy(-lr, grad.row(i).data(), x, width_);
  }
  kernels::axpy(-lr, grad.tail().data(), params + grad.tail_offset(), grad.tail().size());
  clock_ += std::log(shrink);
  for (const std::uint32_t row : rows) stamp_[row] = clock_;
}

}  // namespace dude::detail
