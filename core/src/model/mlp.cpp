// Feed-forward networks with a softmax cross-entropy output: multinomial logistic regression
// (no hidden layer) and MLPs with ReLU hidden layers.
//
// Layer l maps width dims[l] to dims[l+1]; its weights W_l are stored input-major
// (dims[l] x dims[l+1], row-major) followed by its bias b_l. Input-major weights make a sparse
// input row an axpy of whole weight rows, and keep the dense products plain row-major GEMMs
// (kernels::gemm_*). The minibatch is processed as matrices: Z = A W + b, A' = relu(Z).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/rng.hpp"
#include "dude/kernels.hpp"
#include "model/objective_impl.hpp"

namespace dude {
namespace {

class Network final : public detail::ObjectiveImpl {
 public:
  Network(ModelSpec spec_in, std::size_t features_in, std::uint32_t classes_in, float l2_in)
      : ObjectiveImpl(std::move(spec_in), features_in, classes_in, l2_in) {
    dims_.push_back(features);
    for (const std::uint32_t width : spec.hidden) dims_.push_back(width);
    dims_.push_back(classes);
    std::size_t offset = 0;
    for (std::size_t l = 0; l + 1 < dims_.size(); ++l) {
      weight_offset_.push_back(offset);
      offset += dims_[l] * dims_[l + 1];
      bias_offset_.push_back(offset);
      offset += dims_[l + 1];
    }
    num_params_ = offset;
    std::size_t prefix = 0;
    for (std::size_t l = 1; l + 1 < dims_.size(); ++l) {
      max_hidden_ = std::max(max_hidden_, dims_[l]);
      hidden_prefix_.push_back(prefix);
      prefix += dims_[l];
    }
    logits_prefix_ = prefix;
  }

  std::size_t num_params() const override { return num_params_; }

  // Layout per batch of B rows: the gathered input (B x features, dense data only), each
  // hidden activation (B x width), the logits (B x classes), two back-propagation buffers.
  std::size_t workspace_floats(std::size_t max_batch, bool dense_input) const override {
    return max_batch * ((dense_input ? features : 0) + logits_prefix_ + classes + 2 * max_hidden_);
  }

  void init_params(float* params, std::uint64_t seed) const override {
    std::fill(params, params + num_params_, 0.0f);
    if (layers() == 1) return;  // softmax regression: zeros are the natural start (convex)
    detail::Rng rng(seed, /*stream=*/0x1417);
    for (std::size_t l = 0; l < layers(); ++l) {
      // He scaling for layers feeding a ReLU, LeCun scaling for the output layer.
      const double gain = l + 1 < layers() ? 2.0 : 1.0;
      const double stddev = std::sqrt(gain / static_cast<double>(dims_[l]));
      float* w = params + weight_offset_[l];
      for (std::size_t i = 0; i < dims_[l] * dims_[l + 1]; ++i) {
        w[i] = static_cast<float>(stddev * rng.normal());
      }
    }
  }

  void for_each_weight_block(
      const std::function<void(std::size_t, std::size_t)>& f) const override {
    for (std::size_t l = 0; l < layers(); ++l) f(weight_offset_[l], bias_offset_[l]);
  }

  std::size_t first_layer_width() const override { return dims_[1]; }

  double data_loss_grad(const float* params, const Dataset& data,
                        std::span<const std::uint32_t> rows, float* grad,
                        float* ws) const override {
    if (rows.empty()) {
      std::memset(grad, 0, num_params_ * sizeof(float));
      return 0.0;
    }
    return loss_and_backward(params, data, rows, ws, GradientTarget{grad, 0, nullptr, nullptr});
  }

  double sparse_data_loss_grad(const float* params, const Dataset& data,
                               std::span<const std::uint32_t> rows, const std::uint32_t* slots,
                               float* row_grads, float* tail, float* ws) const override {
    if (rows.empty()) return 0.0;
    const GradientTarget target{tail, bias_offset_[0], slots, row_grads};
    return loss_and_backward(params, data, rows, ws, target);
  }

  Objective::Score score(const float* params, const Dataset& data,
                         std::span<const std::uint32_t> rows, float* ws) const override {
    Objective::Score s;
    const Buffers buf = buffers(ws, rows.size(), data);
    forward(params, data, rows, buf);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      float* z = buf.logits + i * classes;
      const std::uint32_t label = data.label(rows[i]);
      s.correct += argmax(z) == label ? 1 : 0;
      s.loss_sum += kernels::softmax_xent(z, classes, label);
    }
    return s;
  }

  void predict(const float* params, const Dataset& data, std::span<const std::uint32_t> rows,
               float* proba, std::uint32_t* predicted, float* ws) const override {
    const Buffers buf = buffers(ws, rows.size(), data);
    forward(params, data, rows, buf);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      float* z = buf.logits + i * classes;
      if (predicted != nullptr) predicted[i] = argmax(z);
      if (proba != nullptr) {
        kernels::softmax(z, classes);
        std::memcpy(proba + i * classes, z, classes * sizeof(float));
      }
    }
  }

 private:
  // Views into the workspace for one batch; computing them allocates nothing.
  struct Buffers {
    float* base;        // the workspace, past the gathered input
    std::size_t batch;  // rows in this batch
    const Network* net;
    float* input;    // gathered dense rows (dense data only)
    float* logits;   // output pre-activations, then their gradient
    float* back[2];  // back-propagation scratch
    /// Post-ReLU activations of hidden layer h (0-based).
    float* hidden(std::size_t h) const { return base + batch * net->hidden_prefix_[h]; }
  };
  /// Where the gradient goes: one dense array over every parameter (slots null), or a sparse
  /// gradient: the first layer's weights by feature row, the rest (from `base` on) in a dense
  /// tail.
  struct GradientTarget {
    float* dense;                // parameter `base + i` at dense[i]
    std::size_t base;            // 0 for a dense target; the tail's offset otherwise
    const std::uint32_t* slots;  // sparse: the n-th non-zero's row is row_grads + slots[n] * width
    float* row_grads;
    float* at(std::size_t offset) const { return dense + (offset - base); }
  };

  /// The forward pass, the mean loss and the backward pass into `target`.
  double loss_and_backward(const float* params, const Dataset& data,
                           std::span<const std::uint32_t> rows, float* ws,
                           const GradientTarget& target) const {
    const std::size_t batch = rows.size();
    const Buffers buf = buffers(ws, batch, data);
    forward(params, data, rows, buf);
    // Output layer: dZ = (softmax(Z) - onehot(y)) / B, in place over the logits.
    double loss = 0;
    for (std::size_t i = 0; i < batch; ++i) {
      loss += kernels::softmax_xent(buf.logits + i * classes, classes, data.label(rows[i]));
    }
    kernels::scale(1.0f / static_cast<float>(batch), buf.logits, batch * classes);
    backward(params, data, rows, buf, target);
    return loss / static_cast<double>(batch);
  }

  /// From the output layer's dZ (in buf.logits) down to the first layer's gradient.
  void backward(const float* params, const Dataset& data, std::span<const std::uint32_t> rows,
                const Buffers& buf, const GradientTarget& target) const {
    const std::size_t batch = rows.size();
    float* delta = buf.logits;  // gradient with respect to the current layer's output Z
    float* spare[2] = {buf.back[0], buf.back[1]};
    for (std::size_t l = layers(); l-- > 0;) {
      const std::size_t in = dims_[l], out = dims_[l + 1];
      float* grad_b = target.at(bias_offset_[l]);
      std::memset(grad_b, 0, out * sizeof(float));
      for (std::size_t i = 0; i < batch; ++i) kernels::axpy(1.0f, delta + i * out, grad_b, out);
      if (l == 0 && data.is_sparse()) {
        sparse_first_layer_grad(data, rows, delta, target);
      } else {
        const float* input = l == 0 ? buf.input : buf.hidden(l - 1);
        kernels::gemm_tn(in, out, batch, input, delta, target.at(weight_offset_[l]));  // A^T dZ
      }
      if (l == 0) break;
      // Back through W_l and the ReLU below it: dA = dZ W_l^T, masked where A was zero.
      float* next = spare[l % 2];
      kernels::gemm_nt(batch, in, out, delta, params + weight_offset_[l], next);
      kernels::relu_backward(buf.hidden(l - 1), next, batch * in);
      delta = next;
    }
  }

  /// dW_0 = X^T dZ for sparse rows: each non-zero adds its value times the row's dZ to its
  /// feature's weight row. A dense target is zeroed first (a sparse one arrives zeroed).
  void sparse_first_layer_grad(const Dataset& data, std::span<const std::uint32_t> rows,
                               const float* delta, const GradientTarget& target) const {
    const std::size_t out = dims_[1];
    if (target.slots == nullptr) std::memset(target.dense, 0, features * out * sizeof(float));
    const std::uint32_t* slots = target.slots;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const SparseRow row = data.sparse_row(rows[i]);
      if (slots == nullptr) {
        kernels::scatter_rows(row.index, row.value, row.nnz, delta + i * out, out, target.dense);
      } else {
        kernels::scatter_rows(slots, row.value, row.nnz, delta + i * out, out, target.row_grads);
        slots += row.nnz;
      }
    }
  }

  std::size_t layers() const { return dims_.size() - 1; }

  // Dense data is gathered into the front of the workspace; sparse data is read in place.
  Buffers buffers(float* ws, std::size_t batch, const Dataset& data) const {
    float* past_input = ws + (data.is_sparse() ? 0 : batch * features);
    Buffers buf{past_input, batch, this, ws, nullptr, {nullptr, nullptr}};
    buf.logits = past_input + batch * logits_prefix_;
    buf.back[0] = buf.logits + batch * classes;
    buf.back[1] = buf.back[0] + batch * max_hidden_;
    return buf;
  }

  std::uint32_t argmax(const float* z) const {
    return static_cast<std::uint32_t>(std::max_element(z, z + classes) - z);
  }

  // Fills buf.logits (and the hidden activations) for the rows.
  void forward(const float* params, const Dataset& data, std::span<const std::uint32_t> rows,
               const Buffers& buf) const {
    const std::size_t batch = rows.size();
    for (std::size_t l = 0; l < layers(); ++l) {
      const std::size_t out = dims_[l + 1];
      float* z = l + 1 < layers() ? buf.hidden(l) : buf.logits;
      const float* w = params + weight_offset_[l];
      const float* bias = params + bias_offset_[l];
      if (l == 0 && data.is_sparse()) {
        // Sparse first layer: each row's output is b + sum_j x_j W[j, :].
        for (std::size_t i = 0; i < batch; ++i) {
          float* zi = z + i * out;
          std::memcpy(zi, bias, out * sizeof(float));
          const SparseRow row = data.sparse_row(rows[i]);
          kernels::gather_rows(row.index, row.value, row.nnz, w, out, zi);
        }
      } else {
        const float* input = buf.input;
        if (l == 0) {
          for (std::size_t i = 0; i < batch; ++i) {
            std::memcpy(buf.input + i * features, data.dense_row(rows[i]),
                        features * sizeof(float));
          }
        } else {
          input = buf.hidden(l - 1);
        }
        kernels::gemm_nn(batch, out, dims_[l], input, w, z);  // Z = A W
        for (std::size_t i = 0; i < batch; ++i) kernels::axpy(1.0f, bias, z + i * out, out);
      }
      if (l + 1 < layers()) kernels::relu_forward(z, batch * out);
    }
  }

  std::vector<std::size_t> dims_;           // layer widths: features, hidden..., classes
  std::vector<std::size_t> weight_offset_;  // where W_l starts in the parameter array
  std::vector<std::size_t> bias_offset_;    // where b_l starts (right after W_l)
  std::size_t num_params_ = 0;
  std::size_t max_hidden_ = 0;
  std::vector<std::size_t> hidden_prefix_;  // per-row floats past the input before hidden layer h
  std::size_t logits_prefix_ = 0;           // per-row floats past the input before the logits
};

}  // namespace

std::unique_ptr<detail::ObjectiveImpl> detail::make_network(ModelSpec spec, std::size_t features,
                                                            std::uint32_t classes, float l2) {
  return std::make_unique<Network>(std::move(spec), features, classes, l2);
}

}  // namespace dude
