#include "engine/server_round.hpp"

#include <algorithm>
#include <span>
#include <utility>

#include "dude/errors.hpp"

namespace dude::engine {

std::size_t apply_round(ServerPolicy& policy, FoldTeam& team, ModelPool& pool, RunState& run,
                        std::span<const Arrival> arrivals, ServerCounts& counts) {
  const std::size_t round = policy.round_size();
  const Budget& budget = run.budget;
  std::size_t use = arrivals.size();
  if (budget.steps > 0 && round == 0) {
    use = std::min<std::uint64_t>(use, budget.steps - counts.version);
  }
  const std::span<const Arrival> applied = arrivals.first(use);
  std::uint64_t batch_samples = 0;
  for (std::size_t m = 0; m < use; ++m) {
    const GradientHeader& h = *applied[m].header;
    TrainingDiverged::check(h.loss, counts.version, h.worker);
    run.counters.record(h.worker, counts.version + (round == 0 ? m : 0) - h.model_version, h.loss);
    batch_samples += h.samples;
  }
  const auto lr = static_cast<float>(run.learning_rate(counts.version, counts.samples));
  const float* x_in = pool.current();
  float* x_out = pool.writable();
  const std::uint64_t steps = policy.begin_round(applied);
  team.run([&](std::size_t begin, std::size_t end) {
    policy.apply_range(applied, x_in, x_out, lr, begin, end);
  });
  if (steps > 0) {
    counts.version += steps;
    pool.publish(counts.version);
  }
  counts.samples += batch_samples;
  run.counters.samples.store(counts.samples, std::memory_order_relaxed);
  run.counters.steps.store(counts.version, std::memory_order_relaxed);
  if (budget.spent(counts.version, counts.samples)) run.stop.store(true, std::memory_order_relaxed);
  return use;
}

EngineState write_server_state(const ModelPool& pool, const ServerPolicy& policy,
                               const RunState& run) {
  detail::StateWriter out;
  out.put_span(std::span<const float>(pool.current(), policy.params()));
  policy.save(out);
  run.counters.save(out, run.config.workers);
  return {std::move(out.bytes()), run.counters.steps.load(std::memory_order_relaxed)};
}

void read_server_state(detail::StateReader& in, ModelPool& pool, ServerPolicy& policy,
                       RunState& run) {
  in.get_span(std::span<float>(pool.writable(), policy.params()));
  policy.load(in);
  run.counters.load(in, run.config.workers);
  pool.publish(run.counters.steps.load(std::memory_order_relaxed));
}

EngineState write_sparse_server_state(const SparsePolicy& policy, const RunState& run) {
  detail::StateWriter out;
  policy.save(out);
  run.counters.save(out, run.config.workers);
  return {std::move(out.bytes()), run.counters.steps.load(std::memory_order_relaxed)};
}

ServerCounts read_sparse_server_state(detail::StateReader& in, SparsePolicy& policy,
                                      RunState& run) {
  policy.load(in);
  run.counters.load(in, run.config.workers);
  return {run.counters.steps.load(std::memory_order_relaxed),
          run.counters.samples.load(std::memory_order_relaxed)};
}

}  // namespace dude::engine
