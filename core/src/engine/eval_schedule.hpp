// eval_schedule.hpp (internal): when the next evaluation point of an asynchronous run is due;
// shared by the threaded monitor and the replay, so that both evaluate at the same counts.
#pragma once

#include <cstdint>

#include "common/state_stream.hpp"

namespace dude::engine {

/// When the next evaluation point of an asynchronous run is due: every SgdConfig::eval_every
/// server steps, or each time the applied samples pass a multiple of the training rows
/// (eval_every 0: once an epoch). kEvalAtEndOnly is never due (the final point is separate).
class EvalSchedule {
 public:
  EvalSchedule(std::uint64_t eval_every, std::uint64_t rows)
      : every_(eval_every),
        rows_(rows),
        next_steps_(eval_every),
        next_samples_(eval_every > 0 ? 0 : rows) {}
  bool due(std::uint64_t steps, std::uint64_t samples) const {
    return every_ > 0 ? steps >= next_steps_ : samples >= next_samples_;
  }
  void save(detail::StateWriter& out) const {
    out.put(next_steps_);
    out.put(next_samples_);
  }
  void load(detail::StateReader& in) {
    next_steps_ = in.get<std::uint64_t>();
    next_samples_ = in.get<std::uint64_t>();
  }
  /// After a point at (steps, samples): the next is the first multiple past them.
  void advance(std::uint64_t steps, std::uint64_t samples) {
    if (every_ > 0) {
      while (next_steps_ <= steps) next_steps_ += every_;
    } else {
      while (next_samples_ <= samples) next_samples_ += rows_;
    }
  }

 private:
  const std::uint64_t every_;   // server steps between points, 0: per epoch
  const std::uint64_t rows_;    // training rows (an epoch of samples)
  std::uint64_t next_steps_;    // the next point's step count (every_ > 0)
  std::uint64_t next_samples_;  // the next point's sample count (every_ == 0)
};

}  // namespace dude::engine
