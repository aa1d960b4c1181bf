// model_check.cpp: Relacy model checks of the engine's lock-free protocols, on their own code
// (gradient_slot.hpp, model_pool.hpp, ticket_lock.hpp) instantiated with Relacy's atomics
// (relacy_atomic.hpp).
//
// Usage: model_check           checks the protocols as written; exits 0 when Relacy finds nothing
//        model_check BUG       checks them with one seeded bug (a memory order weakened below
//                              what a Design block calls necessary); exits 0 only when Relacy
//                              finds the failure that bug must cause
//        model_check --list    prints the seeded bugs' names (one CTest test each)
//
// Payloads are checked two ways: their values (every float and the header say which post or
// version the buffer holds), and one rl::var per buffer, touched with every write and read of
// the buffer, on which Relacy reports a data race when two threads reach a buffer without
// happens-before (plain memory would not show it: Relacy runs the threads as fibers).

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "common/cache_line.hpp"
#include "engine/gradient_slot.hpp"
#include "engine/model_pool.hpp"
#include "engine/ticket_lock.hpp"

// Last: Relacy's macros must not rewrite the headers above.
#include "relacy_atomic.hpp"

namespace {

using dude::engine::BasicHandoffSlot;
using dude::engine::BasicModelPool;
using dude::engine::BasicTicketLock;
using dude::engine::BasicTripleBufferSlot;
using dude::engine::round_up_to_line;
using model_check::Atomic;

constexpr std::size_t kFloats = 4;  // per gradient or model

/// The buffers of one protocol, back to back from `base`, each with the post or version it
/// holds: in its floats and in an rl::var, Relacy's witness of who touched the buffer when.
template <std::size_t kBuffers>
struct Buffers {
  const float* base = nullptr;
  std::size_t stride = 0;
  rl::var<std::uint64_t> tag[kBuffers];

  void start(const float* first, std::size_t floats_per_buffer) {
    base = first;
    stride = floats_per_buffer;
    for (rl::var<std::uint64_t>& t : tag) VAR(t) = 0;
  }
  std::size_t index(const float* buffer) {
    RL_ASSERT(buffer >= base && (buffer - base) % stride == 0);
    const std::size_t i = static_cast<std::size_t>(buffer - base) / stride;
    RL_ASSERT(i < kBuffers);
    return i;
  }
  void write(float* buffer, std::uint64_t value) {
    VAR(tag[index(buffer)]) = value;
    std::fill(buffer, buffer + kFloats, static_cast<float>(value));
  }
  /// The value the whole buffer holds (asserts that its floats agree with its tag).
  std::uint64_t read(const float* buffer) {
    const std::uint64_t value = VAR(tag[index(buffer)]);
    for (std::size_t f = 0; f < kFloats; ++f) RL_ASSERT(buffer[f] == static_cast<float>(value));
    return value;
  }
};

/// Triple buffer: the consumer gets whole posts, newer each time, and at last the newest.
struct TripleBufferCheck : rl::test_suite<TripleBufferCheck, 2> {
  // Four: the fourth is the first written into a buffer the consumer has read.
  static constexpr std::uint64_t kPosts = 4;
  BasicTripleBufferSlot<Atomic> slot{kFloats};
  Buffers<3> buffers;

  // Buffer 0 is the producer's first, and the three lie back to back.
  void before() { buffers.start(slot.producer_buffer(), round_up_to_line(kFloats)); }
  void thread(unsigned id) { id == 0 ? produce() : consume(); }

  void produce() {
    for (std::uint64_t post = 1; post <= kPosts; ++post) {
      buffers.write(slot.producer_buffer(), post);
      slot.producer_header().sequence = post;
      slot.publish();
    }
  }
  // Until the newest post: had it been lost, this would spin until Relacy reports a livelock.
  void consume() {
    std::uint64_t last = 0;
    while (last < kPosts) {
      if (!slot.poll()) {
        rl::yield(1, $);
        continue;
      }
      const std::uint64_t post = buffers.read(slot.consumer_buffer());
      RL_ASSERT(slot.consumer_header().sequence == post);
      RL_ASSERT(post > last);  // in order, never one twice
      last = post;
      slot.release();
    }
  }
};

/// Hand-off: the consumer gets every post, in order, and the producer never writes the buffer
/// before it is consumed. With kProducerSleeps the consumer releases only once the producer has
/// spent its spins and yields, so the release races with the futex wait (lost wake-ups show as
/// a deadlock); otherwise the release races with the spinning.
template <bool kProducerSleeps>
struct HandoffCheck : rl::test_suite<HandoffCheck<kProducerSleeps>, 2> {
  using Slot = BasicHandoffSlot<Atomic, model_check::yield>;
  static constexpr std::uint64_t kPosts = 2;
  static constexpr unsigned kSpins = 2;
  Slot slot{kFloats};
  Buffers<1> buffers;
  // The post whose wait has made its last non-blocking poll. Relaxed: the signal must not
  // add happens-before between the two threads.
  Atomic<std::uint64_t> spent{0};

  void before() { buffers.start(slot.producer_buffer(), round_up_to_line(kFloats)); }
  void thread(unsigned id) { id == 0 ? produce() : consume(); }

  void produce() {
    for (std::uint64_t post = 1; post <= kPosts; ++post) {
      buffers.write(slot.producer_buffer(), post);
      slot.producer_header().sequence = post;
      slot.publish();
      unsigned polls = 0;
      slot.wait_until_consumed(kSpins, [&] {
        if (++polls == kSpins + Slot::kYields) spent.store(post, std::memory_order::relaxed);
        return false;
      });
    }
  }
  void consume() {
    for (std::uint64_t post = 1; post <= kPosts; ++post) {
      while (!slot.poll()) rl::yield(1, $);
      RL_ASSERT(buffers.read(slot.consumer_buffer()) == post);
      RL_ASSERT(slot.consumer_header().sequence == post);
      if constexpr (kProducerSleeps) {
        while (spent.load(std::memory_order::relaxed) != post) rl::yield(1, $);
      }
      slot.release();
    }
  }
};

/// Model pool: a reader's buffer is not rewritten while pinned, and the versions each reader
/// sees never go back. Two readers, so one can retry while the other holds a pin.
struct ModelPoolCheck : rl::test_suite<ModelPoolCheck, 3> {
  static constexpr std::size_t kReaders = 2;
  static constexpr std::uint64_t kVersions = 3;
  static constexpr int kReads = 2;
  BasicModelPool<Atomic> pool{kFloats, kReaders};
  Buffers<kReaders + 2> buffers;

  // Buffer 0 is the initial model (version 0, zeros), and the buffers lie back to back.
  void before() { buffers.start(pool.current(), pool.floats_per_buffer()); }
  void thread(unsigned id) { id == 0 ? write() : read(id - 1); }

  void write() {
    for (std::uint64_t version = 1; version <= kVersions; ++version) {
      buffers.write(pool.writable(), version);
      pool.publish(version);
    }
  }
  void read(std::size_t reader) {
    std::uint64_t last = 0;
    for (int r = 0; r < kReads; ++r) {
      const auto view = pool.acquire(reader);
      RL_ASSERT(view.version >= last);
      last = view.version;
      RL_ASSERT(buffers.read(view.params) == view.version);
      RL_ASSERT(buffers.read(view.params) == view.version);  // and still, a step later
      pool.release(reader);
    }
  }
};

/// Ticket lock: the critical sections of three threads never overlap (a plain rl::var
/// written in each: Relacy reports a race if two are not ordered) and none is lost.
struct TicketLockCheck : rl::test_suite<TicketLockCheck, 3> {
  static constexpr int kRounds = 2;
  BasicTicketLock<Atomic, model_check::yield, model_check::yield> lock;
  rl::var<int> count;

  void before() { VAR(count) = 0; }
  void thread(unsigned) {
    for (int r = 0; r < kRounds; ++r) {
      lock.lock();
      VAR(count) = VAR(count) + 1;
      lock.unlock();
    }
  }
  void after() { RL_ASSERT(VAR(count) == 3 * kRounds); }
};

struct Protocol {
  const char* name;
  bool (*simulate)(rl::test_params&);
  rl::iteration_t iterations;
};

// Random schedules, as many as fit in a few seconds (every seeded bug shows within a few
// hundred); a seeded bug's run stops at its first failure.
const Protocol kProtocols[] = {
    {"triple buffer", rl::simulate<TripleBufferCheck>, 1000000},
    {"hand-off, producer spins", rl::simulate<HandoffCheck<false>>, 500000},
    {"hand-off, producer sleeps", rl::simulate<HandoffCheck<true>>, 100000},
    {"model pool", rl::simulate<ModelPoolCheck>, 500000},
    {"ticket lock", rl::simulate<TicketLockCheck>, 200000},
};

/// One memory order a Design block calls necessary, weakened, and what Relacy must then find.
struct SeededBug {
  const char* name;
  const Protocol& protocol;
  model_check::Weakening weakening;
  rl::test_result_e finds;
};

using model_check::Op;
using std::memory_order;

const SeededBug kSeededBugs[] = {
    // TripleBufferSlot::publish's exchange: release half, acquire half.
    {"triple-publish-acquire-only",
     kProtocols[0],
     {"BasicTripleBufferSlot", "publish", Op::exchange, memory_order::acquire},
     rl::test_result_data_race},
    {"triple-publish-release-only",
     kProtocols[0],
     {"BasicTripleBufferSlot", "publish", Op::exchange, memory_order::release},
     rl::test_result_data_race},
    // TripleBufferSlot::poll's exchange: acquire half, release half.
    {"triple-poll-release-only",
     kProtocols[0],
     {"BasicTripleBufferSlot", "poll", Op::exchange, memory_order::release},
     rl::test_result_data_race},
    {"triple-poll-acquire-only",
     kProtocols[0],
     {"BasicTripleBufferSlot", "poll", Op::exchange, memory_order::acquire},
     rl::test_result_data_race},
    // HandoffSlot: publish's release, poll's acquire, release()'s release and seq_cst, and
    // the acquire of wait_until_consumed's loads.
    {"handoff-publish-relaxed",
     kProtocols[1],
     {"BasicHandoffSlot", "publish", Op::store, memory_order::relaxed},
     rl::test_result_data_race},
    {"handoff-poll-relaxed",
     kProtocols[1],
     {"BasicHandoffSlot", "poll", Op::load, memory_order::relaxed},
     rl::test_result_data_race},
    {"handoff-release-relaxed",
     kProtocols[1],
     {"BasicHandoffSlot", "release", Op::store, memory_order::relaxed},
     rl::test_result_data_race},
    {"handoff-release-not-seq-cst",
     kProtocols[2],
     {"BasicHandoffSlot", "release", Op::store, memory_order::release},
     rl::test_result_deadlock},
    {"handoff-wait-relaxed",
     kProtocols[1],
     {"BasicHandoffSlot", "wait_until_consumed", Op::load, memory_order::relaxed},
     rl::test_result_data_race},
    // ModelPool: the Dekker pair's four seq_cst operations, and the unpin's release.
    {"pool-pin-store-release",
     kProtocols[3],
     {"BasicModelPool", "pin_and_recheck", Op::store, memory_order::release},
     rl::test_result_data_race},
    {"pool-recheck-acquire",
     kProtocols[3],
     {"BasicModelPool", "pin_and_recheck", Op::load, memory_order::acquire},
     rl::test_result_data_race},
    {"pool-publish-release",
     kProtocols[3],
     {"BasicModelPool", "publish", Op::store, memory_order::release},
     rl::test_result_data_race},
    {"pool-scan-acquire",
     kProtocols[3],
     {"BasicModelPool", "find_free", Op::load, memory_order::acquire},
     rl::test_result_data_race},
    {"pool-unpin-relaxed",
     kProtocols[3],
     {"BasicModelPool", "release", Op::store, memory_order::relaxed},
     rl::test_result_data_race},
    // TicketLock: lock()'s acquire load of its ticket, unlock()'s release store.
    {"ticket-lock-acquire-relaxed",
     kProtocols[4],
     {"BasicTicketLock", "lock", Op::load, memory_order::relaxed},
     rl::test_result_data_race},
    {"ticket-unlock-relaxed",
     kProtocols[4],
     {"BasicTicketLock", "unlock", Op::store, memory_order::relaxed},
     rl::test_result_data_race},
};

/// Runs one protocol's check. Relacy prints its report, with the failing execution's history,
/// to std::cout (not to a string stream: while it runs, it owns operator new and delete).
rl::test_result_e run(const Protocol& protocol, rl::iteration_t& stopped_at) {
  rl::test_params params;
  params.iteration_count = protocol.iterations;
  params.execution_depth_limit = 20000;  // the hand-off's 64 yields per wait are steps too
  protocol.simulate(params);
  stopped_at = params.stop_iteration;
  return params.test_result;
}

int check_protocols() {
  int failures = 0;
  for (const Protocol& protocol : kProtocols) {
    rl::iteration_t stopped_at = 0;
    const rl::test_result_e result = run(protocol, stopped_at);
    std::printf("%s: %s after %llu iterations\n", protocol.name, rl::test_result_str(result),
                static_cast<unsigned long long>(stopped_at));
    if (result != rl::test_result_success) ++failures;
  }
  return failures == 0 ? 0 : 1;
}

int check_seeded_bug(const SeededBug& bug) {
  model_check::seed(bug.weakening);
  rl::iteration_t stopped_at = 0;
  const rl::test_result_e result = run(bug.protocol, stopped_at);
  std::printf("%s (%s): Relacy found %s at iteration %llu; expected %s\n", bug.name,
              bug.protocol.name, rl::test_result_str(result),
              static_cast<unsigned long long>(stopped_at), rl::test_result_str(bug.finds));
  if (!model_check::weakening_applied) {
    std::printf("%s: no operation of %.*s::%.*s matched\n", bug.name,
                static_cast<int>(bug.weakening.type.size()), bug.weakening.type.data(),
                static_cast<int>(bug.weakening.member.size()), bug.weakening.member.data());
    return 1;
  }
  return result == bug.finds ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 1) return check_protocols();
  const std::string_view arg = argv[1];
  if (arg == "--list") {
    for (const SeededBug& bug : kSeededBugs) std::printf("%s\n", bug.name);
    return 0;
  }
  for (const SeededBug& bug : kSeededBugs) {
    if (arg == bug.name) return check_seeded_bug(bug);
  }
  std::fprintf(stderr, "model_check: no seeded bug named %s (see --list)\n", argv[1]);
  return 2;
}
