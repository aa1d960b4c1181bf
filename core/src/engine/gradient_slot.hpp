// gradient_slot.hpp (internal): how one worker hands gradients to the server.
//
// Two disciplines with one interface, so the engine is written once (a template parameter):
//
//   producer (the worker):   float* buf = slot.producer_buffer(); header = slot.producer_header();
//                            ... fill ...; slot.publish(); slot.wait_until_consumed();
//   consumer (the server):   if (slot.poll()) { read slot.consumer_buffer()/consumer_header();
//                                               slot.release(); }
//
// TripleBufferSlot: newest wins, nobody waits; an unread gradient may be replaced by a newer
// one (its work is lost), so it carries whole gradients.
// HandoffSlot: the worker waits until the server has consumed its post, so nothing is lost;
// the wait is one fold's latency while the server keeps up. Both carry whole gradients (the
// server keeps DuDe's table, see policies.cpp).
//
// The atomic type (and the hand-off's yield) is a template parameter so that the model checker
// (tests/model_check/) runs this very code on its own; the engine uses the aliases. It
// seeds each memory order the Design blocks call necessary, weakened, as a bug that Relacy
// must find.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>

#include "common/aligned_buffer.hpp"
#include "common/cache_line.hpp"

namespace dude::engine {

/// Travels with each gradient.
struct GradientHeader {
  std::uint32_t worker = 0;         // who computed it
  std::uint32_t samples = 0;        // minibatch size
  std::uint64_t model_version = 0;  // server step count of the model it was computed at
  std::uint64_t sequence = 0;       // the worker's post counter (1, 2, ...)
  double loss = 0;                  // minibatch loss at that model
};

/// Single-producer single-consumer triple buffer.
///
/// Design
/// - Three buffers. At any time the producer owns one (write_index_), the consumer owns one
///   (read_index_), and the third ("middle") is named by state_, which also holds a dirty bit:
///   set when the middle buffer holds a post the consumer has not taken.
/// - Fields: write_index_ and the producer's buffer are touched only by the producer;
///   read_index_ and the consumer's buffer only by the consumer; state_ by both, and only
///   through atomic exchanges (no CAS loop, so no ABA and no retry).
/// - publish(): exchange(write | dirty). acq_rel: the release half publishes the buffer's
///   contents to the consumer's acquire; the acquire half makes the consumer's earlier reads of
///   the buffer we get back (its old one) happen-before our next writes into it.
/// - poll(): a relaxed load of the dirty bit is only a hint (a stale "clean" costs one poll);
///   the exchange(read) that takes the buffer is acq_rel for the mirror-image reasons.
/// - Invariants: the three indices are always a permutation of {0,1,2}; the consumer never
///   sees a buffer the producer is writing (no torn reads); posts arrive in order and the
///   consumer always gets the newest.
template <template <class> class Atomic = std::atomic>
class BasicTripleBufferSlot {
 public:
  static constexpr bool kLossless = false;

  explicit BasicTripleBufferSlot(std::size_t floats)
      : stride_(round_up_to_line(floats)), storage_(3 * stride_) {}

  // Producer side.
  float* producer_buffer() noexcept { return buffer(write_index_); }
  GradientHeader& producer_header() noexcept { return headers_[write_index_].header; }
  void publish() noexcept {
    const std::uint8_t previous = state_.exchange(static_cast<std::uint8_t>(write_index_ | kDirty),
                                                  std::memory_order_acq_rel);
    write_index_ = previous & kIndexMask;
  }
  /// Nothing to wait for: the producer may fill its next buffer at once.
  void wait_until_consumed(unsigned /*spins*/ = 0) noexcept {}
  template <class Idle>
  void wait_until_consumed(unsigned /*spins*/, Idle&& /*idle*/) noexcept {}

  // Consumer side.
  bool poll() noexcept {
    if ((state_.load(std::memory_order_relaxed) & kDirty) == 0) return false;
    const std::uint8_t previous = state_.exchange(read_index_, std::memory_order_acq_rel);
    read_index_ = previous & kIndexMask;
    return true;
  }
  const float* consumer_buffer() const noexcept { return buffer(read_index_); }
  const GradientHeader& consumer_header() const noexcept { return headers_[read_index_].header; }
  /// The taken buffer stays the consumer's until its next successful poll.
  void release() noexcept {}

 private:
  static constexpr std::uint8_t kIndexMask = 0x3;
  static constexpr std::uint8_t kDirty = 0x4;

  float* buffer(std::uint8_t i) noexcept { return storage_.data() + i * stride_; }
  const float* buffer(std::uint8_t i) const noexcept { return storage_.data() + i * stride_; }

  struct alignas(kFalseSharingRange) PaddedHeader {
    GradientHeader header;
  };

  const std::size_t stride_;  // floats per buffer, a whole number of cache lines
  AlignedFloats storage_;     // the three buffers, back to back
  PaddedHeader headers_[3];   // one header per buffer, each on its own lines
  alignas(kFalseSharingRange) Atomic<std::uint8_t> state_{1};  // middle index | dirty
  alignas(kFalseSharingRange) std::uint8_t write_index_ = 0;   // producer-owned
  alignas(kFalseSharingRange) std::uint8_t read_index_ = 2;    // consumer-owned
};
using TripleBufferSlot = BasicTripleBufferSlot<>;
static_assert(std::atomic<std::uint8_t>::is_always_lock_free);

/// Single-producer single-consumer hand-off of one buffer (the paper's protocol: the worker
/// posts, then waits until the server has folded its post and only then reads the new model).
///
/// Design
/// - One buffer and header, and state_ in {kEmpty, kFull}. While kEmpty the producer owns the
///   buffer; while kFull the consumer does. Each side only ever stores the value that passes
///   ownership to the other, so plain stores suffice (no RMW).
/// - publish(): store(kFull, release) publishes the buffer to the consumer's acquire load in
///   poll(). release(): store(kEmpty) makes the consumer's reads happen-before the producer's
///   next writes (its acquire load in wait_until_consumed()); it is seq_cst so that the
///   waiter check inside notify_one() cannot move before it.
/// - Waiting must not starve the server when threads outnumber cores: spin briefly, then
///   yield, then block in std::atomic::wait (a futex, no mutex); release() notifies. With a
///   core per thread the caller asks for a long spin: a futex wake-up costs more than a fold.
///   The yield is a template parameter too, so that the model checker's is its scheduler's.
template <template <class> class Atomic = std::atomic,
          void (*kYield)() noexcept = std::this_thread::yield>
class BasicHandoffSlot {
 public:
  static constexpr bool kLossless = true;
  static constexpr int kYields = 64;  // yielding polls after the spins, before the wait blocks

  explicit BasicHandoffSlot(std::size_t floats) : storage_(round_up_to_line(floats)) {}

  // Producer side.
  float* producer_buffer() noexcept { return storage_.data(); }
  GradientHeader& producer_header() noexcept { return header_; }
  void publish() noexcept { state_.store(kFull, std::memory_order_release); }
  /// `spins`: polls before yielding; the engine passes many when every thread has a core.
  /// `idle()` runs between polls until the wait blocks (the engine lets the worker fold chunks
  /// of the server's current round); it returns whether it did any work, and only polls
  /// without work count as spins or yields.
  template <class Idle>
  void wait_until_consumed(unsigned spins, Idle&& idle) noexcept {
    for (unsigned i = 0; i < spins;) {
      if (state_.load(std::memory_order_acquire) == kEmpty) return;
      if (!idle()) ++i;
    }
    for (int i = 0; i < kYields;) {
      if (state_.load(std::memory_order_acquire) == kEmpty) return;
      if (!idle()) {
        kYield();
        ++i;
      }
    }
    while (state_.load(std::memory_order_acquire) == kFull) {
      state_.wait(kFull, std::memory_order_acquire);
    }
  }
  void wait_until_consumed(unsigned spins = kSpins) noexcept {
    wait_until_consumed(spins, [] { return false; });
  }

  // Consumer side.
  bool poll() const noexcept { return state_.load(std::memory_order_acquire) == kFull; }
  const float* consumer_buffer() const noexcept { return storage_.data(); }
  const GradientHeader& consumer_header() const noexcept { return header_; }
  void release() noexcept {
    // seq_cst rather than release: libstdc++'s notify_one skips the futex wake when its waiter
    // count reads zero, and that load must not be ordered before this store, or a producer
    // that just went to sleep could miss its wake-up.
    state_.store(kEmpty, std::memory_order_seq_cst);
    state_.notify_one();
  }

 private:
  static constexpr std::uint32_t kEmpty = 0;
  static constexpr std::uint32_t kFull = 1;
  static constexpr unsigned kSpins = 256;

  AlignedFloats storage_;                                            // the one buffer
  alignas(kFalseSharingRange) GradientHeader header_;                // owned with the buffer
  alignas(kFalseSharingRange) Atomic<std::uint32_t> state_{kEmpty};  // who owns the buffer
};
using HandoffSlot = BasicHandoffSlot<>;
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

}  // namespace dude::engine
