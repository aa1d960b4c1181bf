// The deterministic replay on dense data: the replay loop (replay_loop.hpp) over the same
// ServerPolicy the threaded server uses, folding each round out of place.
#include "engine/replay.hpp"

#include <vector>

#include "data/minibatch_sampler.hpp"
#include "engine/policy.hpp"
#include "engine/replay_loop.hpp"
#include "engine/warm_start.hpp"

namespace dude::engine {
namespace {

/// The workers' minibatches and gradients, the policy and the model.
class DenseBackend {
 public:
  DenseBackend(const Objective& objective, const Dataset& data,
               const std::vector<std::vector<std::uint32_t>>& shards, const AsyncConfig& config,
               const float* params)
      : objective_(objective),
        data_(data),
        policy_(make_policy(replay_rule(config.algorithm), shards.size(), objective.num_params())),
        model_(params, params + objective.num_params()),
        next_model_(model_.size()) {
    const SgdConfig& sgd = config.sgd;
    for (std::size_t w = 0; w < shards.size(); ++w) {
      samplers_.emplace_back(shards[w], sgd.batch, sgd.batch_order, sgd.seed, w);
      workspaces_.push_back(objective.make_workspace(samplers_.back().batch(), !data.is_sparse()));
      gradients_.emplace_back(model_.size());
    }
    if (config.dude_warm_start()) {
      warm_start(*policy_, objective, data, shards, sgd, model_.data());
    }
  }

  std::size_t round_size() const { return policy_->round_size(); }

  std::pair<double, std::size_t> compute(std::size_t w) {
    const auto rows = samplers_[w].next();
    const double loss =
        objective_.loss_grad(model_.data(), data_, rows, gradients_[w].data(), workspaces_[w]);
    return {loss, rows.size()};
  }

  std::uint64_t apply(std::span<const std::uint32_t> workers,
                      const std::vector<GradientHeader>& headers, float lr) {
    arrivals_.clear();
    for (const std::uint32_t w : workers) arrivals_.push_back({gradients_[w].data(), &headers[w]});
    const std::uint64_t steps = policy_->apply(arrivals_, model_.data(), next_model_.data(), lr);
    if (steps > 0) model_.swap(next_model_);
    return steps;
  }

  const float* model() const { return model_.data(); }

  void save(detail::StateWriter& out) const {
    out.put_vector(model_);
    for (const auto& sampler : samplers_) sampler.save(out);
    for (const auto& gradient : gradients_) out.put_vector(gradient);
    policy_->save(out);
  }
  void load(detail::StateReader& in) {
    in.get_span(std::span<float>(model_));
    for (auto& sampler : samplers_) sampler.load(in);
    for (auto& gradient : gradients_) in.get_span(std::span<float>(gradient));
    policy_->load(in);
  }

 private:
  const Objective& objective_;
  const Dataset& data_;
  const std::unique_ptr<ServerPolicy> policy_;
  std::vector<float> model_;
  std::vector<float> next_model_;
  std::vector<detail::MinibatchSampler> samplers_;
  std::vector<Workspace> workspaces_;
  std::vector<std::vector<float>> gradients_;  // computed at the start, delivered at arrival
  std::vector<Arrival> arrivals_;
};

}  // namespace

Progress train_virtual(const Objective& objective, const Dataset& data,
                       const std::vector<std::vector<std::uint32_t>>& shards,
                       const AsyncConfig& config, float* params, const RunHooks& hooks,
                       std::size_t train_rows) {
  DenseBackend backend(objective, data, shards, config, params);
  ReplayLoop<DenseBackend> loop(backend, objective, hooks, config, shards.size(), train_rows);
  return loop.run(params, objective.num_params());
}

}  // namespace dude::engine
