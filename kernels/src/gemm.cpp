// The dense matrix products behind the SIMD-free interface: the same run-time target as the
// Highway kernels (active_target(), so force_target() covers them too) picks the Eigen build
// for the widest instruction set it implies.
#include <hwy/targets.h>

#include "dude/kernels.hpp"
#include "gemm_isa.hpp"

namespace dude::kernels {
namespace {

const gemm_isa::Products& products() {
#if DUDE_GEMM_X86
  // Highway orders x86 targets best first by bit value: the AVX3 family lies below AVX2.
  const std::int64_t target = active_target();
  if (target <= HWY_AVX3) return gemm_isa::kAvx512;
  if (target == HWY_AVX2) return gemm_isa::kAvx2;
#endif
  return gemm_isa::kBaseline;
}

}  // namespace

void gemm_nn(std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b,
             float* c) {
  products().nn(m, n, k, a, b, c);
}

void gemm_tn(std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b,
             float* c) {
  products().tn(m, n, k, a, b, c);
}

void gemm_nt(std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b,
             float* c) {
  products().nt(m, n, k, a, b, c);
}

std::string gemm_isa_name() {
  [[maybe_unused]] const gemm_isa::Products& p = products();
#if DUDE_GEMM_X86
  if (&p == &gemm_isa::kAvx512) return "AVX-512";
  if (&p == &gemm_isa::kAvx2) return "AVX2+FMA";
#endif
  return "baseline";
}

}  // namespace dude::kernels
