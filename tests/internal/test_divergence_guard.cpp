// The divergence checks every trainer runs at its evaluation points, and the last good model
// a diverged run falls back to.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "dude/async.hpp"
#include "dude/errors.hpp"
#include "model/divergence_guard.hpp"
#include "test_data.hpp"

using namespace dude;
using detail::DivergenceGuard;

namespace {

struct Fixture {
  Dataset data = testdata::random_dense(64, 4, 2, 8);
  Objective objective{ModelSpec::parse("softmax"), 4, 2};
  std::vector<std::uint32_t> rows = all_rows(64);
  std::vector<float> params = std::vector<float>(objective.num_params(), 0.0f);
  Subset train{&data, rows};
  /// Zero weights give every class probability 1/2 on every row.
  const double initial_loss = std::log(2.0);
};

Progress point(std::uint64_t step, double train_loss) {
  Progress p;
  p.evaluation = true;
  p.steps = step;
  p.epoch = static_cast<double>(step) / 10;
  p.train_loss = train_loss;
  return p;
}

}  // namespace

TEST_CASE("the loss bound stops a run at its second point in a row above it", "[divergence]") {
  Fixture f;
  SgdConfig config;  // factor 10
  DivergenceGuard guard(f.objective, f.train, config, f.params.data());
  const double bound = 10 * f.initial_loss;
  guard.check(point(10, 0.9 * bound), f.params.data());
  guard.check(point(20, 1.1 * bound), f.params.data());  // once above: not yet
  guard.check(point(30, 0.5 * bound), f.params.data());  // back under: the count restarts
  guard.check(point(40, 1.1 * bound), f.params.data());
  try {
    guard.check(point(50, 2 * bound), f.params.data());
    FAIL("no TrainingDiverged");
  } catch (const TrainingDiverged& e) {
    CHECK(e.step() == 50);
    CHECK_FALSE(e.worker().has_value());
    REQUIRE(e.last_good().has_value());
    CHECK(e.last_good()->step == 30);  // 40 was above the bound: not good
    CHECK_THAT(e.reason(), Catch::Contains("above 10 times the initial 0.6931"));
    CHECK_THAT(e.what(), Catch::Contains("at step 50") &&
                             Catch::Contains("last good evaluation at step 30 (epoch 3.00)"));
  }
}

TEST_CASE("divergence_factor 0 turns the loss bound off, not the finiteness checks",
          "[divergence]") {
  Fixture f;
  SgdConfig config;
  config.divergence_factor = 0;
  DivergenceGuard guard(f.objective, f.train, config, f.params.data());
  for (std::uint64_t step = 1; step <= 5; ++step) guard.check(point(step, 1e30), f.params.data());
  f.params[3] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH(guard.check(point(6, 1.0), f.params.data()),
                    Catch::Contains("parameter 3 is inf (not finite, or beyond 1.8e+19)"));
}

TEST_CASE("a point with a non-finite parameter or test loss fails at once", "[divergence]") {
  Fixture f;
  DivergenceGuard guard(f.objective, f.train, SgdConfig{}, f.params.data());
  std::vector<float> broken = f.params;
  broken.back() = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(guard.check(point(1, 0.1), broken.data()),
                    Catch::Contains("parameter " + std::to_string(broken.size() - 1)));
  Progress p = point(2, 0.1);
  p.has_test = true;
  p.test_loss = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(guard.check(p, f.params.data()), Catch::Contains("test loss is not finite"));
}

TEST_CASE("a diverged run leaves the last good model with keep_last_good, and names it",
          "[divergence]") {
  Fixture f;
  SgdConfig config;
  config.keep_last_good = true;
  DivergenceGuard guard(f.objective, f.train, config, f.params.data());
  const std::vector<float> good(f.params.size(), 0.25f);
  Progress p = point(12, 0.5);
  p.has_test = true;
  p.test_accuracy = 0.75;
  guard.check(p, good.data());
  std::vector<float> params(f.params.size(), -1.0f);  // what the run left
  try {
    guard.run(params.data(), [&]() -> Progress { throw TrainingDiverged(17, 1u); });
    FAIL("no TrainingDiverged");
  } catch (const TrainingDiverged& e) {
    CHECK(params == good);
    CHECK(e.step() == 17);
    CHECK(e.worker() == 1u);
    REQUIRE(e.last_good().has_value());
    CHECK(e.last_good()->step == 12);
    CHECK(e.last_good()->test_accuracy == 0.75);
    CHECK_THAT(e.what(), Catch::Contains("(worker 1): the loss is not finite") &&
                             Catch::Contains("test accuracy 0.7500"));
  }
}

TEST_CASE("without keep_last_good a diverged run's params are left as they were", "[divergence]") {
  Fixture f;
  DivergenceGuard guard(f.objective, f.train, SgdConfig{}, f.params.data());
  std::vector<float> params(f.params.size(), -1.0f);
  CHECK_THROWS_AS(guard.run(params.data(), [&]() -> Progress { throw TrainingDiverged(3, {}); }),
                  TrainingDiverged);
  CHECK(params == std::vector<float>(f.params.size(), -1.0f));
}

TEST_CASE("every trainer falls back to the initial model when no point passed", "[divergence]") {
  const Dataset data = testdata::random_dense(64, 4, 2, 8);
  const Objective objective(ModelSpec::parse("mlp:16"), 4, 2);
  const std::vector<std::uint32_t> rows = all_rows(64);
  const Subset train{&data, rows};
  std::vector<float> initial(objective.num_params());
  objective.init_params(initial.data(), 1);
  for (const char* algo : {"sgd", "dude", "asgd", "hogwild", "sync", "fedbuff:2"}) {
    for (const bool deterministic : {true, false}) {
      INFO(algo << (deterministic ? " replay" : " threads"));
      AsyncConfig config;
      config.algorithm = AlgorithmSpec::parse(algo);
      config.deterministic = deterministic;
      config.sgd.epochs = 50;
      config.sgd.lr = 1e30f;
      config.sgd.keep_last_good = true;
      std::vector<float> params = initial;
      CHECK_THROWS_AS(
          train_async(objective, train, nullptr, config, params.data(), [](const Progress&) {}),
          TrainingDiverged);
      CHECK(params == initial);
    }
  }
}
