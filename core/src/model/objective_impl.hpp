// objective_impl.hpp (internal): the interface each model family implements behind
// dude::Objective, and the factories.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "dude/objective.hpp"

namespace dude::detail {

class ObjectiveImpl {
 public:
  ObjectiveImpl(ModelSpec spec, std::size_t features, std::uint32_t classes, float l2)
      : spec(std::move(spec)), features(features), classes(classes), l2(l2) {}
  virtual ~ObjectiveImpl() = default;

  virtual std::size_t num_params() const = 0;
  virtual std::size_t workspace_floats(std::size_t max_batch, bool dense_input) const = 0;
  virtual void init_params(float* params, std::uint64_t seed) const = 0;
  /// Mean data loss over rows and its gradient (grad overwritten), without the L2 term.
  virtual double data_loss_grad(const float* params, const Dataset& data,
                                std::span<const std::uint32_t> rows, float* grad,
                                float* ws) const = 0;
  virtual Objective::Score score(const float* params, const Dataset& data,
                                 std::span<const std::uint32_t> rows, float* ws) const = 0;
  virtual void predict(const float* params, const Dataset& data,
                       std::span<const std::uint32_t> rows, float* proba, std::uint32_t* predicted,
                       float* ws) const = 0;
  /// Floats per row of the first layer's weights (the parameters start with features rows).
  virtual std::size_t first_layer_width() const = 0;
  /// Mean data loss over sparse rows and its gradient, without the L2 term: for the first
  /// layer's weights only on the rows of the batch's features, each non-zero's at
  /// row_grads + slots[n] * first_layer_width(), n counting the non-zeros of the rows in order
  /// (rows[0]'s first, then the rest of rows[0]'s, then rows[1]'s...); for the rest of the
  /// parameters (num_params - features * first_layer_width() floats) in tail. Both arrive
  /// zeroed.
  virtual double sparse_data_loss_grad(const float* params, const Dataset& data,
                                       std::span<const std::uint32_t> rows,
                                       const std::uint32_t* slots, float* row_grads, float* tail,
                                       float* ws) const = 0;
  /// Visits each [begin, end) range of params that holds weights (regularised by L2).
  virtual void for_each_weight_block(
      const std::function<void(std::size_t, std::size_t)>& f) const = 0;

  const ModelSpec spec;
  const std::size_t features;
  const std::uint32_t classes;
  const float l2;
};

std::unique_ptr<ObjectiveImpl> make_binary_logistic(std::size_t features, float l2);
std::unique_ptr<ObjectiveImpl> make_network(ModelSpec spec, std::size_t features,
                                            std::uint32_t classes, float l2);

}  // namespace dude::detail
