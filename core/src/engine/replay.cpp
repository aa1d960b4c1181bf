// Deterministic replay: the asynchronous algorithms on a virtual clock, in one thread.
//
// Every worker computes its gradient on the model current when it starts, and the gradient
// arrives after a simulated compute time (a seeded draw times its slowdown). Arrivals are
// handled in time order (ties by worker id) by the same ServerPolicy the threaded server uses;
// then the worker starts again on the newest model. Sync holds arrivals until every worker's
// is in and restarts them all together. Evaluations happen at exact step or epoch marks, and
// every number comes from seeded streams, so the same flags give the same bytes.
#include <cmath>
#include <queue>
#include <vector>

#include "dude/errors.hpp"
#include "engine/policy.hpp"
#include "engine/progress_reporter.hpp"
#include "engine/eval_schedule.hpp"
#include "engine/warm_start.hpp"
#include "engine/replay.hpp"
#include "data/minibatch_sampler.hpp"
#include "common/rng.hpp"

namespace dude::engine {
namespace {

class ComputeTimes {
 public:
  ComputeTimes(const ComputeTime& kind, std::uint64_t seed, std::size_t worker, double slowdown)
      : kind_(kind), rng_(seed, 0xC10C + worker), slowdown_(slowdown) {}
  double next() {
    double base = 1.0;
    switch (kind_.kind) {
      case ComputeTime::Kind::Fixed:
        break;
      case ComputeTime::Kind::Exponential:
        base = -std::log(1.0 - rng_.uniform());
        break;
      case ComputeTime::Kind::Normal:
        do base = 1.0 + kind_.sigma * rng_.normal(); while (base <= 0.0 || base > 2.0);
        break;
    }
    return slowdown_ * base;
  }

 private:
  ComputeTime kind_;
  Rng rng_;
  double slowdown_;
};

struct VirtualWorker {
  MinibatchSampler sampler;
  Workspace workspace;
  ComputeTimes times;
  std::vector<float> gradient;  // computed at the start, delivered at the arrival
  GradientHeader header;
  std::uint64_t sequence = 0;
};

struct Event {
  double time;
  std::uint32_t worker;
  bool operator>(const Event& other) const {
    return time != other.time ? time > other.time : worker > other.worker;
  }
};

}  // namespace

Progress train_virtual(const Objective& objective, const Dataset& data,
                       const std::vector<std::vector<std::uint32_t>>& shards, const Subset* test,
                       const AsyncConfig& config, float* params,
                       const ProgressCallback& on_progress, const std::atomic<bool>* stop,
                       std::size_t train_rows) {
  const std::size_t n = shards.size();
  const SgdConfig& sgd = config.sgd;
  RunState run(config, train_rows, 1);
  ProgressReporter reporter(run, objective, test);
  RunCounters& counters = run.counters;
  // Hogwild's updates land whole at their arrival on a virtual clock: asgd's rule.
  AlgorithmSpec rule = config.algorithm;
  if (rule.kind == AlgorithmSpec::Kind::Hogwild) rule.kind = AlgorithmSpec::Kind::Asgd;
  const std::unique_ptr<ServerPolicy> policy = make_policy(rule, n, objective.num_params());
  const std::size_t round = policy->round_size();

  std::vector<float> model(params, params + objective.num_params());
  std::vector<float> next_model(model.size());
  std::uint64_t version = 0, samples = 0;

  std::vector<VirtualWorker> workers;
  workers.reserve(n);
  for (std::size_t w = 0; w < n; ++w) {
    MinibatchSampler sampler(shards[w], sgd.batch, sgd.batch_order, sgd.seed, w);
    Workspace ws = objective.make_workspace(sampler.batch(), !data.is_sparse());
    const double slowdown = config.slowdown_of(w);
    workers.push_back({std::move(sampler), std::move(ws),
                       ComputeTimes(config.compute_time, sgd.seed, w, slowdown),
                       std::vector<float>(model.size()), {}, 0});
  }
  if (config.algorithm.kind == AlgorithmSpec::Kind::Dude && config.warm_start) {
    warm_start(*policy, objective, data, shards, sgd, model.data());
  }

  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  auto start = [&](std::size_t w, double now) {
    VirtualWorker& worker = workers[w];
    const auto rows = worker.sampler.next();
    const double loss = objective.loss_grad(model.data(), data, rows, worker.gradient.data(), worker.workspace);
    worker.header = {static_cast<std::uint32_t>(w), static_cast<std::uint32_t>(rows.size()), version,
                     ++worker.sequence, loss};
    events.push({now + worker.times.next(), static_cast<std::uint32_t>(w)});
  };
  for (std::size_t w = 0; w < n; ++w) start(w, 0.0);

  const Budget& budget = run.budget;
  EvalSchedule schedule(sgd.eval_every, budget.rows);
  std::vector<Arrival> pending;  // sync: the arrivals of the round so far
  while (!events.empty()) {
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) break;
    const Event event = events.top();
    if (budget.seconds > 0 && event.time > budget.seconds) break;
    events.pop();
    run.virtual_now = event.time;
    VirtualWorker& worker = workers[event.worker];
    TrainingDiverged::check(worker.header.loss, version, event.worker);
    pending.push_back({worker.gradient.data(), &worker.header});
    if (pending.size() < round) continue;  // sync: the round is not complete

    const auto lr = static_cast<float>(run.learning_rate(version, samples));
    for (const Arrival& a : pending) {
      counters.record(a.header->worker, version - a.header->model_version, a.header->loss);
      samples += a.header->samples;
    }
    const std::uint64_t steps = policy->apply(pending, model.data(), next_model.data(), lr);
    if (steps > 0) {
      version += steps;
      model.swap(next_model);
    }
    counters.samples.store(samples, std::memory_order_relaxed);
    counters.steps.store(version, std::memory_order_relaxed);
    if (budget.spent(version, samples)) break;

    if (schedule.due(version, samples)) {
      const Progress p = reporter.point(true, version, model.data());
      if (on_progress) on_progress(p);
      schedule.advance(version, samples);
    }
    for (const Arrival& a : pending) start(a.header->worker, event.time);
    pending.clear();
  }
  std::copy(model.begin(), model.end(), params);
  Progress last = reporter.point(true, version, model.data());
  last.final = true;
  if (on_progress) on_progress(last);
  return last;
}

}  // namespace dude::engine
