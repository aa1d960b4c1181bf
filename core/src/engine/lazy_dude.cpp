// DuDe-ASGD on sparse data at the cost of each arrival's non-zeros (docs/DESIGN.md §10.2).
//
// DuDe steps x -= (lr_t / n) S on every arrival, S the sum of every worker's latest gradient.
// An arrival changes S only on the union of its worker's old and new supports, so on every
// other row S is constant and the steps add up: with H_t = sum of lr_s / n over the steps so
// far, each row j keeps a value v_j and a stamp h_j (a value of H) with
//   x_j(t) = v_j - S_j (H_t - h_j).
// Before an arrival changes S_j, the row is brought up: v_j -= S_j (H - h_j), h_j = H. A read
// evaluates the formula. The tail (the first layer's bias, later layers) is dense and steps
// eagerly, with the dense policy's arithmetic. S is kept in double from exact double
// differences of float gradients, as in the dense policy, so it equals the sum of the table.
#include <algorithm>
#include <cstring>

#include "common/page_array.hpp"
#include "dude/kernels.hpp"
#include "engine/sparse_policy.hpp"

namespace dude::engine {
namespace {

class LazyDude final : public SparsePolicy {
 public:
  LazyDude(std::size_t workers, std::size_t rows, std::size_t width, std::size_t tail,
           const float* initial)
      : workers_(workers),
        width_(width),
        tail_size_(tail),
        v_(initial, rows * width),
        sum_(rows * width),
        stamp_(rows),
        tail_x_(initial + rows * width, initial + rows * width + tail),
        tail_sum_(tail, 0.0),
        tail_scratch_(tail),
        table_(workers) {
    for (SparsePost& entry : table_) entry.tail.assign(tail, 0.0f);
  }

  void seed_gradient(std::size_t worker, const SparsePost& g) override { fold(worker, g); }

  std::uint64_t apply(const GradientHeader& from, const SparsePost& g, float lr) override {
    fold(from.worker, g);
    // The step, as the dense policy rounds it: step = lr / n in float, x -= step * float(S).
    const float step = lr / static_cast<float>(workers_);
    clock_ += static_cast<double>(step);
    for (std::size_t k = 0; k < tail_size_; ++k)
      tail_scratch_[k] = static_cast<float>(tail_sum_[k]);
    kernels::axpy(-step, tail_scratch_.data(), tail_x_.data(), tail_size_);
    return 1;
  }

  void read(std::span<const std::uint32_t> rows, float* out_rows, float* out_tail) const override {
    for (const std::uint32_t row : rows) prefetch_row(row);
    for (std::size_t i = 0; i < rows.size(); ++i) read_row(rows[i], out_rows + i * width_);
    std::memcpy(out_tail, tail_x_.data(), tail_size_ * sizeof(float));
  }

  void running_sum(double* out) const override {
    std::copy(sum_.data(), sum_.data() + sum_.size(), out);
    std::copy(tail_sum_.begin(), tail_sum_.end(), out + sum_.size());
  }

  void read_all(float* params) const override {
    for (std::size_t row = 0; row < stamp_.size(); ++row) {
      read_row(static_cast<std::uint32_t>(row), params + row * width_);
    }
    std::memcpy(params + stamp_.size() * width_, tail_x_.data(), tail_size_ * sizeof(float));
  }

  void save(detail::StateWriter& out) const override {
    out.put_span(std::span<const float>(v_.data(), v_.size()));
    out.put_span(std::span<const double>(sum_.data(), sum_.size()));
    out.put_span(std::span<const double>(stamp_.data(), stamp_.size()));
    out.put(clock_);
    out.put_vector(tail_x_);
    out.put_vector(tail_sum_);
    for (const SparsePost& entry : table_) entry.save(out);
  }
  void load(detail::StateReader& in) override {
    in.get_span(std::span<float>(v_.data(), v_.size()));
    in.get_span(std::span<double>(sum_.data(), sum_.size()));
    in.get_span(std::span<double>(stamp_.data(), stamp_.size()));
    clock_ = in.get<double>();
    in.get_span(std::span<float>(tail_x_));
    in.get_span(std::span<double>(tail_sum_));
    for (SparsePost& entry : table_) entry.load(in, stamp_.size(), width_, tail_size_);
  }

 private:
  /// Rows lie far apart in v_, sum_ and stamp_: a step asks for all of its rows' lines before
  /// it touches any, so that their cache misses overlap instead of queueing row by row.
  void prefetch_row(std::uint32_t row) const {
    const std::size_t at = std::size_t{row} * width_;
    __builtin_prefetch(&stamp_[row]);
    __builtin_prefetch(&v_[at]);
    __builtin_prefetch(&v_[at + width_ - 1]);
    for (std::size_t k = 0; k < width_; k += 8) __builtin_prefetch(&sum_[at + k]);
    __builtin_prefetch(&sum_[at + width_ - 1]);
  }

  void read_row(std::uint32_t row, float* out) const {
    const std::size_t at = std::size_t{row} * width_;
    const double behind = clock_ - stamp_[row];
    for (std::size_t k = 0; k < width_; ++k) {
      out[k] = static_cast<float>(static_cast<double>(v_[at + k]) - sum_[at + k] * behind);
    }
  }

  /// Brings row j up to the current step under the S it had since its stamp.
  void bring_up(std::uint32_t row) {
    if (stamp_[row] != clock_) read_row(row, v_.data() + std::size_t{row} * width_);
    stamp_[row] = clock_;
  }

  /// S += g_new - g_old on the union of the two supports (each row brought up first), and the
  /// worker's table entry becomes g_new.
  void fold(std::size_t worker, const SparsePost& g) {
    const SparsePost& old = table_[worker];
    for (const std::uint32_t row : g.rows) prefetch_row(row);
    for (const std::uint32_t row : old.rows) prefetch_row(row);
    std::size_t a = 0, b = 0;  // walk both ascending row lists at once
    while (a < g.rows.size() || b < old.rows.size()) {
      const std::uint32_t next_new = a < g.rows.size() ? g.rows[a] : UINT32_MAX;
      const std::uint32_t next_old = b < old.rows.size() ? old.rows[b] : UINT32_MAX;
      const std::uint32_t row = std::min(next_new, next_old);
      bring_up(row);
      double* s = sum_.data() + std::size_t{row} * width_;
      const float* fresh = row == next_new ? g.values.data() + a++ * width_ : nullptr;
      const float* stale = row == next_old ? old.values.data() + b++ * width_ : nullptr;
      for (std::size_t k = 0; k < width_; ++k) {
        // The difference in double, exactly, as the dense fold takes it.
        s[k] += (fresh ? static_cast<double>(fresh[k]) : 0.0) -
                (stale ? static_cast<double>(stale[k]) : 0.0);
      }
    }
    for (std::size_t k = 0; k < tail_size_; ++k) {
      tail_sum_[k] += static_cast<double>(g.tail[k]) - static_cast<double>(old.tail[k]);
    }
    table_[worker] = g;
  }

  const std::size_t workers_;
  const std::size_t width_;
  const std::size_t tail_size_;
  detail::PageArray<float> v_;       // per first-layer weight: its value at its row's stamp
  detail::PageArray<double> sum_;    // S on the first layer
  detail::PageArray<double> stamp_;  // per row: the clock when it was last brought up
  double clock_ = 0;                 // H: the sum of lr / n over the steps so far
  std::vector<float> tail_x_;        // the tail, stepped eagerly
  std::vector<double> tail_sum_;
  std::vector<float> tail_scratch_;  // float(S) on the tail, for the step
  std::vector<SparsePost> table_;    // every worker's latest gradient
};

}  // namespace

std::unique_ptr<SparsePolicy> make_lazy_dude(std::size_t workers, std::size_t rows,
                                             std::size_t width, std::size_t tail,
                                             const float* initial) {
  return std::make_unique<LazyDude>(workers, rows, width, tail, initial);
}

}  // namespace dude::engine
