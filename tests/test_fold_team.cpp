// The server's fold team (engine/fold_team.hpp): every coordinate folded exactly once a
// round by exactly one member, and every policy split over coordinates giving the model of
// the one-thread fold bit for bit. Tagged [stress] so the ThreadSanitizer build runs them:
// members write plain (non-atomic) memory, so overlapping ranges or a missing happens-before
// edge would be reported.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <vector>

#include "dude/async.hpp"
#include "engine/fold_team.hpp"
#include "engine/policy.hpp"

using namespace dude;

TEST_CASE("fold team: each round covers every coordinate exactly once", "[stress][fold]") {
  // 1000 is not a multiple of a cache line of floats; 7 members leave some ranges short.
  const std::size_t n = 1000;
  const std::size_t members = GENERATE(1, 2, 3, 7);
  const int rounds = 2000;
  engine::FoldTeam team(members, n, 64);
  REQUIRE(team.size() == members);
  std::vector<int> visits(n, 0);
  for (int r = 0; r < rounds; ++r) {
    team.run([&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) ++visits[i];  // plain writes: no overlap allowed
    });
    // The members' writes are visible to the caller as soon as run() returns.
    REQUIRE(visits[n - 1] == r + 1);
    REQUIRE(visits[0] == r + 1);
  }
  for (std::size_t i = 0; i < n; ++i) REQUIRE(visits[i] == rounds);
}

TEST_CASE("fold team: a split fold equals the one-thread fold bit for bit", "[stress][fold]") {
  const std::string algorithm = GENERATE("dude", "asgd", "sync", "fedbuff:3");
  INFO("algorithm " << algorithm);
  constexpr std::size_t kWorkers = 5, kParams = 1234;
  const AlgorithmSpec spec = AlgorithmSpec::parse(algorithm);
  auto alone = engine::make_policy(spec, kWorkers, kParams);
  auto split = engine::make_policy(spec, kWorkers, kParams);
  engine::FoldTeam team(3, kParams, 64);
  std::mt19937 rng(21);
  std::normal_distribution<float> normal;
  std::vector<float> x_alone(kParams), x_split(kParams), out_alone(kParams), out_split(kParams);
  for (float& v : x_alone) v = normal(rng);
  x_split = x_alone;
  std::vector<std::vector<float>> gradients(kWorkers, std::vector<float>(kParams));
  std::vector<engine::GradientHeader> headers(kWorkers);
  for (int round = 0; round < 200; ++round) {
    // Sync takes one gradient from every worker; the others a random non-empty subset.
    std::vector<engine::Arrival> arrivals;
    for (std::size_t w = 0; w < kWorkers; ++w) {
      if (spec.kind != AlgorithmSpec::Kind::Sync && rng() % 2 == 0) continue;
      for (float& v : gradients[w]) v = normal(rng);
      headers[w].worker = static_cast<std::uint32_t>(w);
      arrivals.push_back({gradients[w].data(), &headers[w]});
    }
    if (arrivals.empty()) continue;
    const float lr = 0.01f;
    const std::uint64_t steps_alone = alone->apply(arrivals, x_alone.data(), out_alone.data(), lr);
    const std::uint64_t steps_split = split->begin_round(arrivals);
    team.run([&](std::size_t begin, std::size_t end) {
      split->apply_range(arrivals, x_split.data(), out_split.data(), lr, begin, end);
    });
    REQUIRE(steps_split == steps_alone);
    if (steps_alone > 0) {
      x_alone = out_alone;
      x_split = out_split;
    }
    REQUIRE(std::memcmp(x_alone.data(), x_split.data(), kParams * sizeof(float)) == 0);
  }
  const auto sum_alone = alone->running_sum();
  const auto sum_split = split->running_sum();
  REQUIRE(sum_alone.size() == sum_split.size());
  REQUIRE(std::memcmp(sum_alone.data(), sum_split.data(), sum_alone.size() * sizeof(double)) == 0);
  for (std::size_t w = 0; w < kWorkers; ++w) {
    const auto a = alone->table_entry(w), b = split->table_entry(w);
    REQUIRE(a.size() == b.size());
    REQUIRE(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  }
}
