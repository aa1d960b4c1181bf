// The single-thread SGD trainer: budgets, schedules, reproducibility, and accuracy on real data.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "data/minibatch_sampler.hpp"
#include "dude/errors.hpp"
#include "dude/io.hpp"
#include "dude/trainer.hpp"
#include "test_data.hpp"

using namespace dude;

namespace {

struct Run {
  std::vector<float> params;
  std::vector<Progress> points;
  Progress last;
};

Run train(const Objective& objective, const Dataset& data,
          const std::vector<std::uint32_t>& train_rows, const std::vector<std::uint32_t>& test_rows,
          const SgdConfig& config, const std::atomic<bool>* stop = nullptr) {
  Run run;
  run.params.resize(objective.num_params());
  objective.init_params(run.params.data(), config.seed);
  const Subset train_set{&data, train_rows};
  const Subset test_set{&data, test_rows};
  run.last = train_sgd(
      objective, train_set, &test_set, config, run.params.data(),
      [&](const Progress& p) {
        if (p.evaluation) run.points.push_back(p);
      },
      stop);
  return run;
}

}  // namespace

TEST_CASE("learning-rate schedules", "[trainer]") {
  SgdConfig c;
  c.lr = 0.5f;
  CHECK(learning_rate(c, 3.0, 0.7) == Approx(0.5));
  c.schedule = Schedule::InvT;
  c.lr_decay = 2.0f;
  CHECK(learning_rate(c, 1.5, 0.7) == Approx(0.5 / 4.0));
  c.schedule = Schedule::Cosine;
  CHECK(learning_rate(c, 0, 0.0) == Approx(0.5));
  CHECK(learning_rate(c, 0, 0.5) == Approx(0.25));
  CHECK(learning_rate(c, 0, 1.0) == Approx(0.0).margin(1e-12));
  // A warm-up scales the schedule's rate by epoch / warmup until it ends.
  c.warmup_epochs = 2;
  CHECK(learning_rate(c, 0.5, 0.5) == Approx(0.25 * 0.25));
  CHECK(learning_rate(c, 2.0, 0.5) == Approx(0.25));
  CHECK(learning_rate(c, 0.0, 0.0) == 0.0);
  CHECK(parse_schedule("1/t") == Schedule::InvT);
  CHECK_THROWS_AS(parse_schedule("linear"), ConfigError);
}

TEST_CASE("configurations are validated up front", "[trainer]") {
  SgdConfig c;
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("budget"));
  c.epochs = 1;
  c.steps = 5;
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("budget"));
  c.steps = 0;
  c.lr = -1;
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("lr"));
  c.lr = 0.1f;
  c.batch = 0;
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("batch"));
}

TEST_CASE("a step budget runs exactly that many steps and evaluates on schedule", "[trainer]") {
  const Dataset data = testdata::random_dense(100, 5, 3, 2);
  const Objective objective(ModelSpec::parse("softmax"), 5, 3);
  SgdConfig c;
  c.steps = 37;
  c.batch = 8;
  c.eval_every = 10;
  const Run run = train(objective, data, all_rows(80), all_rows(100), c);
  CHECK(run.last.steps == 37);
  CHECK(run.last.samples == 37 * 8);  // 80 rows make exactly 10 full batches per epoch
  REQUIRE(run.points.size() == 4);    // steps 10, 20, 30 and the final 37
  CHECK(run.points[2].steps == 30);
  CHECK(run.points.back().final);
  CHECK(run.points.back().has_test);
}

TEST_CASE("a run evaluated only at its end reports one evaluation point", "[trainer]") {
  const Dataset data = testdata::random_dense(100, 5, 3, 2);
  const Objective objective(ModelSpec::parse("softmax"), 5, 3);
  SgdConfig c;
  c.epochs = 3;
  c.batch = 8;
  c.eval_every = kEvalAtEndOnly;
  const Run run = train(objective, data, all_rows(80), all_rows(100), c);
  REQUIRE(run.points.size() == 1);
  CHECK(run.points[0].final);
  CHECK(run.points[0].has_test);
  CHECK(run.points[0].steps == 30);
}

TEST_CASE("the same seed gives the same model bit for bit, and another seed does not",
          "[trainer]") {
  const Dataset data = testdata::random_dense(200, 8, 4, 5);
  const Objective objective(ModelSpec::parse("mlp:6"), 8, 4);
  SgdConfig c;
  c.epochs = 2;
  c.batch = 16;
  c.seed = 42;
  const Run a = train(objective, data, all_rows(200), {}, c);
  const Run b = train(objective, data, all_rows(200), {}, c);
  CHECK(a.params == b.params);
  c.seed = 43;
  const Run other = train(objective, data, all_rows(200), {}, c);
  CHECK(a.params != other.params);
}

TEST_CASE("a stop request from another thread ends the run early", "[trainer]") {
  const Dataset data = testdata::random_dense(500, 16, 4, 6);
  const Objective objective(ModelSpec::parse("softmax"), 16, 4);
  SgdConfig c;
  c.seconds = 3600;  // beyond the CTest timeout: only the stop request ends it in time
  std::atomic<bool> stop{false};
  std::jthread stopper([&] {  // joins even when the run throws
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stop = true;
  });
  const Run run = train(objective, data, all_rows(500), {}, c, &stop);
  stopper.join();
  CHECK(run.last.final);
  CHECK(run.last.steps > 0);
}

TEST_CASE("divergence is reported with its step and no worker", "[trainer]") {
  const Dataset data = testdata::random_dense(64, 4, 2, 8);
  const Objective objective(ModelSpec::parse("mlp:16"), 4, 2);
  SgdConfig c;
  c.epochs = 50;
  c.lr = 1e30f;
  CHECK_THROWS_WITH(train(objective, data, all_rows(64), {}, c), Catch::Contains("diverged"));
  try {
    train(objective, data, all_rows(64), {}, c);
  } catch (const TrainingDiverged& e) {
    CHECK_FALSE(e.worker().has_value());
    CHECK_THAT(e.what(), Catch::Contains("at step " + std::to_string(e.step())));
  }
}

TEST_CASE("minibatches cover every row once an epoch, in either order", "[trainer][sampler]") {
  // 100 rows listed as the even numbers 0..198 (a shard's row list), batch 8: 13 minibatches an
  // epoch, one of them of 4 rows.
  std::vector<std::uint32_t> rows(100);
  for (std::uint32_t i = 0; i < rows.size(); ++i) rows[i] = 2 * i;
  const std::size_t batch = 8, per_epoch = 13;
  for (const BatchOrder order : {BatchOrder::Shuffled, BatchOrder::Contiguous}) {
    INFO("order " << (order == BatchOrder::Shuffled ? "shuffled" : "contiguous"));
    detail::MinibatchSampler sampler(rows, batch, order, 7);
    std::vector<std::vector<std::uint32_t>> epochs;
    for (int e = 0; e < 3; ++e) {
      std::vector<std::uint32_t> seen;
      std::size_t short_batches = 0;
      for (std::size_t b = 0; b < per_epoch; ++b) {
        const auto mb = sampler.next();
        REQUIRE((mb.size() == batch || mb.size() == rows.size() % batch));
        short_batches += mb.size() < batch ? 1 : 0;
        if (order == BatchOrder::Contiguous) {
          // A run of consecutive entries of the row list, wrapping around its end.
          for (std::size_t i = 1; i < mb.size(); ++i) {
            REQUIRE(mb[i] == (mb[i - 1] + 2) % 200);
          }
        }
        seen.insert(seen.end(), mb.begin(), mb.end());
      }
      CHECK(short_batches == 1);
      epochs.push_back(seen);
      std::sort(seen.begin(), seen.end());
      REQUIRE(seen == rows);  // every row exactly once
    }
    // Each epoch draws a new order (and, contiguous, a new offset).
    CHECK(epochs[0] != epochs[1]);
    CHECK(epochs[1] != epochs[2]);
  }
}

TEST_CASE("an MLP reaches 93% on the built-in digits (seeded split)", "[trainer][accuracy]") {
  const Dataset digits = load_builtin_dataset("digits");
  const RowSplit split = split_rows(digits.rows(), 0.2, 1);
  const Objective objective(ModelSpec::parse("mlp:64"), digits.features(), digits.classes());
  SgdConfig c;
  c.batch_order = GENERATE(BatchOrder::Shuffled, BatchOrder::Contiguous);
  c.epochs = 30;
  c.lr = 0.2f;
  c.schedule = Schedule::Cosine;
  c.seed = 1;
  const Run run = train(objective, digits, split.train, split.holdout, c);
  INFO("test accuracy " << run.last.test_accuracy);
  CHECK(run.last.test_accuracy >= 0.93);
}

namespace {
void fashion_mnist_run(const std::string& spec, double epochs, float lr, double target,
                       BatchOrder order = BatchOrder::Shuffled) {
  const std::string dir = DUDE_FASHION_MNIST_DIR;
  if (!std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz")) {
    FAIL("Fashion-MNIST is not installed in " << dir << " (apt-get install dataset-fashion-mnist)");
  }
  const Dataset train_data = load_dataset(dir + "/train-images-idx3-ubyte.gz");
  LoadOptions o;
  o.features = train_data.features();
  o.classes = train_data.classes();
  const Dataset test_data = load_dataset(dir + "/t10k-images-idx3-ubyte.gz", o);
  const Objective objective(ModelSpec::parse(spec), train_data.features(), train_data.classes());
  std::vector<float> params(objective.num_params());
  objective.init_params(params.data(), 1);
  SgdConfig c;
  c.epochs = epochs;
  c.lr = lr;
  c.schedule = Schedule::Cosine;
  c.seed = 1;
  c.batch_order = order;
  const std::vector<std::uint32_t> train_rows = all_rows(train_data.rows());
  const std::vector<std::uint32_t> test_rows = all_rows(test_data.rows());
  const Subset train_set{&train_data, train_rows};
  const Subset test_set{&test_data, test_rows};
  const Progress last = train_sgd(objective, train_set, &test_set, c, params.data(), {});
  INFO(spec << " test accuracy " << last.test_accuracy);
  CHECK(last.test_accuracy >= target);
}
}  // namespace

TEST_CASE("Fashion-MNIST softmax reaches 84.0% on one thread", "[long][accuracy]") {
  fashion_mnist_run("softmax", 10, 0.2f, 0.840);
}

TEST_CASE("Fashion-MNIST softmax reaches 84.0% with contiguous minibatches", "[long][accuracy]") {
  fashion_mnist_run("softmax", 10, 0.2f, 0.840, BatchOrder::Contiguous);
}

TEST_CASE("Fashion-MNIST mlp:128 reaches 87.5% on one thread", "[long][accuracy]") {
  fashion_mnist_run("mlp:128", 10, 0.2f, 0.875);
}
