// straggler.hpp (internal): how a slowed-down worker (AsyncConfig::slowdown) loses time.
#pragma once

#include <chrono>

#include "engine/run_state.hpp"

namespace dude::engine {

/// Sleeps or spins until `deadline` unless the run stops first.
void wait_until(const RunState& run, std::chrono::steady_clock::time_point deadline);

/// A worker with slowdown factor F > 1 posts F times less often than it could: after a
/// gradient that took `took` since `started`, it waits (F - 1) times that long.
inline void straggle(const RunState& run, std::chrono::steady_clock::time_point started,
                     double slowdown) {
  if (!(slowdown > 1.0)) return;
  const auto took = std::chrono::steady_clock::now() - started;
  wait_until(run, started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                took * slowdown));
}

}  // namespace dude::engine
