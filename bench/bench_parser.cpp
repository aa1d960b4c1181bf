// Parser throughput on synthetic in-memory text: LIBSVM (200k rows, about 30 features each)
// and CSV (100k rows of 50 columns), on one thread and on all of them. Reports bytes/s of text.
#include <benchmark/benchmark.h>
#include <tbb/global_control.h>
#include <tbb/info.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "dude/io.hpp"
#include "lcg.hpp"

namespace {

/// Values as data files usually hold them: six decimals, a sign now and then.
void append_value(std::string& text, testdata::Lcg& rng) {
  char number[16];
  std::snprintf(number, sizeof number, "%.6f",
                (static_cast<double>(rng.next(3000000)) - 1e6) / 1e6);
  text += number;
}

const std::string& libsvm_text() {
  static const std::string text = [] {
    std::string t;
    testdata::Lcg rng(7);
    for (int row = 0; row < 200000; ++row) {
      t += std::to_string(rng.next(10));
      std::uint32_t index = 0;
      const std::uint32_t nnz = 20 + rng.next(21);  // 30 on average
      for (std::uint32_t k = 0; k < nnz; ++k) {
        index += 1 + rng.next(60);
        t += ' ';
        t += std::to_string(index);
        t += ':';
        append_value(t, rng);
      }
      t += '\n';
    }
    return t;
  }();
  return text;
}

const std::string& csv_text() {
  static const std::string text = [] {
    std::string t;
    testdata::Lcg rng(7);
    for (int row = 0; row < 100000; ++row) {
      t += std::to_string(rng.next(10));
      for (int column = 0; column < 50; ++column) {
        t += ',';
        append_value(t, rng);
      }
      t += '\n';
    }
    return t;
  }();
  return text;
}

/// Runs `parse` over `text`; threads == 0 means all of them.
template <class Parse>
void run(benchmark::State& state, const std::string& text, Parse parse) {
  const auto threads = state.range(0) != 0
                           ? static_cast<std::size_t>(state.range(0))
                           : static_cast<std::size_t>(tbb::info::default_concurrency());
  const tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  for (auto _ : state) benchmark::DoNotOptimize(parse(text));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.counters["threads"] = static_cast<double>(threads);
}

void BM_ParseLibsvm(benchmark::State& state) {
  run(state, libsvm_text(),
      [](const std::string& text) { return dude::parse_libsvm(text, "bench.svm"); });
}

void BM_ParseCsv(benchmark::State& state) {
  run(state, csv_text(),
      [](const std::string& text) { return dude::parse_csv(text, "bench.csv"); });
}

// Argument: thread count, 1 or 0 for all.
BENCHMARK(BM_ParseLibsvm)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ParseCsv)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
