#include "model/feature_union.hpp"

#include "common/sort_keys.hpp"

namespace dude::detail {
namespace {

/// Numbers the features in `slots` (the non-zeros' feature ids) by marking each in a table.
void number_by_marks(std::size_t feature_space, std::vector<std::uint32_t>& features,
                     std::vector<std::uint32_t>& slots, std::vector<std::uint32_t>& marks) {
  marks.assign(feature_space, 0);
  for (const std::uint32_t feature : slots) marks[feature] = 1;
  for (std::uint32_t f = 0; f < marks.size(); ++f) {
    if (marks[f] == 0) continue;
    marks[f] = static_cast<std::uint32_t>(features.size());
    features.push_back(f);
  }
  for (std::uint32_t& slot : slots) slot = marks[slot];
}

/// Numbers them by sorting (feature << 32 | position) on the feature: ascending features, and
/// each position learns its number in the same pass.
void number_by_sort(std::size_t feature_space, std::vector<std::uint32_t>& features,
                    std::vector<std::uint32_t>& slots, std::vector<std::uint64_t>& keys,
                    std::vector<std::uint64_t>& scratch) {
  keys.resize(slots.size());
  for (std::size_t n = 0; n < slots.size(); ++n) keys[n] = std::uint64_t{slots[n]} << 32 | n;
  radix_sort(std::span<std::uint64_t>(keys), 32, bits_below(feature_space), scratch);
  for (const std::uint64_t key : keys) {
    const auto feature = static_cast<std::uint32_t>(key >> 32);
    if (features.empty() || features.back() != feature) features.push_back(feature);
    slots[static_cast<std::uint32_t>(key)] = static_cast<std::uint32_t>(features.size() - 1);
  }
}

}  // namespace

void collect_features(const Dataset& data, std::span<const std::uint32_t> rows,
                      std::vector<std::uint32_t>& features, std::vector<std::uint32_t>& slots,
                      std::vector<std::uint32_t>& marks, std::vector<std::uint64_t>& keys,
                      std::vector<std::uint64_t>& scratch) {
  features.clear();
  slots.clear();
  for (const std::uint32_t r : rows) {
    const SparseRow row = data.sparse_row(r);
    slots.insert(slots.end(), row.index, row.index + row.nnz);  // their features, for now
  }
  if (data.features() <= slots.size()) {
    number_by_marks(data.features(), features, slots, marks);
  } else {
    number_by_sort(data.features(), features, slots, keys, scratch);
  }
}

}  // namespace dude::detail
