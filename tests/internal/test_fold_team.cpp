// The server's fold team (engine/fold_team.hpp): every coordinate folded exactly once a
// round by exactly one member or guest, and every policy split into chunks giving the model
// of the one-thread fold bit for bit. Tagged [stress] so the ThreadSanitizer build runs them:
// members write plain (non-atomic) memory, so overlapping ranges or a missing happens-before
// edge would be reported.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <span>
#include <thread>
#include <vector>

#include "dude/async.hpp"
#include "engine/fold_team.hpp"
#include "engine/policy.hpp"

using namespace dude;

namespace {

/// Bit-for-bit equality of two arrays. Not memcmp alone: an empty span's data() may be null,
/// and memcmp on a null pointer is undefined even for zero bytes (UBSan flags it).
template <class T>
bool same_bits(std::span<const T> a, std::span<const T> b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size_bytes()) == 0);
}

/// Threads that call help() in a loop, as waiting workers do, until destroyed; they join
/// rounds at any point.
class Guests {
 public:
  Guests(engine::FoldTeam& team, std::size_t count) {
    for (std::size_t g = 0; g < count; ++g) {
      threads_.emplace_back([this, &team] {
        while (!stop_.load(std::memory_order_relaxed)) {
          if (!team.help()) std::this_thread::yield();
        }
      });
    }
  }
  Guests(const Guests&) = delete;
  Guests& operator=(const Guests&) = delete;
  ~Guests() {
    stop_.store(true, std::memory_order_relaxed);
    for (std::thread& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace

TEST_CASE("fold team: each round folds every coordinate exactly once, with helpers and guests",
          "[stress][fold]") {
  // 1000 is not a multiple of the 64-float chunk: the last chunk is short.
  const std::size_t n = 1000;
  const std::size_t members = GENERATE(1, 2, 7);
  const std::size_t guests = GENERATE(0, 3);
  INFO(members << " members, " << guests << " guests");
  const int rounds = 2000;
  engine::FoldTeam team(members, n, 64, 64);
  REQUIRE(team.size() == members);
  REQUIRE(team.chunks() == 16);
  std::vector<int> visits(n, 0);
  std::atomic<std::uint64_t> chunks_folded{0};
  const Guests guest_threads(team, guests);
  for (int r = 0; r < rounds; ++r) {
    team.run([&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) ++visits[i];  // plain writes: no overlap allowed
      chunks_folded.fetch_add(1, std::memory_order_relaxed);
    });
    // Every chunk's writes are visible to the caller as soon as run() returns.
    REQUIRE(visits[n - 1] == r + 1);
    REQUIRE(visits[0] == r + 1);
    REQUIRE(chunks_folded.load(std::memory_order_relaxed) == (r + 1) * team.chunks());
  }
  for (std::size_t i = 0; i < n; ++i) REQUIRE(visits[i] == rounds);
}

TEST_CASE("fold team: chunk sizes", "[fold]") {
  // About 16 chunks, between 1024 and 4096 floats, whole cache lines.
  REQUIRE(engine::FoldTeam::default_chunk(1000) == 1024);
  REQUIRE(engine::FoldTeam::default_chunk(101770) == 4096);
  REQUIRE(engine::FoldTeam::default_chunk(20000) == 1264);
  engine::FoldTeam one_chunk(1, 1000, 64);
  REQUIRE(one_chunk.chunks() == 1);
  engine::FoldTeam lines(1, 1000, 64, 70);  // rounded up to 80 floats
  REQUIRE(lines.chunks() == 13);
}

TEST_CASE("fold team: a split fold equals the one-thread fold bit for bit", "[stress][fold]") {
  const std::string algorithm =
      GENERATE("dude", "asgd", "sync", "fedbuff:3", "ringleader", "malenia", "asgd-da:2");
  INFO("algorithm " << algorithm);
  constexpr std::size_t kWorkers = 5, kParams = 1234;
  const AlgorithmSpec spec = AlgorithmSpec::parse(algorithm);
  auto alone = engine::make_policy(spec, kWorkers, kParams);
  auto split = engine::make_policy(spec, kWorkers, kParams);
  engine::FoldTeam team(3, kParams, 64, 64);
  const Guests guest(team, 1);  // claims chunks too, as a waiting worker does
  std::mt19937 rng(21);
  std::normal_distribution<float> normal;
  std::vector<float> x_alone(kParams), x_split(kParams), out_alone(kParams), out_split(kParams);
  for (float& v : x_alone) v = normal(rng);
  x_split = x_alone;
  std::vector<std::vector<float>> gradients(kWorkers, std::vector<float>(kParams));
  std::vector<engine::GradientHeader> headers(kWorkers);
  std::uint64_t version = 0;
  for (int round = 0; round < 200; ++round) {
    // Sync takes one gradient from every worker; the others a random non-empty subset.
    std::vector<engine::Arrival> arrivals;
    for (std::size_t w = 0; w < kWorkers; ++w) {
      if (spec.kind != AlgorithmSpec::Kind::Sync && rng() % 2 == 0) continue;
      for (float& v : gradients[w]) v = normal(rng);
      headers[w].worker = static_cast<std::uint32_t>(w);
      // Mostly the current model, sometimes an older one (malenia discards those, asgd-da
      // scales them down).
      const std::uint64_t back = rng() % 4 == 0 ? 1 : 0;
      headers[w].model_version = version - std::min(version, back);
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
    version += steps_alone;
    if (steps_alone > 0) {
      x_alone = out_alone;
      x_split = out_split;
    }
    REQUIRE(std::memcmp(x_alone.data(), x_split.data(), kParams * sizeof(float)) == 0);
  }
  const auto sum_alone = alone->running_sum();
  const auto sum_split = split->running_sum();
  REQUIRE(same_bits(sum_alone, sum_split));
  for (std::size_t w = 0; w < kWorkers; ++w) {
    const auto a = alone->table_entry(w), b = split->table_entry(w);
    REQUIRE(same_bits(a, b));
  }
}
