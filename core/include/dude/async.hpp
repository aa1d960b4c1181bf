// dude/async.hpp: asynchronous training on many threads: DuDe-ASGD and its baselines on one
// engine.
//
// `workers` threads each own a shard of the training rows (see partition.hpp) and compute
// minibatch gradients on the newest model they can get; one server thread applies them as
// the chosen algorithm says (hogwild has no server: workers update the shared model
// themselves). Budgets count over the whole run: epochs in samples processed by all workers,
// steps in server model updates (sync: rounds), or wall seconds.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dude/checkpoint.hpp"
#include "dude/partition.hpp"
#include "dude/trainer.hpp"

namespace dude {

struct AlgorithmSpec {
  enum class Kind {
    Dude,     // x -= (lr/n) * S, S = sum of every worker's latest gradient, on every arrival
    Asgd,     // x -= lr * g on every arrival
    Hogwild,  // no server: each worker applies x -= lr * g to the shared model, lock-free
    Sync,     // wait for one gradient from every worker, x -= lr * mean(g)
    FedBuff,  // buffer K arrivals, x -= lr * mean(buffer)
    Sgd,      // no workers: the single-thread trainer (train_sgd), the reference of them all
    // The successors (docs/DESIGN.md §13):
    Ringleader,  // DuDe's table refreshed in rounds: each worker's entry once a round, with the
                 // mean of its gradients since its last refresh; a step per refresh
    Malenia,     // gradients at the current model only; a step once the per-worker counts' harmonic
                 // mean reaches S, x -= lr * mean over workers of each one's mean gradient
    AsgdDelayAdaptive,  // asgd with x -= lr * min(1, C / tau) * g, tau the gradient's delay
  };
  Kind kind = Kind::Dude;
  std::uint32_t buffer = 0;          // FedBuff: K
  std::uint32_t harmonic_batch = 1;  // Malenia: S
  std::uint32_t delay_scale = 0;     // asgd-da: C; 0: the number of workers

  /// Parses "dude", "asgd", "hogwild", "sync", "fedbuff:K", "sgd", "ringleader", "malenia",
  /// "malenia:S", "asgd-da" or "asgd-da:C" (K, S, C >= 1); throws ConfigError otherwise.
  static AlgorithmSpec parse(std::string_view text);
  std::string to_string() const;
};

/// How a worker hands gradients to the server (see core/src/engine/gradient_slot.hpp).
enum class SlotDiscipline {
  Handoff,       // the worker waits until the server folded its gradient: none is lost
  TripleBuffer,  // newest wins, nobody waits; an unread gradient may be overwritten
};
/// Parses "handoff" or "triple"; throws ConfigError otherwise.
SlotDiscipline parse_slot_discipline(std::string_view text);

/// Where a threaded run on sparse data applies each arrival (see
/// core/src/engine/sparse_server_engine.hpp). Dense runs always have a server thread.
enum class ServerPlacement {
  Auto,     // Workers when the workers take every core, Thread when a core is left for it
  Thread,   // a server thread of its own; a worker hands its gradient over and waits
  Workers,  // each worker applies its own arrival under a lock, then computes on: no hand-off
};
/// Parses "auto", "thread" or "workers"; throws ConfigError otherwise.
ServerPlacement parse_server_placement(std::string_view text);

/// Deterministic runs: how long one gradient takes a worker on the virtual clock, before its
/// slowdown factor: always 1, Exp(1), a normal N(1, sigma^2) truncated to (0, 2] (redrawn
/// outside), or a heavy-tailed log-normal exp(sigma Z - sigma^2 / 2) of mean 1, each worker
/// from its own seeded stream.
struct ComputeTime {
  enum class Kind { Fixed, Exponential, Normal, LogNormal };
  Kind kind = Kind::Exponential;
  double sigma = 0.25;  // Normal and LogNormal

  /// Parses "fixed", "exp", "normal:SIGMA" or "lognormal:SIGMA"; throws ConfigError
  /// otherwise.
  static ComputeTime parse(std::string_view text);
  std::string to_string() const;
};

struct AsyncConfig {
  SgdConfig sgd;  // seed, per-worker batch, budget, lr and schedule, eval_every (server steps)
  AlgorithmSpec algorithm;
  std::size_t workers = 2;
  PartitionSpec partition;       // iid by default
  std::vector<double> slowdown;  // per-worker factors >= 1 (empty: all 1)
  bool warm_start = true;        // dude: fill the table with a gradient of every worker at x0
  SlotDiscipline slot = SlotDiscipline::Handoff;  // sync always hands off
  bool pin_threads = false;  // server runs: server on core 0, worker w on w+1; hogwild: w on w
  /// Threads that apply each round, the server's and server_threads - 1 helpers, claiming
  /// chunks of coordinates. With hand-off slots the workers waiting for their post to be folded
  /// claim chunks too, so the fold already spreads over idle cores; helpers add threads that
  /// do nothing else, for when workers post faster than that. The model is the same bit for
  /// bit for any count.
  /// Ignored by hogwild (no server) and by the deterministic replay (one thread).
  std::size_t server_threads = 1;
  /// Threads that compute each minibatch's gradient on a worker, its rows split among them
  /// (the row-weighted mean of the parts' gradients: the same to float rounding, and the same
  /// bit for bit for the same arrivals). Over MPI only (dude::mpi::train), for a worker rank
  /// that has a node's cores to itself, and on dense data only for now; train_async refuses
  /// any other count than 1, its workers being threads already.
  std::size_t threads_per_worker = 1;
  /// Sparse data: a server thread, or arrivals applied by the workers themselves (sync always
  /// has a server thread: its workers wait for the round).
  ServerPlacement server = ServerPlacement::Auto;
  /// Replay on a virtual clock in one thread instead of running threads: arrivals follow the
  /// simulated compute times (ComputeTime x slowdown), the server applies them with the same
  /// policy code, and the same flags give byte-identical progress points. Times (budget in
  /// seconds, Progress::wall_seconds) are then virtual: one unit is one unslowed gradient.
  /// Hogwild has no server here: each update lands whole at its arrival time, as in asgd.
  bool deterministic = false;
  ComputeTime compute_time;

  /// Throws ConfigError naming the first bad field.
  void validate() const;
  /// Whether the run starts with DuDe's warm start: every worker's gradient at x0 in the table.
  bool dude_warm_start() const { return warm_start && algorithm.kind == AlgorithmSpec::Kind::Dude; }
  /// Whether workers post without waiting (newest wins): slot triple, but for sync, whose round
  /// needs every worker's gradient and so always hands off.
  bool newest_wins() const {
    return slot == SlotDiscipline::TripleBuffer && algorithm.kind != AlgorithmSpec::Kind::Sync;
  }
  /// Worker w's slowdown factor (1 when `slowdown` is empty).
  double slowdown_of(std::size_t worker) const { return slowdown.empty() ? 1.0 : slowdown[worker]; }
};

/// The learning rate a run of `algorithm` with `workers` workers starts from when the caller
/// sets none, from the delay its gradients see (bench/RESULTS.md, "Epochs to target against
/// workers"): 0.2 where there is none (sgd, and sync and malenia, which step only on gradients
/// of the current model); 0.2/sqrt(n) for asgd, hogwild, asgd-da and fedbuff, whose gradients
/// land about n steps late; 0.2/n for dude and ringleader, whose tables also keep each gradient
/// in the step for about n more.
float default_learning_rate(const AlgorithmSpec& algorithm, std::size_t workers);
/// How default_learning_rate chose: "0.2", "0.2 / sqrt(N workers)" or "0.2 / N workers".
std::string default_learning_rate_rule(const AlgorithmSpec& algorithm, std::size_t workers);

/// Trains params (already initialised) in place. Progress points carry staleness and
/// arrivals per worker. Evaluation runs on the calling thread on a pinned model while the
/// workers and the server go on. An exception thrown in any thread (including by
/// on_progress) stops every thread, and is rethrown here once all have been joined.
/// With algorithm sgd it is train_sgd on config.sgd (the engine's fields do not apply).
/// Without on_progress only the final point is evaluated on the test rows (nobody could see
/// the others); every point is still checked for divergence (SgdConfig::divergence_factor).
/// With `checkpoints` it hands out checkpoints as it goes, or continues a run from one
/// (dude/checkpoint.hpp): on the deterministic replay a resumed run gives the same points and
/// the same model, bit for bit, as one never stopped.
Progress train_async(const Objective& objective, const Subset& train, const Subset* test,
                     const AsyncConfig& config, float* params, const ProgressCallback& on_progress,
                     const std::atomic<bool>* stop = nullptr,
                     const CheckpointPlan* checkpoints = nullptr);

}  // namespace dude
