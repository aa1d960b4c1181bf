// dude compare: several algorithms, one setting, a learning-rate grid and several seeds; one
// JSON Lines file per run, a summary of each algorithm at its own best learning rate, and
// optionally a plot (tools/plot_compare.py).
//
// Fairness: every run of a comparison gets the same training and test rows, the same
// partition for a given seed (the partition is seeded by the run's seed, and every algorithm
// runs every seed), the same worker speeds, and the same budget: training samples over all
// workers (--epochs, the default) or time (--seconds, virtual in --deterministic mode).
// Server steps are not a common budget: a sync step is a round of n gradients and a
// fedbuff:K step a flush of K.
//
// Each algorithm's learning rate is the one of the grid with the highest mean final test
// accuracy over the seeds (ties: the smaller rate); a rate at which any seed diverged is not
// eligible.
#include <spawn.h>
#include <sys/wait.h>

#include <tbb/global_control.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
#include "dude/async.hpp"
#include "dude/errors.hpp"
#include "dude/objective.hpp"
#include "dude/partition.hpp"
#include "dude/trainer.hpp"

extern char** environ;

namespace dude::cli {
namespace {

namespace fs = std::filesystem;

struct CompareFlags {
  TrainTestFlags io;
  std::uint64_t split_seed = 1;
  std::string model = "softmax";
  std::string algos = "dude,asgd,fedbuff:4,sync,hogwild";
  EngineFlags engine;
  double epochs = 0;
  double seconds = 0;
  std::string lrs = "0.005,0.01,0.02,0.05";
  std::string seeds = "0,1,2";
  std::string schedule = "constant";
  float lr_decay = 1.0f;
  std::size_t batch = 32;
  std::string batch_order = "shuffled";
  float l2 = 0.0f;
  std::uint64_t eval_every = 0;
  double evals_per_epoch = 0;
  double target = 0.80;
  std::string out;
  bool plot = false;
  std::string plot_script;
  unsigned threads = 0;
  bool quiet = false;
};

constexpr double kDefaultEpochs = 10;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------------------------
// Flag lists.

/// Splits "a,b,c" at commas; an empty item is an error naming the flag.
std::vector<std::string> split_list(const std::string& text, const std::string& flag) {
  std::vector<std::string> items;
  std::size_t begin = 0;
  while (true) {
    const std::size_t comma = std::min(text.find(',', begin), text.size());
    std::string item = text.substr(begin, comma - begin);
    const auto first = item.find_first_not_of(" \t");
    const auto last = item.find_last_not_of(" \t");
    item = first == std::string::npos ? std::string() : item.substr(first, last - first + 1);
    if (item.empty()) throw ConfigError(flag + " '" + text + "': empty item in the list");
    items.push_back(std::move(item));
    if (comma == text.size()) break;
    begin = comma + 1;
  }
  return items;
}

std::vector<AlgorithmSpec> parse_algos(const std::string& text) {
  std::vector<AlgorithmSpec> algos;
  std::vector<std::string> names;
  for (const std::string& item : split_list(text, "--algos")) {
    AlgorithmSpec spec;
    try {
      spec = AlgorithmSpec::parse(item);
    } catch (const ConfigError& e) {
      throw ConfigError("--algos '" + text + "': " + e.what());
    }
    const std::string name = spec.to_string();
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      throw ConfigError("--algos '" + text + "': " + name + " is listed twice");
    }
    names.push_back(name);
    algos.push_back(spec);
  }
  return algos;
}

/// The learning rate as it appears in file names and tables ("0.02").
std::string format_lr(double lr) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", lr);
  return text;
}

std::vector<double> parse_lrs(const std::string& text) {
  std::vector<double> lrs;
  for (const std::string& item : split_list(text, "--lrs")) {
    double lr = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), lr);
    if (ec != std::errc() || end != item.data() + item.size() || !std::isfinite(lr) || !(lr > 0) ||
        !std::isfinite(static_cast<float>(lr))) {
      throw ConfigError("--lrs '" + text + "': '" + item + "' is not a finite positive number");
    }
    for (const double seen : lrs) {
      if (format_lr(seen) == format_lr(lr)) {
        throw ConfigError("--lrs '" + text + "': " + format_lr(lr) + " is listed twice");
      }
    }
    lrs.push_back(lr);
  }
  std::sort(lrs.begin(), lrs.end());
  return lrs;
}

std::vector<std::uint64_t> parse_seeds(const std::string& text) {
  std::vector<std::uint64_t> seeds;
  for (const std::string& item : split_list(text, "--seeds")) {
    std::uint64_t seed = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), seed);
    if (ec != std::errc() || end != item.data() + item.size()) {
      throw ConfigError("--seeds '" + text + "': '" + item + "' is not a non-negative integer");
    }
    if (std::find(seeds.begin(), seeds.end(), seed) != seeds.end()) {
      throw ConfigError("--seeds '" + text + "': " + item + " is listed twice");
    }
    seeds.push_back(seed);
  }
  return seeds;
}

/// "fedbuff:4" -> "fedbuff-4": file names without colons.
std::string file_name_of(const AlgorithmSpec& algo) {
  std::string name = algo.to_string();
  std::replace(name.begin(), name.end(), ':', '-');
  return name;
}

// ---------------------------------------------------------------------------------------------
// Runs and their statistics.

/// What a run's evaluation points add up to.
struct RunResult {
  bool diverged = false;
  std::string error;
  double final_accuracy = kNaN;
  double best_accuracy = kNaN;
  double final_time = 0;
  std::uint64_t final_steps = 0;
  double final_epoch = 0;
  bool reached = false;  // the target accuracy at some evaluation point
  double target_time = 0;
  std::uint64_t target_steps = 0;
  double target_epoch = 0;
  double staleness_mean = 0;  // over every applied gradient of the run
  std::uint64_t staleness_max = 0;
  std::uint64_t arrivals_min = 0;
  std::uint64_t arrivals_max = 0;
};

/// Folds evaluation points into a RunResult as they come.
class RunTracker {
 public:
  explicit RunTracker(double target) : target_(target) {}

  void add(const Progress& p) {
    if (p.has_test) {
      if (!(r_.best_accuracy >= p.test_accuracy)) r_.best_accuracy = p.test_accuracy;
      if (!r_.reached && p.test_accuracy >= target_) {
        r_.reached = true;
        r_.target_time = p.wall_seconds;
        r_.target_steps = p.steps;
        r_.target_epoch = p.epoch;
      }
      r_.final_accuracy = p.test_accuracy;
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
    r_.staleness_mean = staleness_count_ > 0 ? staleness_sum_ / staleness_count_ : 0;
    r_.staleness_max = p.staleness_max;
    if (!p.arrivals.empty()) {
      const auto [lo, hi] = std::minmax_element(p.arrivals.begin(), p.arrivals.end());
      r_.arrivals_min = *lo;
      r_.arrivals_max = *hi;
    }
    r_.final_time = p.wall_seconds;
    r_.final_steps = p.steps;
    r_.final_epoch = p.epoch;
  }
  RunResult& result() { return r_; }

 private:
  double target_;
  RunResult r_;
  std::uint64_t arrivals_seen_ = 0;
  double staleness_sum_ = 0;
  double staleness_count_ = 0;
};

struct Stats {
  std::size_t n = 0;
  double mean = kNaN;
  double std = kNaN;  // sample standard deviation (n - 1); 0 for one value
};

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

/// One (algorithm, learning rate) over the seeds.
struct Cell {
  double lr = 0;
  std::size_t seeds = 0;
  std::size_t diverged = 0;
  Stats final_accuracy;  // over the runs that did not diverge
  double best_accuracy = kNaN;  // mean over seeds of each run's highest accuracy
  std::size_t reached = 0;
  double target_time = kNaN;  // means over the seeds that reached the target
  double target_steps = kNaN;
  double target_epoch = kNaN;
  double staleness_mean = kNaN;  // mean over seeds
  std::uint64_t staleness_max = 0;  // max over seeds
  double arrivals_min = kNaN;  // mean over seeds of each run's least arrivals of a worker
  double arrivals_max = kNaN;
  double final_time = kNaN;
  double final_steps = kNaN;
  double final_epoch = kNaN;

  bool eligible() const { return diverged == 0 && final_accuracy.n > 0; }
};

double mean_of(const std::vector<double>& values) { return stats_of(values).mean; }

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

/// Index of the best cell: highest mean final accuracy among eligible cells, ties to the
/// smaller learning rate (cells are in ascending lr order); none when no cell is eligible.
std::optional<std::size_t> best_cell(const std::vector<Cell>& cells) {
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (!cells[i].eligible()) continue;
    if (!best || cells[i].final_accuracy.mean > cells[*best].final_accuracy.mean) best = i;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Text output.

std::string fmt(const char* format, double value) {
  if (std::isnan(value)) return "";
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

/// A markdown table, columns padded so that it also reads well on a terminal.
std::string markdown_table(const std::vector<std::string>& header,
                           const std::vector<std::vector<std::string>>& rows) {
  // Width in characters, counting a UTF-8 sequence ("±", "—") as one.
  auto width = [](const std::string& s) {
    std::size_t w = 0;
    for (const unsigned char ch : s) w += (ch & 0xC0) != 0x80;
    return w;
  };
  std::vector<std::size_t> widths(header.size(), 3);
  for (std::size_t i = 0; i < header.size(); ++i) widths[i] = std::max(widths[i], width(header[i]));
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], width(row[i]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text = "|";
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : std::string();
      text += " " + cell + std::string(widths[i] - width(cell), ' ') + " |";
    }
    return text + "\n";
  };
  std::string text = line(header);
  text += "|";
  for (const std::size_t w : widths) text += " " + std::string(w, '-') + " |";
  text += "\n";
  for (const auto& row : rows) text += line(row);
  return text;
}

const char* const kNever = "—";

/// "value" when every seed reached the target, "value (k/n)" when some did, "—" when none.
std::string target_cell(const Cell& c, double value, const char* format) {
  if (c.reached == 0) return kNever;
  std::string text = fmt(format, value);
  const std::size_t runs = c.seeds - c.diverged;
  if (c.reached < runs) text += " (" + std::to_string(c.reached) + "/" + std::to_string(runs) + ")";
  return text;
}

std::string accuracy_cell(const Cell& c) {
  if (c.final_accuracy.n == 0) return "diverged";
  std::string text = fmt("%.4f", c.final_accuracy.mean) + " ± " + fmt("%.4f", c.final_accuracy.std);
  if (c.diverged > 0) {
    text += " (diverged " + std::to_string(c.diverged) + "/" + std::to_string(c.seeds) + ")";
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// The plot.

/// The plot script: --plot-script, else plot_compare.py beside the executable, else the
/// source tree's copy (DUDE_PLOT_SCRIPT, set by the build).
std::string find_plot_script(const std::string& given) {
  if (!given.empty()) {
    std::error_code ec;
    if (!fs::is_regular_file(given, ec)) throw ConfigError("--plot-script '" + given + "': no such file");
    return given;
  }
  std::vector<fs::path> candidates;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path() / "plot_compare.py");
    candidates.push_back(exe.parent_path() / ".." / "share" / "dude" / "plot_compare.py");
  }
#ifdef DUDE_PLOT_SCRIPT
  candidates.emplace_back(DUDE_PLOT_SCRIPT);
#endif
  for (const fs::path& p : candidates) {
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  throw ConfigError("--plot: cannot find plot_compare.py (looked beside the executable and in the "
                    "source tree); name it with --plot-script PATH");
}

/// Runs `interpreter script outdir`; returns its exit status, or -1 if it could not start.
int run_script(const std::string& interpreter, const std::string& script, const std::string& outdir) {
  std::vector<std::string> args = {interpreter, script, outdir, "--quiet-if-missing"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, interpreter.c_str(), nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/// Draws OUTDIR/compare.png. Tries python3 on the PATH, then Debian's /usr/bin/python3 (where
/// python3-matplotlib installs); exit status 3 from the script means matplotlib is missing.
/// Missing python3 or matplotlib is reported and is not an error: the data files stand.
void plot(const std::string& script, const std::string& outdir) {
  bool started = false;
  for (const char* interpreter : {"python3", "/usr/bin/python3"}) {
    const int status = run_script(interpreter, script, outdir);
    if (status == -1) continue;
    started = true;
    if (status == 0) {
      std::fprintf(stderr, "plot: %s\n", (fs::path(outdir) / "compare.png").c_str());
      return;
    }
    if (status == 3) continue;  // no matplotlib for this interpreter
    throw Error(script + ": exited with status " + std::to_string(status));
  }
  std::fprintf(stderr,
               "dude compare: no plot: %s (install python3-matplotlib, then run "
               "python3 %s %s); the data files are complete\n",
               started ? "python3 has no matplotlib" : "python3 not found", script.c_str(),
               outdir.c_str());
}

// ---------------------------------------------------------------------------------------------
// The comparison.

/// Server steps between evaluations that give about `per_epoch` points per epoch: a step
/// takes one gradient (dude, asgd, hogwild), K (fedbuff:K) or one per worker (sync).
std::uint64_t eval_steps_for(const AlgorithmSpec& algo, double per_epoch, std::size_t rows,
                             std::size_t batch, std::size_t workers) {
  double gradients_per_step = 1;
  if (algo.kind == AlgorithmSpec::Kind::FedBuff) gradients_per_step = algo.buffer;
  if (algo.kind == AlgorithmSpec::Kind::Sync) gradients_per_step = static_cast<double>(workers);
  const double steps = static_cast<double>(rows) / (per_epoch * gradients_per_step * static_cast<double>(batch));
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::llround(steps)));
}

int run_compare(const CompareFlags& f) {
  // Every flag is checked before any data is read.
  const std::vector<AlgorithmSpec> algos = parse_algos(f.algos);
  const std::vector<double> lrs = parse_lrs(f.lrs);
  const std::vector<std::uint64_t> seeds = parse_seeds(f.seeds);
  if (f.out.empty()) throw ConfigError("--out: an output directory is required");
  if (!(f.target > 0 && f.target <= 1)) throw ConfigError("--target: must be in (0, 1]");
  if (f.eval_every > 0 && f.evals_per_epoch > 0) {
    throw ConfigError("--eval-every and --evals-per-epoch: give at most one");
  }
  if (f.io.test.empty() && !(f.io.holdout > 0)) {
    throw ConfigError("--holdout: must be > 0 without --test (a comparison needs a test set)");
  }
  const ModelSpec spec = ModelSpec::parse(f.model);

  AsyncConfig base;
  base.sgd.batch = f.batch;
  base.sgd.batch_order = parse_batch_order(f.batch_order);
  base.sgd.epochs = f.epochs;
  base.sgd.seconds = f.seconds;
  if (f.epochs == 0 && f.seconds == 0) base.sgd.epochs = kDefaultEpochs;
  base.sgd.schedule = parse_schedule(f.schedule);
  base.sgd.lr_decay = f.lr_decay;
  base.sgd.eval_every = f.eval_every;
  base.sgd.tick_seconds = 0;
  apply_engine_flags(f.engine, base);
  for (const AlgorithmSpec& algo : algos) {
    for (const double lr : lrs) {
      AsyncConfig c = base;
      c.algorithm = algo;
      c.sgd.lr = static_cast<float>(lr);
      c.validate();
    }
  }
  const std::string script = f.plot ? find_plot_script(f.plot_script) : std::string();

  std::optional<tbb::global_control> thread_limit;
  if (f.threads > 0) thread_limit.emplace(tbb::global_control::max_allowed_parallelism, f.threads);

  // One split for every run (--split-seed), so that every run is tested on the same rows.
  const TrainTestData d = load_train_test(f.io, f.split_seed);
  if (d.test_rows.empty()) throw ConfigError("--holdout: leaves no test rows");
  const Dataset& train = d.train;
  const Dataset& test_data = d.test;
  const std::vector<std::uint32_t>& train_rows = d.train_rows;
  const std::vector<std::uint32_t>& test_rows = d.test_rows;
  const std::uint32_t classes = d.classes();
  const Objective objective(spec, train.features(), classes, f.l2);
  // The partition of each seed, checked now rather than after some runs.
  for (const std::uint64_t seed : seeds) {
    partition_rows(train, train_rows, base.workers, base.partition, seed);
  }
  const Subset train_set{&train, train_rows};
  const Subset test_set{&test_data, test_rows};

  const fs::path outdir(f.out);
  const fs::path runs_dir = outdir / "runs";
  {
    std::error_code ec;
    fs::create_directories(runs_dir, ec);
    if (ec) throw Error(runs_dir.string() + ": cannot create the directory: " + ec.message());
  }

  const bool virtual_time = f.engine.deterministic;
  const char* time_unit = virtual_time ? "virtual time" : "wall s";
  const std::string budget_text =
      base.sgd.epochs > 0 ? fmt("%g epochs", base.sgd.epochs)
                          : fmt(virtual_time ? "%g virtual time units" : "%g wall seconds", base.sgd.seconds);
  const std::string setting = spec.to_string() + ", " + std::to_string(base.workers) + " workers, " +
                              base.partition.to_string() + ", slowdown " +
                              (f.engine.slowdown.empty() ? std::string("1") : f.engine.slowdown) + ", " +
                              (virtual_time ? "deterministic (compute time " + base.compute_time.to_string() + ")"
                                            : std::string("threads")) +
                              ", " + budget_text + ", batch " + std::to_string(f.batch) + ", schedule " +
                              f.schedule;
  if (!f.quiet) {
    std::fprintf(stderr, "compare: %s; %zu train rows, %zu test rows; %zu algorithms x %zu lrs x %zu seeds\n",
                 setting.c_str(), train_rows.size(), test_rows.size(), algos.size(), lrs.size(),
                 seeds.size());
  }

  // results[a][l][s]
  std::vector<std::vector<std::vector<RunResult>>> results(
      algos.size(), std::vector<std::vector<RunResult>>(lrs.size()));
  std::vector<std::vector<float>> initial(seeds.size(), std::vector<float>(objective.num_params()));
  for (std::size_t s = 0; s < seeds.size(); ++s) objective.init_params(initial[s].data(), seeds[s]);

  const std::size_t total_runs = algos.size() * lrs.size() * seeds.size();
  std::size_t done = 0;
  const auto start_all = std::chrono::steady_clock::now();
  for (std::size_t a = 0; a < algos.size(); ++a) {
    for (std::size_t l = 0; l < lrs.size(); ++l) {
      for (std::size_t s = 0; s < seeds.size(); ++s) {
        AsyncConfig config = base;
        config.algorithm = algos[a];
        config.sgd.lr = static_cast<float>(lrs[l]);
        config.sgd.seed = seeds[s];
        if (f.evals_per_epoch > 0) {
          config.sgd.eval_every =
              eval_steps_for(algos[a], f.evals_per_epoch, train_rows.size(), f.batch, base.workers);
        }
        const std::string name = file_name_of(algos[a]) + "_lr" + format_lr(lrs[l]) + "_seed" +
                                 std::to_string(seeds[s]) + ".jsonl";
        AtomicOutput file((runs_dir / name).string());
        RunTracker tracker(f.target);
        const auto on_progress = [&](const Progress& p) {
          if (!p.evaluation) return;
          std::fprintf(file.stream(), "%s\n", metrics_record(p).dump().c_str());
          tracker.add(p);
        };
        std::vector<float> params = initial[s];
        const auto start_run = std::chrono::steady_clock::now();
        try {
          train_async(objective, train_set, &test_set, config, params.data(), on_progress);
        } catch (const TrainingDiverged& e) {
          // Divergence at too large a learning rate is a result, not a failure of the comparison.
          RunResult& r = tracker.result();
          r.diverged = true;
          r.error = e.what();
          const nlohmann::json marker = {{"diverged", true}, {"error", r.error}};
          std::fprintf(file.stream(), "%s\n", marker.dump().c_str());
        }
        file.commit();
        results[a][l].push_back(tracker.result());
        ++done;
        if (!f.quiet) {
          const RunResult& r = tracker.result();
          const double seconds =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start_run).count();
          if (r.diverged) {
            std::fprintf(stderr, "[%zu/%zu] %-10s lr %-6s seed %-3llu diverged (%.1f s): %s\n", done,
                         total_runs, algos[a].to_string().c_str(), format_lr(lrs[l]).c_str(),
                         static_cast<unsigned long long>(seeds[s]), seconds, r.error.c_str());
          } else {
            std::fprintf(stderr,
                         "[%zu/%zu] %-10s lr %-6s seed %-3llu accuracy %.4f (best %.4f)  steps %llu  "
                         "%s %.1f  (%.1f s)\n",
                         done, total_runs, algos[a].to_string().c_str(), format_lr(lrs[l]).c_str(),
                         static_cast<unsigned long long>(seeds[s]), r.final_accuracy, r.best_accuracy,
                         static_cast<unsigned long long>(r.final_steps), time_unit, r.final_time,
                         seconds);
          }
        }
      }
    }
  }
  const double total_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_all).count();

  // Cells and each algorithm's best learning rate.
  std::vector<std::vector<Cell>> cells(algos.size());
  std::vector<std::optional<std::size_t>> best(algos.size());
  for (std::size_t a = 0; a < algos.size(); ++a) {
    for (std::size_t l = 0; l < lrs.size(); ++l) cells[a].push_back(summarise(lrs[l], results[a][l]));
    best[a] = best_cell(cells[a]);
  }

  // summary.csv: one row per (algorithm, lr); `best` marks each algorithm's chosen rate.
  {
    AtomicOutput csv((outdir / "summary.csv").string());
    std::fprintf(csv.stream(),
                 "algorithm,lr,best,seeds,diverged,final_accuracy_mean,final_accuracy_std,"
                 "best_accuracy_mean,target,reached_target,time_to_target,steps_to_target,"
                 "epochs_to_target,staleness_mean,staleness_max,arrivals_min,arrivals_max,"
                 "final_time,final_steps,final_epochs\n");
    for (std::size_t a = 0; a < algos.size(); ++a) {
      for (std::size_t l = 0; l < lrs.size(); ++l) {
        const Cell& c = cells[a][l];
        std::fprintf(csv.stream(), "%s,%s,%d,%zu,%zu,%s,%s,%s,%g,%zu,%s,%s,%s,%s,%llu,%s,%s,%s,%s,%s\n",
                     algos[a].to_string().c_str(), format_lr(c.lr).c_str(), best[a] == l ? 1 : 0,
                     c.seeds, c.diverged, fmt("%.6f", c.final_accuracy.mean).c_str(),
                     fmt("%.6f", c.final_accuracy.std).c_str(), fmt("%.6f", c.best_accuracy).c_str(),
                     f.target, c.reached, fmt("%.6g", c.target_time).c_str(),
                     fmt("%.6g", c.target_steps).c_str(), fmt("%.6g", c.target_epoch).c_str(),
                     fmt("%.6g", c.staleness_mean).c_str(),
                     static_cast<unsigned long long>(c.staleness_max), fmt("%.6g", c.arrivals_min).c_str(),
                     fmt("%.6g", c.arrivals_max).c_str(), fmt("%.6g", c.final_time).c_str(),
                     fmt("%.6g", c.final_steps).c_str(), fmt("%.6g", c.final_epoch).c_str());
      }
    }
    csv.commit();
  }

  // The tables: each algorithm at its best rate, and the grid.
  const std::string target_text = fmt("%g", f.target);
  std::vector<std::string> header = {"algorithm", "best lr", "final accuracy", "best accuracy",
                                     std::string(time_unit) + " to " + target_text,
                                     "server steps to " + target_text, "epochs to " + target_text,
                                     "staleness mean", "staleness max", "arrivals/worker"};
  std::vector<std::vector<std::string>> rows;
  for (std::size_t a = 0; a < algos.size(); ++a) {
    if (!best[a]) {
      rows.push_back({algos[a].to_string(), "—", "diverged at every lr"});
      continue;
    }
    const Cell& c = cells[a][*best[a]];
    rows.push_back({algos[a].to_string(), format_lr(c.lr), accuracy_cell(c), fmt("%.4f", c.best_accuracy),
                    target_cell(c, c.target_time, virtual_time ? "%.1f" : "%.2f"),
                    target_cell(c, c.target_steps, "%.0f"),
                    target_cell(c, c.target_epoch, "%.2f"), fmt("%.2f", c.staleness_mean),
                    std::to_string(c.staleness_max),
                    fmt("%.0f", c.arrivals_min) + ".." + fmt("%.0f", c.arrivals_max)});
  }
  const std::string best_table = markdown_table(header, rows);

  std::vector<std::string> grid_header = {"algorithm"};
  for (const double lr : lrs) grid_header.push_back("lr " + format_lr(lr));
  std::vector<std::vector<std::string>> grid_rows;
  for (std::size_t a = 0; a < algos.size(); ++a) {
    std::vector<std::string> row = {algos[a].to_string()};
    for (std::size_t l = 0; l < lrs.size(); ++l) {
      row.push_back(accuracy_cell(cells[a][l]) + (best[a] == l ? " *" : ""));
    }
    grid_rows.push_back(std::move(row));
  }
  const std::string grid_table = markdown_table(grid_header, grid_rows);

  std::string seeds_text;
  for (const std::uint64_t seed : seeds) seeds_text += (seeds_text.empty() ? "" : ",") + std::to_string(seed);
  const std::string data_text = f.io.train + (f.io.test.empty() ? fmt(" (%g held out)", f.io.holdout) : " / " + f.io.test);
  {
    AtomicOutput md((outdir / "summary.md").string());
    std::fprintf(md.stream(),
                 "# dude compare: %s\n\n"
                 "Data: %s. Seeds %s (mean ± sample std over seeds). Each algorithm at the learning "
                 "rate of the grid with the highest mean final test accuracy. Target accuracy %s: "
                 "mean over the seeds that reached it at an evaluation point (k/n when not all did, "
                 "— when none did). Times are %s. Staleness: model delay τ in server steps, mean "
                 "over every applied gradient, max over the run. Arrivals: gradients applied per "
                 "worker, least..most.\n\n",
                 setting.c_str(), data_text.c_str(), seeds_text.c_str(), target_text.c_str(),
                 virtual_time ? "virtual (one unit: one unslowed gradient)" : "wall-clock seconds");
    std::fprintf(md.stream(), "%s\n## Final test accuracy over the grid (* best)\n\n%s", best_table.c_str(),
                 grid_table.c_str());
    md.commit();
  }
  {
    nlohmann::json settings = {
        {"setting", setting},
        {"model", spec.to_string()},
        {"train", f.io.train},
        {"test", f.io.test},
        {"train_rows", train_rows.size()},
        {"test_rows", test_rows.size()},
        {"workers", base.workers},
        {"partition", base.partition.to_string()},
        {"slowdown", f.engine.slowdown.empty() ? std::string("1") : f.engine.slowdown},
        {"deterministic", f.engine.deterministic},
        {"compute_time", base.compute_time.to_string()},
        {"epochs", base.sgd.epochs},
        {"seconds", base.sgd.seconds},
        {"batch", f.batch},
        {"batch_order", f.batch_order},
        {"schedule", f.schedule},
        {"seeds", seeds},
        {"target", f.target},
    };
    std::vector<std::string> algo_names, lr_names;
    for (const AlgorithmSpec& algo : algos) algo_names.push_back(algo.to_string());
    for (const double lr : lrs) lr_names.push_back(format_lr(lr));
    settings["algos"] = algo_names;
    settings["lrs"] = lr_names;
    AtomicOutput json((outdir / "settings.json").string());
    std::fprintf(json.stream(), "%s\n", settings.dump(2).c_str());
    json.commit();
  }

  std::printf("%s\n\n%s\nFinal test accuracy over the grid (* best):\n\n%s", setting.c_str(),
              best_table.c_str(), grid_table.c_str());
  std::fflush(stdout);
  if (!f.quiet) {
    std::fprintf(stderr, "compare: %zu runs in %.1f s; %s/summary.md, summary.csv, runs/\n", total_runs,
                 total_seconds, outdir.c_str());
  }
  if (f.plot) plot(script, outdir.string());
  return kOk;
}

}  // namespace

Command add_compare_command(CLI::App& app) {
  auto flags = std::make_shared<CompareFlags>();
  CompareFlags& f = *flags;
  CLI::App* cmd = app.add_subcommand(
      "compare", "Compare algorithms on one setting over a learning-rate grid and seeds");
  add_train_test_flags(*cmd, f.io);
  cmd->add_option("--split-seed", f.split_seed, "Without --test: seed of the holdout split (one for all runs)")
      ->capture_default_str();
  cmd->add_option("--model", f.model, "Model: logreg, softmax or mlp:W1[,W2...]")->capture_default_str();
  cmd->add_option("--algos", f.algos, "Algorithms to compare: dude, asgd, hogwild, sync, fedbuff:K")
      ->capture_default_str();
  add_engine_flags(*cmd, f.engine);
  auto* epochs = cmd->add_option("--epochs", f.epochs,
                                 "Budget of every run: training samples over all workers, in "
                                 "passes over the data (default 10)")
                     ->check(CLI::PositiveNumber);
  auto* seconds = cmd->add_option("--seconds", f.seconds,
                                  "Budget of every run: time (virtual with --deterministic)")
                      ->check(CLI::PositiveNumber);
  epochs->excludes(seconds);
  cmd->add_option("--lrs", f.lrs, "Learning-rate grid")->capture_default_str();
  cmd->add_option("--seeds", f.seeds, "Seeds (initialisation, partition, minibatches, compute times)")
      ->capture_default_str();
  add_schedule_flags(*cmd, f.schedule, f.lr_decay);
  cmd->add_option("--batch", f.batch, "Minibatch size per worker")->check(CLI::Range(1, 1 << 20))->capture_default_str();
  add_batch_order_flag(*cmd, f.batch_order);
  cmd->add_option("--l2", f.l2, "L2 regularisation of the weights")->check(CLI::NonNegativeNumber)->capture_default_str();
  auto* every = cmd->add_option("--eval-every", f.eval_every,
                                "Evaluate every K server steps (default: once per epoch)")
                    ->check(CLI::PositiveNumber);
  auto* per_epoch = cmd->add_option("--evals-per-epoch", f.evals_per_epoch,
                                    "Evaluate about M times per epoch of samples (converted to "
                                    "server steps per algorithm)")
                        ->check(CLI::PositiveNumber);
  every->excludes(per_epoch);
  cmd->add_option("--target", f.target, "Target test accuracy for time and steps to target")
      ->capture_default_str();
  cmd->add_option("--out", f.out, "Output directory: runs/*.jsonl, summary.md, summary.csv, settings.json")
      ->required();
  cmd->add_flag("--plot", f.plot, "Draw OUTDIR/compare.png with plot_compare.py (python3, matplotlib)");
  cmd->add_option("--plot-script", f.plot_script, "Path of plot_compare.py (default: found beside dude)");
  cmd->add_option("--threads", f.threads, "Threads for loading and evaluation (default: all cores)");
  cmd->add_flag("--quiet,-q", f.quiet, "No progress lines on stderr; only the summary on stdout");
  return {cmd, [flags] { return run_compare(*flags); }};
}

}  // namespace dude::cli
