// The MPI backend on 3 ranks (tests/mpi/launch.sh): its equivalences with the single-thread
// trainer and minibatch SGD, DuDe's invariant S == sum of the table on integer gradients, a
// failing worker rank, newest wins (--slot triple: every post's fate, and training), and
// checkpoints and their resume, on dense data (test_mpi_sparse.cpp has sparse data's). Every rank
// runs every test; rank 0 checks the results the server holds, so that a failed check never
// leaves another rank waiting.
#include <catch2/catch.hpp>

#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <thread>

#include "dude/async.hpp"
#include "dude/checkpoint.hpp"
#include "dude/io.hpp"
#include "dude/mpi.hpp"
#include "engine/policy.hpp"
#include "engine/run_state.hpp"
#include "mpi/server_rank.hpp"
#include "mpi/train_on.hpp"
#include "mpi/wire.hpp"
#include "mpi/worker_rank.hpp"
#include "mpi_helpers.hpp"
#include "test_data.hpp"

using namespace dude;
using namespace dude::testmpi;

namespace {

struct Digits {
  Dataset data = load_builtin_dataset("digits");
  RowSplit split = split_rows(data.rows(), 0.2, 1);
};

/// Gradients of small integers (exact in float and double), changing with the minibatch and
/// the worker, as the engine's stress test's stand-in; `fail_at` > 0: the fail_at-th gradient
/// of worker `failing` throws instead.
struct IntegerObjective {
  std::size_t params;
  std::size_t worker;
  std::uint64_t fail_at = 0;
  std::size_t failing = 0;
  mutable std::uint64_t calls = 0;

  std::size_t num_params() const { return params; }
  Workspace make_workspace(std::size_t, bool) const { return Workspace{}; }
  double loss_grad(const float* model, const Dataset&, std::span<const std::uint32_t> rows,
                   float* grad, Workspace&) const {
    if (++calls == fail_at && worker == failing) throw std::runtime_error("disk on fire");
    const auto base = static_cast<int>(rows[0] % 17) - 8 + static_cast<int>(worker);
    for (std::size_t i = 0; i < params; ++i)
      grad[i] = static_cast<float>(base + static_cast<int>(i % 5));
    return static_cast<double>(model[0] == model[0]);
  }
};

/// DuDe, recording sum_steps S over the run (from the table and S before each round, as the
/// rule says S moves), so that the final model can be checked exactly: x0 - (lr/n) * that.
class RecordedDude : public engine::ServerPolicy {
 public:
  RecordedDude(std::size_t workers, std::size_t params)
      : ServerPolicy(params),
        inner_(engine::make_policy(AlgorithmSpec::parse("dude"), workers, params)),
        steps_sum(params, 0.0) {}
  std::uint64_t begin_round(std::span<const engine::Arrival> arrivals) override {
    const std::span<const double> sum = inner_->running_sum();
    std::vector<double> s(sum.begin(), sum.end());
    for (const engine::Arrival& a : arrivals) {
      const std::span<const float> old = inner_->table_entry(a.header->worker);
      for (std::size_t i = 0; i < s.size(); ++i) {
        s[i] += static_cast<double>(a.gradient[i]) - old[i];
        steps_sum[i] += s[i];
      }
    }
    return inner_->begin_round(arrivals);
  }
  void apply_range(std::span<const engine::Arrival> arrivals, const float* x_in, float* x_out,
                   float lr, std::size_t begin, std::size_t end) override {
    inner_->apply_range(arrivals, x_in, x_out, lr, begin, end);
  }
  void seed_gradient(std::size_t worker, const float* gradient) override {
    inner_->seed_gradient(worker, gradient);
  }
  std::span<const double> running_sum() const override { return inner_->running_sum(); }
  std::span<const float> table_entry(std::size_t w) const override {
    return inner_->table_entry(w);
  }

 private:
  const std::unique_ptr<engine::ServerPolicy> inner_;

 public:
  std::vector<double> steps_sum;
};

constexpr std::size_t kIntegerParams = 4100;

AsyncConfig integer_config(std::uint64_t steps) {
  AsyncConfig config;
  config.sgd.steps = steps;
  config.sgd.batch = 4;
  config.sgd.lr = 1.0f / 1024;
  config.workers = 2;  // a power of two: lr / n is one too, and every step exact
  return config;
}

/// A worker rank's posts: gradients computed, and those of them it overwrote (never sent).
struct Posted {
  std::uint64_t posts = 0;
  std::uint64_t overwritten = 0;
};

/// Rank 0 serves `policy` (hand-off, or newest wins as `config` says) and leaves in `counts`
/// what became of the posts; ranks 1 and 2 post IntegerObjective gradients. Returns this
/// rank's posts (none on rank 0).
Posted run_integer_job(const AsyncConfig& config, engine::ServerPolicy& policy,
                       const IntegerObjective& objective, engine::RunState& run,
                       std::vector<float>& model, mpi::detail::PostCounts* counts = nullptr) {
  const Dataset data = testdata::random_dense(512, 2, 2, 3);
  const std::vector<std::uint32_t> rows = all_rows(data.rows());
  const bool warm = config.warm_start;
  if (world_rank() == 0) {
    const auto serve = [&](auto& server) {
      server.serve(warm);
      server.snapshot(model.data());
      if (counts != nullptr) *counts = server.post_counts();
    };
    if (config.newest_wins()) {
      mpi::detail::NewestServerRank server(MPI_COMM_WORLD, run, policy, model.data());
      serve(server);
    } else {
      mpi::detail::HandoffServerRank server(MPI_COMM_WORLD, run, policy, model.data());
      serve(server);
    }
    return {};
  }
  const std::size_t w = static_cast<std::size_t>(world_rank() - 1);
  const std::vector<std::uint32_t> shard = shard_of(data, rows, config, w);
  mpi::detail::WorkerRank<IntegerObjective> worker(MPI_COMM_WORLD, objective, data, shard, config,
                                                   w);
  const std::uint64_t posts = worker.run(warm);
  return {posts, worker.overwritten()};
}

/// Every rank's `mine`, on rank 0 (collective).
std::vector<std::uint64_t> gather_on_rank_0(std::uint64_t mine) {
  int ranks = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  std::vector<std::uint64_t> all(static_cast<std::size_t>(ranks));
  MPI_Gather(&mine, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  return all;
}

/// Asgd behind a server that takes `pause` per round, far longer than a worker's gradient,
/// so that under newest wins each worker posts again before its post is applied; it records
/// the sequence numbers of the posts it applies, per worker.
class SlowRecordingAsgd : public engine::ServerPolicy {
 public:
  SlowRecordingAsgd(std::size_t workers, std::size_t params, std::chrono::microseconds pause)
      : ServerPolicy(params),
        inner_(engine::make_policy(AlgorithmSpec::parse("asgd"), workers, params)),
        pause_(pause),
        applied(workers) {}
  std::uint64_t begin_round(std::span<const engine::Arrival> arrivals) override {
    std::this_thread::sleep_for(pause_);
    for (const engine::Arrival& a : arrivals) {
      applied[a.header->worker].push_back(a.header->sequence);
    }
    return inner_->begin_round(arrivals);
  }
  void apply_range(std::span<const engine::Arrival> arrivals, const float* x_in, float* x_out,
                   float lr, std::size_t begin, std::size_t end) override {
    inner_->apply_range(arrivals, x_in, x_out, lr, begin, end);
  }

 private:
  const std::unique_ptr<engine::ServerPolicy> inner_;
  const std::chrono::microseconds pause_;

 public:
  std::vector<std::vector<std::uint64_t>> applied;  // sequence numbers, per worker
};

}  // namespace

namespace {

/// One worker rank (of the two ranks of `comm`) training `spec` on the digits for 300 steps
/// of 16 rows with `config`'s algorithm and threads; on rank 0 also train_sgd's model for the
/// same settings, which a single worker must follow.
struct AgainstSgd {
  Progress last;
  std::vector<float> params, reference;
};
AgainstSgd one_worker_rank(MPI_Comm comm, const std::string& spec, AsyncConfig config) {
  const Digits d;
  const Objective objective(ModelSpec::parse(spec), d.data.features(), d.data.classes());
  config.sgd.steps = 300;
  config.sgd.batch = 16;
  config.sgd.seed = 9;
  config.sgd.lr = 0.1f;
  config.sgd.schedule = Schedule::Cosine;
  config.workers = 1;
  const std::vector<std::uint32_t> rows =
      world_rank() == 0 ? d.split.train : shard_of(d.data, d.split.train, config, 0);
  AgainstSgd run{{}, initial(objective, 9), {}};
  run.last = mpi::detail::train_on(comm, objective, Subset{&d.data, rows}, nullptr, config,
                                   run.params.data(), {}, nullptr);
  if (world_rank() != 0) return run;
  run.reference = initial(objective, 9);
  train_sgd(objective, Subset{&d.data, d.split.train}, nullptr, config.sgd, run.reference.data(),
            {});
  return run;
}

}  // namespace

TEST_CASE("one worker rank equals the single-thread trainer bit for bit", "[mpi]") {
  const std::string spec = GENERATE(as<std::string>{}, "softmax", "mlp:16");
  const std::string algo = GENERATE(as<std::string>{}, "dude", "asgd");
  const bool warm_start = GENERATE(false, true);  // one worker: S is its newest gradient
  const TwoRanks job;
  if (job.comm == MPI_COMM_NULL) return;
  AsyncConfig config;
  config.algorithm = AlgorithmSpec::parse(algo);
  config.warm_start = warm_start;
  const AgainstSgd run = one_worker_rank(job.comm, spec, config);
  if (world_rank() != 0) return;
  CHECK(run.last.steps == 300);
  CHECK(run.last.staleness_max == 0);
  CHECK(run.params == run.reference);
}

TEST_CASE("one worker rank of 2 or 3 threads equals the single-thread trainer to rounding",
          "[mpi]") {
  const std::string spec = GENERATE(as<std::string>{}, "softmax", "mlp:16");
  const std::size_t threads = GENERATE(2, 3);  // 16 rows: parts of 8, or of 5, 5 and 6
  const TwoRanks job;
  if (job.comm == MPI_COMM_NULL) return;
  AsyncConfig config;
  config.algorithm = AlgorithmSpec::parse("dude");  // its warm start's gradient is split too
  config.threads_per_worker = threads;
  const AgainstSgd run = one_worker_rank(job.comm, spec, config);
  if (world_rank() != 0) return;
  CHECK(run.last.steps == 300);
  CHECK(run.last.staleness_max == 0);
  // The same minibatches in the same order; each gradient is the whole minibatch's to a few
  // float roundings of its largest terms (the parts' means weighted and added:
  // test_gradient_team.cpp), and 300 steps carry them into the model: at most 1.8e-7 off on
  // coordinates up to 1.1 (softmax and mlp:16, 2 and 3 threads). One worker's run is the same
  // whatever the load (its arrivals come in order), so the margin, 50 times that, is for other
  // SIMD targets' rounding only.
  CHECK(count_off(run.params, run.reference, 1e-5, 1e-4) == 0);
}

TEST_CASE("sync over two worker ranks equals minibatch SGD with a twice larger batch", "[mpi]") {
  const Digits d;
  const Objective objective(ModelSpec::parse("softmax"), d.data.features(), d.data.classes());
  const AsyncConfig config = sync_config(2, 8, 40);
  const std::size_t rank = static_cast<std::size_t>(world_rank());
  const std::vector<std::uint32_t> rows =
      rank == 0 ? d.split.train : shard_of(d.data, d.split.train, config, rank - 1);
  std::vector<float> params = initial(objective, 4);
  const Progress last =
      mpi::train(objective, Subset{&d.data, rows}, nullptr, config, params.data(), {});
  if (rank != 0) return;
  CHECK(last.steps == 40);
  std::vector<float> reference = initial(objective, 4);
  minibatch_sgd(objective, d.data, d.split.train, config, reference);
  CHECK(count_off(params, reference, 1e-5, 1e-4) == 0);
}

TEST_CASE("over MPI DuDe's S equals the sum of its table exactly on integer gradients", "[mpi]") {
  AsyncConfig config = integer_config(2000);
  config.warm_start = GENERATE(false, true);
  // Newest wins too: the overwritten posts never reach the table.
  config.slot = GENERATE(SlotDiscipline::Handoff, SlotDiscipline::TripleBuffer);
  RecordedDude policy(config.workers, kIntegerParams);
  const std::size_t worker = static_cast<std::size_t>(std::max(world_rank() - 1, 0));
  const IntegerObjective objective{kIntegerParams, worker};
  engine::RunState run(config, 512, 1);
  std::vector<float> model(kIntegerParams, 0.0f);
  run_integer_job(config, policy, objective, run, model);
  if (world_rank() != 0) return;
  CHECK(run.counters.steps.load() == 2000);
  std::uint64_t arrivals = 0;
  for (std::size_t w = 0; w < config.workers; ++w) arrivals += run.counters.arrivals[w].load();
  CHECK(arrivals == 2000);  // DuDe takes one step per applied gradient
  const double rate = static_cast<double>(config.sgd.lr) / static_cast<double>(config.workers);
  std::size_t off_sum = 0, off_model = 0;
  const std::span<const double> sum = policy.running_sum();
  for (std::size_t i = 0; i < kIntegerParams; ++i) {
    double table_sum = 0;
    for (std::size_t w = 0; w < config.workers; ++w) table_sum += policy.table_entry(w)[i];
    off_sum += sum[i] != table_sum;
    off_model += static_cast<double>(model[i]) != -rate * policy.steps_sum[i];
  }
  CHECK(off_sum == 0);
  CHECK(off_model == 0);
}

TEST_CASE("a worker rank that throws stops the run with an error naming its rank", "[mpi]") {
  AsyncConfig config = integer_config(1000000);  // far beyond the failure
  config.warm_start = GENERATE(true, false);
  config.slot = GENERATE(SlotDiscipline::Handoff, SlotDiscipline::TripleBuffer);
  // The first gradient is the warm start's when there is one; the tenth is in the run.
  const std::uint64_t fail_at = GENERATE(1, 10);
  const std::unique_ptr<engine::ServerPolicy> policy =
      engine::make_policy(config.algorithm, config.workers, kIntegerParams);
  const std::size_t worker = static_cast<std::size_t>(std::max(world_rank() - 1, 0));
  const IntegerObjective objective{kIntegerParams, worker, fail_at, 1};
  engine::RunState run(config, 512, 1);
  std::vector<float> model(kIntegerParams, 0.0f);
  expect_worker_1_fails([&] { run_integer_job(config, *policy, objective, run, model); });
}

TEST_CASE("runs that cannot go over MPI are refused on every rank alike", "[mpi]") {
  const Digits d;
  const Objective objective(ModelSpec::parse("softmax"), d.data.features(), d.data.classes());
  std::vector<float> params = initial(objective, 1);
  const Subset train{&d.data, d.split.train};
  const auto refused = [&](AsyncConfig config, const std::string& field) {
    config.sgd.steps = 10;
    INFO(field);
    CHECK_THROWS_WITH(mpi::train(objective, train, nullptr, config, params.data(), {}),
                      Catch::StartsWith(field));
  };
  AsyncConfig config;
  config.workers = 2;
  config.algorithm = AlgorithmSpec::parse("hogwild");
  refused(config, "algorithm: hogwild");
  config.algorithm = AlgorithmSpec::parse("sgd");
  refused(config, "algorithm: sgd");
  config.algorithm = AlgorithmSpec::parse("dude");
  config.workers = 3;
  refused(config, "workers: 3 workers need 4 MPI ranks");
  config.workers = 2;
  config.deterministic = true;
  refused(config, "deterministic");
  config.deterministic = false;
  config.threads_per_worker = 0;
  refused(config, "threads_per_worker: must be in [1, 256]");
  config.threads_per_worker = 1;
  config.server = ServerPlacement::Workers;
  refused(config, "server placement: over MPI rank 0 is the server");
  config.server = ServerPlacement::Auto;
  // Sparse data on one rank is enough: every rank refuses what has no sparse policy.
  const Dataset sparse = testdata::random_sparse(64, 32, 2, 4, 5);
  const Subset sparse_rows{&sparse, all_rows(sparse.rows())};
  const Objective sparse_model(ModelSpec::parse("softmax"), 32, 2);
  std::vector<float> sparse_params = initial(sparse_model, 1);
  config.sgd.steps = 10;
  config.algorithm = AlgorithmSpec::parse("ringleader");
  const bool mine = world_rank() == 1;
  CHECK_THROWS_WITH(mpi::train(mine ? sparse_model : objective, mine ? sparse_rows : train, nullptr,
                               config, mine ? sparse_params.data() : params.data(), {}),
                    Catch::StartsWith("algorithm ringleader runs on dense data only"));
  config.algorithm = AlgorithmSpec::parse("dude");
  config.threads_per_worker = 2;
  CHECK_THROWS_WITH(mpi::train(mine ? sparse_model : objective, mine ? sparse_rows : train, nullptr,
                               config, mine ? sparse_params.data() : params.data(), {}),
                    Catch::StartsWith("threads_per_worker: 2 threads per worker rank run on "
                                      "dense data only"));
  config.threads_per_worker = 1;
  config.slot = SlotDiscipline::TripleBuffer;
  CHECK_THROWS_WITH(mpi::train(mine ? sparse_model : objective, mine ? sparse_rows : train, nullptr,
                               config, mine ? sparse_params.data() : params.data(), {}),
                    Catch::StartsWith("slot: triple runs over MPI on dense data only"));
}

TEST_CASE("early stopping ends a run over MPI with its best point's model", "[mpi]") {
  const Digits d;
  const Objective objective(ModelSpec::parse("softmax"), d.data.features(), d.data.classes());
  AsyncConfig config;
  // A budget no run with a patience of 3 gets near, even when a loaded machine lets the
  // monitor look at the run only now and then (it evaluates when it looks).
  config.sgd.epochs = 2000;
  config.sgd.eval_every = 20;
  config.sgd.lr = 0.2f;
  config.sgd.early_stop = 3;
  config.algorithm = AlgorithmSpec::parse("asgd");
  config.workers = 2;
  const bool server = world_rank() == 0;
  const std::vector<std::uint32_t> rows =
      server ? d.split.train
             : shard_of(d.data, d.split.train, config, static_cast<std::size_t>(world_rank() - 1));
  const Subset test{&d.data, d.split.holdout};
  std::vector<float> params = initial(objective, 1);
  std::vector<Progress> points;
  const Progress last = mpi::detail::train_on(
      MPI_COMM_WORLD, objective, Subset{&d.data, rows}, server ? &test : nullptr, config,
      params.data(),
      [&](const Progress& p) {
        if (p.evaluation && !p.final) points.push_back(p);
      },
      nullptr);
  if (!server) return;
  REQUIRE(points.size() >= 4);
  // Stopped by its plateau, long before the budget (asynchronous runs plateau at different
  // points: 40 to 140 epochs in 12 runs of the CLI's equivalent).
  CHECK(last.epoch < config.sgd.epochs / 4);
  // The final point evaluates the first best point's model again: its accuracy and its loss.
  std::size_t best = 0;
  for (std::size_t i = 0; i + 3 < points.size(); ++i) {
    if (points[i].test_accuracy > points[best].test_accuracy) best = i;
  }
  for (std::size_t i = points.size() - 3; i < points.size(); ++i) {
    CHECK(points[i].test_accuracy <= points[best].test_accuracy);
  }
  CHECK(last.test_accuracy == points[best].test_accuracy);
  CHECK(last.test_loss == points[best].test_loss);
}

TEST_CASE("over MPI every post has one fate, and newest wins when the server lags", "[mpi]") {
  const SlotDiscipline slot = GENERATE(SlotDiscipline::Handoff, SlotDiscipline::TripleBuffer);
  AsyncConfig config = integer_config(300);
  config.algorithm = AlgorithmSpec::parse("asgd");
  config.slot = slot;
  constexpr std::size_t kParams = 64;  // small posts: a worker's gradient takes microseconds
  SlowRecordingAsgd policy(config.workers, kParams, std::chrono::microseconds(300));
  const std::size_t worker = static_cast<std::size_t>(std::max(world_rank() - 1, 0));
  const IntegerObjective objective{kParams, worker};
  engine::RunState run(config, 512, 1);
  std::vector<float> model(kParams, 0.0f);
  mpi::detail::PostCounts counts;
  const Posted mine = run_integer_job(config, policy, objective, run, model, &counts);
  const std::vector<std::uint64_t> posts = gather_on_rank_0(mine.posts);
  const std::vector<std::uint64_t> not_sent = gather_on_rank_0(mine.overwritten);
  if (world_rank() != 0) return;
  CHECK(run.counters.steps.load() == 300);
  std::uint64_t applied_total = 0, overwritten_total = 0;
  for (std::size_t w = 0; w < config.workers; ++w) {
    INFO("worker " << w);
    const std::uint64_t applied = run.counters.arrivals[w].load();
    applied_total += applied;
    overwritten_total += not_sent[w + 1] + counts.overwritten[w];
    // Each post has exactly one fate, each counted where it happens: overwritten on its
    // worker, or read by the server (after the stop, or before it: then applied,
    // overwritten by a newer post of its worker, or left unapplied).
    CHECK(counts.read[w] + counts.after_stop[w] + not_sent[w + 1] == posts[w + 1]);
    CHECK(counts.read[w] == applied + counts.overwritten[w] + counts.unapplied[w]);
    // The server takes each worker's posts in the order they were sent.
    const std::vector<std::uint64_t>& sequences = policy.applied[w];
    CHECK(sequences.size() == applied);
    CHECK(std::adjacent_find(sequences.begin(), sequences.end(), std::greater_equal<>()) ==
          sequences.end());
  }
  CHECK(applied_total == 300);  // asgd: a step per applied post
  if (slot == SlotDiscipline::Handoff) {
    CHECK(overwritten_total == 0);  // a worker waits for its model: nothing is lost
  } else {
    // 300 us per round against a gradient of a few us: each worker finishes many gradients
    // while its post waits for the server's next pass.
    CHECK(overwritten_total > 300);
  }
}

TEST_CASE("newest wins over MPI trains asgd and dude on the digits", "[mpi]") {
  const std::string algo = GENERATE(as<std::string>{}, "asgd", "dude");
  const Digits d;
  const Objective objective(ModelSpec::parse("softmax"), d.data.features(), d.data.classes());
  AsyncConfig config;
  config.sgd.epochs = 10;
  config.sgd.seed = 2;
  config.algorithm = AlgorithmSpec::parse(algo);
  config.workers = 2;
  config.sgd.lr = default_learning_rate(config.algorithm, config.workers);
  config.slot = SlotDiscipline::TripleBuffer;
  const bool server = world_rank() == 0;
  const std::vector<std::uint32_t> rows =
      server ? d.split.train
             : shard_of(d.data, d.split.train, config, static_cast<std::size_t>(world_rank() - 1));
  const Subset test{&d.data, d.split.holdout};
  std::vector<float> params = initial(objective, 2);
  const Progress last = mpi::train(objective, Subset{&d.data, rows}, server ? &test : nullptr,
                                   config, params.data(), {});
  if (!server) {
    CHECK(last.steps > 0);  // its posts
    return;
  }
  INFO(algo << ": accuracy " << last.test_accuracy << ", loss " << last.test_loss);
  // Hand-off and --workers 2 reach about 0.89 to 0.9 here (test_cli_mpi.sh). DuDe's accuracy
  // depends on the scheduling on a loaded machine, where a starved rank's stale gradient stays
  // in S (0.83 seen with both cores busy elsewhere), so it faces a bar only far above the 0.1
  // of an untrained model; asgd faces the hand-off's.
  CHECK(last.test_accuracy > (algo == "asgd" ? 0.85 : 0.6));
  CHECK(last.epoch == Approx(10).epsilon(0.01));
}

namespace {

/// A job of mlp:16 on the digits with checkpoints: 1500 steps of `algo` over 2 worker ranks.
/// Only rank 0 has checkpoint plans; every rank runs every run.
struct CheckpointJob {
  CheckpointJob(const std::string& algo, SlotDiscipline slot) {
    config.algorithm = AlgorithmSpec::parse(algo);
    config.slot = slot;
    config.workers = 2;
    config.sgd.steps = 1500;
    config.sgd.eval_every = 100;
    config.sgd.lr = 0.1f;
    rows = server ? d.split.train
                  : shard_of(d.data, d.split.train, config,
                             static_cast<std::size_t>(world_rank() - 1));
  }

  /// A run with `settings` from `params`, with rank 0's `plan` (its checkpoints, or the one it
  /// resumes).
  Progress run(const AsyncConfig& settings, std::vector<float>& params,
               const ProgressCallback& on_progress, const std::atomic<bool>* stop,
               const CheckpointPlan& plan) {
    const Subset train{&d.data, rows}, test{&d.data, d.split.holdout};
    return mpi::detail::train_on(MPI_COMM_WORLD, objective, train, server ? &test : nullptr,
                                 settings, params.data(), on_progress, stop,
                                 server ? &plan : nullptr);
  }

  /// A run stopped at its first checkpoint, due at step 300; its final point. Should a loaded
  /// machine's monitor take it only when the budget is spent, the run is made again, up to 5
  /// times, rank 0 telling every rank whether.
  Progress stop_at_first_checkpoint() {
    std::atomic<bool> stop{false};
    CheckpointPlan plan;
    plan.every_steps = 300;
    plan.on_checkpoint = [&](Checkpoint& c) {
      newest = c;
      stop = true;
    };
    Progress stopped;
    int again = 1;
    for (int attempt = 0; attempt < 5 && again != 0; ++attempt) {
      std::vector<float> params = initial(objective, 1);
      stop = false;
      stopped = run(config, params, {}, &stop, plan);
      again = server && newest.steps >= config.sgd.steps;
      MPI_Bcast(&again, 1, MPI_INT, 0, MPI_COMM_WORLD);
    }
    return stopped;
  }

  const Digits d;
  const Objective objective{ModelSpec::parse("mlp:16"), d.data.features(), d.data.classes()};
  const bool server = world_rank() == 0;
  AsyncConfig config;
  std::vector<std::uint32_t> rows;
  Checkpoint newest;  // rank 0's last checkpoint (the workers have none)
};

}  // namespace

TEST_CASE("a run over MPI stopped after a checkpoint and resumed continues its counts and model",
          "[mpi]") {
  const std::string algo = GENERATE(as<std::string>{}, "asgd", "dude");
  const SlotDiscipline slot = GENERATE(SlotDiscipline::Handoff, SlotDiscipline::TripleBuffer);
  INFO(algo << (slot == SlotDiscipline::Handoff ? " handoff" : " triple"));
  CheckpointJob job(algo, slot);
  const Progress stopped = job.stop_at_first_checkpoint();
  CheckpointPlan resume;
  resume.resume = &job.newest;
  std::vector<Progress> points;
  std::vector<float> resumed(job.objective.num_params(), 0.0f);  // the checkpoint brings it
  const Progress last = job.run(
      job.config, resumed,
      [&](const Progress& point) {
        if (point.evaluation) points.push_back(point);
      },
      nullptr, resume);
  if (!job.server) return;
  const std::uint64_t budget = job.config.sgd.steps;
  REQUIRE(job.newest.steps >= 300);
  REQUIRE(job.newest.steps < budget);
  REQUIRE_FALSE(points.empty());
  CHECK(points.front().steps >= job.newest.steps);  // the counts go on from the checkpoint ...
  CHECK(last.steps == budget);                      // ... to the budget, not 1500 more
  std::uint64_t arrivals = 0;
  for (const std::uint64_t a : last.arrivals) arrivals += a;
  CHECK(arrivals == budget);  // one step per applied gradient, before and after
  // The run goes on from the checkpoint's model, not from the zeros passed in: from zeros an
  // MLP's hidden layer gets zero gradients forever, so at most its output biases could move.
  CHECK(std::count_if(resumed.begin(), resumed.end(), [](float v) { return v != 0.0f; }) >
        static_cast<long>(resumed.size() / 2));
  CHECK(points.front().test_accuracy >= stopped.test_accuracy - 0.1);
  if (algo == "asgd") CHECK(last.test_accuracy > 0.85);
}

TEST_CASE("a checkpoint over MPI that rank 0 refuses or cannot read stops every rank", "[mpi]") {
  CheckpointJob job("asgd", SlotDiscipline::Handoff);
  job.stop_at_first_checkpoint();
  CheckpointPlan resume;
  resume.resume = &job.newest;
  std::vector<float> params = initial(job.objective, 1);
  // A checkpoint of another run is refused before the run: rank 0 names what differs.
  AsyncConfig other = job.config;
  other.sgd.steps = 1600;
  const auto resume_other = [&] { job.run(other, params, {}, nullptr, resume); };
  // A checkpoint of this run whose state rank 0 cannot read (cut short) stops the workers
  // too, which would otherwise wait for rank 0 forever.
  Checkpoint cut = job.newest;
  if (job.server) cut.state.resize(cut.state.size() - 8);
  CheckpointPlan resume_cut;
  resume_cut.resume = &cut;
  const auto resume_short = [&] { job.run(job.config, params, {}, nullptr, resume_cut); };
  if (job.server) {
    CHECK_THROWS_AS(resume_other(), CheckpointError);
    CHECK_THROWS_WITH(resume_other(), Catch::Contains("steps"));
    CHECK_THROWS_WITH(resume_short(), Catch::StartsWith("checkpoint: the state"));
  } else {
    CHECK_THROWS_AS(resume_other(), ConfigError);
    CHECK_THROWS_WITH(resume_other(),
                      Catch::StartsWith("checkpoints: rank 0 refused the checkpoint"));
    CHECK_THROWS_WITH(resume_short(), Catch::StartsWith("checkpoints: rank 0 could not resume"));
  }
}
