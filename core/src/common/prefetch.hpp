// prefetch.hpp (internal): rows of a row-major matrix asked for before they are read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace dude::detail {

/// Starts loading rows `rows` of `matrix` (row-major, `width` floats a row) into the cache: the
/// first and the last line of each. A sparse step touches rows scattered over a model far
/// larger than the cache; a loop that copies or updates them one by one waits for each row's
/// miss, while these requests are independent and their misses overlap. Only addresses are
/// formed, nothing is read, so a model that other threads write may be prefetched too.
inline void prefetch_matrix_rows(const float* matrix, std::span<const std::uint32_t> rows,
                                 std::size_t width) {
  for (const std::uint32_t row : rows) {
    const float* first = matrix + std::size_t{row} * width;
    __builtin_prefetch(first);
    __builtin_prefetch(first + width - 1);
  }
}

}  // namespace dude::detail
