// The radix sort of a sparse step's keys (common/sort_keys.hpp) against std::stable_sort.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "common/sort_keys.hpp"

using dude::detail::bits_below;
using dude::detail::radix_sort;

TEST_CASE("radix_sort orders keys by a range of their bits and keeps ties in order", "[sort]") {
  // (feature << 32 | position), as the sparse step sorts them: feature ids below 2^b, with
  // repeats, so that stability shows in the positions.
  const unsigned bits = GENERATE(1u, 7u, 8u, 9u, 20u, 24u, 32u);
  const std::size_t count =
      GENERATE(std::size_t{0}, std::size_t{1}, std::size_t{5}, std::size_t{200}, std::size_t{3000});
  INFO("bits " << bits << " keys " << count);
  std::mt19937_64 rng(bits * 131 + count);
  const std::uint64_t bound = std::uint64_t{1} << bits;
  std::vector<std::uint64_t> keys(count), scratch;
  for (std::size_t n = 0; n < count; ++n) {
    const std::uint64_t feature = rng() % std::min<std::uint64_t>(bound, count / 3 + 2);
    keys[n] = feature << 32 | n;
  }
  std::vector<std::uint64_t> expected = keys;
  std::stable_sort(expected.begin(), expected.end(),
                   [](std::uint64_t a, std::uint64_t b) { return (a >> 32) < (b >> 32); });
  radix_sort(std::span<std::uint64_t>(keys), 32, bits, scratch);
  REQUIRE(keys == expected);
}

TEST_CASE("radix_sort sorts whole 32-bit keys, and bits_below counts a bound's bits", "[sort]") {
  std::mt19937 rng(3);
  std::vector<std::uint32_t> keys(1000), scratch;
  for (std::uint32_t& key : keys) key = static_cast<std::uint32_t>(rng());
  std::vector<std::uint32_t> expected = keys;
  std::sort(expected.begin(), expected.end());
  radix_sort(std::span<std::uint32_t>(keys), 0, 32, scratch);
  CHECK(keys == expected);
  CHECK(bits_below(0) == 1);
  CHECK(bits_below(2) == 1);
  CHECK(bits_below(3) == 2);
  CHECK(bits_below(std::uint64_t{1} << 20) == 20);
  CHECK(bits_below((std::uint64_t{1} << 20) + 1) == 21);
}
