// The pieces of one sparse step, on data shaped like the Brown POS rows (bench/data/brown.sh):
// 1,000,000 rows of 25 non-zeros hashed uniformly into 2^20 features, 12 classes, softmax,
// minibatches of 8 drawn as a worker draws them (MinibatchSampler, shuffled).
//
// SparseGradient/prefetch: Objective::loss_grad_sparse on the data in place, the single-thread
//   trainer's step (prefetch=1: the next minibatch's rows asked for a step ahead, as the
//   trainer does).
// CompactTake/prefetch: CompactBatch::take, the renumbering every engine worker does before it
//   fills its model rows (prefetch=1: take_next, the rows a step ahead).
// CompactStep: take_next, the model rows copied in from a shared model, the gradient on the
//   compact copy, and its rows subtracted from the shared model: hogwild's sparse step without
//   its atomics and counters.
// ServerArrival/dude|asgd: the server's part of one arrival with 2 workers (the policy's
//   apply() and the read() of the next minibatch's rows for the worker's reply), over 256
//   posts computed beforehand; lazy DuDe's fold walks its table of active rows here.
// Items are minibatches; the data (about 200 MB) and the model (50 MB) are far larger than
// the caches, as on the real data.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/page_array.hpp"
#include "common/prefetch.hpp"
#include "common/rng.hpp"
#include "data/minibatch_sampler.hpp"
#include "data/prefetch_rows.hpp"
#include "dude/async.hpp"
#include "dude/dataset.hpp"
#include "dude/objective.hpp"
#include "engine/compact_batch.hpp"
#include "engine/sparse_policy.hpp"

namespace {

using dude::Dataset;
using dude::Objective;

constexpr std::size_t kRows = 1'000'000, kNnz = 25, kFeatures = std::size_t{1} << 20;
constexpr std::uint32_t kClasses = 12;
constexpr std::size_t kBatch = 8;

/// The synthetic rows, each with distinct ascending feature ids.
struct SparseRows {
  std::vector<std::uint64_t> row_ptr;
  std::vector<std::uint32_t> index;
  std::vector<float> value;
  std::vector<std::uint32_t> labels;
  std::vector<std::uint32_t> all;
  SparseRows() {
    dude::detail::Rng rng(7, 0);
    row_ptr.push_back(0);
    for (std::size_t r = 0; r < kRows; ++r) {
      std::vector<std::uint32_t> ids;
      while (ids.size() < kNnz) {
        const auto id = static_cast<std::uint32_t>(rng.below(kFeatures));
        if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
      }
      std::sort(ids.begin(), ids.end());
      index.insert(index.end(), ids.begin(), ids.end());
      value.insert(value.end(), kNnz, 0.2f);
      row_ptr.push_back(index.size());
      labels.push_back(static_cast<std::uint32_t>(rng.below(kClasses)));
      all.push_back(static_cast<std::uint32_t>(r));
    }
    paged_ptr = {row_ptr.data(), row_ptr.size()};
    paged_index = {index.data(), index.size()};
    paged_value = {value.data(), value.size()};
    paged_labels = {labels.data(), labels.size()};
  }
  /// The rows on 2 MiB pages, as the loaders place them (data/sparse_pages.hpp).
  dude::detail::PageArray<std::uint64_t> paged_ptr;
  dude::detail::PageArray<std::uint32_t> paged_index;
  dude::detail::PageArray<float> paged_value;
  dude::detail::PageArray<std::uint32_t> paged_labels;
  Dataset view() const {
    return Dataset::sparse_view(paged_ptr.data(), paged_index.data(), paged_value.data(),
                                paged_labels.data(), kRows, kFeatures, kClasses);
  }
};

const SparseRows& rows() {
  static const SparseRows data;
  return data;
}

dude::detail::MinibatchSampler sampler_of(const SparseRows& data) {
  return dude::detail::MinibatchSampler(data.all, kBatch, dude::BatchOrder::Shuffled, 1);
}

void SparseGradient(benchmark::State& state) {
  const bool prefetch = state.range(0) != 0;
  const SparseRows& data = rows();
  const Dataset view = data.view();
  const Objective objective(dude::ModelSpec::parse("softmax"), kFeatures, kClasses);
  std::vector<float> params(objective.num_params(), 0.01f);
  dude::SparseGradient grad;
  dude::Workspace ws = objective.make_workspace(kBatch, false);
  auto sampler = sampler_of(data);
  for (auto _ : state) {
    const auto batch = sampler.next();
    if (prefetch) dude::detail::prefetch_rows(view, sampler.upcoming());
    benchmark::DoNotOptimize(objective.loss_grad_sparse(params.data(), view, batch, grad, ws));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(SparseGradient)->ArgName("prefetch")->Arg(0)->Arg(1);

void CompactTake(benchmark::State& state) {
  const bool prefetch = state.range(0) != 0;
  const SparseRows& data = rows();
  const Dataset view = data.view();
  const Objective objective(dude::ModelSpec::parse("softmax"), kFeatures, kClasses);
  dude::engine::CompactBatch batch(objective, view, kBatch);
  auto sampler = sampler_of(data);
  for (auto _ : state) {
    if (prefetch) {
      batch.take_next(sampler);
    } else {
      batch.take(sampler.next());
    }
    benchmark::DoNotOptimize(batch.features().data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(CompactTake)->ArgName("prefetch")->Arg(0)->Arg(1);

void CompactStep(benchmark::State& state) {
  const SparseRows& data = rows();
  const Dataset view = data.view();
  const Objective objective(dude::ModelSpec::parse("softmax"), kFeatures, kClasses);
  std::vector<float> shared(objective.num_params(), 0.01f);
  const std::size_t width = objective.first_layer_width();
  const std::size_t tail_offset = kFeatures * width;
  dude::engine::CompactBatch batch(objective, view, kBatch);
  dude::engine::SparsePost post;
  auto sampler = sampler_of(data);
  for (auto _ : state) {
    batch.take_next(sampler);
    const auto features = batch.features();
    dude::detail::prefetch_matrix_rows(shared.data(), features, width);
    for (std::size_t i = 0; i < features.size(); ++i) {
      std::copy_n(shared.data() + std::size_t{features[i]} * width, width,
                  batch.model_rows() + i * width);
    }
    std::copy_n(shared.data() + tail_offset, kClasses, batch.model_tail());
    benchmark::DoNotOptimize(batch.gradient(post));
    for (std::size_t i = 0; i < post.rows.size(); ++i) {
      float* row = shared.data() + std::size_t{post.rows[i]} * width;
      for (std::size_t k = 0; k < width; ++k) row[k] -= 0.1f * post.values[i * width + k];
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(CompactStep);

/// Posts of `count` minibatches at a model of 0.01 everywhere, with the features each reads.
struct Posts {
  std::vector<dude::engine::SparsePost> posts;
  std::vector<std::vector<std::uint32_t>> features;
};
Posts make_posts(const Objective& objective, const Dataset& view, std::size_t count) {
  dude::engine::CompactBatch batch(objective, view, kBatch);
  auto sampler = sampler_of(rows());
  Posts out;
  for (std::size_t i = 0; i < count; ++i) {
    batch.take(sampler.next());
    std::fill_n(batch.model_rows(), batch.features().size() * objective.first_layer_width(), 0.01f);
    std::fill_n(batch.model_tail(), kClasses, 0.01f);
    out.posts.emplace_back();
    batch.gradient(out.posts.back());
    out.features.emplace_back(batch.features().begin(), batch.features().end());
  }
  return out;
}

void ServerArrival(benchmark::State& state) {
  constexpr std::size_t kPosts = 256, kWorkers = 2;
  const Dataset view = rows().view();
  const Objective objective(dude::ModelSpec::parse("softmax"), kFeatures, kClasses);
  const std::size_t width = objective.first_layer_width();
  std::vector<float> model(objective.num_params(), 0.01f);
  const auto policy = dude::engine::make_sparse_policy(
      dude::AlgorithmSpec::parse(state.range(0) == 0 ? "dude" : "asgd"), kWorkers, kFeatures, width,
      kClasses, model.data());
  const Posts posts = make_posts(objective, view, kPosts);
  std::vector<float> reply_rows(kBatch * kNnz * width), reply_tail(kClasses);
  std::size_t i = 0;
  for (auto _ : state) {
    dude::engine::GradientHeader from;
    from.worker = static_cast<std::uint32_t>(i % kWorkers);
    policy->apply(from, posts.posts[i % kPosts], 1e-3f);
    const std::vector<std::uint32_t>& next = posts.features[(i + kWorkers) % kPosts];
    policy->read(next, reply_rows.data(), reply_tail.data());
    ++i;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(ServerArrival)->ArgName("asgd")->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
