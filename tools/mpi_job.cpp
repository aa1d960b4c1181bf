// mpi_job.cpp: MpiJob on dude::mpi (a dude built with DUDE_WITH_MPI).
#include "mpi_job.hpp"

#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "dude/mpi.hpp"
#include "dude/partition.hpp"

namespace dude::cli {

namespace {

constexpr std::string_view kRankField = "{rank}";

/// `path` with its `{rank}` replaced by `rank`; none there: `path` as it is.
std::string with_rank(std::string path, int rank) {
  const std::size_t at = path.find(kRankField);
  if (at != std::string::npos) path.replace(at, kRankField.size(), std::to_string(rank));
  return path;
}

/// Worker rank `rank`'s part of `rows`, dealt as --workers N deals them.
std::vector<std::uint32_t> part_of_rank(const Dataset& data, std::span<const std::uint32_t> rows,
                                        const AsyncConfig& config, int rank) {
  return partition_rows(data, rows, config.workers, config.partition,
                        config.sgd.seed)[static_cast<std::size_t>(rank - 1)];
}

class Job final : public MpiJob {
 public:
  int rank() const override { return session_.rank(); }
  std::size_t workers() const override { return static_cast<std::size_t>(session_.size() - 1); }

  TrainTestData load(const TrainTestFlags& io, const AsyncConfig& config,
                     std::uint64_t split_seed) const override {
    if (io.train.find(kRankField) == std::string::npos) {
      return partitioned(io, config, split_seed);
    }
    if (io.test.empty()) {
      throw ConfigError("--test: needed with --train '" + io.train +
                        "' (one file per worker rank: rank 0, the server, holds no training "
                        "data, only the test set)");
    }
    TrainTestData d;
    if (rank() == 0) {
      // The server evaluates on the test set, whose initial loss also bounds the training
      // loss (the divergence check).
      d.test = load_data(io.test, load_options(io.data, io.test, io.test_labels));
      d.test_rows = all_rows(d.test.rows());
      d.train = d.test;
      d.train_rows = d.test_rows;
    } else {
      const std::string path = with_rank(io.train, rank());
      d.train = load_data(path, load_options(io.data, path, io.train_labels));
      d.train_rows = all_rows(d.train.rows());
    }
    return d;
  }

  JobShape agree_on_shape(TrainTestData& d) const override {
    const std::uint64_t rows = rank() == 0 ? 0 : d.train_rows.size();
    const mpi::DataShape job =
        mpi::agree_on_shape({d.train.features(), d.classes(), rows, d.train.is_sparse()});
    if (job.features != d.train.features()) {
      d.train = d.train.widened(job.features, d.train.classes());
    }
    if (!d.test_rows.empty() && job.features != d.test.features()) {
      d.test = d.test.widened(job.features, d.test.classes());
    }
    return {job.classes, job.rows};
  }

  Progress train(const Objective& objective, const TrainTestData& d, const AsyncConfig& config,
                 float* params, const ProgressCallback& on_progress, const std::atomic<bool>* stop,
                 const CheckpointPlan* checkpoints) override {
    in_protocol_ = true;  // from here on, every rank leaves together, also on errors
    const Subset train_set{&d.train, d.train_rows};
    const Subset test_set{&d.test, d.test_rows};
    return mpi::train(objective, train_set, d.test_rows.empty() ? nullptr : &test_set, config,
                      params, on_progress, stop, checkpoints);
  }

  void check(const AsyncConfig& config) const override { mpi::check_config(config); }

  Progress train_shared(const Objective& objective, const Subset& train, const Subset& test,
                        const AsyncConfig& config, float* params,
                        const ProgressCallback& on_progress) override {
    in_protocol_ = true;
    if (rank() == 0) return mpi::train(objective, train, &test, config, params, on_progress);
    const std::vector<std::uint32_t> part = part_of_rank(*train.data, train.rows, config, rank());
    return mpi::train(objective, Subset{train.data, part}, nullptr, config, params, {});
  }

  int run(const std::function<int()>& command) override {
    const std::string who = "rank " + std::to_string(rank()) + ": ";
    bool usage_error = false;
    const int code = run_guarded(
        [&] {
          try {
            return command();
          } catch (const ConfigError&) {
            usage_error = true;
            if (rank() == 0) throw;
            return static_cast<int>(kUsageError);
          }
        },
        rank() == 0 ? "" : who);
    if (code != kOk && !usage_error && !in_protocol_) session_.abort(code);
    return code;
  }

 private:
  /// Every rank reads the same files; a worker keeps its part of the training rows.
  TrainTestData partitioned(const TrainTestFlags& io, const AsyncConfig& config,
                            std::uint64_t split_seed) const {
    TrainTestData d = load_train_test(io, split_seed);
    if (rank() == 0) return d;
    d.train_rows = part_of_rank(d.train, d.train_rows, config, rank());
    d.test_rows.clear();  // only the server evaluates
    return d;
  }

  const mpi::Session session_;
  bool in_protocol_ = false;
};

}  // namespace

std::unique_ptr<MpiJob> MpiJob::start() { return std::make_unique<Job>(); }

}  // namespace dude::cli
