// server_round.hpp (internal): one round of a server, the same for the threaded server and the
// MPI server rank: what both do between taking arrivals and handing models back.
#pragma once

#include <cstdint>
#include <span>

#include "engine/fold_team.hpp"
#include "engine/model_pool.hpp"
#include "engine/policy.hpp"
#include "engine/run_state.hpp"

namespace dude::engine {

/// The server's counts: model steps taken and samples applied so far.
struct ServerCounts {
  std::uint64_t version = 0;
  std::uint64_t samples = 0;
};

/// Applies the round `arrivals` (server thread): never steps past a step budget (arrivals
/// beyond it are dropped), checks each applied arrival's loss and counts its delay (the steps
/// the server took between the model it was computed at and the step applying it), folds them
/// with the policy over the fold team into the pool's writable buffer, publishes it when the
/// round steps, stores the counters, and stops the run when its budget is spent. Throws
/// TrainingDiverged on a non-finite loss.
void apply_round(ServerPolicy& policy, FoldTeam& team, ModelPool& pool, RunState& run,
                 std::span<const Arrival> arrivals, ServerCounts& counts);

}  // namespace dude::engine
