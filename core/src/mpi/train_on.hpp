// train_on.hpp (internal): dude::mpi::train on any communicator (the tests run it on part of
// MPI_COMM_WORLD), and its checks.
#pragma once

#include <mpi.h>

#include <atomic>

#include "dude/async.hpp"

namespace dude::mpi::detail {

/// dude::mpi::train with `comm` in place of MPI_COMM_WORLD.
Progress train_on(MPI_Comm comm, const Objective& objective, const Subset& train,
                  const Subset* test, const AsyncConfig& config, float* params,
                  const ProgressCallback& on_progress, const std::atomic<bool>* stop,
                  const CheckpointPlan* checkpoints = nullptr);

/// Throws ConfigError naming the field when `config` cannot run over `ranks` ranks, or on
/// sparse data (`sparse`: on any rank) when its algorithm has no sparse server policy.
void check_config(const AsyncConfig& config, int ranks, bool sparse);

}  // namespace dude::mpi::detail
