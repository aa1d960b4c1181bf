#include <thread>

#include "engine/straggler.hpp"

namespace dude::engine {

void wait_until(const RunState& run, std::chrono::steady_clock::time_point deadline) {
  using namespace std::chrono;
  // Sleep in short slices (so a stop is noticed), then yield through the last stretch, which
  // a sleep would overshoot.
  constexpr auto kSlice = milliseconds(5);
  constexpr auto kYieldWindow = microseconds(200);
  while (!run.stopping()) {
    const auto left = deadline - steady_clock::now();
    if (left <= steady_clock::duration::zero()) return;
    if (left > kYieldWindow) {
      std::this_thread::sleep_for(std::min<steady_clock::duration>(left - kYieldWindow, kSlice));
    } else {
      std::this_thread::yield();
    }
  }
}

}  // namespace dude::engine
