// replay_clock.hpp (internal): what the dense and the sparse replay share: the simulated
// compute times, the arrival events in time order, and the rule hogwild replays as.
#pragma once

#include <cmath>
#include <cstdint>

#include "common/rng.hpp"
#include "dude/async.hpp"

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

}  // namespace dude::engine
