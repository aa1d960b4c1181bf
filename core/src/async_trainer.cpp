// train_async: partitions the data, starts the engine for the chosen algorithm, and turns its
// counters into progress points on the calling thread (the monitor), which also evaluates
// snapshots of the model while training goes on.
#include <charconv>
#include <thread>

#include "dude/async.hpp"
#include "dude/errors.hpp"
#include "engine/gradient_slot.hpp"
#include "engine/hogwild_engine.hpp"
#include "engine/policy.hpp"
#include "engine/server_engine.hpp"
#include "minibatch_sampler.hpp"

namespace dude {

AlgorithmSpec AlgorithmSpec::parse(std::string_view text) {
  AlgorithmSpec spec;
  if (text == "dude") return spec;
  if (text == "asgd") {
    spec.kind = Kind::Asgd;
    return spec;
  }
  if (text == "hogwild") {
    spec.kind = Kind::Hogwild;
    return spec;
  }
  if (text == "sync") {
    spec.kind = Kind::Sync;
    return spec;
  }
  const std::string_view prefix = "fedbuff:";
  if (text.substr(0, prefix.size()) == prefix) {
    const std::string_view k = text.substr(prefix.size());
    std::uint32_t buffer = 0;
    const auto [end, ec] = std::from_chars(k.data(), k.data() + k.size(), buffer);
    if (ec == std::errc() && end == k.data() + k.size() && buffer >= 1) {
      spec.kind = Kind::FedBuff;
      spec.buffer = buffer;
      return spec;
    }
  }
  throw ConfigError("algorithm '" + std::string(text) +
                    "': expected dude, asgd, hogwild, sync or fedbuff:K (K >= 1)");
}

std::string AlgorithmSpec::to_string() const {
  switch (kind) {
    case Kind::Dude:
      return "dude";
    case Kind::Asgd:
      return "asgd";
    case Kind::Hogwild:
      return "hogwild";
    case Kind::Sync:
      return "sync";
    case Kind::FedBuff:
      return "fedbuff:" + std::to_string(buffer);
  }
  return "?";
}

SlotDiscipline parse_slot_discipline(std::string_view text) {
  if (text == "handoff") return SlotDiscipline::Handoff;
  if (text == "triple") return SlotDiscipline::TripleBuffer;
  throw ConfigError("slot discipline '" + std::string(text) + "': expected handoff or triple");
}

void AsyncConfig::validate() const {
  sgd.validate();
  if (workers == 0 || workers > 4096) throw ConfigError("workers: must be in [1, 4096]");
  if (!slowdown.empty() && slowdown.size() != workers) {
    throw ConfigError("slowdown: needs one factor per worker");
  }
  for (const double f : slowdown) {
    if (!(f >= 1.0) || !std::isfinite(f)) throw ConfigError("slowdown: factors must be finite and >= 1");
  }
  if (algorithm.kind == AlgorithmSpec::Kind::FedBuff && algorithm.buffer == 0) {
    throw ConfigError("algorithm: fedbuff needs K >= 1");
  }
}

namespace {

using engine::RunState;

/// The calling thread's part of a run: budget by time and stop requests, evaluation points
/// and ticks. `Engine` is a ServerEngine or the HogwildEngine.
template <class Engine>
Progress monitor(Engine& engine, RunState& run, const Objective& objective, const Subset* test,
                 const ProgressCallback& on_progress, const std::atomic<bool>* user_stop,
                 float* params, std::size_t threads) {
  const SgdConfig& sgd = run.config.sgd;
  const engine::Budget& budget = run.budget;
  const bool has_test = test != nullptr && test->data != nullptr && !test->rows.empty();
  std::vector<float> snapshot(objective.num_params());
  engine::RunCounters& counters = run.counters;

  std::uint64_t next_eval_steps = sgd.eval_every;
  std::uint64_t next_eval_samples = sgd.eval_every > 0 ? 0 : budget.rows;
  double last_tick = 0;
  double loss_at_last = 0;
  std::uint64_t count_at_last = 0, staleness_at_last = 0;

  auto point = [&](bool evaluation, std::uint64_t steps, const float* model) {
    Progress p;
    p.evaluation = evaluation;
    p.wall_seconds = run.elapsed();
    p.steps = steps;
    p.samples = counters.samples.load(std::memory_order_relaxed);
    p.epoch = static_cast<double>(p.samples) / static_cast<double>(budget.rows);
    p.fraction_done = std::min(1.0, budget.fraction(p.steps, p.samples, p.wall_seconds));
    p.lr = run.learning_rate(p.steps, p.samples);
    const std::uint64_t count = counters.staleness_count.load(std::memory_order_relaxed);
    const double loss = counters.loss_sum.load(std::memory_order_relaxed);
    const std::uint64_t staleness = counters.staleness_sum.load(std::memory_order_relaxed);
    if (count > count_at_last) {
      const double n = static_cast<double>(count - count_at_last);
      p.train_loss = (loss - loss_at_last) / n;
      p.staleness_mean = static_cast<double>(staleness - staleness_at_last) / n;
    }
    p.staleness_max = counters.staleness_max.load(std::memory_order_relaxed);
    for (std::size_t w = 0; w < run.config.workers; ++w) {
      p.arrivals.push_back(counters.arrivals[w].load(std::memory_order_relaxed));
    }
    if (evaluation) {
      loss_at_last = loss;
      count_at_last = count;
      staleness_at_last = staleness;
      if (has_test) {
        const Evaluation e = evaluate(objective, model, *test->data, test->rows);
        p.has_test = true;
        p.test_loss = e.loss;
        p.test_accuracy = e.accuracy;
      }
    }
    return p;
  };

  try {
    engine.start();
    while (!run.stopping()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      if ((budget.seconds > 0 && run.elapsed() >= budget.seconds) ||
          (user_stop != nullptr && user_stop->load(std::memory_order_relaxed))) {
        run.stop.store(true, std::memory_order_relaxed);
        break;
      }
      const std::uint64_t steps = counters.steps.load(std::memory_order_relaxed);
      const std::uint64_t samples = counters.samples.load(std::memory_order_relaxed);
      const bool eval_due = sgd.eval_every > 0 ? steps >= next_eval_steps : samples >= next_eval_samples;
      if (eval_due && !budget.spent(steps, samples)) {
        const std::uint64_t version = engine.snapshot(snapshot.data());
        const Progress p = point(true, version, snapshot.data());
        if (on_progress) on_progress(p);
        if (sgd.eval_every > 0) {
          while (next_eval_steps <= steps) next_eval_steps += sgd.eval_every;
        } else {
          while (next_eval_samples <= samples) next_eval_samples += budget.rows;
        }
        last_tick = run.elapsed();
      } else if (sgd.tick_seconds > 0 && run.elapsed() - last_tick >= sgd.tick_seconds) {
        const Progress p = point(false, steps, nullptr);
        if (on_progress) on_progress(p);
        last_tick = p.wall_seconds;
      }
    }
  } catch (...) {
    run.fail(threads, std::current_exception());
  }
  run.stop.store(true, std::memory_order_relaxed);
  engine.join();
  for (const std::exception_ptr& error : run.errors) {
    if (error) std::rethrow_exception(error);
  }
  const std::uint64_t version = engine.snapshot(params);
  Progress last = point(true, version, params);
  last.final = true;
  if (on_progress) on_progress(last);
  return last;
}

/// DuDe's warm start: every worker's gradient at the initial model, on a minibatch of its own
/// shard drawn from a stream the workers do not use.
void warm_start(engine::ServerPolicy& policy, const Objective& objective, const Dataset& data,
                const std::vector<std::vector<std::uint32_t>>& shards, const SgdConfig& sgd,
                const float* params) {
  std::vector<float> gradient(objective.num_params());
  for (std::size_t w = 0; w < shards.size(); ++w) {
    MinibatchSampler sampler(shards[w], sgd.batch, sgd.seed, /*stream=*/(1u << 20) + w);
    Workspace ws = objective.make_workspace(sampler.batch(), !data.is_sparse());
    objective.loss_grad(params, data, sampler.next(), gradient.data(), ws);
    policy.seed_gradient(w, gradient.data());
  }
}

template <class Slot>
Progress run_server(const Objective& objective, const Dataset& data,
                    const std::vector<std::vector<std::uint32_t>>& shards, const Subset* test,
                    const AsyncConfig& config, float* params, const ProgressCallback& on_progress,
                    const std::atomic<bool>* stop, std::size_t train_rows) {
  const std::size_t threads = config.workers + 1;
  RunState run(config, train_rows, threads + 1);
  const std::unique_ptr<engine::ServerPolicy> policy =
      engine::make_policy(config.algorithm, config.workers, objective.num_params());
  if (config.algorithm.kind == AlgorithmSpec::Kind::Dude && config.warm_start) {
    warm_start(*policy, objective, data, shards, config.sgd, params);
  }
  engine::ServerEngine<Slot> server(objective, data, shards, run, *policy, params);
  return monitor(server, run, objective, test, on_progress, stop, params, threads);
}

}  // namespace

Progress train_async(const Objective& objective, const Subset& train, const Subset* test,
                     const AsyncConfig& config, float* params, const ProgressCallback& on_progress,
                     const std::atomic<bool>* stop) {
  config.validate();
  if (train.data == nullptr || train.rows.empty()) throw ConfigError("train: no training rows");
  const std::vector<std::vector<std::uint32_t>> shards =
      partition_rows(*train.data, train.rows, config.workers, config.partition, config.sgd.seed);
  const Dataset& data = *train.data;
  const std::size_t rows = train.rows.size();

  if (config.algorithm.kind == AlgorithmSpec::Kind::Hogwild) {
    RunState run(config, rows, config.workers + 1);
    engine::HogwildEngine hogwild(objective, data, shards, run, params);
    return monitor(hogwild, run, objective, test, on_progress, stop, params, config.workers);
  }
  // Sync needs the server to hold every worker's gradient until the round is complete.
  const bool handoff = config.slot == SlotDiscipline::Handoff ||
                       config.algorithm.kind == AlgorithmSpec::Kind::Sync;
  if (handoff) {
    return run_server<engine::HandoffSlot>(objective, data, shards, test, config, params,
                                           on_progress, stop, rows);
  }
  return run_server<engine::TripleBufferSlot>(objective, data, shards, test, config, params,
                                              on_progress, stop, rows);
}

}  // namespace dude
