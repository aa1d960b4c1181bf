// Early stopping (SgdConfig::early_stop): a run ends once its test accuracy has not improved for
// N evaluation points, and leaves the best point's model, on every trainer; it needs test rows.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "dude/async.hpp"
#include "dude/errors.hpp"
#include "dude/io.hpp"

using namespace dude;

namespace {

struct Run {
  std::vector<Progress> points;  // the evaluation points before the final one
  Progress last;
};

/// 200 epochs of softmax on the built-in digits, evaluated every 20 steps: a budget no run
/// with a patience of 3 gets near.
Run train_digits(const std::string& algo, bool deterministic, std::uint32_t patience) {
  const Dataset digits = load_builtin_dataset("digits");
  const RowSplit split = split_rows(digits.rows(), 0.2, 1);
  const Objective objective(ModelSpec::parse("softmax"), digits.features(), digits.classes());
  AsyncConfig config;
  config.algorithm = AlgorithmSpec::parse(algo);
  config.workers = 2;
  config.deterministic = deterministic;
  config.sgd.epochs = 200;
  config.sgd.eval_every = 20;
  config.sgd.lr = 0.2f;
  config.sgd.early_stop = patience;
  std::vector<float> params(objective.num_params());
  objective.init_params(params.data(), 1);
  Run run;
  const Subset train{&digits, split.train}, test{&digits, split.holdout};
  run.last = train_async(objective, train, &test, config, params.data(), [&](const Progress& p) {
    if (p.evaluation && !p.final) run.points.push_back(p);
  });
  return run;
}

}  // namespace

TEST_CASE("early stopping ends a plateaued run with its best point's model", "[early-stop]") {
  const auto [algo, deterministic] = GENERATE(table<std::string, bool>(
      {{"sgd", false}, {"dude", true}, {"asgd-da", true}, {"asgd", false}}));
  INFO(algo << (deterministic ? " replay" : " threads"));
  const Run run = train_digits(algo, deterministic, 3);
  REQUIRE(run.points.size() >= 4);
  CHECK(run.last.epoch < 100);  // far from the 200-epoch budget
  // The last three points did not beat the first best point before them, whose model the
  // final point evaluates again: the same accuracy and the same loss (no other point's model
  // has that loss).
  std::size_t best = 0;
  for (std::size_t i = 0; i + 3 < run.points.size(); ++i) {
    if (run.points[i].test_accuracy > run.points[best].test_accuracy) best = i;
  }
  for (std::size_t i = run.points.size() - 3; i < run.points.size(); ++i) {
    CHECK(run.points[i].test_accuracy <= run.points[best].test_accuracy);
  }
  CHECK(run.last.test_accuracy == run.points[best].test_accuracy);
  CHECK(run.last.test_loss == run.points[best].test_loss);
}

TEST_CASE("early stopping without test rows is refused by name", "[early-stop]") {
  const Dataset digits = load_builtin_dataset("digits");
  const Objective objective(ModelSpec::parse("softmax"), digits.features(), digits.classes());
  std::vector<float> params(objective.num_params());
  const std::vector<std::uint32_t> rows = all_rows(digits.rows());
  AsyncConfig config;
  config.sgd.epochs = 1;
  config.sgd.early_stop = 2;
  for (const char* algo : {"sgd", "dude"}) {
    config.algorithm = AlgorithmSpec::parse(algo);
    CHECK_THROWS_WITH(
        train_async(objective, Subset{&digits, rows}, nullptr, config, params.data(), {}),
        Catch::Contains("early_stop"));
  }
}
