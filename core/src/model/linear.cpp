// Binary logistic regression: p = sigmoid(w.x + b), loss = -log p(y), y in {0, 1}.
// Parameters: w (features floats) then b.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "dude/kernels.hpp"
#include "model/objective_impl.hpp"

namespace dude {
namespace {

/// log(1 + exp(t)) without overflow.
double softplus(double t) { return t > 0 ? t + std::log1p(std::exp(-t)) : std::log1p(std::exp(t)); }

class BinaryLogistic final : public detail::ObjectiveImpl {
 public:
  BinaryLogistic(std::size_t features, float l2)
      : ObjectiveImpl(ModelSpec{ModelSpec::Kind::LogReg, {}}, features, 2, l2) {}

  std::size_t num_params() const override { return features + 1; }
  std::size_t workspace_floats(std::size_t, bool) const override { return 0; }
  void init_params(float* params, std::uint64_t) const override {
    std::fill(params, params + num_params(), 0.0f);
  }
  void for_each_weight_block(
      const std::function<void(std::size_t, std::size_t)>& f) const override {
    f(0, features);
  }

  std::size_t first_layer_width() const override { return 1; }

  double data_loss_grad(const float* params, const Dataset& data,
                        std::span<const std::uint32_t> rows, float* grad, float*) const override {
    std::memset(grad, 0, num_params() * sizeof(float));
    if (rows.empty()) return 0.0;
    const double loss =
        chunked(params, data, rows, grad[features],
                [&](const std::uint32_t* chunk, std::size_t count, const float* coef) {
                  std::size_t j = 0;
                  if (data.is_sparse()) {
                    for (; j < count; ++j) {
                      const SparseRow row = data.sparse_row(chunk[j]);
                      kernels::sparse_axpy(coef[j], row.index, row.value, row.nnz, grad);
                    }
                  }
                  for (; j + 4 <= count; j += 4) {
                    const float* x[4];
                    for (std::size_t k = 0; k < 4; ++k) x[k] = data.dense_row(chunk[j + k]);
                    kernels::axpy4(coef + j, x, grad, features);
                  }
                  for (; j < count; ++j)
                    kernels::axpy(coef[j], data.dense_row(chunk[j]), grad, features);
                });
    return loss / static_cast<double>(rows.size());
  }

  double sparse_data_loss_grad(const float* params, const Dataset& data,
                               std::span<const std::uint32_t> rows, const std::uint32_t* slots,
                               float* row_grads, float* tail, float*) const override {
    if (rows.empty()) return 0.0;
    const double loss =
        chunked(params, data, rows, tail[0],
                [&](const std::uint32_t* chunk, std::size_t count, const float* coef) {
                  for (std::size_t j = 0; j < count; ++j) {  // chunks come in order
                    const SparseRow row = data.sparse_row(chunk[j]);
                    for (std::size_t k = 0; k < row.nnz; ++k)
                      row_grads[*slots++] += coef[j] * row.value[k];
                  }
                });
    return loss / static_cast<double>(rows.size());
  }

  Objective::Score score(const float* params, const Dataset& data,
                         std::span<const std::uint32_t> rows, float*) const override {
    Objective::Score s;
    for (const std::uint32_t r : rows) {
      const float z = margin(params, data, r);
      const bool positive = data.label(r) == 1;
      s.loss_sum += softplus(positive ? -z : z);
      s.correct += (z > 0) == positive ? 1 : 0;
    }
    return s;
  }

  void predict(const float* params, const Dataset& data, std::span<const std::uint32_t> rows,
               float* proba, std::uint32_t* predicted, float*) const override {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const float z = margin(params, data, rows[i]);
      if (proba != nullptr) {
        const float p = sigmoid(z);
        proba[2 * i] = 1.0f - p;
        proba[2 * i + 1] = p;
      }
      if (predicted != nullptr) predicted[i] = z > 0 ? 1 : 0;
    }
  }

 private:
  /// The loss of the rows and its derivative in each margin, a chunk at a time: first every
  /// margin, reading the rows in the order given (one memory stream when they are
  /// consecutive), then the losses and coefficients in one vector pass; `add_rows(chunk, count,
  /// coef)` then adds coef[j] times row j to the weights' gradient from cache. The bias
  /// gradient is added to `bias_grad`. Returns the summed loss.
  template <class AddRows>
  double chunked(const float* params, const Dataset& data, std::span<const std::uint32_t> rows,
                 float& bias_grad, AddRows&& add_rows) const {
    const float inv_batch = 1.0f / static_cast<float>(rows.size());
    double loss = 0;
    float bias = 0;
    constexpr std::size_t kChunk = 64;  // 64 rows of 784 floats: 200 KB, within L2
    for (std::size_t begin = 0; begin < rows.size(); begin += kChunk) {
      const std::size_t count = std::min(kChunk, rows.size() - begin);
      const std::uint32_t* chunk = rows.data() + begin;
      float z[kChunk], y[kChunk], coef[kChunk];
      for (std::size_t j = 0; j < count; ++j) {
        z[j] = margin(params, data, chunk[j]);
        y[j] = static_cast<float>(data.label(chunk[j]));
      }
      loss += kernels::logistic_loss_grad(z, y, inv_batch, coef, count);
      for (std::size_t j = 0; j < count; ++j) bias += coef[j];
      add_rows(chunk, count, coef);
    }
    bias_grad += bias;
    return loss;
  }

  static float sigmoid(float z) {
    return z >= 0 ? 1.0f / (1.0f + std::exp(-z)) : std::exp(z) / (1.0f + std::exp(z));
  }
  float margin(const float* params, const Dataset& data, std::uint32_t r) const {
    if (data.is_sparse()) {
      const SparseRow row = data.sparse_row(r);
      return kernels::sparse_dot(row.index, row.value, row.nnz, params) + params[features];
    }
    return kernels::dot(data.dense_row(r), params, features) + params[features];
  }
};

}  // namespace

std::unique_ptr<detail::ObjectiveImpl> detail::make_binary_logistic(std::size_t features,
                                                                    float l2) {
  return std::make_unique<BinaryLogistic>(features, l2);
}

}  // namespace dude
