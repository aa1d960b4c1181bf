// gemm_isa.hpp (internal): the dense matrix products, one table of functions per instruction
// set that gemm_isa.cpp is compiled for; gemm.cpp picks the table at run time.
#pragma once

#include <cstddef>

namespace dude::kernels::gemm_isa {

/// Row-major, C overwritten; the contracts are kernels::gemm_nn/tn/nt's (dude/kernels.hpp).
struct Products {
  void (*nn)(std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b, float* c);
  void (*tn)(std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b, float* c);
  void (*nt)(std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b, float* c);
};

extern const Products kBaseline;  // the library's baseline flags (SSE2 on x86-64)
#if DUDE_GEMM_X86
extern const Products kAvx2;    // AVX2 + FMA
extern const Products kAvx512;  // AVX-512 F/DQ/VL/BW (Highway's AVX3)
#endif

}  // namespace dude::kernels::gemm_isa
