// sort_keys.hpp (internal): a sparse step's few hundred integer keys, sorted by radix.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace dude::detail {

/// Sorts `keys` ascending by their bits [shift, shift + bits) (shift + bits at most the key's
/// width), stably: keys equal there keep their order. LSD radix sort through `scratch`, one
/// scatter per 8 bits, every pass's digits counted in one read. A sparse step sorts a few
/// hundred feature ids below a known bound: std::sort mispredicts about every other comparison
/// there (5-6 us for 200 keys on the 2-core VM, against 1.5 us here), and Highway's VQSort
/// (1.0.3, about 1 us) makes a getrandom system call on every call, which the parallel parser
/// and every training thread would make once a row or a step.
template <class Key>
void radix_sort(std::span<Key> keys, unsigned shift, unsigned bits, std::vector<Key>& scratch) {
  constexpr unsigned kMaxPasses = 8;
  const unsigned passes = std::min((bits + 7) / 8, kMaxPasses);
  // Every pass's digit counts in one read of the keys; start[p][d]: where digit d begins.
  std::array<std::array<std::uint32_t, 256>, kMaxPasses> start;
  for (unsigned p = 0; p < passes; ++p) start[p].fill(0);
  for (const Key key : keys) {
    for (unsigned p = 0; p < passes; ++p) ++start[p][(key >> (shift + 8 * p)) & 0xFF];
  }
  for (unsigned p = 0; p < passes; ++p) {
    std::uint32_t at = 0;
    for (std::uint32_t& count : start[p]) at += std::exchange(count, at);
  }
  scratch.resize(keys.size());
  Key* from = keys.data();
  Key* to = scratch.data();
  for (unsigned p = 0; p < passes; ++p) {
    const unsigned low = shift + 8 * p;
    for (std::size_t i = 0; i < keys.size(); ++i) to[start[p][(from[i] >> low) & 0xFF]++] = from[i];
    std::swap(from, to);
  }
  if (from != keys.data()) std::copy(from, from + keys.size(), keys.data());
}

/// The bits a key below `bound` needs (at least 1).
inline unsigned bits_below(std::uint64_t bound) {
  unsigned bits = 1;
  while (bits < 64 && (std::uint64_t{1} << bits) < bound) ++bits;
  return bits;
}

}  // namespace dude::detail
