// The sparse server engine under stress (run it under ThreadSanitizer), with a server thread
// and with workers that serve: lazy DuDe must keep S equal to the sum of the table, and the
// model equal to x0 - sum_t (lr/n) S_t, exactly, after any interleaving. The engine's workers
// compute real gradients; the checked policy below swaps each for small integers on the same
// rows (so every value is exact in float and double) before lazy DuDe sees it, and keeps a
// dense account of what the rule must give.
#include <catch2/catch.hpp>

#include <thread>

#include "dude/async.hpp"
#include "dude/objective.hpp"
#include "engine/sparse_policy.hpp"
#include "engine/sparse_server_engine.hpp"
#include "test_data.hpp"

using namespace dude;

namespace {

/// Lazy DuDe fed integer gradients on the posts' supports, checked against a dense account on
/// every arrival. apply() runs wherever the engine applies arrivals (the server thread, or a
/// worker holding the engine's lock); nothing here is shared beyond that.
class CheckedLazyDude final : public engine::SparsePolicy {
 public:
  CheckedLazyDude(std::size_t workers, std::size_t rows, std::size_t width, std::size_t tail)
      : initial_(rows * width + tail, 0.0f),
        inner_(engine::make_lazy_dude(workers, rows, width, tail, initial_.data())),
        workers_(workers),
        width_(width),
        tail_(tail),
        sum_(initial_.size(), 0.0),
        x_(initial_.size(), 0.0),
        table_(workers, std::vector<double>(initial_.size(), 0.0)) {}

  std::uint64_t apply(const engine::GradientHeader& from, const engine::SparsePost& g,
                      float lr) override {
    const engine::SparsePost integers = integer_post(from, g);
    std::vector<double>& entry = table_[from.worker];
    std::vector<double> fresh(entry.size(), 0.0);
    for (std::size_t i = 0; i < integers.rows.size(); ++i) {
      for (std::size_t k = 0; k < width_; ++k) {
        fresh[integers.rows[i] * width_ + k] = integers.values[i * width_ + k];
      }
    }
    const std::size_t tail_at = entry.size() - integers.tail.size();
    for (std::size_t k = 0; k < integers.tail.size(); ++k) fresh[tail_at + k] = integers.tail[k];
    const double step = static_cast<double>(lr / static_cast<float>(workers_));
    for (std::size_t p = 0; p < sum_.size(); ++p) {
      sum_[p] += fresh[p] - entry[p];
      x_[p] -= step * sum_[p];
    }
    entry = std::move(fresh);
    const std::uint64_t steps = inner_->apply(from, integers, lr);
    check_rows(integers.rows);
    return steps;
  }
  void read(std::span<const std::uint32_t> rows, float* out_rows, float* out_tail) const override {
    inner_->read(rows, out_rows, out_tail);
  }
  void read_all(float* params) const override { inner_->read_all(params); }
  void running_sum(double* out) const override { inner_->running_sum(out); }
  void save(detail::StateWriter& out) const override { inner_->save(out); }
  void load(detail::StateReader& in) override { inner_->load(in); }

  /// The dense account's model and S.
  const std::vector<double>& expected_model() const { return x_; }
  const std::vector<double>& expected_sum() const { return sum_; }
  std::uint64_t mismatches = 0;  // rows read back off the account
  std::uint64_t checked = 0;

 private:
  /// Values in [-4, 4] that change with the worker, its post and the row.
  engine::SparsePost integer_post(const engine::GradientHeader& from,
                                  const engine::SparsePost& g) const {
    engine::SparsePost out = g;
    const auto value = [&](std::size_t row, std::size_t k) {
      return static_cast<float>(
          static_cast<int>((from.worker * 7 + from.sequence * 3 + row * 5 + k) % 9) - 4);
    };
    for (std::size_t i = 0; i < out.rows.size(); ++i) {
      for (std::size_t k = 0; k < width_; ++k) out.values[i * width_ + k] = value(out.rows[i], k);
    }
    for (std::size_t k = 0; k < out.tail.size(); ++k) out.tail[k] = value(k, 1);
    return out;
  }
  /// The lazy model on the rows just touched must be the account's, exactly.
  void check_rows(const std::vector<std::uint32_t>& rows) {
    std::vector<float> got(rows.size() * width_), tail(tail_);
    inner_->read(rows, got.data(), tail.data());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      for (std::size_t k = 0; k < width_; ++k) {
        mismatches += static_cast<double>(got[i * width_ + k]) != x_[rows[i] * width_ + k];
      }
    }
    checked += rows.size() * width_;
  }

  std::vector<float> initial_;
  std::unique_ptr<engine::SparsePolicy> inner_;
  std::size_t workers_;
  std::size_t width_;
  std::size_t tail_;
  std::vector<double> sum_;                 // S, densely
  std::vector<double> x_;                   // x0 - sum of (lr/n) S so far
  std::vector<std::vector<double>> table_;  // every worker's latest integer gradient
};

}  // namespace

TEST_CASE("sparse engine stress: lazy DuDe keeps S = the table's sum and x on its rule, exactly",
          "[stress][engine][sparse]") {
  const bool workers_serve = GENERATE(false, true);
  const std::size_t workers = GENERATE(std::size_t{1}, std::size_t{4});
  INFO((workers_serve ? "workers serve" : "server thread") << ", " << workers << " workers");
  constexpr std::size_t kFeatures = 64, kClasses = 3, kSteps = 2000;
  const Dataset data = testdata::random_sparse(256, kFeatures, kClasses, 5, 17);
  const Objective objective(ModelSpec::parse("softmax"), kFeatures, kClasses);
  std::vector<std::uint32_t> rows(data.rows());
  for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = static_cast<std::uint32_t>(r);
  AsyncConfig config;
  config.sgd.steps = kSteps;
  config.sgd.batch = 4;
  config.sgd.lr = 1.0f / 1024;  // lr / n a power of two: every step exact
  config.sgd.schedule = Schedule::Constant;
  config.workers = workers;
  const auto shards = partition_rows(data, rows, workers, config.partition, 1);
  engine::RunState run(config, rows.size(), workers + 2);
  CheckedLazyDude policy(workers, kFeatures, kClasses, kClasses);
  engine::SparseServerEngine server(objective, data, shards, run, policy, workers_serve);
  server.start();
  std::vector<float> snapshot(objective.num_params());
  std::uint64_t last_version = 0;
  while (!run.stopping()) {  // the monitor's path: snapshots never go back in version
    const std::uint64_t version = server.snapshot(snapshot.data());
    REQUIRE(version >= last_version);
    last_version = version;
    std::this_thread::yield();
  }
  server.join();
  for (const auto& error : run.errors) REQUIRE_FALSE(error);

  REQUIRE(run.counters.steps.load() == kSteps);
  std::uint64_t arrivals = 0;
  for (std::size_t w = 0; w < workers; ++w) arrivals += run.counters.arrivals[w].load();
  REQUIRE(arrivals == kSteps);  // one step per applied arrival
  CHECK(policy.checked >= kSteps);
  CHECK(policy.mismatches == 0);
  std::vector<double> sum(objective.num_params());
  policy.running_sum(sum.data());
  REQUIRE(sum == policy.expected_sum());
  std::vector<float> model(objective.num_params());
  REQUIRE(server.snapshot(model.data()) == kSteps);
  for (std::size_t p = 0; p < model.size(); ++p) {
    REQUIRE(static_cast<double>(model[p]) == policy.expected_model()[p]);
  }
}
