// dude/compare.hpp: a fair comparison of algorithms on one setting, over a learning-rate grid
// and several seeds, summarised per (algorithm, learning rate) and reduced to each algorithm's
// best rate.
//
// Fairness: every run gets the same training and test rows, the same partition for a given
// seed (partitions are seeded by the run's seed and every algorithm runs every seed), the same
// initial parameters for a given seed, the same worker speeds and the same budget (samples or
// time; server steps are no common budget: a sync step is a round of n gradients, a fedbuff:K
// step a flush of K).
//
// An algorithm's best rate is the one of the grid with the highest mean final test accuracy
// over the seeds, ties to the smaller rate; a rate at which any seed diverged is not eligible.
// A diverged run is a result, not a failure of the comparison. Like every trainer, the
// comparison never prints and never writes files: the caller sees each run through callbacks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dude/async.hpp"
#include "dude/objective.hpp"
#include "dude/trainer.hpp"

namespace dude {

/// The value of a statistic over no runs (none finished, none reached the target): NaN, so that
/// it cannot pass for a number.
inline constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

/// Parses "dude,asgd,fedbuff:4" (blanks around items allowed). Throws ConfigError starting with
/// "algos '<text>'" on an empty item, an unknown algorithm or one listed twice.
std::vector<AlgorithmSpec> parse_algorithm_list(std::string_view text);
/// Parses "0.01,0.05" into ascending order. Throws ConfigError starting with "lrs '<text>'" on
/// an empty item, a rate that is not a finite positive number (as a float too), or two rates
/// with the same format_lr text (they would share a run name).
std::vector<double> parse_lr_list(std::string_view text);
/// Parses "0,1,2" (non-negative integers). Throws ConfigError starting with "seeds '<text>'" on
/// an empty or malformed item or one listed twice.
std::vector<std::uint64_t> parse_seed_list(std::string_view text);

/// A learning rate as it appears in run names and tables: printf's "%g" ("0.02", "3e+38").
std::string format_lr(double lr);
/// The name of a run, unique within a valid grid and usable as a file name (no colons):
/// "fedbuff-4_lr0.02_seed1".
std::string run_name(const AlgorithmSpec& algorithm, double lr, std::uint64_t seed);

/// What one run's evaluation points add up to.
struct RunResult {
  bool diverged = false;
  std::string error;  // the divergence's message
  double final_accuracy = kNoValue;
  double best_accuracy = kNoValue;
  double final_time = 0;  // Progress::wall_seconds: virtual time in deterministic runs
  std::uint64_t final_steps = 0;
  double final_epoch = 0;
  bool reached = false;  // the target accuracy, at some evaluation point
  double target_time = 0;
  std::uint64_t target_steps = 0;
  double target_epoch = 0;
  double staleness_mean = 0;  // over every gradient applied up to the last point
  std::uint64_t staleness_max = 0;
  std::uint64_t arrivals_min = 0;  // gradients applied by the least and the most busy worker
  std::uint64_t arrivals_max = 0;
};

/// Folds a run's progress points into a RunResult as they come.
class RunTracker {
 public:
  explicit RunTracker(double target) : target_(target) {}
  /// Folds an evaluation point; ticks (Progress::evaluation false) are ignored, since they
  /// carry no test accuracy and would move the final values off the last evaluation.
  void add(const Progress& p);
  /// Records that the run stopped on TrainingDiverged; the points before it are kept.
  void mark_diverged(std::string error);
  const RunResult& result() const { return result_; }

 private:
  double target_;
  RunResult result_;
  std::uint64_t arrivals_seen_ = 0;
  double staleness_sum_ = 0;
  double staleness_count_ = 0;
};

struct Stats {
  std::size_t n = 0;
  double mean = kNoValue;
  double std = kNoValue;  // sample standard deviation (n - 1); 0 for one value
};
Stats stats_of(const std::vector<double>& values);

/// One (algorithm, learning rate) over the seeds. Means are over the runs that did not
/// diverge, the target statistics over those that reached the target.
struct Cell {
  double lr = 0;
  std::size_t seeds = 0;
  std::size_t diverged = 0;
  Stats final_accuracy;
  double best_accuracy = kNoValue;  // mean of each run's highest accuracy
  std::size_t reached = 0;
  double target_time = kNoValue;
  double target_steps = kNoValue;
  double target_epoch = kNoValue;
  double staleness_mean = kNoValue;
  std::uint64_t staleness_max = 0;  // max over the runs
  double arrivals_min = kNoValue;
  double arrivals_max = kNoValue;
  double final_time = kNoValue;
  double final_steps = kNoValue;
  double final_epoch = kNoValue;

  /// Whether the rate may be chosen: no seed diverged.
  bool eligible() const { return diverged == 0 && final_accuracy.n > 0; }
};
/// The cell of the runs of one algorithm at `lr`, one per seed.
Cell summarise(double lr, const std::vector<RunResult>& runs);
/// Index of the best cell: the highest mean final accuracy among eligible cells, ties to the
/// smaller learning rate (cells in ascending lr order); none when no cell is eligible.
std::optional<std::size_t> best_cell(const std::vector<Cell>& cells);

/// What varies over a comparison; everything else comes from one base AsyncConfig.
struct CompareGrid {
  std::vector<AlgorithmSpec> algos;
  std::vector<double> lrs;           // ascending, for best_cell's ties
  std::vector<std::uint64_t> seeds;  // each: SgdConfig::seed, partition and initial parameters
  /// When > 0: about this many evaluations per epoch of samples, turned into
  /// SgdConfig::eval_every for each algorithm (a step takes 1, K or `workers` gradients), so
  /// that all curves get points at the same sample counts. 0: the base's eval_every.
  double evals_per_epoch = 0;
  double target = 0.8;  // test accuracy for the time, steps and epochs to target

  /// Throws ConfigError naming the first bad field: an empty list, an algorithm or seed listed
  /// twice, rates that are not finite and positive, not ascending or share a format_lr text,
  /// a target outside (0, 1], a negative or non-finite evals_per_epoch.
  void validate() const;
};

/// Checks the grid and every run's configuration (`base` with each algorithm and rate) without
/// any data: throws ConfigError naming the first bad field, also when grid.evals_per_epoch and
/// base.sgd.eval_every are both set. run_comparison checks this too.
void validate_comparison(const AsyncConfig& base, const CompareGrid& grid);

/// One run of a comparison, as the callbacks see it.
struct RunInfo {
  AlgorithmSpec algorithm;
  double lr = 0;
  std::uint64_t seed = 0;
  std::string name;        // run_name(algorithm, lr, seed)
  std::size_t number = 0;  // 1-based, in the order of the runs: algorithms, then rates, then seeds
  std::size_t total = 0;   // runs in the comparison
};

/// What the caller sees of a comparison as it goes; every callback may be empty. They run on
/// the calling thread; an exception thrown by one ends the comparison and propagates.
struct RunCallbacks {
  /// Once, when everything has been checked (configuration and each seed's partition), before
  /// the first run: the place to create output that a bad setting must not leave behind.
  std::function<void()> on_begin;
  std::function<void(const RunInfo&)> on_run_start;
  /// Every progress point of the run (evaluations and, with SgdConfig::tick_seconds, ticks).
  std::function<void(const RunInfo&, const Progress&)> on_progress;
  /// After each run, diverged or not, with its wall-clock seconds.
  std::function<void(const RunInfo&, const RunResult&, double seconds)> on_run_end;
};

struct CompareResult {
  std::vector<std::vector<Cell>> cells;          // [algorithm][lr], in the grid's order
  std::vector<std::optional<std::size_t>> best;  // per algorithm: best_cell of its cells
};

/// Trains one run of a comparison from `params` (initialised), calling `on_progress` with
/// its points, and returns its final point: train_async's part, or another backend's (the
/// CLI runs each run over MPI with dude::mpi::train, every rank the same sequence of runs).
using RunTrainer = std::function<Progress(const Objective& objective, const Subset& train,
                                          const Subset& test, const AsyncConfig& config,
                                          float* params, const ProgressCallback& on_progress)>;

/// Runs every algorithm x rate x seed of `grid` from `base` (base's algorithm, lr and seed are
/// replaced; so is its eval_every of 0 when grid.evals_per_epoch > 0), each with `trainer`
/// (empty: train_async). Each seed's runs start from Objective::init_params with that seed. A
/// run that throws TrainingDiverged is recorded as diverged; any other exception propagates.
/// Throws ConfigError before the first run on a bad configuration, an empty test set, or a
/// seed whose partition of `train` fails (see partition_rows).
CompareResult run_comparison(const Objective& objective, const Subset& train, const Subset& test,
                             const AsyncConfig& base, const CompareGrid& grid,
                             const RunCallbacks& callbacks, const RunTrainer& trainer = {});

}  // namespace dude
