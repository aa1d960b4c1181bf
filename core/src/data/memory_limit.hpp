// memory_limit.hpp (internal): what the loaders check against LoadOptions::max_memory before
// they allocate for a data set: its features, and a dense model over them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "dude/errors.hpp"

namespace dude::detail {

/// Bytes that training holds for a dense model over `features` x `classes` (at least 2): a
/// float weight and a float gradient per feature and class. Saturates at 2^64 - 1.
inline std::uint64_t model_bytes(std::uint64_t features, std::uint32_t classes) noexcept {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t per_feature = 2 * sizeof(float) * std::max<std::uint32_t>(classes, 2);
  return features > kMax / per_feature ? kMax : features * per_feature;
}

/// Throws MemoryLimitError at `position` of `name` unless `data_bytes` of features and a model
/// over `features` x `classes` (none for 0 features) fit in `limit`; `subject` says what sizes
/// them ("feature index 1000000000").
inline void check_memory(const std::string& name, DataError::Where where, std::uint64_t position,
                         const std::string& subject, std::uint64_t data_bytes,
                         std::uint64_t features, std::uint32_t classes, std::uint64_t limit) {
  const std::uint64_t model = features == 0 ? 0 : model_bytes(features, classes);
  const std::uint64_t needed = std::max(data_bytes, data_bytes + model);  // saturating
  if (needed <= limit) return;
  std::string what = subject + ": ";
  if (data_bytes != 0) what += format_bytes(data_bytes) + " of features";
  if (data_bytes != 0 && features != 0) what += " and ";
  if (features != 0) {
    what += "a model of " + std::to_string(features) + " features x " +
            std::to_string(std::max<std::uint32_t>(classes, 2)) +
            " classes (a weight and a gradient each)";
  }
  throw MemoryLimitError(name, where, position, what, needed, limit);
}

}  // namespace dude::detail
