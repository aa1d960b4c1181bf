// The roofline, measured in one run: this machine's single-core limits (read bandwidth and
// triad bandwidth on out-of-cache arrays, and the float matrix-multiply rate of the library's
// own products, kernels::gemm_*, at the widest instruction set the CPU has) next to what the
// library's gradient computations and the server fold reach on the same core, followed by a table
// of each one's fraction of its limit against the performance goals:
//   logistic-regression gradient, out-of-cache data  >= 70% of read bandwidth
//   server fold, model out of cache                  >= 60% of triad bandwidth
//   MLP forward + backward step                      >= 50% of the matrix-multiply rate
//
// Limits (one core; 256 MiB working sets, 8x the 32 MiB L3):
//   read   the dot kernel over the two halves of a 256 MiB array (bench_util.hpp's
//          read_stream, the same probe as dude_bench_kernels' read/DRAM): 8 B per element.
//   triad  a[i] = b[i] + s * c[i] over three arrays of 256/3 MiB: 12 B per element, counted
//          the STREAM way (the write-allocate read of a is not counted).
//   read_rows_shuffled  the dot kernel alone over the data set's rows (below) in the
//          trainer's shuffled order: the read limit of that access pattern, for context.
//   gemm   C = A B through kernels::gemm_nn/tn/nt, exactly as core/src/model/mlp.cpp calls them:
//          Eigen built per instruction set and picked at run time (the header printed at
//          start names the set in use). FLOPs = 2 M K N. Shapes: the MLP's forward (B x 784 times
//          784 x 128, B = 32 and 256), its weight gradient (784 x B transposed times B x 128), a
//          square 512^3 for context, and the MLP step's five products alone (gemm_mlp128_steps),
//          and the softmax step's two (gemm_softmax_steps: B x 784 times 784 x 10, and 784 x B
//          times B x 10).
//
// Kernels (the library's public entry points, one core):
//   logreg   Objective("logreg").loss_grad on minibatches of a dense 200,000 x 784 data set
//            (627 MB, on huge pages as the loaders keep data) visited like the trainer does:
//            shuffled (a random permutation cut into minibatches, the default) and contiguous
//            (--batch-order contiguous: runs of B consecutive rows in random order, from the
//            trainer's own sampler), and also in storage order. Bytes = the rows' features,
//            4 * 784 per row. A 256-row variant that stays in L2 shows the in-core limit.
//   softmax  Objective("softmax").loss_grad, same data and byte count; FLOPs per step of B
//            rows = 2 B 784*10 forward + 2 B 784*10 for dW = X^T dZ = 31,360 B.
//   mlp128   Objective("mlp:128").loss_grad, same data. FLOPs per step of B rows =
//              forward   2 B (784*128 + 128*10)
//            + backward  2 B (784*128 + 128*10 + 10*128)   (dW1 = X^T dZ1, dW2 = H^T dZ2,
//                                                             dH = dZ2 W2^T; no dX is formed)
//            = 409,088 B. (The "backward = 2x forward" rule of thumb would count 1.5x this,
//            since it includes the input gradient, which the library rightly skips.)
//            Bias, ReLU, softmax and the row gather are not counted.
//   server_fold  kernels::server_fold over 16 Mi parameters (384 MiB with x_out): 36 B
//            per parameter moved: read g_new 4, read+write g_old 8, read+write sum (double)
//            16, read x_in 4, write x_out 4 (in place, x_in == x_out, that is one read and
//            one write of x). Out of place (the engine's model pool) reads one model buffer
//            and writes another, alternating, as successive server steps do.
//
// Every byte and FLOP rate is per CPU second of the benchmark thread (Google Benchmark's
// default), in 10^9 units. Defaults set here (each overridable on the command line):
// --benchmark_min_time=0.1 --benchmark_repetitions=3
// --benchmark_enable_random_interleaving=true (limits and kernels alternate in time, so a
// neighbour's burst does not hit only one side). The table uses each benchmark's best
// repetition (as STREAM does), with the fraction of the medians alongside.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "data/minibatch_sampler.hpp"
#include "dude/dataset.hpp"
#include "dude/kernels.hpp"
#include "dude/objective.hpp"

namespace kn = dude::kernels;

namespace {

using namespace dude::bench;

constexpr std::size_t kStreamBytes = 256 * MiB;
constexpr std::size_t kRows = 200'000;
constexpr std::size_t kFeatures = 784;
constexpr std::uint32_t kClasses = 10;
constexpr std::size_t kHidden = 128;
constexpr std::size_t kInCacheRows = 256;  // 784 KiB of features: within one core's L2
constexpr std::size_t kFoldParams = 16 * MiB;

// --- Shared arrays, built on first use and kept for the whole run, so that repetitions and
// Google Benchmark's iteration-count probing do not refill hundreds of megabytes. ---

struct StreamArrays {
  Array<float> read = random_array(2 * (kStreamBytes / 8), -1.0f, 1.0f, 1);
  Array<float> triad_a = Array<float>(kStreamBytes / 12);
  Array<float> triad_b = random_array(kStreamBytes / 12, -1.0f, 1.0f, 2);
  Array<float> triad_c = random_array(kStreamBytes / 12, -1.0f, 1.0f, 3);
};
StreamArrays& stream_arrays() {
  static StreamArrays arrays;
  return arrays;
}

// The data set: features in [0, 1) like scaled pixels, ten classes, and a binary labelling
// of the same rows for logistic regression. Views over one feature array.
struct Data {
  Array<float> x = random_array(kRows * kFeatures, 0.0f, 1.0f, 11);
  std::vector<std::uint32_t> labels10 = std::vector<std::uint32_t>(kRows);
  std::vector<std::uint32_t> labels2 = std::vector<std::uint32_t>(kRows);
  std::vector<std::uint32_t> shuffled = std::vector<std::uint32_t>(kRows);
  std::vector<std::uint32_t> in_storage_order = std::vector<std::uint32_t>(kRows);
  std::vector<std::uint32_t> in_cache = std::vector<std::uint32_t>(kInCacheRows);
  dude::Dataset multi;
  dude::Dataset binary;

  Data() {
    for (std::size_t i = 0; i < kRows; ++i) {
      labels10[i] = hash_bits(i, 12) % kClasses;
      labels2[i] = labels10[i] % 2;
    }
    std::iota(in_storage_order.begin(), in_storage_order.end(), 0u);
    shuffled = in_storage_order;
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937_64(13));
    std::iota(in_cache.begin(), in_cache.end(), 0u);
    std::shuffle(in_cache.begin(), in_cache.end(), std::mt19937_64(14));
    multi = dude::Dataset::dense_view(x.data(), labels10.data(), kRows, kFeatures, kClasses);
    binary = dude::Dataset::dense_view(x.data(), labels2.data(), kRows, kFeatures, 2);
  }
};
Data& data() {
  static Data d;
  return d;
}

// Where the next minibatch starts in its row order. One cursor for every objective benchmark
// and every call, so that a call does not start on rows the previous call left in cache.
std::size_t g_cursor = 0;

// Shuffled: the trainer's default (--batch-order shuffled), minibatches of random rows;
// Contiguous: --batch-order contiguous, drawn by the trainer's own sampler; StorageOrder:
// consecutive minibatches in storage order; InCache: 256 rows that stay in L2.
enum class Order { Shuffled, Contiguous, StorageOrder, InCache };

// FLOPs of one mlp:128 step on B rows, as counted in the header comment.
double mlp_step_flops(std::size_t batch) {
  const double b = static_cast<double>(batch);
  const double forward = 2 * b * (kFeatures * kHidden + kHidden * kClasses);
  const double backward = 2 * b * (kFeatures * kHidden + kHidden * kClasses + kClasses * kHidden);
  return forward + backward;
}

// FLOPs of one softmax-regression step on B rows: forward 2 B 784 10, dW = X^T dZ the same.
double softmax_step_flops(std::size_t batch) {
  return 4.0 * static_cast<double>(batch) * kFeatures * kClasses;
}

void set_flops(benchmark::State& state, double flops_per_iteration) {
  state.counters["FLOPS"] = benchmark::Counter(
      flops_per_iteration * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// --- Limits ---

void limit_read(benchmark::State& state) {
  StreamArrays& s = stream_arrays();
  read_stream(state, s.read.data(), s.read.size() / 2);
}

void limit_triad(benchmark::State& state) {
  StreamArrays& s = stream_arrays();
  triad_stream(state, s.triad_a.data(), s.triad_b.data(), s.triad_c.data(), s.triad_a.size());
}

// The read limit of the trainer's access pattern: the dot kernel over the data set's rows in
// the shuffled order, 32 rows a call, nothing else. Each row is 3136 contiguous bytes at a
// random place in 627 MB, so what it measures is how fast one core fetches scattered 3 KiB
// pieces (latency, TLB misses and the prefetchers' ramp per row), not streaming bandwidth.
void limit_read_rows_shuffled(benchmark::State& state) {
  Data& d = data();
  const Array<float> w = random_array(kFeatures, -1.0f, 1.0f, 4);
  constexpr std::size_t kBatch = 32;
  std::size_t& pos = g_cursor;
  for (auto _ : state) {
    if (pos + kBatch > kRows) pos = 0;
    float acc = 0.0f;
    for (std::size_t i = pos; i < pos + kBatch; ++i) {
      acc += kn::dot(d.x.data() + std::size_t{d.shuffled[i]} * kFeatures, w.data(), kFeatures);
    }
    benchmark::DoNotOptimize(acc);
    pos += kBatch;
  }
  set_rates(state, kBatch, kFeatures * sizeof(float));
}

// A row-major rows x cols matrix of values in [-0.5, 0.5).
std::vector<float> random_matrix(std::size_t rows, std::size_t cols, std::uint32_t seed) {
  std::vector<float> m(rows * cols);
  for (std::size_t i = 0; i < m.size(); ++i) {
    m[i] = static_cast<float>(hash_bits(i, seed)) * 0x1p-24f - 0.5f;
  }
  return m;
}

// C (m x n) = A (m x k) B (k x n), or with transpose_a: C = A^T B where A is stored k x m.
void gemm(benchmark::State& state, std::size_t m, std::size_t k, std::size_t n, bool transpose_a) {
  const std::vector<float> a = random_matrix(m, k, 1), b = random_matrix(k, n, 2);
  std::vector<float> c(m * n);
  for (auto _ : state) {
    if (transpose_a) {
      kn::gemm_tn(m, n, k, a.data(), b.data(), c.data());
    } else {
      kn::gemm_nn(m, n, k, a.data(), b.data(), c.data());
    }
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, 2.0 * static_cast<double>(m) * static_cast<double>(k) * static_cast<double>(n));
}

// The five products of one mlp:128 step on B rows, alone: the same calls as mlp.cpp on
// in-cache buffers, without the gather, bias, ReLU and softmax.
void gemm_mlp_steps(benchmark::State& state, std::size_t batch) {
  const std::size_t f = kFeatures, h = kHidden, k = kClasses;
  const std::vector<float> x = random_matrix(batch, f, 1), w1 = random_matrix(f, h, 2),
                           w2 = random_matrix(h, k, 3);
  std::vector<float> z1(batch * h), z2(batch * k), gw1(f * h), gw2(h * k), dh(batch * h);
  for (auto _ : state) {
    kn::gemm_nn(batch, h, f, x.data(), w1.data(), z1.data());    // forward, layer 1
    kn::gemm_nn(batch, k, h, z1.data(), w2.data(), z2.data());   // forward, layer 2
    kn::gemm_tn(h, k, batch, z1.data(), z2.data(), gw2.data());  // dW2 = H^T dZ2
    kn::gemm_nt(batch, h, k, z2.data(), w2.data(), dh.data());   // dH = dZ2 W2^T
    kn::gemm_tn(f, h, batch, x.data(), dh.data(), gw1.data());   // dW1 = X^T dZ1
    benchmark::DoNotOptimize(gw1.data());
    benchmark::DoNotOptimize(gw2.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, mlp_step_flops(batch));
}

// The two products of one softmax-regression step on B rows, alone: Z = X W, dW = X^T dZ.
void gemm_softmax_steps(benchmark::State& state, std::size_t batch) {
  const std::size_t f = kFeatures, k = kClasses;
  const std::vector<float> x = random_matrix(batch, f, 1), w = random_matrix(f, k, 2);
  std::vector<float> z(batch * k), gw(f * k);
  for (auto _ : state) {
    kn::gemm_nn(batch, k, f, x.data(), w.data(), z.data());
    kn::gemm_tn(f, k, batch, x.data(), z.data(), gw.data());
    benchmark::DoNotOptimize(gw.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, softmax_step_flops(batch));
}

// --- Kernels ---

// loss_grad over consecutive minibatches of `batch` rows taken from the row order.
void objective_step(benchmark::State& state, const char* spec, std::size_t batch, Order order) {
  Data& d = data();
  const bool binary = std::strcmp(spec, "logreg") == 0;
  const dude::Dataset& dataset = binary ? d.binary : d.multi;
  const dude::Objective objective(dude::ModelSpec::parse(spec), kFeatures, binary ? 2 : kClasses);
  const std::vector<std::uint32_t>& rows = order == Order::Shuffled       ? d.shuffled
                                           : order == Order::StorageOrder ? d.in_storage_order
                                                                          : d.in_cache;
  std::vector<float> params(objective.num_params());
  objective.init_params(params.data(), 7);
  if (objective.spec().kind != dude::ModelSpec::Kind::Mlp) {
    // Linear models start at zero; small nonzero weights make the step a realistic one.
    for (std::size_t i = 0; i < params.size(); ++i) {
      params[i] = 0.01f * (static_cast<float>(hash_bits(i, 5)) * 0x1p-24f - 0.5f);
    }
  }
  std::vector<float> grad(objective.num_params());
  dude::Workspace ws = objective.make_workspace(batch);
  std::size_t in_cache_cursor = 0;  // the in-cache rows have their own
  std::size_t& pos = order == Order::InCache ? in_cache_cursor : g_cursor;
  dude::detail::MinibatchSampler contiguous(d.in_storage_order, batch, dude::BatchOrder::Contiguous,
                                            15);
  for (auto _ : state) {
    std::span<const std::uint32_t> minibatch;
    if (order == Order::Contiguous) {
      minibatch = contiguous.next();
    } else {
      if (pos + batch > rows.size()) pos = 0;
      minibatch = std::span<const std::uint32_t>(rows.data() + pos, batch);
      pos += batch;
    }
    const double loss = objective.loss_grad(params.data(), dataset, minibatch, grad.data(), ws);
    benchmark::DoNotOptimize(loss);
    benchmark::ClobberMemory();
  }
  const auto rows_done = static_cast<double>(state.iterations() * batch);
  state.SetBytesProcessed(static_cast<std::int64_t>(rows_done * kFeatures * sizeof(float)));
  state.SetItemsProcessed(static_cast<std::int64_t>(rows_done));
  if (objective.spec().kind == dude::ModelSpec::Kind::Mlp) set_flops(state, mlp_step_flops(batch));
  if (objective.spec().kind == dude::ModelSpec::Kind::Softmax) {
    set_flops(state, softmax_step_flops(batch));
  }
}

struct FoldArrays {
  Array<float> g_new = random_array(kFoldParams, -1.0f, 1.0f, 21);
  Array<float> g_old = random_array(kFoldParams, -1.0f, 1.0f, 22);
  Array<double> sum = Array<double>(kFoldParams, 0.5);
  Array<float> x = random_array(kFoldParams, -1.0f, 1.0f, 23);
  Array<float> x2 = random_array(kFoldParams, -1.0f, 1.0f, 24);
};
FoldArrays& fold_arrays() {
  static FoldArrays arrays;
  return arrays;
}

void server_fold(benchmark::State& state, bool in_place) {
  FoldArrays& f = fold_arrays();
  float* models[2] = {f.x.data(), f.x2.data()};
  float step = 1e-6f;
  int current = 0;
  for (auto _ : state) {
    float* x_in = models[current];
    float* x_out = in_place ? x_in : models[1 - current];
    kn::server_fold(f.g_new.data(), f.g_old.data(), f.sum.data(), x_in, x_out, step, kFoldParams);
    step = -step;  // in place, x alternates between two values instead of drifting
    if (!in_place) current = 1 - current;
    benchmark::ClobberMemory();
  }
  set_rates(state, kFoldParams, 36);
}

// --- Names and the table ---

std::string gemm_name(std::size_t m, std::size_t k, std::size_t n, bool transpose_a) {
  return std::string(transpose_a ? "gemm_tn/" : "gemm_nn/") + std::to_string(m) + "x" +
         std::to_string(k) + "x" + std::to_string(n);
}
std::string objective_name(const char* label, std::size_t batch, Order order) {
  return std::string(label) + "/B" + std::to_string(batch) +
         (order == Order::Shuffled       ? "/shuffled"
          : order == Order::Contiguous   ? "/contiguous"
          : order == Order::StorageOrder ? "/storage_order"
                                         : "/in_L2");
}

void register_all() {
  const auto reg = [](const std::string& name, auto fn, auto... args) {
    benchmark::RegisterBenchmark(name.c_str(), fn, args...)->Unit(benchmark::kMicrosecond);
  };
  reg("limit/read", limit_read);
  reg("limit/triad", limit_triad);
  reg("limit/read_rows_shuffled", limit_read_rows_shuffled);
  for (const std::size_t b : {std::size_t{32}, std::size_t{256}}) {
    reg(gemm_name(b, kFeatures, kHidden, false), gemm, b, kFeatures, kHidden, false);
    reg(gemm_name(kFeatures, b, kHidden, true), gemm, kFeatures, b, kHidden, true);
    reg("gemm_mlp128_steps/B" + std::to_string(b), gemm_mlp_steps, b);
    reg("gemm_softmax_steps/B" + std::to_string(b), gemm_softmax_steps, b);
  }
  reg(gemm_name(512, 512, 512, false), gemm, std::size_t{512}, std::size_t{512}, std::size_t{512},
      false);

  reg(objective_name("logreg", 32, Order::Shuffled), objective_step, "logreg", std::size_t{32},
      Order::Shuffled);
  reg(objective_name("logreg", 32, Order::Contiguous), objective_step, "logreg", std::size_t{32},
      Order::Contiguous);
  reg(objective_name("logreg", 32, Order::StorageOrder), objective_step, "logreg", std::size_t{32},
      Order::StorageOrder);
  reg(objective_name("logreg", 256, Order::Shuffled), objective_step, "logreg", std::size_t{256},
      Order::Shuffled);
  reg(objective_name("logreg", 32, Order::InCache), objective_step, "logreg", std::size_t{32},
      Order::InCache);
  reg("server_fold/16Mi/in_place", server_fold, true);
  reg("server_fold/16Mi/out_of_place", server_fold, false);
  for (const std::size_t b : {std::size_t{32}, std::size_t{256}}) {
    reg(objective_name("mlp128", b, Order::Shuffled), objective_step, "mlp:128", b,
        Order::Shuffled);
  }
  for (const std::size_t b : {std::size_t{32}, std::size_t{256}}) {
    reg(objective_name("softmax", b, Order::Shuffled), objective_step, "softmax", b,
        Order::Shuffled);
  }
  reg(objective_name("softmax", 32, Order::Contiguous), objective_step, "softmax", std::size_t{32},
      Order::Contiguous);
  reg(objective_name("softmax", 32, Order::StorageOrder), objective_step, "softmax",
      std::size_t{32}, Order::StorageOrder);
}

struct TableRow {
  std::string kernel;       // label in the table
  std::string bench;        // benchmark measured
  const char* counter;      // "bytes_per_second" or "FLOPS"
  std::string limit;        // benchmark giving the limit (same counter)
  std::string limit_label;  // how the table names the limit
  double goal;              // fraction to reach; 0: none (context)
  double share = 1.0;       // of the measured rate, the part compared (e.g. the reads alone)
};

void print_table(const RecordingReporter& r) {
  const auto bytes = "bytes_per_second";
  const auto flops = "FLOPS";
  std::vector<TableRow> rows = {
      {"logreg grad B32 shuffled", objective_name("logreg", 32, Order::Shuffled), bytes,
       "limit/read", "read", 0.70},
      {"logreg grad B32 contiguous", objective_name("logreg", 32, Order::Contiguous), bytes,
       "limit/read", "read", 0.70},
      {"logreg grad B32 storage order", objective_name("logreg", 32, Order::StorageOrder), bytes,
       "limit/read", "read", 0.70},
      {"logreg grad B256 shuffled", objective_name("logreg", 256, Order::Shuffled), bytes,
       "limit/read", "read", 0.70},
      {"logreg grad B32 shuffled", objective_name("logreg", 32, Order::Shuffled), bytes,
       "limit/read_rows_shuffled", "read, shuffled rows", 0},
      {"logreg grad B32 in L2", objective_name("logreg", 32, Order::InCache), bytes, "limit/read",
       "read (DRAM)", 0},
      {"server_fold 16Mi in place", "server_fold/16Mi/in_place", bytes, "limit/triad", "triad",
       0.60},
      {"server_fold 16Mi out of place", "server_fold/16Mi/out_of_place", bytes, "limit/triad",
       "triad", 0.60},
      // The fold's reads alone (20 of its 36 B; out of place also the write-allocate read of
      // x_out, 4 more) against the read probe: one core's reads are what saturates.
      {"server_fold in place, reads", "server_fold/16Mi/in_place", bytes, "limit/read", "read", 0,
       20.0 / 36},
      {"server_fold out of pl., reads", "server_fold/16Mi/out_of_place", bytes, "limit/read",
       "read", 0, 24.0 / 36},
  };
  for (const std::size_t b : {std::size_t{32}, std::size_t{256}}) {
    const std::string name = objective_name("mlp128", b, Order::Shuffled);
    const std::string bs = std::to_string(b);
    rows.push_back({"mlp:128 fwd+bwd B" + bs, name, flops, gemm_name(b, kFeatures, kHidden, false),
                    "gemm " + bs + "x784x128", 0.50});
    rows.push_back({"mlp:128 fwd+bwd B" + bs, name, flops, gemm_name(kFeatures, b, kHidden, true),
                    "gemm_tn 784x" + bs + "x128", 0});
    rows.push_back({"mlp:128 fwd+bwd B" + bs, name, flops, "gemm_mlp128_steps/B" + bs,
                    "its 5 GEMMs alone", 0});
  }
  for (const std::size_t b : {std::size_t{32}, std::size_t{256}}) {
    const std::string name = objective_name("softmax", b, Order::Shuffled);
    const std::string bs = std::to_string(b);
    rows.push_back({"softmax grad B" + bs + " shuffled", name, bytes, "limit/read", "read", 0});
    rows.push_back({"softmax grad B" + bs + " shuffled", name, flops, "gemm_softmax_steps/B" + bs,
                    "its 2 GEMMs alone", 0});
  }
  rows.push_back({"softmax grad B32 contiguous", objective_name("softmax", 32, Order::Contiguous),
                  bytes, "limit/read", "read", 0});
  rows.push_back({"softmax grad B32 storage order",
                  objective_name("softmax", 32, Order::StorageOrder), bytes, "limit/read", "read",
                  0});
  rows.push_back({"softmax grad B32 storage order",
                  objective_name("softmax", 32, Order::StorageOrder), flops,
                  "gemm_softmax_steps/B32", "its 2 GEMMs alone", 0});

  std::printf("\nLimits (best of the repetitions; one core):\n");
  const auto limit_line = [&](const std::string& name, const char* counter, const char* unit,
                              const char* what) {
    const double best = r.best(name, counter);
    if (best > 0) {
      std::printf("  %-28s %8.2f %-7s (median %.2f)  %s\n", name.c_str(), best / 1e9, unit,
                  r.median(name, counter) / 1e9, what);
    }
  };
  limit_line("limit/read", bytes, "GB/s", "dot over two halves of 256 MiB");
  limit_line("limit/triad", bytes, "GB/s", "a = b + s*c, 3 x 85 MiB, 12 B/elem");
  limit_line("limit/read_rows_shuffled", bytes, "GB/s", "dot over 3136 B rows, shuffled");
  for (const std::size_t b : {std::size_t{32}, std::size_t{256}}) {
    limit_line(gemm_name(b, kFeatures, kHidden, false), flops, "GFLOP/s", "MLP forward shape");
    limit_line(gemm_name(kFeatures, b, kHidden, true), flops, "GFLOP/s", "MLP dW1 = X^T dZ1 shape");
    limit_line("gemm_mlp128_steps/B" + std::to_string(b), flops, "GFLOP/s",
               "the step's 5 products alone");
    limit_line("gemm_softmax_steps/B" + std::to_string(b), flops, "GFLOP/s",
               "softmax step's 2 products (N = 10)");
  }
  limit_line(gemm_name(512, 512, 512, false), flops, "GFLOP/s", "square, for context");

  std::printf("\n%-30s %9s %-8s %-22s %9s %8s %8s %6s %5s\n", "kernel", "measured", "unit", "limit",
              "limit", "fraction", "(median)", "goal", "met?");
  for (const TableRow& row : rows) {
    const double value = row.share * r.best(row.bench, row.counter);
    const double limit = r.best(row.limit, row.counter);
    if (value <= 0 || limit <= 0) continue;  // filtered out of this run
    const double median_limit = r.median(row.limit, row.counter);
    const double fraction = value / limit;
    const double median_fraction =
        median_limit > 0 ? row.share * r.median(row.bench, row.counter) / median_limit : 0.0;
    const char* unit = std::strcmp(row.counter, flops) == 0 ? "GFLOP/s" : "GB/s";
    std::printf("%-30s %9.2f %-8s %-22s %9.2f %8.2f %8.2f", row.kernel.c_str(), value / 1e9, unit,
                row.limit_label.c_str(), limit / 1e9, fraction, median_fraction);
    if (row.goal > 0) {
      std::printf(" %6.2f %5s\n", row.goal, fraction >= row.goal ? "yes" : "NO");
    } else {
      std::printf(" %6s %5s\n", "-", "-");
    }
  }
  std::printf(
      "\nBytes: logreg/softmax count 4 B x 784 features per row read; server_fold 36 B/param;\n"
      "triad 12 B/elem (STREAM counting, no write-allocate). FLOPs: GEMM 2MKN; mlp:128 step\n"
      "409,088 x B (forward 2B(784*128+128*10), backward 2B(784*128+2*128*10), no dX);\n"
      "softmax step 31,360 x B (2B*784*10 forward and the same for dW).\n"
      "Shared 2-core machine: expect run-to-run noise of 10-30%%; compare best with median.\n");
}

}  // namespace

int main(int argc, char** argv) {
  // Defaults first, so that the same flags given on the command line win.
  static char min_time[] = "--benchmark_min_time=0.1";
  static char repetitions[] = "--benchmark_repetitions=3";
  static char interleave[] = "--benchmark_enable_random_interleaving=true";
  std::vector<char*> args = {argv[0], min_time, repetitions, interleave};
  args.insert(args.end(), argv + 1, argv + argc);
  int count = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 1;

  register_all();
  std::printf("kernels dispatch target: %s; matrix products: Eigen built for %s\n",
              kn::target_name(kn::active_target()).c_str(), kn::gemm_isa_name().c_str());
  RecordingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  print_table(reporter);
  return 0;
}
