// kernels_scalar.cpp: dude::kernels::scalar, the plain-loop reference the tests hold every
// SIMD target to. Written for clarity, not speed, and slightly more accurate than the SIMD
// code where that costs nothing here: reductions (dot, sparse_dot, the softmax sum)
// accumulate in double and round once at the end.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "dude/kernels.hpp"
#include "fold_range.hpp"

namespace dude::kernels::scalar {

float dot(const float* a, const float* b, std::size_t n) {
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(sum);
}

void axpy(float alpha, const float* x, float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void axpy4(const float* alpha, const float* const* x, float* y, std::size_t n) {
  for (std::size_t j = 0; j < 4; ++j) axpy(alpha[j], x[j], y, n);
}

double logistic_loss_grad(const float* z, const float* y, float scale, float* coef, std::size_t n) {
  double loss = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double t = z[i];
    const double sigmoid = t >= 0 ? 1 / (1 + std::exp(-t)) : std::exp(t) / (1 + std::exp(t));
    coef[i] = static_cast<float>(scale * (sigmoid - y[i]));
    const double s = y[i] > 0.5f ? -t : t;  // the loss is log(1 + exp(s))
    loss += std::max(s, 0.0) + std::log1p(std::exp(-std::fabs(s)));
  }
  return loss;
}

void scale(float alpha, float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] *= alpha;
}

float sparse_dot(const std::uint32_t* idx, const float* val, std::size_t nnz, const float* dense) {
  double sum = 0.0;
  for (std::size_t j = 0; j < nnz; ++j) sum += static_cast<double>(val[j]) * dense[idx[j]];
  return static_cast<float>(sum);
}

void sparse_axpy(float alpha, const std::uint32_t* idx, const float* val, std::size_t nnz,
                 float* dense) {
  for (std::size_t j = 0; j < nnz; ++j) dense[idx[j]] += alpha * val[j];
}

void gather_rows(const std::uint32_t* idx, const float* val, std::size_t nnz, const float* rows,
                 std::size_t width, float* y) {
  for (std::size_t j = 0; j < nnz; ++j) axpy(val[j], rows + std::size_t{idx[j]} * width, y, width);
}

void scatter_rows(const std::uint32_t* idx, const float* val, std::size_t nnz, const float* x,
                  std::size_t width, float* rows) {
  for (std::size_t j = 0; j < nnz; ++j) axpy(val[j], x, rows + std::size_t{idx[j]} * width, width);
}

void add_rows(float alpha, const std::uint32_t* idx, std::size_t count, const float* values,
              std::size_t width, float* dense) {
  for (std::size_t i = 0; i < count; ++i) {
    axpy(alpha, values + i * width, dense + std::size_t{idx[i]} * width, width);
  }
}

namespace {

// Turns z[0, k) (k >= 1) into probabilities: exp(z - max) in float, their sum in double,
// then a multiply by the float reciprocal of the sum, the same steps as the SIMD code.
// Returns the max and the sum for the loss.
struct Exponentials {
  float max;
  double sum;
};

Exponentials softmax_in_place(float* z, std::size_t k) {
  float max = -std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < k; ++i) max = std::fmax(max, z[i]);
  double sum = 0.0;
  for (std::size_t i = 0; i < k; ++i) {
    z[i] = std::exp(z[i] - max);
    sum += z[i];
  }
  const float inverse = static_cast<float>(1.0 / sum);
  for (std::size_t i = 0; i < k; ++i) z[i] *= inverse;
  return {max, sum};
}

}  // namespace

double softmax_xent(float* z, std::size_t k, std::uint32_t label) {
  if (label >= k) throw std::out_of_range("softmax_xent: label out of range");
  const float label_logit = z[label];
  const Exponentials ex = softmax_in_place(z, k);
  z[label] -= 1.0f;
  return std::log(ex.sum) - (static_cast<double>(label_logit) - static_cast<double>(ex.max));
}

void softmax(float* z, std::size_t k) {
  if (k != 0) softmax_in_place(z, k);
}

void relu_forward(float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void relu_backward(const float* activation, float* grad, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) grad[i] = activation[i] > 0.0f ? grad[i] : 0.0f;
}

// The arithmetic of the SIMD fold, operation for operation: the difference taken in double,
// the running sum in double, x updated in double and rounded to float once.
void server_fold(const float* g_new, float* g_old, double* sum, const float* x_in, float* x_out,
                 float step, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    sum[i] += static_cast<double>(g_new[i]) - static_cast<double>(g_old[i]);
    g_old[i] = g_new[i];
    x_out[i] = x_in[i] + (-step) * static_cast<float>(sum[i]);
  }
}

void server_fold_batch(const float* const* g_new, float* const* g_old, std::size_t k, double* sum,
                       const float* x_in, float* x_out, float step, std::size_t n) {
  detail::fold_batch_range(g_new, g_old, k, sum, x_in, x_out, step, 0, n);
}

namespace {

// C[i][j] = sum over p of a(i, p) * b(p, j), accumulated in double: the reference is closer to
// the exact product than any float GEMM, so the tests bound only the target's error.
template <class AAt, class BAt>
void reference_product(std::size_t m, std::size_t n, std::size_t k, AAt a, BAt b, float* c) {
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double acc = 0;
      for (std::size_t p = 0; p < k; ++p) acc += static_cast<double>(a(i, p)) * b(p, j);
      c[i * n + j] = static_cast<float>(acc);
    }
  }
}

}  // namespace

void gemm_nn(std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b,
             float* c) {
  reference_product(
      m, n, k, [&](std::size_t i, std::size_t p) { return a[i * k + p]; },
      [&](std::size_t p, std::size_t j) { return b[p * n + j]; }, c);
}

void gemm_tn(std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b,
             float* c) {
  reference_product(
      m, n, k, [&](std::size_t i, std::size_t p) { return a[p * m + i]; },
      [&](std::size_t p, std::size_t j) { return b[p * n + j]; }, c);
}

void gemm_nt(std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b,
             float* c) {
  reference_product(
      m, n, k, [&](std::size_t i, std::size_t p) { return a[i * k + p]; },
      [&](std::size_t p, std::size_t j) { return b[j * k + p]; }, c);
}

}  // namespace dude::kernels::scalar
