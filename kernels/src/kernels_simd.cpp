// kernels_simd.cpp: the dispatched kernels of dude/kernels.hpp, written once with Google
// Highway and compiled for every x86 target Highway can reach (AVX3, AVX2, SSE4, SSSE3 and a
// portable fallback: EMU128, or HWY_SCALAR with GCC before 12.3); the best one the CPU
// supports is chosen at run time.
//
// foreach_target.h re-includes this file once per target, so everything between
// HWY_BEFORE_NAMESPACE and HWY_AFTER_NAMESPACE is compiled for each target; the public
// functions at the end (HWY_ONCE) are compiled once and dispatch through HWY_EXPORT tables.
// HWY_TARGET_INCLUDE names this file relative to kernels/include, the one include directory
// every build of this library has (the re-include is resolved from foreach_target.h, so
// neither a bare file name nor __FILE__ would be found).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "dude/kernels.hpp"
#include "fold_range.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "../src/kernels_simd.cpp"
#include <hwy/foreach_target.h>  // must come before highway.h

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace dude {
namespace kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// AVX2 and AVX-512 have hardware gathers (elsewhere Highway emulates GatherIndex lane by
// lane, no better than a scalar loop) and masked loads and stores of 32- and 64-bit lanes
// that never touch memory outside the mask (Highway's HWY_MEM_OPS_MIGHT_FAULT is set on AVX2
// only because of its 8- and 16-bit lanes).
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
constexpr bool kHardwareGather = true;
constexpr bool kSafeMaskedMemory = true;
#else
constexpr bool kHardwareGather = false;
constexpr bool kSafeMaskedMemory = false;
#endif

// The first `count` (<= Lanes(d)) elements of p in the low lanes, `pad` in the others, without
// touching memory past p[count - 1]: a plain load could fault at the end of a page. Where
// masked loads are not safe this goes through a stack buffer.
template <class D>
HWY_INLINE hn::Vec<D> LoadTail(D d, const hn::TFromD<D>* p, std::size_t count, hn::TFromD<D> pad) {
  if constexpr (kSafeMaskedMemory) {
    const auto mask = hn::FirstN(d, count);
    return hn::IfThenElse(mask, hn::MaskedLoad(mask, d, p), hn::Set(d, pad));
  } else {
    HWY_ALIGN hn::TFromD<D> buffer[hn::MaxLanes(d)];
    for (std::size_t i = 0; i < hn::Lanes(d); ++i) buffer[i] = i < count ? p[i] : pad;
    return hn::Load(d, buffer);
  }
}

// Stores the low `count` (<= Lanes(d)) lanes of v to exactly p[0, count), as a store of the
// low half (if count reaches it) and the rest of the count from the remaining half, down to
// single lanes. Not a masked store: its window spans the whole vector, and a later load of
// the memory just past p[count - 1] (the next row of a batch, such as softmax rows of 10
// logits) waits for that store to complete, which serialised consecutive rows; nor a stack
// buffer copied lane by lane, which is slower too (bench/RESULTS.md, "Measurements behind the
// code").
template <class D>
HWY_INLINE void StoreTail(hn::Vec<D> v, D d, hn::TFromD<D>* p, std::size_t count) {
#if HWY_TARGET == HWY_SCALAR || HWY_HAVE_SCALABLE  // no halves to split into
  HWY_ALIGN hn::TFromD<D> buffer[hn::MaxLanes(d)];
  hn::Store(v, d, buffer);
  for (std::size_t i = 0; i < count; ++i) p[i] = buffer[i];
#else
  if (count == hn::Lanes(d)) {
    hn::StoreU(v, d, p);
  } else if constexpr (hn::MaxLanes(D()) > 1) {
    const hn::Half<D> dh;
    const std::size_t half = hn::Lanes(dh);
    if (count >= half) {
      hn::StoreU(hn::LowerHalf(dh, v), dh, p);
      if (count > half) StoreTail(hn::UpperHalf(dh, v), dh, p + half, count - half);
    } else if (count != 0) {
      StoreTail(hn::LowerHalf(dh, v), dh, p, count);
    }
  }
#endif
}

// Applies `op` (a vector -> vector function) to x[0, n) in place.
template <class D, class Op>
HWY_INLINE void TransformInPlace(D d, float* x, std::size_t n, const Op& op) {
  const std::size_t lanes = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(op(hn::LoadU(d, x + i)), d, x + i);
  if (i < n) StoreTail(op(LoadTail(d, x + i, n - i, 0.0f)), d, x + i, n - i);
}

float Dot(const float* a, const float* b, std::size_t n) {
  const hn::ScalableTag<float> d;
  const std::size_t lanes = hn::Lanes(d);
  // Four independent accumulators keep four FMA chains in flight (FMA latency is 4 cycles
  // and there are two FMA pipes on current cores; one chain would run at a quarter speed).
  auto acc0 = hn::Zero(d);
  auto acc1 = hn::Zero(d);
  auto acc2 = hn::Zero(d);
  auto acc3 = hn::Zero(d);
  std::size_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    acc0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), acc0);
    acc1 = hn::MulAdd(hn::LoadU(d, a + i + lanes), hn::LoadU(d, b + i + lanes), acc1);
    acc2 = hn::MulAdd(hn::LoadU(d, a + i + 2 * lanes), hn::LoadU(d, b + i + 2 * lanes), acc2);
    acc3 = hn::MulAdd(hn::LoadU(d, a + i + 3 * lanes), hn::LoadU(d, b + i + 3 * lanes), acc3);
  }
  for (; i + lanes <= n; i += lanes) {
    acc0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), acc0);
  }
  if (i < n) {
    acc1 = hn::MulAdd(LoadTail(d, a + i, n - i, 0.0f), LoadTail(d, b + i, n - i, 0.0f), acc1);
  }
  const auto sum = hn::Add(hn::Add(acc0, acc1), hn::Add(acc2, acc3));
  return hn::GetLane(hn::SumOfLanes(d, sum));
}

// y += alpha x, inlined into the row kernels below so that a row of a dozen floats costs its
// FMAs, not a dispatched call.
template <class D>
HWY_INLINE void AxpyInline(D d, float alpha, const float* x, float* y, std::size_t n) {
  const std::size_t lanes = hn::Lanes(d);
  const auto valpha = hn::Set(d, alpha);
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(hn::MulAdd(valpha, hn::LoadU(d, x + i), hn::LoadU(d, y + i)), d, y + i);
  }
  if (i < n) {
    const auto result =
        hn::MulAdd(valpha, LoadTail(d, x + i, n - i, 0.0f), LoadTail(d, y + i, n - i, 0.0f));
    StoreTail(result, d, y + i, n - i);
  }
}

void Axpy(float alpha, const float* x, float* y, std::size_t n) {
  AxpyInline(hn::ScalableTag<float>(), alpha, x, y, n);
}

// y stays in registers across the rows, one vector of it at a time: the same MulAdd per
// element and row, in the same order, as one axpy per row.
void GatherRows(const std::uint32_t* idx, const float* val, std::size_t nnz, const float* rows,
                std::size_t width, float* y) {
  const hn::ScalableTag<float> d;
  const std::size_t lanes = hn::Lanes(d);
  for (std::size_t c = 0; c < width; c += lanes) {
    const std::size_t count = std::min(lanes, width - c);
    auto acc = count == lanes ? hn::LoadU(d, y + c) : LoadTail(d, y + c, count, 0.0f);
    for (std::size_t j = 0; j < nnz; ++j) {
      const float* row = rows + std::size_t{idx[j]} * width + c;
      const auto w = count == lanes ? hn::LoadU(d, row) : LoadTail(d, row, count, 0.0f);
      acc = hn::MulAdd(hn::Set(d, val[j]), w, acc);
    }
    StoreTail(acc, d, y + c, count);
  }
}

void ScatterRows(const std::uint32_t* idx, const float* val, std::size_t nnz, const float* x,
                 std::size_t width, float* rows) {
  const hn::ScalableTag<float> d;
  for (std::size_t j = 0; j < nnz; ++j) {
    AxpyInline(d, val[j], x, rows + std::size_t{idx[j]} * width, width);
  }
}

void AddRows(float alpha, const std::uint32_t* idx, std::size_t count, const float* values,
             std::size_t width, float* dense) {
  const hn::ScalableTag<float> d;
  for (std::size_t i = 0; i < count; ++i) {
    AxpyInline(d, alpha, values + i * width, dense + std::size_t{idx[i]} * width, width);
  }
}

// Four axpys in one pass: y is loaded and stored once for all four rows.
void Axpy4(const float* alpha, const float* const* x, float* y, std::size_t n) {
  const hn::ScalableTag<float> d;
  const std::size_t lanes = hn::Lanes(d);
  const auto c0 = hn::Set(d, alpha[0]), c1 = hn::Set(d, alpha[1]);
  const auto c2 = hn::Set(d, alpha[2]), c3 = hn::Set(d, alpha[3]);
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    auto v = hn::MulAdd(c0, hn::LoadU(d, x[0] + i), hn::LoadU(d, y + i));
    v = hn::MulAdd(c1, hn::LoadU(d, x[1] + i), v);
    v = hn::MulAdd(c2, hn::LoadU(d, x[2] + i), v);
    v = hn::MulAdd(c3, hn::LoadU(d, x[3] + i), v);
    hn::StoreU(v, d, y + i);
  }
  if (i < n) {
    const std::size_t count = n - i;
    auto v = hn::MulAdd(c0, LoadTail(d, x[0] + i, count, 0.0f), LoadTail(d, y + i, count, 0.0f));
    v = hn::MulAdd(c1, LoadTail(d, x[1] + i, count, 0.0f), v);
    v = hn::MulAdd(c2, LoadTail(d, x[2] + i, count, 0.0f), v);
    v = hn::MulAdd(c3, LoadTail(d, x[3] + i, count, 0.0f), v);
    StoreTail(v, d, y + i, count);
  }
}

// One vector of the logistic loss and its gradient: with e = exp(-|z|) (never overflows),
// sigmoid(z) is 1/(1+e) for z >= 0 and e/(1+e) below, and the loss log(1 + exp(-s z)) for
// s = +1 (y = 1) or -1 (y = 0) is max(-s z, 0) + log1p(e).
template <class D>
HWY_INLINE hn::Vec<D> LogisticLanes(D d, hn::Vec<D> z, hn::Vec<D> y, hn::Vec<D> scale,
                                    hn::Vec<D>& coef) {
  const auto one = hn::Set(d, 1.0f);
  const auto e = hn::Exp(d, hn::Neg(hn::Abs(z)));
  const auto inv = hn::Div(one, hn::Add(one, e));
  const auto sigmoid = hn::IfThenElse(hn::Ge(z, hn::Zero(d)), inv, hn::Mul(e, inv));
  coef = hn::Mul(scale, hn::Sub(sigmoid, y));
  // -s z = z - 2 y z: z for y = 0, -z for y = 1.
  const auto signed_margin = hn::NegMulAdd(hn::Add(y, y), z, z);
  return hn::Add(hn::Max(signed_margin, hn::Zero(d)), hn::Log1p(d, e));
}

double LogisticLossGrad(const float* z, const float* y, float scale, float* coef, std::size_t n) {
  const hn::ScalableTag<float> d;
  const std::size_t lanes = hn::Lanes(d);
  const auto vscale = hn::Set(d, scale);
  auto loss = hn::Zero(d);
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::Vec<decltype(d)> c;
    loss = hn::Add(loss, LogisticLanes(d, hn::LoadU(d, z + i), hn::LoadU(d, y + i), vscale, c));
    hn::StoreU(c, d, coef + i);
  }
  if (i < n) {
    // Padding lanes: z = 0, y = 0 gives a loss of log 2, masked out below.
    const std::size_t count = n - i;
    hn::Vec<decltype(d)> c;
    const auto tail = LogisticLanes(d, LoadTail(d, z + i, count, 0.0f),
                                    LoadTail(d, y + i, count, 0.0f), vscale, c);
    loss = hn::Add(loss, hn::IfThenElseZero(hn::FirstN(d, count), tail));
    StoreTail(c, d, coef + i, count);
  }
  return static_cast<double>(hn::GetLane(hn::SumOfLanes(d, loss)));
}

void Scale(float alpha, float* x, std::size_t n) {
  const hn::ScalableTag<float> d;
  const auto valpha = hn::Set(d, alpha);
  TransformInPlace(d, x, n, [&](auto v) HWY_ATTR { return hn::Mul(v, valpha); });
}

// The scalar loop for sparse_dot where gathers do not pay off (and for the tails): four
// accumulators so that the adds of consecutive elements do not wait on each other.
float SparseDotScalar(const std::uint32_t* idx, const float* val, std::size_t nnz,
                      const float* dense) {
  float acc0 = 0.0f, acc1 = 0.0f, acc2 = 0.0f, acc3 = 0.0f;
  std::size_t j = 0;
  for (; j + 4 <= nnz; j += 4) {
    acc0 += val[j] * dense[idx[j]];
    acc1 += val[j + 1] * dense[idx[j + 1]];
    acc2 += val[j + 2] * dense[idx[j + 2]];
    acc3 += val[j + 3] * dense[idx[j + 3]];
  }
  for (; j < nnz; ++j) acc0 += val[j] * dense[idx[j]];
  return (acc0 + acc1) + (acc2 + acc3);
}

float SparseDot(const std::uint32_t* idx, const float* val, std::size_t nnz, const float* dense) {
  if constexpr (!kHardwareGather) {
    return SparseDotScalar(idx, val, nnz, dense);
  } else {
    const hn::ScalableTag<float> d;
    const hn::RebindToSigned<decltype(d)> di;
    const hn::RebindToUnsigned<decltype(d)> du;
    const std::size_t lanes = hn::Lanes(d);
    auto acc0 = hn::Zero(d);
    auto acc1 = hn::Zero(d);
    float scalar_part = 0.0f;
    std::size_t j = 0;
    // Gathers beat the scalar loop on AVX2 and AVX-512 in L1, L2 and DRAM (bench/RESULTS.md,
    // "Measurements behind the code"). Two vectors per step with separate accumulators:
    // the gathers, not the FMAs, limit the rate, and two independent ones overlap. Gather
    // indices are signed 32-bit, so a step holding an index >= 2^31 (a dense vector over
    // 8 GiB) takes the scalar loop instead.
    for (; j + 2 * lanes <= nnz; j += 2 * lanes) {
      const auto index0 = hn::BitCast(di, hn::LoadU(du, idx + j));
      const auto index1 = hn::BitCast(di, hn::LoadU(du, idx + j + lanes));
      if (HWY_UNLIKELY(!hn::AllFalse(di, hn::Lt(hn::Or(index0, index1), hn::Zero(di))))) {
        scalar_part += SparseDotScalar(idx + j, val + j, 2 * lanes, dense);
        continue;
      }
      acc0 = hn::MulAdd(hn::LoadU(d, val + j), hn::GatherIndex(d, dense, index0), acc0);
      acc1 = hn::MulAdd(hn::LoadU(d, val + j + lanes), hn::GatherIndex(d, dense, index1), acc1);
    }
    const float tail = SparseDotScalar(idx + j, val + j, nnz - j, dense);
    return hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1))) + (scalar_part + tail);
  }
}

void SparseAxpy(float alpha, const std::uint32_t* idx, const float* val, std::size_t nnz,
                float* dense) {
  // Scalar on every target. The indices are distinct, so all four loads of a group are
  // issued before its stores, which the compiler cannot do for the plain loop (it must
  // assume the elements alias). AVX2 has no scatter, and AVX-512's gather + FMA + scatter
  // was slower than this loop at every size measured (bench/RESULTS.md, "Measurements behind
  // the code").
  std::size_t j = 0;
  for (; j + 4 <= nnz; j += 4) {
    const std::uint32_t i0 = idx[j], i1 = idx[j + 1], i2 = idx[j + 2], i3 = idx[j + 3];
    const float d0 = dense[i0], d1 = dense[i1], d2 = dense[i2], d3 = dense[i3];
    dense[i0] = d0 + alpha * val[j];
    dense[i1] = d1 + alpha * val[j + 1];
    dense[i2] = d2 + alpha * val[j + 2];
    dense[i3] = d3 + alpha * val[j + 3];
  }
  for (; j < nnz; ++j) dense[idx[j]] += alpha * val[j];
}

// The double vector that float vectors of tag D are summed into (AddPromoted): half as many
// lanes, except on the one-lane HWY_SCALAR target.
#if HWY_TARGET == HWY_SCALAR
template <class D>
using PromotedTag = hn::Rebind<double, D>;
#else
template <class D>
using PromotedTag = hn::Repartition<double, D>;
#endif

// Returns acc plus the lanes of v promoted to double.
template <class D>
HWY_INLINE hn::Vec<PromotedTag<D>> AddPromoted(D /* tag */, hn::Vec<PromotedTag<D>> acc,
                                               hn::Vec<D> v) {
  const PromotedTag<D> dd;
#if HWY_TARGET == HWY_SCALAR
  return hn::Add(acc, hn::PromoteTo(dd, v));
#else
  const hn::Half<D> dh;
  return hn::Add(hn::Add(acc, hn::PromoteTo(dd, hn::LowerHalf(dh, v))),
                 hn::PromoteTo(dd, hn::UpperHalf(dh, v)));
#endif
}

// Overwrites z[0, k) (k >= 1) with exp(z - max(z)) and returns that max and the sum of the
// exponentials. The sum is kept in double so that it is accurate to a few float ulps for any
// k, whatever the summation order: the SIMD and scalar versions then agree tightly.
struct Exponentials {
  float max;
  double sum;
};

Exponentials ExpShifted(float* z, std::size_t k) {
  const hn::ScalableTag<float> d;
  const PromotedTag<decltype(d)> dd;
  const std::size_t lanes = hn::Lanes(d);

  auto vmax = hn::Set(d, -std::numeric_limits<float>::infinity());
  std::size_t i = 0;
  for (; i + lanes <= k; i += lanes) vmax = hn::Max(vmax, hn::LoadU(d, z + i));
  if (i < k) vmax = hn::Max(vmax, LoadTail(d, z + i, k - i, z[0]));
  const float max = hn::GetLane(hn::MaxOfLanes(d, vmax));

  const auto vmax_all = hn::Set(d, max);
  auto sum = hn::Zero(dd);
  for (i = 0; i + lanes <= k; i += lanes) {
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, z + i), vmax_all));
    sum = AddPromoted(d, sum, e);
    hn::StoreU(e, d, z + i);
  }
  if (i < k) {
    // Padding with the max gives exp(0) = 1 in the unused lanes; they are zeroed before the
    // sum so the padding value cannot matter.
    const auto shifted = hn::Sub(LoadTail(d, z + i, k - i, max), vmax_all);
    const auto e = hn::IfThenElseZero(hn::FirstN(d, k - i), hn::Exp(d, shifted));
    sum = AddPromoted(d, sum, e);
    StoreTail(e, d, z + i, k - i);
  }
  return {max, hn::GetLane(hn::SumOfLanes(dd, sum))};
}

// Softmax of a row that fits one vector (k <= Lanes(d), e.g. 10 classes on AVX-512): loaded
// once and stored once, with nothing written and read back in between.
template <class D>
HWY_INLINE Exponentials SoftmaxOneVector(D d, float* z, std::size_t k) {
  const PromotedTag<D> dd;
  // Padding with a real element leaves the max unchanged; the padded lanes' exponentials
  // are zeroed.
  const auto v = LoadTail(d, z, k, z[0]);
  const float max = hn::GetLane(hn::MaxOfLanes(d, v));
  const auto e = hn::IfThenElseZero(hn::FirstN(d, k), hn::Exp(d, hn::Sub(v, hn::Set(d, max))));
  const double sum = hn::GetLane(hn::SumOfLanes(dd, AddPromoted(d, hn::Zero(dd), e)));
  const float inverse = static_cast<float>(1.0 / sum);
  StoreTail(hn::Mul(e, hn::Set(d, inverse)), d, z, k);
  return {max, sum};
}

// Turns z (k >= 1 logits) into probabilities; returns the max and the sum of exp(z - max).
Exponentials SoftmaxInPlace(float* z, std::size_t k) {
  const hn::ScalableTag<float> d;
  if (k <= hn::Lanes(d)) return SoftmaxOneVector(d, z, k);
  const Exponentials ex = ExpShifted(z, k);
  // Multiplying by the rounded reciprocal costs one extra rounding against a divide per
  // element; the scalar reference does the same.
  const auto inverse = hn::Set(d, static_cast<float>(1.0 / ex.sum));
  TransformInPlace(d, z, k, [&](auto v) HWY_ATTR { return hn::Mul(v, inverse); });
  return ex;
}

void Softmax(float* z, std::size_t k) {
  if (k != 0) SoftmaxInPlace(z, k);
}

double SoftmaxXent(float* z, std::size_t k, std::uint32_t label) {
  const float label_logit = z[label];
  const Exponentials ex = SoftmaxInPlace(z, k);
  z[label] -= 1.0f;
  // -log(exp(z_label - max) / sum), without forming the ratio (which underflows to 0 for a
  // hopeless label); the difference of two floats is exact in double.
  return std::log(ex.sum) - (static_cast<double>(label_logit) - static_cast<double>(ex.max));
}

// x > 0 ? x : 0 exactly as the scalar reference: -0 and NaN become +0.
void ReluForward(float* x, std::size_t n) {
  const hn::ScalableTag<float> d;
  const auto zero = hn::Zero(d);
  TransformInPlace(d, x, n,
                   [&](auto v) HWY_ATTR { return hn::IfThenElseZero(hn::Gt(v, zero), v); });
}

void ReluBackward(const float* activation, float* grad, std::size_t n) {
  const hn::ScalableTag<float> d;
  const std::size_t lanes = hn::Lanes(d);
  const auto zero = hn::Zero(d);
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto keep = hn::Gt(hn::LoadU(d, activation + i), zero);
    hn::StoreU(hn::IfThenElseZero(keep, hn::LoadU(d, grad + i)), d, grad + i);
  }
  if (i < n) {
    const auto keep = hn::Gt(LoadTail(d, activation + i, n - i, 0.0f), zero);
    StoreTail(hn::IfThenElseZero(keep, LoadTail(d, grad + i, n - i, 0.0f)), d, grad + i, n - i);
  }
}

// The DuDe fold: sum += g_new - g_old; g_old = g_new; x_out = x_in - step * sum.
// The difference is taken in double, where it is exact unless the exponents are more than 29
// apart (a float difference would round at every fold), so the running sum tracks the sum of
// the gradient table. The model update is x_in + (-step) * float(sum) with the same float
// MulAdd as Axpy, lane for lane: when sum holds exactly one worker's gradient g, the fold
// gives exactly axpy(-step, g, x), so one-worker DuDe reproduces SGD bit for bit.
void ServerFold(const float* g_new, float* g_old, double* sum, const float* x_in, float* x_out,
                float step, std::size_t n) {
  // Work in double-width vectors; the float operands are half-width vectors of as many lanes.
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;
  const std::size_t lanes = hn::Lanes(dd);
  const auto vneg_step = hn::Set(df, -step);
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto fresh = hn::LoadU(df, g_new + i);
    const auto delta =
        hn::Sub(hn::PromoteTo(dd, fresh), hn::PromoteTo(dd, hn::LoadU(df, g_old + i)));
    const auto s = hn::Add(hn::LoadU(dd, sum + i), delta);
    hn::StoreU(s, dd, sum + i);
    hn::StoreU(fresh, df, g_old + i);
    hn::StoreU(hn::MulAdd(vneg_step, hn::DemoteTo(df, s), hn::LoadU(df, x_in + i)), df, x_out + i);
  }
  if (i < n) {
    // Fewer than `lanes` left: the sums in scalar code, the model update with the same
    // vector MulAdd as above (through a small buffer), so every element rounds alike.
    const hn::ScalableTag<float> d;
    HWY_ALIGN float demoted[hn::MaxLanes(d)];
    const std::size_t left = n - i;
    for (std::size_t j = 0; j < left; ++j) {
      sum[i + j] += static_cast<double>(g_new[i + j]) - static_cast<double>(g_old[i + j]);
      g_old[i + j] = g_new[i + j];
      demoted[j] = static_cast<float>(sum[i + j]);
    }
    const auto result = hn::MulAdd(hn::Set(d, -step), LoadTail(d, demoted, left, 0.0f),
                                   LoadTail(d, x_in + i, left, 0.0f));
    StoreTail(result, d, x_out + i, left);
  }
}

// The exact batched fold of k arrivals (docs/DESIGN.md §1) in one pass over sum and x: per lane,
// the k running sums S_1..S_k are formed in registers (each arrival's difference in double, as
// in ServerFold) and x_out = x_in - step * (S_1 + ... + S_k), in double, rounded once. Memory
// traffic per coordinate: 12 bytes per arrival (read g_new, read+write g_old) plus 24 for the
// batch (read+write sum, read x_in, write x_out), against 36 per arrival one by one.
void ServerFoldBatch(const float* const* g_new, float* const* g_old, std::size_t k, double* sum,
                     const float* x_in, float* x_out, float step, std::size_t n) {
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;
  const std::size_t lanes = hn::Lanes(dd);
  const auto vstep = hn::Set(dd, static_cast<double>(step));
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    auto s = hn::LoadU(dd, sum + i);
    auto total = hn::Zero(dd);
    for (std::size_t m = 0; m < k; ++m) {
      const auto fresh = hn::LoadU(df, g_new[m] + i);
      s = hn::Add(
          s, hn::Sub(hn::PromoteTo(dd, fresh), hn::PromoteTo(dd, hn::LoadU(df, g_old[m] + i))));
      hn::StoreU(fresh, df, g_old[m] + i);
      total = hn::Add(total, s);
    }
    hn::StoreU(s, dd, sum + i);
    const auto x = hn::NegMulAdd(vstep, total, hn::PromoteTo(dd, hn::LoadU(df, x_in + i)));
    hn::StoreU(hn::DemoteTo(df, x), df, x_out + i);
  }
  dude::kernels::detail::fold_batch_range(g_new, g_old, k, sum, x_in, x_out, step, i, n);
}

// The target this copy was compiled for: what dispatch actually selects.
std::int64_t CompiledTarget() { return HWY_TARGET; }

}  // namespace HWY_NAMESPACE
}  // namespace kernels
}  // namespace dude
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dude::kernels {

HWY_EXPORT(Dot);
HWY_EXPORT(Axpy);
HWY_EXPORT(Axpy4);
HWY_EXPORT(LogisticLossGrad);
HWY_EXPORT(Scale);
HWY_EXPORT(SparseDot);
HWY_EXPORT(SparseAxpy);
HWY_EXPORT(GatherRows);
HWY_EXPORT(ScatterRows);
HWY_EXPORT(AddRows);
HWY_EXPORT(Softmax);
HWY_EXPORT(SoftmaxXent);
HWY_EXPORT(ReluForward);
HWY_EXPORT(ReluBackward);
HWY_EXPORT(ServerFold);
HWY_EXPORT(ServerFoldBatch);
HWY_EXPORT(CompiledTarget);

float dot(const float* a, const float* b, std::size_t n) {
  return HWY_DYNAMIC_DISPATCH(Dot)(a, b, n);
}

void axpy(float alpha, const float* x, float* y, std::size_t n) {
  HWY_DYNAMIC_DISPATCH(Axpy)(alpha, x, y, n);
}

void axpy4(const float* alpha, const float* const* x, float* y, std::size_t n) {
  HWY_DYNAMIC_DISPATCH(Axpy4)(alpha, x, y, n);
}

double logistic_loss_grad(const float* z, const float* y, float scale, float* coef, std::size_t n) {
  return HWY_DYNAMIC_DISPATCH(LogisticLossGrad)(z, y, scale, coef, n);
}

void scale(float alpha, float* x, std::size_t n) { HWY_DYNAMIC_DISPATCH(Scale)(alpha, x, n); }

float sparse_dot(const std::uint32_t* idx, const float* val, std::size_t nnz, const float* dense) {
  return HWY_DYNAMIC_DISPATCH(SparseDot)(idx, val, nnz, dense);
}

void sparse_axpy(float alpha, const std::uint32_t* idx, const float* val, std::size_t nnz,
                 float* dense) {
  HWY_DYNAMIC_DISPATCH(SparseAxpy)(alpha, idx, val, nnz, dense);
}

void gather_rows(const std::uint32_t* idx, const float* val, std::size_t nnz, const float* rows,
                 std::size_t width, float* y) {
  HWY_DYNAMIC_DISPATCH(GatherRows)(idx, val, nnz, rows, width, y);
}

void scatter_rows(const std::uint32_t* idx, const float* val, std::size_t nnz, const float* x,
                  std::size_t width, float* rows) {
  HWY_DYNAMIC_DISPATCH(ScatterRows)(idx, val, nnz, x, width, rows);
}

void add_rows(float alpha, const std::uint32_t* idx, std::size_t count, const float* values,
              std::size_t width, float* dense) {
  HWY_DYNAMIC_DISPATCH(AddRows)(alpha, idx, count, values, width, dense);
}

double softmax_xent(float* z, std::size_t k, std::uint32_t label) {
  if (label >= k) throw std::out_of_range("softmax_xent: label out of range");
  return HWY_DYNAMIC_DISPATCH(SoftmaxXent)(z, k, label);
}

void softmax(float* z, std::size_t k) { HWY_DYNAMIC_DISPATCH(Softmax)(z, k); }

void relu_forward(float* x, std::size_t n) { HWY_DYNAMIC_DISPATCH(ReluForward)(x, n); }

void relu_backward(const float* activation, float* grad, std::size_t n) {
  HWY_DYNAMIC_DISPATCH(ReluBackward)(activation, grad, n);
}

void server_fold(const float* g_new, float* g_old, double* sum, const float* x_in, float* x_out,
                 float step, std::size_t n) {
  HWY_DYNAMIC_DISPATCH(ServerFold)(g_new, g_old, sum, x_in, x_out, step, n);
}

void server_fold_batch(const float* const* g_new, float* const* g_old, std::size_t k, double* sum,
                       const float* x_in, float* x_out, float step, std::size_t n) {
  HWY_DYNAMIC_DISPATCH(ServerFoldBatch)(g_new, g_old, k, sum, x_in, x_out, step, n);
}

std::vector<std::int64_t> available_targets() {
  // Computed once, before any force_target (which calls this first), because
  // SupportedTargets() reports the forced target alone while one is in force.
  static const std::vector<std::int64_t> targets = hwy::SupportedAndGeneratedTargets();
  return targets;
}

std::string target_name(std::int64_t target) { return hwy::TargetName(target); }

std::int64_t active_target() { return HWY_DYNAMIC_DISPATCH(CompiledTarget)(); }

void force_target(std::int64_t target) {
  const std::vector<std::int64_t> targets = available_targets();
  if (target != 0 && std::find(targets.begin(), targets.end(), target) == targets.end()) {
    // Dispatching to a target the CPU lacks would die on an illegal instruction.
    throw std::invalid_argument("force_target: " + target_name(target) +
                                " is not an available target");
  }
  hwy::SetSupportedTargetsForTest(target);
}

}  // namespace dude::kernels
#endif  // HWY_ONCE
