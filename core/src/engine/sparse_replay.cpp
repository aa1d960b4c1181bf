// The deterministic replay on sparse data: the dense replay's clock, events and accounting,
// with workers that read the model on their minibatch's rows only (CompactBatch) and the
// sparse policies, so that a step costs the non-zeros. Same seeds, same minibatches, same
// arrival order as the dense replay: the models agree up to float rounding.
#include <queue>
#include <vector>

#include "data/minibatch_sampler.hpp"
#include "dude/errors.hpp"
#include "engine/compact_batch.hpp"
#include "engine/eval_schedule.hpp"
#include "engine/progress_reporter.hpp"
#include "engine/replay.hpp"
#include "engine/replay_clock.hpp"
#include "engine/sparse_policy.hpp"
#include "engine/warm_start.hpp"

namespace dude::engine {
namespace {

struct SparseWorker {
  detail::MinibatchSampler sampler;
  CompactBatch batch;
  ComputeTimes times;
  SparsePost gradient;  // computed at the start, delivered at the arrival
  GradientHeader header;
  std::uint64_t sequence = 0;
};

class SparseReplay {
 public:
  SparseReplay(const Objective& objective, const Dataset& data,
               const std::vector<std::vector<std::uint32_t>>& shards, const Subset* test,
               const AsyncConfig& config, const float* params, std::size_t train_rows)
      : run_(config, train_rows, 1),
        reporter_(run_, objective, test),
        policy_(make_sparse_policy(
            replay_rule(config.algorithm), shards.size(), objective.features(),
            objective.first_layer_width(),
            objective.num_params() - objective.features() * objective.first_layer_width(), params)),
        model_(objective.num_params()),
        schedule_(config.sgd.eval_every, run_.budget.rows) {
    const SgdConfig& sgd = config.sgd;
    workers_.reserve(shards.size());
    for (std::size_t w = 0; w < shards.size(); ++w) {
      detail::MinibatchSampler sampler(shards[w], sgd.batch, sgd.batch_order, sgd.seed, w);
      CompactBatch batch(objective, data, sampler.batch());
      workers_.push_back({std::move(sampler),
                          std::move(batch),
                          ComputeTimes(config.compute_time, sgd.seed, w, config.slowdown_of(w)),
                          {},
                          {},
                          0});
    }
    if (config.algorithm.kind == AlgorithmSpec::Kind::Dude && config.warm_start) {
      warm_start(*policy_, objective, data, shards, sgd);
    }
  }

  Progress run(float* params, const ProgressCallback& on_progress, const std::atomic<bool>* stop) {
    for (std::size_t w = 0; w < workers_.size(); ++w) start(w, 0.0);
    const Budget& budget = run_.budget;
    while (!events_.empty() && !(stop != nullptr && stop->load(std::memory_order_relaxed))) {
      const Event event = events_.top();
      if (budget.seconds > 0 && event.time > budget.seconds) break;
      events_.pop();
      run_.virtual_now = event.time;
      TrainingDiverged::check(workers_[event.worker].header.loss, version_, event.worker);
      pending_.push_back(event.worker);
      if (pending_.size() < policy_->round_size()) continue;  // sync: the round is not complete
      apply_pending();
      if (budget.spent(version_, samples_)) break;
      if (schedule_.due(version_, samples_)) {
        policy_->read_all(model_.data());
        const Progress p = reporter_.point(true, version_, model_.data());
        if (on_progress) on_progress(p);
        schedule_.advance(version_, samples_);
      }
      for (const std::uint32_t w : pending_) start(w, event.time);
      pending_.clear();
    }
    policy_->read_all(params);
    Progress last = reporter_.point(true, version_, params);
    last.final = true;
    if (on_progress) on_progress(last);
    return last;
  }

 private:
  /// Worker w reads the model on its next minibatch's rows and computes its gradient; it
  /// arrives after its compute time.
  void start(std::size_t w, double now) {
    SparseWorker& worker = workers_[w];
    CompactBatch& batch = worker.batch;
    batch.take(worker.sampler.next());
    policy_->read(batch.features(), batch.model_rows(), batch.model_tail());
    const double loss = batch.gradient(worker.gradient);
    worker.header = {static_cast<std::uint32_t>(w), static_cast<std::uint32_t>(batch.samples()),
                     version_, ++worker.sequence, loss};
    events_.push({now + worker.times.next(), static_cast<std::uint32_t>(w)});
  }

  /// The server's step: accounts for the pending arrivals and applies them in order.
  void apply_pending() {
    RunCounters& counters = run_.counters;
    const auto lr = static_cast<float>(run_.learning_rate(version_, samples_));
    std::uint64_t steps = 0;
    for (const std::uint32_t w : pending_) {
      const GradientHeader& h = workers_[w].header;
      counters.record(h.worker, version_ - h.model_version, h.loss);
      samples_ += h.samples;
      steps += policy_->apply(w, workers_[w].gradient, lr);
    }
    version_ += steps;
    counters.samples.store(samples_, std::memory_order_relaxed);
    counters.steps.store(version_, std::memory_order_relaxed);
  }

  RunState run_;
  ProgressReporter reporter_;
  const std::unique_ptr<SparsePolicy> policy_;
  std::vector<float> model_;   // the whole model, read at evaluations
  std::uint64_t version_ = 0;  // server steps so far
  std::uint64_t samples_ = 0;  // rows in the applied gradients
  std::vector<SparseWorker> workers_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::vector<std::uint32_t> pending_;  // the workers whose arrivals make the round so far
  EvalSchedule schedule_;
};

}  // namespace

Progress train_virtual_sparse(const Objective& objective, const Dataset& data,
                              const std::vector<std::vector<std::uint32_t>>& shards,
                              const Subset* test, const AsyncConfig& config, float* params,
                              const ProgressCallback& on_progress, const std::atomic<bool>* stop,
                              std::size_t train_rows) {
  SparseReplay replay(objective, data, shards, test, config, params, train_rows);
  return replay.run(params, on_progress, stop);
}

}  // namespace dude::engine
