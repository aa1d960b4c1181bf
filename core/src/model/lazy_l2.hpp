// lazy_l2.hpp (internal): SGD's L2 decay of the first layer's weights at the cost of the rows
// a step touches.
//
// With L2 penalty l2/2 |W|^2, a step at rate lr multiplies every weight by (1 - lr l2) besides
// subtracting lr g; on sparse data most rows of the first layer get no gradient, but all would
// decay. Instead each row keeps the clock D (the sum of log(1 - lr_s l2) over the steps so
// far, in double) at which it was last brought up to date; a row is brought up to date, by the
// factor exp(D - stamp), just before a step reads or changes it, and every row before the model
// is read whole. The result equals the eager update up to float rounding. Logs keep the clock
// from underflowing over long runs; lr l2 must stay below 1 (at 1 the eager rule zeroes every
// weight each step).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/state_stream.hpp"
#include "dude/objective.hpp"

namespace dude::detail {

class LazyL2 {
 public:
  /// For `rows` first-layer rows of `width` floats; l2 = 0 makes every call a plain update.
  LazyL2(std::size_t rows, std::size_t width, float l2);

  /// Brings the first-layer rows of the minibatch's features (`rows` of sparse `data`) up to
  /// the current step, before its gradient reads them; nothing to do without L2.
  void catch_up(const Dataset& data, std::span<const std::uint32_t> rows, float* params);
  /// Brings every row up to date (before the model is read as a whole).
  void catch_up_all(float* params);
  /// One SGD step x -= lr (g + l2 x) on the rows `grad` touches (caught up before the gradient
  /// was computed), the tail (whose L2 term `grad` includes) by its gradient; the untouched
  /// rows decay lazily. Throws ConfigError when lr l2 >= 1.
  void step(const SparseGradient& grad, float lr, float* params);
  /// The clocks (checkpoints).
  void save(StateWriter& out) const {
    out.put(clock_);
    out.put_vector(stamp_);
  }
  void load(StateReader& in) {
    clock_ = in.get<double>();
    in.get_span(std::span<double>(stamp_));
  }

 private:
  void bring_up(std::uint32_t row, float* params);

  std::size_t width_;
  float l2_;
  double clock_ = 0;           // sum of log(1 - lr_s l2) over the steps so far
  std::vector<double> stamp_;  // per row: the clock at which it was last up to date
};

}  // namespace dude::detail
