#include "dude/trainer.hpp"

#include <chrono>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "dude/errors.hpp"
#include "dude/kernels.hpp"
#include "data/minibatch_sampler.hpp"

namespace dude {

Schedule parse_schedule(std::string_view name) {
  if (name == "constant") return Schedule::Constant;
  if (name == "invt" || name == "1/t") return Schedule::InvT;
  if (name == "cosine") return Schedule::Cosine;
  throw ConfigError("lr schedule '" + std::string(name) + "': expected constant, invt or cosine");
}

BatchOrder parse_batch_order(std::string_view name) {
  if (name == "shuffled") return BatchOrder::Shuffled;
  if (name == "contiguous") return BatchOrder::Contiguous;
  throw ConfigError("batch order '" + std::string(name) + "': expected shuffled or contiguous");
}

void SgdConfig::validate() const {
  const int budgets = (epochs > 0) + (steps > 0) + (seconds > 0);
  if (budgets != 1) {
    throw ConfigError("budget: set exactly one of epochs, steps or seconds (positive)");
  }
  if (!std::isfinite(epochs) || !std::isfinite(seconds)) throw ConfigError("budget: must be finite");
  if (batch == 0) throw ConfigError("batch: must be positive");
  if (!(lr > 0.0f) || !std::isfinite(lr)) throw ConfigError("lr: must be finite and positive");
  if (!(lr_decay >= 0.0f) || !std::isfinite(lr_decay)) throw ConfigError("lr_decay: must be finite and >= 0");
  if (!(tick_seconds >= 0.0)) throw ConfigError("tick_seconds: must be >= 0");
}

double learning_rate(const SgdConfig& config, double epochs_done, double fraction_done) {
  switch (config.schedule) {
    case Schedule::Constant:
      return config.lr;
    case Schedule::InvT:
      return config.lr / (1.0 + config.lr_decay * epochs_done);
    case Schedule::Cosine:
      return config.lr * 0.5 * (1.0 + std::cos(std::numbers::pi * std::min(1.0, fraction_done)));
  }
  return config.lr;
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

Progress train_sgd(const Objective& objective, const Subset& train, const Subset* test,
                   const SgdConfig& config, float* params, const ProgressCallback& on_progress,
                   const std::atomic<bool>* stop) {
  config.validate();
  if (train.data == nullptr || train.rows.empty()) throw ConfigError("train: no training rows");
  const Dataset& data = *train.data;
  const std::size_t n = train.rows.size();
  MinibatchSampler sampler(train.rows, config.batch, config.batch_order, config.seed);
  const std::size_t batch = sampler.batch();
  const std::size_t steps_per_epoch = (n + batch - 1) / batch;
  const std::uint64_t eval_every = config.eval_every > 0 ? config.eval_every : steps_per_epoch;
  const double total_samples = config.epochs * static_cast<double>(n);

  Workspace ws = objective.make_workspace(batch, !data.is_sparse());
  std::vector<float> grad(objective.num_params());

  Progress p;
  const Clock::time_point start = Clock::now();
  double last_tick = 0;
  double loss_since_eval = 0;
  std::uint64_t steps_since_eval = 0;

  auto fraction_done = [&] {
    if (config.steps > 0) return static_cast<double>(p.steps) / static_cast<double>(config.steps);
    if (config.epochs > 0) return static_cast<double>(p.samples) / total_samples;
    return seconds_since(start) / config.seconds;
  };
  auto report = [&](bool evaluation, bool final) {
    p.evaluation = evaluation;
    p.final = final;
    p.wall_seconds = seconds_since(start);
    p.epoch = static_cast<double>(p.samples) / static_cast<double>(n);
    p.fraction_done = std::min(1.0, fraction_done());
    if (steps_since_eval > 0) p.train_loss = loss_since_eval / static_cast<double>(steps_since_eval);
    if (evaluation) {
      loss_since_eval = 0;
      steps_since_eval = 0;
      if (test != nullptr && test->data != nullptr && !test->rows.empty()) {
        const Evaluation e = evaluate(objective, params, *test->data, test->rows);
        p.has_test = true;
        p.test_loss = e.loss;
        p.test_accuracy = e.accuracy;
      }
    }
    if (on_progress) on_progress(p);
  };

  auto finished = [&] {
    return fraction_done() >= 1.0 || (stop != nullptr && stop->load(std::memory_order_relaxed));
  };
  while (!finished()) {
    const std::span<const std::uint32_t> rows = sampler.next();
    const std::size_t take = rows.size();

    const double lr = learning_rate(config, static_cast<double>(p.samples) / static_cast<double>(n),
                                    fraction_done());
    const double loss = objective.loss_grad(params, data, rows, grad.data(), ws);
    TrainingDiverged::check(loss, p.steps, std::nullopt);
    kernels::axpy(static_cast<float>(-lr), grad.data(), params, grad.size());
    p.lr = lr;
    ++p.steps;
    p.samples += take;
    loss_since_eval += loss;
    ++steps_since_eval;

    if (finished()) break;  // the final report below evaluates
    if (p.steps % eval_every == 0) {
      report(true, false);
      last_tick = p.wall_seconds;
    } else if (config.tick_seconds > 0 && seconds_since(start) - last_tick >= config.tick_seconds) {
      report(false, false);
      last_tick = p.wall_seconds;
    }
  }
  report(true, true);
  return p;
}

}  // namespace dude
