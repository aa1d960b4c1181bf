// The MPI backend on sparse data, on 3 ranks (tests/mpi/launch.sh): one worker rank is the
// threaded sparse engine with one worker (and so the single-thread trainer, as that engine's
// own test says), sync over 2 ranks is minibatch SGD with a twice larger batch, DuDe's S is
// the sum of its table exactly on integer gradients, a post is the size of its minibatch's
// non-zeros, not of the model, and a worker rank that throws is named.
#include <catch2/catch.hpp>

#include <mpi.h>

#include <random>
#include <stdexcept>

#include "dude/async.hpp"
#include "dude/trainer.hpp"
#include "engine/compact_batch.hpp"
#include "engine/run_state.hpp"
#include "engine/sparse_policy.hpp"
#include "forwarding_sparse_policy.hpp"
#include "mpi/sparse_server_rank.hpp"
#include "mpi/sparse_worker_rank.hpp"
#include "mpi/train_on.hpp"
#include "mpi_helpers.hpp"
#include "test_data.hpp"

using namespace dude;
using namespace dude::testmpi;

namespace {

/// The threaded sparse engine's test setting (tests/api/test_sparse.cpp).
AsyncConfig one_worker_config(const std::string& algo, bool warm_start) {
  AsyncConfig config;
  config.sgd.steps = 150;
  config.sgd.batch = 4;
  config.sgd.lr = 0.1f;
  config.sgd.schedule = Schedule::Cosine;
  config.sgd.seed = 3;
  config.algorithm = AlgorithmSpec::parse(algo);
  config.workers = 1;
  config.warm_start = warm_start;
  return config;
}

/// CompactBatch with gradients of small integers (exact in float and double) on the rows and
/// tail the real gradient touches, changing with the minibatch.
class IntegerBatch : public engine::CompactBatch {
 public:
  using CompactBatch::CompactBatch;
  double gradient(engine::SparsePost& post) {
    CompactBatch::gradient(post);
    const std::size_t width = post.rows.empty() ? 0 : post.values.size() / post.rows.size();
    for (std::size_t i = 0; i < post.values.size(); ++i) {
      post.values[i] = static_cast<float>(static_cast<int>(post.rows[i / width] % 7) - 3);
    }
    for (std::size_t k = 0; k < post.tail.size(); ++k) {
      post.tail[k] = static_cast<float>(static_cast<int>((samples() + k) % 5) - 2);
    }
    return 1.0;
  }
};

/// CompactBatch whose kFailAt-th gradient throws on worker 1 (world rank 2).
template <int kFailAt>
class FailingBatch : public engine::CompactBatch {
 public:
  using CompactBatch::CompactBatch;
  double gradient(engine::SparsePost& post) {
    if (++calls_ == kFailAt && world_rank() == 2) throw std::runtime_error("disk on fire");
    return CompactBatch::gradient(post);
  }

 private:
  int calls_ = 0;
};

/// Sparse DuDe, keeping its own dense copy of the table (every worker's newest gradient).
class RecordedSparseDude : public testsupport::ForwardingSparsePolicy {
 public:
  RecordedSparseDude(std::size_t workers, std::size_t rows, std::size_t width, std::size_t tail,
                     float* model)
      : ForwardingSparsePolicy(workers, rows, width, tail, model),
        width_(width),
        params_(rows * width + tail),
        table(workers, std::vector<double>(params_, 0.0)) {}
  void seed_gradient(std::size_t worker, const engine::SparsePost& g) override {
    table[worker] = testsupport::densified(g, params_, width_);
    inner_->seed_gradient(worker, g);
  }
  std::uint64_t apply(const engine::GradientHeader& from, const engine::SparsePost& g,
                      float lr) override {
    table[from.worker] = testsupport::densified(g, params_, width_);
    return inner_->apply(from, g, lr);
  }

 private:
  const std::size_t width_;
  const std::size_t params_;

 public:
  std::vector<std::vector<double>> table;
};

/// Sparse data of `rows` rows with `per_row` distinct features each among `features`.
Dataset sparse_rows(std::size_t rows, std::size_t features, std::size_t per_row,
                    std::uint32_t classes) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::uint32_t> pick(0, static_cast<std::uint32_t>(features - 1));
  std::vector<std::uint64_t> row_ptr{0};
  std::vector<std::uint32_t> index, labels;
  for (std::size_t r = 0; r < rows; ++r) {
    std::vector<std::uint32_t> row;
    while (row.size() < per_row) {
      const std::uint32_t j = pick(rng);
      if (std::find(row.begin(), row.end(), j) == row.end()) row.push_back(j);
    }
    std::sort(row.begin(), row.end());
    index.insert(index.end(), row.begin(), row.end());
    row_ptr.push_back(index.size());
    labels.push_back(static_cast<std::uint32_t>(r % classes));
  }
  std::vector<float> value(index.size(), 1.0f);
  return Dataset::sparse(features, classes, std::move(row_ptr), std::move(index), std::move(value),
                         std::move(labels));
}

/// A job on MPI_COMM_WORLD with `policy` on rank 0 and SparseWorkerRank<Batch> on the worker
/// ranks, each on its partition of `data`; returns a worker's last post's bytes (0 on rank 0).
template <class Batch>
int run_sparse_job(const Objective& objective, const Dataset& data, const AsyncConfig& config,
                   engine::SparsePolicy& policy, engine::RunState& run) {
  const std::size_t width = objective.first_layer_width();
  const std::size_t features =
      engine::batch_features(data.features(), engine::widest_row(data), config.sgd.batch);
  if (world_rank() == 0) {
    const mpi::detail::SparseShape shape{
        data.features(), width, objective.num_params() - data.features() * width, features};
    mpi::detail::SparseServerRank server(MPI_COMM_WORLD, run, policy, shape);
    server.serve(config.warm_start);
    return 0;
  }
  const auto w = static_cast<std::size_t>(world_rank() - 1);
  const std::vector<std::uint32_t> shard = shard_of(data, all_rows(data.rows()), config, w);
  mpi::detail::SparseWorkerRank<Batch> worker(MPI_COMM_WORLD, objective, data, shard, config, w,
                                              features);
  worker.run(config.warm_start);
  return worker.last_post_bytes();
}

}  // namespace

TEST_CASE("one worker rank on sparse data equals the threaded sparse engine bit for bit",
          "[mpi][sparse]") {
  const std::string algo = GENERATE(as<std::string>{}, "dude", "asgd");
  const std::string spec = GENERATE(as<std::string>{}, "softmax", "mlp:6");
  const bool warm_start = GENERATE(false, true);
  INFO(algo << " " << spec << " warm start " << warm_start);
  const TwoRanks job;
  if (job.comm == MPI_COMM_NULL) return;
  const Dataset sparse = testdata::random_sparse(200, 400, 4, 6, 41);
  const Objective objective(ModelSpec::parse(spec), 400, 4);
  const AsyncConfig config = one_worker_config(algo, warm_start);
  const std::vector<std::uint32_t> rows = all_rows(sparse.rows());
  std::vector<float> params = initial(objective, 8);
  const Progress last = mpi::detail::train_on(job.comm, objective, Subset{&sparse, rows}, nullptr,
                                              config, params.data(), {}, nullptr);
  if (world_rank() != 0) return;
  CHECK(last.steps == 150);
  CHECK(last.staleness_max == 0);
  std::vector<float> threaded = initial(objective, 8);
  train_async(objective, {&sparse, rows}, nullptr, config, threaded.data(), {});
  CHECK(params == threaded);
  // As the threaded engine's test: asgd is the single-thread trainer bit for bit; DuDe's lazy
  // step rounds in double.
  std::vector<float> reference = initial(objective, 8);
  train_sgd(objective, {&sparse, rows}, nullptr, config.sgd, reference.data(), {});
  if (algo == "asgd") {
    CHECK(params == reference);
  } else {
    CHECK(count_off(params, reference, 1e-6, 1e-4) == 0);
  }
}

TEST_CASE("sync over two worker ranks on sparse data equals minibatch SGD, twice the batch",
          "[mpi][sparse]") {
  const Dataset sparse = testdata::random_sparse(200, 400, 4, 6, 41);
  const Objective objective(ModelSpec::parse("softmax"), 400, 4);
  const AsyncConfig config = sync_config(2, 4, 60);
  const std::vector<std::uint32_t> all = all_rows(sparse.rows());
  const std::size_t rank = static_cast<std::size_t>(world_rank());
  const std::vector<std::uint32_t> rows = rank == 0 ? all : shard_of(sparse, all, config, rank - 1);
  std::vector<float> params = initial(objective, 4);
  const Progress last =
      mpi::train(objective, Subset{&sparse, rows}, nullptr, config, params.data(), {});
  if (rank != 0) return;
  CHECK(last.steps == 60);
  // The same minibatches on a dense copy of the data.
  std::vector<float> reference = initial(objective, 4);
  minibatch_sgd(objective, testdata::densified(sparse), all, config, reference);
  CHECK(count_off(params, reference, 1e-5, 1e-4) == 0);
}

TEST_CASE("over MPI sparse DuDe's S equals the sum of its table exactly on integer gradients",
          "[mpi][sparse]") {
  AsyncConfig config;
  config.sgd.steps = 1000;
  config.sgd.batch = 4;
  config.sgd.lr = 1.0f / 1024;
  config.workers = 2;
  config.warm_start = GENERATE(false, true);
  const Dataset data = sparse_rows(256, 300, 5, 3);
  const Objective objective(ModelSpec::parse("softmax"), 300, 3);
  std::vector<float> x0(objective.num_params(), 0.0f);
  const std::size_t width = objective.first_layer_width();
  const std::size_t tail = objective.num_params() - 300 * width;
  RecordedSparseDude policy(config.workers, 300, width, tail, x0.data());
  engine::RunState run(config, data.rows(), 1);
  run_sparse_job<IntegerBatch>(objective, data, config, policy, run);
  if (world_rank() != 0) return;
  CHECK(run.counters.steps.load() == 1000);
  std::vector<double> sum(objective.num_params());
  policy.running_sum(sum.data());
  std::size_t off = 0;
  for (std::size_t i = 0; i < sum.size(); ++i) {
    off += sum[i] != policy.table[0][i] + policy.table[1][i];
  }
  CHECK(off == 0);
}

TEST_CASE("a sparse post is the size of its minibatch's non-zeros, not of the model",
          "[mpi][sparse]") {
  constexpr std::size_t kFeatures = std::size_t{1} << 20, kPerRow = 30;
  AsyncConfig config;
  config.sgd.steps = 40;
  config.sgd.batch = 8;
  config.sgd.lr = 0.1f;
  config.workers = 2;
  config.algorithm = AlgorithmSpec::parse("asgd");
  const Dataset data = sparse_rows(64, kFeatures, kPerRow, 5);
  const Objective objective(ModelSpec::parse("softmax"), kFeatures, 5);
  std::vector<float> x0(objective.num_params(), 0.0f);
  const std::size_t width = objective.first_layer_width();
  const auto policy =
      engine::make_sparse_policy(config.algorithm, config.workers, kFeatures, width,
                                 objective.num_params() - kFeatures * width, x0.data());
  engine::RunState run(config, data.rows(), 1);
  const int bytes = run_sparse_job<engine::CompactBatch>(objective, data, config, *policy, run);
  if (world_rank() == 0) return;
  // 8 rows of 30 features: at most 240 gradient rows and 240 next features, 5 floats a row.
  INFO("a post of " << bytes << " bytes; the model is " << 4 * objective.num_params());
  CHECK(bytes > 0);
  CHECK(bytes < 100 * 1000);
  CHECK(static_cast<std::size_t>(bytes) <= 4 * (16 + 240 * (1 + width) + 240 + 5));
}

TEST_CASE("a worker rank that throws on sparse data stops the run with an error naming it",
          "[mpi][sparse]") {
  AsyncConfig config;
  config.sgd.steps = 1000000;  // far beyond the failure
  config.sgd.batch = 4;
  config.sgd.lr = 0.01f;
  config.workers = 2;
  config.warm_start = GENERATE(true, false);
  // The first gradient is the warm start's when there is one; the tenth is in the run.
  const int fail_at = GENERATE(1, 10);
  const Dataset data = sparse_rows(256, 300, 5, 3);
  const Objective objective(ModelSpec::parse("softmax"), 300, 3);
  std::vector<float> x0(objective.num_params(), 0.0f);
  const std::size_t width = objective.first_layer_width();
  const auto policy = engine::make_sparse_policy(config.algorithm, config.workers, 300, width,
                                                 objective.num_params() - 300 * width, x0.data());
  engine::RunState run(config, data.rows(), 1);
  expect_worker_1_fails([&] {
    if (fail_at == 1) {
      run_sparse_job<FailingBatch<1>>(objective, data, config, *policy, run);
    } else {
      run_sparse_job<FailingBatch<10>>(objective, data, config, *policy, run);
    }
  });
}
