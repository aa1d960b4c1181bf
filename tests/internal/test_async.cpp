// The asynchronous engine end to end: equivalences with the single-thread trainer, the exact
// batched fold, every algorithm learning, errors and stop requests crossing threads.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "data/minibatch_sampler.hpp"
#include "dude/async.hpp"
#include "dude/errors.hpp"
#include "dude/io.hpp"
#include "engine/policy.hpp"
#include "engine/replay_loop.hpp"
#include "test_data.hpp"

using namespace dude;

namespace {

struct Setup {
  Dataset data;
  std::vector<std::uint32_t> train_rows, test_rows;
  Objective objective;
};

Setup digits_setup(const std::string& spec) {
  Dataset digits = load_builtin_dataset("digits");
  RowSplit split = split_rows(digits.rows(), 0.2, 1);
  Objective objective(ModelSpec::parse(spec), digits.features(), digits.classes());
  return {std::move(digits), std::move(split.train), std::move(split.holdout),
          std::move(objective)};
}

std::vector<float> initial(const Objective& objective, std::uint64_t seed) {
  std::vector<float> params(objective.num_params());
  objective.init_params(params.data(), seed);
  return params;
}

}  // namespace

TEST_CASE("algorithm specs parse strictly", "[async]") {
  CHECK(AlgorithmSpec::parse("fedbuff:4").buffer == 4);
  CHECK(AlgorithmSpec::parse("fedbuff:4").to_string() == "fedbuff:4");
  CHECK(AlgorithmSpec::parse("hogwild").kind == AlgorithmSpec::Kind::Hogwild);
  CHECK(AlgorithmSpec::parse("sgd").kind == AlgorithmSpec::Kind::Sgd);
  CHECK(AlgorithmSpec::parse("sgd").to_string() == "sgd");
  CHECK(AlgorithmSpec::parse("malenia").harmonic_batch == 1);
  CHECK(AlgorithmSpec::parse("malenia:4").harmonic_batch == 4);
  CHECK(AlgorithmSpec::parse("asgd-da").delay_scale == 0);
  CHECK(AlgorithmSpec::parse("asgd-da:16").delay_scale == 16);
  for (const char* text : {"ringleader", "malenia", "malenia:4", "asgd-da", "asgd-da:16"}) {
    CHECK(AlgorithmSpec::parse(text).to_string() == text);
  }
  for (const char* bad : {"", "DUDE", "fedbuff", "fedbuff:0", "fedbuff:x", "SGD", "sgd:1",
                          "ringleader:2", "malenia:0", "malenia:", "asgd-da:-1", "asgd-dax"}) {
    INFO(bad);
    CHECK_THROWS_AS(AlgorithmSpec::parse(bad), ConfigError);
  }
  AsyncConfig c;
  c.sgd.steps = 10;
  c.workers = 0;
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("workers"));
  c.workers = 2;
  c.slowdown = {1.0};
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("slowdown"));
}

TEST_CASE("compute-time models parse strictly and draw their distributions", "[async]") {
  for (const char* text : {"fixed", "exp", "normal:0.25", "lognormal:1.5"}) {
    CHECK(ComputeTime::parse(text).to_string() == text);
  }
  for (const char* bad : {"", "normal", "normal:0", "lognormal:", "lognormal:11", "pareto:2"}) {
    INFO(bad);
    CHECK_THROWS_AS(ComputeTime::parse(bad), ConfigError);
  }
  // Each model's draws over a long stream: the mean is 1 (times the slowdown); the log-normal
  // has the heavy tail the others lack.
  for (const char* text : {"exp", "normal:0.25", "lognormal:1"}) {
    INFO(text);
    engine::ComputeTimes times(ComputeTime::parse(text), 7, 0, 3.0);
    std::vector<double> draws(200000);
    for (double& d : draws) d = times.next() / 3.0;
    double mean = 0;
    for (const double d : draws) mean += d / static_cast<double>(draws.size());
    CHECK(mean == Approx(1.0).epsilon(0.02));
    std::sort(draws.begin(), draws.end());
    const double p999 = draws[draws.size() * 999 / 1000];
    if (std::string(text) == "lognormal:1") {
      CHECK(p999 > 10.0);  // exp(3.09 - 0.5) = 13.3
    } else {
      CHECK(p999 < 8.0);  // Exp(1): 6.9; the normal: at most 2
    }
  }
}

TEST_CASE("dude with one worker equals the single-thread trainer bit for bit", "[async]") {
  const std::string spec = GENERATE(as<std::string>{}, "softmax", "mlp:16");
  const Setup s = digits_setup(spec);
  SgdConfig sgd;
  sgd.steps = 300;
  sgd.batch = 16;
  sgd.seed = 9;
  sgd.lr = 0.1f;
  sgd.schedule = Schedule::Cosine;
  std::vector<float> reference = initial(s.objective, 9);
  const Subset train{&s.data, s.train_rows};
  train_sgd(s.objective, train, nullptr, sgd, reference.data(), {});

  AsyncConfig config;
  config.sgd = sgd;
  config.workers = 1;
  config.slot = SlotDiscipline::Handoff;
  config.warm_start = GENERATE(false, true);  // with one worker S is the newest gradient either way
  std::vector<float> params = initial(s.objective, 9);
  const Progress last = train_async(s.objective, train, nullptr, config, params.data(), {});
  CHECK(last.steps == 300);
  CHECK(last.staleness_max == 0);
  CHECK(params == reference);
}

TEST_CASE("algorithm sgd is the single-thread trainer, and default rates follow the workers",
          "[async]") {
  const Setup s = digits_setup("softmax");
  AsyncConfig config;
  config.algorithm = AlgorithmSpec::parse("sgd");
  config.workers = 3;  // does not apply to sgd
  config.sgd.steps = 200;
  config.sgd.lr = 0.1f;
  std::vector<float> reference = initial(s.objective, 4);
  const Subset train{&s.data, s.train_rows};
  const Subset test{&s.data, s.test_rows};
  const Progress expected = train_sgd(s.objective, train, &test, config.sgd, reference.data(), {});
  std::vector<float> params = initial(s.objective, 4);
  const Progress last = train_async(s.objective, train, &test, config, params.data(), {});
  CHECK(params == reference);
  CHECK(last.steps == 200);
  CHECK(last.test_accuracy == expected.test_accuracy);
  CHECK(last.arrivals.empty());

  CHECK(default_learning_rate(AlgorithmSpec::parse("sgd"), 8) == 0.2f);
  CHECK(default_learning_rate(AlgorithmSpec::parse("dude"), 4) == 0.05f);
  CHECK(default_learning_rate(AlgorithmSpec::parse("ringleader"), 4) == 0.05f);
  CHECK(default_learning_rate(AlgorithmSpec::parse("asgd"), 4) == 0.1f);
  CHECK(default_learning_rate(AlgorithmSpec::parse("fedbuff:2"), 16) == 0.05f);
  CHECK(default_learning_rate(AlgorithmSpec::parse("sync"), 4) == 0.2f);
  CHECK(default_learning_rate(AlgorithmSpec::parse("malenia"), 4) == 0.2f);
  CHECK(default_learning_rate_rule(AlgorithmSpec::parse("dude"), 4) == "0.2 / 4 workers");
  CHECK(default_learning_rate_rule(AlgorithmSpec::parse("asgd"), 4) == "0.2 / sqrt(4 workers)");
  CHECK(default_learning_rate(AlgorithmSpec::parse("asgd"), 1) == 0.2f);
}

TEST_CASE("a diverging run raises TrainingDiverged with its worker and step", "[async]") {
  const Setup s = digits_setup("mlp:16");
  AsyncConfig config;
  config.algorithm = AlgorithmSpec::parse("dude");
  config.workers = 2;
  config.deterministic = true;
  config.sgd.epochs = 1;
  config.sgd.lr = 3e38f;
  std::vector<float> params = initial(s.objective, 1);
  const Subset train{&s.data, s.train_rows};
  try {
    train_async(s.objective, train, nullptr, config, params.data(), {});
    FAIL("no TrainingDiverged");
  } catch (const TrainingDiverged& e) {
    REQUIRE(e.worker().has_value());
    CHECK(*e.worker() < 2);
    CHECK(e.step() > 0);
    CHECK_THAT(e.what(),
               Catch::Contains("at step " + std::to_string(e.step()) + " (worker " +
                               std::to_string(*e.worker()) + "): the loss is not finite"));
  }
}

TEST_CASE("sync with n workers equals minibatch SGD with batch n*B", "[async]") {
  const Setup s = digits_setup("softmax");
  constexpr std::size_t kWorkers = 3, kBatch = 8, kRounds = 40;
  AsyncConfig config;
  config.sgd.steps = kRounds;
  config.sgd.batch = kBatch;
  config.sgd.seed = 4;
  config.sgd.lr = 0.2f;
  config.workers = kWorkers;
  config.algorithm = AlgorithmSpec::parse("sync");
  std::vector<float> params = initial(s.objective, 4);
  const Subset train{&s.data, s.train_rows};
  train_async(s.objective, train, nullptr, config, params.data(), {});

  // The same minibatches, concatenated into one batch of n*B rows per step.
  const auto shards = partition_rows(s.data, s.train_rows, kWorkers, config.partition, 4);
  std::vector<detail::MinibatchSampler> samplers;
  for (std::size_t w = 0; w < kWorkers; ++w)
    samplers.emplace_back(shards[w], kBatch, dude::BatchOrder::Shuffled, 4, w);
  std::vector<float> reference = initial(s.objective, 4);
  Workspace ws = s.objective.make_workspace(kWorkers * kBatch);
  std::vector<float> grad(reference.size());
  for (std::size_t round = 0; round < kRounds; ++round) {
    std::vector<std::uint32_t> rows;
    for (auto& sampler : samplers) {
      const auto batch = sampler.next();
      rows.insert(rows.end(), batch.begin(), batch.end());
    }
    s.objective.loss_grad(reference.data(), s.data, rows, grad.data(), ws);
    for (std::size_t i = 0; i < reference.size(); ++i) reference[i] -= config.sgd.lr * grad[i];
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    INFO("parameter " << i);
    REQUIRE(params[i] == Approx(reference[i]).margin(1e-5).epsilon(1e-4));
  }
}

TEST_CASE("the batched fold equals folding one by one", "[async]") {
  constexpr std::size_t kWorkers = 4, kParams = 1500;  // several fold blocks and a tail
  auto one_by_one = engine::make_policy(AlgorithmSpec::parse("dude"), kWorkers, kParams);
  auto batched = engine::make_policy(AlgorithmSpec::parse("dude"), kWorkers, kParams);
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  std::vector<float> x_single(kParams), x_batched(kParams), scratch(kParams);
  for (float& v : x_single) v = normal(rng);
  x_batched = x_single;
  for (int round = 0; round < 50; ++round) {
    std::vector<std::vector<float>> gradients(kWorkers, std::vector<float>(kParams));
    std::vector<engine::GradientHeader> headers(kWorkers);
    std::vector<engine::Arrival> arrivals;
    for (std::size_t w = 0; w < kWorkers; ++w) {
      for (float& v : gradients[w]) v = normal(rng);
      headers[w].worker = static_cast<std::uint32_t>(w);
      arrivals.push_back({gradients[w].data(), &headers[w]});
    }
    for (const auto& a : arrivals) {
      one_by_one->apply({&a, 1}, x_single.data(), scratch.data(), 0.01f);
      x_single = scratch;
    }
    CHECK(batched->apply(arrivals, x_batched.data(), scratch.data(), 0.01f) == kWorkers);
    x_batched = scratch;
  }
  for (std::size_t i = 0; i < kParams; ++i) {
    REQUIRE(batched->running_sum()[i] == one_by_one->running_sum()[i]);
    // x: float rounding per step against one rounding per batch (docs/DESIGN.md §1).
    REQUIRE(x_batched[i] == Approx(x_single[i]).epsilon(1e-5).margin(1e-6));
  }
}

TEST_CASE("every algorithm learns the digits with 2 workers", "[async]") {
  // Every slot an algorithm can use: hogwild has none (one run), sync always hands off.
  using Case = std::pair<std::string, std::string>;
  const auto [algo, slot] = GENERATE(values<Case>({{"dude", "handoff"},
                                                   {"dude", "triple"},
                                                   {"asgd", "handoff"},
                                                   {"asgd", "triple"},
                                                   {"fedbuff:2", "handoff"},
                                                   {"fedbuff:2", "triple"},
                                                   {"sync", "handoff"},
                                                   {"hogwild", "handoff"}}));
  const Setup s = digits_setup("softmax");
  AsyncConfig config;
  config.sgd.epochs = 60;  // long enough for both threads to be scheduled on a busy machine
  config.sgd.lr = 0.1f;
  config.sgd.schedule = Schedule::Cosine;
  config.workers = 2;
  config.algorithm = AlgorithmSpec::parse(algo);
  config.slot = parse_slot_discipline(slot);
  std::vector<float> params = initial(s.objective, 1);
  const Subset train{&s.data, s.train_rows};
  const Subset test{&s.data, s.test_rows};
  std::size_t evaluations = 0;
  const Progress last = train_async(s.objective, train, &test, config, params.data(),
                                    [&](const Progress& p) { evaluations += p.evaluation; });
  INFO(algo << " / " << slot << ": accuracy " << last.test_accuracy);
  // Single-thread softmax: 0.94; this checks that threads learn (chance is 0.1); the replay's
  // test above and the hand-computed rules (test_update_rules.cpp) check the rules themselves.
  // Triple slots never make a worker wait, so on a loaded machine one worker can be off its core
  // for long stretches while the other posts, and dude keeps the absent worker's old gradient in
  // its sum: dude / triple ended at 0.65-0.85 in 13 of 80 runs beside two busy loops on 2 cores
  // (the second session's binary as often as the third's).
  CHECK(last.test_accuracy >= (slot == "triple" ? 0.5 : 0.85));
  CHECK(last.samples >= 60 * s.train_rows.size());
  CHECK(last.arrivals.size() == 2);
  CHECK(last.arrivals[0] > 0);
  CHECK(last.arrivals[1] > 0);
  CHECK(evaluations >= 1);
}

TEST_CASE("on the replay every algorithm reaches 88% on the digits with 2 workers", "[async]") {
  // Deterministic, so the bar can sit just under what each rule reaches (0.891 sync and
  // fedbuff:2, 0.903 asgd and hogwild, 0.914 dude at 20 epochs): a learning rate 1000 times
  // smaller ends at 0.63-0.74, a broken rule lower still or diverged.
  const std::string algo =
      GENERATE(as<std::string>{}, "dude", "asgd", "hogwild", "sync", "fedbuff:2");
  const Setup s = digits_setup("softmax");
  AsyncConfig config;
  config.sgd.epochs = 20;
  config.sgd.lr = 0.1f;
  config.sgd.schedule = Schedule::Cosine;
  config.workers = 2;
  config.deterministic = true;
  config.algorithm = AlgorithmSpec::parse(algo);
  std::vector<float> params = initial(s.objective, 1);
  const Subset train{&s.data, s.train_rows};
  const Subset test{&s.data, s.test_rows};
  const Progress last = train_async(s.objective, train, &test, config, params.data(), {});
  INFO(algo << ": accuracy " << last.test_accuracy);
  CHECK(last.test_accuracy >= 0.88);
}

TEST_CASE("an exception in a callback reaches the caller with every thread joined", "[async]") {
  const Setup s = digits_setup("softmax");
  AsyncConfig config;
  config.sgd.seconds = 60;
  config.sgd.tick_seconds = 0.001;
  config.workers = 3;
  config.algorithm = AlgorithmSpec::parse(GENERATE(as<std::string>{}, "dude", "hogwild", "sync"));
  std::vector<float> params = initial(s.objective, 1);
  const Subset train{&s.data, s.train_rows};
  CHECK_THROWS_WITH(
      train_async(s.objective, train, nullptr, config, params.data(),
                  [](const Progress&) { throw std::runtime_error("callback says no"); }),
      "callback says no");
}

TEST_CASE("an asynchronous run evaluated only at its end reports one point", "[async]") {
  const Setup s = digits_setup("softmax");
  for (const bool deterministic : {false, true}) {
    INFO("deterministic " << deterministic);
    AsyncConfig config;
    config.sgd.epochs = 3;
    config.sgd.eval_every = kEvalAtEndOnly;
    config.workers = 3;
    config.deterministic = deterministic;
    std::vector<float> params = initial(s.objective, 1);
    const Subset train{&s.data, s.train_rows};
    const Subset test{&s.data, s.test_rows};
    std::size_t evaluations = 0;
    const Progress last =
        train_async(s.objective, train, &test, config, params.data(),
                    [&](const Progress& p) { evaluations += p.evaluation ? 1 : 0; });
    CHECK(evaluations == 1);
    CHECK(last.final);
    CHECK(last.has_test);
  }
}

TEST_CASE("a stop request from another thread returns a usable model promptly", "[async]") {
  const Setup s = digits_setup("softmax");
  AsyncConfig config;
  config.sgd.seconds = 3600;  // beyond the CTest timeout: only the stop request ends it in time
  config.workers = 2;
  config.slowdown = {1.0, 4.0};
  std::vector<float> params = initial(s.objective, 1);
  const Subset train{&s.data, s.train_rows};
  const Subset test{&s.data, s.test_rows};
  std::atomic<bool> stop{false};
  std::jthread stopper([&] {  // joins even when the run throws
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
  });
  const Progress last = train_async(s.objective, train, &test, config, params.data(), {}, &stop);
  stopper.join();
  CHECK(last.final);
  CHECK(last.test_accuracy > 0.5);
  // Both workers contributed. That the straggler posts less often is not checked here: with
  // other tests sharing the 2 cores the scheduler can hold the fast worker back for long
  // stretches (seen: 153 arrivals against the straggler's 11,442); the deterministic replay
  // test checks the ratio exactly.
  CHECK(last.arrivals[0] > 0);
  CHECK(last.arrivals[1] > 0);
}

namespace {
Progress fashion_async(const std::string& algo, std::size_t workers, const std::string& partition,
                       const std::string& slowdown, float lr, double epochs, Schedule schedule,
                       bool deterministic = false) {
  const std::string dir = DUDE_FASHION_MNIST_DIR;
  if (!std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz"))
    FAIL("Fashion-MNIST is not installed");
  static const Dataset train_data = load_dataset(dir + "/train-images-idx3-ubyte.gz");
  LoadOptions o;
  o.features = train_data.features();
  o.classes = train_data.classes();
  static const Dataset test_data = load_dataset(dir + "/t10k-images-idx3-ubyte.gz", o);
  const Objective objective(ModelSpec::parse("softmax"), train_data.features(),
                            train_data.classes());
  AsyncConfig config;
  config.sgd.epochs = epochs;
  config.sgd.lr = lr;
  config.sgd.schedule = schedule;
  config.workers = workers;
  config.algorithm = AlgorithmSpec::parse(algo);
  config.partition = PartitionSpec::parse(partition);
  if (!slowdown.empty()) config.slowdown = parse_slowdown(slowdown, workers);
  config.deterministic = deterministic;
  std::vector<float> params(objective.num_params());
  objective.init_params(params.data(), 1);
  const std::vector<std::uint32_t> train_rows = all_rows(train_data.rows());
  const std::vector<std::uint32_t> test_rows = all_rows(test_data.rows());
  const Subset train{&train_data, train_rows};
  const Subset test{&test_data, test_rows};
  return train_async(objective, train, &test, config, params.data(), {});
}
}  // namespace

TEST_CASE("Fashion-MNIST softmax: every algorithm reaches 84% with 2 iid workers",
          "[long][async]") {
  const std::string algo =
      GENERATE(as<std::string>{}, "dude", "asgd", "hogwild", "sync", "fedbuff:4");
  // Each algorithm at a step size that suits it (measured, 10 epochs, cosine: 0.844-0.845):
  // averaging algorithms take fewer, less noisy steps and want a larger one; the asynchronous
  // ones apply stale gradients and want a smaller one. Threads make every run different, so
  // 15 epochs give the final iterate a margin on a loaded machine.
  const float lr = algo == "fedbuff:4" ? 0.4f : algo == "sync" ? 0.2f : 0.1f;
  const Progress last = fashion_async(algo, 2, "iid", "", lr, 15, Schedule::Cosine);
  INFO(algo << " test accuracy " << last.test_accuracy);
  CHECK(last.test_accuracy >= 0.840);
}

TEST_CASE("Fashion-MNIST, one class per worker, 10x stragglers: dude ends above asgd",
          "[long][async]") {
  // The calibration setting of the numpy simulation: constant lr 0.02, about 20,000
  // arrivals of batch 32 (11 epochs), replayed on the virtual clock so that the outcome does
  // not depend on how busy the test machine is (measured: dude 0.833, asgd 0.788; with threads
  // on 16 cores, bench/HETEROGENEITY.md).
  const Progress dude =
      fashion_async("dude", 10, "label:1", "1,10", 0.02f, 11, Schedule::Constant, true);
  const Progress asgd =
      fashion_async("asgd", 10, "label:1", "1,10", 0.02f, 11, Schedule::Constant, true);
  INFO("dude " << dude.test_accuracy << ", asgd " << asgd.test_accuracy);
  CHECK(dude.test_accuracy > asgd.test_accuracy + 0.03);
}

TEST_CASE("deterministic replay: the same flags give identical progress, another seed does not",
          "[async][deterministic]") {
  const std::string algo =
      GENERATE(as<std::string>{}, "dude", "asgd", "hogwild", "sync", "fedbuff:3");
  const Setup s = digits_setup("softmax");
  AsyncConfig config;
  config.sgd.steps = 400;
  config.sgd.eval_every = 100;
  config.sgd.lr = 0.05f;
  config.workers = 5;
  config.algorithm = AlgorithmSpec::parse(algo);
  config.partition = PartitionSpec::parse("label:2");
  config.slowdown = parse_slowdown("1,4", 5);
  config.deterministic = true;
  const Subset train{&s.data, s.train_rows};
  const Subset test{&s.data, s.test_rows};
  auto run = [&](std::uint64_t seed) {
    config.sgd.seed = seed;
    std::vector<float> params = initial(s.objective, seed);
    std::vector<Progress> points;
    train_async(s.objective, train, &test, config, params.data(),
                [&](const Progress& p) { points.push_back(p); });
    return std::make_pair(points, params);
  };
  const auto [a, params_a] = run(3);
  const auto [b, params_b] = run(3);
  REQUIRE(a.size() == 4);  // steps 100, 200, 300 and the final 400 (sync: rounds)
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].wall_seconds == b[i].wall_seconds);  // virtual time
    CHECK(a[i].steps == b[i].steps);
    CHECK(a[i].samples == b[i].samples);
    CHECK(a[i].train_loss == b[i].train_loss);
    CHECK(a[i].test_loss == b[i].test_loss);
    CHECK(a[i].test_accuracy == b[i].test_accuracy);
    CHECK(a[i].staleness_mean == b[i].staleness_mean);
    CHECK(a[i].staleness_max == b[i].staleness_max);
    CHECK(a[i].arrivals == b[i].arrivals);
  }
  CHECK(params_a == params_b);
  const auto [other, params_other] = run(4);
  CHECK(params_other != params_a);
  // A worker 4x slower arrives about 4x less often on the virtual clock.
  const auto& arrivals = a.back().arrivals;
  if (algo != "sync") CHECK(arrivals[0] > 2 * arrivals[1]);
}
