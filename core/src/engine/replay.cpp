// Deterministic replay: the asynchronous algorithms on a virtual clock, in one thread.
//
// Every worker computes its gradient on the model current when it starts, and the gradient
// arrives after a simulated compute time (a seeded draw times its slowdown). Arrivals are
// handled in time order (ties by worker id) by the same ServerPolicy the threaded server uses;
// then the worker starts again on the newest model. Sync holds arrivals until every worker's
// is in and restarts them all together. Evaluations happen at exact step or epoch marks, and
// every number comes from seeded streams, so the same flags give the same bytes.
#include <queue>
#include <vector>

#include "data/minibatch_sampler.hpp"
#include "dude/errors.hpp"
#include "engine/eval_schedule.hpp"
#include "engine/policy.hpp"
#include "engine/progress_reporter.hpp"
#include "engine/replay.hpp"
#include "engine/replay_clock.hpp"
#include "engine/warm_start.hpp"

namespace dude::engine {
namespace {

struct VirtualWorker {
  detail::MinibatchSampler sampler;
  Workspace workspace;
  ComputeTimes times;
  std::vector<float> gradient;  // computed at the start, delivered at the arrival
  GradientHeader header;
  std::uint64_t sequence = 0;
};

/// One deterministic run: the virtual workers, their pending arrivals in time order, and the
/// server's model.
class Replay {
 public:
  Replay(const Objective& objective, const Dataset& data,
         const std::vector<std::vector<std::uint32_t>>& shards, const Subset* test,
         const AsyncConfig& config, const float* params, std::size_t train_rows)
      : objective_(objective),
        data_(data),
        run_(config, train_rows, 1),
        reporter_(run_, objective, test),
        policy_(make_policy(replay_rule(config.algorithm), shards.size(), objective.num_params())),
        model_(params, params + objective.num_params()),
        next_model_(model_.size()),
        schedule_(config.sgd.eval_every, run_.budget.rows) {
    const SgdConfig& sgd = config.sgd;
    workers_.reserve(shards.size());
    for (std::size_t w = 0; w < shards.size(); ++w) {
      detail::MinibatchSampler sampler(shards[w], sgd.batch, sgd.batch_order, sgd.seed, w);
      Workspace ws = objective.make_workspace(sampler.batch(), !data.is_sparse());
      workers_.push_back({std::move(sampler),
                          std::move(ws),
                          ComputeTimes(config.compute_time, sgd.seed, w, config.slowdown_of(w)),
                          std::vector<float>(model_.size()),
                          {},
                          0});
    }
    if (config.algorithm.kind == AlgorithmSpec::Kind::Dude && config.warm_start) {
      warm_start(*policy_, objective, data, shards, sgd, model_.data());
    }
  }

  /// Handles arrivals until the budget is spent, `stop` is set or (never, in practice) the
  /// events run out; copies the model into `params` and returns the final point.
  Progress run(float* params, const ProgressCallback& on_progress, const std::atomic<bool>* stop) {
    for (std::size_t w = 0; w < workers_.size(); ++w) start(w, 0.0);
    const Budget& budget = run_.budget;
    while (!events_.empty() && !(stop != nullptr && stop->load(std::memory_order_relaxed))) {
      const Event event = events_.top();
      if (budget.seconds > 0 && event.time > budget.seconds) break;
      events_.pop();
      run_.virtual_now = event.time;
      VirtualWorker& worker = workers_[event.worker];
      TrainingDiverged::check(worker.header.loss, version_, event.worker);
      pending_.push_back({worker.gradient.data(), &worker.header});
      if (pending_.size() < policy_->round_size()) continue;  // sync: the round is not complete
      apply_pending();
      if (budget.spent(version_, samples_)) break;
      if (schedule_.due(version_, samples_)) {
        const Progress p = reporter_.point(true, version_, model_.data());
        if (on_progress) on_progress(p);
        schedule_.advance(version_, samples_);
      }
      for (const Arrival& a : pending_) start(a.header->worker, event.time);
      pending_.clear();
    }
    std::copy(model_.begin(), model_.end(), params);
    Progress last = reporter_.point(true, version_, model_.data());
    last.final = true;
    if (on_progress) on_progress(last);
    return last;
  }

 private:
  /// Worker w computes its next gradient on the current model; it arrives after its compute
  /// time.
  void start(std::size_t w, double now) {
    VirtualWorker& worker = workers_[w];
    const auto rows = worker.sampler.next();
    const double loss =
        objective_.loss_grad(model_.data(), data_, rows, worker.gradient.data(), worker.workspace);
    worker.header = {static_cast<std::uint32_t>(w), static_cast<std::uint32_t>(rows.size()),
                     version_, ++worker.sequence, loss};
    events_.push({now + worker.times.next(), static_cast<std::uint32_t>(w)});
  }

  /// The server's step: accounts for the pending arrivals and applies them.
  void apply_pending() {
    RunCounters& counters = run_.counters;
    const auto lr = static_cast<float>(run_.learning_rate(version_, samples_));
    for (const Arrival& a : pending_) {
      counters.record(a.header->worker, version_ - a.header->model_version, a.header->loss);
      samples_ += a.header->samples;
    }
    const std::uint64_t steps = policy_->apply(pending_, model_.data(), next_model_.data(), lr);
    if (steps > 0) {
      version_ += steps;
      model_.swap(next_model_);
    }
    counters.samples.store(samples_, std::memory_order_relaxed);
    counters.steps.store(version_, std::memory_order_relaxed);
  }

  const Objective& objective_;
  const Dataset& data_;
  RunState run_;
  ProgressReporter reporter_;
  const std::unique_ptr<ServerPolicy> policy_;
  std::vector<float> model_;
  std::vector<float> next_model_;
  std::uint64_t version_ = 0;  // server steps so far
  std::uint64_t samples_ = 0;  // rows in the applied gradients
  std::vector<VirtualWorker> workers_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::vector<Arrival> pending_;  // the arrivals of the round so far (sync: up to n)
  EvalSchedule schedule_;
};

}  // namespace

Progress train_virtual(const Objective& objective, const Dataset& data,
                       const std::vector<std::vector<std::uint32_t>>& shards, const Subset* test,
                       const AsyncConfig& config, float* params,
                       const ProgressCallback& on_progress, const std::atomic<bool>* stop,
                       std::size_t train_rows) {
  Replay replay(objective, data, shards, test, config, params, train_rows);
  return replay.run(params, on_progress, stop);
}

}  // namespace dude::engine
