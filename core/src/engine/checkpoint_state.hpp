// checkpoint_state.hpp (internal): what every trainer's checkpoints share: the identity of the
// run a checkpoint belongs to, its cadence, and the sealing of a state into a Checkpoint
// (docs/DESIGN.md §12).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/cache_line.hpp"

#include "dude/async.hpp"
#include "dude/checkpoint.hpp"

namespace dude::engine {

/// A running engine's state for a checkpoint, and the step it was taken at.
struct EngineState {
  std::string bytes;
  std::uint64_t steps = 0;
};

/// The monitor asking a running server for its state, for a checkpoint.
///
/// Design. The monitor counts its requests up (acq_rel: its request follows whatever it did
/// before); the server, between two rounds, writes the state and then stores the count it
/// answered (release); the monitor reads the state after acquiring that count. Once the server
/// has left (`server_done`, stored with release by the server thread, read with acquire) the
/// monitor writes the state itself: nothing else changes it then. One monitor at a time.
class StateRequest {
 public:
  /// Monitor: the state `write` gives, as the server writes it at its next serve(), or as this
  /// thread does once the server has left.
  template <class Write>
  EngineState ask(const std::atomic<bool>& server_done, Write&& write) {
    const std::uint64_t wanted = wanted_.fetch_add(1, std::memory_order_acq_rel) + 1;
    while (served_.load(std::memory_order_acquire) < wanted) {
      if (server_done.load(std::memory_order_acquire)) return write();
      std::this_thread::yield();
    }
    return state_;
  }
  /// Server, between two rounds: answers an open request, if any.
  template <class Write>
  void serve(Write&& write) {
    const std::uint64_t wanted = wanted_.load(std::memory_order_acquire);
    if (wanted == served_.load(std::memory_order_relaxed)) return;
    state_ = write();
    served_.store(wanted, std::memory_order_release);
  }

 private:
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> wanted_{0};  // monitor
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> served_{0};  // server
  EngineState state_;  // the server's answer; the monitor's once served_ says so
};

/// Stores true into a server's `done` flag (release) as it goes out of scope, also by an
/// exception: from then on StateRequest::ask writes the state on the monitor's thread.
class ServerLeaving {
 public:
  explicit ServerLeaving(std::atomic<bool>& done) : done_(done) {}
  ~ServerLeaving() { done_.store(true, std::memory_order_release); }
  ServerLeaving(const ServerLeaving&) = delete;
  ServerLeaving& operator=(const ServerLeaving&) = delete;

 private:
  std::atomic<bool>& done_;
};

/// The settings and data a run's trajectory depends on, one "name=value" line each: the model,
/// the SGD and engine settings, digests of the training and test rows and of the workers'
/// shards. Settings that change only how fast it goes (threads, pinning, ticks) are left out.
std::string run_identity(const Objective& objective, const Subset& train, const Subset* test,
                         const AsyncConfig& config,
                         std::span<const std::vector<std::uint32_t>> shards);

/// The settings a run with workers resumed after `steps` model updates runs with: its workers'
/// samplers take streams of their own (seeded from the step), or they would replay the first
/// epochs' minibatches; its table is the checkpoint's, so no warm start. (Its shards are dealt
/// with the run's own seed, before this.)
AsyncConfig resumed_settings(const AsyncConfig& config, std::uint64_t steps);

/// A Checkpoint of `payload` for the run `identity` after `steps` model updates.
Checkpoint seal_state(const std::string& identity, std::uint64_t steps, std::string payload);
/// The payload of `checkpoint`; throws CheckpointError naming the first setting that differs
/// when it belongs to another run.
std::string_view open_state(const Checkpoint& checkpoint, const std::string& identity);

/// When the next checkpoint is due: each time the steps pass a multiple of every_steps, or
/// every_seconds of wall time after the previous one. Never without a plan or a callback.
class CheckpointClock {
 public:
  explicit CheckpointClock(const CheckpointPlan* plan, std::uint64_t steps = 0);

  /// Between two steps: hands make()'s checkpoint to the plan when one is due.
  template <class Make>
  void offer(std::uint64_t steps, Make&& make) {
    if (!due(steps)) return;
    Checkpoint c = make();
    plan_->on_checkpoint(c);
    taken(steps);
  }
  /// When a stop request ends the run before its budget: the state to continue from.
  template <class Make>
  void offer_final(Make&& make) {
    if (plan_ == nullptr || !plan_->on_checkpoint) return;
    Checkpoint c = make();
    plan_->on_checkpoint(c);
  }

 private:
  using Clock = std::chrono::steady_clock;
  bool due(std::uint64_t steps) const;
  /// After a checkpoint at `steps`.
  void taken(std::uint64_t steps);

  const CheckpointPlan* plan_;
  bool enabled_;
  std::uint64_t every_steps_;
  double every_seconds_;
  std::uint64_t next_steps_;
  Clock::time_point last_ = Clock::now();
};

}  // namespace dude::engine
