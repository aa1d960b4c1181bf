// fold_team.hpp (internal): splits each server round's fold over coordinates, so that one
// server keeps up with many workers. The round is cut into chunks that the server, its helper
// threads and any waiting worker (a guest) claim one at a time.
//
// Design
// - Chunks: [0, n) is cut into chunks of `chunk` floats (a multiple of a cache line), so no
//   two threads ever write the same line of a line-aligned float array (the model buffers and
//   the slots); DuDe's table and S are not line-aligned, so two threads may share the line at
//   a chunk's edge there (false sharing, never a race: each writes its own coordinates).
//   Every coordinate sees the same arithmetic whoever folds it.
// - Members: the server thread (run()), size - 1 helper threads the team owns, and guests:
//   hand-off workers waiting for their post to be folded call help(). Workers are idle while
//   they wait, so the round's fold spreads over cores that have nothing else to do.
// - claim_: one 64-bit word, round number << 32 | next chunk. Only the server stores it, once
//   per round: (round, 0), with release, after storing the work (call_, context_) and resetting
//   done_. Every claim is a compare-exchange (round, k) -> (round, k + 1): a claim can only
//   succeed in the round whose number it read, so a member that was preempted between reading
//   the word and claiming cannot take a chunk of a later round (the round number wraps after
//   2^32 rounds; no thread sleeps that long between two instructions).
// - Why acquire on every load and claim of claim_: the values (round, k) are written by the
//   server's release store and by claims (read-modify-writes), so they all lie in that store's
//   release sequence; reading any of them synchronizes with it, and the round's inputs (the
//   arrivals the server polled, the model it reads) happen-before the member's chunk.
// - call_ and context_ are atomics read relaxed before the claim. A successful claim of chunk
//   k of round r proves the loads saw round r's values: they happen-after the server's release
//   of (r, 0), and they happen-before the server's next stores (the member's release increment
//   of done_ for that chunk comes before the server can see the round complete and move on).
//   A failed claim discards them; the work (a lambda on the server's stack) outlives every
//   successful claim because run() returns only after all chunks are done.
// - done_: chunks finished this round. A member adds one with release after its chunk, so its
//   writes (x_out, the running sum, the table) happen-before the server's acquire load that
//   sees done_ == chunks, and so before the server publishes the model (the pool's release).
//   done_ is reset (relaxed) before the release store of the next round's claim_, and only a
//   member with a claim of that round adds to it, so no late member adds to the wrong round.
// - Waiting: a helper spins on generation_ (a 32-bit futex word bumped with each round) for
//   `spins` polls, then blocks in std::atomic::wait; run() notifies. The server claims chunks
//   itself and then spins on done_ (the chunks are short and it needs the result at once),
//   yielding after a few thousand polls in case the member it waits for lost its core.
//   Guests never block here: help() returns false when no chunk is left.
// - The work must not throw (the policies' range work is kernels only). Stop: the destructor
//   sets stop_, bumps generation_, notifies and joins.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include "common/cache_line.hpp"

namespace dude::engine {

class FoldTeam {
 public:
  /// Chunk size for n coordinates: about 16 chunks, each between 4 and 16 KiB of floats (a
  /// smaller chunk costs more claims than it saves in balance).
  static std::size_t default_chunk(std::size_t n) noexcept {
    const std::size_t sixteenth = round_up_to_line((n + 15) / 16);
    return std::clamp<std::size_t>(sixteenth, 1024, 4096);
  }

  /// A team of `size` members (the server's thread and size - 1 helpers) over n coordinates,
  /// cut into chunks of `chunk` floats (rounded up to a cache line).
  FoldTeam(std::size_t size, std::size_t n, unsigned spins, std::size_t chunk)
      : spins_(spins),
        n_(n),
        chunk_(std::max(round_up_to_line(chunk), kFloatsPerLine)),
        chunks_(static_cast<std::uint32_t>((n + chunk_ - 1) / chunk_)) {
    claim_.store(chunks_, std::memory_order_relaxed);  // round 0, nothing left to claim
    for (std::size_t m = 1; m < std::max<std::size_t>(size, 1); ++m) {
      helpers_.emplace_back([this] { help_rounds(); });
    }
  }
  FoldTeam(std::size_t size, std::size_t n, unsigned spins)
      : FoldTeam(size, n, spins, default_chunk(n)) {}
  FoldTeam(const FoldTeam&) = delete;
  FoldTeam& operator=(const FoldTeam&) = delete;
  ~FoldTeam() {
    stop_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    for (std::thread& t : helpers_) t.join();
  }

  /// The server and its helpers (guests come and go).
  std::size_t size() const noexcept { return helpers_.size() + 1; }
  std::size_t chunks() const noexcept { return chunks_; }

  /// Runs work(begin, end) once per chunk, on whichever members claim them; returns when all
  /// are done. Server thread only.
  template <class Work>
  void run(const Work& work) {
    context_.store(&work, std::memory_order_relaxed);
    call_.store([](const void* context, std::size_t begin,
                   std::size_t end) { (*static_cast<const Work*>(context))(begin, end); },
                std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    ++round_;
    claim_.store(round_ << 32, std::memory_order_release);
    if (!helpers_.empty()) {
      generation_.fetch_add(1, std::memory_order_release);
      generation_.notify_all();
    }
    while (claim_and_fold()) {
    }
    for (unsigned polls = 0; done_.load(std::memory_order_acquire) != chunks_; ++polls) {
      // A member still folds a chunk. If it was preempted (more threads than cores), spinning
      // here would keep it off the core it needs: yield after a short spin.
      if (polls < kSpinsBeforeYield) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      } else {
        std::this_thread::yield();
      }
    }
  }

  /// A guest's turn: folds chunks of the current round while any are left. Returns whether it
  /// folded one. Any thread but the server; never blocks.
  bool help() noexcept {
    bool folded = false;
    while (claim_and_fold()) folded = true;
    return folded;
  }

 private:
  using Call = void (*)(const void*, std::size_t, std::size_t);
  static constexpr unsigned kSpinsBeforeYield = 4096;  // a chunk takes ~0.1-10 us

  /// Claims the next chunk of the current round and folds it; false when none is left.
  bool claim_and_fold() noexcept {
    std::uint64_t seen = claim_.load(std::memory_order_acquire);
    for (;;) {
      const auto chunk = static_cast<std::uint32_t>(seen);
      if (chunk >= chunks_) return false;
      const Call call = call_.load(std::memory_order_relaxed);
      const void* context = context_.load(std::memory_order_relaxed);
      if (claim_.compare_exchange_weak(seen, seen + 1, std::memory_order_acquire,
                                       std::memory_order_acquire)) {
        const std::size_t begin = static_cast<std::size_t>(chunk) * chunk_;
        call(context, begin, std::min(n_, begin + chunk_));
        done_.fetch_add(1, std::memory_order_release);
        return true;
      }
    }
  }

  void help_rounds() {
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
      while (claim_and_fold()) {
      }
    }
  }

  const unsigned spins_;        // helper polls before blocking
  const std::size_t n_;         // coordinates
  const std::size_t chunk_;     // floats per chunk, a whole number of cache lines
  const std::uint32_t chunks_;  // chunks per round
  std::uint64_t round_ = 0;     // rounds started (server only)
  std::vector<std::thread> helpers_;
  std::atomic<Call> call_{nullptr};            // the round's work: trampoline ...
  std::atomic<const void*> context_{nullptr};  // ... and the server's lambda
  std::atomic<bool> stop_{false};              // set once, at destruction
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> claim_{0};  // round << 32 | next chunk
  alignas(kFalseSharingRange) std::atomic<std::uint32_t> done_{0};   // chunks folded this round
  alignas(kFalseSharingRange) std::atomic<std::uint32_t> generation_{0};  // wakes helpers (futex)
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

}  // namespace dude::engine
