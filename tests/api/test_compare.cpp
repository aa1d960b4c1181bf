// dude/compare.hpp: the grid's list parsers and their messages, the statistics of runs and
// cells against hand-computed values, the choice of the best rate, and run_comparison on the
// built-in digits (callbacks, reproducibility, a diverged rate, errors before the first run).
#include <catch2/catch.hpp>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "dude/async.hpp"
#include "dude/compare.hpp"
#include "dude/dataset.hpp"
#include "dude/errors.hpp"
#include "dude/io.hpp"

using namespace dude;

namespace {

/// The message of the ConfigError that `f` throws; "" when it throws none.
template <class F>
std::string config_error_of(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

/// Equal, or both NaN (a statistic over no runs).
bool same(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

bool same_cell(const Cell& a, const Cell& b) {
  return a.lr == b.lr && a.seeds == b.seeds && a.diverged == b.diverged &&
         a.final_accuracy.n == b.final_accuracy.n &&
         same(a.final_accuracy.mean, b.final_accuracy.mean) &&
         same(a.final_accuracy.std, b.final_accuracy.std) &&
         same(a.best_accuracy, b.best_accuracy) && a.reached == b.reached &&
         same(a.target_time, b.target_time) && same(a.target_steps, b.target_steps) &&
         same(a.target_epoch, b.target_epoch) && same(a.staleness_mean, b.staleness_mean) &&
         a.staleness_max == b.staleness_max && same(a.arrivals_min, b.arrivals_min) &&
         same(a.arrivals_max, b.arrivals_max) && same(a.final_time, b.final_time) &&
         same(a.final_steps, b.final_steps) && same(a.final_epoch, b.final_epoch);
}

Progress point(double accuracy, double time, std::uint64_t steps, double epoch,
               std::vector<std::uint64_t> arrivals, double staleness_mean,
               std::uint64_t staleness_max) {
  Progress p;
  p.evaluation = true;
  p.has_test = true;
  p.test_accuracy = accuracy;
  p.wall_seconds = time;
  p.steps = steps;
  p.epoch = epoch;
  p.arrivals = std::move(arrivals);
  p.staleness_mean = staleness_mean;
  p.staleness_max = staleness_max;
  return p;
}

RunResult finished(double accuracy, bool reached, double target_time) {
  RunResult r;
  r.final_accuracy = accuracy;
  r.best_accuracy = accuracy + 0.1;
  r.reached = reached;
  r.target_time = target_time;
  r.target_steps = static_cast<std::uint64_t>(target_time * 10);
  r.target_epoch = target_time / 2;
  r.staleness_mean = 1;
  r.staleness_max = 3;
  r.arrivals_min = 4;
  r.arrivals_max = 8;
  r.final_time = 5;
  r.final_steps = 50;
  r.final_epoch = 2;
  return r;
}

RunResult diverged_run() {
  RunResult r;
  r.diverged = true;
  r.error = "diverged";
  return r;
}

Cell cell_with(double lr, double mean, std::size_t diverged) {
  Cell c;
  c.lr = lr;
  c.seeds = 2;
  c.diverged = diverged;
  c.final_accuracy = Stats{2 - diverged, mean, 0.0};
  return c;
}

/// The built-in digits with a seeded holdout, and a softmax objective over them.
struct Digits {
  Dataset data = load_builtin_dataset("digits");
  RowSplit split = split_rows(data.rows(), 0.2, 1);
  Objective objective{ModelSpec::parse("softmax"), data.features(), data.classes()};
  Subset train() const { return {&data, split.train}; }
  Subset test() const { return {&data, split.holdout}; }
};

/// Deterministic runs of half an epoch on 2 workers.
AsyncConfig tiny_base() {
  AsyncConfig base;
  base.workers = 2;
  base.deterministic = true;
  base.sgd.epochs = 0.5;
  base.sgd.batch = 16;
  base.sgd.tick_seconds = 0;
  return base;
}

CompareGrid small_grid() {
  CompareGrid grid;
  grid.algos = {AlgorithmSpec::parse("dude"), AlgorithmSpec::parse("asgd")};
  grid.lrs = {0.05, 0.2};
  grid.seeds = {0, 1};
  grid.evals_per_epoch = 4;
  grid.target = 0.5;
  return grid;
}

/// What the callbacks saw of a comparison.
struct Seen {
  int begins = 0;
  std::vector<RunInfo> starts;
  std::vector<std::vector<Progress>> points;  // per started run
  std::vector<RunResult> results;
  bool begin_before_runs = true;

  RunCallbacks callbacks() {
    RunCallbacks c;
    c.on_begin = [this] {
      ++begins;
      begin_before_runs = begin_before_runs && starts.empty();
    };
    c.on_run_start = [this](const RunInfo& run) {
      starts.push_back(run);
      points.emplace_back();
    };
    c.on_progress = [this](const RunInfo&, const Progress& p) { points.back().push_back(p); };
    c.on_run_end = [this](const RunInfo&, const RunResult& r, double seconds) {
      CHECK(seconds >= 0);
      results.push_back(r);
    };
    return c;
  }
};

}  // namespace

TEST_CASE("parse_algorithm_list reads specs and names the field in its errors", "[compare]") {
  const std::vector<AlgorithmSpec> algos = parse_algorithm_list(" dude, fedbuff:4 ,sync");
  REQUIRE(algos.size() == 3);
  CHECK(algos[0].to_string() == "dude");
  CHECK(algos[1].to_string() == "fedbuff:4");
  CHECK(algos[2].to_string() == "sync");

  CHECK(config_error_of([] { parse_algorithm_list(""); }) == "algos '': empty item in the list");
  CHECK(config_error_of([] { parse_algorithm_list("nope,,dude"); }) ==
        "algos 'nope,,dude': empty item in the list");
  CHECK_THAT(config_error_of([] { parse_algorithm_list("dude,nope"); }),
             Catch::StartsWith("algos 'dude,nope': algorithm 'nope'"));
  CHECK(config_error_of([] { parse_algorithm_list("asgd,dude, asgd"); }) ==
        "algos 'asgd,dude, asgd': asgd is listed twice");
  CHECK_THAT(config_error_of([] { parse_algorithm_list("dude,sgd"); }),
             Catch::StartsWith("algos 'dude,sgd': sgd is the single-thread trainer"));
  CompareGrid grid;
  grid.algos = {AlgorithmSpec::parse("sgd")};
  grid.lrs = {0.1};
  grid.seeds = {0};
  CHECK_THAT(config_error_of([&] { grid.validate(); }),
             Catch::StartsWith("algos: sgd is the single-thread trainer"));
}

TEST_CASE("parse_lr_list sorts the rates and rejects unusable or repeated ones", "[compare]") {
  CHECK(parse_lr_list("0.1, 0.01,0.05") == std::vector<double>{0.01, 0.05, 0.1});

  CHECK(config_error_of([] { parse_lr_list("0.1,"); }) == "lrs '0.1,': empty item in the list");
  CHECK(config_error_of([] { parse_lr_list("0.1,-1"); }) ==
        "lrs '0.1,-1': '-1' is not a finite positive number");
  for (const char* bad : {"0", "inf", "nan", "0.1x", "1e39"}) {  // 1e39 overflows a float
    INFO(bad);
    CHECK(config_error_of([&] { parse_lr_list(bad); }) ==
          "lrs '" + std::string(bad) + "': '" + bad + "' is not a finite positive number");
  }
  // Repeats are found by their printed text, which names the run files.
  CHECK(config_error_of([] { parse_lr_list("0.1,0.10"); }) ==
        "lrs '0.1,0.10': 0.1 is listed twice");
  CHECK(config_error_of([] { parse_lr_list("0.1,0.1000001"); }) ==
        "lrs '0.1,0.1000001': 0.1 is listed twice");
}

TEST_CASE("parse_seed_list keeps the order and rejects bad or repeated seeds", "[compare]") {
  CHECK(parse_seed_list("0, 2,1") == std::vector<std::uint64_t>{0, 2, 1});
  CHECK(parse_seed_list("18446744073709551615") ==
        std::vector<std::uint64_t>{18446744073709551615ull});

  CHECK(config_error_of([] { parse_seed_list(" "); }) == "seeds ' ': empty item in the list");
  CHECK(config_error_of([] { parse_seed_list("1,-1"); }) ==
        "seeds '1,-1': '-1' is not a non-negative integer");
  CHECK(config_error_of([] { parse_seed_list("1.5"); }) ==
        "seeds '1.5': '1.5' is not a non-negative integer");
  CHECK(config_error_of([] { parse_seed_list("3,1,3"); }) == "seeds '3,1,3': 3 is listed twice");
}

TEST_CASE("format_lr and run_name spell rates and runs as the run files do", "[compare]") {
  CHECK(format_lr(0.02) == "0.02");
  CHECK(format_lr(3e38) == "3e+38");
  CHECK(run_name(AlgorithmSpec::parse("fedbuff:4"), 0.02, 1) == "fedbuff-4_lr0.02_seed1");
  CHECK(run_name(AlgorithmSpec::parse("dude"), 0.5, 12) == "dude_lr0.5_seed12");
}

TEST_CASE("stats_of gives the mean and the sample standard deviation", "[compare]") {
  const Stats none = stats_of({});
  CHECK(none.n == 0);
  CHECK(std::isnan(none.mean));
  CHECK(std::isnan(none.std));

  const Stats one = stats_of({0.25});
  CHECK(one.n == 1);
  CHECK(one.mean == 0.25);
  CHECK(one.std == 0.0);

  // Mean 7/3; squared deviations 16/9 + 1/9 + 25/9 = 42/9, over n - 1 = 2: 7/3.
  const Stats three = stats_of({1, 2, 4});
  CHECK(three.n == 3);
  CHECK(three.mean == Approx(7.0 / 3.0));
  CHECK(three.std == Approx(std::sqrt(7.0 / 3.0)));
}

TEST_CASE("RunTracker weighs each point's staleness by the arrivals since the last", "[compare]") {
  RunTracker tracker(0.5);
  tracker.add(point(0.4, 1, 10, 0.5, {2, 3}, 1.0, 2));
  Progress tick = point(0.9, 1.5, 15, 0.7, {50, 50}, 40.0, 90);
  tick.evaluation = false;
  tracker.add(tick);  // ignored
  tracker.add(point(0.6, 2, 20, 1.0, {5, 10}, 4.0, 7));
  tracker.add(point(0.55, 3, 30, 1.5, {5, 10}, 9.0, 7));  // no new arrivals: no weight

  const RunResult& r = tracker.result();
  CHECK_FALSE(r.diverged);
  // 5 gradients at staleness 1, then 10 at 4: (5 + 40) / 15; unweighted it would be 2.5.
  CHECK(r.staleness_mean == Approx(3.0));
  CHECK(r.staleness_max == 7);
  CHECK(r.arrivals_min == 5);
  CHECK(r.arrivals_max == 10);
  CHECK(r.final_accuracy == 0.55);
  CHECK(r.best_accuracy == 0.6);
  CHECK(r.reached);
  CHECK(r.target_time == 2);
  CHECK(r.target_steps == 20);
  CHECK(r.target_epoch == 1.0);
  CHECK(r.final_time == 3);
  CHECK(r.final_steps == 30);
  CHECK(r.final_epoch == 1.5);

  tracker.mark_diverged("loss is not finite");
  CHECK(tracker.result().diverged);
  CHECK(tracker.result().error == "loss is not finite");
  CHECK(tracker.result().final_steps == 30);
}

TEST_CASE("summarise leaves diverged seeds out and counts the seeds that reached the target",
          "[compare]") {
  const Cell c = summarise(0.1, {finished(0.8, true, 2), finished(0.6, false, 0), diverged_run(),
                                 finished(0.7, true, 4)});
  CHECK(c.lr == 0.1);
  CHECK(c.seeds == 4);
  CHECK(c.diverged == 1);
  CHECK_FALSE(c.eligible());
  CHECK(c.final_accuracy.n == 3);
  CHECK(c.final_accuracy.mean == Approx(0.7));
  CHECK(c.final_accuracy.std == Approx(0.1));
  CHECK(c.best_accuracy == Approx(0.8));
  CHECK(c.reached == 2);                // of the 3 that did not diverge
  CHECK(c.target_time == Approx(3.0));  // over the seeds that reached it only
  CHECK(c.target_steps == Approx(30.0));
  CHECK(c.target_epoch == Approx(1.5));
  CHECK(c.staleness_max == 3);
  CHECK(c.arrivals_min == Approx(4.0));
  CHECK(c.final_steps == Approx(50.0));

  const Cell clean = summarise(0.2, {finished(0.8, false, 0), finished(0.6, false, 0)});
  CHECK(clean.eligible());
  CHECK(clean.reached == 0);
  CHECK(std::isnan(clean.target_time));

  const Cell lost = summarise(0.3, {diverged_run(), diverged_run()});
  CHECK_FALSE(lost.eligible());
  CHECK(lost.final_accuracy.n == 0);
  CHECK(std::isnan(lost.final_accuracy.mean));
  CHECK(std::isnan(lost.best_accuracy));
}

TEST_CASE("best_cell takes the highest eligible mean, ties to the smaller rate", "[compare]") {
  CHECK(best_cell({cell_with(0.01, 0.7, 0), cell_with(0.02, 0.7, 0)}) == 0u);
  CHECK(best_cell({cell_with(0.01, 0.6, 0), cell_with(0.02, 0.7, 0), cell_with(0.05, 0.9, 1)}) ==
        1u);
  CHECK_FALSE(best_cell({cell_with(0.01, 0.9, 1), cell_with(0.02, 0.9, 2)}).has_value());
  CHECK_FALSE(best_cell({}).has_value());
}

TEST_CASE("a grid is checked field by field", "[compare]") {
  CHECK(config_error_of([] { small_grid().validate(); }).empty());
  CHECK_THAT(config_error_of([] {
               CompareGrid g = small_grid();
               g.algos.clear();
               g.validate();
             }),
             Catch::StartsWith("algos"));
  CHECK_THAT(config_error_of([] {
               CompareGrid g = small_grid();
               g.lrs = {0.2, 0.05};
               g.validate();
             }),
             Catch::StartsWith("lrs"));
  CHECK_THAT(config_error_of([] {
               CompareGrid g = small_grid();
               g.seeds = {1, 1};
               g.validate();
             }),
             Catch::StartsWith("seeds"));
  for (const double target : {0.0, 1.5}) {
    CHECK(config_error_of([&] {
            CompareGrid g = small_grid();
            g.target = target;
            g.validate();
          }) == "target: must be in (0, 1]");
  }
  CHECK_THAT(config_error_of([] {
               AsyncConfig base = tiny_base();
               base.sgd.eval_every = 5;
               validate_comparison(base, small_grid());
             }),
             Catch::StartsWith("evals_per_epoch"));
  CHECK_THAT(config_error_of([] {
               AsyncConfig base = tiny_base();
               base.workers = 0;
               validate_comparison(base, small_grid());
             }),
             Catch::StartsWith("workers"));
}

TEST_CASE("run_comparison runs the grid in order and twice gives the same cells", "[compare]") {
  const Digits digits;
  Seen seen;
  const CompareResult first = run_comparison(digits.objective, digits.train(), digits.test(),
                                             tiny_base(), small_grid(), seen.callbacks());
  CHECK(seen.begins == 1);
  CHECK(seen.begin_before_runs);
  REQUIRE(seen.starts.size() == 8);
  REQUIRE(seen.results.size() == 8);
  const std::vector<std::string> names = {
      "dude_lr0.05_seed0", "dude_lr0.05_seed1", "dude_lr0.2_seed0", "dude_lr0.2_seed1",
      "asgd_lr0.05_seed0", "asgd_lr0.05_seed1", "asgd_lr0.2_seed0", "asgd_lr0.2_seed1"};
  for (std::size_t i = 0; i < 8; ++i) {
    INFO(i);
    CHECK(seen.starts[i].name == names[i]);
    CHECK(seen.starts[i].number == i + 1);
    CHECK(seen.starts[i].total == 8);
    // Half an epoch at about 4 evaluations per epoch: 2 points or so, the last one final.
    CHECK(seen.points[i].size() >= 2);
    CHECK(seen.points[i].back().final);
    CHECK(seen.points[i].back().has_test);
    CHECK_FALSE(seen.results[i].diverged);
    CHECK(seen.results[i].final_accuracy == seen.points[i].back().test_accuracy);
  }
  REQUIRE(first.cells.size() == 2);
  REQUIRE(first.best.size() == 2);
  for (const std::vector<Cell>& cells : first.cells) {
    REQUIRE(cells.size() == 2);
    CHECK(cells[0].lr == 0.05);
    CHECK(cells[1].seeds == 2);
    CHECK(cells[1].eligible());
  }

  Seen again;
  const CompareResult second = run_comparison(digits.objective, digits.train(), digits.test(),
                                              tiny_base(), small_grid(), again.callbacks());
  for (std::size_t a = 0; a < 2; ++a) {
    CHECK(second.best[a] == first.best[a]);
    for (std::size_t l = 0; l < 2; ++l) CHECK(same_cell(second.cells[a][l], first.cells[a][l]));
  }
}

TEST_CASE("a run of the comparison is train_async from the seed's initial parameters",
          "[compare]") {
  const Digits digits;
  const Objective mlp(ModelSpec::parse("mlp:8"), digits.data.features(), digits.data.classes());
  CompareGrid grid = small_grid();
  grid.algos = {AlgorithmSpec::parse("asgd")};
  grid.lrs = {0.1};
  grid.seeds = {3};
  grid.evals_per_epoch = 0;  // the base's: once per epoch
  Seen seen;
  run_comparison(mlp, digits.train(), digits.test(), tiny_base(), grid, seen.callbacks());
  REQUIRE(seen.points.size() == 1);

  AsyncConfig config = tiny_base();
  config.algorithm = grid.algos[0];
  config.sgd.lr = 0.1f;
  config.sgd.seed = 3;
  std::vector<float> params(mlp.num_params());
  mlp.init_params(params.data(), 3);
  std::vector<Progress> direct;
  const Subset test = digits.test();
  train_async(mlp, digits.train(), &test, config, params.data(),
              [&](const Progress& p) { direct.push_back(p); });
  REQUIRE(seen.points[0].size() == direct.size());
  for (std::size_t i = 0; i < direct.size(); ++i) {
    CHECK(seen.points[0][i].steps == direct[i].steps);
    CHECK(seen.points[0][i].test_accuracy == direct[i].test_accuracy);
    CHECK(seen.points[0][i].train_loss == direct[i].train_loss);
  }
}

TEST_CASE("run_comparison records a diverged rate and does not choose it", "[compare]") {
  const Digits digits;
  CompareGrid grid = small_grid();
  grid.algos = {AlgorithmSpec::parse("dude")};
  grid.lrs = {0.1, 3e38};
  grid.seeds = {0};
  Seen seen;
  const CompareResult result = run_comparison(digits.objective, digits.train(), digits.test(),
                                              tiny_base(), grid, seen.callbacks());
  REQUIRE(seen.results.size() == 2);
  CHECK_FALSE(seen.results[0].diverged);
  CHECK(seen.results[1].diverged);
  CHECK_FALSE(seen.results[1].error.empty());
  CHECK(result.cells[0][1].diverged == 1);
  CHECK_FALSE(result.cells[0][1].eligible());
  CHECK(result.best[0] == 0u);
}

TEST_CASE("run_comparison stops on errors that are not divergence", "[compare]") {
  const Digits digits;
  SECTION("a bad partition, before anything begins") {
    AsyncConfig base = tiny_base();
    base.partition = PartitionSpec::parse("label:11");
    Seen seen;
    CHECK_THROWS_AS(run_comparison(digits.objective, digits.train(), digits.test(), base,
                                   small_grid(), seen.callbacks()),
                    ConfigError);
    CHECK(seen.begins == 0);
  }
  SECTION("no test rows") {
    Seen seen;
    const Subset empty{&digits.data, {}};
    CHECK_THAT(config_error_of([&] {
                 run_comparison(digits.objective, digits.train(), empty, tiny_base(), small_grid(),
                                seen.callbacks());
               }),
               Catch::StartsWith("test"));
    CHECK(seen.begins == 0);
  }
  SECTION("a callback's exception") {
    RunCallbacks callbacks;
    int runs = 0;
    callbacks.on_run_start = [&](const RunInfo&) { ++runs; };
    callbacks.on_progress = [](const RunInfo&, const Progress&) {
      throw std::runtime_error("disk full");
    };
    CHECK_THROWS_WITH(run_comparison(digits.objective, digits.train(), digits.test(), tiny_base(),
                                     small_grid(), callbacks),
                      "disk full");
    CHECK(runs == 1);
  }
}
