// The deterministic replay on sparse data: the replay loop (replay_loop.hpp) with workers that
// read the model on their minibatch's rows only (CompactBatch) and the sparse policies, so that
// a step costs the non-zeros. Same seeds, same minibatches, same arrival order as the dense
// replay: the models agree up to float rounding.
#include <vector>

#include "data/minibatch_sampler.hpp"
#include "engine/compact_batch.hpp"
#include "engine/replay.hpp"
#include "engine/replay_loop.hpp"
#include "engine/sparse_policy.hpp"
#include "engine/warm_start.hpp"

namespace dude::engine {
namespace {

class SparseBackend {
 public:
  SparseBackend(const Objective& objective, const Dataset& data,
                const std::vector<std::vector<std::uint32_t>>& shards, const AsyncConfig& config,
                float* params)
      : policy_(make_sparse_policy(
            replay_rule(config.algorithm), shards.size(), objective.features(),
            objective.first_layer_width(),
            objective.num_params() - objective.features() * objective.first_layer_width(), params)),
        model_(objective.num_params()),
        gradients_(shards.size()),
        rows_(objective.features()),
        width_(objective.first_layer_width()),
        tail_(objective.num_params() - rows_ * width_) {
    const SgdConfig& sgd = config.sgd;
    for (std::size_t w = 0; w < shards.size(); ++w) {
      samplers_.emplace_back(shards[w], sgd.batch, sgd.batch_order, sgd.seed, w);
      batches_.emplace_back(objective, data, samplers_.back().batch());
    }
    if (config.dude_warm_start()) {
      warm_start(*policy_, objective, data, shards, sgd);
    }
  }

  std::size_t round_size() const { return policy_->round_size(); }

  /// Worker w reads the model on its next minibatch's rows and computes its gradient.
  std::pair<double, std::size_t> compute(std::size_t w) {
    CompactBatch& batch = batches_[w];
    batch.take(samplers_[w].next());
    policy_->read(batch.features(), batch.model_rows(), batch.model_tail());
    const double loss = batch.gradient(gradients_[w]);
    return {loss, batch.samples()};
  }

  std::uint64_t apply(std::span<const std::uint32_t> workers,
                      const std::vector<GradientHeader>& headers, float lr) {
    std::uint64_t steps = 0;
    for (const std::uint32_t w : workers) steps += policy_->apply(headers[w], gradients_[w], lr);
    return steps;
  }

  void save(detail::StateWriter& out) const {
    for (const auto& sampler : samplers_) sampler.save(out);
    for (const SparsePost& gradient : gradients_) gradient.save(out);
    policy_->save(out);
  }
  void load(detail::StateReader& in) {
    for (auto& sampler : samplers_) sampler.load(in);
    for (SparsePost& gradient : gradients_) gradient.load(in, rows_, width_, tail_);
    policy_->load(in);
  }

  /// The whole model, read from the policy (evaluations and the end only).
  const float* model() {
    policy_->read_all(model_.data());
    return model_.data();
  }

 private:
  const std::unique_ptr<SparsePolicy> policy_;
  std::vector<float> model_;
  std::vector<detail::MinibatchSampler> samplers_;
  std::vector<CompactBatch> batches_;
  std::vector<SparsePost> gradients_;      // computed at the start, delivered at the arrival
  const std::size_t rows_, width_, tail_;  // the model's shape: first-layer rows x width, tail
};

}  // namespace

Progress train_virtual_sparse(const Objective& objective, const Dataset& data,
                              const std::vector<std::vector<std::uint32_t>>& shards,
                              const AsyncConfig& config, float* params, const RunHooks& hooks,
                              std::size_t train_rows) {
  SparseBackend backend(objective, data, shards, config, params);
  ReplayLoop<SparseBackend> loop(backend, objective, hooks, config, shards.size(), train_rows);
  return loop.run(params, objective.num_params());
}

}  // namespace dude::engine
