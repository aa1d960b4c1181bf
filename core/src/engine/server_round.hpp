// server_round.hpp (internal): one round of a server, the same for the threaded server and the
// MPI server rank: what both do between taking arrivals and handing models back.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>

#include "common/state_stream.hpp"
#include "dude/errors.hpp"
#include "engine/checkpoint_state.hpp"
#include "engine/fold_team.hpp"
#include "engine/model_pool.hpp"
#include "engine/policy.hpp"
#include "engine/run_state.hpp"
#include "engine/sparse_policy.hpp"

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
/// round steps, stores the counters, and stops the run when its budget is spent. Returns how
/// many of `arrivals` it applied: the first ones, all but those beyond the step budget.
/// Throws TrainingDiverged on a non-finite loss.
std::size_t apply_round(ServerPolicy& policy, FoldTeam& team, ModelPool& pool, RunState& run,
                        std::span<const Arrival> arrivals, ServerCounts& counts);

/// A dense server's state between two rounds, for a checkpoint (the threaded server and the
/// MPI server rank): `pool`'s current model, the policy's memory and the run's counters, and
/// the step it was taken at.
EngineState write_server_state(const ModelPool& pool, const ServerPolicy& policy,
                               const RunState& run);
/// Reads write_server_state's bytes back, before the server starts: the model into `pool`,
/// published at the counters' step, the policy's memory and the counters.
void read_server_state(detail::StateReader& in, ModelPool& pool, ServerPolicy& policy,
                       RunState& run);

/// A sparse server's state between two arrivals, for a checkpoint (the threaded sparse server
/// and the MPI sparse server rank): the policy's memory (which holds the model) and the run's
/// counters, and the step it was taken at.
EngineState write_sparse_server_state(const SparsePolicy& policy, const RunState& run);
/// Reads write_sparse_server_state's bytes back into the policy and the counters, before the
/// server starts; returns the counts to go on from.
ServerCounts read_sparse_server_state(detail::StateReader& in, SparsePolicy& policy, RunState& run);

/// A lock for a sparse server that shares its policy with no other thread while it applies
/// an arrival (the threaded sparse engine: its monitor asks the server thread, or holds the
/// lock of the workers that serve).
struct NoLock {
  void lock() noexcept {}
  void unlock() noexcept {}
};

/// Applies one arrival `h`, `g` on sparse data, as every sparse server does (the threaded
/// engine and the MPI server rank): checks its loss, counts its delay and loss, steps the
/// policy at the rate of the current step, and stores the counters. `policy_lock` is held
/// around the policy's step and the version, which a monitor beside the server may read.
/// Returns false while a sync round is incomplete. Throws TrainingDiverged on a non-finite
/// loss.
template <class Lock>
bool apply_sparse_arrival(SparsePolicy& policy, RunState& run, const GradientHeader& h,
                          const SparsePost& g, ServerCounts& counts, Lock& policy_lock) {
  TrainingDiverged::check(h.loss, counts.version, h.worker);
  run.counters.record(h.worker, counts.version - h.model_version, h.loss);
  const auto lr = static_cast<float>(run.learning_rate(counts.version, counts.samples));
  counts.samples += h.samples;
  std::uint64_t steps = 0;
  {
    const std::lock_guard<Lock> lock(policy_lock);
    steps = policy.apply(h, g, lr);
    counts.version += steps;
  }
  run.counters.samples.store(counts.samples, std::memory_order_relaxed);
  run.counters.steps.store(counts.version, std::memory_order_relaxed);
  return steps > 0 || policy.round_size() == 0;
}

}  // namespace dude::engine
