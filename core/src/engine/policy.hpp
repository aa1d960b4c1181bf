// policy.hpp (internal): what the server does with arrived gradients, one class per
// algorithm. The threaded engine and (later) the virtual-clock replay call the same code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "dude/async.hpp"
#include "engine/aligned_buffer.hpp"
#include "engine/gradient_slot.hpp"

namespace dude::engine {

/// One gradient the server has taken from a slot.
struct Arrival {
  const float* gradient;
  const GradientHeader* header;
};

class ServerPolicy {
 public:
  virtual ~ServerPolicy() = default;
  /// Applies arrivals, in order, to the model x_in and writes the resulting model to x_out
  /// (a different array). Returns the number of model steps taken; when it is 0 the model did
  /// not change and x_out was not written.
  virtual std::uint64_t apply(std::span<const Arrival> arrivals, const float* x_in, float* x_out,
                              float lr) = 0;
  /// Sync waits for this many arrivals, one per worker, before applying them; 0 for the
  /// asynchronous algorithms, which apply whatever has arrived.
  virtual std::size_t round_size() const { return 0; }
  /// DuDe's warm start: worker w's gradient at the initial model enters the table.
  virtual void seed_gradient(std::size_t /*worker*/, const float* /*gradient*/) {}
  /// DuDe's running sum S and gradient table (empty for the others), for invariant checks.
  virtual std::span<const double> running_sum() const { return {}; }
  virtual std::span<const float> table_entry(std::size_t /*worker*/) const { return {}; }
};

/// Makes the server side of an algorithm (not Hogwild, which has no server) for `workers`
/// workers and models of `params` floats.
std::unique_ptr<ServerPolicy> make_policy(const AlgorithmSpec& spec, std::size_t workers,
                                          std::size_t params);

}  // namespace dude::engine
