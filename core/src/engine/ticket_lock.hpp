// ticket_lock.hpp (internal): the fair lock of the workers that serve on sparse data
// (sparse_server_engine.hpp).
//
// Design
// - Two counters: next_ hands out tickets, serving_ names the ticket allowed in. lock() draws
//   a ticket and waits until serving_ shows it; unlock() lets the next ticket in. Threads enter
//   in the order they drew their tickets. That is the point of it: with std::mutex a worker
//   that unlocks took the lock again at once, before the waiter's futex wake-up (which takes
//   longer than a worker's next gradient), so one worker applied most arrivals while the
//   other's gradient aged in DuDe's sum (bench/RESULTS.md, "Sparse data on two cores"). Here a
//   worker that wants the lock again queues behind the one already waiting.
// - Owners: next_ is shared by every thread (fetch_add only); serving_ is written only by the
//   thread holding the lock (unlock) and read by the waiters.
// - Orders: lock()'s acquire load that reads its ticket pairs with the release store of the
//   unlock() that wrote it, so each critical section happens-before the next one. The ticket's
//   fetch_add is relaxed: an atomic RMW gives every thread a distinct ticket whatever its
//   order, and no data passes through next_. unlock()'s load of serving_ is relaxed: only the
//   holder writes serving_, so it reads its own last value.
// - Waiting: pause-spins (a critical section is a step's fold, microseconds), then yields, so
//   that a holder or an earlier ticket preempted by the OS gets a core back when threads
//   outnumber cores. The pause and the yield are template parameters so that the model
//   checker (tests/model_check/) runs this code with its scheduler's.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "common/cache_line.hpp"

namespace dude::engine {

inline void cpu_pause() noexcept { __builtin_ia32_pause(); }

template <template <class> class Atomic = std::atomic, void (*kPause)() noexcept = cpu_pause,
          void (*kYield)() noexcept = std::this_thread::yield>
class BasicTicketLock {
 public:
  static constexpr unsigned kSpins = 256;  // pauses before each yield: about a critical section

  void lock() noexcept {
    const std::uint64_t ticket = next_.fetch_add(1, std::memory_order_relaxed);
    for (unsigned spins = 0; serving_.load(std::memory_order_acquire) != ticket;) {
      if (++spins < kSpins) {
        kPause();
      } else {
        spins = 0;
        kYield();
      }
    }
  }
  void unlock() noexcept {
    serving_.store(serving_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

 private:
  alignas(kFalseSharingRange) Atomic<std::uint64_t> next_{0};
  alignas(kFalseSharingRange) Atomic<std::uint64_t> serving_{0};
};
using TicketLock = BasicTicketLock<>;
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

}  // namespace dude::engine
