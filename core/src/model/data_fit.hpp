// data_fit.hpp (internal): whether a data set fits a model's dimensions; the one rule the
// objective and the predictor check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "dude/dataset.hpp"
#include "dude/errors.hpp"

namespace dude::detail {

/// Sparse data fits when it uses no feature beyond the model's (a missing feature is a zero);
/// dense data must have exactly the model's features. Labels must be classes of the model.
/// Throws ConfigError starting with `who` otherwise.
inline void check_data_fits(const Dataset& data, std::size_t features, std::uint32_t classes,
                            const char* who) {
  const bool features_fit =
      data.is_sparse() ? data.features() <= features : data.features() == features;
  if (!features_fit || data.classes() > classes) {
    throw ConfigError(std::string(who) + ": " + (data.is_sparse() ? "sparse" : "dense") +
                      " data with " + std::to_string(data.features()) + " features and " +
                      std::to_string(data.classes()) + " classes does not fit a model of " +
                      std::to_string(features) + " features and " + std::to_string(classes) +
                      " classes");
  }
}

}  // namespace dude::detail
