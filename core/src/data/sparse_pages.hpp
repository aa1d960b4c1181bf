// sparse_pages.hpp (internal): a sparse data set's CSR arrays on pages of their own.
#pragma once

#include <cstdint>
#include <vector>

#include "common/page_array.hpp"
#include "dude/dataset.hpp"

namespace dude::detail {

/// Sparse rows are visited in random order, each in a different part of arrays of hundreds of
/// megabytes (Brown: 1 M rows, 110 MB): on pages mapped for them (page_array.hpp: 2 MiB pages
/// where the system grants them) a row costs its cache misses but no TLB miss. The loaders
/// join their chunks straight into such arrays.
struct SparsePages {
  PageArray<std::uint64_t> row_ptr;  // rows + 1 entries, from 0
  PageArray<std::uint32_t> index;
  PageArray<float> value;
  std::vector<std::uint32_t> labels;
};

/// The data set owning `pages` (checked as Dataset::sparse checks its arrays).
Dataset sparse_dataset(std::size_t features, std::uint32_t classes, SparsePages pages);

}  // namespace dude::detail
