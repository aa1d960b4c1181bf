// dude/checkpoint.hpp: the state of a run between two steps, to continue it after a stop or a
// crash. A trainer given a CheckpointPlan hands out checkpoints as it goes; given one to resume,
// it continues that run: on the deterministic replay exactly as if it had never stopped.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace dude {

struct Checkpoint {
  std::uint64_t steps = 0;  // model updates done (Progress::steps)
  std::string state;        // the run: its settings and data digest, then its state (opaque)
  std::string user;         // the caller's bytes kept with it (dude train: the metrics so far)
};

/// Writes `checkpoint` to `path` atomically: a temporary file beside it, fsync, rename over
/// the old one, fsync of the folder; so `path` always holds a whole checkpoint, the old or the
/// new. Throws CheckpointError naming the file.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);
/// Reads a checkpoint written by save_checkpoint, checking its format, version, sizes and
/// checksum; throws CheckpointError naming the file and what is wrong.
Checkpoint load_checkpoint(const std::string& path);

/// When a run hands out checkpoints, and which run it continues.
struct CheckpointPlan {
  std::uint64_t every_steps = 0;  // a checkpoint every this many model updates; 0: none
  double every_seconds = 0;       // ... or every this many wall seconds; 0: none
  /// Called on the calling thread between two steps with the run's state (the callee may fill
  /// `user` and keep or move from it), at the cadence
  /// above and once more when a stop request ends the run. An exception it throws ends the
  /// run and reaches the caller.
  std::function<void(Checkpoint&)> on_checkpoint;
  /// Continue this run instead of starting from params: the same settings and data, else
  /// CheckpointError naming what differs. params then receive the checkpoint's model.
  const Checkpoint* resume = nullptr;
};

}  // namespace dude
