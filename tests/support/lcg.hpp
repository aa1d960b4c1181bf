// lcg.hpp: a tiny reproducible pseudo-random stream for generating large test and benchmark
// inputs (Knuth's 64-bit LCG constants), the same on every platform.
#pragma once

#include <cstdint>

namespace testdata {

class Lcg {
 public:
  explicit Lcg(std::uint64_t seed) : state_(seed) {}
  /// The next draw in [0, bound).
  std::uint32_t next(std::uint32_t bound) {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::uint32_t>((state_ >> 33) % bound);
  }

 private:
  std::uint64_t state_;
};

}  // namespace testdata
