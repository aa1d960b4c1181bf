// sparse_policy.hpp (internal): the server side of each algorithm on sparse data, at the cost
// of each arrival's non-zeros (docs/DESIGN.md §10.2).
//
// The parameters are the first layer's weights, `rows` rows of `width` floats (one per input
// feature), then a dense tail (the first layer's bias and any later layers). A gradient from a
// sparse minibatch touches only the rows of its features, and the tail. The policy keeps the
// model in the caller's buffer and steps it there, so that a run at 2^24 features holds one
// model and not a second copy of it. Workers read the rows of their next minibatch with
// read(), at the current step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/state_stream.hpp"
#include "dude/async.hpp"
#include "engine/gradient_slot.hpp"

namespace dude::engine {

/// One sparse gradient: the touched first-layer rows (ascending), their values, the tail.
struct SparsePost {
  std::vector<std::uint32_t> rows;
  std::vector<float> values;  // rows.size() x width
  std::vector<float> tail;

  /// Checkpoints; load() takes at most `max_rows` rows of `width` and a tail of `tail` floats.
  void save(detail::StateWriter& out) const {
    out.put_vector(rows);
    out.put_vector(values);
    out.put_vector(tail);
  }
  void load(detail::StateReader& in, std::size_t max_rows, std::size_t width, std::size_t tail) {
    in.get_vector(rows, max_rows);
    in.get_vector(values, rows.size() * width);
    in.get_vector(this->tail, tail);
    if (values.size() != rows.size() * width) {
      throw CheckpointError("checkpoint: a sparse gradient's size differs");
    }
  }
};

class SparsePolicy {
 public:
  virtual ~SparsePolicy() = default;
  /// Sync applies rounds of this many arrivals, one per worker; 0: every arrival alone.
  virtual std::size_t round_size() const { return 0; }
  /// DuDe's warm start: worker w's gradient at the initial model enters the table.
  virtual void seed_gradient(std::size_t /*worker*/, const SparsePost& /*gradient*/) {}
  /// Applies one arrival (`from` names its worker and model version) at rate lr; returns the
  /// model steps it took (sync and fedbuff step only at a round's last arrival or a flush).
  virtual std::uint64_t apply(const GradientHeader& from, const SparsePost& gradient, float lr) = 0;
  /// The model now on the given first-layer rows (rows.size() x width floats into out_rows)
  /// and on the tail (into out_tail).
  virtual void read(std::span<const std::uint32_t> rows, float* out_rows,
                    float* out_tail) const = 0;
  /// The whole model now (rows x width + tail floats). Into the policy's own buffer (the
  /// `model` it was made with) nothing is copied: lazy DuDe brings its lazily kept rows up to
  /// date there, which changes no value of the model (for the end of a run).
  virtual void read_all(float* params) = 0;
  /// DuDe's running sum S, rows x width + tail doubles, for invariant checks (the others
  /// write nothing).
  virtual void running_sum(double* /*out*/) const {}
  /// The model and the algorithm's memory (checkpoints); load() into a policy made with the
  /// same settings.
  virtual void save(detail::StateWriter& out) const = 0;
  virtual void load(detail::StateReader& in) = 0;
};

/// The sparse server side of `spec` (dude, asgd, asgd-da, sync or fedbuff; hogwild has none,
/// ringleader and malenia have none yet) for
/// `workers` workers, a model of `rows` x `width` first-layer weights and `tail` more floats,
/// kept and stepped in `model` (the initial model on entry; it must outlive the policy, and
/// only read_all() makes it the current model: lazy DuDe keeps values of older steps there).
std::unique_ptr<SparsePolicy> make_sparse_policy(const AlgorithmSpec& spec, std::size_t workers,
                                                 std::size_t rows, std::size_t width,
                                                 std::size_t tail, float* model);

/// DuDe on sparse data, its model kept lazily (lazy_dude.cpp).
std::unique_ptr<SparsePolicy> make_lazy_dude(std::size_t workers, std::size_t rows,
                                             std::size_t width, std::size_t tail, float* model);

}  // namespace dude::engine
