// replay_loop.hpp (internal): what the dense and the sparse replay share: the virtual clock,
// the arrival events, the rounds, the accounting and the evaluation points.
//
// Every worker computes its gradient on the model current when it starts, and the gradient
// arrives after a simulated compute time (a seeded draw times its slowdown). Arrivals are
// handled in time order (ties by worker id); sync holds them until every worker's is in and
// restarts them all together. Evaluations happen at exact step or epoch marks, and every number
// comes from seeded streams, so the same flags give the same bytes.
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <queue>
#include <span>
#include <vector>

#include "common/rng.hpp"
#include "dude/async.hpp"
#include "dude/errors.hpp"
#include "engine/checkpoint_state.hpp"
#include "engine/eval_schedule.hpp"
#include "engine/gradient_slot.hpp"
#include "engine/progress_reporter.hpp"
#include "engine/run_state.hpp"

namespace dude::engine {

/// A worker's simulated compute time per gradient: a seeded draw of the kind, times its
/// slowdown.
class ComputeTimes {
 public:
  ComputeTimes(const ComputeTime& kind, std::uint64_t seed, std::size_t worker, double slowdown)
      : kind_(kind), rng_(seed, 0xC10C + worker), slowdown_(slowdown) {}
  double next() {
    double base = 1.0;
    switch (kind_.kind) {
      case ComputeTime::Kind::Fixed: break;
      case ComputeTime::Kind::Exponential: base = -std::log(1.0 - rng_.uniform()); break;
      case ComputeTime::Kind::Normal:
        do base = 1.0 + kind_.sigma * rng_.normal();
        while (base <= 0.0 || base > 2.0);
        break;
      case ComputeTime::Kind::LogNormal:
        base = std::exp(kind_.sigma * rng_.normal() - 0.5 * kind_.sigma * kind_.sigma);
        break;
    }
    return slowdown_ * base;
  }

 private:
  ComputeTime kind_;
  detail::Rng rng_;
  double slowdown_;
};

/// An arrival: the time it lands and the worker; the earliest first, ties by worker id.
struct Event {
  double time;
  std::uint32_t worker;
  bool operator>(const Event& other) const {
    return time != other.time ? time > other.time : worker > other.worker;
  }
};

/// The policy the replay applies: hogwild's updates land whole at their arrival on a virtual
/// clock, which is asgd's rule.
inline AlgorithmSpec replay_rule(AlgorithmSpec algorithm) {
  if (algorithm.kind == AlgorithmSpec::Kind::Hogwild) algorithm.kind = AlgorithmSpec::Kind::Asgd;
  return algorithm;
}

/// The replay's loop over a Backend, which computes and applies:
///   std::size_t round_size() const;     // sync: the workers; 0: every arrival alone
///   std::pair<double, std::size_t> compute(std::size_t worker);  // the worker's next
///       // gradient at the current model: its loss and minibatch size
///   std::uint64_t apply(std::span<const std::uint32_t> workers,
///                       const std::vector<GradientHeader>& headers, float lr);  // the
///       // pending arrivals, in order; returns the model steps taken
///   const float* model();               // the whole model now
///   void save(detail::StateWriter&) const; void load(detail::StateReader&);  // checkpoints
template <class Backend>
class ReplayLoop {
 public:
  ReplayLoop(Backend& backend, const Objective& objective, const RunHooks& hooks,
             const AsyncConfig& config, std::size_t workers, std::size_t train_rows)
      : backend_(backend),
        hooks_(hooks),
        run_(config, train_rows, 1),
        reporter_(run_, objective, hooks),
        headers_(workers),
        schedule_(config.sgd.eval_every, run_.budget.rows) {
    for (std::size_t w = 0; w < workers; ++w) {
      times_.emplace_back(config.compute_time, config.sgd.seed, w, config.slowdown_of(w));
    }
  }

  /// Handles arrivals until the budget is spent, a stop is requested or (never, in practice)
  /// the events run out; copies the model into `params` and returns the final point.
  Progress run(float* params, std::size_t params_count) {
    const CheckpointPlan* plan = hooks_.checkpoints;
    if (plan != nullptr && plan->resume != nullptr) {
      resume(open_state(*plan->resume, *hooks_.identity));
    } else {
      for (std::size_t w = 0; w < headers_.size(); ++w) start(w, 0.0);
    }
    CheckpointClock checkpoints(plan, version_);
    const Budget& budget = run_.budget;
    while (!events_.empty() && !hooks_.stop_requested()) {
      const Event event = events_.top();
      if (budget.seconds > 0 && event.time > budget.seconds) break;
      events_.pop();
      run_.virtual_now = event.time;
      TrainingDiverged::check(headers_[event.worker].loss, version_, event.worker);
      pending_.push_back(event.worker);
      if (pending_.size() < backend_.round_size()) continue;  // sync: the round is not complete
      apply_pending();
      if (budget.spent(version_, samples_)) break;
      if (schedule_.due(version_, samples_)) {
        reporter_.send(reporter_.point(true, version_, backend_.model()));
        schedule_.advance(version_, samples_);
        if (reporter_.plateau_reached()) break;
      }
      for (const std::uint32_t w : pending_) start(w, event.time);
      pending_.clear();
      checkpoints.offer(version_, [&] { return checkpoint(); });
    }
    // A stop request before the end: the state to continue from (the loop stopped between two
    // arrivals).
    if (hooks_.stop_requested() && !budget.spent(version_, samples_)) {
      checkpoints.offer_final([&] { return checkpoint(); });
    }
    const float* model = backend_.model();
    std::copy(model, model + params_count, params);
    return reporter_.finish(version_, params);
  }

 private:
  /// Worker w computes its next gradient on the current model; it arrives after its compute
  /// time.
  void start(std::size_t w, double now) {
    const auto [loss, samples] = backend_.compute(w);
    GradientHeader& h = headers_[w];
    h = {static_cast<std::uint32_t>(w), static_cast<std::uint32_t>(samples), version_,
         h.sequence + 1, loss};
    events_.push({now + times_[w].next(), static_cast<std::uint32_t>(w)});
  }

  /// The whole state between two arrivals (none pending): clocks, events, gradients in flight,
  /// counters, evaluation window, divergence memory, and the backend's model and policy.
  Checkpoint checkpoint() const {
    detail::StateWriter out;
    out.put(version_);
    out.put(samples_);
    out.put(run_.virtual_now);
    out.put_vector(headers_);
    out.put_vector(times_);
    auto queue = events_;
    std::vector<Event> events;
    for (; !queue.empty(); queue.pop()) events.push_back(queue.top());
    out.put_vector(events);
    schedule_.save(out);
    run_.counters.save(out, headers_.size());
    reporter_.save(out);
    hooks_.guard.save(out);
    backend_.save(out);
    return seal_state(*hooks_.identity, version_, std::move(out.bytes()));
  }

  void resume(std::string_view state) {
    detail::StateReader in(state);
    version_ = in.get<std::uint64_t>();
    samples_ = in.get<std::uint64_t>();
    run_.virtual_now = in.get<double>();
    in.get_span(std::span<GradientHeader>(headers_));
    in.get_span(std::span<ComputeTimes>(times_));
    std::vector<Event> events;
    in.get_vector(events, headers_.size());
    for (const Event& e : events) events_.push(e);
    schedule_.load(in);
    run_.counters.load(in, headers_.size());
    reporter_.load(in);
    hooks_.guard.load(in);
    backend_.load(in);
    in.expect_end();
  }

  /// The server's step: accounts for the pending arrivals and applies them.
  void apply_pending() {
    RunCounters& counters = run_.counters;
    const auto lr = static_cast<float>(run_.learning_rate(version_, samples_));
    for (const std::uint32_t w : pending_) {
      const GradientHeader& h = headers_[w];
      counters.record(h.worker, version_ - h.model_version, h.loss);
      samples_ += h.samples;
    }
    version_ += backend_.apply(pending_, headers_, lr);
    counters.samples.store(samples_, std::memory_order_relaxed);
    counters.steps.store(version_, std::memory_order_relaxed);
  }

  Backend& backend_;
  const RunHooks& hooks_;
  RunState run_;
  ProgressReporter reporter_;
  std::vector<ComputeTimes> times_;
  std::vector<GradientHeader> headers_;  // each worker's gradient in flight
  std::uint64_t version_ = 0;            // server steps so far
  std::uint64_t samples_ = 0;            // rows in the applied gradients
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::vector<std::uint32_t> pending_;  // the workers whose arrivals make the round so far
  EvalSchedule schedule_;
};

}  // namespace dude::engine
