// forwarding_sparse_policy.hpp: test support for white-box tests of the sparse engines: a
// SparsePolicy that hands everything to lazy DuDe, for probes that watch or alter what passes
// (they override apply and seed_gradient), and a sparse gradient written out densely.
#pragma once

#include <algorithm>
#include <memory>
#include <vector>

#include "engine/sparse_policy.hpp"

namespace testsupport {

class ForwardingSparsePolicy : public dude::engine::SparsePolicy {
 public:
  ForwardingSparsePolicy(std::size_t workers, std::size_t rows, std::size_t width, std::size_t tail,
                         float* model)
      : inner_(dude::engine::make_lazy_dude(workers, rows, width, tail, model)) {}

  void seed_gradient(std::size_t worker, const dude::engine::SparsePost& g) override {
    inner_->seed_gradient(worker, g);
  }
  std::uint64_t apply(const dude::engine::GradientHeader& from, const dude::engine::SparsePost& g,
                      float lr) override {
    return inner_->apply(from, g, lr);
  }
  void read(std::span<const std::uint32_t> rows, float* out_rows, float* out_tail) const override {
    inner_->read(rows, out_rows, out_tail);
  }
  void read_all(float* params) override { inner_->read_all(params); }
  void running_sum(double* out) const override { inner_->running_sum(out); }
  void save(dude::detail::StateWriter& out) const override { inner_->save(out); }
  void load(dude::detail::StateReader& in) override { inner_->load(in); }

 protected:
  const std::unique_ptr<dude::engine::SparsePolicy> inner_;
};

/// `g` as a dense array of `params` values (rows of `width`, then the tail at the end).
inline std::vector<double> densified(const dude::engine::SparsePost& g, std::size_t params,
                                     std::size_t width) {
  std::vector<double> dense(params, 0.0);
  for (std::size_t i = 0; i < g.rows.size(); ++i) {
    for (std::size_t k = 0; k < width; ++k) dense[g.rows[i] * width + k] = g.values[i * width + k];
  }
  std::copy(g.tail.begin(), g.tail.end(), dense.end() - static_cast<std::ptrdiff_t>(g.tail.size()));
  return dense;
}

}  // namespace testsupport
