// The sparse server policies against hand-computed dense references: each arrival's rule,
// applied to a dense copy of the model in double, must give what the policy reads back; and
// DuDe's lazily kept S must equal the sum of the workers' latest gradients exactly.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "engine/sparse_policy.hpp"

using namespace dude;
using namespace dude::engine;

namespace {

constexpr std::size_t kRows = 40, kWidth = 3, kTail = 4, kWorkers = 3;
constexpr std::size_t kParams = kRows * kWidth + kTail;

/// A random sparse gradient with small integer values (exact in float and double).
SparsePost random_post(std::mt19937& rng) {
  SparsePost post;
  std::uniform_int_distribution<int> value(-4, 4);
  for (std::uint32_t row = 0; row < kRows; ++row) {
    if (rng() % 5 == 0) post.rows.push_back(row);
  }
  for (std::size_t i = 0; i < post.rows.size() * kWidth; ++i) {
    post.values.push_back(static_cast<float>(value(rng)));
  }
  for (std::size_t k = 0; k < kTail; ++k) post.tail.push_back(static_cast<float>(value(rng)));
  return post;
}

/// The gradient as a dense vector over every parameter.
std::vector<double> dense_of(const SparsePost& post) {
  std::vector<double> g(kParams, 0.0);
  for (std::size_t i = 0; i < post.rows.size(); ++i) {
    for (std::size_t k = 0; k < kWidth; ++k)
      g[post.rows[i] * kWidth + k] = post.values[i * kWidth + k];
  }
  for (std::size_t k = 0; k < kTail; ++k) g[kRows * kWidth + k] = post.tail[k];
  return g;
}

/// The header of a gradient from `worker` computed at model `version`.
GradientHeader from(std::size_t worker, std::uint64_t version = 0) {
  GradientHeader h;
  h.worker = static_cast<std::uint32_t>(worker);
  h.model_version = version;
  return h;
}

std::vector<float> read_all(SparsePolicy& policy) {
  std::vector<float> x(kParams);
  policy.read_all(x.data());
  return x;
}

}  // namespace

TEST_CASE("sparse DuDe: x follows x -= (lr/n) S on every arrival, and S is the table's sum",
          "[sparse][policy]") {
  std::mt19937 rng(17);
  std::vector<float> model(kParams);
  for (std::size_t i = 0; i < kParams; ++i) model[i] = 0.25f * static_cast<float>(i % 9);
  const auto policy = make_sparse_policy(AlgorithmSpec::parse("dude"), kWorkers, kRows, kWidth,
                                         kTail, model.data());
  std::vector<double> x(model.begin(), model.end());
  std::vector<std::vector<double>> table(kWorkers, std::vector<double>(kParams, 0.0));
  for (int step = 0; step < 300; ++step) {
    const std::size_t worker = rng() % kWorkers;
    const SparsePost post = random_post(rng);
    const float lr = 0.001f * static_cast<float>(1 + step % 7);  // a rate that changes
    policy->apply(from(worker), post, lr);
    table[worker] = dense_of(post);
    std::vector<double> sum(kParams, 0.0);
    for (const auto& entry : table) {
      for (std::size_t p = 0; p < kParams; ++p) sum[p] += entry[p];
    }
    const double scale = static_cast<double>(lr / static_cast<float>(kWorkers));
    for (std::size_t p = 0; p < kParams; ++p) x[p] -= scale * sum[p];
    std::vector<double> s(kParams);
    policy->running_sum(s.data());
    REQUIRE(s == sum);  // integers: exact
    const std::vector<float> read = read_all(*policy);
    for (std::size_t p = 0; p < kParams; ++p) {
      INFO("step " << step << " parameter " << p);
      REQUIRE(read[p] == Approx(x[p]).margin(1e-5));
    }
  }
  // A read of some rows is the same as the whole read's.
  const std::vector<float> whole = read_all(*policy);
  const std::vector<std::uint32_t> rows = {3, 17, 39};
  std::vector<float> some(rows.size() * kWidth), tail(kTail);
  policy->read(rows, some.data(), tail.data());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    for (std::size_t k = 0; k < kWidth; ++k)
      CHECK(some[i * kWidth + k] == whole[rows[i] * kWidth + k]);
  }
  for (std::size_t k = 0; k < kTail; ++k) CHECK(tail[k] == whole[kRows * kWidth + k]);
}

TEST_CASE("a sparse policy's model lives in the caller's buffer, made current by read_all",
          "[sparse][policy]") {
  const std::string algo = GENERATE(as<std::string>{}, "dude", "asgd");
  INFO(algo);
  std::mt19937 rng(23);
  std::vector<float> model(kParams, 0.5f);
  const auto policy =
      make_sparse_policy(AlgorithmSpec::parse(algo), kWorkers, kRows, kWidth, kTail, model.data());
  for (int arrival = 0; arrival < 40; ++arrival) {
    policy->apply(from(arrival % kWorkers), random_post(rng), 0.003f);
  }
  // asgd steps the buffer itself; DuDe keeps values of older steps in it until read_all.
  const std::vector<float> elsewhere = read_all(*policy);
  if (algo == "asgd") CHECK(model == elsewhere);
  policy->read_all(model.data());
  CHECK(model == elsewhere);              // bit for bit: the same rounding of the same values
  CHECK(read_all(*policy) == elsewhere);  // and bringing the rows up changed no value
}

TEST_CASE("sparse asgd, sync and fedbuff follow their rules exactly", "[sparse][policy]") {
  const std::string algo = GENERATE(as<std::string>{}, "asgd", "sync", "fedbuff:2");
  INFO(algo);
  std::mt19937 rng(5);
  std::vector<float> model(kParams, 1.0f);
  const AlgorithmSpec spec = AlgorithmSpec::parse(algo);
  const auto policy = make_sparse_policy(spec, kWorkers, kRows, kWidth, kTail, model.data());
  // lr 0.75 and integer gradients: lr / 1, / 2 and / 3 and every value are exact in float.
  const float lr = 0.75f;
  const std::size_t group = algo == "asgd" ? 1 : algo == "sync" ? kWorkers : 2;
  std::vector<double> x(model.begin(), model.end()), pending(kParams, 0.0);
  std::size_t in_group = 0;
  for (int arrival = 0; arrival < 60; ++arrival) {
    const SparsePost post = random_post(rng);
    const std::uint64_t steps = policy->apply(from(arrival % kWorkers), post, lr);
    const std::vector<double> g = dense_of(post);
    for (std::size_t p = 0; p < kParams; ++p) pending[p] += g[p];
    const bool step = ++in_group == group;
    CHECK(steps == (step ? 1u : 0u));
    if (step) {
      for (std::size_t p = 0; p < kParams; ++p)
        x[p] -= 0.75 / static_cast<double>(group) * pending[p];
      std::fill(pending.begin(), pending.end(), 0.0);
      in_group = 0;
    }
    const std::vector<float> read = read_all(*policy);
    for (std::size_t p = 0; p < kParams; ++p) REQUIRE(read[p] == static_cast<float>(x[p]));
  }
}

TEST_CASE("sparse asgd-da scales each step by min(1, C / delay)", "[sparse][policy]") {
  std::mt19937 rng(11);
  std::vector<float> model(kParams, 1.0f);
  // C = 2; gradients read at versions 0, 0, 0, 1, 4, 0 arrive at versions 0..5: delays 0, 1,
  // 2, 2, 0, 5; factors 1, 1, 1, 1, 1, 2/5.
  const auto policy = make_sparse_policy(AlgorithmSpec::parse("asgd-da:2"), kWorkers, kRows, kWidth,
                                         kTail, model.data());
  const std::vector<std::uint64_t> read = {0, 0, 0, 1, 4, 0};
  const std::vector<double> factor = {1, 1, 1, 1, 1, 2.0 / 5.0};
  std::vector<double> x(model.begin(), model.end());
  for (std::size_t arrival = 0; arrival < read.size(); ++arrival) {
    const SparsePost post = random_post(rng);
    CHECK(policy->apply(from(arrival % kWorkers, read[arrival]), post, 0.75f) == 1);
    const std::vector<double> g = dense_of(post);
    const double scale = static_cast<double>(0.75f * static_cast<float>(factor[arrival]));
    for (std::size_t p = 0; p < kParams; ++p) x[p] -= scale * g[p];
    const std::vector<float> now = read_all(*policy);
    for (std::size_t p = 0; p < kParams; ++p) {
      INFO("arrival " << arrival << " parameter " << p);
      REQUIRE(now[p] == Approx(x[p]).margin(1e-5));
    }
  }
}

TEST_CASE("ringleader and malenia refuse sparse data by name", "[sparse][policy]") {
  std::vector<float> model(kParams, 0.0f);
  for (const char* algo : {"ringleader", "malenia"}) {
    CHECK_THROWS_WITH(make_sparse_policy(AlgorithmSpec::parse(algo), kWorkers, kRows, kWidth, kTail,
                                         model.data()),
                      Catch::Contains(algo) && Catch::Contains("dense data only"));
  }
}

TEST_CASE("sparse DuDe keeps S on the rows its table covers, through growth and removals",
          "[sparse][policy]") {
  // Posts of about 700 of 20,000 rows from 4 workers: up to ~2,800 rows carry S at once, so
  // the active rows' table grows from 1,024 slots several times, and every replaced post
  // removes the rows no other covers. Integer gradients: S must be the table's sum exactly.
  constexpr std::size_t kManyRows = 20000, kNarrow = 2, kShortTail = 1, kFour = 4;
  constexpr std::size_t kAll = kManyRows * kNarrow + kShortTail;
  std::mt19937 rng(29);
  std::uniform_int_distribution<int> value(-3, 3);
  std::vector<float> model(kAll, 0.5f);
  const auto policy = make_sparse_policy(AlgorithmSpec::parse("dude"), kFour, kManyRows, kNarrow,
                                         kShortTail, model.data());
  std::vector<double> x(model.begin(), model.end()), sum(kAll, 0.0);
  std::vector<std::vector<double>> table(kFour, std::vector<double>(kAll, 0.0));
  for (int step = 0; step < 120; ++step) {
    const std::size_t worker = rng() % kFour;
    SparsePost post;
    for (std::uint32_t row = 0; row < kManyRows; ++row) {
      if (rng() % 29 == 0) post.rows.push_back(row);
    }
    for (std::size_t i = 0; i < post.rows.size() * kNarrow; ++i) {
      post.values.push_back(static_cast<float>(value(rng)));
    }
    post.tail.push_back(1.0f);
    const float lr = 0.125f;  // lr / 4 a power of two: every step exact
    policy->apply(from(worker), post, lr);
    std::vector<double> fresh(kAll, 0.0);
    for (std::size_t i = 0; i < post.rows.size(); ++i) {
      for (std::size_t k = 0; k < kNarrow; ++k) {
        fresh[post.rows[i] * kNarrow + k] = post.values[i * kNarrow + k];
      }
    }
    fresh[kAll - 1] = 1.0;
    for (std::size_t p = 0; p < kAll; ++p) {
      sum[p] += fresh[p] - table[worker][p];
      x[p] -= (0.125 / 4) * sum[p];
    }
    table[worker] = std::move(fresh);
    std::vector<double> s(kAll);
    policy->running_sum(s.data());
    REQUIRE(s == sum);
    std::vector<float> read(kAll);
    policy->read_all(read.data());
    for (std::size_t p = 0; p < kAll; ++p) REQUIRE(static_cast<double>(read[p]) == x[p]);
  }
}
