// warm_start.hpp (internal): DuDe's warm start, shared by the threaded server and the replay.
#pragma once

#include <cstdint>
#include <vector>

#include "dude/objective.hpp"
#include "dude/trainer.hpp"
#include "engine/policy.hpp"
#include "engine/sparse_policy.hpp"

namespace dude::engine {

/// The random stream of the warm-start minibatches: worker w draws from stream
/// kWarmStartStream + w, apart from the streams 0 .. workers - 1 its training draws use, so
/// that warm start or not, the training minibatches are the same.
inline constexpr std::uint64_t kWarmStartStream = std::uint64_t{1} << 20;

/// Fills DuDe's table before the first step: every worker's gradient at the initial model
/// `params`, on one minibatch of its own shard (docs/DESIGN.md §1).
void warm_start(ServerPolicy& policy, const Objective& objective, const Dataset& data,
                const std::vector<std::vector<std::uint32_t>>& shards, const SgdConfig& sgd,
                const float* params);

/// The same for the sparse policies: every worker's gradient at the policy's initial model.
void warm_start(SparsePolicy& policy, const Objective& objective, const Dataset& data,
                const std::vector<std::vector<std::uint32_t>>& shards, const SgdConfig& sgd);

}  // namespace dude::engine
