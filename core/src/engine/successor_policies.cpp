// The successors of DuDe-ASGD on the server (docs/DESIGN.md §13): Ringleader's table refreshed
// in rounds, Malenia's batches at the current model, and asgd with a step that shrinks with
// the delay. Each keeps the contract of policy.hpp: begin_round decides, on the server thread,
// what each arrival of the round does; apply_range carries out those decisions on its
// coordinates, so the result does not depend on how the fold team splits them.
#include <algorithm>
#include <cstring>
#include <vector>

#include "dude/errors.hpp"
#include "dude/kernels.hpp"
#include "engine/policy.hpp"

namespace dude::engine {
namespace {

/// dst[j] += src[j] on [0, n).
void accumulate(const float* src, float* dst, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) dst[j] += src[j];
}

/// Ringleader ASGD (Maranjyan & Richtárik, ICLR 2026) as its abstract and update rule state
/// it: DuDe's table of one entry per worker, but an entry is refreshed once a round, with the
/// mean of every gradient its worker sent since the previous refresh, and the server steps
/// x -= (lr / n) S (S the sum of the entries) at each refresh. A round is therefore n steps,
/// one per worker. A worker's gradients after its refresh wait in its buffer for the next
/// round: nothing is discarded and no worker waits. The first round fills the table: no step
/// until every worker has sent a gradient, then all entries are set at once and the server
/// steps. How the paper books the rounds in detail was not in our reference material; this is
/// our reading (docs/DESIGN.md §13 says what follows from it).
///
/// An entry used at a step is thus at most three rounds old, where DuDe keeps a straggler's
/// entry for as long as the straggler takes. S is kept in double from exact differences of the
/// float entries, as DuDe's.
class RingleaderPolicy final : public ServerPolicy {
 public:
  RingleaderPolicy(std::size_t workers, std::size_t params)
      : ServerPolicy(params),
        workers_(workers),
        table_(workers * params),
        buffer_(workers * params),
        sum_(params, 0.0),
        counts_(workers, 0),
        refreshed_(workers, 0) {}

  std::uint64_t begin_round(std::span<const Arrival> arrivals) override {
    plan_.clear();
    std::uint64_t steps = 0;
    for (const Arrival& a : arrivals) {
      const std::size_t w = a.header->worker;
      plan_.push_back(decide(w));
      if (plan_.back().kind != Action::Kind::Buffer) ++steps;
    }
    return steps;
  }

  void apply_range(std::span<const Arrival> arrivals, const float* x_in, float* x_out, float lr,
                   std::size_t begin, std::size_t end) override {
    const float step = lr / static_cast<float>(workers_);
    const float* from = x_in;
    for (std::size_t m = 0; m < arrivals.size(); ++m) {
      const std::size_t w = arrivals[m].header->worker;
      const float* g = arrivals[m].gradient + begin;
      const Action& action = plan_[m];
      if (action.kind == Action::Kind::Refresh) {
        refresh(w, g, action.count, begin, end);
      } else {
        accumulate(g, buffered(w) + begin, end - begin);
        if (action.kind == Action::Kind::Buffer) continue;
        fill_table(begin, end);
      }
      for (std::size_t j = begin; j < end; ++j) {
        x_out[j] = from[j] - step * static_cast<float>(sum_[j]);
      }
      from = x_out;
    }
  }

  std::span<const double> running_sum() const override { return sum_; }
  std::span<const float> table_entry(std::size_t worker) const override {
    return {table_.data() + worker * params(), params()};
  }
  void save(detail::StateWriter& out) const override {
    out.put_vector(table_);
    out.put_vector(buffer_);
    out.put_vector(sum_);
    out.put_vector(counts_);
    out.put_vector(refreshed_);
    out.put(filled_);
  }
  void load(detail::StateReader& in) override {
    in.get_span(std::span<float>(table_));
    in.get_span(std::span<float>(buffer_));
    in.get_span(std::span<double>(sum_));
    in.get_span(std::span<std::uint32_t>(counts_));
    in.get_span(std::span<char>(refreshed_));
    filled_ = in.get<bool>();
    refreshed_count_ =
        static_cast<std::size_t>(std::count(refreshed_.begin(), refreshed_.end(), 1));
    seen_ = static_cast<std::size_t>(workers_ - std::count(counts_.begin(), counts_.end(), 0u));
    if (refreshed_count_ >= workers_ && filled_) {
      throw CheckpointError("checkpoint: ringleader's round is over but not restarted");
    }
  }

 private:
  /// What an arrival does: wait in its worker's buffer, refresh its worker's entry with the
  /// mean of `count` gradients (and step), or complete the first round's table (and step).
  struct Action {
    enum class Kind { Buffer, Refresh, Fill } kind;
    std::uint32_t count;
  };

  Action decide(std::size_t w) {
    ++counts_[w];
    if (!filled_) {
      if (counts_[w] == 1) ++seen_;
      if (seen_ < workers_) return {Action::Kind::Buffer, 0};
      fill_counts_ = counts_;
      std::fill(counts_.begin(), counts_.end(), 0u);
      filled_ = true;
      return {Action::Kind::Fill, 0};
    }
    if (refreshed_[w]) return {Action::Kind::Buffer, 0};
    const Action refresh{Action::Kind::Refresh, counts_[w]};
    counts_[w] = 0;
    refreshed_[w] = 1;
    if (++refreshed_count_ == workers_) {  // the round is over: the next one starts
      std::fill(refreshed_.begin(), refreshed_.end(), 0);
      refreshed_count_ = 0;
    }
    return refresh;
  }

  float* buffered(std::size_t w) { return buffer_.data() + w * params(); }
  float* entry(std::size_t w) { return table_.data() + w * params(); }

  /// Worker w's entry becomes the mean of its buffer and g, `count` gradients in all.
  void refresh(std::size_t w, const float* g, std::uint32_t count, std::size_t begin,
               std::size_t end) {
    float* old = entry(w);
    float* pending = buffered(w);
    const auto n = static_cast<float>(count);
    for (std::size_t j = begin; j < end; ++j) {
      const float mean = (pending[j] + g[j - begin]) / n;
      sum_[j] += static_cast<double>(mean) - static_cast<double>(old[j]);
      old[j] = mean;
      pending[j] = 0.0f;
    }
  }

  /// The first round's end: every entry becomes the mean of its worker's buffer.
  void fill_table(std::size_t begin, std::size_t end) {
    std::fill(sum_.begin() + static_cast<std::ptrdiff_t>(begin),
              sum_.begin() + static_cast<std::ptrdiff_t>(end), 0.0);
    for (std::size_t w = 0; w < workers_; ++w) {
      float* e = entry(w);
      float* pending = buffered(w);
      const auto n = static_cast<float>(fill_counts_[w]);
      for (std::size_t j = begin; j < end; ++j) {
        e[j] = pending[j] / n;
        sum_[j] += static_cast<double>(e[j]);
        pending[j] = 0.0f;
      }
    }
  }

  const std::size_t workers_;
  std::vector<float> table_;                // workers x params: each worker's refreshed mean
  std::vector<float> buffer_;               // workers x params: sums of gradients since a refresh
  std::vector<double> sum_;                 // S, the sum of the table
  std::vector<std::uint32_t> counts_;       // gradients in each buffer
  std::vector<char> refreshed_;             // per worker: refreshed in this round
  std::size_t refreshed_count_ = 0;         // workers refreshed in this round
  bool filled_ = false;                     // the first round is over
  std::size_t seen_ = 0;                    // first round: workers that have sent a gradient
  std::vector<std::uint32_t> fill_counts_;  // the counts the first round ended with
  std::vector<Action> plan_;                // the round begun last, one action per arrival
};

/// Malenia SGD (Tyurin & Richtárik, NeurIPS 2023): the server counts the gradients each worker
/// computed at the current model (b_i) and steps once every b_i >= 1 and their harmonic mean
/// (1/n Σ 1/b_i)^-1 reaches S: x -= lr (1/n) Σ_i (1/b_i) Σ_j g_ij. Gradients computed at an
/// older model are discarded, as the method prescribes: their work is lost (Ringleader keeps
/// it). A step takes every worker's gradient, so a round holds at most one.
class MaleniaPolicy final : public ServerPolicy {
 public:
  MaleniaPolicy(std::size_t workers, std::size_t params, std::uint32_t harmonic_batch)
      : ServerPolicy(params),
        workers_(workers),
        harmonic_batch_(harmonic_batch),
        sums_(workers * params, 0.0f),
        counts_(workers, 0),
        weights_(workers) {}

  std::uint64_t begin_round(std::span<const Arrival> arrivals) override {
    plan_.clear();
    std::uint64_t steps = 0;
    for (const Arrival& a : arrivals) {
      if (a.header->model_version != version_) {
        plan_.push_back(Action::Discard);
        continue;
      }
      ++counts_[a.header->worker];
      if (!ready()) {
        plan_.push_back(Action::Add);
        continue;
      }
      for (std::size_t w = 0; w < workers_; ++w) {
        weights_[w] = 1.0f / (static_cast<float>(workers_) * static_cast<float>(counts_[w]));
      }
      std::fill(counts_.begin(), counts_.end(), 0u);
      ++version_;
      ++steps;
      plan_.push_back(Action::AddAndStep);
    }
    return steps;
  }

  void apply_range(std::span<const Arrival> arrivals, const float* x_in, float* x_out, float lr,
                   std::size_t begin, std::size_t end) override {
    const std::size_t n = end - begin;
    for (std::size_t m = 0; m < arrivals.size(); ++m) {
      if (plan_[m] == Action::Discard) continue;
      accumulate(arrivals[m].gradient + begin, sum_of(arrivals[m].header->worker) + begin, n);
      if (plan_[m] == Action::Add) continue;
      std::memcpy(x_out + begin, x_in + begin, n * sizeof(float));
      for (std::size_t w = 0; w < workers_; ++w) {
        float* sum = sum_of(w) + begin;
        kernels::axpy(-lr * weights_[w], sum, x_out + begin, n);
        std::fill(sum, sum + n, 0.0f);
      }
    }
  }

  void save(detail::StateWriter& out) const override {
    out.put_vector(sums_);
    out.put_vector(counts_);
    out.put(version_);
  }
  void load(detail::StateReader& in) override {
    in.get_span(std::span<float>(sums_));
    in.get_span(std::span<std::uint32_t>(counts_));
    version_ = in.get<std::uint64_t>();
    if (ready()) throw CheckpointError("checkpoint: malenia's batch was due but not taken");
  }

 private:
  enum class Action { Discard, Add, AddAndStep };

  /// Every worker has a gradient at the current model and the counts' harmonic mean is >= S.
  bool ready() const {
    double inverse_sum = 0;
    for (const std::uint32_t b : counts_) {
      if (b == 0) return false;
      inverse_sum += 1.0 / static_cast<double>(b);
    }
    return static_cast<double>(workers_) >= static_cast<double>(harmonic_batch_) * inverse_sum;
  }
  float* sum_of(std::size_t w) { return sums_.data() + w * params(); }

  const std::size_t workers_;
  const std::uint32_t harmonic_batch_;  // S
  std::vector<float> sums_;             // workers x params: Σ_j g_ij at the current model
  std::vector<std::uint32_t> counts_;   // b_i
  std::vector<float> weights_;          // the step begun last: 1 / (n b_i)
  std::uint64_t version_ = 0;           // the policy's steps: the current model's version
  std::vector<Action> plan_;
};

/// Delay-adaptive asgd: x -= lr min(1, C / tau) g per arrival (delay_factor, policy.hpp).
class DelayAdaptiveAsgdPolicy final : public ServerPolicy {
 public:
  DelayAdaptiveAsgdPolicy(std::size_t params, std::uint64_t delay_scale)
      : ServerPolicy(params), delay_scale_(delay_scale) {}

  std::uint64_t begin_round(std::span<const Arrival> arrivals) override {
    factors_.clear();
    for (const Arrival& a : arrivals) {
      factors_.push_back(delay_factor(delay_scale_, version_ - a.header->model_version));
      ++version_;
    }
    return arrivals.size();
  }
  void apply_range(std::span<const Arrival> arrivals, const float* x_in, float* x_out, float lr,
                   std::size_t begin, std::size_t end) override {
    std::memcpy(x_out + begin, x_in + begin, (end - begin) * sizeof(float));
    for (std::size_t m = 0; m < arrivals.size(); ++m) {
      kernels::axpy(-lr * factors_[m], arrivals[m].gradient + begin, x_out + begin, end - begin);
    }
  }
  void save(detail::StateWriter& out) const override { out.put(version_); }
  void load(detail::StateReader& in) override { version_ = in.get<std::uint64_t>(); }

 private:
  const std::uint64_t delay_scale_;
  std::uint64_t version_ = 0;   // the steps so far: an arrival's delay is counted from here
  std::vector<float> factors_;  // the round begun last: each arrival's min(1, C / tau)
};

}  // namespace

std::unique_ptr<ServerPolicy> make_successor_policy(const AlgorithmSpec& spec, std::size_t workers,
                                                    std::size_t params) {
  switch (spec.kind) {
    case AlgorithmSpec::Kind::Ringleader:
      return std::make_unique<RingleaderPolicy>(workers, params);
    case AlgorithmSpec::Kind::Malenia:
      return std::make_unique<MaleniaPolicy>(workers, params, spec.harmonic_batch);
    case AlgorithmSpec::Kind::AsgdDelayAdaptive:
      return std::make_unique<DelayAdaptiveAsgdPolicy>(params, delay_scale_of(spec, workers));
    default: break;
  }
  throw ConfigError("algorithm " + spec.to_string() + " is not a successor of DuDe");
}

}  // namespace dude::engine
