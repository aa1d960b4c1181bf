// Stress and fuzz tests of the engine's lock-free hand-over protocols:
//   TripleBufferSlot (newest-wins SPSC triple buffer), HandoffSlot (lossless SPSC hand-off)
//   and ModelPool (one writer, W hazard-pointer readers).
//
// Every check is an exact invariant (no timing asserts). Post k fills every float of its
// buffer with the value k (exact as a float for k < 2^24), so a torn or overwritten buffer
// shows up as a float that differs from the header's sequence / the view's version.
//
// The tests are meant to run under ThreadSanitizer too: there TSan itself checks that every
// read of a buffer happens-after the writes it sees. Bookkeeping the tests add next to the
// protocols (progress counters, "being written" flags) uses relaxed atomics only, so it adds
// no happens-before edge that could hide a missing one in the protocol under test.
// Catch2 is not thread-safe: worker threads record failures in a Failures object and the main
// thread asserts after joining them.
//
// A protocol that loses a post makes its test fail at once (the consumer sees the producer
// done with posts missing); one that loses a wake-up hangs, and a watchdog aborts the binary
// after 60 s.
//
// Sizes: the iteration counts below are for a plain build (each test well under 2 s there);
// under a sanitizer they are divided by 8, and the environment variable DUDE_STRESS_SCALE (a
// positive number, default 1) multiplies them for longer soak runs. DUDE_STRESS_VERBOSE=1
// prints what each stress test exercised (posts taken, acquisitions per reader, long waits).
// Stress tests are tagged [stress]; `dude_tests "[stress]"` runs only them.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/gradient_slot.hpp"
#include "engine/model_pool.hpp"

namespace {

using dude::engine::GradientHeader;
using dude::engine::HandoffSlot;
using dude::engine::ModelPool;
using dude::engine::TripleBufferSlot;

// ---------------------------------------------------------------------------------------------
// Harness

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t kSanitizerDivisor = 8;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
constexpr std::uint64_t kSanitizerDivisor = 8;
#else
constexpr std::uint64_t kSanitizerDivisor = 1;
#endif
#else
constexpr std::uint64_t kSanitizerDivisor = 1;
#endif

/// n scaled for the build (sanitizers) and by DUDE_STRESS_SCALE; at least 64, and below 2^24
/// so that every sequence number is exact as a float.
std::uint64_t iterations(std::uint64_t n) {
  double scale = 1.0;
  if (const char* env = std::getenv("DUDE_STRESS_SCALE")) {
    const double parsed = std::strtod(env, nullptr);
    if (parsed > 0) scale = parsed;
  }
  const double scaled = static_cast<double>(n) * scale / static_cast<double>(kSanitizerDivisor);
  return static_cast<std::uint64_t>(std::clamp(scaled, 64.0, double((1u << 24) - 1)));
}

/// With DUDE_STRESS_VERBOSE set, the stress tests print what they exercised (posts taken,
/// acquisitions, ...): a check on the tests' coverage, not on the protocols.
void note(const std::string& line) {
  if (std::getenv("DUDE_STRESS_VERBOSE") != nullptr) std::fprintf(stderr, "  %s\n", line.c_str());
}

/// Failures seen by worker threads: a count and the first few messages. The mutex is taken
/// only on the failure path, so a passing run adds no synchronisation.
class Failures {
 public:
  void add(const std::string& what) {
    if (count_.fetch_add(1, std::memory_order_relaxed) < kKept) {
      const std::lock_guard<std::mutex> lock(mutex_);
      messages_ += what;
      messages_ += '\n';
    }
  }
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  /// Main thread, after the workers are joined.
  std::string messages() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return messages_;
  }

 private:
  static constexpr std::uint64_t kKept = 8;
  std::atomic<std::uint64_t> count_{0};
  mutable std::mutex mutex_;
  std::string messages_;
};

#define DUDE_REQUIRE_NO_FAILURES(failures) \
  do {                                     \
    INFO((failures).messages());           \
    REQUIRE((failures).count() == 0);      \
  } while (false)

/// Aborts the test binary if the scope is not left within `seconds`: a protocol that loses a
/// wake-up (or a post) hangs instead of failing, and a hung test should fail loudly, not
/// block the run. The limit is generous (a sanitizer build on a busy two-core machine).
class Watchdog {
 public:
  explicit Watchdog(const char* what, int seconds = 60)
      : thread_([this, what, seconds] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (!cv_.wait_for(lock, std::chrono::seconds(seconds), [this] { return done_; })) {
            std::fprintf(stderr, "test_engine_protocols: '%s' did not finish in %d s (hung?)\n",
                         what, seconds);
            std::fflush(stderr);
            std::abort();
          }
        }) {}
  ~Watchdog() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts after the members above exist
};

/// A short pause in a spin loop.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/// Index of the first float of b[0, n) that is not `value`, or n.
std::size_t first_mismatch(const float* b, std::size_t n, float value) {
  for (std::size_t i = 0; i < n; ++i) {
    if (b[i] != value) return i;
  }
  return n;
}

std::string describe_mismatch(const char* what, std::uint64_t expected, const float* b,
                              std::size_t n, std::size_t at) {
  return std::string(what) + ": expected every float == " + std::to_string(expected) + ", float[" +
         std::to_string(at) + "] of " + std::to_string(n) + " is " + std::to_string(b[at]);
}

void fill(float* b, std::size_t n, std::uint64_t k) { std::fill(b, b + n, static_cast<float>(k)); }

/// The header the producer of post k writes (every field derived from k, so a header torn
/// between two posts is caught as well).
GradientHeader header_for(std::uint32_t worker, std::uint64_t k) {
  GradientHeader h;
  h.worker = worker;
  h.samples = static_cast<std::uint32_t>(k % 1000u) + 1;
  h.model_version = 3 * k;
  h.sequence = k;
  h.loss = 0.5 * static_cast<double>(k);
  return h;
}

bool header_matches(const GradientHeader& h, std::uint32_t worker) {
  const GradientHeader e = header_for(worker, h.sequence);
  return h.worker == e.worker && h.samples == e.samples && h.model_version == e.model_version &&
         h.loss == e.loss;
}

bool is_line_aligned(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % dude::engine::kCacheLine == 0;
}

// Gradient sizes: odd, so a buffer ends inside a cache line (the padding is never touched).
constexpr std::size_t kSlotFloats = 1001;
constexpr std::uint32_t kWorker = 7;

// ---------------------------------------------------------------------------------------------
// TripleBufferSlot

TEST_CASE("TripleBufferSlot: single-thread state machine", "[engine][protocol]") {
  TripleBufferSlot slot(kSlotFloats);
  std::set<const float*> buffers;

  SECTION("fresh slot: nothing to poll; the three buffers are distinct, aligned, zeroed") {
    REQUIRE_FALSE(slot.poll());
    REQUIRE_FALSE(slot.poll());
    REQUIRE(slot.producer_buffer() != slot.consumer_buffer());
    REQUIRE(is_line_aligned(slot.producer_buffer()));
    REQUIRE(is_line_aligned(slot.consumer_buffer()));
    REQUIRE(first_mismatch(slot.consumer_buffer(), kSlotFloats, 0.0f) == kSlotFloats);
    REQUIRE(slot.consumer_header().sequence == 0);
  }

  SECTION("publish, poll -> that post; poll again -> false, the buffer stays") {
    float* p = slot.producer_buffer();
    fill(p, kSlotFloats, 1);
    slot.producer_header() = header_for(kWorker, 1);
    slot.publish();
    slot.wait_until_consumed();  // no-op: must not block
    REQUIRE(slot.producer_buffer() != p);
    REQUIRE(slot.poll());
    REQUIRE(slot.consumer_buffer() == p);
    REQUIRE(slot.consumer_header().sequence == 1);
    REQUIRE(header_matches(slot.consumer_header(), kWorker));
    REQUIRE(first_mismatch(slot.consumer_buffer(), kSlotFloats, 1.0f) == kSlotFloats);
    slot.release();
    REQUIRE_FALSE(slot.poll());
    REQUIRE(slot.consumer_buffer() == p);
    REQUIRE(slot.consumer_header().sequence == 1);
    REQUIRE(first_mismatch(slot.consumer_buffer(), kSlotFloats, 1.0f) == kSlotFloats);
  }

  SECTION("publish, publish, poll -> the newest; then nothing new") {
    for (std::uint64_t k = 1; k <= 2; ++k) {
      fill(slot.producer_buffer(), kSlotFloats, k);
      slot.producer_header() = header_for(kWorker, k);
      slot.publish();
    }
    REQUIRE(slot.poll());
    REQUIRE(slot.consumer_header().sequence == 2);
    REQUIRE(first_mismatch(slot.consumer_buffer(), kSlotFloats, 2.0f) == kSlotFloats);
    REQUIRE_FALSE(slot.poll());
    REQUIRE(slot.consumer_header().sequence == 2);
  }

  SECTION("random interleaving against a reference model") {
    std::mt19937_64 rng(12345);
    std::uint64_t published = 0;  // last sequence published
    std::uint64_t taken = 0;      // sequence the consumer holds
    bool dirty = false;           // published since the last successful poll
    for (int op = 0; op < 20000; ++op) {
      float* const p = slot.producer_buffer();
      const float* const c = slot.consumer_buffer();
      buffers.insert(p);
      buffers.insert(c);
      REQUIRE(p != c);
      if (rng() % 3 != 0) {  // publish twice as often as poll, so that posts get replaced
        ++published;
        fill(p, kSlotFloats, published);
        slot.producer_header() = header_for(kWorker, published);
        slot.publish();
        dirty = true;
        REQUIRE(slot.producer_buffer() != p);                       // never refill the post
        REQUIRE(slot.producer_buffer() != slot.consumer_buffer());  // nor the consumer's
      } else {
        const bool got = slot.poll();
        REQUIRE(got == dirty);
        if (got) {
          taken = published;
          dirty = false;
        } else {
          REQUIRE(slot.consumer_buffer() == c);
        }
        REQUIRE(slot.consumer_header().sequence == taken);
        if (taken != 0) REQUIRE(header_matches(slot.consumer_header(), kWorker));
        REQUIRE(first_mismatch(slot.consumer_buffer(), kSlotFloats, static_cast<float>(taken)) ==
                kSlotFloats);
        slot.release();
      }
    }
    REQUIRE(buffers.size() == 3);  // exactly three buffers take turns
  }
}

TEST_CASE("TripleBufferSlot: newest-wins stress, no torn or repeated posts",
          "[engine][protocol][stress]") {
  const std::uint64_t n = iterations(200000);
  TripleBufferSlot slot(kSlotFloats);
  Failures failures;
  std::uint64_t taken = 0;
  std::uint64_t last = 0;
  std::atomic<bool> producer_done{false};
  // Coverage, not correctness: every `checkpoint` posts the producer lets the consumer take
  // one post before it goes on, so that takes are spread over the whole run even when the
  // consumer gets little CPU. Relaxed: no happens-before edge beside the slot's own.
  const std::uint64_t checkpoint = std::max<std::uint64_t>(1, n / 512);
  std::atomic<std::uint64_t> takes{0};
  std::atomic<bool> consumer_gone{false};
  {
    const Watchdog watchdog("TripleBufferSlot stress");
    std::thread consumer([&] {
      std::uint64_t misses = 0;
      while (last != n) {
        if (!slot.poll()) {
          if (!producer_done.load(std::memory_order_acquire)) {
            if ((++misses & 63) == 0)
              std::this_thread::yield();
            else
              cpu_relax();
            continue;
          }
          // The producer has finished (acquire: its last publish happens-before this poll).
          // Nothing to take now means the last post is lost: fail rather than hang.
          if (!slot.poll()) {
            failures.add("the producer is done, the consumer is at " + std::to_string(last) +
                         " of " + std::to_string(n) + " and nothing is left to poll");
            break;
          }
        }
        const GradientHeader& h = slot.consumer_header();
        const float* b = slot.consumer_buffer();
        const std::uint64_t seq = h.sequence;
        if (seq <= last || seq > n) {
          failures.add("sequence " + std::to_string(seq) + " after " + std::to_string(last) +
                       " (must strictly increase, at most " + std::to_string(n) + ")");
          if (seq > n) break;  // corrupt: the loop could not end
        }
        if (!header_matches(h, kWorker)) failures.add("torn header at " + std::to_string(seq));
        // Read the buffer twice, holding it (and sometimes yielding) in between: a producer
        // writing into the consumer's buffer shows up as a changed value in the second pass.
        for (int pass = 0; pass < 2; ++pass) {
          const std::size_t at = first_mismatch(b, kSlotFloats, static_cast<float>(seq));
          if (at != kSlotFloats) {
            failures.add(describe_mismatch(pass == 0 ? "torn post" : "post changed while held", seq,
                                           b, kSlotFloats, at));
          }
          if (pass == 0 && (taken & 31) == 0) std::this_thread::yield();
        }
        if (h.sequence != seq) failures.add("header changed while held at " + std::to_string(seq));
        slot.release();
        last = std::max(last, seq);
        ++taken;
        takes.store(taken, std::memory_order_relaxed);
      }
      consumer_gone.store(true, std::memory_order_relaxed);
    });
    std::thread producer([&] {
      std::uint64_t takes_then = 0;
      for (std::uint64_t k = 1; k <= n; ++k) {
        if (k % checkpoint == 0) {
          while (takes.load(std::memory_order_relaxed) == takes_then &&
                 !consumer_gone.load(std::memory_order_relaxed)) {
            std::this_thread::yield();
          }
          takes_then = takes.load(std::memory_order_relaxed);
        }
        float* b = slot.producer_buffer();
        fill(b, kSlotFloats, k);
        slot.producer_header() = header_for(kWorker, k);
        slot.publish();
        slot.wait_until_consumed();
      }
      producer_done.store(true, std::memory_order_release);
    });
    producer.join();
    consumer.join();
  }
  note("TripleBufferSlot: " + std::to_string(taken) + " of " + std::to_string(n) + " posts taken");
  DUDE_REQUIRE_NO_FAILURES(failures);
  REQUIRE(last == n);  // the last post is always delivered
  REQUIRE(taken >= 1);
  REQUIRE(taken <= n);
  REQUIRE_FALSE(slot.poll());  // nothing left once the last post is taken
}

// ---------------------------------------------------------------------------------------------
// HandoffSlot

TEST_CASE("HandoffSlot: single-thread state machine", "[engine][protocol]") {
  HandoffSlot slot(kSlotFloats);
  REQUIRE_FALSE(slot.poll());
  slot.wait_until_consumed();  // empty: returns at once
  REQUIRE(is_line_aligned(slot.producer_buffer()));
  REQUIRE(slot.producer_buffer() == slot.consumer_buffer());
  for (std::uint64_t k = 1; k <= 3; ++k) {
    fill(slot.producer_buffer(), kSlotFloats, k);
    slot.producer_header() = header_for(kWorker, k);
    REQUIRE_FALSE(slot.poll());  // filling is not posting
    slot.publish();
    REQUIRE(slot.poll());
    REQUIRE(slot.poll());  // polling does not consume
    REQUIRE(slot.consumer_header().sequence == k);
    REQUIRE(header_matches(slot.consumer_header(), kWorker));
    REQUIRE(first_mismatch(slot.consumer_buffer(), kSlotFloats, static_cast<float>(k)) ==
            kSlotFloats);
    slot.release();
    REQUIRE_FALSE(slot.poll());
    slot.wait_until_consumed();  // consumed: returns at once
  }
}

/// Per-slot bookkeeping of a lossless run, written by that slot's consumer.
struct HandoffTally {
  std::uint64_t next = 1;  // the sequence expected next
  std::uint64_t sum = 0;   // every float received, as an integer
};

/// Consumer side of one post: exact checks, then release. `consumed` (relaxed) lets the
/// producer check that wait_until_consumed() really waited.
void consume_handoff(HandoffSlot& slot, std::uint32_t worker, std::size_t floats,
                     HandoffTally& tally, std::atomic<std::uint64_t>& consumed,
                     Failures& failures) {
  const GradientHeader& h = slot.consumer_header();
  const float* b = slot.consumer_buffer();
  const std::uint64_t seq = h.sequence;
  if (seq != tally.next) {
    failures.add("worker " + std::to_string(worker) + ": got sequence " + std::to_string(seq) +
                 ", expected " + std::to_string(tally.next) + " (lost or repeated post)");
  }
  if (!header_matches(h, worker)) failures.add("torn header at " + std::to_string(seq));
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < floats; ++i) sum += static_cast<std::uint64_t>(b[i]);
  const std::size_t at = first_mismatch(b, floats, static_cast<float>(seq));
  if (at != floats) failures.add(describe_mismatch("torn post", seq, b, floats, at));
  tally.sum += sum;
  tally.next = seq + 1;
  consumed.store(seq, std::memory_order_relaxed);
  slot.release();
}

/// Producer side: posts 1..n; after each wait, the consumer must have taken the post.
/// Returns how many waits took over 100 us (past the spins and yields, into the blocking wait
/// on an idle machine): coverage, reported with DUDE_STRESS_VERBOSE.
std::uint64_t produce_handoff(HandoffSlot& slot, std::uint32_t worker, std::size_t floats,
                              std::uint64_t n, const std::atomic<std::uint64_t>& consumed,
                              Failures& failures) {
  using Clock = std::chrono::steady_clock;
  std::uint64_t long_waits = 0;
  for (std::uint64_t k = 1; k <= n; ++k) {
    fill(slot.producer_buffer(), floats, k);
    slot.producer_header() = header_for(worker, k);
    slot.publish();
    const Clock::time_point start = Clock::now();
    slot.wait_until_consumed();
    if (Clock::now() - start > std::chrono::microseconds(100)) ++long_waits;
    const std::uint64_t c = consumed.load(std::memory_order_relaxed);
    if (c != k) {
      failures.add("worker " + std::to_string(worker) +
                   ": wait_until_consumed() returned after post " + std::to_string(k) +
                   " with the consumer at " + std::to_string(c));
    }
  }
  return long_waits;
}

std::uint64_t expected_sum(std::uint64_t n, std::size_t floats) {
  return static_cast<std::uint64_t>(floats) * (n * (n + 1) / 2);
}

/// One consumer thread per slot. Every `stall_every` posts the consumer sleeps before
/// releasing, so that the producer goes past its spins and yields into the blocking wait.
void run_handoff_pairs(std::size_t pairs, std::uint64_t n, std::uint64_t stall_every) {
  std::vector<std::unique_ptr<HandoffSlot>> slots;
  std::vector<HandoffTally> tallies(pairs);
  std::unique_ptr<std::atomic<std::uint64_t>[]> consumed(new std::atomic<std::uint64_t>[pairs]);
  for (std::size_t p = 0; p < pairs; ++p) {
    slots.push_back(std::make_unique<HandoffSlot>(kSlotFloats));
    consumed[p].store(0, std::memory_order_relaxed);
  }
  std::unique_ptr<std::atomic<bool>[]> producer_done(new std::atomic<bool>[pairs]);
  for (std::size_t p = 0; p < pairs; ++p) producer_done[p].store(false, std::memory_order_relaxed);
  Failures failures;
  std::atomic<std::uint64_t> long_waits{0};
  {
    const Watchdog watchdog("HandoffSlot pairs");
    std::vector<std::thread> threads;
    for (std::size_t p = 0; p < pairs; ++p) {
      const auto worker = static_cast<std::uint32_t>(p);
      threads.emplace_back([&, p, worker] {
        HandoffSlot& slot = *slots[p];
        HandoffTally& tally = tallies[p];
        std::uint64_t misses = 0;
        while (tally.next <= n) {
          if (!slot.poll()) {
            // The producer returned from its last wait, yet posts are missing: lost. (With a
            // correct slot it returns only after post n is released, when this loop is over.)
            if (producer_done[p].load(std::memory_order_acquire) && !slot.poll()) {
              failures.add("worker " + std::to_string(worker) + ": producer done, consumer at " +
                           std::to_string(tally.next - 1) + " of " + std::to_string(n));
              break;
            }
            if ((++misses & 15) == 0)
              std::this_thread::yield();
            else
              cpu_relax();
            continue;
          }
          if (tally.next % stall_every == 0) {
            std::this_thread::sleep_for(std::chrono::microseconds(200));
          }
          consume_handoff(slot, worker, kSlotFloats, tally, consumed[p], failures);
        }
      });
      threads.emplace_back([&, p, worker] {
        long_waits.fetch_add(
            produce_handoff(*slots[p], worker, kSlotFloats, n, consumed[p], failures),
            std::memory_order_relaxed);
        producer_done[p].store(true, std::memory_order_release);
      });
    }
    for (std::thread& t : threads) t.join();
  }
  note("HandoffSlot, " + std::to_string(pairs) + " pairs: " + std::to_string(pairs * n) +
       " posts, " + std::to_string(long_waits.load()) + " waits over 100 us");
  DUDE_REQUIRE_NO_FAILURES(failures);
  for (std::size_t p = 0; p < pairs; ++p) {
    INFO("pair " << p);
    REQUIRE(tallies[p].next == n + 1);
    REQUIRE(tallies[p].sum == expected_sum(n, kSlotFloats));
    REQUIRE_FALSE(slots[p]->poll());
  }
}

TEST_CASE("HandoffSlot: lossless stress, one pair", "[engine][protocol][stress]") {
  run_handoff_pairs(1, iterations(30000), 4096);
}

TEST_CASE("HandoffSlot: lossless stress, 4 pairs on fewer cores", "[engine][protocol][stress]") {
  // 8 threads on a small machine: producers exhaust their spins and yields and block.
  run_handoff_pairs(4, iterations(10000), 512);
}

TEST_CASE("HandoffSlot: lossless stress, one server polling 6 workers",
          "[engine][protocol][stress]") {
  // The engine's shape: one consumer (the server) round-robins over every worker's slot.
  constexpr std::size_t kWorkers = 6;
  const std::uint64_t n = iterations(10000);
  std::vector<std::unique_ptr<HandoffSlot>> slots;
  std::vector<HandoffTally> tallies(kWorkers);
  std::unique_ptr<std::atomic<std::uint64_t>[]> consumed(new std::atomic<std::uint64_t>[kWorkers]);
  for (std::size_t w = 0; w < kWorkers; ++w) {
    slots.push_back(std::make_unique<HandoffSlot>(kSlotFloats));
    consumed[w].store(0, std::memory_order_relaxed);
  }
  std::atomic<std::size_t> producers_done{0};
  Failures failures;
  std::atomic<std::uint64_t> long_waits{0};
  {
    const Watchdog watchdog("HandoffSlot server");
    std::vector<std::thread> threads;
    threads.emplace_back([&] {
      std::uint64_t remaining = kWorkers * n;
      std::uint64_t idle = 0;
      while (remaining != 0) {
        bool any = false;
        for (std::size_t w = 0; w < kWorkers; ++w) {
          if (!slots[w]->poll()) continue;
          if (tallies[w].next > n) {
            failures.add("worker " + std::to_string(w) + " posted more than n times");
            return;
          }
          consume_handoff(*slots[w], static_cast<std::uint32_t>(w), kSlotFloats, tallies[w],
                          consumed[w], failures);
          --remaining;
          any = true;
        }
        if (any) continue;
        // Every producer returned from its last wait (acquire: their posts happen-before the
        // sweep below), yet posts are missing: lost.
        if (producers_done.load(std::memory_order_acquire) == kWorkers &&
            std::none_of(slots.begin(), slots.end(), [](const auto& s) { return s->poll(); })) {
          failures.add("every producer is done, " + std::to_string(remaining) + " posts missing");
          return;
        }
        if ((++idle & 15) == 0) std::this_thread::yield();
      }
    });
    for (std::size_t w = 0; w < kWorkers; ++w) {
      threads.emplace_back([&, w] {
        long_waits.fetch_add(produce_handoff(*slots[w], static_cast<std::uint32_t>(w), kSlotFloats,
                                             n, consumed[w], failures),
                             std::memory_order_relaxed);
        producers_done.fetch_add(1, std::memory_order_release);
      });
    }
    for (std::thread& t : threads) t.join();
  }
  note("HandoffSlot, server and " + std::to_string(kWorkers) +
       " workers: " + std::to_string(kWorkers * n) + " posts, " +
       std::to_string(long_waits.load()) + " waits over 100 us");
  DUDE_REQUIRE_NO_FAILURES(failures);
  for (std::size_t w = 0; w < kWorkers; ++w) {
    INFO("worker " << w);
    REQUIRE(tallies[w].next == n + 1);
    REQUIRE(tallies[w].sum == expected_sum(n, kSlotFloats));
  }
}

// ---------------------------------------------------------------------------------------------
// ModelPool

constexpr std::size_t kModelFloats = 1003;

TEST_CASE("ModelPool: single-thread pins are respected", "[engine][protocol]") {
  constexpr std::size_t kReaders = 3;
  ModelPool pool(kModelFloats, kReaders);
  const std::size_t stride = pool.floats_per_buffer();
  REQUIRE(stride >= kModelFloats);
  REQUIRE(stride % dude::engine::kFloatsPerLine == 0);
  const float* const base = pool.current();  // buffer 0 before any publish
  const auto index_of = [&](const float* p) {
    REQUIRE(p >= base);
    REQUIRE(p < base + (kReaders + 2) * stride);
    REQUIRE((p - base) % static_cast<std::ptrdiff_t>(stride) == 0);
    return static_cast<std::size_t>((p - base) / static_cast<std::ptrdiff_t>(stride));
  };

  // Before any publish: version 0, all zeros.
  const ModelPool::View v0 = pool.acquire(0);
  REQUIRE(v0.version == 0);
  REQUIRE(v0.params == base);
  REQUIRE(first_mismatch(v0.params, kModelFloats, 0.0f) == kModelFloats);
  pool.release(0);

  // Pin every reader on a different version, then publish many more: the writer must never
  // be handed a pinned buffer or the current one, and the pinned models stay intact.
  std::uint64_t version = 0;
  std::vector<ModelPool::View> held;
  const auto publish_next = [&] {
    float* w = pool.writable();
    const std::size_t wi = index_of(w);
    REQUIRE(w != pool.current());
    for (const ModelPool::View& h : held) REQUIRE(wi != index_of(h.params));
    REQUIRE(pool.writable() == w);  // stable until published
    ++version;
    fill(w, kModelFloats, version);
    pool.publish(version);
    REQUIRE(pool.current() == w);
    REQUIRE(pool.current_version() == version);
  };
  for (std::size_t r = 0; r < kReaders; ++r) {
    publish_next();
    const ModelPool::View v = pool.acquire(r);
    REQUIRE(v.version == version);
    REQUIRE(v.params == pool.current());
    held.push_back(v);
  }
  std::set<std::size_t> used;
  for (int i = 0; i < 50; ++i) {
    publish_next();
    used.insert(index_of(pool.current()));
  }
  REQUIRE(used.size() == 2);  // W pinned: the writer alternates between the other two
  for (std::size_t r = 0; r < kReaders; ++r) {
    REQUIRE(first_mismatch(held[r].params, kModelFloats, static_cast<float>(held[r].version)) ==
            kModelFloats);
  }
  // A fresh acquire sees the newest; releasing a pin makes its buffer available again.
  const ModelPool::View newest = pool.acquire(0);
  REQUIRE(newest.version == version);
  held[0] = newest;
  pool.release(1);
  held.erase(held.begin() + 1);
  for (int i = 0; i < 50; ++i) publish_next();  // still never a pinned buffer
  REQUIRE(first_mismatch(held[0].params, kModelFloats, static_cast<float>(held[0].version)) ==
          kModelFloats);
  for (std::size_t r = 0; r < kReaders; ++r) pool.release(r);
}

/// How a reader paces itself. `hold_every` == k > 0: every k-th acquisition, hold the pin
/// across a few yields (so that the writer runs on while it is held). `rest_every` == k > 0:
/// every k-th time, yield after releasing (so that the writer's scan reads the unpin itself,
/// and TSan checks that it orders this reader's reads before the writer's next writes,
/// rather than a later pin). 0: never.
struct ReaderPolicy {
  std::uint64_t hold_every;
  std::uint64_t rest_every;
};

/// W readers spin acquire / check / release while one writer publishes versions 1..n, each
/// model = the previous one + 1 (so version v is all v, and the writer also reads current()).
/// Reader r follows policy(r). With `checkpoints` > 0 the writer waits that many times for
/// every reader to make progress (for readers that yield; readers that spin need none).
template <class Policy>
void run_pool_stress(std::size_t readers, std::uint64_t n, std::size_t floats, Policy policy,
                     std::uint64_t checkpoints) {
  ModelPool pool(floats, readers);
  const std::size_t stride = pool.floats_per_buffer();
  const std::size_t buffers = readers + 2;
  const float* const base = pool.current();
  // Test bookkeeping, relaxed only (see the top of the file): `writing[b]` is set while the
  // writer fills buffer b, `holders[b]` counts readers holding a pin on b.
  std::unique_ptr<std::atomic<int>[]> writing(new std::atomic<int>[buffers]);
  std::unique_ptr<std::atomic<int>[]> holders(new std::atomic<int>[buffers]);
  for (std::size_t b = 0; b < buffers; ++b) {
    writing[b].store(0, std::memory_order_relaxed);
    holders[b].store(0, std::memory_order_relaxed);
  }
  // Coverage, not correctness: every `checkpoint` versions the writer waits until each reader
  // has acquired once more, so that acquisitions are spread over the whole run even when
  // readers get little CPU. Relaxed: no happens-before edge beside the pool's own.
  const std::uint64_t checkpoint =
      checkpoints == 0 ? n + 1 : std::max<std::uint64_t>(1, n / checkpoints);
  constexpr std::uint64_t kGone = ~std::uint64_t{0};
  std::unique_ptr<std::atomic<std::uint64_t>[]> progress(new std::atomic<std::uint64_t>[readers]);
  for (std::size_t r = 0; r < readers; ++r) progress[r].store(0, std::memory_order_relaxed);
  std::atomic<bool> done{false};
  Failures failures;
  std::uint64_t publishes = 0;
  std::vector<std::uint64_t> acquisitions(readers, 0);
  std::vector<std::uint64_t> final_version(readers, 0);

  const auto index_of = [&](const float* p, std::size_t& index) {
    if (p < base || p >= base + buffers * stride ||
        (p - base) % static_cast<std::ptrdiff_t>(stride) != 0) {
      return false;
    }
    index = static_cast<std::size_t>((p - base) / static_cast<std::ptrdiff_t>(stride));
    return true;
  };

  {
    const Watchdog watchdog("ModelPool stress");
    std::vector<std::thread> threads;
    for (std::size_t r = 0; r < readers; ++r) {
      threads.emplace_back([&, r] {
        const ReaderPolicy mine = policy(r);
        std::uint64_t last = 0;
        std::uint64_t count = 0;
        bool finishing = false;
        while (true) {
          // After the writer is done (acquire), one last round must see version n.
          if (!finishing && done.load(std::memory_order_acquire)) finishing = true;
          const ModelPool::View view = pool.acquire(r);
          ++count;
          std::size_t b = 0;
          if (!index_of(view.params, b)) {
            failures.add("reader " + std::to_string(r) +
                         ": acquire() returned a pointer outside the pool");
            break;
          }
          holders[b].fetch_add(1, std::memory_order_relaxed);
          if (view.version < last) {
            failures.add("reader " + std::to_string(r) + ": version went back from " +
                         std::to_string(last) + " to " + std::to_string(view.version));
          }
          if (view.version > n) failures.add("version " + std::to_string(view.version) + " > n");
          last = view.version;
          if (writing[b].load(std::memory_order_relaxed) != 0) {
            failures.add("reader " + std::to_string(r) + " holds buffer " + std::to_string(b) +
                         " (version " + std::to_string(view.version) +
                         ") while the writer fills it");
          }
          // Read the whole model twice, as the policy says holding the pin in between.
          for (int pass = 0; pass < 2; ++pass) {
            const std::size_t at =
                first_mismatch(view.params, floats, static_cast<float>(view.version));
            if (at != floats) {
              failures.add(
                  describe_mismatch(pass == 0 ? "torn model" : "model overwritten while pinned",
                                    view.version, view.params, floats, at));
            }
            if (pass == 0 && mine.hold_every != 0 && count % mine.hold_every == 0) {
              for (int y = 0; y < 4; ++y) std::this_thread::yield();
            }
          }
          if (writing[b].load(std::memory_order_relaxed) != 0) {
            failures.add("reader " + std::to_string(r) + ": writer started on pinned buffer " +
                         std::to_string(b));
          }
          holders[b].fetch_sub(1, std::memory_order_relaxed);
          pool.release(r);
          if (checkpoints != 0) progress[r].store(count, std::memory_order_relaxed);
          if (mine.rest_every != 0 && count % mine.rest_every == 0) std::this_thread::yield();
          if (finishing) {
            final_version[r] = view.version;
            break;
          }
        }
        acquisitions[r] = count;
        progress[r].store(kGone, std::memory_order_relaxed);
      });
    }
    threads.emplace_back([&] {
      std::vector<std::uint64_t> progress_then(readers, 0);
      for (std::uint64_t v = 1; v <= n; ++v) {
        if (v % checkpoint == 0) {
          for (std::size_t r = 0; r < readers; ++r) {
            while (progress[r].load(std::memory_order_relaxed) == progress_then[r]) {
              std::this_thread::yield();
            }
            progress_then[r] = progress[r].load(std::memory_order_relaxed);
          }
        }
        float* w = pool.writable();
        std::size_t b = 0;
        if (!index_of(w, b)) {  // find_free() found nothing: publish would have to wait
          failures.add("writable() found no free buffer at version " + std::to_string(v));
          break;
        }
        if (w == pool.current()) failures.add("writable() returned the current model");
        if (holders[b].load(std::memory_order_relaxed) != 0) {
          failures.add("writable() returned buffer " + std::to_string(b) + ", pinned by a reader");
        }
        const float* cur = pool.current();
        if (pool.current_version() != v - 1) failures.add("current_version() != v - 1");
        writing[b].store(1, std::memory_order_relaxed);
        for (std::size_t i = 0; i < floats; ++i) w[i] = cur[i] + 1.0f;
        writing[b].store(0, std::memory_order_relaxed);
        pool.publish(v);
        ++publishes;
      }
      done.store(true, std::memory_order_release);
    });
    for (std::thread& t : threads) t.join();
  }
  std::string counts;
  // append, not operator+: GCC 12 gives a -Wrestrict false positive on " " + std::string.
  for (const std::uint64_t a : acquisitions) counts.append(" ").append(std::to_string(a));
  note("ModelPool, " + std::to_string(readers) + " readers: " + std::to_string(publishes) +
       " publishes; acquisitions per reader:" + counts);
  DUDE_REQUIRE_NO_FAILURES(failures);
  REQUIRE(publishes == n);
  REQUIRE(pool.current_version() == n);
  REQUIRE(first_mismatch(pool.current(), floats, static_cast<float>(n)) == floats);
  for (std::size_t r = 0; r < readers; ++r) {
    INFO("reader " << r);
    REQUIRE(acquisitions[r] >= 1);
    REQUIRE(final_version[r] == n);
  }
}

TEST_CASE("ModelPool: 3 readers and a writer", "[engine][protocol][stress]") {
  run_pool_stress(
      3, iterations(100000), kModelFloats,
      [](std::size_t) {
        return ReaderPolicy{64, 16};
      },
      256);
}

TEST_CASE("ModelPool: 8 readers and a writer on fewer cores", "[engine][protocol][stress]") {
  run_pool_stress(
      8, iterations(50000), kModelFloats,
      [](std::size_t) {
        return ReaderPolicy{64, 16};
      },
      256);
}

TEST_CASE("ModelPool: the writer always finds a free buffer under acquire churn",
          "[engine][protocol][stress]") {
  // A tiny model, so that the writer publishes as fast as it can while readers acquire and
  // release in a tight loop: a reader is then often inside acquire()'s retry loop, moving its
  // pin from one stale buffer to the next, while the writer scans the pins. (A writer that
  // read each pin once per candidate buffer saw one reader on two buffers and found no free
  // one here, with one reader in every run.)
  for (const std::size_t readers : {std::size_t{1}, std::size_t{2}, std::size_t{3}}) {
    INFO(readers << " readers");
    run_pool_stress(
        readers, iterations(300000), 16,
        [](std::size_t) {
          return ReaderPolicy{0, 0};
        },
        0);
  }
}

}  // namespace
