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
//
// S is non-zero only on rows that some worker's latest gradient touches: at most n posts'
// rows, whatever the dimension. So S and the stamps live in a small table of those rows
// (ActiveRows: open addressing, each with the number of posts that cover it), not in arrays
// over every feature: memory and cache footprint are the arrivals', and a row whose last
// covering post is replaced is brought up and leaves with S_j = 0, exactly the table's sum
// there. Only v spans the features (it is the model where S is zero).
#include <algorithm>
#include <bit>
#include <cstring>

#include "common/prefetch.hpp"
#include "dude/errors.hpp"
#include "dude/kernels.hpp"
#include "engine/sparse_policy.hpp"

namespace dude::engine {
namespace {

/// The rows where S may be non-zero, each with its S (width doubles), its stamp and the number
/// of table entries (posts) that touch it. Linear probing over a power-of-two array, at most
/// half full; removal shifts the following entries back, so there are no tombstones.
class ActiveRows {
 public:
  static constexpr std::uint32_t kNone = UINT32_MAX;

  explicit ActiveRows(std::size_t width) : width_(width) { resize(kInitialSlots); }

  /// The slot of `row`, or kNone.
  std::uint32_t find(std::uint32_t row) const {
    for (std::size_t i = home(row);; i = next(i)) {
      if (rows_[i] == row) return static_cast<std::uint32_t>(i);
      if (rows_[i] == kNone) return kNone;
    }
  }
  /// The slot of `row`, made (S = 0, no covers, stamped `clock`) if it had none.
  std::uint32_t insert(std::uint32_t row, double clock) {
    std::size_t i = home(row);
    for (; rows_[i] != kNone; i = next(i)) {
      if (rows_[i] == row) return static_cast<std::uint32_t>(i);
    }
    if (2 * (size_ + 1) > rows_.size()) {  // a new row would fill more than half: grow first
      grow();
      for (i = home(row); rows_[i] != kNone;) i = next(i);
    }
    rows_[i] = row;
    covers_[i] = 0;
    stamp_[i] = clock;
    std::fill_n(sum(i), width_, 0.0);
    ++size_;
    return static_cast<std::uint32_t>(i);
  }
  /// Removes the entry in `slot`; entries after it in its probe run move back.
  void erase(std::size_t slot) {
    std::size_t hole = slot;
    for (std::size_t i = next(hole); rows_[i] != kNone; i = next(i)) {
      // Entry i may fill the hole if its home is not cyclically in (hole, i].
      const std::size_t h = home(rows_[i]);
      const bool stays = hole < i ? (h > hole && h <= i) : (h > hole || h <= i);
      if (stays) continue;
      move(i, hole);
      hole = i;
    }
    rows_[hole] = kNone;
    --size_;
  }

  /// Starts loading the home slot of `row`, where a lookup starts and, the table being at
  /// most half full, mostly ends: its row id, cover count, stamp and S.
  void prefetch(std::uint32_t row) const {
    const std::size_t i = home(row);
    __builtin_prefetch(&rows_[i]);
    __builtin_prefetch(&covers_[i]);
    __builtin_prefetch(&stamp_[i]);
    __builtin_prefetch(sum(i));
    __builtin_prefetch(sum(i) + width_ - 1);
  }

  std::uint32_t row(std::size_t slot) const { return rows_[slot]; }
  std::uint32_t& covers(std::size_t slot) { return covers_[slot]; }
  std::uint32_t covers(std::size_t slot) const { return covers_[slot]; }
  double& stamp(std::size_t slot) { return stamp_[slot]; }
  double stamp(std::size_t slot) const { return stamp_[slot]; }
  double* sum(std::size_t slot) { return sums_.data() + slot * width_; }
  const double* sum(std::size_t slot) const { return sums_.data() + slot * width_; }
  std::size_t size() const { return size_; }
  /// Calls f(slot) for every occupied slot, in table order.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      if (rows_[i] != kNone) f(static_cast<std::uint32_t>(i));
    }
  }
  /// The occupied slots, in ascending row order (checkpoints, for bytes that do not depend
  /// on the table's history).
  std::vector<std::uint32_t> slots_by_row() const {
    std::vector<std::uint32_t> slots;
    slots.reserve(size_);
    for_each([&](std::uint32_t slot) { slots.push_back(slot); });
    std::sort(slots.begin(), slots.end(),
              [&](std::uint32_t a, std::uint32_t b) { return rows_[a] < rows_[b]; });
    return slots;
  }
  void clear() { resize(kInitialSlots); }

 private:
  static constexpr std::size_t kInitialSlots = 1024;

  std::size_t home(std::uint32_t row) const {
    return static_cast<std::size_t>((row * 0x9E3779B1u) >> shift_);  // Fibonacci hashing
  }
  std::size_t next(std::size_t i) const { return (i + 1) & (rows_.size() - 1); }
  void move(std::size_t from, std::size_t to) {
    rows_[to] = rows_[from];
    covers_[to] = covers_[from];
    stamp_[to] = stamp_[from];
    std::copy_n(sum(from), width_, sum(to));
  }
  void resize(std::size_t slots) {
    rows_.assign(slots, kNone);
    covers_.assign(slots, 0);
    stamp_.assign(slots, 0.0);
    sums_.assign(slots * width_, 0.0);
    shift_ = 32 - std::countr_zero(slots);
    size_ = 0;
  }
  void grow() {
    ActiveRows bigger(width_);
    bigger.resize(2 * rows_.size());
    for_each([&](std::uint32_t i) {
      const std::uint32_t to = bigger.insert(rows_[i], stamp_[i]);
      bigger.covers_[to] = covers_[i];
      std::copy_n(sum(i), width_, bigger.sum(to));
    });
    *this = std::move(bigger);
  }

  std::size_t width_;
  std::vector<std::uint32_t> rows_;  // kNone: a free slot
  std::vector<std::uint32_t> covers_;
  std::vector<double> stamp_;
  std::vector<double> sums_;
  int shift_ = 0;
  std::size_t size_ = 0;
};

class LazyDude final : public SparsePolicy {
 public:
  LazyDude(std::size_t workers, std::size_t rows, std::size_t width, std::size_t tail, float* model)
      : workers_(workers),
        rows_(rows),
        width_(width),
        tail_size_(tail),
        v_(model),
        active_(width),
        tail_x_(model + rows * width, model + rows * width + tail),
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
    detail::prefetch_matrix_rows(v_, rows, width_);
    for (std::size_t i = 0; i < rows.size(); ++i) read_row(rows[i], out_rows + i * width_);
    std::memcpy(out_tail, tail_x_.data(), tail_size_ * sizeof(float));
  }

  void running_sum(double* out) const override {
    std::fill_n(out, rows_ * width_, 0.0);
    active_.for_each([&](std::uint32_t slot) {
      std::copy_n(active_.sum(slot), width_, out + std::size_t{active_.row(slot)} * width_);
    });
    std::copy(tail_sum_.begin(), tail_sum_.end(), out + rows_ * width_);
  }

  /// v is the model wherever S is zero; the active rows evaluate the formula (in v itself,
  /// brought up, when `params` is v's buffer).
  void read_all(float* params) override {
    if (params == v_) {
      active_.for_each([&](std::uint32_t slot) { bring_up_slot(slot); });
    } else {
      std::copy(v_, v_ + rows_ * width_, params);
      active_.for_each([&](std::uint32_t slot) {
        const std::size_t at = std::size_t{active_.row(slot)} * width_;
        lazy_value(slot, v_ + at, params + at);
      });
    }
    std::memcpy(params + rows_ * width_, tail_x_.data(), tail_size_ * sizeof(float));
  }

  void save(detail::StateWriter& out) const override;
  void load(detail::StateReader& in) override;

 private:
  /// x on an active row: v - S (H - h), in double, rounded once.
  void lazy_value(std::uint32_t slot, const float* v, float* out) const {
    const double* s = active_.sum(slot);
    const double behind = clock_ - active_.stamp(slot);
    for (std::size_t k = 0; k < width_; ++k) {
      out[k] = static_cast<float>(static_cast<double>(v[k]) - s[k] * behind);
    }
  }
  void read_row(std::uint32_t row, float* out) const {
    const float* v = v_ + std::size_t{row} * width_;
    const std::uint32_t slot = active_.find(row);
    if (slot == ActiveRows::kNone) {
      std::memcpy(out, v, width_ * sizeof(float));
    } else {
      lazy_value(slot, v, out);
    }
  }

  /// The active slot of `row` (made if it had none), brought up to the current step under the
  /// S it had since its stamp.
  std::uint32_t bring_up(std::uint32_t row) {
    const std::uint32_t slot = active_.insert(row, clock_);
    bring_up_slot(slot);
    return slot;
  }
  void bring_up_slot(std::uint32_t slot) {
    if (active_.stamp(slot) == clock_) return;
    float* v = v_ + std::size_t{active_.row(slot)} * width_;
    lazy_value(slot, v, v);
    active_.stamp(slot) = clock_;
  }

  /// Starts loading what the fold of a post reads on its rows: v and the active slots.
  void prefetch(std::span<const std::uint32_t> rows) const {
    detail::prefetch_matrix_rows(v_, rows, width_);
    for (const std::uint32_t row : rows) active_.prefetch(row);
  }
  /// s += fresh - stale, either of them possibly absent (nullptr: zero), the difference taken
  /// in double, exactly, as the dense fold takes it (x - 0 and 0 - x are exact, so each case
  /// is one clean loop with the same result).
  void add_difference(double* s, const float* fresh, const float* stale) const {
    if (fresh && stale) {
      for (std::size_t k = 0; k < width_; ++k) {
        s[k] += static_cast<double>(fresh[k]) - static_cast<double>(stale[k]);
      }
    } else if (fresh) {
      for (std::size_t k = 0; k < width_; ++k) s[k] += static_cast<double>(fresh[k]);
    } else {
      for (std::size_t k = 0; k < width_; ++k) s[k] -= static_cast<double>(stale[k]);
    }
  }

  /// S += g_new - g_old on the union of the two supports (each row brought up first), and the
  /// worker's table entry becomes g_new. A row no post covers any more leaves the active rows.
  void fold(std::size_t worker, const SparsePost& g) {
    const SparsePost& old = table_[worker];
    prefetch(g.rows);
    prefetch(old.rows);
    std::size_t a = 0, b = 0;  // walk both ascending row lists at once
    while (a < g.rows.size() || b < old.rows.size()) {
      const std::uint32_t next_new = a < g.rows.size() ? g.rows[a] : UINT32_MAX;
      const std::uint32_t next_old = b < old.rows.size() ? old.rows[b] : UINT32_MAX;
      const std::uint32_t row = std::min(next_new, next_old);
      const std::uint32_t slot = bring_up(row);
      const float* fresh = row == next_new ? g.values.data() + a++ * width_ : nullptr;
      const float* stale = row == next_old ? old.values.data() + b++ * width_ : nullptr;
      std::uint32_t& covers = active_.covers(slot);
      covers = covers + (fresh ? 1 : 0) - (stale ? 1 : 0);
      if (covers == 0) {
        active_.erase(slot);  // no post covers the row: S is zero there, whatever it held
      } else {
        add_difference(active_.sum(slot), fresh, stale);
      }
    }
    for (std::size_t k = 0; k < tail_size_; ++k) {
      tail_sum_[k] += static_cast<double>(g.tail[k]) - static_cast<double>(old.tail[k]);
    }
    table_[worker] = g;
  }

  const std::size_t workers_;
  const std::size_t rows_;
  const std::size_t width_;
  const std::size_t tail_size_;
  float* const v_;             // per first-layer weight: its value at its row's stamp
  ActiveRows active_;          // S and the stamps where S may be non-zero
  double clock_ = 0;           // H: the sum of lr / n over the steps so far
  std::vector<float> tail_x_;  // the tail, stepped eagerly
  std::vector<double> tail_sum_;
  std::vector<float> tail_scratch_;  // float(S) on the tail, for the step
  std::vector<SparsePost> table_;    // every worker's latest gradient
};

void LazyDude::save(detail::StateWriter& out) const {
  out.put_span(std::span<const float>(v_, rows_ * width_));
  const std::vector<std::uint32_t> slots = active_.slots_by_row();
  out.put(static_cast<std::uint64_t>(slots.size()));
  for (const std::uint32_t slot : slots) {
    out.put(active_.row(slot));
    out.put(active_.covers(slot));
    out.put(active_.stamp(slot));
    out.put_span(std::span<const double>(active_.sum(slot), width_));
  }
  out.put(clock_);
  out.put_vector(tail_x_);
  out.put_vector(tail_sum_);
  for (const SparsePost& entry : table_) entry.save(out);
}

void LazyDude::load(detail::StateReader& in) {
  in.get_span(std::span<float>(v_, rows_ * width_));
  active_.clear();
  const auto count = in.get<std::uint64_t>();
  if (count > rows_) throw CheckpointError("checkpoint: more active rows than the model has");
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto row = in.get<std::uint32_t>();
    if (row >= rows_ || active_.find(row) != ActiveRows::kNone) {
      throw CheckpointError("checkpoint: an active row is out of range or repeated");
    }
    const std::uint32_t slot = active_.insert(row, 0.0);
    active_.covers(slot) = in.get<std::uint32_t>();
    active_.stamp(slot) = in.get<double>();
    in.get_span(std::span<double>(active_.sum(slot), width_));
  }
  clock_ = in.get<double>();
  in.get_span(std::span<float>(tail_x_));
  in.get_span(std::span<double>(tail_sum_));
  for (SparsePost& entry : table_) entry.load(in, rows_, width_, tail_size_);
}

}  // namespace

std::unique_ptr<SparsePolicy> make_lazy_dude(std::size_t workers, std::size_t rows,
                                             std::size_t width, std::size_t tail, float* model) {
  return std::make_unique<LazyDude>(workers, rows, width, tail, model);
}

}  // namespace dude::engine
