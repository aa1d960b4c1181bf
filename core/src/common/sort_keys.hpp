// sort_keys.hpp (internal): small arrays of integer keys sorted ascending.
#pragma once

#include <cstdint>
#include <span>

namespace dude::detail {

/// Sorts `keys` ascending with Highway's vectorised quicksort (hwy::Sorter, VQSort): a sparse
/// step sorts a few hundred feature ids, where std::sort's data-dependent branches
/// mispredict about every other comparison and VQSort's sorting networks have none. Each
/// thread keeps its own Sorter (its scratch memory), so concurrent calls share nothing.
void sort_keys(std::span<std::uint32_t> keys);
void sort_keys(std::span<std::uint64_t> keys);

}  // namespace dude::detail
