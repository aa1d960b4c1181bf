// dude compare: several algorithms, one setting, a learning-rate grid and several seeds, run by
// dude::run_comparison (which says what makes the runs comparable and how each algorithm's
// learning rate is chosen). Here: the flags, one JSON Lines file per run, a summary of each
// algorithm at its own best learning rate, and optionally a plot (tools/plot_compare.py).
//
// The common budget is training samples over all workers (--epochs, the default) or time
// (--seconds, virtual in --deterministic mode).
//
// With --backend mpi, under mpirun -np N+1, every rank runs the same sequence of runs, each
// over MPI (dude::mpi::train: rank 0 the server, ranks 1..N the workers, each run dealing the
// rows by its own seed as --workers N does); only rank 0 writes and prints. Hogwild has no
// MPI form: it is left out of the default list there, and refused when named.
#include <spawn.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
#include "dude/async.hpp"
#include "dude/compare.hpp"
#include "dude/errors.hpp"
#include "dude/objective.hpp"
#include "dude/trainer.hpp"
#include "mpi_job.hpp"

extern char** environ;

namespace dude::cli {
namespace {

namespace fs = std::filesystem;

struct CompareFlags {
  TrainTestFlags io;
  std::uint64_t split_seed = 1;
  SgdFlags sgd{.schedule = "constant"};
  std::string algos;  // empty: the backend's default list
  EngineFlags engine;
  std::string backend = "threads";  // or mpi: each run over MPI, under mpirun
  std::string lrs = "0.005,0.01,0.02,0.05";
  std::string seeds = "0,1,2";
  double evals_per_epoch = 0;
  double target = 0.80;
  std::string out;
  bool plot = false;
  std::string plot_script;
  bool quiet = false;
};

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
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
      widths[i] = std::max(widths[i], width(row[i]));
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
    if (!fs::is_regular_file(given, ec))
      throw ConfigError("--plot-script '" + given + "': no such file");
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
  throw ConfigError(
      "--plot: cannot find plot_compare.py (looked beside the executable and in the "
      "source tree); name it with --plot-script PATH");
}

/// Runs `interpreter script outdir`; returns its exit status, or -1 if it could not start.
int run_script(const std::string& interpreter, const std::string& script,
               const std::string& outdir) {
  std::vector<std::string> args = {interpreter, script, outdir, "--quiet-if-missing"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, interpreter.c_str(), nullptr, nullptr, argv.data(), environ) != 0)
    return -1;
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

/// The algorithms compared when --algos is not given: every kind but the successors, over MPI
/// but hogwild, which has no MPI form.
std::string default_algos(const std::string& backend) {
  return backend == "mpi" ? "dude,asgd,fedbuff:4,sync" : "dude,asgd,fedbuff:4,sync,hogwild";
}

/// The grid of the flags; a bad list is an error naming its flag.
CompareGrid grid_of(const CompareFlags& f) {
  CompareGrid grid;
  const std::string algos = f.algos.empty() ? default_algos(f.backend) : f.algos;
  grid.algos = for_flag("--algos", [&] { return parse_algorithm_list(algos); });
  grid.lrs = for_flag("--lrs", [&] { return parse_lr_list(f.lrs); });
  grid.seeds = for_flag("--seeds", [&] { return parse_seed_list(f.seeds); });
  grid.evals_per_epoch = f.evals_per_epoch;
  grid.target = f.target;
  return grid;
}

/// The checks of the remaining flags that need neither the model nor the data.
void check_flags(const CompareFlags& f, const CompareGrid& grid) {
  if (f.out.empty()) throw ConfigError("--out: an output directory is required");
  // The lists come from their parsers: what the grid can still get wrong is the target.
  for_flag("--target", [&] { grid.validate(); });
  if (f.sgd.eval_every > 0 && f.evals_per_epoch > 0) {
    throw ConfigError("--eval-every and --evals-per-epoch: give at most one");
  }
  if (f.io.test.empty() && !(f.io.holdout > 0)) {
    throw ConfigError("--holdout: must be > 0 without --test (a comparison needs a test set)");
  }
}

/// What every run shares; run_comparison sets each run's algorithm, rate and seed. Over MPI
/// (`job`) the workers are the job's worker ranks.
AsyncConfig base_config(const CompareFlags& f, const MpiJob* job) {
  AsyncConfig base;
  apply_sgd_flags(f.sgd, base.sgd);
  base.sgd.tick_seconds = 0;
  EngineFlags engine = f.engine;
  if (job != nullptr) engine.workers = job->workers_for(f.engine.workers);
  apply_engine_flags(engine, base);
  return base;
}

/// Over MPI: every run of the grid must go over MPI (no hogwild, no --deterministic), checked
/// on every rank before any data is read; the library would refuse a run only as it starts,
/// after the runs before it. The messages are train's: they name the library's field.
void check_mpi_runs(const MpiJob& job, const AsyncConfig& base, const CompareGrid& grid) {
  for (const AlgorithmSpec& algo : grid.algos) {
    AsyncConfig config = base;
    config.algorithm = algo;
    job.check(config);
  }
}

/// What the summaries say about a comparison besides its cells.
struct Report {
  const CompareFlags& flags;
  const ModelSpec& spec;
  const AsyncConfig& base;
  const CompareGrid& grid;
  std::size_t train_rows;
  std::size_t test_rows;
  bool virtual_time;  // --deterministic: times are virtual
  const char* time_unit;
  std::string target_text;
  std::string setting;  // the line that opens each summary
};

/// The setting as one line: model, workers, partition, speeds, clock, budget, batch, schedule.
std::string setting_of(const CompareFlags& f, const ModelSpec& spec, const AsyncConfig& base) {
  const bool virtual_time = f.engine.deterministic;
  const std::string budget_text =
      base.sgd.epochs > 0
          ? fmt("%g epochs", base.sgd.epochs)
          : fmt(virtual_time ? "%g virtual time units" : "%g wall seconds", base.sgd.seconds);
  return spec.to_string() + ", " + std::to_string(base.workers) + " workers, " +
         base.partition.to_string() + ", slowdown " +
         (f.engine.slowdown.empty() ? std::string("1") : f.engine.slowdown) + ", " +
         (virtual_time ? "deterministic (compute time " + base.compute_time.to_string() + ")"
          : f.backend == "mpi" ? std::string("MPI, a rank per worker")
                               : std::string("threads")) +
         ", " + budget_text + ", batch " + std::to_string(f.sgd.batch) + ", schedule " +
         f.sgd.schedule;
}

Report report_of(const CompareFlags& f, const ModelSpec& spec, const AsyncConfig& base,
                 const CompareGrid& grid, const TrainTestData& d) {
  const bool virtual_time = f.engine.deterministic;
  return Report{f,
                spec,
                base,
                grid,
                d.train_rows.size(),
                d.test_rows.size(),
                virtual_time,
                virtual_time ? "virtual time" : "wall s",
                fmt("%g", grid.target),
                setting_of(f, spec, base)};
}

/// The progress line of a finished run.
void print_run(const RunInfo& run, const RunResult& r, double seconds, const char* time_unit) {
  if (r.diverged) {
    std::fprintf(stderr, "[%zu/%zu] %-10s lr %-6s seed %-3llu diverged (%.1f s): %s\n", run.number,
                 run.total, run.algorithm.to_string().c_str(), format_lr(run.lr).c_str(),
                 static_cast<unsigned long long>(run.seed), seconds, r.error.c_str());
  } else {
    std::fprintf(stderr,
                 "[%zu/%zu] %-10s lr %-6s seed %-3llu accuracy %.4f (best %.4f)  steps %llu  "
                 "%s %.1f  (%.1f s)\n",
                 run.number, run.total, run.algorithm.to_string().c_str(),
                 format_lr(run.lr).c_str(), static_cast<unsigned long long>(run.seed),
                 r.final_accuracy, r.best_accuracy, static_cast<unsigned long long>(r.final_steps),
                 time_unit, r.final_time, seconds);
  }
}

/// The output folder, the run files and the progress lines, through a comparison's callbacks:
/// the folder appears once the comparison has checked everything, each run's file when the run
/// is complete (runs/NAME.jsonl, a metrics record per evaluation and a marker after a
/// divergence).
class RunFiles {
 public:
  RunFiles(const Report& report, fs::path runs_dir)
      : report_(report), runs_dir_(std::move(runs_dir)) {}

  RunCallbacks callbacks() {
    RunCallbacks c;
    c.on_begin = [this] { begin(); };
    c.on_run_start = [this](const RunInfo& run) {
      file_.emplace((runs_dir_ / (run.name + ".jsonl")).string());
    };
    c.on_progress = [this](const RunInfo&, const Progress& p) {
      if (p.evaluation) std::fprintf(file_->stream(), "%s\n", metrics_record(p).dump().c_str());
    };
    c.on_run_end = [this](const RunInfo& run, const RunResult& r, double seconds) {
      end(run, r, seconds);
    };
    return c;
  }

 private:
  void begin() const {
    std::error_code ec;
    fs::create_directories(runs_dir_, ec);
    if (ec) throw Error(runs_dir_.string() + ": cannot create the directory: " + ec.message());
    if (report_.flags.quiet) return;
    const CompareGrid& grid = report_.grid;
    std::fprintf(stderr,
                 "compare: %s; %zu train rows, %zu test rows; %zu algorithms x %zu lrs x %zu "
                 "seeds\n",
                 report_.setting.c_str(), report_.train_rows, report_.test_rows, grid.algos.size(),
                 grid.lrs.size(), grid.seeds.size());
  }

  void end(const RunInfo& run, const RunResult& r, double seconds) {
    if (r.diverged) {
      const nlohmann::json marker = {{"diverged", true}, {"error", r.error}};
      std::fprintf(file_->stream(), "%s\n", marker.dump().c_str());
    }
    file_->commit();
    file_.reset();
    if (!report_.flags.quiet) print_run(run, r, seconds, report_.time_unit);
  }

  const Report& report_;
  fs::path runs_dir_;
  std::optional<AtomicOutput> file_;  // the file of the run under way
};

/// summary.csv: one row per (algorithm, lr); `best` marks each algorithm's chosen rate.
void write_csv(const fs::path& outdir, const CompareGrid& grid, const CompareResult& result) {
  AtomicOutput csv((outdir / "summary.csv").string());
  std::fprintf(csv.stream(),
               "algorithm,lr,best,seeds,diverged,final_accuracy_mean,final_accuracy_std,"
               "best_accuracy_mean,target,reached_target,time_to_target,steps_to_target,"
               "epochs_to_target,staleness_mean,staleness_max,arrivals_min,arrivals_max,"
               "final_time,final_steps,final_epochs\n");
  for (std::size_t a = 0; a < grid.algos.size(); ++a) {
    for (std::size_t l = 0; l < grid.lrs.size(); ++l) {
      const Cell& c = result.cells[a][l];
      std::fprintf(
          csv.stream(), "%s,%s,%d,%zu,%zu,%s,%s,%s,%g,%zu,%s,%s,%s,%s,%llu,%s,%s,%s,%s,%s\n",
          grid.algos[a].to_string().c_str(), format_lr(c.lr).c_str(), result.best[a] == l ? 1 : 0,
          c.seeds, c.diverged, fmt("%.6f", c.final_accuracy.mean).c_str(),
          fmt("%.6f", c.final_accuracy.std).c_str(), fmt("%.6f", c.best_accuracy).c_str(),
          grid.target, c.reached, fmt("%.6g", c.target_time).c_str(),
          fmt("%.6g", c.target_steps).c_str(), fmt("%.6g", c.target_epoch).c_str(),
          fmt("%.6g", c.staleness_mean).c_str(), static_cast<unsigned long long>(c.staleness_max),
          fmt("%.6g", c.arrivals_min).c_str(), fmt("%.6g", c.arrivals_max).c_str(),
          fmt("%.6g", c.final_time).c_str(), fmt("%.6g", c.final_steps).c_str(),
          fmt("%.6g", c.final_epoch).c_str());
    }
  }
  csv.commit();
}

/// The table of each algorithm at its best rate.
std::string best_table(const Report& report, const CompareResult& result) {
  const std::string& target = report.target_text;
  const std::vector<std::string> header = {"algorithm",
                                           "best lr",
                                           "final accuracy",
                                           "best accuracy",
                                           std::string(report.time_unit) + " to " + target,
                                           "server steps to " + target,
                                           "epochs to " + target,
                                           "staleness mean",
                                           "staleness max",
                                           "arrivals/worker"};
  std::vector<std::vector<std::string>> rows;
  for (std::size_t a = 0; a < report.grid.algos.size(); ++a) {
    const std::string name = report.grid.algos[a].to_string();
    if (!result.best[a]) {
      rows.push_back({name, "—", "diverged at every lr"});
      continue;
    }
    const Cell& c = result.cells[a][*result.best[a]];
    rows.push_back({name, format_lr(c.lr), accuracy_cell(c), fmt("%.4f", c.best_accuracy),
                    target_cell(c, c.target_time, report.virtual_time ? "%.1f" : "%.2f"),
                    target_cell(c, c.target_steps, "%.0f"), target_cell(c, c.target_epoch, "%.2f"),
                    fmt("%.2f", c.staleness_mean), std::to_string(c.staleness_max),
                    fmt("%.0f", c.arrivals_min) + ".." + fmt("%.0f", c.arrivals_max)});
  }
  return markdown_table(header, rows);
}

/// The table of the final accuracy of every (algorithm, lr), the best rates starred.
std::string grid_table(const CompareGrid& grid, const CompareResult& result) {
  std::vector<std::string> header = {"algorithm"};
  for (const double lr : grid.lrs) header.push_back("lr " + format_lr(lr));
  std::vector<std::vector<std::string>> rows;
  for (std::size_t a = 0; a < grid.algos.size(); ++a) {
    std::vector<std::string> row = {grid.algos[a].to_string()};
    for (std::size_t l = 0; l < grid.lrs.size(); ++l) {
      row.push_back(accuracy_cell(result.cells[a][l]) + (result.best[a] == l ? " *" : ""));
    }
    rows.push_back(std::move(row));
  }
  return markdown_table(header, rows);
}

/// summary.md: what was compared and how to read it, then both tables.
void write_markdown(const fs::path& outdir, const Report& report, const std::string& best,
                    const std::string& grid) {
  const CompareFlags& f = report.flags;
  std::string seeds_text;
  for (const std::uint64_t seed : report.grid.seeds) {
    seeds_text += (seeds_text.empty() ? "" : ",") + std::to_string(seed);
  }
  const std::string data_text =
      f.io.train + (f.io.test.empty() ? fmt(" (%g held out)", f.io.holdout) : " / " + f.io.test);
  AtomicOutput md((outdir / "summary.md").string());
  std::fprintf(
      md.stream(),
      "# dude compare: %s\n\n"
      "Data: %s. Seeds %s (mean ± sample std over seeds). Each algorithm at the learning "
      "rate of the grid with the highest mean final test accuracy. Target accuracy %s: "
      "mean over the seeds that reached it at an evaluation point (k/n when not all did, "
      "— when none did). Times are %s. Staleness: model delay τ in server steps, mean "
      "over every applied gradient, max over the run. Arrivals: gradients applied per "
      "worker, least..most.\n\n",
      report.setting.c_str(), data_text.c_str(), seeds_text.c_str(), report.target_text.c_str(),
      report.virtual_time ? "virtual (one unit: one unslowed gradient)" : "wall-clock seconds");
  std::fprintf(md.stream(), "%s\n## Final test accuracy over the grid (* best)\n\n%s", best.c_str(),
               grid.c_str());
  md.commit();
}

/// settings.json: the setting, field by field, for scripts (tools/plot_compare.py).
void write_settings(const fs::path& outdir, const Report& report) {
  const CompareFlags& f = report.flags;
  const AsyncConfig& base = report.base;
  nlohmann::json settings = {
      {"setting", report.setting},
      {"model", report.spec.to_string()},
      {"train", f.io.train},
      {"test", f.io.test},
      {"train_rows", report.train_rows},
      {"test_rows", report.test_rows},
      {"workers", base.workers},
      {"partition", base.partition.to_string()},
      {"slowdown", f.engine.slowdown.empty() ? std::string("1") : f.engine.slowdown},
      {"deterministic", f.engine.deterministic},
      {"backend", f.backend},
      {"compute_time", base.compute_time.to_string()},
      {"epochs", base.sgd.epochs},
      {"seconds", base.sgd.seconds},
      {"batch", f.sgd.batch},
      {"batch_order", f.sgd.batch_order},
      {"schedule", f.sgd.schedule},
      {"seeds", report.grid.seeds},
      {"target", report.grid.target},
  };
  std::vector<std::string> algo_names, lr_names;
  for (const AlgorithmSpec& algo : report.grid.algos) algo_names.push_back(algo.to_string());
  for (const double lr : report.grid.lrs) lr_names.push_back(format_lr(lr));
  settings["algos"] = algo_names;
  settings["lrs"] = lr_names;
  AtomicOutput json((outdir / "settings.json").string());
  std::fprintf(json.stream(), "%s\n", settings.dump(2).c_str());
  json.commit();
}

/// The summaries: summary.csv, summary.md, settings.json, and the tables on stdout.
void write_summaries(const fs::path& outdir, const Report& report, const CompareResult& result) {
  write_csv(outdir, report.grid, result);
  const std::string best = best_table(report, result);
  const std::string grid = grid_table(report.grid, result);
  write_markdown(outdir, report, best, grid);
  write_settings(outdir, report);
  std::printf("%s\n\n%s\nFinal test accuracy over the grid (* best):\n\n%s", report.setting.c_str(),
              best.c_str(), grid.c_str());
  std::fflush(stdout);
}

/// Each run with threads, or over MPI on this rank of `job`.
RunTrainer trainer_of(MpiJob* job) {
  if (job == nullptr) return {};
  return [job](const Objective& objective, const Subset& train, const Subset& test,
               const AsyncConfig& config, float* params, const ProgressCallback& on_progress) {
    return job->train_shared(objective, train, test, config, params, on_progress);
  };
}

/// The comparison, with threads (`job` null) or on this rank of an MPI job, where only rank 0
/// writes files and prints.
int run_compare(const CompareFlags& f, MpiJob* job) {
  // Every flag is checked before any data is read.
  const CompareGrid grid = grid_of(f);
  check_flags(f, grid);
  const ModelSpec spec = ModelSpec::parse(f.sgd.model);
  const AsyncConfig base = base_config(f, job);
  validate_comparison(base, grid);
  if (job != nullptr) check_mpi_runs(*job, base, grid);
  const std::string script = f.plot ? find_plot_script(f.plot_script) : std::string();

  const auto thread_limit = limit_threads(f.sgd.threads);

  // One split for every run (--split-seed), so that every run is tested on the same rows.
  const TrainTestData d = load_train_test(f.io, f.split_seed);
  if (d.test_rows.empty()) throw ConfigError("--holdout: leaves no test rows");
  const Objective objective(spec, d.train.features(), d.classes(), f.sgd.l2);
  const Subset train_set{&d.train, d.train_rows};
  const Subset test_set{&d.test, d.test_rows};

  const bool reports = job == nullptr || job->rank() == 0;
  const Report report = report_of(f, spec, base, grid, d);
  const fs::path outdir(f.out);
  RunFiles files(report, outdir / "runs");
  const auto start = std::chrono::steady_clock::now();
  const CompareResult result =
      run_comparison(objective, train_set, test_set, base, grid,
                     reports ? files.callbacks() : RunCallbacks{}, trainer_of(job));
  if (!reports) return kOk;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  write_summaries(outdir, report, result);
  if (!f.quiet) {
    std::fprintf(stderr, "compare: %zu runs in %.1f s; %s/summary.md, summary.csv, runs/\n",
                 grid.algos.size() * grid.lrs.size() * grid.seeds.size(), seconds, outdir.c_str());
  }
  if (f.plot) plot(script, outdir.string());
  return kOk;
}

int run_compare_on(const CompareFlags& f) {
  if (f.backend == "threads") return run_compare(f, nullptr);
  const std::unique_ptr<MpiJob> job = MpiJob::start();
  return job->run([&] { return run_compare(f, job.get()); });
}

}  // namespace

Command add_compare_command(CLI::App& app) {
  auto flags = std::make_shared<CompareFlags>();
  CompareFlags& f = *flags;
  CLI::App* cmd = app.add_subcommand(
      "compare", "Compare algorithms on one setting over a learning-rate grid and seeds");
  add_train_test_flags(*cmd, f.io);
  cmd->add_option("--split-seed", f.split_seed,
                  "Without --test: seed of the holdout split (one for all runs)")
      ->capture_default_str();
  add_sgd_flags(*cmd, f.sgd);
  cmd->add_option("--algos", f.algos,
                  "Algorithms to compare: dude, asgd, hogwild, sync, fedbuff:K, ringleader, "
                  "malenia[:S], asgd-da[:C] (default " +
                      default_algos("threads") + "; with --backend mpi " + default_algos("mpi") +
                      ")");
  add_engine_flags(*cmd, f.engine);
  cmd->add_option("--backend", f.backend,
                  "threads (one process) or mpi: under mpirun -np N+1 each run goes over MPI, "
                  "rank 0 the server and ranks 1..N the workers (no hogwild)")
      ->check(CLI::IsMember({"threads", "mpi"}))
      ->capture_default_str();
  auto* epochs = cmd->add_option("--epochs", f.sgd.epochs,
                                 "Budget of every run: training samples over all workers, in "
                                 "passes over the data (default 10)")
                     ->check(CLI::PositiveNumber);
  auto* seconds = cmd->add_option("--seconds", f.sgd.seconds,
                                  "Budget of every run: time (virtual with --deterministic)")
                      ->check(CLI::PositiveNumber);
  epochs->excludes(seconds);
  cmd->add_option("--lrs", f.lrs, "Learning-rate grid")->capture_default_str();
  cmd->add_option("--seeds", f.seeds,
                  "Seeds (initialisation, partition, minibatches, compute times)")
      ->capture_default_str();
  auto* every = cmd->add_option("--eval-every", f.sgd.eval_every,
                                "Evaluate every K server steps (default: once per epoch)")
                    ->check(CLI::PositiveNumber);
  auto* per_epoch = cmd->add_option("--evals-per-epoch", f.evals_per_epoch,
                                    "Evaluate about M times per epoch of samples (converted to "
                                    "server steps per algorithm)")
                        ->check(CLI::PositiveNumber);
  every->excludes(per_epoch);
  cmd->add_option("--target", f.target, "Target test accuracy for time and steps to target")
      ->capture_default_str();
  cmd->add_option("--out", f.out,
                  "Output directory: runs/*.jsonl, summary.md, summary.csv, settings.json")
      ->required();
  cmd->add_flag("--plot", f.plot,
                "Draw OUTDIR/compare.png with plot_compare.py (python3, matplotlib)");
  cmd->add_option("--plot-script", f.plot_script,
                  "Path of plot_compare.py (default: found beside dude)");
  cmd->add_flag("--quiet,-q", f.quiet, "No progress lines on stderr; only the summary on stdout");
  return {cmd, [flags] { return run_compare_on(*flags); }};
}

}  // namespace dude::cli
