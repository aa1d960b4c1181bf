// replay.hpp (internal): deterministic replay of an asynchronous run (see
// AsyncConfig::deterministic).
#pragma once

#include <atomic>
#include <vector>

#include "dude/async.hpp"
#include "engine/progress_reporter.hpp"

namespace dude::engine {

Progress train_virtual(const Objective& objective, const Dataset& data,
                       const std::vector<std::vector<std::uint32_t>>& shards,
                       const AsyncConfig& config, float* params, const RunHooks& hooks,
                       std::size_t train_rows);

/// The same on sparse data at the cost of the non-zeros (sparse_replay.cpp): each worker
/// reads the model on its minibatch's rows only, and the sparse policies apply the arrivals.
Progress train_virtual_sparse(const Objective& objective, const Dataset& data,
                              const std::vector<std::vector<std::uint32_t>>& shards,
                              const AsyncConfig& config, float* params, const RunHooks& hooks,
                              std::size_t train_rows);

}  // namespace dude::engine
