// divergence_guard.hpp (internal): the checks every trainer runs at its evaluation points, and
// the last good model it falls back to when a run diverges (docs/DESIGN.md §11).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/state_stream.hpp"
#include "dude/errors.hpp"
#include "dude/objective.hpp"
#include "dude/trainer.hpp"

namespace dude::detail {

/// Early stopping (SgdConfig::early_stop): the best test accuracy so far, its model, and the
/// evaluation points since it.
class PlateauWatch {
 public:
  explicit PlateauWatch(std::uint32_t patience) : patience_(patience) {}
  bool enabled() const { return patience_ > 0; }
  /// A checked point with its test metrics.
  void observe(const Progress& point, const float* model, std::size_t params) {
    if (!enabled() || !point.has_test) return;
    if (point.test_accuracy > best_accuracy_) {
      best_accuracy_ = point.test_accuracy;
      since_best_ = 0;
      best_model_.assign(model, model + params);
    } else {
      ++since_best_;
    }
  }
  bool reached() const { return enabled() && since_best_ >= patience_; }
  /// Writes the best point's model into params (when a point was seen).
  void restore_best(float* params) const {
    std::copy(best_model_.begin(), best_model_.end(), params);
  }
  void save(StateWriter& out) const {
    out.put(best_accuracy_);
    out.put(since_best_);
    out.put_vector(best_model_);
  }
  void load(StateReader& in, std::size_t params) {
    best_accuracy_ = in.get<double>();
    since_best_ = in.get<std::uint32_t>();
    in.get_vector(best_model_, params);
  }

 private:
  std::uint32_t patience_;
  double best_accuracy_ = -1;
  std::uint32_t since_best_ = 0;
  std::vector<float> best_model_;
};

/// Early stopping watches the test rows: a run asking for it must have some.
inline void require_test_rows_for_early_stop(const SgdConfig& config, const Subset* test) {
  if (config.early_stop > 0 && (test == nullptr || test->data == nullptr || test->rows.empty())) {
    throw ConfigError("early_stop: needs test rows to watch");
  }
}

/// Owned by the thread that evaluates (the caller's). A point passes when every parameter is
/// finite, its test loss (if any) is finite and its training loss is not above
/// SgdConfig::divergence_factor times the initial loss for the second point in a row. Points
/// that pass feed the plateau watch of early stopping.
class DivergenceGuard {
 public:
  /// `params`: the initial model, whose loss on the first training rows sets the bound and
  /// which is the fallback until a point passes.
  DivergenceGuard(const Objective& objective, const Subset& train, const SgdConfig& config,
                  const float* params);

  /// Checks an evaluation point of `model`; throws TrainingDiverged if it fails, else
  /// remembers it (and a copy of the model with keep_last_good).
  void check(const Progress& point, const float* model);

  /// Early stopping: whether every evaluation point needs the test metrics, whether the run
  /// should end now, and the model it should end with.
  bool wants_test() const { return plateau_.enabled(); }
  bool plateau_reached() const { return plateau_.reached(); }
  void restore_best(float* params) const { plateau_.restore_best(params); }

  /// Its memory of the run (checkpoints).
  void save(StateWriter& out) const;
  void load(StateReader& in);

  /// Runs a trainer; a TrainingDiverged it throws is rethrown naming the last good point,
  /// with params holding that point's model when the configuration keeps it.
  template <class Trainer>
  Progress run(float* params, Trainer&& trainer) {
    try {
      return trainer();
    } catch (const TrainingDiverged& e) {
      if (!last_good_model_.empty()) {
        std::copy(last_good_model_.begin(), last_good_model_.end(), params);
      }
      throw TrainingDiverged(e.step(), e.worker(), e.reason(), last_good_);
    }
  }

 private:
  std::size_t params_count_;
  double factor_;
  double initial_loss_ = 0;
  bool above_bound_ = false;  // the previous point's training loss was over the bound
  std::optional<TrainingDiverged::GoodPoint> last_good_;
  std::vector<float> last_good_model_;  // keep_last_good only
  PlateauWatch plateau_;
};

}  // namespace dude::detail
