#include "dude/objective.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <vector>

#include "common/parse_text.hpp"
#include "common/prefetch.hpp"
#include "dude/errors.hpp"
#include "dude/kernels.hpp"
#include "model/data_fit.hpp"
#include "model/feature_union.hpp"
#include "model/objective_impl.hpp"

namespace dude {

ModelSpec ModelSpec::parse(std::string_view text) {
  ModelSpec spec;
  if (text == "logreg") {
    spec.kind = Kind::LogReg;
    return spec;
  }
  if (text == "softmax") {
    spec.kind = Kind::Softmax;
    return spec;
  }
  const std::string_view prefix = "mlp:";
  if (text.substr(0, prefix.size()) != prefix) {
    throw ConfigError("model spec '" + std::string(text) +
                      "': expected logreg, softmax or mlp:W1[,W2...]");
  }
  spec.kind = Kind::Mlp;
  for (const std::string_view token : detail::split_commas(text.substr(prefix.size()))) {
    const std::uint32_t width = detail::parse_whole<std::uint32_t>(token).value_or(0);
    if (width == 0 || width > (1u << 20)) {
      throw ConfigError("model spec '" + std::string(text) + "': hidden width '" +
                        std::string(token) + "' is not an integer in [1, 1048576]");
    }
    spec.hidden.push_back(width);
  }
  return spec;
}

std::string ModelSpec::to_string() const {
  switch (kind) {
    case Kind::LogReg: return "logreg";
    case Kind::Softmax: return "softmax";
    case Kind::Mlp: break;
  }
  std::string text = "mlp:";
  for (std::size_t i = 0; i < hidden.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(hidden[i]);
  }
  return text;
}

namespace {

/// The most parameters a model may have: 2^38 floats (1 TiB), far beyond any machine's memory
/// and far below where a count would wrap.
constexpr std::uint64_t kMaxParams = std::uint64_t{1} << 38;

/// Throws ConfigError unless spec's parameter count at these dimensions stays within
/// kMaxParams, every product and sum checked before it could wrap.
void check_parameter_count(const ModelSpec& spec, std::size_t features, std::uint32_t classes) {
  if (features > (std::uint64_t{1} << 32)) {
    throw ConfigError("objective: " + std::to_string(features) +
                      " features; at most 2^32 (feature ids are 32-bit)");
  }
  std::vector<std::uint64_t> dims{features};
  for (const std::uint32_t width : spec.hidden) dims.push_back(width);
  dims.push_back(spec.kind == ModelSpec::Kind::LogReg ? 1 : classes);
  std::uint64_t total = 0;
  for (std::size_t l = 0; l + 1 < dims.size(); ++l) {
    std::uint64_t layer = 0;
    const bool too_many = __builtin_mul_overflow(dims[l], dims[l + 1], &layer) ||
                          layer > kMaxParams || (total += layer + dims[l + 1]) > kMaxParams;
    if (too_many) {
      throw ConfigError("objective: " + spec.to_string() + " with " + std::to_string(features) +
                        " features and " + std::to_string(classes) +
                        " classes would have more than 2^38 parameters");
    }
  }
}

}  // namespace

Objective::Objective(ModelSpec spec, std::size_t features, std::uint32_t classes, float l2) {
  if (features == 0) throw ConfigError("objective: the data has no features");
  if (classes < 2) throw ConfigError("objective: at least 2 classes are needed");
  if (!(l2 >= 0.0f) || !std::isfinite(l2))
    throw ConfigError("objective: l2 must be finite and >= 0");
  if (spec.kind == ModelSpec::Kind::Mlp && spec.hidden.empty()) {
    throw ConfigError("objective: mlp needs at least one hidden layer");
  }
  if (spec.kind != ModelSpec::Kind::Mlp && !spec.hidden.empty()) {
    throw ConfigError("objective: only mlp has hidden layers");
  }
  check_parameter_count(spec, features, classes);
  if (spec.kind == ModelSpec::Kind::LogReg) {
    if (classes != 2) {
      throw ConfigError("model logreg is binary but the data has " + std::to_string(classes) +
                        " classes; use softmax or mlp");
    }
    impl_ = detail::make_binary_logistic(features, l2);
  } else {
    impl_ = detail::make_network(std::move(spec), features, classes, l2);
  }
}

Objective::~Objective() = default;
Objective::Objective(Objective&&) noexcept = default;
Objective& Objective::operator=(Objective&&) noexcept = default;

const ModelSpec& Objective::spec() const noexcept { return impl_->spec; }
std::size_t Objective::features() const noexcept { return impl_->features; }
std::uint32_t Objective::classes() const noexcept { return impl_->classes; }
float Objective::l2() const noexcept { return impl_->l2; }
std::size_t Objective::num_params() const noexcept { return impl_->num_params(); }

Workspace Objective::make_workspace(std::size_t max_batch, bool dense_input) const {
  if (max_batch == 0) throw ConfigError("objective: batch size must be positive");
  Workspace ws;
  ws.buffer_.assign(impl_->workspace_floats(max_batch, dense_input), 0.0f);
  ws.max_batch_ = max_batch;
  ws.dense_input_ = dense_input;
  return ws;
}

void Objective::init_params(float* params, std::uint64_t seed) const {
  impl_->init_params(params, seed);
}

namespace {
void check_batch(std::span<const std::uint32_t> rows, const Workspace& ws, const Dataset& data,
                 const Objective& objective) {
  if (rows.size() > ws.max_batch()) {
    throw ConfigError("objective: batch of " + std::to_string(rows.size()) +
                      " rows exceeds the workspace's " + std::to_string(ws.max_batch()));
  }
  detail::check_data_fits(data, objective.features(), objective.classes(), "objective");
  if (!data.is_sparse() && !ws.dense_input()) {
    throw ConfigError("objective: a workspace made for sparse rows cannot hold dense ones");
  }
}
}  // namespace

double Objective::loss_grad(const float* params, const Dataset& data,
                            std::span<const std::uint32_t> rows, float* grad, Workspace& ws) const {
  check_batch(rows, ws, data, *this);
  double loss = impl_->data_loss_grad(params, data, rows, grad, ws.buffer_.data());
  const float l2 = impl_->l2;
  if (l2 > 0.0f) {
    double penalty = 0;
    impl_->for_each_weight_block([&](std::size_t begin, std::size_t end) {
      penalty += kernels::dot(params + begin, params + begin, end - begin);
      kernels::axpy(l2, params + begin, grad + begin, end - begin);
    });
    loss += 0.5 * l2 * penalty;
  }
  return loss;
}

std::size_t Objective::first_layer_width() const noexcept { return impl_->first_layer_width(); }

double Objective::loss_grad_sparse(const float* params, const Dataset& data,
                                   std::span<const std::uint32_t> rows, SparseGradient& grad,
                                   Workspace& ws) const {
  check_batch(rows, ws, data, *this);
  if (!data.is_sparse()) throw ConfigError("objective: loss_grad_sparse needs sparse data");
  grad.width_ = impl_->first_layer_width();
  grad.tail_offset_ = impl_->features * grad.width_;
  detail::collect_features(data, rows, grad.rows_, grad.slots_, grad.marks_, grad.keys_,
                           grad.sort_scratch_);
  detail::prefetch_matrix_rows(params, grad.rows_, grad.width_);  // the forward pass reads them
  grad.values_.assign(grad.rows_.size() * grad.width_, 0.0f);
  grad.tail_.assign(num_params() - grad.tail_offset_, 0.0f);
  double loss =
      impl_->sparse_data_loss_grad(params, data, rows, grad.slots_.data(), grad.values_.data(),
                                   grad.tail_.data(), ws.buffer_.data());
  const float l2 = impl_->l2;
  if (l2 > 0.0f) {
    double penalty = 0;
    impl_->for_each_weight_block([&](std::size_t begin, std::size_t end) {
      if (begin < grad.tail_offset_) return;  // the first layer's: lazily, by the caller
      float* g = grad.tail_.data() + (begin - grad.tail_offset_);
      penalty += kernels::dot(params + begin, params + begin, end - begin);
      kernels::axpy(l2, params + begin, g, end - begin);
    });
    loss += 0.5 * l2 * penalty;
  }
  return loss;
}

void SparseGradient::add_to(float alpha, float* params) const {
  kernels::add_rows(alpha, rows_.data(), rows_.size(), values_.data(), width_, params);
  kernels::axpy(alpha, tail_.data(), params + tail_offset_, tail_.size());
}

Objective::Score Objective::score(const float* params, const Dataset& data,
                                  std::span<const std::uint32_t> rows, Workspace& ws) const {
  check_batch(rows, ws, data, *this);
  return impl_->score(params, data, rows, ws.buffer_.data());
}

void Objective::predict(const float* params, const Dataset& data,
                        std::span<const std::uint32_t> rows, float* proba, std::uint32_t* predicted,
                        Workspace& ws) const {
  check_batch(rows, ws, data, *this);
  impl_->predict(params, data, rows, proba, predicted, ws.buffer_.data());
}

}  // namespace dude
