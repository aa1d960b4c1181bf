// dude train: load data, train a model, report progress and the final test accuracy.
#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>

#include "cli_common.hpp"
#include "commands.hpp"
#include "dude/async.hpp"
#include "dude/checkpoint.hpp"
#include "dude/errors.hpp"
#include "dude/model.hpp"
#include "dude/partition.hpp"
#include "dude/trainer.hpp"
#include "mpi_job.hpp"
#include "stop_signals.hpp"

namespace dude::cli {
namespace {

struct TrainFlags {
  TrainTestFlags io;
  SgdFlags sgd{.schedule = "cosine"};
  std::optional<float> lr;  // default: dude::default_learning_rate
  std::uint64_t seed = 1;
  std::string out;
  std::string metrics;
  std::string checkpoint;        // --checkpoint FILE
  std::string checkpoint_every;  // N (server steps) or Ts (seconds)
  std::string resume;            // --resume FILE
  bool quiet = false;
  bool verbose = false;
  bool keep_last_good = false;
  // Asynchronous training (any --algo but sgd).
  std::string algo = "sgd";
  EngineFlags engine;
  std::string backend = "threads";     // or mpi: one process per worker under mpirun
  std::size_t threads_per_worker = 1;  // --backend mpi: threads per worker rank
};

/// The metrics file, and a copy of the records in it: a checkpoint carries them, so that a
/// resumed run's file holds every record as an uninterrupted run's would.
struct MetricsOutput {
  MetricsOutput(const std::string& path, std::string resumed)
      : file(path), written(std::move(resumed)) {
    std::fputs(written.c_str(), file.stream());
  }
  void add(const std::string& record) {
    written.append(record).append("\n");
    std::fprintf(file.stream(), "%s\n", record.c_str());
  }
  AtomicOutput file;
  std::string written;
};

/// "min..max" of the per-worker arrival counts, for the progress line.
std::string arrivals_range(const std::vector<std::uint64_t>& arrivals) {
  if (arrivals.empty()) return {};
  const auto [lo, hi] = std::minmax_element(arrivals.begin(), arrivals.end());
  return "  arrivals/worker " + std::to_string(*lo) + ".." + std::to_string(*hi);
}

/// Verbose: each worker's shard size and class histogram.
void print_shards(const Dataset& train, const std::vector<std::uint32_t>& rows,
                  const AsyncConfig& async) {
  const auto shards = partition_rows(train, rows, async.workers, async.partition, async.sgd.seed);
  const auto histograms = shard_histograms(train, shards);
  std::fprintf(stderr, "partition %s over %zu workers (rows per class):\n",
               async.partition.to_string().c_str(), async.workers);
  for (std::size_t w = 0; w < shards.size(); ++w) {
    std::fprintf(stderr, "  worker %zu: %zu rows, slowdown %g:", w, shards[w].size(),
                 async.slowdown_of(w));
    for (const std::size_t count : histograms[w]) std::fprintf(stderr, " %zu", count);
    std::fprintf(stderr, "\n");
  }
}

/// The run's configuration from the flags, checked; prints the learning rate it chose when
/// --lr is not given to an asynchronous run.
AsyncConfig config_of(const TrainFlags& f) {
  AsyncConfig async;
  SgdConfig& config = async.sgd;
  apply_sgd_flags(f.sgd, config);
  config.seed = f.seed;
  config.keep_last_good = f.keep_last_good && !f.out.empty();
  async.algorithm = for_flag("--algo", [&] { return AlgorithmSpec::parse(f.algo); });
  apply_engine_flags(f.engine, async);
  if (f.threads_per_worker != 1 && f.backend != "mpi") {
    throw ConfigError("--threads-per-worker " + std::to_string(f.threads_per_worker) +
                      ": only with --backend mpi (with threads each worker is one thread: "
                      "use --workers)");
  }
  async.threads_per_worker = f.threads_per_worker;
  const bool asynchronous = async.algorithm.kind != AlgorithmSpec::Kind::Sgd;
  config.lr = f.lr.value_or(default_learning_rate(async.algorithm, async.workers));
  if (!f.lr && asynchronous && !f.quiet) {
    std::fprintf(stderr, "learning rate %.4g (%s; --lr sets it)\n", static_cast<double>(config.lr),
                 default_learning_rate_rule(async.algorithm, async.workers).c_str());
  }
  async.validate();
  return async;
}

/// The evaluation line printed for a point (without a progress line's ETA).
std::string evaluation_line(const Progress& p) {
  char text[256];
  int len = std::snprintf(text, sizeof text, "epoch %6.2f  step %8llu  train loss %.4f", p.epoch,
                          static_cast<unsigned long long>(p.steps), p.train_loss);
  if (p.has_test) {
    len += std::snprintf(text + len, sizeof text - static_cast<std::size_t>(len),
                         "  test loss %.4f  test accuracy %.4f", p.test_loss, p.test_accuracy);
  }
  if (!p.arrivals.empty()) {
    std::snprintf(text + len, sizeof text - static_cast<std::size_t>(len),
                  "  staleness %.1f (max %llu)%s", p.staleness_mean,
                  static_cast<unsigned long long>(p.staleness_max),
                  arrivals_range(p.arrivals).c_str());
  }
  return text;
}

/// The progress callback: evaluation lines and the progress line on stderr, records into the
/// metrics file. None when nothing would show the points (quiet, no metrics file), so that
/// the run evaluates only at its end.
ProgressCallback progress_printer(const TrainFlags& f, ProgressLine& line, MetricsOutput* metrics) {
  if (f.quiet && metrics == nullptr) return {};
  return [&f, &line, metrics](const Progress& p) {
    if (!p.evaluation) {
      const double rate = p.wall_seconds > 0 ? static_cast<double>(p.samples) / p.wall_seconds : 0;
      char text[128];
      std::snprintf(text, sizeof text, "epoch %.2f  %.0f samples/s  loss %.4f", p.epoch, rate,
                    p.train_loss);
      line.update(text, p.wall_seconds, p.fraction_done);
      return;
    }
    if (metrics != nullptr) metrics->add(metrics_record(p).dump());
    if (!f.quiet) line.print(evaluation_line(p));
  };
}

/// The whole of `text` as a T, or none.
template <class T>
std::optional<T> whole(std::string_view text) {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

/// --checkpoint-every: N server steps or T seconds ("30s"); 60 s when not given.
void parse_checkpoint_every(const std::string& text, CheckpointPlan& plan) {
  if (text.empty()) {
    plan.every_seconds = 60;
    return;
  }
  if (text.back() == 's') {
    plan.every_seconds =
        whole<double>(std::string_view(text).substr(0, text.size() - 1)).value_or(0);
  } else {
    plan.every_steps = whole<std::uint64_t>(text).value_or(0);
  }
  if (!(plan.every_seconds > 0 && std::isfinite(plan.every_seconds)) && plan.every_steps == 0) {
    throw ConfigError("--checkpoint-every '" + text +
                      "': expected N (server steps) or Ts (seconds), positive");
  }
}

/// Checkpoints to write (--checkpoint) and the run to continue (--resume), if any.
std::optional<CheckpointPlan> checkpoint_plan(const TrainFlags& f, MetricsOutput* metrics,
                                              const Checkpoint* resumed) {
  if (f.checkpoint.empty() && resumed == nullptr) return std::nullopt;
  CheckpointPlan plan;
  plan.resume = resumed;
  if (f.checkpoint.empty()) return plan;
  parse_checkpoint_every(f.checkpoint_every, plan);
  plan.on_checkpoint = [&f, metrics](Checkpoint& c) {
    if (metrics != nullptr) c.user = metrics->written;
    save_checkpoint(f.checkpoint, c);
  };
  return plan;
}

/// A diverged run's outputs: the metrics written so far (whole records), and with
/// --keep-last-good the model of its last good evaluation point; nothing else.
void keep_diverged_outputs(const TrainFlags& f, const Model& model, MetricsOutput* metrics,
                           const TrainingDiverged& e) {
  if (metrics) metrics->file.commit();
  if (!f.keep_last_good || f.out.empty()) return;
  save_model(f.out, model);
  const std::string step = e.last_good() ? std::to_string(e.last_good()->step) : "0 (initial)";
  std::fprintf(stderr, "dude: kept the model of the last good evaluation, step %s, in %s\n",
               step.c_str(), f.out.c_str());
}

/// Trains `model` in place, with threads or on this rank of an MPI job; the first SIGINT or
/// SIGTERM ends the run after its current step.
Progress train_model(const TrainFlags& f, const AsyncConfig& config, const TrainTestData& d,
                     Model& model, MetricsOutput* metrics, const StopSignals& signals,
                     const CheckpointPlan* checkpoints, MpiJob* job) {
  const Objective objective = model.objective();
  ProgressLine line(!f.quiet);
  const Subset train_set{&d.train, d.train_rows};
  const Subset test_set{&d.test, d.test_rows};
  const ProgressCallback printer = progress_printer(f, line, metrics);
  try {
    const Progress last =
        job != nullptr
            ? job->train(objective, d, config, model.params.data(), printer, &signals.stop_flag(),
                         checkpoints)
            : train_async(objective, train_set, d.test_rows.empty() ? nullptr : &test_set, config,
                          model.params.data(), printer, &signals.stop_flag(), checkpoints);
    line.clear();
    return last;
  } catch (const TrainingDiverged& e) {
    line.clear();
    keep_diverged_outputs(f, model, metrics, e);
    throw;
  }
}

/// The flags as this rank of an MPI job runs them: one worker per rank but the server's, and
/// only the server (rank 0) prints and writes files, checkpoints included, and reads the
/// checkpoint it resumes (the workers learn its step from rank 0).
TrainFlags on_rank(const TrainFlags& f, const MpiJob& job) {
  TrainFlags mine = f;
  mine.engine.workers = job.workers_for(f.engine.workers);
  if (job.rank() != 0) {
    mine.quiet = true;
    mine.verbose = false;
    mine.out.clear();
    mine.metrics.clear();
    mine.checkpoint.clear();
    mine.resume.clear();
  }
  return mine;
}

int train_command(const TrainFlags& f, MpiJob* job) {
  const AsyncConfig config = config_of(f);
  const ModelSpec spec = ModelSpec::parse(f.sgd.model);
  const auto thread_limit = limit_threads(f.sgd.threads);

  // Everything that can fail on input is checked before training starts.
  TrainTestData d =
      job != nullptr ? job->load(f.io, config, f.seed) : load_train_test(f.io, f.seed);
  const JobShape shape =
      job != nullptr ? job->agree_on_shape(d) : JobShape{d.classes(), d.train_rows.size()};
  Model model{spec, d.train.features(), shape.classes, f.sgd.l2, {}};
  // What predict needs to read raw text as this run did.
  if (reads_fasttext(f.io.train, f.io.data)) model.text_hashing = f.io.data.hashing;
  model.label_names.assign(d.train.label_names().begin(), d.train.label_names().end());
  const Objective objective = model.objective();
  model.params.resize(objective.num_params());
  objective.init_params(model.params.data(), f.seed);
  const std::optional<Checkpoint> resumed =
      f.resume.empty() ? std::nullopt : std::optional(load_checkpoint(f.resume));
  std::unique_ptr<MetricsOutput> metrics;
  if (!f.metrics.empty()) {
    metrics = std::make_unique<MetricsOutput>(f.metrics, resumed ? resumed->user : "");
  }
  const std::optional<CheckpointPlan> checkpoints =
      checkpoint_plan(f, metrics.get(), resumed ? &*resumed : nullptr);
  if (f.verbose && config.algorithm.kind != AlgorithmSpec::Kind::Sgd && job == nullptr) {
    print_shards(d.train, d.train_rows, config);
  }

  const StopSignals signals;
  const Progress last = train_model(f, config, d, model, metrics.get(), signals,
                                    checkpoints ? &*checkpoints : nullptr, job);
  if (job != nullptr && job->rank() != 0) return kOk;  // a worker: the server reports
  if (!f.out.empty()) save_model(f.out, model);
  if (metrics) metrics->file.commit();
  std::printf("train rows: %zu  features: %zu  classes: %u  model: %s  steps: %llu  time: %.2fs\n",
              static_cast<std::size_t>(shape.train_rows), d.train.features(), shape.classes,
              spec.to_string().c_str(), static_cast<unsigned long long>(last.steps),
              last.wall_seconds);
  if (last.has_test) {
    std::printf("test accuracy: %.4f\ntest loss: %.4f\n", last.test_accuracy, last.test_loss);
  }
  if (signals.signal() == 0) return kOk;
  std::fprintf(stderr, "dude: stopped by %s at step %llu%s%s\n", signals.signal_name(),
               static_cast<unsigned long long>(last.steps),
               f.out.empty() ? "" : ("; the model is in " + f.out).c_str(),
               f.checkpoint.empty() ? "" : ("; continue with --resume " + f.checkpoint).c_str());
  return signals.exit_code();
}

int run_train(const TrainFlags& f) {
  if (f.backend == "threads") return train_command(f, nullptr);
  const std::unique_ptr<MpiJob> job = MpiJob::start();
  return job->run([&] { return train_command(on_rank(f, *job), job.get()); });
}

}  // namespace

Command add_train_command(CLI::App& app) {
  auto flags = std::make_shared<TrainFlags>();
  TrainFlags& f = *flags;
  CLI::App* cmd = app.add_subcommand("train", "Train a model and report its test accuracy");
  add_train_test_flags(*cmd, f.io);
  add_sgd_flags(*cmd, f.sgd);
  auto* epochs =
      cmd->add_option("--epochs", f.sgd.epochs, "Budget: passes over the data (default 10)")
          ->check(CLI::PositiveNumber);
  auto* steps = cmd->add_option("--steps", f.sgd.steps, "Budget: minibatch steps")
                    ->check(CLI::PositiveNumber);
  auto* seconds = cmd->add_option("--seconds", f.sgd.seconds, "Budget: wall-clock seconds")
                      ->check(CLI::PositiveNumber);
  epochs->excludes(steps)->excludes(seconds);
  steps->excludes(seconds);
  cmd->add_option(
         "--lr", f.lr,
         "Learning rate (default 0.2; with n workers 0.2 / sqrt(n) for asgd, hogwild, asgd-da "
         "and fedbuff, 0.2 / n for dude and ringleader)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", f.seed, "Random seed (initialisation, shuffling, holdout split)")
      ->capture_default_str();
  cmd->add_option("--eval-every", f.sgd.eval_every,
                  "Evaluate every N steps (default: every epoch)");
  cmd->add_option("--out", f.out, "Write the trained model here (atomically)");
  cmd->add_option("--metrics", f.metrics, "Write evaluation points here as JSON Lines");
  auto* checkpoint = cmd->add_option(
      "--checkpoint", f.checkpoint,
      "Write the run's state here as it goes (atomically) and when a signal stops it");
  cmd->add_option("--checkpoint-every", f.checkpoint_every,
                  "With --checkpoint: every N server steps, or every T seconds as Ts (default 60s)")
      ->needs(checkpoint);
  cmd->add_option("--resume", f.resume,
                  "Continue the run of this checkpoint (same flags and data: refused otherwise)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--quiet,-q", f.quiet, "No progress output; only the final summary");
  cmd->add_flag("--verbose,-v", f.verbose, "Also print each worker's shard (rows per class)");
  cmd->add_flag("--keep-last-good", f.keep_last_good,
                "When the run diverges, write the model of its last good evaluation to --out "
                "(otherwise a diverged run writes no model)");
  cmd->add_option("--algo", f.algo,
                  "Algorithm: sgd (single thread), dude, asgd, hogwild, sync, fedbuff:K, "
                  "ringleader, malenia[:S] (step at a harmonic batch of S) or asgd-da[:C] "
                  "(steps scaled by min(1, C/delay); C defaults to the workers)")
      ->capture_default_str();
  add_engine_flags(*cmd, f.engine);
  cmd->add_option("--backend", f.backend,
                  "threads (one process) or mpi: under mpirun -np N+1, rank 0 is the server and "
                  "ranks 1..N the workers; --train 'shard-{rank}.csv' gives each its own file")
      ->check(CLI::IsMember({"threads", "mpi"}))
      ->capture_default_str();
  cmd->add_option("--threads-per-worker", f.threads_per_worker,
                  "--backend mpi, dense data: threads that compute each worker rank's "
                  "gradients, its minibatch's rows split among them (for a node of many "
                  "cores: one fast worker rather than many slow ones)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  return {cmd, [flags] { return run_train(*flags); }};
}

}  // namespace dude::cli
