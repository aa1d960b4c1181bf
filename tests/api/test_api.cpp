// The embedding API as a program sees it through dude/dude.hpp: Predictor against the
// Objective it wraps and under concurrent use, configuration errors naming their field,
// failures and stop requests crossing from the training threads to the caller.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <vector>

#include "dude/dude.hpp"
#include "temp_dir.hpp"
#include "test_data.hpp"

using namespace dude;

namespace {

Model model_for(const Dataset& data, const std::string& spec, std::uint64_t seed) {
  const Objective objective(ModelSpec::parse(spec), data.features(), data.classes());
  Model model{objective.spec(), objective.features(), objective.classes(), objective.l2(), {}};
  model.params.resize(objective.num_params());
  objective.init_params(model.params.data(), seed);
  return model;
}

/// A softmax model trained for a few hundred single-thread steps on digits (predictions vary
/// across classes, unlike at the all-zero initial point).
Model trained_digits_model(const Dataset& digits) {
  Model model = model_for(digits, "softmax", 1);
  const Objective objective = model.objective();
  SgdConfig sgd;
  sgd.steps = 200;
  sgd.lr = 0.2f;
  const std::vector<std::uint32_t> rows = all_rows(digits.rows());
  train_sgd(objective, Subset{&digits, rows}, nullptr, sgd, model.params.data(), {});
  return model;
}

/// Threads of this process, from /proc/self/task.
std::size_t thread_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task"))
    ++n;
  return n;
}

/// The thread count once it has settled back to `expected` (a joined thread leaves
/// /proc/self/task a moment after join returns), or the last count seen after 2 s.
std::size_t thread_count_settled(std::size_t expected) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  std::size_t n = thread_count();
  while (n != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    n = thread_count();
  }
  return n;
}

/// The thread count once it has stopped changing (oneTBB may still be starting its workers
/// just after their first use): three equal readings 20 ms apart, at most 2 s.
std::size_t thread_count_stable() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  std::size_t n = thread_count();
  int same = 0;
  while (same < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::size_t m = thread_count();
    same = m == n ? same + 1 : 0;
    n = m;
  }
  return n;
}

struct CallbackFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace

TEST_CASE("Predictor agrees with Objective::predict", "[api]") {
  const Dataset digits = load_builtin_dataset("digits");
  const Dataset sparse = testdata::random_sparse(300, 40, 3, 6, 5);
  const Dataset binary = testdata::random_sparse(300, 40, 2, 6, 9);
  struct Case {
    const char* name;
    const Dataset* data;
    Model model;
  };
  const Case cases[] = {
      {"softmax, dense (trained)", &digits, trained_digits_model(digits)},
      {"mlp:16, dense", &digits, model_for(digits, "mlp:16", 3)},
      {"mlp:8, sparse", &sparse, model_for(sparse, "mlp:8", 4)},
      {"logreg, sparse", &binary, model_for(binary, "logreg", 6)},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const Dataset& data = *c.data;
    const Predictor predictor(c.model);
    const Objective objective = c.model.objective();
    // Rows out of order, repeated, and more than one 256-row block.
    std::vector<std::uint32_t> rows;
    for (std::size_t i = 0; i < 700; ++i)
      rows.push_back(static_cast<std::uint32_t>((i * 37) % data.rows()));

    std::vector<std::uint32_t> expected(rows.size());
    std::vector<float> expected_proba(rows.size() * objective.classes());
    Workspace ws = objective.make_workspace(rows.size(), !data.is_sparse());
    objective.predict(c.model.params.data(), data, rows, expected_proba.data(), expected.data(),
                      ws);

    CHECK(predictor.predict(data, rows) == expected);
    CHECK(predictor.predict_proba(data, rows) == expected_proba);

    const std::vector<std::uint32_t> every = all_rows(data.rows());
    std::vector<std::uint32_t> expected_all(data.rows());
    Workspace ws_all = objective.make_workspace(data.rows(), !data.is_sparse());
    objective.predict(c.model.params.data(), data, every, nullptr, expected_all.data(), ws_all);
    CHECK(predictor.predict(data) == expected_all);
    CHECK(predictor.predict_proba(data).size() == data.rows() * objective.classes());

    std::size_t correct = 0;
    for (std::size_t i = 0; i < data.rows(); ++i) correct += expected_all[i] == data.label(i);
    CHECK(predictor.accuracy(data) ==
          Approx(static_cast<double>(correct) / static_cast<double>(data.rows())));

    // A copy is independent of the original and predicts the same.
    const Predictor copy = predictor;
    CHECK(copy.predict(data, rows) == expected);
  }
  // The trained model is better than chance, so the comparison above was not all one class.
  CHECK(Predictor(cases[0].model).accuracy(digits) > 0.5);
}

TEST_CASE("Predictor rejects models and data that do not fit", "[api]") {
  const Dataset digits = load_builtin_dataset("digits");
  Model model = model_for(digits, "softmax", 1);
  SECTION("a parameter count the spec does not need") {
    model.params.pop_back();
    CHECK_THROWS_AS(Predictor(model), ConfigError);
  }
  SECTION("dense data of another width") {
    const Predictor predictor(model);
    const Dataset other = testdata::random_dense(10, 63, 10, 1);
    CHECK_THROWS_AS(predictor.predict(other), ConfigError);
  }
  SECTION("a row that is not a row of the data") {
    const Predictor predictor(model);
    const std::vector<std::uint32_t> rows{0, static_cast<std::uint32_t>(digits.rows())};
    CHECK_THROWS_WITH(predictor.predict_proba(digits, rows), Catch::Contains("row 1797"));
  }
  SECTION("a model file round trip") {
    testdata::TempDir dir;
    save_model(dir.file("m.model"), model);
    CHECK(Predictor::load(dir.file("m.model")).predict(digits) == Predictor(model).predict(digits));
    CHECK_THROWS_AS(Predictor::load(dir.file("missing.model")), ModelFileError);
  }
}

TEST_CASE("one Predictor used from 4 threads at once gives identical results", "[api][stress]") {
  const Dataset digits = load_builtin_dataset("digits");
  const Predictor predictor(model_for(digits, "mlp:32", 7));
  const std::vector<std::uint32_t> expected = predictor.predict(digits);
  const std::vector<float> expected_proba = predictor.predict_proba(digits);

  constexpr int kThreads = 4, kRounds = 16;
  std::atomic<int> ready{0};
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();  // start together
      for (int round = 0; round < kRounds; ++round) {
        // Alternate the two calls so that they overlap each other as well.
        if ((round + t) % 2 == 0) {
          if (predictor.predict(digits) != expected) mismatches.fetch_add(1);
        } else {
          if (predictor.predict_proba(digits) != expected_proba) mismatches.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(mismatches.load() == 0);
}

TEST_CASE("AsyncConfig::validate throws a ConfigError naming the bad field", "[api]") {
  AsyncConfig config;
  config.sgd.epochs = 1;
  REQUIRE_NOTHROW(config.validate());

  config.workers = 0;
  CHECK_THROWS_AS(config.validate(), ConfigError);
  CHECK_THROWS_WITH(config.validate(), Catch::StartsWith("workers"));
  config.workers = 2;

  config.sgd.lr = -1.0f;
  CHECK_THROWS_WITH(config.validate(), Catch::StartsWith("lr"));
  config.sgd.lr = 0.1f;

  config.sgd.batch = 0;
  CHECK_THROWS_WITH(config.validate(), Catch::StartsWith("batch"));
  config.sgd.batch = 32;

  config.sgd.steps = 10;  // two budgets
  CHECK_THROWS_WITH(config.validate(), Catch::StartsWith("budget"));
  config.sgd.steps = 0;

  config.threads_per_worker = 0;
  CHECK_THROWS_WITH(config.validate(), Catch::StartsWith("threads_per_worker: must be in"));
  config.threads_per_worker = 257;
  CHECK_THROWS_WITH(config.validate(), Catch::StartsWith("threads_per_worker: must be in"));
  config.threads_per_worker = 256;
  CHECK_NOTHROW(config.validate());

  // train_async validates before it starts a thread.
  const Dataset digits = load_builtin_dataset("digits");
  const Objective objective(ModelSpec::parse("softmax"), digits.features(), digits.classes());
  std::vector<float> params(objective.num_params());
  const std::vector<std::uint32_t> rows = all_rows(digits.rows());
  config.workers = 0;
  CHECK_THROWS_WITH(
      train_async(objective, Subset{&digits, rows}, nullptr, config, params.data(), {}),
      Catch::StartsWith("workers"));
  // Threads per worker are an MPI worker rank's; the threaded engine's workers are threads.
  config.workers = 2;
  CHECK_THROWS_WITH(
      train_async(objective, Subset{&digits, rows}, nullptr, config, params.data(), {}),
      Catch::StartsWith("threads_per_worker: only over MPI"));
}

TEST_CASE("a failure on the training side reaches the caller after every thread is joined",
          "[api][async]") {
  const Dataset digits = load_builtin_dataset("digits");
  const Objective objective(ModelSpec::parse("softmax"), digits.features(), digits.classes());
  const std::vector<std::uint32_t> rows = all_rows(digits.rows());
  std::vector<float> params(objective.num_params());
  objective.init_params(params.data(), 1);
  // Start the threads that stay before counting: oneTBB's workers, and under ThreadSanitizer
  // its runtime's background thread, which it starts with the first thread a program creates.
  evaluate(objective, params.data(), digits, rows);
  std::thread([] {}).join();

  AsyncConfig config;
  config.algorithm = AlgorithmSpec::parse(GENERATE(as<std::string>{}, "dude", "hogwild"));
  config.workers = 3;
  config.sgd.seconds = 60;
  config.sgd.tick_seconds = 0.001;
  const std::size_t before = thread_count_stable();
  std::size_t during = 0;
  int calls = 0;
  bool returned = false;
  try {
    train_async(objective, Subset{&digits, rows}, nullptr, config, params.data(),
                [&](const Progress&) {
                  during = thread_count();
                  if (++calls == 3) throw CallbackFailure("callback gives up");
                });
    returned = true;
  } catch (const CallbackFailure& e) {
    returned = true;  // train_async came back (by exception) rather than hanging
    CHECK(std::string(e.what()) == "callback gives up");
  }
  CHECK(returned);
  CHECK(calls == 3);
  CHECK(during >= before + config.workers);       // the training threads were running ...
  CHECK(thread_count_settled(before) == before);  // ... and none is left behind
}

TEST_CASE("a stopped run returns a model a Predictor can use", "[api][async]") {
  const Dataset digits = load_builtin_dataset("digits");
  const RowSplit split = split_rows(digits.rows(), 0.2, 1);
  const Objective objective(ModelSpec::parse("softmax"), digits.features(), digits.classes());
  std::vector<float> params(objective.num_params());
  objective.init_params(params.data(), 1);

  AsyncConfig config;
  config.workers = 2;
  // Far beyond the test's CTest timeout: only the stop request can end the run in time.
  config.sgd.seconds = 3600;
  config.sgd.tick_seconds = 0;
  std::atomic<bool> stop{false};
  std::jthread stopper([&] {  // joins even when the run throws
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop.store(true);
  });
  const Progress last = train_async(objective, Subset{&digits, split.train}, nullptr, config,
                                    params.data(), {}, &stop);
  stopper.join();
  CHECK(last.final);
  CHECK(last.steps > 0);

  const Predictor predictor(
      Model{objective.spec(), objective.features(), objective.classes(), objective.l2(), params});
  CHECK(predictor.accuracy(digits, split.holdout) > 0.5);  // chance is 0.1
}
