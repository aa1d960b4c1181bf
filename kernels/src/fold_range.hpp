// fold_range.hpp (internal): the batched DuDe fold on coordinates [begin, end) in plain
// scalar code: the reference kernel runs it on all of them, the SIMD kernel on its tail.
#pragma once

#include <cstddef>

namespace dude::kernels::detail {

inline void fold_batch_range(const float* const* g_new, float* const* g_old, std::size_t k,
                             double* sum, const float* x_in, float* x_out, float step,
                             std::size_t begin, std::size_t end) {
  for (std::size_t i = begin; i < end; ++i) {
    double s = sum[i], total = 0;
    for (std::size_t m = 0; m < k; ++m) {
      s += static_cast<double>(g_new[m][i]) - static_cast<double>(g_old[m][i]);
      g_old[m][i] = g_new[m][i];
      total += s;
    }
    sum[i] = s;
    x_out[i] = static_cast<float>(static_cast<double>(x_in[i]) - static_cast<double>(step) * total);
  }
}

}  // namespace dude::kernels::detail
