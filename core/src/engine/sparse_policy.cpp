// The sparse server sides. asgd, sync and fedbuff keep the model itself and change it on the
// touched rows only, with the dense policies' float arithmetic in the dense policies' order,
// so that a row ends where the dense engine puts it. DuDe keeps the model lazily.
#include "engine/sparse_policy.hpp"

#include <algorithm>
#include <cstring>

#include "common/page_array.hpp"
#include "common/prefetch.hpp"
#include "dude/errors.hpp"
#include "dude/kernels.hpp"
#include "engine/policy.hpp"

namespace dude::engine {
namespace {

/// The shape of a sparse model: `rows` first-layer rows of `width` floats, then `tail` floats.
struct Shape {
  std::size_t rows;
  std::size_t width;
  std::size_t tail;
  std::size_t first_layer() const { return rows * width; }
};

/// A model stored as it is (asgd, sync, fedbuff), in the caller's buffer: reads copy, steps
/// subtract.
class EagerModel {
 public:
  EagerModel(Shape shape, float* model) : shape_(shape), x_(model) {}

  void read(std::span<const std::uint32_t> rows, float* out_rows, float* out_tail) const {
    const std::size_t w = shape_.width;
    detail::prefetch_matrix_rows(x_, rows, w);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      std::memcpy(out_rows + i * w, x_ + std::size_t{rows[i]} * w, w * sizeof(float));
    }
    std::memcpy(out_tail, x_ + shape_.first_layer(), shape_.tail * sizeof(float));
  }
  void read_all(float* params) const {
    if (params != x_) std::copy(x_, x_ + size(), params);
  }
  void save(detail::StateWriter& out) const { out.put_span(std::span<const float>(x_, size())); }
  void load(detail::StateReader& in) { in.get_span(std::span<float>(x_, size())); }
  const Shape& shape() const { return shape_; }
  /// x += alpha * g on g's rows and the tail.
  void add(float alpha, const SparsePost& g) {
    const std::size_t w = shape_.width;
    detail::prefetch_matrix_rows(x_, g.rows, w);
    kernels::add_rows(alpha, g.rows.data(), g.rows.size(), g.values.data(), w, x_);
    kernels::axpy(alpha, g.tail.data(), x_ + shape_.first_layer(), shape_.tail);
  }

 private:
  std::size_t size() const { return shape_.first_layer() + shape_.tail; }

  Shape shape_;
  float* const x_;
};

/// The policies that keep the model as it is.
class EagerPolicy : public SparsePolicy {
 public:
  EagerPolicy(Shape shape, float* model) : model_(shape, model) {}
  void read(std::span<const std::uint32_t> rows, float* out_rows, float* out_tail) const override {
    model_.read(rows, out_rows, out_tail);
  }
  void read_all(float* params) override { model_.read_all(params); }
  void save(detail::StateWriter& out) const override { model_.save(out); }
  void load(detail::StateReader& in) override { model_.load(in); }

 protected:
  EagerModel model_;
};

/// asgd: x -= lr g per arrival; asgd-da (delay_scale C > 0): x -= lr min(1, C / tau) g.
class SparseAsgd final : public EagerPolicy {
 public:
  SparseAsgd(Shape shape, float* model, std::uint64_t delay_scale)
      : EagerPolicy(shape, model), delay_scale_(delay_scale) {}
  std::uint64_t apply(const GradientHeader& from, const SparsePost& g, float lr) override {
    const float factor =
        delay_scale_ > 0 ? delay_factor(delay_scale_, version_ - from.model_version) : 1.0f;
    model_.add(-lr * factor, g);
    ++version_;
    return 1;
  }
  void save(detail::StateWriter& out) const override {
    model_.save(out);
    out.put(version_);
  }
  void load(detail::StateReader& in) override {
    model_.load(in);
    version_ = in.get<std::uint64_t>();
  }

 private:
  const std::uint64_t delay_scale_;  // 0: plain asgd
  std::uint64_t version_ = 0;        // the steps so far: an arrival's delay is counted from here
};

/// sync: a round is one gradient of every worker; x -= (lr / n) g for each, in arrival order
/// (the dense policy's order).
class SparseSync final : public EagerPolicy {
 public:
  SparseSync(std::size_t workers, Shape shape, float* model)
      : EagerPolicy(shape, model), workers_(workers) {}
  std::size_t round_size() const override { return workers_; }
  std::uint64_t apply(const GradientHeader&, const SparsePost& g, float lr) override {
    round_.push_back(g);
    if (round_.size() < workers_) return 0;
    for (const SparsePost& post : round_) model_.add(-lr / static_cast<float>(workers_), post);
    round_.clear();
    return 1;
  }
  void save(detail::StateWriter& out) const override {
    model_.save(out);
    out.put(round_.size());
    for (const SparsePost& post : round_) post.save(out);
  }
  void load(detail::StateReader& in) override {
    model_.load(in);
    const auto size = in.get<std::size_t>();
    if (size >= workers_) throw CheckpointError("checkpoint: sync's round overflows");
    round_.resize(size);
    const Shape& shape = model_.shape();
    for (SparsePost& post : round_) post.load(in, shape.rows, shape.width, shape.tail);
  }

 private:
  const std::size_t workers_;
  std::vector<SparsePost> round_;  // the round's gradients so far
};

/// fedbuff:K: the sum of K arrivals, then x -= (lr / K) sum; the buffer is dense but only its
/// touched rows are ever read or cleared.
class SparseFedBuff final : public EagerPolicy {
 public:
  SparseFedBuff(std::size_t buffer, Shape shape, float* model)
      : EagerPolicy(shape, model),
        shape_(shape),
        buffer_size_(buffer),
        sum_(shape.first_layer() + shape.tail),
        in_sum_(shape.rows, 0) {}

  std::uint64_t apply(const GradientHeader&, const SparsePost& g, float lr) override {
    const std::size_t w = shape_.width;
    for (std::size_t i = 0; i < g.rows.size(); ++i) {
      const std::uint32_t row = g.rows[i];
      if (!in_sum_[row]) {
        in_sum_[row] = 1;
        touched_.rows.push_back(row);
      }
      kernels::axpy(1.0f, g.values.data() + i * w, sum_.data() + std::size_t{row} * w, w);
    }
    kernels::axpy(1.0f, g.tail.data(), sum_.data() + shape_.first_layer(), shape_.tail);
    if (++buffered_ < buffer_size_) return 0;
    flush(lr);
    return 1;
  }
  void save(detail::StateWriter& out) const override {
    model_.save(out);
    out.put_span(std::span<const float>(sum_.data(), sum_.size()));
    out.put_vector(touched_.rows);
    out.put(buffered_);
  }
  void load(detail::StateReader& in) override {
    model_.load(in);
    in.get_span(std::span<float>(sum_.data(), sum_.size()));
    in.get_vector(touched_.rows, shape_.rows);
    buffered_ = in.get<std::size_t>();
    if (buffered_ >= buffer_size_) throw CheckpointError("checkpoint: fedbuff's buffer overflows");
    std::fill(in_sum_.begin(), in_sum_.end(), 0);
    for (const std::uint32_t row : touched_.rows) {
      if (row >= shape_.rows) throw CheckpointError("checkpoint: fedbuff's row is out of range");
      in_sum_[row] = 1;
    }
  }

 private:
  void flush(float lr) {
    const std::size_t w = shape_.width;
    std::sort(touched_.rows.begin(), touched_.rows.end());
    touched_.values.resize(touched_.rows.size() * w);
    touched_.tail.assign(sum_.data() + shape_.first_layer(), sum_.data() + sum_.size());
    for (std::size_t i = 0; i < touched_.rows.size(); ++i) {
      float* row = sum_.data() + std::size_t{touched_.rows[i]} * w;
      std::copy(row, row + w, touched_.values.begin() + static_cast<std::ptrdiff_t>(i * w));
      std::fill(row, row + w, 0.0f);
      in_sum_[touched_.rows[i]] = 0;
    }
    std::fill(sum_.data() + shape_.first_layer(), sum_.data() + sum_.size(), 0.0f);
    model_.add(-lr / static_cast<float>(buffer_size_), touched_);
    touched_.rows.clear();
    buffered_ = 0;
  }

  const Shape shape_;
  const std::size_t buffer_size_;
  detail::PageArray<float> sum_;  // the buffered gradients' sum, zero outside touched_.rows
  std::vector<char> in_sum_;      // per row: whether touched_.rows holds it
  SparsePost touched_;            // the rows the sum touches; at a flush, the sum itself
  std::size_t buffered_ = 0;      // arrivals in the sum
};

}  // namespace

std::unique_ptr<SparsePolicy> make_sparse_policy(const AlgorithmSpec& spec, std::size_t workers,
                                                 std::size_t rows, std::size_t width,
                                                 std::size_t tail, float* model) {
  const Shape shape{rows, width, tail};
  switch (spec.kind) {
    case AlgorithmSpec::Kind::Dude: return make_lazy_dude(workers, rows, width, tail, model);
    case AlgorithmSpec::Kind::Asgd: return std::make_unique<SparseAsgd>(shape, model, 0);
    case AlgorithmSpec::Kind::AsgdDelayAdaptive:
      return std::make_unique<SparseAsgd>(shape, model, delay_scale_of(spec, workers));
    case AlgorithmSpec::Kind::Sync: return std::make_unique<SparseSync>(workers, shape, model);
    case AlgorithmSpec::Kind::FedBuff:
      return std::make_unique<SparseFedBuff>(spec.buffer, shape, model);
    case AlgorithmSpec::Kind::Ringleader:
    case AlgorithmSpec::Kind::Malenia:
      throw ConfigError("algorithm " + spec.to_string() +
                        " runs on dense data only for now (its tables are dense)");
    case AlgorithmSpec::Kind::Hogwild:
    case AlgorithmSpec::Kind::Sgd: break;
  }
  throw ConfigError("algorithm " + spec.to_string() + " has no sparse server policy");
}

}  // namespace dude::engine
