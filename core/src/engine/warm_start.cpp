#include "engine/warm_start.hpp"

#include "data/minibatch_sampler.hpp"
#include "engine/compact_batch.hpp"

namespace dude::engine {

void warm_start(ServerPolicy& policy, const Objective& objective, const Dataset& data,
                const std::vector<std::vector<std::uint32_t>>& shards, const SgdConfig& sgd,
                const float* params) {
  std::vector<float> gradient(objective.num_params());
  for (std::size_t w = 0; w < shards.size(); ++w) {
    detail::MinibatchSampler sampler(shards[w], sgd.batch, sgd.batch_order, sgd.seed,
                                     kWarmStartStream + w);
    Workspace ws = objective.make_workspace(sampler.batch(), !data.is_sparse());
    objective.loss_grad(params, data, sampler.next(), gradient.data(), ws);
    policy.seed_gradient(w, gradient.data());
  }
}

void warm_start(SparsePolicy& policy, const Objective& objective, const Dataset& data,
                const std::vector<std::vector<std::uint32_t>>& shards, const SgdConfig& sgd) {
  SparsePost gradient;
  for (std::size_t w = 0; w < shards.size(); ++w) {
    detail::MinibatchSampler sampler(shards[w], sgd.batch, sgd.batch_order, sgd.seed,
                                     kWarmStartStream + w);
    CompactBatch batch(objective, data, sampler.batch());
    batch.take(sampler.next());
    policy.read(batch.features(), batch.model_rows(), batch.model_tail());
    batch.gradient(gradient);
    policy.seed_gradient(w, gradient);
  }
}

}  // namespace dude::engine
