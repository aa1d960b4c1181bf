// dude/trainer.hpp: single-thread minibatch SGD, the reference every asynchronous algorithm
// is checked against.
//
// Each epoch visits the training rows in a fresh seeded permutation, in minibatches. The run
// stops after `epochs`, `steps` or `seconds`, whichever is set (exactly one must be).
// Evaluation points go out through a callback; the trainer itself never prints.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string_view>
#include <vector>

#include "dude/checkpoint.hpp"
#include "dude/dataset.hpp"
#include "dude/objective.hpp"

namespace dude {

enum class Schedule {
  Constant,  // lr
  InvT,      // lr / (1 + decay * epochs_done), epochs_done fractional
  Cosine,    // lr * (1 + cos(pi * progress)) / 2, progress in [0,1] of the budget
};
/// Parses "constant", "invt" (or "1/t"), "cosine"; throws ConfigError otherwise.
Schedule parse_schedule(std::string_view name);

/// How an epoch's rows are cut into minibatches.
enum class BatchOrder {
  Shuffled,    // a fresh random permutation of the rows each epoch
  Contiguous,  // runs of `batch` consecutive rows (from a random offset), in random order
};
/// Parses "shuffled" or "contiguous"; throws ConfigError otherwise.
BatchOrder parse_batch_order(std::string_view name);

struct SgdConfig {
  std::uint64_t seed = 1;
  std::size_t batch = 32;
  double epochs = 0;        // budget: passes over the training rows (fractional allowed)
  std::uint64_t steps = 0;  // budget: minibatch steps
  double seconds = 0;       // budget: wall-clock seconds
  float lr = 0.1f;
  Schedule schedule = Schedule::Constant;
  float lr_decay = 1.0f;  // InvT's decay per epoch
  /// Linear warm-up: the schedule's rate times min(1, epoch / warmup_epochs) (0: none).
  double warmup_epochs = 0;
  /// Contiguous minibatches read memory in long runs (several times the bandwidth of random
  /// rows on large dense data, bench/RESULTS.md) but are only as random as the row order:
  /// use it on data stored in random order, not on files sorted by label.
  BatchOrder batch_order = BatchOrder::Shuffled;
  /// Steps between evaluations; 0: once per epoch; kEvalAtEndOnly: only the final point.
  std::uint64_t eval_every = 0;
  double tick_seconds = 0.5;  // wall time between lightweight progress ticks; 0: none
  /// Divergence check at every evaluation point, besides the non-finite losses and the
  /// overflowing parameters (beyond sqrt(FLT_MAX)) that always stop a run: TrainingDiverged when
  /// the training loss is above this factor times the initial loss (the model's at the start, on up
  /// to 1024 training rows) at two points in a row. 0: no such check.
  double divergence_factor = 10;
  /// On TrainingDiverged, leave params holding the model of the last evaluation point that
  /// passed the checks (the initial model if none did), at the cost of a copy of the model.
  bool keep_last_good = false;
  /// Early stopping: end the run once the test accuracy has not risen above its best for this
  /// many evaluation points in a row, leaving params holding the model of the best point
  /// (which the final point then reports). 0: off. Needs test rows; every evaluation point is
  /// then evaluated on them, and the best model is kept (a copy of the model).
  std::uint32_t early_stop = 0;

  /// Throws ConfigError naming the first bad field.
  void validate() const;
};

/// SgdConfig::eval_every for a run evaluated only once, at its end.
inline constexpr std::uint64_t kEvalAtEndOnly = std::numeric_limits<std::uint64_t>::max();

/// A point of a run: an evaluation (test metrics computed, meant for metrics files) or a
/// lightweight tick (meant for a progress line).
struct Progress {
  bool evaluation = false;
  double wall_seconds = 0;
  std::uint64_t steps = 0;
  std::uint64_t samples = 0;
  double epoch = 0;       // samples / training rows
  double lr = 0;          // step size in force
  double train_loss = 0;  // mean minibatch loss since the previous point
  bool has_test = false;
  double test_loss = 0;
  double test_accuracy = 0;
  double fraction_done = 0;  // of the budget, in [0,1]
  bool final = false;        // the last point of the run
  // Asynchronous runs only (zero or empty for the single-thread trainer):
  double staleness_mean = 0;  // model delay tau of the gradients applied since the last point
  std::uint64_t staleness_max = 0;
  std::vector<std::uint64_t> arrivals;  // gradients applied per worker since the start
};
using ProgressCallback = std::function<void(const Progress&)>;

/// Learning rate at a point of the run (shared by every trainer).
double learning_rate(const SgdConfig& config, double epochs_done, double fraction_done);

/// Some rows of a data set (which must outlive the run).
struct Subset {
  const Dataset* data = nullptr;
  std::span<const std::uint32_t> rows;
};

/// Trains params (num_params floats, already initialised) in place on `train`; evaluates on
/// `test` when it is non-null and non-empty. Returns the final evaluation point. Without
/// on_progress only that point is evaluated on the test rows (nobody could see the others);
/// every evaluation point is still checked for divergence. Throws TrainingDiverged when a
/// loss or a parameter is not finite, or the training loss stays above its bound
/// (SgdConfig::divergence_factor).
/// `stop`, when non-null and set by another thread, ends the run after the current step.
/// With `checkpoints` it hands out checkpoints as it goes, or continues a run from one
/// (dude/checkpoint.hpp): the same points but their wall times, and the same model bit for bit.
Progress train_sgd(const Objective& objective, const Subset& train, const Subset* test,
                   const SgdConfig& config, float* params, const ProgressCallback& on_progress,
                   const std::atomic<bool>* stop = nullptr,
                   const CheckpointPlan* checkpoints = nullptr);

}  // namespace dude
