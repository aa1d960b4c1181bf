// fold_team.hpp (internal): the server's helper threads, which split each round's fold over
// coordinates so that one server keeps up with many workers.
//
// Design
// - Member 0 is the server thread itself; members 1..size-1 are helper threads the team owns.
//   The coordinates [0, n) are cut once into `size` contiguous ranges whose boundaries are
//   multiples of a cache line of floats, so no two members ever write the same line of a
//   line-aligned float array (the model buffers, slots and table).
// - run(work) is called by the server only. It stores the work (a function pointer and its
//   context, no allocation), resets done_, and then bumps generation_ with a release store:
//   the work and everything the server wrote before (the round's arrivals, the model it
//   reads) happen-before any helper that acquire-loads the new generation. The server then
//   does range 0 itself and waits until done_ reaches size - 1 (acquire loads).
// - A helper runs its range and adds one to done_ with release: its writes (x_out, the
//   running sum, the table) happen-before the server's acquire load that sees the count, and
//   so before the server publishes the model to the workers (the pool's own release).
// - done_ is reset (relaxed) before the release store of generation_, and no helper touches
//   it before acquiring that generation, so a helper never adds to the previous round's count.
// - Waiting: a helper spins on generation_ for `spins` polls (long when every thread has a
//   core; short otherwise, so an idle helper does not take a core from a worker), then blocks
//   in std::atomic::wait (a futex); run() notifies after each bump. The server spin-waits for
//   done_: the ranges are short and it needs the result at once.
// - The work must not throw (the policies' range work is kernels only). Stop: the destructor
//   sets stop_, bumps generation_, notifies and joins.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include "engine/cache_line.hpp"

namespace dude::engine {

class FoldTeam {
 public:
  /// A team of `size` members (the caller's thread and size - 1 helpers) over n coordinates.
  FoldTeam(std::size_t size, std::size_t n, unsigned spins) : spins_(spins) {
    const std::size_t members = std::max<std::size_t>(size, 1);
    const std::size_t lines = (n + kFloatsPerLine - 1) / kFloatsPerLine;
    for (std::size_t m = 0; m <= members; ++m) {
      bounds_.push_back(std::min(n, lines * m / members * kFloatsPerLine));
    }
    for (std::size_t m = 1; m < members; ++m) helpers_.emplace_back([this, m] { help(m); });
  }
  FoldTeam(const FoldTeam&) = delete;
  FoldTeam& operator=(const FoldTeam&) = delete;
  ~FoldTeam() {
    stop_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    for (std::thread& t : helpers_) t.join();
  }

  std::size_t size() const noexcept { return helpers_.size() + 1; }

  /// Runs work(begin, end) once per member's range, concurrently; returns when all are done.
  /// Server thread only.
  template <class Work>
  void run(const Work& work) {
    if (helpers_.empty()) {
      work(bounds_[0], bounds_[1]);
      return;
    }
    context_ = &work;
    call_ = [](const void* context, std::size_t begin, std::size_t end) {
      (*static_cast<const Work*>(context))(begin, end);
    };
    done_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    work(bounds_[0], bounds_[1]);
    const std::uint32_t helpers = static_cast<std::uint32_t>(helpers_.size());
    while (done_.load(std::memory_order_acquire) != helpers) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#else
      std::this_thread::yield();
#endif
    }
  }

 private:
  void help(std::size_t member) {
    std::uint32_t seen = 0;
    for (;;) {
      std::uint32_t now = generation_.load(std::memory_order_acquire);
      for (unsigned i = 0; now == seen && i < spins_; ++i) {
        now = generation_.load(std::memory_order_acquire);
      }
      while (now == seen) {
        generation_.wait(seen, std::memory_order_acquire);
        now = generation_.load(std::memory_order_acquire);
      }
      seen = now;
      if (stop_.load(std::memory_order_relaxed)) return;
      call_(context_, bounds_[member], bounds_[member + 1]);
      done_.fetch_add(1, std::memory_order_release);
    }
  }

  const unsigned spins_;                 // helper polls before blocking
  std::vector<std::size_t> bounds_;      // member m folds [bounds_[m], bounds_[m + 1])
  std::vector<std::thread> helpers_;     // members 1..size-1
  // The round's work, written by the server before the release bump of generation_.
  void (*call_)(const void*, std::size_t, std::size_t) = nullptr;
  const void* context_ = nullptr;
  std::atomic<bool> stop_{false};                                         // set once, at destruction
  alignas(kFalseSharingRange) std::atomic<std::uint32_t> generation_{0};  // rounds started (server)
  alignas(kFalseSharingRange) std::atomic<std::uint32_t> done_{0};        // helpers finished
};

}  // namespace dude::engine
