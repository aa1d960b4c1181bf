// Throughput of every dude kernel at three working-set sizes (L1, L2, out of cache), next to
// STREAM-like probes of what the memory system delivers at the same sizes in the same run:
// read (the dot kernel over the two halves of one array: a pure read stream), copy (memcpy)
// and triad (a[i] = b[i] + s * c[i]). After the run a table gives each kernel's GB/s
// (10^9 bytes/s; the console columns are 2^30) against triad, and its read traffic alone
// against the read probe. With --benchmark_repetitions=N the table takes each benchmark's
// best run.
//
// Bytes are counted the STREAM way: every element each call reads or writes, once per
// direction, without the write-allocate read of a store-only stream (only copy and triad
// have one). The sparse kernels count the bytes they consume (index, value and one dense
// element per nonzero for sparse_dot; the dense element twice for sparse_axpy); the memory
// actually moved for them is whole cache lines of the dense vector.
//
// Extra flag: --targets=best (default) | all | NAME[,NAME...] (e.g. AVX2,SSE4) runs the
// kernels on those Highway targets, forced one at a time (the probes run once, on the best).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "bench_util.hpp"
#include "dude/kernels.hpp"

namespace kn = dude::kernels;

namespace {

using namespace dude::bench;

// Working sets: within one core's L1d (32 KiB here), within its L2 (1 MiB), and 8x the L3
// (32 MiB) so that every call streams from DRAM.
struct Level {
  const char* name;
  std::size_t bytes;
};
constexpr Level kLevels[] = {{"L1", 16 * KiB}, {"L2", 256 * KiB}, {"DRAM", 256 * MiB}};

// Ascending indices, each of the dense_size positions kept with probability 1/16: on
// average one nonzero per 64-byte line of the dense vector.
std::vector<std::uint32_t> sparse_row(std::size_t dense_size, std::uint32_t seed) {
  std::vector<std::uint32_t> idx;
  for (std::size_t i = 0; i < dense_size; ++i) {
    if (hash_bits(i, seed) % 16 == 0) idx.push_back(static_cast<std::uint32_t>(i));
  }
  return idx;
}

// --- Kernels. Each takes the working-set size in bytes and sizes its arrays to fill it. ---

void bench_dot(benchmark::State& state, std::size_t bytes) {
  const std::size_t n = bytes / 8;
  auto a = random_array(n, -1.0f, 1.0f, 1);
  auto b = random_array(n, -1.0f, 1.0f, 2);
  for (auto _ : state) benchmark::DoNotOptimize(kn::dot(a.data(), b.data(), n));
  set_rates(state, n, 8);
}

void bench_axpy(benchmark::State& state, std::size_t bytes) {
  const std::size_t n = bytes / 8;
  auto x = random_array(n, -1.0f, 1.0f, 1);
  auto y = random_array(n, -1.0f, 1.0f, 2);
  float alpha = 0.5f;
  for (auto _ : state) {
    kn::axpy(alpha, x.data(), y.data(), n);
    alpha = -alpha;  // y alternates between two values instead of growing
    benchmark::ClobberMemory();
  }
  set_rates(state, n, 12);
}

void bench_scale(benchmark::State& state, std::size_t bytes) {
  const std::size_t n = bytes / 4;
  auto x = random_array(n, -1.0f, 1.0f, 1);
  for (auto _ : state) {
    kn::scale(-1.0f, x.data(), n);  // exact and bounded, unlike a shrinking factor
    benchmark::ClobberMemory();
  }
  set_rates(state, n, 8);
}

void bench_sparse_dot(benchmark::State& state, std::size_t bytes) {
  // 4 bytes of dense vector per position plus 8 bytes (index, value) per 16 positions.
  const std::size_t dense_size = bytes * 2 / 9;
  const std::vector<std::uint32_t> idx = sparse_row(dense_size, 3);
  auto val = random_array(idx.size(), -1.0f, 1.0f, 1);
  auto dense = random_array(dense_size, -1.0f, 1.0f, 2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(kn::sparse_dot(idx.data(), val.data(), idx.size(), dense.data()));
  }
  set_rates(state, idx.size(), 12);
}

void bench_sparse_axpy(benchmark::State& state, std::size_t bytes) {
  const std::size_t dense_size = bytes * 2 / 9;
  const std::vector<std::uint32_t> idx = sparse_row(dense_size, 3);
  auto val = random_array(idx.size(), -1.0f, 1.0f, 1);
  auto dense = random_array(dense_size, -1.0f, 1.0f, 2);
  float alpha = 0.5f;
  for (auto _ : state) {
    kn::sparse_axpy(alpha, idx.data(), val.data(), idx.size(), dense.data());
    alpha = -alpha;
    benchmark::ClobberMemory();
  }
  set_rates(state, idx.size(), 16);
}

// One row as long as the working set: max pass (read), exp pass (read + write), normalise
// pass (read + write): 20 bytes per element.
void bench_softmax(benchmark::State& state, std::size_t bytes) {
  const std::size_t n = bytes / 4;
  auto z = random_array(n, -4.0f, 4.0f, 1);
  for (auto _ : state) {
    kn::softmax(z.data(), n);
    benchmark::ClobberMemory();
  }
  set_rates(state, n, 20);
}

// The training-loop shape: a batch of rows of 10 logits (Fashion-MNIST's classes), one call
// per row, so per-call overhead and short vectors count.
void bench_softmax_xent_rows(benchmark::State& state, std::size_t bytes) {
  constexpr std::size_t kClasses = 10;
  const std::size_t rows = bytes / 4 / kClasses;
  auto z = random_array(rows * kClasses, -4.0f, 4.0f, 1);
  for (auto _ : state) {
    double loss = 0.0;
    for (std::size_t r = 0; r < rows; ++r) {
      loss += kn::softmax_xent(z.data() + r * kClasses, kClasses,
                               static_cast<std::uint32_t>(r % kClasses));
    }
    benchmark::DoNotOptimize(loss);
    benchmark::ClobberMemory();
  }
  set_rates(state, rows * kClasses, 20);
}

void bench_relu_forward(benchmark::State& state, std::size_t bytes) {
  const std::size_t n = bytes / 4;
  auto x = random_array(n, -1.0f, 1.0f, 1);
  for (auto _ : state) {
    kn::relu_forward(x.data(), n);
    benchmark::ClobberMemory();
  }
  set_rates(state, n, 8);
}

void bench_relu_backward(benchmark::State& state, std::size_t bytes) {
  const std::size_t n = bytes / 8;
  auto activation = random_array(n, -1.0f, 1.0f, 1);
  auto grad = random_array(n, -1.0f, 1.0f, 2);
  for (auto _ : state) {
    kn::relu_backward(activation.data(), grad.data(), n);
    benchmark::ClobberMemory();
  }
  set_rates(state, n, 12);
}

// Reads g_new (4), reads and writes g_old (8), sum (16) and x (8): 36 bytes per element over
// a footprint of 20.
void bench_server_fold(benchmark::State& state, std::size_t bytes) {
  const std::size_t n = bytes / 20;
  auto g_new = random_array(n, -1.0f, 1.0f, 1);
  auto g_old = random_array(n, -1.0f, 1.0f, 2);
  Array<double> sum(n, 0.5);
  auto x = random_array(n, -1.0f, 1.0f, 3);
  for (auto _ : state) {
    kn::server_fold(g_new.data(), g_old.data(), sum.data(), x.data(), x.data(), 1e-6f, n);
    benchmark::ClobberMemory();
  }
  set_rates(state, n, 36);
}

// --- The bandwidth probes (always on the default target). ---

void probe_read(benchmark::State& state, std::size_t bytes) {
  // One pass over the working set: the dot kernel on its two halves.
  const std::size_t n = bytes / 8;
  auto a = random_array(2 * n, -1.0f, 1.0f, 1);
  read_stream(state, a.data(), n);
}

void probe_copy(benchmark::State& state, std::size_t bytes) {
  const std::size_t n = bytes / 8;
  auto a = random_array(n, -1.0f, 1.0f, 1);
  Array<float> b(n);
  for (auto _ : state) {
    std::memcpy(b.data(), a.data(), n * sizeof(float));
    benchmark::ClobberMemory();
  }
  set_rates(state, n, 8);
}

void probe_triad(benchmark::State& state, std::size_t bytes) {
  const std::size_t n = bytes / 12;
  Array<float> a(n);
  auto b = random_array(n, -1.0f, 1.0f, 1);
  auto c = random_array(n, -1.0f, 1.0f, 2);
  triad_stream(state, a.data(), b.data(), c.data(), n);
}

using BenchFn = void (*)(benchmark::State&, std::size_t);
struct Kernel {
  const char* name;
  BenchFn fn;
  double read_share;  // of the bytes counted, the share that is read
};
constexpr Kernel kKernels[] = {
    {"dot", bench_dot, 1.0},
    {"axpy", bench_axpy, 8.0 / 12},
    {"scale", bench_scale, 4.0 / 8},
    {"sparse_dot", bench_sparse_dot, 1.0},
    {"sparse_axpy", bench_sparse_axpy, 12.0 / 16},
    {"softmax", bench_softmax, 12.0 / 20},
    {"softmax_xent_k10", bench_softmax_xent_rows, 12.0 / 20},
    {"relu_forward", bench_relu_forward, 4.0 / 8},
    {"relu_backward", bench_relu_backward, 8.0 / 12},
    {"server_fold", bench_server_fold, 20.0 / 36},
};
struct Probe {
  const char* name;
  BenchFn fn;
};
constexpr Probe kProbes[] = {{"read", probe_read}, {"copy", probe_copy}, {"triad", probe_triad}};

std::string benchmark_name(const char* kernel, const Level& level, const std::string& target) {
  std::string name = std::string(kernel) + "/" + level.name;
  if (!target.empty()) name += "/" + target;
  return name;
}

// Parses and removes --targets=...; returns the targets to force ({0}: the default one).
std::vector<std::int64_t> take_targets_flag(int& argc, char** argv) {
  std::string spec = "best";
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--targets=", 0) == 0) {
      spec = arg.substr(std::strlen("--targets="));
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  if (spec == "best") return {0};
  const std::vector<std::int64_t> available = kn::available_targets();
  if (spec == "all") return available;
  std::vector<std::int64_t> chosen;
  std::stringstream names(spec);
  for (std::string name; std::getline(names, name, ',');) {
    const auto it = std::find_if(available.begin(), available.end(),
                                 [&](std::int64_t t) { return kn::target_name(t) == name; });
    if (it == available.end()) {
      std::fprintf(stderr, "unknown or unsupported target '%s'; available:", name.c_str());
      for (const std::int64_t t : available) {
        std::fprintf(stderr, " %s", kn::target_name(t).c_str());
      }
      std::fprintf(stderr, "\n");
      std::exit(2);
    }
    chosen.push_back(*it);
  }
  return chosen;
}

// Prints value / reference, or "-" where the reference probe did not run.
void print_ratio(double value, double reference) {
  if (reference > 0.0) {
    std::printf(" %8.2f", value / reference);
  } else {
    std::printf(" %8s", "-");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::int64_t> targets = take_targets_flag(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  for (const Level& level : kLevels) {
    for (const Probe& probe : kProbes) {
      benchmark::RegisterBenchmark(benchmark_name(probe.name, level, "").c_str(), probe.fn,
                                   level.bytes);
    }
  }
  for (const std::int64_t target : targets) {
    const std::string target_label = target == 0 ? "" : kn::target_name(target);
    for (const Level& level : kLevels) {
      for (const Kernel& kernel : kKernels) {
        benchmark::RegisterBenchmark(
            benchmark_name(kernel.name, level, target_label).c_str(),
            [target, fn = kernel.fn](benchmark::State& state, std::size_t bytes) {
              kn::force_target(target);
              fn(state, bytes);
              kn::force_target(0);
            },
            level.bytes);
      }
    }
  }

  std::printf("dispatch target: %s\n", kn::target_name(kn::active_target()).c_str());
  RecordingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  // The summary, each kernel against the probes of its working-set size: all its bytes
  // against triad, and its reads alone against the read probe. Out of cache one core's
  // reads are limited by how many misses it keeps in flight, and its writes come on top, so
  // a streaming kernel at memory speed shows reads/read near 1 and can exceed 1 on /triad.
  std::printf("\n%-28s %8s %8s %10s %8s\n", "kernel", "GB/s", "/triad", "reads GB/s", "/read");
  for (const Level& level : kLevels) {
    const double read = reporter.gbps(benchmark_name("read", level, ""));
    const double copy = reporter.gbps(benchmark_name("copy", level, ""));
    const double triad_bw = reporter.gbps(benchmark_name("triad", level, ""));
    const bool any_kernel = std::any_of(targets.begin(), targets.end(), [&](std::int64_t t) {
      return std::any_of(std::begin(kKernels), std::end(kKernels), [&](const Kernel& k) {
        return reporter.gbps(benchmark_name(k.name, level, t == 0 ? "" : kn::target_name(t))) > 0;
      });
    });
    if (read + copy + triad_bw == 0.0 && !any_kernel) continue;  // level filtered out
    std::printf("-- %s, %zu KiB working set: read %.1f, copy %.1f, triad %.1f GB/s\n", level.name,
                level.bytes / KiB, read, copy, triad_bw);
    for (const std::int64_t target : targets) {
      const std::string target_label = target == 0 ? "" : kn::target_name(target);
      for (const Kernel& kernel : kKernels) {
        const std::string name = benchmark_name(kernel.name, level, target_label);
        const double gbps = reporter.gbps(name);
        if (gbps == 0.0) continue;  // filtered out of this run
        std::printf("%-28s %8.2f", name.c_str(), gbps);
        print_ratio(gbps, triad_bw);
        std::printf(" %10.2f", gbps * kernel.read_share);
        print_ratio(gbps * kernel.read_share, read);
        std::printf("\n");
      }
    }
  }
  return 0;
}
