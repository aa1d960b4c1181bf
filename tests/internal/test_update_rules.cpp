// Each server rule against a hand-computed reference: binary logistic regression with two
// features on six rows, every minibatch a worker's whole shard (so the sampler's order does not
// matter), a deterministic replay with fixed compute times (so the arrival order is known), and
// the expected parameters computed here in double from the rule as docs/DESIGN.md §1 states it.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <vector>

#include "dude/async.hpp"
#include "dude/partition.hpp"
#include "engine/policy.hpp"

using namespace dude;

namespace {

using Params = std::array<double, 3>;  // w0, w1, b

constexpr std::size_t kRows = 6;
constexpr std::array<std::array<float, 2>, kRows> kFeatures = {
    {{1.0f, 0.5f}, {-0.5f, 1.5f}, {2.0f, -1.0f}, {0.3f, 0.8f}, {-1.2f, -0.4f}, {0.7f, 2.0f}}};
constexpr std::array<std::uint32_t, kRows> kLabels = {1, 0, 1, 0, 1, 0};
constexpr Params kInitial = {0.2, -0.1, 0.05};
constexpr float kLr = 0.5f;

Dataset tiny_data() {
  std::vector<float> x;
  for (const auto& row : kFeatures) x.insert(x.end(), row.begin(), row.end());
  return Dataset::dense(2, 2, std::move(x), {kLabels.begin(), kLabels.end()});
}

/// The gradient of the mean loss -log p(y) over `rows`, p = sigmoid(w.x + b), written out.
Params logistic_gradient(const Params& model, const std::vector<std::uint32_t>& rows) {
  Params g{};
  for (const std::uint32_t r : rows) {
    const double z = model[0] * kFeatures[r][0] + model[1] * kFeatures[r][1] + model[2];
    const double residual = 1.0 / (1.0 + std::exp(-z)) - kLabels[r];
    g[0] += residual * kFeatures[r][0];
    g[1] += residual * kFeatures[r][1];
    g[2] += residual;
  }
  for (double& v : g) v /= static_cast<double>(rows.size());
  return g;
}

/// x - scale * g.
Params step(const Params& x, double scale, const Params& g) {
  return {x[0] - scale * g[0], x[1] - scale * g[1], x[2] - scale * g[2]};
}
Params sum(const Params& a, const Params& b) { return {a[0] + b[0], a[1] + b[1], a[2] + b[2]}; }

/// One gradient as it reaches the server: who computed it, at which model version.
struct Arrival {
  std::size_t worker;
  std::size_t read;
};

/// What a run reported: its final parameters and every progress point.
struct Outcome {
  std::vector<float> params;
  std::vector<Progress> points;
};

struct Case {
  std::string algorithm;
  std::size_t workers;
  std::vector<double> slowdown;
  std::size_t arrivals;  // the budget, so that a rule that never steps still ends
  bool warm_start = true;
  bool deterministic = true;
};

/// The rows each worker owns, as train_async partitions them (iid, seed 1).
std::vector<std::vector<std::uint32_t>> shards_of(const Dataset& data, std::size_t workers) {
  return partition_rows(data, all_rows(data.rows()), workers, PartitionSpec{}, 1);
}

/// Runs train_async with constant steps of kLr, a point after every step, each minibatch a
/// whole shard (the iid shards of six rows are equal), compute times fixed at the slowdowns and
/// a budget of `arrivals` minibatches (in epochs of samples).
Outcome run(const Case& c) {
  const Dataset data = tiny_data();
  const Objective objective(ModelSpec::parse("logreg"), 2, 2);
  AsyncConfig config;
  config.algorithm = AlgorithmSpec::parse(c.algorithm);
  config.workers = c.workers;
  config.slowdown = c.slowdown;
  config.warm_start = c.warm_start;
  config.deterministic = c.deterministic;
  config.compute_time.kind = ComputeTime::Kind::Fixed;
  config.sgd.seed = 1;
  config.sgd.batch = kRows / c.workers;
  config.sgd.epochs = static_cast<double>(c.arrivals) / static_cast<double>(c.workers);
  config.sgd.lr = kLr;
  config.sgd.schedule = Schedule::Constant;
  config.sgd.eval_every = 1;
  config.sgd.tick_seconds = 0;
  Outcome out{{kInitial.begin(), kInitial.end()}, {}};
  const std::vector<std::uint32_t> rows = all_rows(data.rows());
  train_async(objective, Subset{&data, rows}, nullptr, config, out.params.data(),
              [&](const Progress& p) { out.points.push_back(p); });
  return out;
}

/// The kernels compute in float: each coordinate agrees to a relative 1e-5, or to 1e-6 where
/// it is near zero and float rounding is relative to the terms rather than the result.
void check_params(const std::vector<float>& actual, const Params& expected) {
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("parameter " << i);
    CHECK(actual[i] == Approx(expected[i]).epsilon(1e-5).margin(1e-6));
  }
}

/// What a point reports: the steps, the staleness (the mean over the arrivals since the
/// previous point, the maximum so far) and the arrivals per worker since the start.
struct Window {
  std::uint64_t steps;
  double mean;
  std::uint64_t max;
  std::vector<std::uint64_t> arrivals;
};

void check_points(const std::vector<Progress>& points, const std::vector<Window>& expected) {
  REQUIRE(points.size() == expected.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    INFO("point " << i);
    CHECK(points[i].steps == expected[i].steps);
    CHECK(points[i].staleness_mean == expected[i].mean);
    CHECK(points[i].staleness_max == expected[i].max);
    CHECK(points[i].arrivals == expected[i].arrivals);
  }
  CHECK(points.back().final);
}

/// Hands `part` to the policy as one round, as the threaded server does, with its coordinate
/// work split in two ranges, [0, 1) and the rest, as the fold team may split it; x becomes the
/// round's model when it steps. Returns the round's steps.
std::uint64_t round_in_two_ranges(engine::ServerPolicy& policy,
                                  std::span<const engine::Arrival> part, std::vector<float>& x) {
  std::vector<float> next(x.size(), 0.0f);
  const std::uint64_t steps = policy.begin_round(part);
  policy.apply_range(part, x.data(), next.data(), kLr, 0, 1);
  policy.apply_range(part, x.data(), next.data(), kLr, 1, x.size());
  if (steps > 0) x = next;
  return steps;
}

/// Models by version for a rule that steps on every arrival: models[v + 1] = rule(models, a_v).
template <class Rule>
std::vector<Params> replay_by_hand(const std::vector<Arrival>& arrivals, Rule&& rule) {
  std::vector<Params> models{kInitial};
  for (const Arrival& a : arrivals) models.push_back(rule(models, a));
  return models;
}

// Two workers, slowdowns 1 and 2.5: worker 0 arrives at t = 1, 2, 3, worker 1 at 2.5. Each
// starts again on the model its arrival produced, so worker 0 reads versions 0, 1, 2 and
// worker 1 version 0. Staleness: the steps the server took between the read and the arrival.
const std::vector<Arrival> kTwoWorkers = {{0, 0}, {0, 1}, {1, 0}, {0, 2}};
const std::vector<Window> kTwoWorkersPoints = {
    {1, 0, 0, {1, 0}}, {2, 0, 0, {2, 0}}, {3, 2, 2, {2, 1}}, {4, 1, 2, {3, 1}}};

}  // namespace

TEST_CASE("update rules: asgd steps x -= lr g in arrival order", "[rules]") {
  const Dataset data = tiny_data();
  const auto shards = shards_of(data, 2);
  const auto models = replay_by_hand(kTwoWorkers, [&](const auto& m, const Arrival& a) {
    return step(m.back(), kLr, logistic_gradient(m[a.read], shards[a.worker]));
  });
  const Outcome out = run({"asgd", 2, {1.0, 2.5}, 4});
  check_params(out.params, models.back());
  check_points(out.points, kTwoWorkersPoints);
}

TEST_CASE("update rules: dude steps x -= (lr/n) S over the newest gradient of each worker",
          "[rules]") {
  const Dataset data = tiny_data();
  const auto shards = shards_of(data, 2);
  const bool warm = GENERATE(true, false);
  INFO("warm start " << warm);
  // The table: warm, each worker's gradient at x0; cold, zeros (a first arrival adds its whole
  // gradient, and the step is still scaled by 1/n).
  std::vector<Params> table(2, Params{});
  if (warm) {
    for (std::size_t w = 0; w < 2; ++w) table[w] = logistic_gradient(kInitial, shards[w]);
  }
  const auto models = replay_by_hand(kTwoWorkers, [&](const auto& m, const Arrival& a) {
    table[a.worker] = logistic_gradient(m[a.read], shards[a.worker]);
    return step(m.back(), kLr / 2.0, sum(table[0], table[1]));
  });
  const Outcome out = run({"dude", 2, {1.0, 2.5}, 4, warm});
  check_params(out.params, models.back());
  check_points(out.points, kTwoWorkersPoints);
}

TEST_CASE("update rules: hogwild with one worker is sgd, threaded or replayed", "[rules]") {
  const Dataset data = tiny_data();
  const auto shards = shards_of(data, 1);
  const bool deterministic = GENERATE(true, false);
  INFO("deterministic " << deterministic);
  const std::vector<Arrival> arrivals = {{0, 0}, {0, 1}, {0, 2}};
  const auto models = replay_by_hand(arrivals, [&](const auto& m, const Arrival& a) {
    return step(m.back(), kLr, logistic_gradient(m[a.read], shards[0]));
  });
  Case c{"hogwild", 1, {}, 3};
  c.deterministic = deterministic;
  const Outcome out = run(c);
  check_params(out.params, models.back());
  // A threaded run's intermediate points depend on when the monitor looks; the last is exact.
  REQUIRE_FALSE(out.points.empty());
  CHECK(out.points.back().steps == 3);
  CHECK(out.points.back().staleness_max == 0);
  CHECK(out.points.back().arrivals == std::vector<std::uint64_t>{3});
  if (deterministic) check_points(out.points, {{1, 0, 0, {1}}, {2, 0, 0, {2}}, {3, 0, 0, {3}}});
}

TEST_CASE("update rules: sync steps x -= (lr/n) times the sum of one gradient per worker",
          "[rules]") {
  const Dataset data = tiny_data();
  const auto shards = shards_of(data, 3);
  // Every round waits for all three, each computed at the model of the previous round.
  std::vector<Params> models{kInitial};
  for (int round = 0; round < 2; ++round) {
    const Params& x = models.back();
    Params total{};
    for (std::size_t w = 0; w < 3; ++w) total = sum(total, logistic_gradient(x, shards[w]));
    models.push_back(step(x, kLr / 3.0, total));
  }
  const Outcome out = run({"sync", 3, {1.0, 1.4, 2.5}, 6});
  check_params(out.params, models.back());
  check_points(out.points, {{1, 0, 0, {1, 1, 1}}, {2, 0, 0, {2, 2, 2}}});
}

TEST_CASE("update rules: fedbuff:2 flushes every second arrival and carries the buffer",
          "[rules]") {
  const Dataset data = tiny_data();
  const auto shards = shards_of(data, 3);
  // Slowdowns 1, 1.4, 2.5: arrivals at t = 1 (w0), 1.4 (w1), 2 (w0), 2.5 (w2), 2.8 (w1), 3 (w0).
  // A flush is a step; an arrival that does not flush leaves the model (and its version) as it
  // is, and its worker starts again on that same model. Each replayed round is one arrival, so
  // every first half of a flush is the buffer carried over from an earlier round.
  const std::vector<Arrival> arrivals = {{0, 0}, {1, 0}, {0, 0}, {2, 0}, {1, 1}, {0, 1}};
  std::vector<Params> models{kInitial};
  Params buffer{};
  for (std::size_t i = 0; i < arrivals.size(); ++i) {
    const Arrival& a = arrivals[i];
    buffer = sum(buffer, logistic_gradient(models[a.read], shards[a.worker]));
    if (i % 2 == 0) continue;
    models.push_back(step(models.back(), kLr / 2.0, buffer));
    buffer = {};
  }
  const Outcome out = run({"fedbuff:2", 3, {1.0, 1.4, 2.5}, 6});
  check_params(out.params, models.back());
  // Staleness per arrival: 0, 0 | 1, 1 | 1, 1 (a point follows each flush).
  check_points(out.points, {{1, 0, 0, {1, 1, 0}}, {2, 1, 1, {2, 1, 1}}, {3, 1, 1, {3, 2, 1}}});
}

TEST_CASE("update rules: fedbuff:2 rounds of several arrivals flush from the carried count",
          "[rules]") {
  // The threaded server hands a policy whole rounds; the replay above gives it one arrival at a
  // time. One arrival carried from round 1 and three in round 2 make two flushes in round 2,
  // each of two gradients in arrival order. Gradients and steps are exact in float.
  auto policy = engine::make_policy(AlgorithmSpec::parse("fedbuff:2"), 3, 3);
  const std::vector<std::vector<float>> g = {
      {1, 2, -1}, {0.5f, -2, 4}, {-3, 1, 0.25f}, {2, 2, 2}, {-1, 0.5f, 1}};
  std::vector<engine::GradientHeader> headers(g.size());
  std::vector<engine::Arrival> all;
  for (std::size_t i = 0; i < g.size(); ++i) {
    headers[i].worker = static_cast<std::uint32_t>(i % 3);
    all.push_back({g[i].data(), &headers[i]});
  }
  std::vector<float> x = {0.5f, -0.25f, 1};
  auto round = [&](std::size_t first, std::size_t count) {
    return round_in_two_ranges(*policy, std::span<const engine::Arrival>(all).subspan(first, count),
                               x);
  };
  std::vector<float> expected = x;
  auto flush = [&](std::size_t a, std::size_t b) {
    for (std::size_t i = 0; i < 3; ++i) expected[i] -= kLr / 2 * (g[a][i] + g[b][i]);
  };
  CHECK(round(0, 1) == 0);
  CHECK(round(1, 3) == 2);
  flush(0, 1);
  flush(2, 3);
  CHECK(x == expected);
  CHECK(round(4, 1) == 0);  // carried again: one arrival in the buffer, no step
  CHECK(x == expected);
}

TEST_CASE("update rules: asgd-da:1 scales a step by min(1, 1 / delay)", "[rules]") {
  const Dataset data = tiny_data();
  const auto shards = shards_of(data, 2);
  // The asgd arrivals (delays 0, 0, 2, 1): only the third step, two steps late, is halved.
  std::size_t arrival = 0;
  const auto models = replay_by_hand(kTwoWorkers, [&](const auto& m, const Arrival& a) {
    const double factor = arrival++ == 2 ? 0.5 : 1.0;
    return step(m.back(), kLr * factor, logistic_gradient(m[a.read], shards[a.worker]));
  });
  const Outcome out = run({"asgd-da:1", 2, {1.0, 2.5}, 4});
  check_params(out.params, models.back());
  check_points(out.points, kTwoWorkersPoints);
  // With C = n = 2 (the default) no delay here exceeds C: asgd's model exactly.
  CHECK(run({"asgd-da", 2, {1.0, 2.5}, 4}).params == run({"asgd", 2, {1.0, 2.5}, 4}).params);
}

// Two workers, slowdowns 1 and 2.5, for the rules that do not step on every arrival: worker 0
// arrives at t = 1, 2, 3, 4, 5, worker 1 at 2.5 and 5 (after worker 0 at the tie). An arrival
// that does not step leaves the model and its version as they are.

TEST_CASE("update rules: ringleader fills its table, then refreshes each entry once a round",
          "[rules]") {
  const Dataset data = tiny_data();
  const auto shards = shards_of(data, 2);
  auto g = [&](std::size_t w, const Params& x) { return logistic_gradient(x, shards[w]); };
  // t = 1, 2: worker 0 buffers two gradients at x0. t = 2.5: worker 1's first completes the
  // table, each entry its worker's mean (two equal gradients for worker 0): step 1. t = 3:
  // worker 0 (read x0 at t = 2) refreshes its entry: step 2. t = 4, 5: worker 0, already
  // refreshed this round, buffers. t = 5: worker 1 (read x1) refreshes: step 3, and the round
  // is over.
  std::vector<Params> x{kInitial};
  Params entry0 = g(0, x[0]), entry1 = g(1, x[0]);
  x.push_back(step(x[0], kLr / 2.0, sum(entry0, entry1)));
  entry0 = g(0, x[0]);
  x.push_back(step(x[1], kLr / 2.0, sum(entry0, entry1)));
  entry1 = g(1, x[1]);
  x.push_back(step(x[2], kLr / 2.0, sum(entry0, entry1)));
  const Outcome out = run({"ringleader", 2, {1.0, 2.5}, 7});
  check_params(out.params, x.back());
  CHECK(out.points.back().steps == 3);
  CHECK(out.points.back().arrivals == std::vector<std::uint64_t>{5, 2});
}

TEST_CASE("update rules: ringleader's next round takes the mean of the buffered gradients",
          "[rules]") {
  // Rounds handed to the policy whole, as the threaded server does, split over two ranges of
  // coordinates; gradients exact in float, so the expected model is exact too.
  auto policy = engine::make_policy(AlgorithmSpec::parse("ringleader"), 2, 2);
  const std::vector<std::vector<float>> g = {{1, 2}, {4, -2}, {3, 6}, {-1, 1}, {2, 4}, {6, 0}};
  const std::vector<std::uint32_t> worker = {0, 1, 0, 0, 0, 1};
  std::vector<engine::GradientHeader> headers(g.size());
  std::vector<engine::Arrival> all;
  for (std::size_t i = 0; i < g.size(); ++i) {
    headers[i].worker = worker[i];
    all.push_back({g[i].data(), &headers[i]});
  }
  std::vector<float> x = {0.5f, -0.25f};
  auto round = [&](std::size_t first, std::size_t count) {
    return round_in_two_ranges(*policy, std::span<const engine::Arrival>(all).subspan(first, count),
                               x);
  };
  std::vector<float> expected = x;
  auto take = [&](const std::vector<float>& s) {
    for (std::size_t i = 0; i < 2; ++i) expected[i] -= kLr / 2 * s[i];
  };
  // Round 1: g0 (w0) then g1 (w1) fill the table: S = g0 + g1, one step.
  CHECK(round(0, 2) == 1);
  take({5, 0});
  CHECK(x == expected);
  // g2 (w0): worker 0 refreshes with g2 alone and steps: S = g2 + g1. g3 (w0): buffered.
  CHECK(round(2, 2) == 1);
  take({7, 4});
  CHECK(x == expected);
  // g4 (w0): still buffered (worker 0 refreshed this round). g5 (w1): worker 1 refreshes, the
  // round ends: S = g2 + g5.
  CHECK(round(4, 2) == 1);
  take({9, 6});
  CHECK(x == expected);
  // The next round: worker 0's entry becomes the mean of g3, g4 and this g: ((-1+2+3)/3,
  // (1+4+6)/3) = (4/3, 11/3); S = that + g5.
  CHECK(round(2, 1) == 1);  // g2's values again, as a new arrival of worker 0
  CHECK(policy->table_entry(0)[0] == Approx(4.0 / 3.0));
  CHECK(policy->table_entry(0)[1] == Approx(11.0 / 3.0));
  const auto s = policy->running_sum();
  CHECK(s[0] == Approx(4.0 / 3.0 + 6.0));
  CHECK(s[1] == Approx(11.0 / 3.0));
  take({4.0f / 3.0f + 6.0f, 11.0f / 3.0f});
  for (std::size_t i = 0; i < 2; ++i) CHECK(x[i] == Approx(expected[i]));
}

TEST_CASE(
    "update rules: malenia steps on a harmonic batch at the current model and discards "
    "older gradients",
    "[rules]") {
  const Dataset data = tiny_data();
  const auto shards = shards_of(data, 2);
  auto g = [&](std::size_t w, const Params& x) { return logistic_gradient(x, shards[w]); };
  // S = 1. t = 1, 2: worker 0 adds two gradients at x0 (b0 = 2). t = 2.5: worker 1's at x0
  // (b1 = 1): harmonic mean 4/3 >= 1, step 1 = (lr/2)(mean of worker 0's + worker 1's).
  // t = 3: worker 0's gradient read x0 at t = 2: discarded. t = 4, 5: worker 0 at x1 (b0 = 2);
  // t = 5: worker 1 at x1: step 2.
  std::vector<Params> x{kInitial};
  x.push_back(step(x[0], kLr / 2.0, sum(g(0, x[0]), g(1, x[0]))));
  x.push_back(step(x[1], kLr / 2.0, sum(g(0, x[1]), g(1, x[1]))));
  const Outcome out = run({"malenia", 2, {1.0, 2.5}, 7});
  check_params(out.params, x.back());
  CHECK(out.points.back().steps == 2);
  // S = 2: b0 = 2, b1 = 1 (harmonic mean 4/3) is not enough. Without a step every gradient is
  // at x0 and counts: at t = 5, b0 = 5 and b1 = 2 (harmonic mean 20/7): the only step.
  const Outcome bigger = run({"malenia:2", 2, {1.0, 2.5}, 7});
  CHECK(bigger.points.back().steps == 1);
  check_params(bigger.params, x[1]);
}
