// The dense matrix products built with Eigen for one instruction set. CMake compiles this file
// once per set, defining DUDE_GEMM_ISA_BASELINE, _AVX2 or _AVX512; gemm.cpp dispatches.
//
// Why not simply compile copies of this file with -mavx2 (or -mavx512f)? Every inline function
// such a file instantiates -- Eigen's templates, and the standard library's too -- is a weak
// symbol, and the linker keeps one copy of each name for the whole program: it could keep the
// AVX-512 copy of a function that the baseline code calls on a CPU without AVX-512. Two rules
// prevent that here:
//  1. Only code defined after the target pragma is built for the instruction set, and the
//     standard headers Eigen uses are included before it, so their inline functions stay
//     baseline (and may be inlined into the vector code, never the other way round). GCC's
//     pragma is `#pragma GCC target`; clang ignores it and has `#pragma clang attribute`, which
//     gives every function declared after it the same target attribute.
//  2. Eigen is compiled in a namespace of its own per set (`#define Eigen dude_eigen_avx2`), so
//     its instantiations cannot collide with another set's or with a user's Eigen.
// The test gemm_symbols (tests/check_gemm_symbols.cmake) checks the result: every weak symbol
// in the objects of the non-baseline sets lies in the renamed namespace, or is data, or is a
// function without AVX instructions (baseline code a sanitizer build emits out of line).
//
// Neither compiler defines __AVX2__ and friends inside a target region, and Eigen picks its
// vector code from them, so they are defined by hand for the sets that need them.

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <climits>
#include <cmath>
#include <complex>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <functional>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "gemm_isa.hpp"

#define DUDE_PRAGMA(text) _Pragma(#text)
#if defined(__clang__)
#define DUDE_GEMM_TARGET_PUSH(isa) \
  DUDE_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define DUDE_GEMM_TARGET_POP DUDE_PRAGMA(clang attribute pop)
#else
#define DUDE_GEMM_TARGET_PUSH(isa) DUDE_PRAGMA(GCC push_options) DUDE_PRAGMA(GCC target(isa))
#define DUDE_GEMM_TARGET_POP DUDE_PRAGMA(GCC pop_options)
#endif

#if defined(DUDE_GEMM_ISA_AVX2) || defined(DUDE_GEMM_ISA_AVX512)
#if defined(DUDE_GEMM_ISA_AVX512)
DUDE_GEMM_TARGET_PUSH("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma,f16c")
#define DUDE_GEMM_TABLE kAvx512
#define Eigen dude_eigen_avx512
#ifndef __AVX512F__
#define __AVX512F__ 1
#define __AVX512DQ__ 1
#define __AVX512VL__ 1
#define __AVX512BW__ 1
#endif
#else
DUDE_GEMM_TARGET_PUSH("avx2,fma,f16c")
#define DUDE_GEMM_TABLE kAvx2
#define Eigen dude_eigen_avx2
#endif
#ifndef __AVX2__
#define __SSE3__ 1
#define __SSSE3__ 1
#define __SSE4_1__ 1
#define __SSE4_2__ 1
#define __AVX__ 1
#define __AVX2__ 1
#define __FMA__ 1
#endif
#elif defined(DUDE_GEMM_ISA_BASELINE)
#define DUDE_GEMM_TABLE kBaseline
#define Eigen dude_eigen_baseline
#else
#error "define DUDE_GEMM_ISA_BASELINE, DUDE_GEMM_ISA_AVX2 or DUDE_GEMM_ISA_AVX512"
#endif

#include <Eigen/Core>

namespace dude::kernels::gemm_isa {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using View = Eigen::Map<RowMatrix>;
using ConstView = Eigen::Map<const RowMatrix>;

Eigen::Index idx(std::size_t n) { return static_cast<Eigen::Index>(n); }

void nn(std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b, float* c) {
  View(c, idx(m), idx(n)).noalias() = ConstView(a, idx(m), idx(k)) * ConstView(b, idx(k), idx(n));
}

void tn(std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b, float* c) {
  View(c, idx(m), idx(n)).noalias() =
      ConstView(a, idx(k), idx(m)).transpose() * ConstView(b, idx(k), idx(n));
}

void nt(std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b, float* c) {
  View(c, idx(m), idx(n)).noalias() =
      ConstView(a, idx(m), idx(k)) * ConstView(b, idx(n), idx(k)).transpose();
}

}  // namespace

extern const Products DUDE_GEMM_TABLE;
const Products DUDE_GEMM_TABLE{nn, tn, nt};

}  // namespace dude::kernels::gemm_isa

#if defined(DUDE_GEMM_ISA_AVX2) || defined(DUDE_GEMM_ISA_AVX512)
DUDE_GEMM_TARGET_POP
#endif
