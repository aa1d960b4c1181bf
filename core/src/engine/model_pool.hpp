// model_pool.hpp (internal): how the server hands models back to the workers.
//
// Design
// - W + 2 read-only model buffers for W readers. `current_` names the newest published buffer
//   and its version; each reader has one pin (hazard-pointer style) naming the buffer it is
//   computing on, or kNone.
// - Owners: the single writer (the server) owns every buffer that is neither current nor
//   pinned, and is the only thread that stores current_. Reader w is the only thread that
//   stores pins_[w].
// - Reader acquire(): load current, store the pin, load current again; retry until the two
//   loads agree. Writer publish(): pick a buffer that is not current and whose index no pin
//   holds (reading each pin once: see find_free()), fill it, then store current.
// - Why seq_cst on the pin store, the re-check load, the current_ store and the writer's pin
//   scan: this is the store-then-load (Dekker) pattern. If the reader's re-check sees buffer
//   b still current, its pin store precedes, in the single total order, the writer's later
//   store of another current, and so precedes the writer's next scan: the writer sees the pin
//   and never writes b while the reader uses it. acquire/release alone would allow both sides
//   to miss each other's store.
// - The reader's unpin is a release store: its reads of the buffer happen-before the writer's
//   later writes, which follow its (seq_cst, hence acquire) scan that saw the pin gone.
// - Invariant: at most W buffers are pinned and one is current, so of W + 2 at least one is
//   free: publish() never waits. Versions a reader sees never go back.
// - The atomic type is a template parameter so that the model checker (tests/model_check/)
//   runs this very code on its own atomics; the engine uses ModelPool, on std::atomic. Each of
//   the four seq_cst above and the unpin's release, weakened alone, is a seeded bug that
//   Relacy must find (a writer rewriting a pinned buffer).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/aligned_buffer.hpp"
#include "common/cache_line.hpp"

namespace dude::engine {

template <template <class> class Atomic = std::atomic>
class BasicModelPool {
 public:
  /// A pinned, read-only model: valid until release(reader).
  struct View {
    const float* params;
    std::uint64_t version;
  };

  BasicModelPool(std::size_t floats, std::size_t readers)
      : stride_(round_up_to_line(floats)),
        buffers_(readers + 2),
        storage_(buffers_ * stride_, AlignedFloats::Uninitialized{}),
        versions_(new PaddedVersion[buffers_]),
        pins_(new PaddedPin[readers]),
        readers_(readers),
        excluded_(buffers_) {
    for (std::size_t r = 0; r < readers; ++r)
      pins_[r].buffer.store(kNone, std::memory_order_relaxed);
    // The initial model (version 0) is zeros. The other buffers are written whole before they
    // are published, and find_free() takes the lowest free index, so buffers that are never
    // needed at once stay untouched pages: fewer than W + 2 when readers share models.
    std::fill(buffer(0), buffer(0) + stride_, 0.0f);
  }

  // Reader side (reader r, one thread per r).
  View acquire(std::size_t reader) noexcept {
    std::uint32_t seen = current_.load(std::memory_order_seq_cst);
    while (true) {
      const std::uint32_t again = pin_and_recheck(reader, seen);
      if (again == seen) break;
      seen = again;
    }
    return {buffer(seen), versions_[seen].version};
  }
  void release(std::size_t reader) noexcept {
    pins_[reader].buffer.store(kNone, std::memory_order_release);
  }

  // Writer side (one thread).
  /// A buffer nobody reads or will read until it is published: fill it, then publish().
  float* writable() noexcept {
    if (next_ == kNone) next_ = find_free();
    return buffer(next_);
  }
  /// Makes the buffer from writable() the current model, with this version.
  void publish(std::uint64_t version) noexcept {
    if (next_ == kNone) next_ = find_free();
    versions_[next_].version = version;
    current_.store(next_, std::memory_order_seq_cst);
    current_index_ = next_;
    next_ = kNone;
  }
  /// The current model, as the writer sees it (the writer never races with itself).
  const float* current() const noexcept { return buffer(current_index_); }
  std::uint64_t current_version() const noexcept { return versions_[current_index_].version; }
  std::size_t floats_per_buffer() const noexcept { return stride_; }

 private:
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};

  /// The reader's half of the Dekker pair (see Design): pins `seen`, then loads current_.
  std::uint32_t pin_and_recheck(std::size_t reader, std::uint32_t seen) noexcept {
    pins_[reader].buffer.store(seen, std::memory_order_seq_cst);
    return current_.load(std::memory_order_seq_cst);
  }

  /// Loads each pin exactly once. (Loading every pin once per candidate buffer is not enough:
  /// the scan is not a snapshot, and a reader whose acquire() is retrying moves its pin from
  /// one stale buffer to another meanwhile, so it can be seen on two buffers; with the other
  /// readers' pins that can cover all W + 1 non-current buffers, and find_free() found none.)
  std::uint32_t find_free() noexcept {
    std::fill(excluded_.begin(), excluded_.end(), static_cast<unsigned char>(0));
    excluded_[current_index_] = 1;
    for (std::size_t r = 0; r < readers_; ++r) {
      const std::uint32_t pinned = pins_[r].buffer.load(std::memory_order_seq_cst);
      if (pinned < buffers_) excluded_[pinned] = 1;
    }
    for (std::uint32_t b = 0; b < buffers_; ++b) {
      if (excluded_[b] == 0) return b;
    }
    return kNone;  // unreachable: W pin values and one current leave one of W + 2 free
  }
  float* buffer(std::uint32_t b) noexcept { return storage_.data() + b * stride_; }
  const float* buffer(std::uint32_t b) const noexcept { return storage_.data() + b * stride_; }

  struct alignas(kFalseSharingRange) PaddedPin {
    Atomic<std::uint32_t> buffer;  // the buffer reader r computes on, or kNone
  };
  struct alignas(kFalseSharingRange) PaddedVersion {
    std::uint64_t version = 0;  // written before the buffer is published, read after acquire
  };

  const std::size_t stride_;                   // floats per buffer, whole cache lines
  const std::uint32_t buffers_;                // readers + 2
  AlignedFloats storage_;                      // the buffers, back to back
  std::unique_ptr<PaddedVersion[]> versions_;  // model version held by each buffer
  std::unique_ptr<PaddedPin[]> pins_;          // one per reader
  const std::size_t readers_;
  std::uint32_t current_index_ = 0;      // writer's copy of current_
  std::uint32_t next_ = kNone;           // writer: the buffer being filled, if chosen
  std::vector<unsigned char> excluded_;  // writer: find_free()'s scratch, one per buffer
  alignas(kFalseSharingRange) Atomic<std::uint32_t> current_{0};  // newest published buffer
};
using ModelPool = BasicModelPool<>;
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

}  // namespace dude::engine
