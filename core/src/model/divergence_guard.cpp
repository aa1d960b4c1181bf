#include "model/divergence_guard.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

namespace dude::detail {
namespace {

/// Rows of the training set the initial loss is measured on: enough for a stable mean, few
/// enough to cost nothing beside a run.
constexpr std::size_t kInitialLossRows = 1024;

/// A parameter past this magnitude has overflowed in effect: its product with another like
/// it (every layer multiplies weights by activations made of weights) is beyond FLT_MAX.
const float kMaxMagnitude = std::sqrt(std::numeric_limits<float>::max());

/// The index of the first value that is not finite or is beyond kMaxMagnitude, or none.
std::optional<std::size_t> first_overflowing(const float* values, std::size_t count) {
  const float* end = values + count;
  const float* bad =
      std::find_if(values, end, [](float v) { return !(std::fabs(v) <= kMaxMagnitude); });
  if (bad == end) return std::nullopt;
  return static_cast<std::size_t>(bad - values);
}

std::string loss_bound_reason(double loss, double factor, double initial) {
  char text[160];
  std::snprintf(text, sizeof text,
                "the training loss %.4g is above %g times the initial %.4g at two evaluations in "
                "a row",
                loss, factor, initial);
  return text;
}

}  // namespace

DivergenceGuard::DivergenceGuard(const Objective& objective, const Subset& train,
                                 const SgdConfig& config, const float* params)
    : params_count_(objective.num_params()),
      factor_(config.divergence_factor),
      plateau_(config.early_stop) {
  if (factor_ > 0 && train.data != nullptr && !train.rows.empty()) {
    const auto rows = train.rows.first(std::min(train.rows.size(), kInitialLossRows));
    initial_loss_ = evaluate(objective, params, *train.data, rows).loss;
  }
  if (config.keep_last_good) last_good_model_.assign(params, params + params_count_);
}

void DivergenceGuard::save(StateWriter& out) const {
  out.put(initial_loss_);
  out.put(above_bound_);
  out.put(last_good_);
  out.put_vector(last_good_model_);
  plateau_.save(out);
}

void DivergenceGuard::load(StateReader& in) {
  initial_loss_ = in.get<double>();
  above_bound_ = in.get<bool>();
  last_good_ = in.get<std::optional<TrainingDiverged::GoodPoint>>();
  in.get_span(std::span<float>(last_good_model_));
  plateau_.load(in, params_count_);
}

void DivergenceGuard::check(const Progress& point, const float* model) {
  if (const auto bad = first_overflowing(model, params_count_)) {
    char reason[128];
    std::snprintf(reason, sizeof reason, "parameter %zu is %g (not finite, or beyond %.2g)", *bad,
                  static_cast<double>(model[*bad]), static_cast<double>(kMaxMagnitude));
    throw TrainingDiverged(point.steps, std::nullopt, reason, last_good_);
  }
  if (point.has_test && !std::isfinite(point.test_loss)) {
    throw TrainingDiverged(point.steps, std::nullopt, "the test loss is not finite", last_good_);
  }
  const bool above = factor_ > 0 && !(point.train_loss <= factor_ * initial_loss_);
  if (above && above_bound_) {
    throw TrainingDiverged(point.steps, std::nullopt,
                           loss_bound_reason(point.train_loss, factor_, initial_loss_), last_good_);
  }
  above_bound_ = above;
  if (above) return;  // not good, not yet diverged: the last good point stays the one before
  last_good_ = TrainingDiverged::GoodPoint{point.steps, point.epoch, std::nullopt};
  if (point.has_test) last_good_->test_accuracy = point.test_accuracy;
  if (!last_good_model_.empty()) std::copy(model, model + params_count_, last_good_model_.begin());
  plateau_.observe(point, model, params_count_);
}

}  // namespace dude::detail
