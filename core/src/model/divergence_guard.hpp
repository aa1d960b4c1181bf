// divergence_guard.hpp (internal): the checks every trainer runs at its evaluation points, and
// the last good model it falls back to when a run diverges (docs/DESIGN.md §11).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/state_stream.hpp"
#include "dude/errors.hpp"
#include "dude/objective.hpp"
#include "dude/trainer.hpp"

namespace dude::detail {

/// Owned by the thread that evaluates (the caller's). A point passes when every parameter is
/// finite, its test loss (if any) is finite and its training loss is not above
/// SgdConfig::divergence_factor times the initial loss for the second point in a row.
class DivergenceGuard {
 public:
  /// `params`: the initial model, whose loss on the first training rows sets the bound and
  /// which is the fallback until a point passes.
  DivergenceGuard(const Objective& objective, const Subset& train, const SgdConfig& config,
                  const float* params);

  /// Checks an evaluation point of `model`; throws TrainingDiverged if it fails, else
  /// remembers it (and a copy of the model with keep_last_good).
  void check(const Progress& point, const float* model);

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
};

}  // namespace dude::detail
