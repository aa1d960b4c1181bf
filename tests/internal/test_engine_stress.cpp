// The whole engine under stress (run it under ThreadSanitizer): many workers, both slot
// disciplines, integer-valued gradients so that the DuDe invariant S == sum of the table holds
// exactly after any interleaving, and every arrival accounted for.
#include <catch2/catch.hpp>

#include <thread>

#include "dude/async.hpp"
#include "engine/policy.hpp"
#include "engine/server_engine.hpp"
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
  const auto policy = engine::make_policy(config.algorithm, workers, objective.params);
  const std::vector<float> initial(objective.params, 0.0f);
  engine::ServerEngine<Slot, IntegerObjective> server(objective, data, shards, run, *policy,
                                                      initial.data());
  server.start();
  std::vector<float> snapshot(objective.params);
  std::uint64_t last_version = 0;
  while (!run.stopping()) {
    // The monitor's path: snapshots never go back in version.
    const std::uint64_t version = server.snapshot(snapshot.data());
    REQUIRE(version >= last_version);
    last_version = version;
    std::this_thread::yield();
  }
  server.join();
  for (const auto& error : run.errors) REQUIRE_FALSE(error);

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
}

}  // namespace

TEST_CASE("engine stress: hand-off slots, S equals the table sum exactly", "[stress][engine]") {
  stress<engine::HandoffSlot>(GENERATE(1, 3, 6), 3000);
}

TEST_CASE("engine stress: triple-buffer slots, S equals the table sum exactly",
          "[stress][engine]") {
  stress<engine::TripleBufferSlot>(GENERATE(1, 3, 6), 3000);
}

TEST_CASE("engine stress: a fold split over 3 threads keeps S equal to the table sum",
          "[stress][engine][fold]") {
  stress<engine::HandoffSlot>(GENERATE(1, 4), 3000, 3);
}
