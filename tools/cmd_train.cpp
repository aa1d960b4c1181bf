// dude train: load data, train a model, report progress and the final test accuracy.
#include <tbb/global_control.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>

#include "cli_common.hpp"
#include "commands.hpp"
#include "dude/errors.hpp"
#include "dude/async.hpp"
#include "dude/model.hpp"
#include "dude/partition.hpp"
#include "dude/trainer.hpp"

namespace dude::cli {
namespace {

struct TrainFlags {
  TrainTestFlags io;
  std::string model = "softmax";
  double epochs = 0;
  std::uint64_t steps = 0;
  double seconds = 0;
  std::optional<float> lr;  // default: kDefaultLr, over sqrt(workers) when asynchronous
  std::string schedule = "cosine";
  float lr_decay = 1.0f;
  std::size_t batch = 32;
  std::string batch_order = "shuffled";
  float l2 = 0.0f;
  std::uint64_t seed = 1;
  std::uint64_t eval_every = 0;
  std::string out;
  std::string metrics;
  unsigned threads = 0;
  bool quiet = false;
  bool verbose = false;
  // Asynchronous training (any --algo but sgd).
  std::string algo = "sgd";
  EngineFlags engine;
};

constexpr double kDefaultEpochs = 10;
constexpr float kDefaultLr = 0.2f;

/// "min..max" of the per-worker arrival counts, for the progress line.
std::string arrivals_range(const std::vector<std::uint64_t>& arrivals) {
  if (arrivals.empty()) return {};
  const auto [lo, hi] = std::minmax_element(arrivals.begin(), arrivals.end());
  return "  arrivals/worker " + std::to_string(*lo) + ".." + std::to_string(*hi);
}

/// Verbose: each worker's shard size and class histogram.
void print_shards(const Dataset& train, const std::vector<std::uint32_t>& rows, const AsyncConfig& async) {
  const auto shards = partition_rows(train, rows, async.workers, async.partition, async.sgd.seed);
  const auto histograms = shard_histograms(train, shards);
  std::fprintf(stderr, "partition %s over %zu workers (rows per class):\n",
               async.partition.to_string().c_str(), async.workers);
  for (std::size_t w = 0; w < shards.size(); ++w) {
    std::fprintf(stderr, "  worker %zu: %zu rows, slowdown %g:", w, shards[w].size(),
                 async.slowdown.empty() ? 1.0 : async.slowdown[w]);
    for (const std::size_t count : histograms[w]) std::fprintf(stderr, " %zu", count);
    std::fprintf(stderr, "\n");
  }
}

int run_train(const TrainFlags& f) {
  SgdConfig config;
  config.seed = f.seed;
  config.batch = f.batch;
  config.batch_order = parse_batch_order(f.batch_order);
  config.epochs = f.epochs;
  config.steps = f.steps;
  config.seconds = f.seconds;
  if (f.epochs == 0 && f.steps == 0 && f.seconds == 0) config.epochs = kDefaultEpochs;
  config.lr = f.lr.value_or(kDefaultLr);
  config.schedule = parse_schedule(f.schedule);
  config.lr_decay = f.lr_decay;
  config.eval_every = f.eval_every;
  // Quiet and without a metrics file nobody sees the points between: evaluate only at the end
  // (on 2 cores that saves 15-20 % of a 5-epoch softmax run).
  if (f.quiet && f.metrics.empty() && f.eval_every == 0) config.eval_every = kEvalAtEndOnly;
  config.validate();
  const ModelSpec spec = ModelSpec::parse(f.model);

  std::optional<tbb::global_control> thread_limit;
  if (f.threads > 0) thread_limit.emplace(tbb::global_control::max_allowed_parallelism, f.threads);

  // Everything that can fail on input is checked before training starts.
  const TrainTestData d =
      load_train_test(f.io, f.seed);
  const Dataset& train = d.train;
  const std::vector<std::uint32_t>& train_rows = d.train_rows;
  const bool has_test = !d.test_rows.empty();
  const std::uint32_t classes = d.classes();
  Model model{spec, train.features(), classes, f.l2, {}};
  const Objective objective = model.objective();
  model.params.resize(objective.num_params());
  objective.init_params(model.params.data(), f.seed);

  std::unique_ptr<AtomicOutput> metrics;
  if (!f.metrics.empty()) metrics = std::make_unique<AtomicOutput>(f.metrics);

  ProgressLine line(!f.quiet);
  const auto on_progress = [&](const Progress& p) {
    char text[256];
    if (p.evaluation) {
      if (metrics) std::fprintf(metrics->stream(), "%s\n", metrics_record(p).dump().c_str());
      if (!f.quiet) {
        int len = std::snprintf(text, sizeof text, "epoch %6.2f  step %8llu  train loss %.4f",
                                p.epoch, static_cast<unsigned long long>(p.steps), p.train_loss);
        if (p.has_test) {
          len += std::snprintf(text + len, sizeof text - static_cast<std::size_t>(len),
                               "  test loss %.4f  test accuracy %.4f", p.test_loss, p.test_accuracy);
        }
        if (!p.arrivals.empty()) {
          std::snprintf(text + len, sizeof text - static_cast<std::size_t>(len),
                        "  staleness %.1f (max %llu)%s", p.staleness_mean,
                        static_cast<unsigned long long>(p.staleness_max), arrivals_range(p.arrivals).c_str());
        }
        line.print(text);
      }
    } else {
      const double rate = p.wall_seconds > 0 ? static_cast<double>(p.samples) / p.wall_seconds : 0;
      std::snprintf(text, sizeof text, "epoch %.2f  %.0f samples/s  loss %.4f", p.epoch, rate,
                    p.train_loss);
      line.update(text, p.wall_seconds, p.fraction_done);
    }
  };

  const Subset train_set{&train, train_rows};
  const Subset test_set{&d.test, d.test_rows};
  Progress last;
  if (f.algo == "sgd") {
    last = train_sgd(objective, train_set, has_test ? &test_set : nullptr, config,
                     model.params.data(), on_progress);
  } else {
    AsyncConfig async;
    async.sgd = config;
    async.algorithm = AlgorithmSpec::parse(f.algo);
    apply_engine_flags(f.engine, async);
    if (!f.lr) {
      // With n workers a gradient is n-some server steps old when it lands (DuDe keeps it in
      // the sum for another n); the single-thread step then diverges: on the deterministic
      // replay, mlp:128 with 8 workers ended at 0.33 at lr 0.2 and 0.86 at 0.2/sqrt(8).
      async.sgd.lr = kDefaultLr / std::sqrt(static_cast<float>(async.workers));
      if (!f.quiet) {
        std::fprintf(stderr, "learning rate %.4g (%g / sqrt(%zu workers); --lr sets it)\n",
                     static_cast<double>(async.sgd.lr), static_cast<double>(kDefaultLr),
                     async.workers);
      }
    }
    async.validate();
    if (f.verbose) print_shards(train, train_rows, async);
    last = train_async(objective, train_set, has_test ? &test_set : nullptr, async,
                       model.params.data(), on_progress);
  }
  line.clear();

  if (!f.out.empty()) save_model(f.out, model);
  if (metrics) metrics->commit();
  std::printf("train rows: %zu  features: %zu  classes: %u  model: %s  steps: %llu  time: %.2fs\n",
              train_rows.size(), train.features(), classes, spec.to_string().c_str(),
              static_cast<unsigned long long>(last.steps), last.wall_seconds);
  if (last.has_test) {
    std::printf("test accuracy: %.4f\ntest loss: %.4f\n", last.test_accuracy, last.test_loss);
  }
  return kOk;
}

}  // namespace

Command add_train_command(CLI::App& app) {
  auto flags = std::make_shared<TrainFlags>();
  TrainFlags& f = *flags;
  CLI::App* cmd = app.add_subcommand("train", "Train a model and report its test accuracy");
  add_train_test_flags(*cmd, f.io);
  cmd->add_option("--model", f.model, "Model: logreg, softmax or mlp:W1[,W2...]")->capture_default_str();
  auto* epochs = cmd->add_option("--epochs", f.epochs, "Budget: passes over the data (default 10)")
                     ->check(CLI::PositiveNumber);
  auto* steps = cmd->add_option("--steps", f.steps, "Budget: minibatch steps")->check(CLI::PositiveNumber);
  auto* seconds = cmd->add_option("--seconds", f.seconds, "Budget: wall-clock seconds")
                      ->check(CLI::PositiveNumber);
  epochs->excludes(steps)->excludes(seconds);
  steps->excludes(seconds);
  cmd->add_option("--lr", f.lr,
                  "Learning rate (default 0.2; with an asynchronous --algo, 0.2 / sqrt(workers))")
      ->check(CLI::PositiveNumber);
  add_schedule_flags(*cmd, f.schedule, f.lr_decay);
  cmd->add_option("--batch", f.batch, "Minibatch size")->check(CLI::Range(1, 1 << 20))->capture_default_str();
  add_batch_order_flag(*cmd, f.batch_order);
  cmd->add_option("--l2", f.l2, "L2 regularisation of the weights")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--seed", f.seed, "Random seed (initialisation, shuffling, holdout split)")
      ->capture_default_str();
  cmd->add_option("--eval-every", f.eval_every, "Evaluate every N steps (default: every epoch)");
  cmd->add_option("--out", f.out, "Write the trained model here (atomically)");
  cmd->add_option("--metrics", f.metrics, "Write evaluation points here as JSON Lines");
  cmd->add_option("--threads", f.threads, "Threads for loading and evaluation (default: all cores)");
  cmd->add_flag("--quiet,-q", f.quiet, "No progress output; only the final summary");
  cmd->add_flag("--verbose,-v", f.verbose, "Also print each worker's shard (rows per class)");
  cmd->add_option("--algo", f.algo,
                  "Algorithm: sgd (single thread), dude, asgd, hogwild, sync or fedbuff:K")
      ->capture_default_str();
  add_engine_flags(*cmd, f.engine);
  return {cmd, [flags] { return run_train(*flags); }};
}

}  // namespace dude::cli
