// Latency of the engine's hand-over protocols.
//
// RoundTrip<Slot>/floats/touch/spins: one worker -> server -> worker round trip through a
//   gradient slot, two threads playing ping-pong. The benchmark thread is the worker: it
//   fills its buffer (touch=1: every float; touch=0: only the header), publishes, and waits
//   until the server has consumed the post. The server thread spins on poll(), folds the
//   gradient into its model (touch=1: model[i] += g[i] over every float; touch=0: nothing),
//   and releases. HandoffSlot waits with its own wait_until_consumed(spins) (spins=0: its
//   default); TripleBufferSlot never waits, so its worker spins on an acknowledgement the
//   server stores after consuming (one post in flight, as in a ping-pong). Time is wall time
//   per round trip (UseRealTime); with touch=1 the bytes/s count each float twice (written
//   by the worker, read by the server).
//   Sizes: 7850 floats (softmax on Fashion-MNIST), 101770 (mlp:128).
//
// PoolAcquireRelease/floats/writer: ModelPool::acquire + release by one reader, with
//   writer=0: no writer; writer=1: a writer thread publishing as fast as it can (writable() +
//   publish(), no fill: the most traffic on current_ and the pins); writer=2: a writer that
//   fills the whole model before each publish (the server's pace, roughly). The writer's
//   publish rate is reported as the counter "publishes".
// PoolPublish/readers: the writer's writable() + publish() alone (no fill, readers idle).
// FoldRound/threads/arrivals: one DuDe server round (the exact batched fold of `arrivals`
//   gradients, 101,770 floats each as for mlp:128) split over a fold team of `threads`
//   members (AsyncConfig::server_threads). Rounds/s is the server's capacity; with enough
//   cores it grows with the threads until memory bandwidth is the limit. Bytes/s count
//   12 B per coordinate per arrival (read g_new, read and write the table entry) plus 20 B
//   per coordinate per round (read and write S in double, read x_in, write x_out).
//
// Both round-trip threads spin, so they need two free cores: on a loaded machine the figures
// measure the scheduler (run with --benchmark_repetitions=5 and read the "_min" rows).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <thread>
#include <vector>

#include "dude/async.hpp"
#include "engine/fold_team.hpp"
#include "engine/gradient_slot.hpp"
#include "engine/model_pool.hpp"
#include "engine/policy.hpp"

namespace {

using dude::engine::Arrival;
using dude::engine::FoldTeam;
using dude::engine::GradientHeader;
using dude::engine::HandoffSlot;
using dude::engine::make_policy;
using dude::engine::ModelPool;
using dude::engine::TripleBufferSlot;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

constexpr std::int64_t kSoftmaxFloats = 7850;  // softmax, 784 x 10 + 10
constexpr std::int64_t kMlpFloats = 101770;    // mlp:128, 784 x 128 + 128 + 128 x 10 + 10

template <class Slot>
void RoundTrip(benchmark::State& state) {
  const auto floats = static_cast<std::size_t>(state.range(0));
  const bool touch = state.range(1) != 0;
  const auto spins = static_cast<unsigned>(state.range(2));  // 0: the slot's default
  Slot slot(floats);
  std::vector<float> model(floats, 0.0f);  // the server's
  std::atomic<std::uint64_t> ack{0};       // TripleBufferSlot only: last sequence consumed
  std::atomic<bool> stop{false};

  std::thread server([&] {
    while (true) {
      if (slot.poll()) {
        const float* g = slot.consumer_buffer();
        const std::uint64_t seq = slot.consumer_header().sequence;
        if (touch) {
          float* m = model.data();
          for (std::size_t i = 0; i < floats; ++i) m[i] += g[i];
        }
        slot.release();
        if constexpr (!Slot::kLossless) ack.store(seq, std::memory_order_release);
      } else if (stop.load(std::memory_order_relaxed)) {
        break;
      } else {
        cpu_relax();
      }
    }
  });

  std::uint64_t k = 0;
  for (auto _ : state) {
    ++k;
    float* g = slot.producer_buffer();
    if (touch) std::fill(g, g + floats, 1.0f);
    slot.producer_header().sequence = k;
    slot.publish();
    if constexpr (Slot::kLossless) {
      if (spins == 0) {
        slot.wait_until_consumed();
      } else {
        slot.wait_until_consumed(spins);
      }
    } else {
      while (ack.load(std::memory_order_acquire) != k) cpu_relax();
    }
  }
  stop.store(true, std::memory_order_relaxed);
  server.join();
  benchmark::DoNotOptimize(model.data());

  state.SetItemsProcessed(state.iterations());  // items/s = round trips per second
  if (touch) {
    const auto bytes = static_cast<std::int64_t>(2 * floats * sizeof(float));
    state.SetBytesProcessed(state.iterations() * bytes);
  }
}

/// With --benchmark_repetitions=N, also the best repetition: the spinning threads are at the
/// scheduler's mercy on a shared machine, and the minimum is the protocol's own cost.
double Min(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

void RoundTripArgs(benchmark::internal::Benchmark* b, std::initializer_list<std::int64_t> spins) {
  b->ArgNames({"floats", "touch", "spins"});
  for (const std::int64_t floats : {kSoftmaxFloats, kMlpFloats}) {
    for (const std::int64_t touch : {0, 1}) {
      for (const std::int64_t s : spins) b->Args({floats, touch, s});
    }
  }
  b->UseRealTime()->ComputeStatistics("min", Min);
}

// HandoffSlot: the default spin count (256 polls, then yields, then a futex wait) and a spin
// long enough never to leave the spin phase here (the engine's choice when every thread has
// a core). TripleBufferSlot never waits: spins does not apply.
BENCHMARK_TEMPLATE(RoundTrip, HandoffSlot)->Apply([](benchmark::internal::Benchmark* b) {
  RoundTripArgs(b, {0, 1 << 24});
});
BENCHMARK_TEMPLATE(RoundTrip, TripleBufferSlot)->Apply([](benchmark::internal::Benchmark* b) {
  RoundTripArgs(b, {0});
});

void PoolAcquireRelease(benchmark::State& state) {
  const auto floats = static_cast<std::size_t>(state.range(0));
  const std::int64_t writer_mode = state.range(1);
  ModelPool pool(floats, 1);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> publishes{0};

  std::thread writer;
  if (writer_mode != 0) {
    writer = std::thread([&] {
      std::uint64_t v = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        float* w = pool.writable();
        if (writer_mode == 2) std::fill(w, w + floats, static_cast<float>(v + 1));
        pool.publish(++v);
      }
      publishes.store(v, std::memory_order_relaxed);
    });
  }

  std::uint64_t version_sum = 0;
  for (auto _ : state) {
    const ModelPool::View view = pool.acquire(0);
    benchmark::DoNotOptimize(view.params);
    version_sum += view.version;
    pool.release(0);
  }
  stop.store(true, std::memory_order_relaxed);
  if (writer.joinable()) writer.join();
  benchmark::DoNotOptimize(version_sum);

  state.SetItemsProcessed(state.iterations());
  if (writer_mode != 0) {
    state.counters["publishes"] =
        benchmark::Counter(static_cast<double>(publishes.load(std::memory_order_relaxed)),
                           benchmark::Counter::kIsRate);
  }
}
BENCHMARK(PoolAcquireRelease)
    ->ArgNames({"floats", "writer"})
    ->Args({kSoftmaxFloats, 0})
    ->Args({kSoftmaxFloats, 1})
    ->Args({kSoftmaxFloats, 2})
    ->Args({kMlpFloats, 2})
    ->UseRealTime()
    ->ComputeStatistics("min", Min);

void PoolPublish(benchmark::State& state) {
  const auto readers = static_cast<std::size_t>(state.range(0));
  ModelPool pool(16, readers);
  std::uint64_t v = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(pool.writable());
    pool.publish(++v);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(PoolPublish)->ArgName("readers")->Arg(1)->Arg(3)->Arg(8)->Arg(32);

}  // namespace

void FoldRound(benchmark::State& state) {
  const auto threads = static_cast<std::size_t>(state.range(0));
  const auto arrivals_per_round = static_cast<std::size_t>(state.range(1));
  constexpr std::size_t kParams = 101770, kWorkers = 16;
  auto policy = make_policy(dude::AlgorithmSpec::parse("dude"), kWorkers, kParams);
  std::vector<std::vector<float>> gradients(arrivals_per_round, std::vector<float>(kParams, 0.5f));
  std::vector<GradientHeader> headers(arrivals_per_round);
  std::vector<Arrival> arrivals;
  for (std::size_t m = 0; m < arrivals_per_round; ++m) {
    headers[m].worker = static_cast<std::uint32_t>(m);
    arrivals.push_back({gradients[m].data(), &headers[m]});
  }
  std::vector<float> x(kParams, 0.0f), x_next(kParams, 0.0f);
  FoldTeam team(threads, kParams, 1u << 14);
  for (auto _ : state) {
    policy->begin_round(arrivals);
    team.run([&](std::size_t begin, std::size_t end) {
      policy->apply_range(arrivals, x.data(), x_next.data(), 1e-6f, begin, end);
    });
    std::swap(x, x_next);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * arrivals_per_round));
  state.SetBytesProcessed(
      static_cast<std::int64_t>(state.iterations() * kParams * (12 * arrivals_per_round + 20)));
}
BENCHMARK(FoldRound)
    ->ArgNames({"threads", "arrivals"})
    ->ArgsProduct({{1, 2}, {1, 4}})
    ->UseRealTime();

BENCHMARK_MAIN();
