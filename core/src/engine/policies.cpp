// The server side of each algorithm. Each round makes one pass over the model per batch of
// arrivals where it can, never allocates, and splits over coordinates (policy.hpp).
#include <algorithm>
#include <cstring>

#include "dude/errors.hpp"
#include "dude/kernels.hpp"
#include "engine/policy.hpp"

namespace dude::engine {
namespace {

/// DuDe-ASGD: S = sum over workers of each one's latest gradient (the table), and one step
/// x -= (lr / n) * S per arrival.
///
/// S is kept in double and updated with exact double differences g_new - g_old of float
/// gradients, so it equals the sum of the table up to double rounding and does not drift over
/// millions of folds (tested). The server keeps the table itself (36 bytes per coordinate per
/// fold), which lets either slot discipline carry plain gradients and keeps S checkable
/// against the table; a worker-side delta would save 8 bytes per coordinate but round the
/// delta to float and lose that exactness.
class DudePolicy final : public ServerPolicy {
 public:
  DudePolicy(std::size_t workers, std::size_t params)
      : ServerPolicy(params),
        workers_(workers),
        params_(params),
        table_(workers * params),
        sum_(params, 0.0) {}

  void seed_gradient(std::size_t worker, const float* gradient) override {
    float* old = table_.data() + worker * params_;
    for (std::size_t i = 0; i < params_; ++i) {
      sum_[i] += static_cast<double>(gradient[i]) - static_cast<double>(old[i]);
      old[i] = gradient[i];
    }
  }

  std::uint64_t begin_round(std::span<const Arrival> arrivals) override { return arrivals.size(); }

  // One arrival: server_fold (which rounds x exactly like SGD's axpy, so one worker
  // reproduces SGD bit for bit). More: the exact batched fold (docs/DESIGN.md §1), one pass
  // over S and x for up to kBatch arrivals at a time.
  void apply_range(std::span<const Arrival> arrivals, const float* x_in, float* x_out, float lr,
                   std::size_t begin, std::size_t end) override {
    const float step = lr / static_cast<float>(workers_);
    const std::size_t n = end - begin;
    if (arrivals.size() == 1) {
      const Arrival& a = arrivals[0];
      kernels::server_fold(a.gradient + begin, entry(*a.header) + begin, sum_.data() + begin,
                           x_in + begin, x_out + begin, step, n);
      return;
    }
    // The server takes at most one arrival per worker per round, so no table entry appears
    // twice in a batch of at most `workers_` arrivals.
    const std::size_t batch = std::min(workers_, kBatch);
    for (std::size_t first = 0; first < arrivals.size(); first += batch) {
      const std::size_t k = std::min(batch, arrivals.size() - first);
      const float* fresh[kBatch];
      float* entries[kBatch];
      for (std::size_t m = 0; m < k; ++m) {
        fresh[m] = arrivals[first + m].gradient + begin;
        entries[m] = entry(*arrivals[first + m].header) + begin;
      }
      kernels::server_fold_batch(fresh, entries, k, sum_.data() + begin,
                                 (first == 0 ? x_in : x_out) + begin, x_out + begin, step, n);
    }
  }

  std::span<const double> running_sum() const override { return sum_; }
  std::span<const float> table_entry(std::size_t worker) const override {
    return {table_.data() + worker * params_, params_};
  }
  void save(detail::StateWriter& out) const override {
    out.put_vector(table_);
    out.put_vector(sum_);
  }
  void load(detail::StateReader& in) override {
    in.get_span(std::span<float>(table_));
    in.get_span(std::span<double>(sum_));
  }

 private:
  static constexpr std::size_t kBatch = 64;  // arrivals per batched pass (stack arrays)
  float* entry(const GradientHeader& header) { return table_.data() + header.worker * params_; }

  const std::size_t workers_;
  const std::size_t params_;
  std::vector<float> table_;  // workers x params: each worker's latest gradient
  std::vector<double> sum_;   // S, the sum of the table
};

/// Applies x -= scale * (sum of the arrivals' gradients) on [begin, end), out of place.
void descend(std::span<const Arrival> arrivals, const float* x_in, float* x_out, float scale,
             std::size_t begin, std::size_t end) {
  std::memcpy(x_out + begin, x_in + begin, (end - begin) * sizeof(float));
  for (const Arrival& a : arrivals) {
    kernels::axpy(-scale, a.gradient + begin, x_out + begin, end - begin);
  }
}

/// Vanilla asynchronous SGD: x -= lr * g per arrival.
class AsgdPolicy final : public ServerPolicy {
 public:
  explicit AsgdPolicy(std::size_t params) : ServerPolicy(params) {}
  std::uint64_t begin_round(std::span<const Arrival> arrivals) override { return arrivals.size(); }
  void apply_range(std::span<const Arrival> arrivals, const float* x_in, float* x_out, float lr,
                   std::size_t begin, std::size_t end) override {
    descend(arrivals, x_in, x_out, lr, begin, end);
  }
};

/// Synchronous minibatch SGD: one round is one gradient from every worker,
/// x -= lr * mean(g); equal to SGD with an n-times larger batch.
class SyncPolicy final : public ServerPolicy {
 public:
  SyncPolicy(std::size_t workers, std::size_t params) : ServerPolicy(params), workers_(workers) {}
  std::size_t round_size() const override { return workers_; }
  std::uint64_t begin_round(std::span<const Arrival>) override { return 1; }
  void apply_range(std::span<const Arrival> arrivals, const float* x_in, float* x_out, float lr,
                   std::size_t begin, std::size_t end) override {
    descend(arrivals, x_in, x_out, lr / static_cast<float>(arrivals.size()), begin, end);
  }

 private:
  const std::size_t workers_;
};

/// FedBuff: buffer K arrivals, then x -= lr * mean(buffer).
class FedBuffPolicy final : public ServerPolicy {
 public:
  FedBuffPolicy(std::size_t buffer, std::size_t params)
      : ServerPolicy(params), buffer_size_(buffer), accumulated_(params, 0.0f) {}

  void save(detail::StateWriter& out) const override {
    out.put_vector(accumulated_);
    out.put(buffered_);
  }
  void load(detail::StateReader& in) override {
    in.get_span(std::span<float>(accumulated_));
    buffered_ = in.get<std::size_t>();
    if (buffered_ >= buffer_size_) throw CheckpointError("checkpoint: fedbuff's buffer overflows");
  }

  std::uint64_t begin_round(std::span<const Arrival> arrivals) override {
    buffered_at_start_ = buffered_;
    const std::size_t total = buffered_ + arrivals.size();
    buffered_ = total % buffer_size_;
    return total / buffer_size_;
  }

  // Every range replays the round's flushes from the count at its start.
  void apply_range(std::span<const Arrival> arrivals, const float* x_in, float* x_out, float lr,
                   std::size_t begin, std::size_t end) override {
    const std::size_t n = end - begin;
    float* sum = accumulated_.data() + begin;
    std::size_t buffered = buffered_at_start_;
    const float* from = x_in;
    for (const Arrival& a : arrivals) {
      kernels::axpy(1.0f, a.gradient + begin, sum, n);
      if (++buffered < buffer_size_) continue;
      // A flush: x_out = from - lr/K * buffer; later flushes in this round continue from x_out.
      if (from != x_out) std::memcpy(x_out + begin, from + begin, n * sizeof(float));
      kernels::axpy(-lr / static_cast<float>(buffer_size_), sum, x_out + begin, n);
      std::fill(sum, sum + n, 0.0f);
      buffered = 0;
      from = x_out;
    }
  }

 private:
  const std::size_t buffer_size_;
  std::vector<float> accumulated_;     // sum of the buffered gradients
  std::size_t buffered_ = 0;           // arrivals in the buffer after the rounds begun so far
  std::size_t buffered_at_start_ = 0;  // ... before the round begun last
};

}  // namespace

std::unique_ptr<ServerPolicy> make_policy(const AlgorithmSpec& spec, std::size_t workers,
                                          std::size_t params) {
  switch (spec.kind) {
    case AlgorithmSpec::Kind::Dude: return std::make_unique<DudePolicy>(workers, params);
    case AlgorithmSpec::Kind::Asgd: return std::make_unique<AsgdPolicy>(params);
    case AlgorithmSpec::Kind::Sync: return std::make_unique<SyncPolicy>(workers, params);
    case AlgorithmSpec::Kind::FedBuff: return std::make_unique<FedBuffPolicy>(spec.buffer, params);
    case AlgorithmSpec::Kind::Ringleader:
    case AlgorithmSpec::Kind::Malenia:
    case AlgorithmSpec::Kind::AsgdDelayAdaptive:
      return make_successor_policy(spec, workers, params);
    case AlgorithmSpec::Kind::Hogwild:
    case AlgorithmSpec::Kind::Sgd: break;
  }
  throw ConfigError("algorithm " + spec.to_string() + " has no server policy");
}

}  // namespace dude::engine
