#include "dude/trainer.hpp"

#include <chrono>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "data/minibatch_sampler.hpp"
#include "data/prefetch_rows.hpp"
#include "dude/async.hpp"
#include "dude/errors.hpp"
#include "dude/kernels.hpp"
#include "engine/checkpoint_state.hpp"
#include "model/divergence_guard.hpp"
#include "model/lazy_l2.hpp"

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
  if (!std::isfinite(epochs) || !std::isfinite(seconds))
    throw ConfigError("budget: must be finite");
  if (batch == 0) throw ConfigError("batch: must be positive");
  if (!(lr > 0.0f) || !std::isfinite(lr)) throw ConfigError("lr: must be finite and positive");
  if (!(lr_decay >= 0.0f) || !std::isfinite(lr_decay))
    throw ConfigError("lr_decay: must be finite and >= 0");
  if (!(tick_seconds >= 0.0)) throw ConfigError("tick_seconds: must be >= 0");
  if (!(divergence_factor == 0 || (divergence_factor >= 1 && std::isfinite(divergence_factor))))
    throw ConfigError("divergence_factor: must be 0 (no check) or finite and at least 1");
  if (!(warmup_epochs >= 0 && std::isfinite(warmup_epochs)))
    throw ConfigError("warmup_epochs: must be finite and >= 0");
}

namespace {

double scheduled_rate(const SgdConfig& config, double epochs_done, double fraction_done) {
  switch (config.schedule) {
    case Schedule::Constant: return config.lr;
    case Schedule::InvT: return config.lr / (1.0 + config.lr_decay * epochs_done);
    case Schedule::Cosine:
      return config.lr * 0.5 * (1.0 + std::cos(std::numbers::pi * std::min(1.0, fraction_done)));
  }
  return config.lr;
}

}  // namespace

double learning_rate(const SgdConfig& config, double epochs_done, double fraction_done) {
  const double rate = scheduled_rate(config, epochs_done, fraction_done);
  if (!(config.warmup_epochs > 0) || epochs_done >= config.warmup_epochs) return rate;
  return rate * epochs_done / config.warmup_epochs;
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// One SGD step x -= lr * g on a minibatch. Dense data goes through the dense gradient; sparse
/// data costs its non-zeros: the gradient on the touched first-layer rows and the tail, with
/// the first layer's L2 decay applied lazily (model/lazy_l2.hpp).
class SgdStep {
 public:
  SgdStep(const Objective& objective, const Dataset& data, std::size_t batch)
      : objective_(objective),
        data_(data),
        ws_(objective.make_workspace(batch, !data.is_sparse())),
        dense_grad_(data.is_sparse() ? 0 : objective.num_params()),
        lazy_(data.is_sparse() ? objective.features() : 0, objective.first_layer_width(),
              objective.l2()) {}

  /// Takes the step; returns the minibatch loss (checked finite, at step `step`).
  double operator()(float* params, std::span<const std::uint32_t> rows, float lr,
                    std::uint64_t step) {
    if (!data_.is_sparse()) {
      const double loss = objective_.loss_grad(params, data_, rows, dense_grad_.data(), ws_);
      TrainingDiverged::check(loss, step, std::nullopt);
      kernels::axpy(-lr, dense_grad_.data(), params, dense_grad_.size());
      return loss;
    }
    lazy_.catch_up(data_, rows, params);
    const double loss = objective_.loss_grad_sparse(params, data_, rows, sparse_grad_, ws_);
    TrainingDiverged::check(loss, step, std::nullopt);
    lazy_.step(sparse_grad_, lr, params);
    return loss;
  }

  /// Brings the lazily decayed rows up to date, before the model is read whole.
  void sync(float* params) { lazy_.catch_up_all(params); }
  void save(detail::StateWriter& out) const { lazy_.save(out); }
  void load(detail::StateReader& in) { lazy_.load(in); }

 private:
  const Objective& objective_;
  const Dataset& data_;
  Workspace ws_;
  std::vector<float> dense_grad_;
  SparseGradient sparse_grad_;
  detail::LazyL2 lazy_;
};

/// One single-thread run: the clock, the progress point, and the loss since the last
/// evaluation.
class SgdRun {
 public:
  SgdRun(const Objective& objective, const Subset& train, const Subset* test,
         const SgdConfig& config, float* params, const ProgressCallback& on_progress, SgdStep& step,
         detail::DivergenceGuard& guard)
      : step_(step),
        guard_(guard),
        objective_(objective),
        test_(test),
        config_(config),
        params_(params),
        on_progress_(on_progress),
        rows_(train.rows.size()),
        total_samples_(config.epochs * static_cast<double>(train.rows.size())) {}

  double fraction_done() const {
    if (config_.steps > 0)
      return static_cast<double>(p_.steps) / static_cast<double>(config_.steps);
    if (config_.epochs > 0) return static_cast<double>(p_.samples) / total_samples_;
    return seconds_since(start_) / config_.seconds;
  }
  double epochs_done() const {
    return static_cast<double>(p_.samples) / static_cast<double>(rows_);
  }
  std::uint64_t steps() const { return p_.steps; }

  /// The position of the run (checkpoints): counts, the window since the last evaluation,
  /// wall time so far.
  void save(detail::StateWriter& out) const {
    out.put(p_.steps);
    out.put(p_.samples);
    out.put(p_.lr);
    out.put(loss_since_eval_);
    out.put(steps_since_eval_);
    out.put(seconds_since(start_));
  }
  void load(detail::StateReader& in) {
    p_.steps = in.get<std::uint64_t>();
    p_.samples = in.get<std::uint64_t>();
    p_.lr = in.get<double>();
    loss_since_eval_ = in.get<double>();
    steps_since_eval_ = in.get<std::uint64_t>();
    const auto elapsed = std::chrono::duration<double>(in.get<double>());
    start_ = Clock::now() - std::chrono::duration_cast<Clock::duration>(elapsed);
    last_tick_ = seconds_since(start_);
  }

  /// Accounts for a step of `samples` rows taken at rate `lr` with minibatch loss `loss`.
  void stepped(double lr, std::size_t samples, double loss) {
    p_.lr = lr;
    ++p_.steps;
    p_.samples += samples;
    loss_since_eval_ += loss;
    ++steps_since_eval_;
  }

  /// An evaluation point when due every `eval_every` steps, else a tick when one is due.
  void report_if_due(std::uint64_t eval_every) {
    if (p_.steps % eval_every == 0) {
      report(true, false);
      last_tick_ = p_.wall_seconds;
    } else if (config_.tick_seconds > 0 &&
               seconds_since(start_) - last_tick_ >= config_.tick_seconds) {
      report(false, false);
      last_tick_ = p_.wall_seconds;
    }
  }

  /// Sends a point (an evaluation on the test rows, checked by the guard, or a tick) and
  /// returns it.
  const Progress& report(bool evaluation, bool final) {
    p_.evaluation = evaluation;
    p_.final = final;
    p_.wall_seconds = seconds_since(start_);
    p_.epoch = epochs_done();
    p_.fraction_done = std::min(1.0, fraction_done());
    if (steps_since_eval_ > 0)
      p_.train_loss = loss_since_eval_ / static_cast<double>(steps_since_eval_);
    if (evaluation) {
      loss_since_eval_ = 0;
      steps_since_eval_ = 0;
      step_.sync(params_);
      if ((on_progress_ || final || guard_.wants_test()) && test_ != nullptr &&
          test_->data != nullptr && !test_->rows.empty()) {
        const Evaluation e = evaluate(objective_, params_, *test_->data, test_->rows);
        p_.has_test = true;
        p_.test_loss = e.loss;
        p_.test_accuracy = e.accuracy;
      }
      guard_.check(p_, params_);
    }
    if (on_progress_) on_progress_(p_);
    return p_;
  }

 private:
  SgdStep& step_;
  detail::DivergenceGuard& guard_;
  const Objective& objective_;
  const Subset* test_;
  const SgdConfig& config_;
  float* params_;
  const ProgressCallback& on_progress_;
  const std::size_t rows_;
  const double total_samples_;
  Clock::time_point start_ = Clock::now();
  Progress p_;
  double last_tick_ = 0;
  double loss_since_eval_ = 0;
  std::uint64_t steps_since_eval_ = 0;
};

}  // namespace

/// A single-thread run's checkpoints: the model, the sampler, the lazy L2 clocks, the run's
/// counts and window, the divergence memory.
class SgdCheckpoints {
 public:
  SgdCheckpoints(const CheckpointPlan* plan, const Objective& objective, const Subset& train,
                 const Subset* test, const SgdConfig& config)
      : plan_(plan), params_count_(objective.num_params()) {
    if (plan == nullptr) return;
    AsyncConfig as_run;
    as_run.sgd = config;
    as_run.algorithm = AlgorithmSpec{AlgorithmSpec::Kind::Sgd, 0};
    as_run.workers = 1;
    const std::vector<std::vector<std::uint32_t>> one_shard{{train.rows.begin(), train.rows.end()}};
    identity_ = engine::run_identity(objective, train, test, as_run, one_shard);
  }

  template <class... Parts>
  Checkpoint make(std::uint64_t steps, const float* params, const Parts&... parts) const {
    detail::StateWriter out;
    out.put_span(std::span<const float>(params, params_count_));
    (parts.save(out), ...);
    return engine::seal_state(identity_, steps, std::move(out.bytes()));
  }
  /// Continues the plan's checkpoint, if it has one.
  template <class... Parts>
  void resume(float* params, Parts&... parts) const {
    if (plan_ == nullptr || plan_->resume == nullptr) return;
    detail::StateReader in(engine::open_state(*plan_->resume, identity_));
    in.get_span(std::span<float>(params, params_count_));
    (parts.load(in), ...);
    in.expect_end();
  }

 private:
  const CheckpointPlan* plan_;
  std::size_t params_count_;
  std::string identity_;
};

Progress train_sgd(const Objective& objective, const Subset& train, const Subset* test,
                   const SgdConfig& config, float* params, const ProgressCallback& on_progress,
                   const std::atomic<bool>* stop, const CheckpointPlan* checkpoints) {
  config.validate();
  if (train.data == nullptr || train.rows.empty()) throw ConfigError("train: no training rows");
  const Dataset& data = *train.data;
  detail::MinibatchSampler sampler(train.rows, config.batch, config.batch_order, config.seed);
  const std::size_t steps_per_epoch = (train.rows.size() + sampler.batch() - 1) / sampler.batch();
  const std::uint64_t eval_every = config.eval_every > 0 ? config.eval_every : steps_per_epoch;
  SgdStep step(objective, data, sampler.batch());
  detail::require_test_rows_for_early_stop(config, test);
  detail::DivergenceGuard guard(objective, train, config, params);
  SgdRun run(objective, train, test, config, params, on_progress, step, guard);
  const SgdCheckpoints saved(checkpoints, objective, train, test, config);
  saved.resume(params, sampler, step, run, guard);
  engine::CheckpointClock clock(checkpoints, run.steps());
  const auto checkpoint = [&] {
    return saved.make(run.steps(), params, sampler, step, run, guard);
  };
  const auto stopped = [&] { return stop != nullptr && stop->load(std::memory_order_relaxed); };
  return guard.run(params, [&] {
    while (run.fraction_done() < 1.0 && !stopped() && !guard.plateau_reached()) {
      const std::span<const std::uint32_t> rows = sampler.next();
      if (data.is_sparse()) detail::prefetch_rows(data, sampler.upcoming());  // a step ahead
      const double lr = learning_rate(config, run.epochs_done(), run.fraction_done());
      const double loss = step(params, rows, static_cast<float>(lr), run.steps());
      run.stepped(lr, rows.size(), loss);
      if (run.fraction_done() >= 1.0 || stopped()) break;  // the final report below evaluates
      run.report_if_due(eval_every);
      clock.offer(run.steps(), checkpoint);
    }
    if (stopped() && run.fraction_done() < 1.0) clock.offer_final(checkpoint);
    if (guard.plateau_reached()) {
      step.sync(params);  // nothing left pending, so the final report leaves the best model be
      guard.restore_best(params);
    }
    return run.report(true, true);
  });
}

}  // namespace dude
