// Failures inside the engines' threads: a worker whose gradient throws, a server whose policy
// throws, a diverging gradient caught by whoever applies it. Each must stop every thread, be
// joined, and reach whoever started the run (run them under ThreadSanitizer and
// AddressSanitizer: no race, nothing left running, nothing leaked).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "dude/async.hpp"
#include "dude/errors.hpp"
#include "dude/io.hpp"
#include "engine/hogwild_engine.hpp"
#include "engine/policy.hpp"
#include "engine/server_engine.hpp"
#include "test_data.hpp"

using namespace dude;

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kWorkers = 3;
constexpr std::size_t kParams = 64;

/// Stands in for an Objective (the ServerEngine's Model parameter): constant gradients, and the
/// `fail_at`-th call over all workers throws.
struct FailingObjective {
  std::size_t fail_at;
  mutable std::atomic<std::size_t> calls{0};
  std::size_t num_params() const { return kParams; }
  Workspace make_workspace(std::size_t, bool) const { return Workspace{}; }
  double loss_grad(const float*, const Dataset&, std::span<const std::uint32_t>, float* grad,
                   Workspace&) const {
    if (calls.fetch_add(1, std::memory_order_relaxed) + 1 == fail_at) {
      throw std::runtime_error("gradient fails");
    }
    std::fill(grad, grad + kParams, 1.0f);
    return 1.0;
  }
};

/// A real policy whose `fail_at`-th round throws. It throws in begin_round, on the server
/// thread: apply_range may run on a waiting worker as a guest of the fold team, whose work
/// must not throw (fold_team.hpp).
class FailingPolicy final : public engine::ServerPolicy {
 public:
  FailingPolicy(const AlgorithmSpec& spec, std::size_t fail_at)
      : ServerPolicy(kParams),
        inner_(engine::make_policy(spec, kWorkers, kParams)),
        fail_at_(fail_at) {}
  std::uint64_t begin_round(std::span<const engine::Arrival> arrivals) override {
    if (++rounds_ == fail_at_) throw std::runtime_error("apply fails");
    return inner_->begin_round(arrivals);
  }
  void apply_range(std::span<const engine::Arrival> arrivals, const float* x_in, float* x_out,
                   float lr, std::size_t begin, std::size_t end) override {
    inner_->apply_range(arrivals, x_in, x_out, lr, begin, end);
  }
  std::size_t round_size() const override { return inner_->round_size(); }

 private:
  const std::unique_ptr<engine::ServerPolicy> inner_;
  const std::size_t fail_at_;
  std::size_t rounds_ = 0;
};

AsyncConfig endless(const std::string& algorithm) {
  AsyncConfig config;
  config.algorithm = AlgorithmSpec::parse(algorithm);
  config.workers = kWorkers;
  config.sgd.steps = std::uint64_t{1} << 40;  // only a failure ends the run
  config.sgd.batch = 4;
  config.sgd.lr = 1.0f / 1024;
  return config;
}

/// The monitor's part (async_trainer.cpp): waits for the stop, joins every thread, and returns
/// the first failure kept. A run still going after 20 s has missed its failure: it is stopped
/// and returns none.
template <class Engine>
std::exception_ptr run_to_failure(Engine& engine, engine::RunState& run) {
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  engine.start();
  while (!run.stopping() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  run.stop.store(true, std::memory_order_relaxed);
  engine.join();
  for (const std::exception_ptr& error : run.errors) {
    if (error) return error;
  }
  return nullptr;
}

template <class Slot>
void worker_fails(const std::string& algorithm) {
  const Dataset data = testdata::random_dense(96, 2, 2, 3);
  const std::vector<std::uint32_t> rows = all_rows(data.rows());
  const AsyncConfig config = endless(algorithm);
  const auto shards = partition_rows(data, rows, kWorkers, config.partition, 1);
  const FailingObjective objective{40};
  engine::RunState run(config, rows.size(), kWorkers + 2);
  const auto policy = engine::make_policy(config.algorithm, kWorkers, kParams);
  const std::vector<float> initial(kParams, 0.0f);
  engine::ServerEngine<Slot, FailingObjective> server(objective, data, shards, run, *policy,
                                                      initial.data());
  const std::exception_ptr error = run_to_failure(server, run);
  REQUIRE(error);
  CHECK_THROWS_WITH(std::rethrow_exception(error), "gradient fails");
}

template <class Slot>
void server_fails(const std::string& algorithm) {
  const Dataset data = testdata::random_dense(96, 2, 2, 3);
  const std::vector<std::uint32_t> rows = all_rows(data.rows());
  const AsyncConfig config = endless(algorithm);
  const auto shards = partition_rows(data, rows, kWorkers, config.partition, 1);
  const FailingObjective objective{0};  // never fails
  engine::RunState run(config, rows.size(), kWorkers + 2);
  FailingPolicy policy(config.algorithm, 25);
  const std::vector<float> initial(kParams, 0.0f);
  engine::ServerEngine<Slot, FailingObjective> server(objective, data, shards, run, policy,
                                                      initial.data());
  const std::exception_ptr error = run_to_failure(server, run);
  REQUIRE(error);
  CHECK_THROWS_WITH(std::rethrow_exception(error), "apply fails");
}

}  // namespace

TEST_CASE("engine failure: a worker whose gradient throws stops the server engine",
          "[async][engine]") {
  const std::string algorithm = GENERATE(as<std::string>{}, "dude", "asgd", "sync");
  INFO(algorithm);
  worker_fails<engine::HandoffSlot>(algorithm);
  if (algorithm != "sync") worker_fails<engine::TripleBufferSlot>(algorithm);  // sync hands off
}

TEST_CASE("engine failure: a server whose policy throws stops every worker", "[async][engine]") {
  const std::string algorithm = GENERATE(as<std::string>{}, "dude", "fedbuff:2", "sync");
  INFO(algorithm);
  server_fails<engine::HandoffSlot>(algorithm);
  if (algorithm != "sync") server_fails<engine::TripleBufferSlot>(algorithm);
}

TEST_CASE("engine failure: hogwild workers whose gradients throw are all joined",
          "[async][engine]") {
  // The objective checks that the data fits it on every call: three features against data of
  // two makes every worker's first gradient throw, all at about the same time.
  const Dataset data = testdata::random_dense(96, 2, 2, 3);
  const std::vector<std::uint32_t> rows = all_rows(data.rows());
  const AsyncConfig config = endless("hogwild");
  const auto shards = partition_rows(data, rows, kWorkers, config.partition, 1);
  const Objective objective(ModelSpec::parse("logreg"), 3, 2);
  std::vector<float> params(objective.num_params(), 0.0f);
  engine::RunState run(config, rows.size(), kWorkers);
  engine::HogwildEngine hogwild(objective, data, shards, run, params.data());
  const std::exception_ptr error = run_to_failure(hogwild, run);
  REQUIRE(error);
  CHECK_THROWS_WITH(std::rethrow_exception(error), Catch::Contains("does not fit a model"));
}

TEST_CASE("engine failure: a diverging gradient fails the run where it is applied",
          "[async][engine]") {
  // Threaded, no evaluation point before the end: the non-finite loss is caught by the thread
  // that applies the gradient (the server; the worker itself under hogwild), which names it.
  using Run = std::pair<std::string, std::string>;  // algorithm, slot
  const auto [algorithm, slot] = GENERATE(values<Run>({{"dude", "handoff"},
                                                       {"dude", "triple"},
                                                       {"asgd", "triple"},
                                                       {"sync", "handoff"},
                                                       {"hogwild", "handoff"}}));
  INFO(algorithm << " / " << slot);
  const Dataset digits = load_builtin_dataset("digits");
  const std::vector<std::uint32_t> rows = all_rows(digits.rows());
  const Objective objective(ModelSpec::parse("mlp:16"), digits.features(), digits.classes());
  AsyncConfig config = endless(algorithm);
  config.slot = parse_slot_discipline(slot);
  config.sgd.lr = 3e38f;
  config.sgd.eval_every = kEvalAtEndOnly;
  // Were the thread not to catch it, the run would end at 5 s and its final point would fail
  // without naming a worker.
  config.sgd.steps = 0;
  config.sgd.seconds = 5;
  std::vector<float> params(objective.num_params());
  objective.init_params(params.data(), 1);
  try {
    train_async(objective, Subset{&digits, rows}, nullptr, config, params.data(), {});
    FAIL("no TrainingDiverged");
  } catch (const TrainingDiverged& e) {
    REQUIRE(e.worker().has_value());
    CHECK(*e.worker() < kWorkers);
  }
}
