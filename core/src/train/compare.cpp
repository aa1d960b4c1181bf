// run_comparison and its pieces: the grid's lists, the statistics of runs and cells, and the
// runner that trains every algorithm x rate x seed on the same data.
#include "dude/compare.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <utility>

#include "common/parse_text.hpp"
#include "dude/errors.hpp"
#include "dude/partition.hpp"

namespace dude {
namespace {

/// Why a comparison takes no sgd: its runs have no workers, and its time is the wall clock
/// even in a replayed comparison, so no column would compare.
constexpr const char* kNoSgd =
    "sgd is the single-thread trainer: it has no workers and no virtual clock; run it with "
    "dude train";

ConfigError list_error(std::string_view field, std::string_view text, const std::string& why) {
  return ConfigError(std::string(field) + " '" + std::string(text) + "': " + why);
}

/// The items of the list `text` for `field`; an empty item (so an empty list too) is an error,
/// reported before any item is read.
std::vector<std::string_view> items_of(std::string_view field, std::string_view text) {
  std::vector<std::string_view> items = detail::split_commas(text);
  for (const std::string_view item : items) {
    if (item.empty()) throw list_error(field, text, "empty item in the list");
  }
  return items;
}

/// A rate the trainer can use: finite and positive as a double and as the float it becomes.
bool usable_lr(double lr) {
  return lr > 0 && std::isfinite(lr) && std::isfinite(static_cast<float>(lr));
}

/// The first text of `text_of(value)` that an earlier value already had, if any.
template <class T, class TextOf>
std::optional<std::string> first_repeat(const std::vector<T>& values, TextOf text_of) {
  std::vector<std::string> seen;
  for (const T& value : values) {
    std::string text = text_of(value);
    if (std::find(seen.begin(), seen.end(), text) != seen.end()) return text;
    seen.push_back(std::move(text));
  }
  return std::nullopt;
}

/// "fedbuff:4" -> "fedbuff-4": names without colons.
std::string file_name_of(const AlgorithmSpec& algo) {
  std::string name = algo.to_string();
  std::replace(name.begin(), name.end(), ':', '-');
  return name;
}

double mean_of(const std::vector<double>& values) { return stats_of(values).mean; }

/// Server steps between evaluations that give about `per_epoch` points per epoch: a step
/// takes one gradient (dude, asgd, hogwild), K (fedbuff:K) or one per worker (sync).
std::uint64_t eval_steps_for(const AlgorithmSpec& algo, double per_epoch, std::size_t rows,
                             std::size_t batch, std::size_t workers) {
  double gradients_per_step = 1;
  if (algo.kind == AlgorithmSpec::Kind::FedBuff) gradients_per_step = algo.buffer;
  if (algo.kind == AlgorithmSpec::Kind::Sync) gradients_per_step = static_cast<double>(workers);
  const double steps =
      static_cast<double>(rows) / (per_epoch * gradients_per_step * static_cast<double>(batch));
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::llround(steps)));
}

/// The configuration of one run: `base` with the run's algorithm, rate and seed.
AsyncConfig run_config(const AsyncConfig& base, const CompareGrid& grid, std::size_t train_rows,
                       const AlgorithmSpec& algo, double lr, std::uint64_t seed) {
  AsyncConfig config = base;
  config.algorithm = algo;
  config.sgd.lr = static_cast<float>(lr);
  config.sgd.seed = seed;
  if (grid.evals_per_epoch > 0) {
    config.sgd.eval_every =
        eval_steps_for(algo, grid.evals_per_epoch, train_rows, base.sgd.batch, base.workers);
  }
  return config;
}

/// What needs the data: a test set, and a partition for every seed (checked now rather than
/// after some runs).
void check_data(const Subset& train, const Subset& test, const AsyncConfig& base,
                const CompareGrid& grid) {
  if (train.data == nullptr) throw ConfigError("train: no data set");
  if (test.data == nullptr || test.rows.empty()) {
    throw ConfigError("test: a comparison needs test rows");
  }
  for (const std::uint64_t seed : grid.seeds) {
    partition_rows(*train.data, train.rows, base.workers, base.partition, seed);
  }
}

/// Trains the runs of a comparison one after the other and reports each to the callbacks.
class Runner {
 public:
  Runner(const Objective& objective, const Subset& train, const Subset& test,
         const CompareGrid& grid, const RunCallbacks& callbacks, const RunTrainer& trainer)
      : objective_(objective),
        train_(train),
        test_(test),
        grid_(grid),
        callbacks_(callbacks),
        trainer_(trainer) {}

  /// One run from `params` (the seed's initial parameters, copied).
  RunResult run(const AsyncConfig& config, std::vector<float> params, const RunInfo& info) const {
    if (callbacks_.on_run_start) callbacks_.on_run_start(info);
    RunTracker tracker(grid_.target);
    const auto on_progress = [&](const Progress& p) {
      if (callbacks_.on_progress) callbacks_.on_progress(info, p);
      tracker.add(p);
    };
    const auto start = std::chrono::steady_clock::now();
    try {
      if (trainer_) {
        trainer_(objective_, train_, test_, config, params.data(), on_progress);
      } else {
        train_async(objective_, train_, &test_, config, params.data(), on_progress);
      }
    } catch (const TrainingDiverged& e) {
      // Divergence at too large a learning rate is a result, not a failure of the comparison.
      tracker.mark_diverged(e.what());
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (callbacks_.on_run_end) callbacks_.on_run_end(info, tracker.result(), seconds);
    return tracker.result();
  }

 private:
  const Objective& objective_;
  const Subset& train_;
  const Subset& test_;
  const CompareGrid& grid_;
  const RunCallbacks& callbacks_;
  const RunTrainer& trainer_;
};

}  // namespace

std::vector<AlgorithmSpec> parse_algorithm_list(std::string_view text) {
  std::vector<AlgorithmSpec> algos;
  for (const std::string_view item : items_of("algos", text)) {
    AlgorithmSpec spec;
    try {
      spec = AlgorithmSpec::parse(item);
    } catch (const ConfigError& e) {
      throw list_error("algos", text, e.what());
    }
    if (spec.kind == AlgorithmSpec::Kind::Sgd) throw list_error("algos", text, kNoSgd);
    const std::string name = spec.to_string();
    for (const AlgorithmSpec& seen : algos) {
      if (seen.to_string() == name) throw list_error("algos", text, name + " is listed twice");
    }
    algos.push_back(spec);
  }
  return algos;
}

std::vector<double> parse_lr_list(std::string_view text) {
  std::vector<double> lrs;
  for (const std::string_view item : items_of("lrs", text)) {
    const std::optional<double> lr = detail::parse_whole<double>(item);
    if (!lr || !usable_lr(*lr)) {
      throw list_error("lrs", text, "'" + std::string(item) + "' is not a finite positive number");
    }
    for (const double seen : lrs) {
      if (format_lr(seen) == format_lr(*lr)) {
        throw list_error("lrs", text, format_lr(*lr) + " is listed twice");
      }
    }
    lrs.push_back(*lr);
  }
  std::sort(lrs.begin(), lrs.end());
  return lrs;
}

std::vector<std::uint64_t> parse_seed_list(std::string_view text) {
  std::vector<std::uint64_t> seeds;
  for (const std::string_view item : items_of("seeds", text)) {
    const std::optional<std::uint64_t> seed = detail::parse_whole<std::uint64_t>(item);
    if (!seed) {
      throw list_error("seeds", text, "'" + std::string(item) + "' is not a non-negative integer");
    }
    if (std::find(seeds.begin(), seeds.end(), *seed) != seeds.end()) {
      throw list_error("seeds", text, std::string(item) + " is listed twice");
    }
    seeds.push_back(*seed);
  }
  return seeds;
}

std::string format_lr(double lr) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", lr);
  return text;
}

std::string run_name(const AlgorithmSpec& algorithm, double lr, std::uint64_t seed) {
  return file_name_of(algorithm) + "_lr" + format_lr(lr) + "_seed" + std::to_string(seed);
}

void RunTracker::add(const Progress& p) {
  if (!p.evaluation) return;
  RunResult& r = result_;
  if (p.has_test) {
    if (!(r.best_accuracy >= p.test_accuracy)) r.best_accuracy = p.test_accuracy;
    if (!r.reached && p.test_accuracy >= target_) {
      r.reached = true;
      r.target_time = p.wall_seconds;
      r.target_steps = p.steps;
      r.target_epoch = p.epoch;
    }
    r.final_accuracy = p.test_accuracy;
  }
  // The point's staleness is the mean over the gradients applied since the previous point:
  // weigh it by their count to get the run's mean.
  std::uint64_t total = 0;
  for (const std::uint64_t a : p.arrivals) total += a;
  if (total > arrivals_seen_) {
    const double window = static_cast<double>(total - arrivals_seen_);
    staleness_sum_ += p.staleness_mean * window;
    staleness_count_ += window;
    arrivals_seen_ = total;
  }
  r.staleness_mean = staleness_count_ > 0 ? staleness_sum_ / staleness_count_ : 0;
  r.staleness_max = p.staleness_max;
  if (!p.arrivals.empty()) {
    const auto [lo, hi] = std::minmax_element(p.arrivals.begin(), p.arrivals.end());
    r.arrivals_min = *lo;
    r.arrivals_max = *hi;
  }
  r.final_time = p.wall_seconds;
  r.final_steps = p.steps;
  r.final_epoch = p.epoch;
}

void RunTracker::mark_diverged(std::string error) {
  result_.diverged = true;
  result_.error = std::move(error);
}

Stats stats_of(const std::vector<double>& values) {
  Stats s;
  s.n = values.size();
  if (values.empty()) return s;
  double sum = 0;
  for (const double v : values) sum += v;
  s.mean = sum / static_cast<double>(values.size());
  double squares = 0;
  for (const double v : values) squares += (v - s.mean) * (v - s.mean);
  s.std = values.size() > 1 ? std::sqrt(squares / static_cast<double>(values.size() - 1)) : 0.0;
  return s;
}

Cell summarise(double lr, const std::vector<RunResult>& runs) {
  Cell c;
  c.lr = lr;
  c.seeds = runs.size();
  std::vector<double> acc, best, time, steps, epoch, tau, lo, hi, ftime, fsteps, fepoch;
  for (const RunResult& r : runs) {
    if (r.diverged) {
      ++c.diverged;
      continue;
    }
    acc.push_back(r.final_accuracy);
    best.push_back(r.best_accuracy);
    if (r.reached) {
      ++c.reached;
      time.push_back(r.target_time);
      steps.push_back(static_cast<double>(r.target_steps));
      epoch.push_back(r.target_epoch);
    }
    tau.push_back(r.staleness_mean);
    c.staleness_max = std::max(c.staleness_max, r.staleness_max);
    lo.push_back(static_cast<double>(r.arrivals_min));
    hi.push_back(static_cast<double>(r.arrivals_max));
    ftime.push_back(r.final_time);
    fsteps.push_back(static_cast<double>(r.final_steps));
    fepoch.push_back(r.final_epoch);
  }
  c.final_accuracy = stats_of(acc);
  c.best_accuracy = mean_of(best);
  c.target_time = mean_of(time);
  c.target_steps = mean_of(steps);
  c.target_epoch = mean_of(epoch);
  c.staleness_mean = mean_of(tau);
  c.arrivals_min = mean_of(lo);
  c.arrivals_max = mean_of(hi);
  c.final_time = mean_of(ftime);
  c.final_steps = mean_of(fsteps);
  c.final_epoch = mean_of(fepoch);
  return c;
}

std::optional<std::size_t> best_cell(const std::vector<Cell>& cells) {
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (!cells[i].eligible()) continue;
    if (!best || cells[i].final_accuracy.mean > cells[*best].final_accuracy.mean) best = i;
  }
  return best;
}

void CompareGrid::validate() const {
  if (algos.empty()) throw ConfigError("algos: none given");
  for (const AlgorithmSpec& algo : algos) {
    if (algo.kind == AlgorithmSpec::Kind::Sgd) throw ConfigError(std::string("algos: ") + kNoSgd);
  }
  if (const auto name = first_repeat(algos, [](const AlgorithmSpec& a) { return a.to_string(); })) {
    throw ConfigError("algos: " + *name + " is listed twice");
  }
  if (lrs.empty()) throw ConfigError("lrs: none given");
  for (const double lr : lrs) {
    if (!usable_lr(lr)) {
      throw ConfigError("lrs: " + format_lr(lr) + " is not a finite positive number");
    }
  }
  if (!std::is_sorted(lrs.begin(), lrs.end())) throw ConfigError("lrs: must be in ascending order");
  if (const auto text = first_repeat(lrs, format_lr)) {
    throw ConfigError("lrs: " + *text + " is listed twice");
  }
  if (seeds.empty()) throw ConfigError("seeds: none given");
  if (const auto text = first_repeat(seeds, [](std::uint64_t s) { return std::to_string(s); })) {
    throw ConfigError("seeds: " + *text + " is listed twice");
  }
  if (!(target > 0 && target <= 1)) throw ConfigError("target: must be in (0, 1]");
  if (!(evals_per_epoch >= 0) || !std::isfinite(evals_per_epoch)) {
    throw ConfigError("evals_per_epoch: must be finite and >= 0");
  }
}

void validate_comparison(const AsyncConfig& base, const CompareGrid& grid) {
  grid.validate();
  if (grid.evals_per_epoch > 0 && base.sgd.eval_every > 0) {
    throw ConfigError("evals_per_epoch: replaces sgd.eval_every, which must then be 0");
  }
  for (const AlgorithmSpec& algo : grid.algos) {
    for (const double lr : grid.lrs) {
      AsyncConfig config = base;
      config.algorithm = algo;
      config.sgd.lr = static_cast<float>(lr);
      config.validate();
    }
  }
}

CompareResult run_comparison(const Objective& objective, const Subset& train, const Subset& test,
                             const AsyncConfig& base, const CompareGrid& grid,
                             const RunCallbacks& callbacks, const RunTrainer& trainer) {
  validate_comparison(base, grid);
  check_data(train, test, base, grid);
  if (callbacks.on_begin) callbacks.on_begin();
  std::vector<std::vector<float>> initial(grid.seeds.size(),
                                          std::vector<float>(objective.num_params()));
  for (std::size_t s = 0; s < grid.seeds.size(); ++s) {
    objective.init_params(initial[s].data(), grid.seeds[s]);
  }
  const Runner runner(objective, train, test, grid, callbacks, trainer);
  const std::size_t total = grid.algos.size() * grid.lrs.size() * grid.seeds.size();
  std::size_t number = 0;
  CompareResult result;
  for (const AlgorithmSpec& algo : grid.algos) {
    std::vector<Cell>& cells = result.cells.emplace_back();
    for (const double lr : grid.lrs) {
      std::vector<RunResult> runs;
      for (std::size_t s = 0; s < grid.seeds.size(); ++s) {
        const std::uint64_t seed = grid.seeds[s];
        const RunInfo info{algo, lr, seed, run_name(algo, lr, seed), ++number, total};
        const AsyncConfig config = run_config(base, grid, train.rows.size(), algo, lr, seed);
        runs.push_back(runner.run(config, initial[s], info));
      }
      cells.push_back(summarise(lr, runs));
    }
    result.best.push_back(best_cell(cells));
  }
  return result;
}

}  // namespace dude
