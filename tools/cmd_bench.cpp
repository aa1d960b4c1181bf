// dude bench: training throughput (samples/s, server steps/s) over a sweep of worker counts.
#include <cstdio>
#include <memory>

#include "cli_common.hpp"
#include "commands.hpp"
#include "dude/async.hpp"
#include "dude/errors.hpp"

namespace dude::cli {
namespace {

struct BenchFlags {
  std::string train = "digits";
  std::string train_labels;
  DataFlags data;
  SgdFlags sgd{.seconds = 2, .schedule = "constant"};
  std::string algo = "dude";
  std::vector<std::size_t> workers = {1, 2};
  std::string partition = "iid";
  std::string slot = "handoff";
  std::size_t server_threads = 1;
  float lr = 0.01f;
  std::uint64_t seed = 1;
};

int run_bench(const BenchFlags& f) {
  const auto thread_limit = limit_threads(f.sgd.threads);
  const Dataset train = load_data(f.train, load_options(f.data, f.train, f.train_labels));
  const std::vector<std::uint32_t> rows = all_rows(train.rows());
  const Objective objective(ModelSpec::parse(f.sgd.model), train.features(), train.classes(),
                            f.sgd.l2);
  std::vector<float> initial(objective.num_params());
  objective.init_params(initial.data(), f.seed);

  std::printf(
      "model %s, algorithm %s, %s, batch %zu, %zu server thread(s), %.1f s per point, %zu training "
      "rows\n",
      f.sgd.model.c_str(), f.algo.c_str(), f.partition.c_str(), f.sgd.batch, f.server_threads,
      f.sgd.seconds, rows.size());
  std::printf("%8s %14s %16s %9s %12s %10s\n", "workers", "samples/s", "server steps/s", "speedup",
              "staleness", "max tau");
  double base = 0;
  for (const std::size_t workers : f.workers) {
    AsyncConfig config;
    apply_sgd_flags(f.sgd, config.sgd);
    config.sgd.lr = f.lr;
    config.sgd.seed = f.seed;
    config.sgd.tick_seconds = 0;
    config.algorithm = AlgorithmSpec::parse(f.algo);
    config.workers = workers;
    config.partition = PartitionSpec::parse(f.partition);
    config.slot = parse_slot_discipline(f.slot);
    config.server_threads = f.server_threads;
    std::vector<float> params = initial;
    const Subset train_set{&train, rows};
    const Progress last = train_async(objective, train_set, nullptr, config, params.data(), {});
    const double samples_per_s = static_cast<double>(last.samples) / last.wall_seconds;
    const double steps_per_s = static_cast<double>(last.steps) / last.wall_seconds;
    if (base == 0) base = samples_per_s;
    std::printf("%8zu %14.0f %16.0f %8.2fx %12.2f %10llu\n", workers, samples_per_s, steps_per_s,
                samples_per_s / base, last.staleness_mean,
                static_cast<unsigned long long>(last.staleness_max));
    std::fflush(stdout);
  }
  return kOk;
}

}  // namespace

Command add_bench_command(CLI::App& app) {
  auto flags = std::make_shared<BenchFlags>();
  BenchFlags& f = *flags;
  CLI::App* cmd = app.add_subcommand("bench", "Training throughput over a sweep of worker counts");
  cmd->add_option("--train,--data", f.train, "Training data (a file or a built-in data set)")
      ->capture_default_str();
  cmd->add_option("--train-labels", f.train_labels,
                  "IDX labels file for --train (default: by name)");
  add_data_flags(*cmd, f.data);
  add_hashing_flags(*cmd, f.data);
  add_sgd_flags(*cmd, f.sgd);
  cmd->add_option("--algo", f.algo,
                  "Algorithm: dude, asgd, hogwild, sync, fedbuff:K, ringleader, malenia[:S] or "
                  "asgd-da[:C]")
      ->capture_default_str();
  cmd->add_option("--workers", f.workers, "Worker counts to measure, e.g. 1,2,4,8,16")
      ->delimiter(',')
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--partition", f.partition, "iid, label:K, dirichlet:ALPHA or group:FILE")
      ->capture_default_str();
  cmd->add_option("--slot", f.slot, "handoff or triple")
      ->check(CLI::IsMember({"handoff", "triple"}))
      ->capture_default_str();
  cmd->add_option("--server-threads", f.server_threads,
                  "Threads that fold each round (the server and N-1 helpers)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--seconds", f.sgd.seconds, "Wall time per worker count")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--lr", f.lr, "Learning rate (small: throughput, not accuracy, is measured)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--seed", f.seed, "Random seed")->capture_default_str();
  return {cmd, [flags] { return run_bench(*flags); }};
}

}  // namespace dude::cli
