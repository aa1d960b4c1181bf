// The whole engine under stress (run it under ThreadSanitizer): many workers, both slot
// disciplines, integer-valued gradients so that the DuDe invariant S == sum of the table and
// every round's model step hold exactly after any interleaving, and every arrival accounted
// for. Worker counts are powers of two, so that lr/n is one too and every step is exact. The
// sparse server engine likewise, with a server thread and with workers that serve: its workers
// compute real gradients, and a probe swaps each for small integers on the same rows before
// lazy DuDe sees it, keeping a dense account of what the rule must give.
#include <catch2/catch.hpp>

#include <thread>

#include "dude/async.hpp"
#include "dude/objective.hpp"
#include "engine/policy.hpp"
#include "engine/server_engine.hpp"
#include "engine/sparse_server_engine.hpp"
#include "forwarding_sparse_policy.hpp"
#include "test_data.hpp"

using namespace dude;

namespace {

/// Stands in for an Objective: gradients are small integers (exact in float and double) that
/// depend on the minibatch, so every worker posts a changing stream of them.
struct IntegerObjective {
  std::size_t params;
  std::size_t num_params() const { return params; }
  Workspace make_workspace(std::size_t, bool) const { return Workspace{}; }
  double loss_grad(const float* model, const Dataset&, std::span<const std::uint32_t> rows,
                   float* grad, Workspace&) const {
    const auto base = static_cast<int>(rows[0] % 17) - 8;
    for (std::size_t i = 0; i < params; ++i)
      grad[i] = static_cast<float>(base + static_cast<int>(i % 5));
    return static_cast<double>(model[0] == model[0]);  // reads the pinned model; finite
  }
};

/// DuDe with every round's model checked against the rule: from the table and S before the
/// round, S_m = S_{m-1} + g_m - g_old(w_m) after each of its arrivals, and x_out must be
/// x_in - (lr/n) * sum_m S_m exactly. With integer gradients and lr/n a power of two every
/// value is exact in float, so any interleaving must give exactly this; a model never updated,
/// or updated with a stale or partial S, does not. begin_round runs on the server thread;
/// apply_range on disjoint ranges of the fold team's threads, which only read the step.
class CheckedDude : public engine::ServerPolicy {
 public:
  CheckedDude(std::size_t workers, std::size_t params)
      : ServerPolicy(params),
        inner_(engine::make_policy(AlgorithmSpec::parse("dude"), workers, params)),
        workers_(workers),
        step_(params) {}

  std::uint64_t begin_round(std::span<const engine::Arrival> arrivals) override {
    const std::span<const double> sum = inner_->running_sum();
    std::vector<double> s(sum.begin(), sum.end());
    std::fill(step_.begin(), step_.end(), 0.0);
    for (const engine::Arrival& a : arrivals) {
      const std::span<const float> old = inner_->table_entry(a.header->worker);
      for (std::size_t i = 0; i < s.size(); ++i) {
        s[i] += static_cast<double>(a.gradient[i]) - old[i];
        step_[i] += s[i];
      }
    }
    return inner_->begin_round(arrivals);
  }
  void apply_range(std::span<const engine::Arrival> arrivals, const float* x_in, float* x_out,
                   float lr, std::size_t begin, std::size_t end) override {
    inner_->apply_range(arrivals, x_in, x_out, lr, begin, end);
    const double rate = static_cast<double>(lr) / static_cast<double>(workers_);
    std::uint64_t wrong = 0;
    for (std::size_t i = begin; i < end; ++i) {
      wrong += static_cast<double>(x_out[i]) != static_cast<double>(x_in[i]) - rate * step_[i];
    }
    mismatches.fetch_add(wrong, std::memory_order_relaxed);
    checked.fetch_add(end - begin, std::memory_order_relaxed);
  }
  std::span<const double> running_sum() const override { return inner_->running_sum(); }
  std::span<const float> table_entry(std::size_t w) const override {
    return inner_->table_entry(w);
  }

  std::atomic<std::uint64_t> mismatches{0};  // coordinates off the rule
  std::atomic<std::uint64_t> checked{0};     // coordinates compared

 private:
  const std::unique_ptr<engine::ServerPolicy> inner_;
  const std::size_t workers_;
  std::vector<double> step_;  // sum_m S_m of the round begun last
};

/// Starts the engine, takes snapshots as the monitor does until the run stops (their versions
/// never go back), joins it, and requires that no thread failed.
template <class Engine>
void run_watched(Engine& server, engine::RunState& run, std::size_t params) {
  server.start();
  std::vector<float> snapshot(params);
  std::uint64_t last_version = 0;
  while (!run.stopping()) {
    const std::uint64_t version = server.snapshot(snapshot.data());
    REQUIRE(version >= last_version);
    last_version = version;
    std::this_thread::yield();
  }
  server.join();
  for (const auto& error : run.errors) REQUIRE_FALSE(error);
}

template <class Slot>
void stress(std::size_t workers, std::uint64_t steps, std::size_t server_threads = 1) {
  const Dataset data = testdata::random_dense(512, 2, 2, 3);
  const std::vector<std::uint32_t> rows = all_rows(data.rows());
  AsyncConfig config;
  config.sgd.steps = steps;
  config.sgd.batch = 4;
  config.sgd.lr = 1.0f / 1024;
  config.workers = workers;
  config.server_threads = server_threads;
  const auto shards = partition_rows(data, rows, workers, config.partition, 1);
  const IntegerObjective objective{4100};  // five fold chunks (fold_team.hpp)
  engine::RunState run(config, rows.size(), workers + 2);
  CheckedDude checked(workers, objective.params);
  engine::ServerPolicy* const policy = &checked;
  const std::vector<float> initial(objective.params, 0.0f);
  engine::ServerEngine<Slot, IntegerObjective> server(objective, data, shards, run, *policy,
                                                      initial.data());
  run_watched(server, run, objective.params);

  REQUIRE(run.counters.steps.load() == steps);
  REQUIRE(server.final_version() == steps);
  std::uint64_t arrivals = 0;
  for (std::size_t w = 0; w < workers; ++w) arrivals += run.counters.arrivals[w].load();
  REQUIRE(arrivals == steps);  // DuDe takes one step per applied arrival
  const auto sum = policy->running_sum();
  for (std::size_t i = 0; i < objective.params; ++i) {
    double table_sum = 0;
    for (std::size_t w = 0; w < workers; ++w) table_sum += policy->table_entry(w)[i];
    REQUIRE(sum[i] == table_sum);
  }
  CHECK(checked.checked.load() >= objective.params);  // at least one round was compared
  CHECK(checked.mismatches.load() == 0);
}

/// Lazy DuDe fed integer gradients on the posts' supports, checked against a dense account on
/// every arrival. apply() runs wherever the engine applies arrivals (the server thread, or a
/// worker holding the engine's lock); nothing here is shared beyond that.
class CheckedLazyDude final : public testsupport::ForwardingSparsePolicy {
 public:
  /// Starts from `zeros` (rows x width + tail of them), the caller's buffer for the model.
  CheckedLazyDude(std::size_t workers, std::size_t rows, std::size_t width, std::size_t tail,
                  float* zeros)
      : ForwardingSparsePolicy(workers, rows, width, tail, zeros),
        workers_(workers),
        width_(width),
        tail_(tail),
        sum_(rows * width + tail, 0.0),
        x_(rows * width + tail, 0.0),
        table_(workers, std::vector<double>(rows * width + tail, 0.0)) {}

  std::uint64_t apply(const engine::GradientHeader& from, const engine::SparsePost& g,
                      float lr) override {
    const engine::SparsePost integers = integer_post(from, g);
    std::vector<double>& entry = table_[from.worker];
    std::vector<double> fresh = testsupport::densified(integers, entry.size(), width_);
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

  std::size_t workers_;
  std::size_t width_;
  std::size_t tail_;
  std::vector<double> sum_;                 // S, densely
  std::vector<double> x_;                   // x0 - sum of (lr/n) S so far
  std::vector<std::vector<double>> table_;  // every worker's latest integer gradient
};

}  // namespace

TEST_CASE("engine stress: hand-off slots, S equals the table sum exactly", "[stress][engine]") {
  stress<engine::HandoffSlot>(GENERATE(1, 4, 8), 3000);
}

TEST_CASE("engine stress: triple-buffer slots, S equals the table sum exactly",
          "[stress][engine]") {
  stress<engine::TripleBufferSlot>(GENERATE(1, 4, 8), 3000);
}

TEST_CASE("engine stress: a fold split over 3 threads keeps S equal to the table sum",
          "[stress][engine][fold]") {
  stress<engine::HandoffSlot>(GENERATE(1, 4), 3000, 3);
}

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
  std::vector<float> zeros(objective.num_params(), 0.0f);
  CheckedLazyDude policy(workers, kFeatures, kClasses, kClasses, zeros.data());
  engine::SparseServerEngine server(objective, data, shards, run, policy, workers_serve);
  run_watched(server, run, objective.num_params());

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
