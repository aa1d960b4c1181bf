// bench_util.hpp: pieces shared by the kernel benchmark (bench_kernels.cpp) and the roofline
// (bench_roofline.cpp): page-aligned arrays filled without a slow generator, the byte-rate
// bookkeeping, the STREAM-like read and triad loops (so that "read bandwidth" and "triad
// bandwidth" mean the same thing in both binaries), and a console reporter that also keeps
// every run's counters for a summary printed after the run.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "common/page_memory.hpp"
#include "dude/kernels.hpp"

namespace dude::bench {

inline constexpr std::size_t KiB = 1024;
inline constexpr std::size_t MiB = 1024 * KiB;
inline constexpr std::size_t kPage = 4096;

// A page-aligned array mapped from the operating system as the loaders map data sets (huge
// pages from 2 MiB up: page_memory.hpp), filled with values that keep every kernel in the
// normal floating-point range however often it runs. Page alignment gives every array the
// same offset modulo 4 KiB, a layout without false store-to-load dependencies ("4K
// aliasing"): where an output array sat one cache line past an input modulo 4 KiB, axpy and
// relu_backward ran 1.4-1.6x slower in L2, and where arrays landed varied from run to run.
template <class T>
class Array {
 public:
  explicit Array(std::size_t n, T fill = T(0))
      : n_(n), pages_(dude::detail::map_pages(n * sizeof(T))) {
    std::fill(data(), data() + n, fill);
  }
  T* data() { return reinterpret_cast<T*>(pages_.get()); }
  const T* data() const { return reinterpret_cast<const T*>(pages_.get()); }
  std::size_t size() const { return n_; }

 private:
  std::size_t n_;
  std::shared_ptr<std::byte[]> pages_;
};

// 24 pseudo-random bits from (i, seed): a hash, because a generator like mt19937 would make
// filling the out-of-cache arrays take longer than measuring them.
inline std::uint32_t hash_bits(std::size_t i, std::uint32_t seed) {
  std::uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull ^ (std::uint64_t{seed} << 32);
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 29;
  return static_cast<std::uint32_t>(h >> 40);
}

inline Array<float> random_array(std::size_t n, float lo, float hi, std::uint32_t seed) {
  Array<float> a(n);
  for (std::size_t i = 0; i < n; ++i) {
    a.data()[i] = lo + (hi - lo) * static_cast<float>(hash_bits(i, seed)) * 0x1p-24f;
  }
  return a;
}

inline void set_rates(benchmark::State& state, std::size_t elements, double bytes_per_element) {
  const auto iterations = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(iterations * elements * bytes_per_element));
  state.SetItemsProcessed(static_cast<std::int64_t>(iterations * elements));
}

// --- The bandwidth probes' loops, over arrays the caller owns. ---

// A pure read stream over 2n floats: the dot kernel (run-time dispatched, so at the CPU's
// widest vectors) over the two halves of one array. 8 bytes per element of the halves.
inline void read_stream(benchmark::State& state, const float* a, std::size_t n) {
  for (auto _ : state) benchmark::DoNotOptimize(dude::kernels::dot(a, a + n, n));
  set_rates(state, n, 8);
}

// The compiler vectorises this for the build's baseline ISA; it is memory bound out of
// cache whatever the vector width.
inline void triad(float* __restrict a, const float* __restrict b, const float* __restrict c,
                  float s, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

// a[i] = b[i] + s * c[i]: 12 bytes per element counted the STREAM way (the write-allocate
// read of a, which the hardware also does, is not counted).
inline void triad_stream(benchmark::State& state, float* a, const float* b, const float* c,
                         std::size_t n) {
  for (auto _ : state) {
    triad(a, b, c, 3.0f, n);
    benchmark::ClobberMemory();
  }
  set_rates(state, n, 12);
}

// The console output as usual, plus every counter of every repetition, per benchmark name,
// for a summary after the run. best() is the highest value over --benchmark_repetitions (for
// rates: the fastest run, as STREAM reports, since on a shared machine the slower runs
// measure the neighbours); median() the middle one.
class RecordingReporter : public benchmark::ConsoleReporter {
 public:
  RecordingReporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_Defaults : OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred || run.run_type != Run::RT_Iteration) continue;
      for (const auto& [counter, value] : run.counters) {
        values_[run.benchmark_name()][counter].push_back(value.value);
      }
    }
  }
  // 0 for a benchmark or counter that did not run.
  double best(const std::string& name, const std::string& counter) const {
    const std::vector<double>* v = find(name, counter);
    return v == nullptr ? 0.0 : *std::max_element(v->begin(), v->end());
  }
  double median(const std::string& name, const std::string& counter) const {
    const std::vector<double>* v = find(name, counter);
    if (v == nullptr) return 0.0;
    std::vector<double> sorted = *v;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t k = sorted.size();
    return k % 2 == 1 ? sorted[k / 2] : 0.5 * (sorted[k / 2 - 1] + sorted[k / 2]);
  }
  // The best byte rate in 10^9 bytes per second; 0 for a benchmark that did not run.
  double gbps(const std::string& name) const { return best(name, "bytes_per_second") / 1e9; }

 private:
  const std::vector<double>* find(const std::string& name, const std::string& counter) const {
    const auto it = values_.find(name);
    if (it == values_.end()) return nullptr;
    const auto c = it->second.find(counter);
    return c == it->second.end() || c->second.empty() ? nullptr : &c->second;
  }
  std::map<std::string, std::map<std::string, std::vector<double>>> values_;
};

}  // namespace dude::bench
