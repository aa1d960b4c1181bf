// The server side of each algorithm. Each apply() makes one pass over the model per batch of
// arrivals where it can, and never allocates.
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
      : workers_(workers),
        params_(params),
        table_(workers * params),
        sum_(params, 0.0),
        fresh_(workers),
        entries_(workers) {}

  void seed_gradient(std::size_t worker, const float* gradient) override {
    float* old = table_.data() + worker * params_;
    for (std::size_t i = 0; i < params_; ++i) {
      sum_[i] += static_cast<double>(gradient[i]) - static_cast<double>(old[i]);
      old[i] = gradient[i];
    }
  }

  std::uint64_t apply(std::span<const Arrival> arrivals, const float* x_in, float* x_out,
                      float lr) override {
    const float step = lr / static_cast<float>(workers_);
    if (arrivals.size() == 1) {
      const Arrival& a = arrivals[0];
      kernels::server_fold(a.gradient, table_.data() + a.header->worker * params_, sum_.data(),
                           x_in, x_out, step, params_);
      return 1;
    }
    batched_fold(arrivals, x_in, x_out, step);
    return arrivals.size();
  }

  std::span<const double> running_sum() const override { return sum_; }
  std::span<const float> table_entry(std::size_t worker) const override {
    return {table_.data() + worker * params_, params_};
  }

 private:
  // The exact batched fold (DESIGN.md §1): one pass over S and x for the whole batch.
  void batched_fold(std::span<const Arrival> arrivals, const float* x_in, float* x_out,
                    float step) {
    // The server takes at most one arrival per worker per round, so a batch fits the scratch
    // arrays (one slot per worker) and no table entry appears twice in it; longer lists are
    // folded a worker-count at a time.
    for (std::size_t begin = 0; begin < arrivals.size(); begin += workers_) {
      const std::size_t k = std::min(workers_, arrivals.size() - begin);
      for (std::size_t m = 0; m < k; ++m) {
        fresh_[m] = arrivals[begin + m].gradient;
        entries_[m] = table_.data() + arrivals[begin + m].header->worker * params_;
      }
      kernels::server_fold_batch(fresh_.data(), entries_.data(), k, sum_.data(),
                                 begin == 0 ? x_in : x_out, x_out, step, params_);
    }
  }

  const std::size_t workers_;
  const std::size_t params_;
  std::vector<float> table_;  // workers x params: each worker's latest gradient
  std::vector<double> sum_;   // S, the sum of the table
  std::vector<const float*> fresh_;  // batched_fold scratch: the arrivals' gradients
  std::vector<float*> entries_;      // ... and their workers' table entries
};

/// Applies x -= scale * (sum of the arrivals' gradients), out of place.
void descend(std::span<const Arrival> arrivals, const float* x_in, float* x_out, float scale,
             std::size_t params) {
  std::memcpy(x_out, x_in, params * sizeof(float));
  for (const Arrival& a : arrivals) kernels::axpy(-scale, a.gradient, x_out, params);
}

/// Vanilla asynchronous SGD: x -= lr * g per arrival.
class AsgdPolicy final : public ServerPolicy {
 public:
  explicit AsgdPolicy(std::size_t params) : params_(params) {}
  std::uint64_t apply(std::span<const Arrival> arrivals, const float* x_in, float* x_out,
                      float lr) override {
    descend(arrivals, x_in, x_out, lr, params_);
    return arrivals.size();
  }

 private:
  const std::size_t params_;
};

/// Synchronous minibatch SGD: one round is one gradient from every worker,
/// x -= lr * mean(g); equal to SGD with an n-times larger batch.
class SyncPolicy final : public ServerPolicy {
 public:
  SyncPolicy(std::size_t workers, std::size_t params) : workers_(workers), params_(params) {}
  std::size_t round_size() const override { return workers_; }
  std::uint64_t apply(std::span<const Arrival> arrivals, const float* x_in, float* x_out,
                      float lr) override {
    descend(arrivals, x_in, x_out, lr / static_cast<float>(arrivals.size()), params_);
    return 1;
  }

 private:
  const std::size_t workers_;
  const std::size_t params_;
};

/// FedBuff: buffer K arrivals, then x -= lr * mean(buffer).
class FedBuffPolicy final : public ServerPolicy {
 public:
  FedBuffPolicy(std::size_t buffer, std::size_t params)
      : buffer_size_(buffer), params_(params), accumulated_(params, 0.0f) {}
  std::uint64_t apply(std::span<const Arrival> arrivals, const float* x_in, float* x_out,
                      float lr) override {
    std::uint64_t steps = 0;
    const float* from = x_in;
    for (const Arrival& a : arrivals) {
      kernels::axpy(1.0f, a.gradient, accumulated_.data(), params_);
      if (++buffered_ < buffer_size_) continue;
      // A flush: x_out = from - lr/K * buffer; later flushes in this batch continue from x_out.
      if (from != x_out) std::memcpy(x_out, from, params_ * sizeof(float));
      kernels::axpy(-lr / static_cast<float>(buffer_size_), accumulated_.data(), x_out, params_);
      std::fill(accumulated_.begin(), accumulated_.end(), 0.0f);
      buffered_ = 0;
      from = x_out;
      ++steps;
    }
    return steps;
  }

 private:
  const std::size_t buffer_size_;
  const std::size_t params_;
  std::vector<float> accumulated_;  // sum of the buffered gradients
  std::size_t buffered_ = 0;
};

}  // namespace

std::unique_ptr<ServerPolicy> make_policy(const AlgorithmSpec& spec, std::size_t workers,
                                          std::size_t params) {
  switch (spec.kind) {
    case AlgorithmSpec::Kind::Dude:
      return std::make_unique<DudePolicy>(workers, params);
    case AlgorithmSpec::Kind::Asgd:
      return std::make_unique<AsgdPolicy>(params);
    case AlgorithmSpec::Kind::Sync:
      return std::make_unique<SyncPolicy>(workers, params);
    case AlgorithmSpec::Kind::FedBuff:
      return std::make_unique<FedBuffPolicy>(spec.buffer, params);
    case AlgorithmSpec::Kind::Hogwild:
      break;
  }
  throw ConfigError("algorithm " + spec.to_string() + " has no server policy");
}

}  // namespace dude::engine
