#include "engine/checkpoint_state.hpp"

#include <xxhash.h>

#include <cstdio>
#include <limits>

#include "common/state_stream.hpp"
#include "dude/errors.hpp"

namespace dude::engine {
namespace {

/// XXH3 of the rows in order: each one's label and its values (dense) or indices and values
/// (sparse).
std::uint64_t rows_digest(const Dataset& data, std::span<const std::uint32_t> rows) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  for (const std::uint32_t r : rows) {
    const std::uint32_t label = data.label(r);
    XXH3_64bits_update(state, &label, sizeof label);
    if (data.is_sparse()) {
      const SparseRow row = data.sparse_row(r);
      XXH3_64bits_update(state, row.index, row.nnz * sizeof(std::uint32_t));
      XXH3_64bits_update(state, row.value, row.nnz * sizeof(float));
    } else {
      XXH3_64bits_update(state, data.dense_row(r), data.features() * sizeof(float));
    }
  }
  const std::uint64_t digest = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return digest;
}

std::uint64_t shards_digest(std::span<const std::vector<std::uint32_t>> shards) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  for (const auto& shard : shards) {
    const std::uint64_t size = shard.size();
    XXH3_64bits_update(state, &size, sizeof size);
    XXH3_64bits_update(state, shard.data(), shard.size() * sizeof(std::uint32_t));
  }
  const std::uint64_t digest = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return digest;
}

class Lines {
 public:
  template <class T>
  Lines& add(const char* name, const T& value) {
    text_.append(name).append("=").append(format(value)).append("\n");
    return *this;
  }
  std::string take() { return std::move(text_); }

 private:
  static std::string format(const std::string& v) { return v; }
  static std::string format(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", v);
    return text;
  }
  static std::string format(float v) {
    char text[32];
    std::snprintf(text, sizeof text, "%.9g", static_cast<double>(v));
    return text;
  }
  static std::string format(std::uint64_t v) { return std::to_string(v); }
  std::string text_;
};

/// The first line of `a` that differs from the same line of `b` (or is missing from it).
std::string first_difference(std::string_view a, std::string_view b) {
  while (!a.empty() || !b.empty()) {
    const std::string_view line_a = a.substr(0, a.find('\n'));
    const std::string_view line_b = b.substr(0, b.find('\n'));
    if (line_a != line_b) {
      return "it belongs to a run with " + std::string(line_a) + ", not " + std::string(line_b);
    }
    a.remove_prefix(std::min(a.size(), line_a.size() + 1));
    b.remove_prefix(std::min(b.size(), line_b.size() + 1));
  }
  return {};
}

}  // namespace

std::string run_identity(const Objective& objective, const Subset& train, const Subset* test,
                         const AsyncConfig& config,
                         std::span<const std::vector<std::uint32_t>> shards) {
  const SgdConfig& sgd = config.sgd;
  Lines lines;
  lines.add("model", objective.spec().to_string())
      .add("features", std::uint64_t{objective.features()})
      .add("classes", std::uint64_t{objective.classes()})
      .add("l2", objective.l2())
      .add("algorithm", config.algorithm.to_string())
      .add("workers", std::uint64_t{config.workers})
      .add("deterministic", std::uint64_t{config.deterministic})
      .add("compute_time", config.compute_time.to_string())
      .add("warm_start", std::uint64_t{config.warm_start})
      .add("slot", std::uint64_t{static_cast<unsigned>(config.slot)})
      .add("seed", sgd.seed)
      .add("batch", std::uint64_t{sgd.batch})
      .add("batch_order", std::uint64_t{static_cast<unsigned>(sgd.batch_order)})
      .add("epochs", sgd.epochs)
      .add("steps", sgd.steps)
      .add("seconds", sgd.seconds)
      .add("lr", sgd.lr)
      .add("schedule", std::uint64_t{static_cast<unsigned>(sgd.schedule)})
      .add("lr_decay", sgd.lr_decay)
      .add("warmup_epochs", sgd.warmup_epochs)
      .add("eval_every", sgd.eval_every)
      .add("divergence_factor", sgd.divergence_factor)
      .add("keep_last_good", std::uint64_t{sgd.keep_last_good})
      .add("early_stop", std::uint64_t{sgd.early_stop});
  for (std::size_t w = 0; w < config.workers; ++w) lines.add("slowdown", config.slowdown_of(w));
  lines.add("train_rows", std::uint64_t{train.rows.size()})
      .add("train_digest", rows_digest(*train.data, train.rows))
      .add("shards_digest", shards_digest(shards));
  const bool has_test = test != nullptr && test->data != nullptr && !test->rows.empty();
  lines.add("test_rows", std::uint64_t{has_test ? test->rows.size() : 0})
      .add("test_digest", has_test ? rows_digest(*test->data, test->rows) : 0);
  return lines.take();
}

AsyncConfig resumed_settings(const AsyncConfig& config, std::uint64_t steps) {
  AsyncConfig resumed = config;
  resumed.sgd.seed ^= 0x9E3779B97F4A7C15ull * (steps + 1);
  resumed.warm_start = false;
  return resumed;
}

Checkpoint seal_state(const std::string& identity, std::uint64_t steps, std::string payload) {
  detail::StateWriter out;
  out.put_span(std::span<const char>(identity));
  out.bytes().append(payload);
  return Checkpoint{steps, std::move(out.bytes()), {}};
}

std::string_view open_state(const Checkpoint& checkpoint, const std::string& identity) {
  detail::StateReader in(checkpoint.state);
  std::vector<char> theirs;
  in.get_vector(theirs, checkpoint.state.size());
  const std::string_view their_identity(theirs.data(), theirs.size());
  if (their_identity != identity) {
    throw CheckpointError("checkpoint: " + first_difference(their_identity, identity));
  }
  return std::string_view(checkpoint.state).substr(sizeof(std::uint64_t) + theirs.size());
}

CheckpointClock::CheckpointClock(const CheckpointPlan* plan, std::uint64_t steps)
    : plan_(plan),
      enabled_(plan != nullptr && plan->on_checkpoint &&
               (plan->every_steps > 0 || plan->every_seconds > 0)),
      every_steps_(enabled_ ? plan->every_steps : 0),
      every_seconds_(enabled_ ? plan->every_seconds : 0),
      next_steps_(every_steps_ > 0 ? (steps / every_steps_ + 1) * every_steps_
                                   : std::numeric_limits<std::uint64_t>::max()) {}

bool CheckpointClock::due(std::uint64_t steps) const {
  if (!enabled_) return false;
  if (steps >= next_steps_) return true;
  return every_seconds_ > 0 &&
         std::chrono::duration<double>(Clock::now() - last_).count() >= every_seconds_;
}

void CheckpointClock::taken(std::uint64_t steps) {
  if (every_steps_ > 0) next_steps_ = (steps / every_steps_ + 1) * every_steps_;
  last_ = Clock::now();
}

}  // namespace dude::engine
