#include "engine/progress_reporter.hpp"

namespace dude::engine {

Progress ProgressReporter::finish(std::uint64_t steps, float* params) {
  if (guard_.plateau_reached()) guard_.restore_best(params);
  Progress p = point(true, steps, params, true);
  p.final = true;
  send(p);
  return p;
}

Progress ProgressReporter::point(bool evaluation, std::uint64_t steps, const float* model) {
  return point(evaluation, steps, model, false);
}

Progress ProgressReporter::point(bool evaluation, std::uint64_t steps, const float* model,
                                 bool final) {
  RunCounters& counters = run_.counters;
  const Budget& budget = run_.budget;
  Progress p;
  p.evaluation = evaluation;
  p.wall_seconds = run_.elapsed();
  p.steps = steps;
  p.samples = counters.samples.load(std::memory_order_relaxed);
  p.epoch = static_cast<double>(p.samples) / static_cast<double>(budget.rows);
  p.fraction_done = std::min(1.0, budget.fraction(p.steps, p.samples, p.wall_seconds));
  p.lr = run_.learning_rate(p.steps, p.samples);
  const std::uint64_t count = counters.staleness_count.load(std::memory_order_relaxed);
  // The window's loss is summed on its own, restarted at each evaluation: after a huge loss a
  // running total would swallow the small ones that follow (1e23 + 1e7 is 1e23 in double).
  const double loss = evaluation ? counters.loss_sum.exchange(0.0, std::memory_order_relaxed)
                                 : counters.loss_sum.load(std::memory_order_relaxed);
  const std::uint64_t staleness = counters.staleness_sum.load(std::memory_order_relaxed);
  if (count > count_at_last_) {
    const double n = static_cast<double>(count - count_at_last_);
    p.train_loss = loss / n;
    p.staleness_mean = static_cast<double>(staleness - staleness_at_last_) / n;
  }
  p.staleness_max = counters.staleness_max.load(std::memory_order_relaxed);
  for (std::size_t w = 0; w < run_.config.workers; ++w) {
    p.arrivals.push_back(counters.arrivals[w].load(std::memory_order_relaxed));
  }
  if (evaluation) {
    count_at_last_ = count;
    staleness_at_last_ = staleness;
    if ((shown_ || final || guard_.wants_test()) && test_ != nullptr && test_->data != nullptr &&
        !test_->rows.empty()) {
      const Evaluation e = evaluate(objective_, model, *test_->data, test_->rows);
      p.has_test = true;
      p.test_loss = e.loss;
      p.test_accuracy = e.accuracy;
    }
    guard_.check(p, model);
  }
  return p;
}

}  // namespace dude::engine
