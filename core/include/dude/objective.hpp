// dude/objective.hpp: models and their losses.
//
// A model spec names the architecture ("logreg", "softmax", "mlp:256,128"); an Objective
// binds it to a feature and class count and computes, for a minibatch of rows at given
// parameters, the mean loss and its gradient into caller-owned buffers. An Objective is
// immutable and thread-safe; per-thread scratch memory lives in a Workspace the caller owns,
// so nothing is allocated per call.
//
// Parameters are one flat float array. Layer weights are stored input-major
// (W[in][out], out contiguous), which makes a sparse input row an axpy of whole weight rows.
// L2 regularisation (l2/2 * |W|^2) applies to weights, not to biases.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dude/dataset.hpp"

namespace dude {

struct ModelSpec {
  enum class Kind { LogReg, Softmax, Mlp };
  Kind kind = Kind::Softmax;
  std::vector<std::uint32_t> hidden;  // hidden layer widths (Mlp only)

  /// Parses "logreg", "softmax" or "mlp:W1[,W2...]"; throws ConfigError with the reason.
  static ModelSpec parse(std::string_view text);
  std::string to_string() const;
  bool operator==(const ModelSpec&) const = default;
};

namespace detail {
class ObjectiveImpl;  // the model family behind an Objective (internal)
}  // namespace detail

/// Scratch memory for one thread's calls into one Objective: make it with
/// Objective::make_workspace; what it holds is the objective's business.
class Workspace {
 public:
  Workspace() = default;
  /// The largest minibatch it serves.
  std::size_t max_batch() const noexcept { return max_batch_; }
  /// Whether it can hold dense rows (a workspace for sparse rows reads them in place).
  bool dense_input() const noexcept { return dense_input_; }

 private:
  friend class Objective;
  std::vector<float> buffer_;
  std::size_t max_batch_ = 0;
  bool dense_input_ = true;
};

class Objective;

/// The gradient of a minibatch of sparse rows, at the cost of its non-zeros. The parameters
/// begin with the first layer's weights, one row of width() floats per input feature
/// (input-major); a sparse minibatch touches only the rows of its features. The gradient keeps
/// those rows (ascending feature ids) and, densely, the tail: every parameter after the first
/// layer's weights (its bias and the later layers). Reused from step to step, it allocates
/// only while a minibatch touches more rows than any before.
class SparseGradient {
 public:
  /// Empty; Objective::loss_grad_sparse shapes it for its objective.
  SparseGradient() = default;

  /// The touched feature rows, ascending.
  std::span<const std::uint32_t> rows() const noexcept { return rows_; }
  /// Floats per feature row.
  std::size_t width() const noexcept { return width_; }
  /// The gradient of feature row rows()[i]: width() floats.
  std::span<const float> row(std::size_t i) const noexcept {
    return {values_.data() + i * width_, width_};
  }
  /// Where the tail starts in the parameter array (features x width), and its values.
  std::size_t tail_offset() const noexcept { return tail_offset_; }
  std::span<const float> tail() const noexcept { return tail_; }
  /// params += alpha * gradient, on the touched rows and the tail only.
  void add_to(float alpha, float* params) const;

 private:
  friend class Objective;
  std::size_t width_ = 0;
  std::size_t tail_offset_ = 0;
  std::vector<std::uint32_t> rows_;
  std::vector<float> values_;  // rows_.size() x width_
  std::vector<float> tail_;    // num_params - tail_offset_
  // Scratch, none of it spanning the features: each non-zero's index in rows_ (in the
  // minibatch's order), marks over a feature space narrower than the minibatch, sort keys.
  std::vector<std::uint32_t> slots_;
  std::vector<std::uint32_t> marks_;
  std::vector<std::uint64_t> keys_, sort_scratch_;
};

class Objective {
 public:
  /// Throws ConfigError if the spec does not fit (e.g. logreg with more than 2 classes).
  Objective(ModelSpec spec, std::size_t features, std::uint32_t classes, float l2 = 0.0f);
  ~Objective();
  Objective(Objective&&) noexcept;
  Objective& operator=(Objective&&) noexcept;

  const ModelSpec& spec() const noexcept;
  std::size_t features() const noexcept;
  std::uint32_t classes() const noexcept;
  float l2() const noexcept;
  std::size_t num_params() const noexcept;

  /// Scratch for batches of up to max_batch rows of dense or sparse data (the only
  /// allocation; sparse rows are read in place, dense ones gathered).
  Workspace make_workspace(std::size_t max_batch, bool dense_input = true) const;
  /// Writes initial parameters: zeros for linear models, He-scaled normal weights (seeded)
  /// and zero biases for MLP layers.
  void init_params(float* params, std::uint64_t seed) const;

  /// Mean loss over the rows (plus the L2 term) and, into grad (num_params floats,
  /// overwritten), its gradient. rows.size() must not exceed ws.max_batch().
  double loss_grad(const float* params, const Dataset& data, std::span<const std::uint32_t> rows,
                   float* grad, Workspace& ws) const;
  /// The same for a minibatch of sparse rows, at the cost of its non-zeros: the gradient on
  /// the first layer's rows its features touch, and on the tail, into `grad`. The L2 term of
  /// the first layer's weights is left out, of the loss and of the gradient (it would touch
  /// every row: apply it lazily, see train_sgd); that of the tail's weights is included.
  /// Throws ConfigError on dense data.
  double loss_grad_sparse(const float* params, const Dataset& data,
                          std::span<const std::uint32_t> rows, SparseGradient& grad,
                          Workspace& ws) const;
  /// The parameters the first layer's weights take: features() x this, input-major.
  std::size_t first_layer_width() const noexcept;

  /// Sum of per-row losses (no L2 term) and number of correct predictions.
  struct Score {
    double loss_sum = 0;
    std::size_t correct = 0;
  };
  Score score(const float* params, const Dataset& data, std::span<const std::uint32_t> rows,
              Workspace& ws) const;
  /// Class probabilities (rows.size() x classes, row-major) and/or predicted classes;
  /// either output may be null.
  void predict(const float* params, const Dataset& data, std::span<const std::uint32_t> rows,
               float* proba, std::uint32_t* classes, Workspace& ws) const;

 private:
  std::unique_ptr<detail::ObjectiveImpl> impl_;
};

/// Loss, accuracy and confusion matrix of a model over rows of a data set (parallel). The
/// confusion matrix is dense, classes^2 counters: with_confusion and more than
/// kMaxConfusionClasses classes is a ConfigError.
inline constexpr std::uint32_t kMaxConfusionClasses = 4096;
struct Evaluation {
  double loss = 0;      // mean cross-entropy, without the L2 term
  double accuracy = 0;  // fraction of rows predicted right
  std::size_t rows = 0;
  std::vector<std::uint64_t> confusion;  // classes x classes, [true][predicted]
};
Evaluation evaluate(const Objective& objective, const float* params, const Dataset& data,
                    std::span<const std::uint32_t> rows, bool with_confusion = false);

}  // namespace dude
