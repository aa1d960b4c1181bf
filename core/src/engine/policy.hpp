// policy.hpp (internal): what the server does with arrived gradients, one class per
// algorithm. The threaded engine and the replay on a virtual clock call the same code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/aligned_buffer.hpp"
#include "common/state_stream.hpp"
#include "dude/async.hpp"
#include "engine/gradient_slot.hpp"

namespace dude::engine {

/// One gradient the server has taken from a slot.
struct Arrival {
  const float* gradient;
  const GradientHeader* header;
};

/// A round is the arrivals the server applies together. It starts on the server thread with
/// begin_round (bookkeeping only) and then does its coordinate work with apply_range, which
/// the server's fold team may split over disjoint ranges run at once on different threads.
/// Each coordinate's arithmetic does not depend on the split, so the result is the same bit
/// for bit however many threads fold.
class ServerPolicy {
 public:
  explicit ServerPolicy(std::size_t params) : params_(params) {}
  virtual ~ServerPolicy() = default;
  /// Starts a round (server thread). Returns the number of model steps it takes; when it is 0
  /// the model does not change and apply_range does not write x_out.
  virtual std::uint64_t begin_round(std::span<const Arrival> arrivals) = 0;
  /// The coordinate work of the round begun last, on [begin, end): reads x_in and writes the
  /// resulting model to x_out (a different array) there.
  virtual void apply_range(std::span<const Arrival> arrivals, const float* x_in, float* x_out,
                           float lr, std::size_t begin, std::size_t end) = 0;
  /// A whole round on the calling thread; returns its model steps.
  std::uint64_t apply(std::span<const Arrival> arrivals, const float* x_in, float* x_out,
                      float lr) {
    const std::uint64_t steps = begin_round(arrivals);
    apply_range(arrivals, x_in, x_out, lr, 0, params_);
    return steps;
  }
  std::size_t params() const noexcept { return params_; }
  /// Sync waits for this many arrivals, one per worker, before applying them; 0 for the
  /// asynchronous algorithms, which apply whatever has arrived.
  virtual std::size_t round_size() const { return 0; }
  /// DuDe's warm start: worker w's gradient at the initial model enters the table.
  virtual void seed_gradient(std::size_t /*worker*/, const float* /*gradient*/) {}
  /// DuDe's running sum S and gradient table (empty for the others), for invariant checks.
  virtual std::span<const double> running_sum() const { return {}; }
  virtual std::span<const float> table_entry(std::size_t /*worker*/) const { return {}; }
  /// The algorithm's memory between rounds (DuDe's table and S, FedBuff's buffer), for
  /// checkpoints; load() into a policy made with the same settings. None for the others.
  virtual void save(detail::StateWriter& /*out*/) const {}
  virtual void load(detail::StateReader& /*in*/) {}

 private:
  const std::size_t params_;
};

/// Makes the server side of an algorithm (not Hogwild, which has no server) for `workers`
/// workers and models of `params` floats.
std::unique_ptr<ServerPolicy> make_policy(const AlgorithmSpec& spec, std::size_t workers,
                                          std::size_t params);
/// The same for ringleader, malenia and asgd-da (successor_policies.cpp).
std::unique_ptr<ServerPolicy> make_successor_policy(const AlgorithmSpec& spec, std::size_t workers,
                                                    std::size_t params);

/// asgd-da's C: the spec's, or the number of workers, the delay asgd's gradients have when
/// every worker is equally fast.
inline std::uint64_t delay_scale_of(const AlgorithmSpec& spec, std::size_t workers) {
  return spec.delay_scale > 0 ? spec.delay_scale : workers;
}
/// asgd-da's step factor for a gradient `delay` server steps old: min(1, C / delay).
inline float delay_factor(std::uint64_t scale, std::uint64_t delay) {
  return delay <= scale
             ? 1.0f
             : static_cast<float>(static_cast<double>(scale) / static_cast<double>(delay));
}

}  // namespace dude::engine
