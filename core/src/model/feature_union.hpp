// feature_union.hpp (internal): the features a minibatch of sparse rows touches, numbered.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "dude/dataset.hpp"

namespace dude::detail {

/// The union of the rows' features, ascending, into `features`, and the place in it of every
/// non-zero of the rows, in order (rows[0]'s, then rows[1]'s...), into `slots`. Costs the
/// non-zeros, whatever the dimension: a feature space no wider than the minibatch's non-zeros
/// (a renumbered minibatch, engine/compact_batch.hpp) is marked in a table over its features;
/// any other is numbered by one sort of (feature, position) keys, so that no scratch spans the
/// features (at 2^24 hashed features such a table is 64 MB to fault in). `marks`, `keys` and
/// `scratch` are scratch, kept by the caller from one minibatch to the next.
void collect_features(const Dataset& data, std::span<const std::uint32_t> rows,
                      std::vector<std::uint32_t>& features, std::vector<std::uint32_t>& slots,
                      std::vector<std::uint32_t>& marks, std::vector<std::uint64_t>& keys,
                      std::vector<std::uint64_t>& scratch);

}  // namespace dude::detail
