// prefetch_rows.hpp (internal): a minibatch's sparse rows asked for before they are read.
#pragma once

#include <cstdint>
#include <span>

#include "dude/dataset.hpp"

namespace dude::detail {

/// Starts loading the non-zeros of `rows` (of sparse `data`) into the cache. A minibatch's
/// rows lie far apart in a large data set, and a loop that reads one row's indices before it
/// finds the next row's start waits for each row's cache misses in turn; here the row starts
/// are independent loads and the rows' lines are requested together, so the misses overlap.
inline void prefetch_rows(const Dataset& data, std::span<const std::uint32_t> rows) {
  for (const std::uint32_t r : rows) {
    const SparseRow row = data.sparse_row(r);
    if (row.nnz == 0) continue;
    __builtin_prefetch(row.index);
    __builtin_prefetch(row.index + row.nnz - 1);
    __builtin_prefetch(row.value);
    __builtin_prefetch(row.value + row.nnz - 1);
  }
}

}  // namespace dude::detail
