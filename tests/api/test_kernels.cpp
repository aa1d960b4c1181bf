// Every SIMD target compiled in and supported by this CPU, forced one at a time, against the
// plain-loop reference dude::kernels::scalar (and, where the reference itself could be
// wrong, against exact or long-double answers), on seeded random data, at sizes around
// every vector width and unroll boundary, from aligned and unaligned starting addresses.
//
// Tolerances are in units of u = 2^-24, the unit roundoff of float; each is derived next to
// its test from how the two implementations may legitimately differ (FMA or not, summation
// order, Highway's Exp against std::exp).

#include <catch2/catch.hpp>

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "dude/kernels.hpp"

namespace kn = dude::kernels;

namespace {

constexpr double kU = 0x1p-24;  // unit roundoff of float

// Around every vector width (4, 8, 16 floats), unroll factor and tail length.
const std::vector<std::size_t> kSizes = {0,  1,  2,  3,  7,   8,   15,   16,
                                         17, 31, 33, 64, 100, 255, 1000, 4097};
// Floats past a 64-byte boundary where the data starts: +1 and +3 misalign every vector
// width; 0 is the aligned case.
const std::vector<std::size_t> kOffsets = {0, 1, 3};

// Restores default dispatch on scope exit, so a failed REQUIRE cannot leave a target forced
// for the test cases that follow.
class ForcedTarget {
 public:
  explicit ForcedTarget(std::int64_t target) { kn::force_target(target); }
  ~ForcedTarget() { kn::force_target(0); }
  ForcedTarget(const ForcedTarget&) = delete;
  ForcedTarget& operator=(const ForcedTarget&) = delete;
};

// Runs `body` once per available target with dispatch forced to it.
template <class Body>
void for_each_target(const Body& body) {
  for (const std::int64_t target : kn::available_targets()) {
    INFO("target " << kn::target_name(target));
    const ForcedTarget forced(target);
    REQUIRE(kn::active_target() == target);
    body();
  }
}

// n elements starting `offset` elements past a 64-byte boundary, preceded by a guard zone
// that the tests check the kernels never write. The allocation ends exactly at the last
// element so that AddressSanitizer reports any access past the end (a trailing guard zone,
// when asked for, instead makes stray writes visible without a sanitizer).
template <class T>
class Buffer {
 public:
  static constexpr std::size_t kGuard = 16;
  static constexpr T kGuardValue = std::is_floating_point_v<T> ? T(-12345.25) : T(12345);

  Buffer(std::size_t n, std::size_t offset, std::size_t trailing_guard = 0)
      : lead_(kGuard + offset),
        n_(n),
        total_(lead_ + n + trailing_guard),
        storage_(static_cast<T*>(::operator new (total_ * sizeof(T), std::align_val_t{64}))) {
    std::fill(storage_.get(), storage_.get() + total_, kGuardValue);
  }

  T* data() { return storage_.get() + lead_; }
  const T* data() const { return storage_.get() + lead_; }
  T& operator[](std::size_t i) { return data()[i]; }
  const T& operator[](std::size_t i) const { return data()[i]; }
  std::vector<T> to_vector() const { return std::vector<T>(data(), data() + n_); }
  void assign(const std::vector<T>& values) { std::copy(values.begin(), values.end(), data()); }

  bool guards_intact() const {
    const auto intact = [](T v) { return v == kGuardValue; };
    return std::all_of(storage_.get(), storage_.get() + lead_, intact) &&
           std::all_of(storage_.get() + lead_ + n_, storage_.get() + total_, intact);
  }

 private:
  struct AlignedDelete {
    void operator()(T* p) const { ::operator delete (p, std::align_val_t{64}); }
  };
  std::size_t lead_, n_, total_;
  std::unique_ptr<T[], AlignedDelete> storage_;
};

std::vector<float> random_floats(std::mt19937& rng, std::size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Small integers: every product and partial sum of a few thousand of them is exact in float,
// so reductions must match exactly whatever their order.
std::vector<float> random_integers(std::mt19937& rng, std::size_t n, int lo, int hi) {
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(dist(rng));
  return v;
}

// nnz distinct indices below `dense_size`, ascending (a CSR row).
std::vector<std::uint32_t> random_indices(std::mt19937& rng, std::size_t nnz,
                                          std::size_t dense_size) {
  std::vector<std::uint32_t> all(dense_size);
  std::iota(all.begin(), all.end(), 0u);
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(nnz);
  std::sort(all.begin(), all.end());
  return all;
}

template <class T>
Buffer<T> make_buffer(const std::vector<T>& values, std::size_t offset) {
  Buffer<T> b(values.size(), offset);
  b.assign(values);
  return b;
}

// The first index where |actual - expected| > tolerance(i), or -1; NaN never passes.
template <class T, class Tolerance>
long first_mismatch(const T* actual, const std::vector<T>& expected, const Tolerance& tolerance) {
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double diff = std::fabs(static_cast<double>(actual[i]) - expected[i]);
    if (!(diff <= tolerance(i))) return static_cast<long>(i);
  }
  return -1;
}

template <class T>
bool bitwise_equal(const T* actual, const std::vector<T>& expected) {
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (std::memcmp(&actual[i], &expected[i], sizeof(T)) != 0) return false;
  }
  return true;
}

std::string describe(const float* actual, const std::vector<float>& expected, long i) {
  std::ostringstream out;
  out.precision(9);
  out << "element " << i << ": got " << actual[i] << ", reference " << expected[i];
  return out.str();
}

}  // namespace

TEST_CASE("kernels: targets can be listed, named and forced", "[kernels]") {
  const std::vector<std::int64_t> targets = kn::available_targets();
  REQUIRE_FALSE(targets.empty());
  std::string names;
  for (const std::int64_t t : targets) names += kn::target_name(t) + " ";
  INFO("available targets: " << names);
  // Shown in the test log so a run records what it covered.
  WARN("kernel targets tested: " << names);

  for (const std::int64_t t : targets) {
    CHECK(kn::target_name(t) != "Unknown");
    {
      const ForcedTarget forced(t);
      CHECK(kn::active_target() == t);
      // While one target is forced the list still names them all.
      CHECK(kn::available_targets() == targets);
    }
    CHECK(kn::active_target() == targets.front());
  }

  // A target outside the list (the lowest bit not in it) is refused, and dispatch
  // is left as it was.
  std::int64_t missing = 1;
  while (std::find(targets.begin(), targets.end(), missing) != targets.end()) missing <<= 1;
  CHECK_THROWS_AS(kn::force_target(missing), std::invalid_argument);
  CHECK(kn::active_target() == targets.front());
}

TEST_CASE("kernels: dot matches the reference", "[kernels]") {
  std::mt19937 rng(1);
  for_each_target([&] {
    for (const std::size_t n : kSizes) {
      for (const std::size_t offset : kOffsets) {
        INFO("n " << n << ", offset " << offset);
        const auto a = make_buffer(random_floats(rng, n, -1.0f, 1.0f), offset);
        const auto b = make_buffer(random_floats(rng, n, -1.0f, 1.0f), offset);
        const float ref = kn::scalar::dot(a.data(), b.data(), n);
        const float got = kn::dot(a.data(), b.data(), n);
        // The SIMD sum is a tree of depth at most n/4 + 8 (four chains of one-lane vectors
        // on the scalar target is the deepest), each level rounding by at most u relative to
        // sum |a_i b_i|; the reference (double, rounded once) adds u |ref|.
        double abs_sum = 0.0;
        for (std::size_t i = 0; i < n; ++i) abs_sum += std::fabs(double(a[i]) * b[i]);
        const double tolerance = (n / 4.0 + 8.0) * kU * abs_sum + kU * std::fabs(ref);
        INFO("simd " << got << ", reference " << ref);
        REQUIRE(std::fabs(double(got) - ref) <= tolerance);

        // Integers: exact, so a dropped or repeated element cannot hide in the tolerance.
        const auto ia = make_buffer(random_integers(rng, n, -8, 8), offset);
        const auto ib = make_buffer(random_integers(rng, n, -8, 8), offset);
        REQUIRE(kn::dot(ia.data(), ib.data(), n) == kn::scalar::dot(ia.data(), ib.data(), n));
      }
    }
    // dot(x, x): the same array as both operands.
    const auto x = make_buffer(random_integers(rng, 100, -3, 3), 1);
    REQUIRE(kn::dot(x.data(), x.data(), 100) == kn::scalar::dot(x.data(), x.data(), 100));
    REQUIRE(kn::dot(nullptr, nullptr, 0) == 0.0f);
  });
}

TEST_CASE("kernels: axpy and scale match the reference", "[kernels]") {
  std::mt19937 rng(2);
  for_each_target([&] {
    for (const std::size_t n : kSizes) {
      for (const std::size_t offset : kOffsets) {
        INFO("n " << n << ", offset " << offset);
        const float alpha = std::uniform_real_distribution<float>(-2.0f, 2.0f)(rng);
        const std::vector<float> x0 = random_floats(rng, n, -1.0f, 1.0f);
        const std::vector<float> y0 = random_floats(rng, n, -1.0f, 1.0f);

        const auto x = make_buffer(x0, offset);
        auto y = make_buffer(y0, offset);
        std::vector<float> y_ref = y0;
        kn::scalar::axpy(alpha, x0.data(), y_ref.data(), n);
        kn::axpy(alpha, x.data(), y.data(), n);
        // With FMA the target rounds y + alpha x once, the reference possibly twice (or the
        // other way round): each rounding is at most u (|alpha x| + |y|), so 4u covers both.
        const long bad = first_mismatch(y.data(), y_ref, [&](std::size_t i) {
          return 4.0 * kU * (std::fabs(double(alpha) * x0[i]) + std::fabs(double(y0[i])));
        });
        INFO((bad < 0 ? std::string() : describe(y.data(), y_ref, bad)));
        REQUIRE(bad < 0);
        REQUIRE(x.to_vector() == x0);

        // scale is one multiply in both: bit for bit.
        auto s = make_buffer(x0, offset);
        std::vector<float> s_ref = x0;
        kn::scalar::scale(alpha, s_ref.data(), n);
        kn::scale(alpha, s.data(), n);
        REQUIRE(bitwise_equal(s.data(), s_ref));
        REQUIRE((x.guards_intact() && y.guards_intact() && s.guards_intact()));
      }
    }
  });
}

TEST_CASE("kernels: axpy4 matches the reference", "[kernels]") {
  std::mt19937 rng(10);
  for_each_target([&] {
    for (const std::size_t n : kSizes) {
      for (const std::size_t offset : kOffsets) {
        INFO("n " << n << ", offset " << offset);
        // Four rows at different misalignments (offset + j).
        std::vector<std::vector<float>> rows0;
        std::vector<Buffer<float>> rows;
        for (std::size_t j = 0; j < 4; ++j) {
          rows0.push_back(random_floats(rng, n, -1.0f, 1.0f));
          rows.push_back(make_buffer(rows0.back(), offset + j));
        }
        const float* x[4] = {rows[0].data(), rows[1].data(), rows[2].data(), rows[3].data()};
        const float alpha[4] = {0.5f, -1.25f, 2.0f, -0.75f};
        const std::vector<float> y0 = random_floats(rng, n, -1.0f, 1.0f);
        auto y = make_buffer(y0, offset);
        std::vector<float> y_ref = y0;
        kn::axpy4(alpha, x, y.data(), n);
        kn::scalar::axpy4(alpha, x, y_ref.data(), n);
        // Four updates, each rounded at most twice (with or without FMA) relative to the
        // magnitudes summed so far: 8u of |y| + sum |alpha_j x_j| covers both orders.
        const long bad = first_mismatch(y.data(), y_ref, [&](std::size_t i) {
          double magnitude = std::fabs(double(y0[i]));
          for (std::size_t j = 0; j < 4; ++j)
            magnitude += std::fabs(double(alpha[j]) * rows0[j][i]);
          return 8.0 * kU * magnitude;
        });
        INFO((bad < 0 ? std::string() : describe(y.data(), y_ref, bad)));
        REQUIRE(bad < 0);
        REQUIRE(y.guards_intact());
        for (std::size_t j = 0; j < 4; ++j) REQUIRE(rows[j].to_vector() == rows0[j]);

        // Integers: exact, so a dropped or repeated row or element cannot hide.
        std::vector<Buffer<float>> irows;
        for (std::size_t j = 0; j < 4; ++j) {
          irows.push_back(make_buffer(random_integers(rng, n, -8, 8), offset));
        }
        const float* ix[4] = {irows[0].data(), irows[1].data(), irows[2].data(), irows[3].data()};
        const std::vector<float> iy0 = random_integers(rng, n, -8, 8);
        auto iy = make_buffer(iy0, offset);
        std::vector<float> iy_ref = iy0;
        const float ialpha[4] = {1.0f, -2.0f, 3.0f, 4.0f};
        kn::axpy4(ialpha, ix, iy.data(), n);
        kn::scalar::axpy4(ialpha, ix, iy_ref.data(), n);
        REQUIRE(bitwise_equal(iy.data(), iy_ref));
      }
    }
  });
}

TEST_CASE("kernels: logistic_loss_grad matches the reference", "[kernels]") {
  std::mt19937 rng(11);
  for_each_target([&] {
    for (const std::size_t n : kSizes) {
      for (const std::size_t offset : kOffsets) {
        INFO("n " << n << ", offset " << offset);
        // Margins over the whole useful range and beyond (exp(-|z|) underflows past 104).
        std::vector<float> z0 = random_floats(rng, n, -30.0f, 30.0f);
        if (n > 2) {
          z0[0] = 120.0f;
          z0[1] = -120.0f;
          z0[2] = 0.0f;
        }
        std::vector<float> y0(n);
        for (float& v : y0) v = static_cast<float>(rng() % 2);
        const auto z = make_buffer(z0, offset);
        const auto y = make_buffer(y0, offset);
        Buffer<float> coef(n, offset, Buffer<float>::kGuard);
        std::vector<float> coef_ref(n);
        const float scale = 1.0f / 32;
        const double loss = kn::logistic_loss_grad(z.data(), y.data(), scale, coef.data(), n);
        const double loss_ref =
            kn::scalar::logistic_loss_grad(z0.data(), y0.data(), scale, coef_ref.data(), n);
        // Highway's Exp and Log1p are within a few ulp; a float sum of n losses adds n u of
        // their total (losses are positive, so the total bounds every partial sum).
        INFO("loss " << loss << ", reference " << loss_ref);
        REQUIRE(std::fabs(loss - loss_ref) <= (n + 16.0) * kU * loss_ref + 1e-30);
        // Each coefficient within a few ulp of scale (sigmoid and y are in [0, 1]).
        const long bad =
            first_mismatch(coef.data(), coef_ref, [&](std::size_t) { return 8 * kU * scale; });
        INFO((bad < 0 ? std::string() : describe(coef.data(), coef_ref, bad)));
        REQUIRE(bad < 0);
        REQUIRE(coef.guards_intact());
      }
    }
  });
}

TEST_CASE("kernels: relu forward and backward match the reference bit for bit", "[kernels]") {
  std::mt19937 rng(3);
  for_each_target([&] {
    for (const std::size_t n : kSizes) {
      for (const std::size_t offset : kOffsets) {
        INFO("n " << n << ", offset " << offset);
        std::vector<float> v = random_floats(rng, n, -1.0f, 1.0f);
        // The edge cases of "> 0": both zeros and a NaN all become +0.
        if (n > 3) {
          v[0] = -0.0f;
          v[n / 2] = 0.0f;
          v[n - 1] = std::numeric_limits<float>::quiet_NaN();
        }
        auto x = make_buffer(v, offset);
        std::vector<float> x_ref = v;
        kn::scalar::relu_forward(x_ref.data(), n);
        kn::relu_forward(x.data(), n);
        REQUIRE(bitwise_equal(x.data(), x_ref));

        const std::vector<float> g0 = random_floats(rng, n, -1.0f, 1.0f);
        auto g = make_buffer(g0, offset);
        std::vector<float> g_ref = g0;
        kn::scalar::relu_backward(v.data(), g_ref.data(), n);
        const auto activation = make_buffer(v, offset);
        kn::relu_backward(activation.data(), g.data(), n);
        REQUIRE(bitwise_equal(g.data(), g_ref));
        REQUIRE((x.guards_intact() && g.guards_intact()));
      }
    }
  });
}

TEST_CASE("kernels: sparse dot and axpy match the reference", "[kernels]") {
  std::mt19937 rng(4);
  for_each_target([&] {
    for (const std::size_t nnz : kSizes) {
      for (const std::size_t offset : kOffsets) {
        INFO("nnz " << nnz << ", offset " << offset);
        const std::size_t dense_size = 3 * nnz + 50;
        const std::vector<std::uint32_t> idx0 = random_indices(rng, nnz, dense_size);
        const auto idx = make_buffer(idx0, offset);
        const auto val = make_buffer(random_floats(rng, nnz, -1.0f, 1.0f), offset);
        const std::vector<float> dense0 = random_floats(rng, dense_size, -1.0f, 1.0f);
        const auto dense = make_buffer(dense0, offset);

        const float ref = kn::scalar::sparse_dot(idx.data(), val.data(), nnz, dense.data());
        const float got = kn::sparse_dot(idx.data(), val.data(), nnz, dense.data());
        // As for dot: a summation tree of depth at most nnz/4 + 8.
        double abs_sum = 0.0;
        for (std::size_t j = 0; j < nnz; ++j) {
          abs_sum += std::fabs(double(val[j]) * dense0[idx0[j]]);
        }
        INFO("simd " << got << ", reference " << ref);
        REQUIRE(std::fabs(double(got) - ref) <=
                (nnz / 4.0 + 8.0) * kU * abs_sum + kU * std::fabs(ref));

        const auto ival = make_buffer(random_integers(rng, nnz, -8, 8), offset);
        const auto idense = make_buffer(random_integers(rng, dense_size, -8, 8), offset);
        REQUIRE(kn::sparse_dot(idx.data(), ival.data(), nnz, idense.data()) ==
                kn::scalar::sparse_dot(idx.data(), ival.data(), nnz, idense.data()));

        const float alpha = std::uniform_real_distribution<float>(-2.0f, 2.0f)(rng);
        auto target = make_buffer(dense0, offset);
        std::vector<float> target_ref = dense0;
        kn::scalar::sparse_axpy(alpha, idx.data(), val.data(), nnz, target_ref.data());
        kn::sparse_axpy(alpha, idx.data(), val.data(), nnz, target.data());
        // Per touched element as for axpy; untouched elements must stay bit for bit (the
        // tolerance is 0 there, as |alpha x| is 0).
        std::vector<double> alpha_x(dense_size, 0.0);
        for (std::size_t j = 0; j < nnz; ++j) alpha_x[idx0[j]] = std::fabs(double(alpha) * val[j]);
        const long bad = first_mismatch(target.data(), target_ref, [&](std::size_t i) {
          return alpha_x[i] == 0.0 ? 0.0 : 4.0 * kU * (alpha_x[i] + std::fabs(double(dense0[i])));
        });
        INFO((bad < 0 ? std::string() : describe(target.data(), target_ref, bad)));
        REQUIRE(bad < 0);
        REQUIRE((idx.guards_intact() && target.guards_intact()));
      }
    }
  });
}

// The row kernels promise axpy's rounding row after row, so each target must equal that
// target's own axpy sequence bit for bit, and the reference within axpy's tolerance per row.
TEST_CASE("kernels: gather, scatter and add of rows match axpy row by row", "[kernels]") {
  std::mt19937 rng(11);
  for_each_target([&] {
    for (const std::size_t width :
         {std::size_t{1}, std::size_t{5}, std::size_t{12}, std::size_t{16}, std::size_t{33}}) {
      for (const std::size_t nnz : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
        INFO("width " << width << ", nnz " << nnz);
        const std::size_t features = 3 * nnz + 4;
        const std::vector<std::uint32_t> idx = random_indices(rng, nnz, features);
        const std::vector<float> val = random_floats(rng, nnz, -1.0f, 1.0f);
        const std::vector<float> rows0 = random_floats(rng, features * width, -1.0f, 1.0f);
        const std::vector<float> x = random_floats(rng, width, -1.0f, 1.0f);
        // The reference's sum of |terms| per element bounds every rounding it may differ by.
        const double bound = 4.0 * kU * static_cast<double>(nnz + 1) * 2.0;

        Buffer<float> y(width, 1, 16);
        y.assign(x);
        std::vector<float> y_axpy = x, y_ref = x;
        for (std::size_t j = 0; j < nnz; ++j) {
          kn::axpy(val[j], rows0.data() + idx[j] * width, y_axpy.data(), width);
        }
        kn::scalar::gather_rows(idx.data(), val.data(), nnz, rows0.data(), width, y_ref.data());
        kn::gather_rows(idx.data(), val.data(), nnz, rows0.data(), width, y.data());
        REQUIRE(bitwise_equal(y.data(), y_axpy));
        REQUIRE(first_mismatch(y.data(), y_ref, [&](std::size_t) { return bound; }) < 0);
        REQUIRE(y.guards_intact());

        // scatter_rows into the rows; add_rows of whole rows.
        {
          Buffer<float> target(features * width, 3, 16);
          target.assign(rows0);
          std::vector<float> by_axpy = rows0, by_ref = rows0;
          for (std::size_t j = 0; j < nnz; ++j) {
            kn::axpy(val[j], x.data(), by_axpy.data() + idx[j] * width, width);
          }
          kn::scalar::scatter_rows(idx.data(), val.data(), nnz, x.data(), width, by_ref.data());
          kn::scatter_rows(idx.data(), val.data(), nnz, x.data(), width, target.data());
          REQUIRE(bitwise_equal(target.data(), by_axpy));
          REQUIRE(first_mismatch(target.data(), by_ref, [&](std::size_t) { return bound; }) < 0);
          REQUIRE(target.guards_intact());
        }
        const std::vector<float> values = random_floats(rng, nnz * width, -1.0f, 1.0f);
        const float alpha = -0.75f;
        Buffer<float> dense(features * width, 0, 16);
        dense.assign(rows0);
        std::vector<float> dense_axpy = rows0, dense_ref = rows0;
        for (std::size_t i = 0; i < nnz; ++i) {
          kn::axpy(alpha, values.data() + i * width, dense_axpy.data() + idx[i] * width, width);
        }
        kn::scalar::add_rows(alpha, idx.data(), nnz, values.data(), width, dense_ref.data());
        kn::add_rows(alpha, idx.data(), nnz, values.data(), width, dense.data());
        REQUIRE(bitwise_equal(dense.data(), dense_axpy));
        REQUIRE(first_mismatch(dense.data(), dense_ref, [&](std::size_t) { return bound; }) < 0);
        REQUIRE(dense.guards_intact());
      }
    }
  });
}

TEST_CASE("kernels: sparse dot handles indices at and above 2^31", "[kernels]") {
  // Gathers take signed 32-bit indices; the kernel must route larger ones around them. A
  // dense vector that large (8 GiB) is reserved, not committed: only touched pages use
  // memory, and they read as zeros until written.
  constexpr std::size_t dense_size = (std::size_t{1} << 31) + (std::size_t{1} << 20);
  constexpr std::size_t bytes = dense_size * sizeof(float);
  void* mapping = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapping == MAP_FAILED) {
    FAIL("cannot reserve 8 GiB of address space (is ulimit -v set?)");
  }
  const auto unmap = [](float* p) { munmap(p, bytes); };
  const std::unique_ptr<float, decltype(unmap)> dense(static_cast<float*>(mapping), unmap);
  // 64 indices straddling 2^31 with every vector width, some below and some above; small
  // integer values, so every sum is exact.
  std::vector<std::uint32_t> idx;
  for (std::uint32_t j = 0; j < 64; ++j) idx.push_back(j < 40 ? 7 * j : (1u << 31) - 40 + 9 * j);
  std::vector<float> val(idx.size());
  for (std::size_t j = 0; j < idx.size(); ++j) {
    val[j] = static_cast<float>(j % 5) - 2.0f;
    dense.get()[idx[j]] = static_cast<float>(j % 7) - 3.0f;
  }
  for_each_target([&] {
    for (std::size_t start = 0; start < 8; ++start) {
      INFO("start " << start);
      double exact = 0.0;
      for (std::size_t j = start; j < idx.size(); ++j) exact += val[j] * dense.get()[idx[j]];
      REQUIRE(exact != 0.0);
      REQUIRE(kn::sparse_dot(idx.data() + start, val.data() + start, idx.size() - start,
                             dense.get()) == exact);
    }
  });
}

namespace {

// -log softmax(z)[label] in long double, from scratch.
long double reference_loss(const std::vector<float>& z, std::size_t label) {
  const long double max = *std::max_element(z.begin(), z.end());
  long double sum = 0.0L;
  for (const float v : z) sum += std::exp(static_cast<long double>(v) - max);
  return std::log(sum) - (static_cast<long double>(z[label]) - max);
}

// Softmax outputs: exp differs by at most 1 ulp (2u relative) in each implementation, the
// double sum and the float reciprocal by about as much again, the final multiply by u:
// 16u relative covers it; the absolute term only matters for outputs in the subnormal range.
double softmax_tolerance(double p) { return 16.0 * kU * std::fabs(p) + 1e-37; }

}  // namespace

TEST_CASE("kernels: softmax and softmax_xent match the reference", "[kernels]") {
  std::mt19937 rng(5);
  for_each_target([&] {
    for (const std::size_t k : kSizes) {
      for (const std::size_t offset : kOffsets) {
        for (const float spread : {1.0f, 8.0f, 1e4f}) {
          INFO("k " << k << ", offset " << offset << ", logits in +-" << spread);
          const std::vector<float> z0 = random_floats(rng, k, -spread, spread);

          auto p = make_buffer(z0, offset);
          std::vector<float> p_ref = z0;
          kn::scalar::softmax(p_ref.data(), k);
          kn::softmax(p.data(), k);
          long bad = first_mismatch(p.data(), p_ref,
                                    [&](std::size_t i) { return softmax_tolerance(p_ref[i]); });
          INFO((bad < 0 ? std::string() : describe(p.data(), p_ref, bad)));
          REQUIRE(bad < 0);
          if (k != 0) {
            const double total = std::accumulate(p.data(), p.data() + k, 0.0);
            REQUIRE(std::fabs(total - 1.0) <= (k + 16.0) * kU);
          }
          REQUIRE(p.guards_intact());

          if (k == 0) {
            float none = 0.0f;
            REQUIRE_THROWS_AS(kn::softmax_xent(&none, 0, 0), std::out_of_range);
            continue;
          }
          const auto label = std::uniform_int_distribution<std::uint32_t>(
              0, static_cast<std::uint32_t>(k - 1))(rng);
          auto g = make_buffer(z0, offset);
          std::vector<float> g_ref = z0;
          const double loss_ref = kn::scalar::softmax_xent(g_ref.data(), k, label);
          const double loss = kn::softmax_xent(g.data(), k, label);
          // The loss is log(sum) - (z_label - max); only the sum carries error (2u relative
          // from exp), so both must be within 4u of the long double answer absolutely.
          const long double exact = reference_loss(z0, label);
          INFO("loss " << loss << ", scalar " << loss_ref << ", long double " << double(exact));
          REQUIRE(std::isfinite(loss));
          REQUIRE(std::fabs(loss - exact) <= 4.0 * kU + 1e-12 * std::fabs(double(exact)));
          REQUIRE(std::fabs(loss_ref - exact) <= 4.0 * kU + 1e-12 * std::fabs(double(exact)));
          // The gradient is softmax - onehot: the softmax tolerance plus the rounding of
          // p - 1 at the label.
          bad = first_mismatch(g.data(), g_ref, [&](std::size_t i) {
            return i == label ? softmax_tolerance(g_ref[i] + 1.0) + kU
                              : softmax_tolerance(g_ref[i]);
          });
          INFO((bad < 0 ? std::string() : describe(g.data(), g_ref, bad)));
          REQUIRE(bad < 0);
          REQUIRE(std::all_of(g.data(), g.data() + k, [](float v) { return std::isfinite(v); }));
          REQUIRE_THROWS_AS(kn::softmax_xent(g.data(), k, static_cast<std::uint32_t>(k)),
                            std::out_of_range);
          REQUIRE(g.guards_intact());
        }
      }
    }
  });
}

TEST_CASE("kernels: softmax_xent with huge logits stays finite and exact", "[kernels]") {
  for_each_target([&] {
    // One logit 1e4 above the rest: p = (1, 0, ...) and the loss is 0 for that label and
    // 1e4 for the others (exp(-1e4) underflows, so the sum is exactly 1).
    for (const std::size_t k : {std::size_t{2}, std::size_t{10}, std::size_t{33}}) {
      for (std::uint32_t label = 0; label < 2; ++label) {
        std::vector<float> z(k, -5000.0f);
        z[0] = 5000.0f;
        const double loss = kn::softmax_xent(z.data(), k, label);
        CHECK(loss == (label == 0 ? 0.0 : 1e4));
        CHECK(z[0] == (label == 0 ? 0.0f : 1.0f));
        CHECK(z[1] == (label == 1 ? -1.0f : 0.0f));
      }
    }
    // All logits 1e4 and equal: uniform.
    std::vector<float> z(10, 1e4f);
    const double loss = kn::softmax_xent(z.data(), z.size(), 3);
    CHECK(loss == Approx(std::log(10.0)).epsilon(1e-7));
    CHECK(z[0] == Approx(0.1).epsilon(1e-6));
  });
}

TEST_CASE("kernels: server_fold matches the reference", "[kernels]") {
  std::mt19937 rng(6);
  for_each_target([&] {
    for (const std::size_t n : kSizes) {
      for (const std::size_t offset : kOffsets) {
        INFO("n " << n << ", offset " << offset);
        const float step = 0.01f;
        const std::vector<float> g_new0 = random_floats(rng, n, -1.0f, 1.0f);
        const std::vector<float> g_old0 = random_floats(rng, n, -1.0f, 1.0f);
        const std::vector<float> x0 = random_floats(rng, n, -1.0f, 1.0f);
        std::vector<double> sum0(n);
        for (double& s : sum0) s = std::uniform_real_distribution<double>(-8.0, 8.0)(rng);

        const auto g_new = make_buffer(g_new0, offset);
        auto g_old = make_buffer(g_old0, offset);
        auto sum = make_buffer(sum0, offset);
        auto x = make_buffer(x0, offset);
        std::vector<float> g_old_ref = g_old0, x_ref = x0;
        std::vector<double> sum_ref = sum0;
        kn::scalar::server_fold(g_new0.data(), g_old_ref.data(), sum_ref.data(), x_ref.data(),
                                x_ref.data(), step, n);
        kn::server_fold(g_new.data(), g_old.data(), sum.data(), x.data(), x.data(), step, n);

        // Same double operations in the same order: the sum matches bit for bit.
        REQUIRE(bitwise_equal(sum.data(), sum_ref));
        REQUIRE(bitwise_equal(g_old.data(), g_new0));
        REQUIRE(g_new.to_vector() == g_new0);
        // x + (-step) * float(sum) in float, fused (SIMD targets with FMA) or not (the
        // reference): the product's rounding (half an ulp of the larger operand) plus the
        // sum's (half an ulp of the result) stay within two ulps of the larger operand.
        const long bad = first_mismatch(x.data(), x_ref, [&](std::size_t i) {
          const float larger =
              std::max(std::fabs(x0[i]), std::fabs(step * static_cast<float>(sum_ref[i])));
          return 2 * (double(std::nextafter(larger, 1e30f)) - larger);
        });
        INFO((bad < 0 ? std::string() : describe(x.data(), x_ref, bad)));
        REQUIRE(bad < 0);
        REQUIRE((g_old.guards_intact() && sum.guards_intact() && x.guards_intact()));
      }
    }
  });
}

TEST_CASE("kernels: server_fold is exact on integer gradients and keeps sum = table sum",
          "[kernels]") {
  // A server with `workers` table rows folds `folds` random arrivals. With integer gradients
  // and a power-of-two step every intermediate is exact, so the sum equals the sum of the
  // table and x its closed form exactly, on every target and from every offset.
  constexpr std::size_t kWorkers = 5;
  constexpr int kFolds = 300;
  constexpr float kStep = 0.25f;
  for_each_target([&] {
    for (const std::size_t n : std::vector<std::size_t>{1, 17, 100, 4097}) {
      for (const std::size_t offset : kOffsets) {
        INFO("n " << n << ", offset " << offset);
        std::mt19937 rng(static_cast<unsigned>(7 + n + offset));
        std::vector<Buffer<float>> table;
        for (std::size_t w = 0; w < kWorkers; ++w) {
          table.emplace_back(n, offset);
          std::fill(table.back().data(), table.back().data() + n, 0.0f);
        }
        Buffer<double> sum(n, offset);
        std::fill(sum.data(), sum.data() + n, 0.0);
        Buffer<float> x(n, offset);
        std::fill(x.data(), x.data() + n, 1000.0f);
        // x_i = 1000 - step * (sum after fold 1 + sum after fold 2 + ...), in exact integers.
        std::vector<std::int64_t> sum_of_sums(n, 0);

        std::uniform_int_distribution<std::size_t> pick(0, kWorkers - 1);
        for (int t = 0; t < kFolds; ++t) {
          const std::size_t w = pick(rng);
          const auto g_new = make_buffer(random_integers(rng, n, -50, 50), offset);
          kn::server_fold(g_new.data(), table[w].data(), sum.data(), x.data(), x.data(), kStep, n);
          for (std::size_t i = 0; i < n; ++i) sum_of_sums[i] += static_cast<std::int64_t>(sum[i]);
        }
        for (std::size_t i = 0; i < n; ++i) {
          double table_sum = 0.0;
          for (std::size_t w = 0; w < kWorkers; ++w) table_sum += table[w][i];
          INFO("element " << i);
          REQUIRE(sum[i] == table_sum);
          REQUIRE(double(x[i]) == 1000.0 - 0.25 * static_cast<double>(sum_of_sums[i]));
        }
      }
    }
  });
}

TEST_CASE("kernels: server_fold sum tracks the table sum with real-valued gradients", "[kernels]") {
  // Real-valued gradients of mixed magnitudes (|g| from 2^-20 to 16). Each fold rounds
  // twice in double: the difference (exact unless the exponents are over 29 apart; then
  // off by at most 2^-53 of it, below 2 * 16) and the running sum (at most 2^-53 of it, below
  // workers * 16): the table sum is kept to within folds * 2^-53 * (workers + 2) * 16.
  constexpr std::size_t kWorkers = 8;
  constexpr int kFolds = 2000;
  constexpr std::size_t kN = 37;
  std::mt19937 rng(8);
  for_each_target([&] {
    std::vector<std::vector<float>> table(kWorkers, std::vector<float>(kN, 0.0f));
    std::vector<double> sum(kN, 0.0);
    std::vector<float> x(kN, 0.0f);
    std::uniform_int_distribution<std::size_t> pick(0, kWorkers - 1);
    std::uniform_real_distribution<float> exponent(-20.0f, 4.0f);
    for (int t = 0; t < kFolds; ++t) {
      std::vector<float> g = random_floats(rng, kN, -1.0f, 1.0f);
      for (float& v : g) v *= std::exp2(exponent(rng));  // |g| up to 16, down to 2^-20
      kn::server_fold(g.data(), table[pick(rng)].data(), sum.data(), x.data(), x.data(), 1e-3f, kN);
    }
    for (std::size_t i = 0; i < kN; ++i) {
      long double exact = 0.0L;
      for (std::size_t w = 0; w < kWorkers; ++w) exact += table[w][i];
      INFO("element " << i << ": sum " << sum[i] << ", table sum " << double(exact));
      REQUIRE(std::fabs(static_cast<long double>(sum[i]) - exact) <=
              kFolds * 0x1p-53 * (kWorkers + 2) * 16.0);
    }
  });
}

TEST_CASE("kernels: no writes past the end", "[kernels]") {
  // The main tests end their buffers at the last element for the sanitizers; here a guard
  // zone after the end catches stray tail writes without one.
  std::mt19937 rng(9);
  constexpr std::size_t kTrailing = 64;
  const auto filled = [&](std::size_t n, std::size_t offset) {
    Buffer<float> b(n, offset, kTrailing);
    b.assign(random_floats(rng, n, -1.0f, 1.0f));
    return b;
  };
  for_each_target([&] {
    for (const std::size_t n : kSizes) {
      for (const std::size_t offset : kOffsets) {
        INFO("n " << n << ", offset " << offset);
        auto a = filled(n, offset);
        auto b = filled(n, offset);
        kn::axpy(0.5f, a.data(), b.data(), n);
        kn::scale(0.5f, b.data(), n);
        kn::relu_forward(b.data(), n);
        kn::relu_backward(a.data(), b.data(), n);
        kn::softmax(b.data(), n);
        if (n != 0) kn::softmax_xent(a.data(), n, static_cast<std::uint32_t>(n - 1));
        auto g_old = filled(n, offset);
        Buffer<double> sum(n, offset, kTrailing);
        std::fill(sum.data(), sum.data() + n, 0.0);
        kn::server_fold(a.data(), g_old.data(), sum.data(), b.data(), b.data(), 0.1f, n);
        std::vector<std::uint32_t> idx(n);
        std::iota(idx.begin(), idx.end(), 0u);
        kn::sparse_axpy(0.5f, idx.data(), a.data(), n, b.data());
        REQUIRE((a.guards_intact() && b.guards_intact() && g_old.guards_intact() &&
                 sum.guards_intact()));
      }
    }
  });
}

TEST_CASE("kernels: server_fold_batch matches the reference and one-by-one folding", "[kernels]") {
  std::mt19937 rng(8);
  for_each_target([&] {
    for (const std::size_t n : kSizes) {
      for (const std::size_t k : {std::size_t{1}, std::size_t{2}, std::size_t{5}}) {
        INFO("n " << n << ", k " << k);
        const float step = 0.01f;
        std::vector<std::vector<float>> fresh, table;
        for (std::size_t m = 0; m < k; ++m) {
          fresh.push_back(random_floats(rng, n, -1.0f, 1.0f));
          table.push_back(random_floats(rng, n, -1.0f, 1.0f));
        }
        const std::vector<float> x0 = random_floats(rng, n, -1.0f, 1.0f);
        std::vector<double> sum0(n);
        for (double& s : sum0) s = std::uniform_real_distribution<double>(-8.0, 8.0)(rng);

        auto run = [&](auto&& fold) {
          std::vector<std::vector<float>> t = table;
          std::vector<const float*> g;
          std::vector<float*> old;
          for (std::size_t m = 0; m < k; ++m) {
            g.push_back(fresh[m].data());
            old.push_back(t[m].data());
          }
          std::vector<double> sum = sum0;
          std::vector<float> x(n);
          fold(g.data(), old.data(), sum.data(), x.data());
          for (std::size_t m = 0; m < k; ++m) REQUIRE(t[m] == fresh[m]);
          return std::make_pair(sum, x);
        };
        const auto simd = run([&](const float* const* g, float* const* old, double* sum, float* x) {
          kn::server_fold_batch(g, old, k, sum, x0.data(), x, step, n);
        });
        const auto reference =
            run([&](const float* const* g, float* const* old, double* sum, float* x) {
              kn::scalar::server_fold_batch(g, old, k, sum, x0.data(), x, step, n);
            });
        const auto sequential =
            run([&](const float* const* g, float* const* old, double* sum, float* x) {
              std::copy(x0.begin(), x0.end(), x);
              for (std::size_t m = 0; m < k; ++m) kn::server_fold(g[m], old[m], sum, x, x, step, n);
            });
        // The sums are the same double operations in the same order in all three.
        REQUIRE(simd.first == reference.first);
        REQUIRE(simd.first == sequential.first);
        for (std::size_t i = 0; i < n; ++i) {
          // SIMD and reference: the same double arithmetic, fused or not, rounded once.
          REQUIRE(std::fabs(simd.second[i] - reference.second[i]) <=
                  2e-7f * (1.0f + std::fabs(reference.second[i])));
          // One by one rounds x to float k times: within k float roundings of |x| + step*|S|.
          REQUIRE(std::fabs(simd.second[i] - sequential.second[i]) <=
                  static_cast<float>(k) * 2.4e-7f * (std::fabs(x0[i]) + 1.0f));
        }
      }
    }
  });
}

TEST_CASE("kernels: matrix products match the reference on every target", "[kernels][gemm]") {
  std::mt19937 rng(9);
  // Around Eigen's register blocks (4, 8, 12 rows; 8, 16 columns), the MLP's shapes (batch 32,
  // 784 inputs, 128 hidden, 10 classes) and the empty product.
  const std::vector<std::size_t> dims = {0, 1, 3, 10, 17, 32, 128};
  const std::vector<std::size_t> inner = {0, 1, 5, 32, 129, 784};
  enum class Op { NN, TN, NT };
  for_each_target([&] {
    INFO("products built for " << kn::gemm_isa_name());
    for (const Op op : {Op::NN, Op::TN, Op::NT}) {
      for (const std::size_t m : dims) {
        for (const std::size_t n : dims) {
          for (const std::size_t k : inner) {
            INFO("op " << static_cast<int>(op) << ", m " << m << ", n " << n << ", k " << k);
            const std::vector<float> a = random_floats(rng, m * k, -1.0f, 1.0f);
            const std::vector<float> b = random_floats(rng, k * n, -1.0f, 1.0f);
            Buffer<float> c(m * n, 1, Buffer<float>::kGuard);
            std::vector<float> expected(m * n), magnitude(m * n);
            const auto abs_of = [](std::vector<float> v) {
              for (float& x : v) x = std::fabs(x);
              return v;
            };
            const std::vector<float> abs_a = abs_of(a), abs_b = abs_of(b);
            switch (op) {
              case Op::NN:
                kn::gemm_nn(m, n, k, a.data(), b.data(), c.data());
                kn::scalar::gemm_nn(m, n, k, a.data(), b.data(), expected.data());
                kn::scalar::gemm_nn(m, n, k, abs_a.data(), abs_b.data(), magnitude.data());
                break;
              case Op::TN:
                kn::gemm_tn(m, n, k, a.data(), b.data(), c.data());
                kn::scalar::gemm_tn(m, n, k, a.data(), b.data(), expected.data());
                kn::scalar::gemm_tn(m, n, k, abs_a.data(), abs_b.data(), magnitude.data());
                break;
              case Op::NT:
                kn::gemm_nt(m, n, k, a.data(), b.data(), c.data());
                kn::scalar::gemm_nt(m, n, k, a.data(), b.data(), expected.data());
                kn::scalar::gemm_nt(m, n, k, abs_a.data(), abs_b.data(), magnitude.data());
                break;
            }
            // A float sum of k products, in any order, fused or not, is within k * u of the
            // sum of their magnitudes; the reference (summed in double) adds one rounding.
            const long bad = first_mismatch(c.data(), expected, [&](std::size_t i) {
              return (static_cast<double>(k) + 2) * kU * magnitude[i];
            });
            INFO((bad < 0 ? std::string("all match") : describe(c.data(), expected, bad)));
            REQUIRE(bad < 0);
            REQUIRE(c.guards_intact());
          }
        }
      }
    }
  });
}

TEST_CASE("kernels: each target picks the widest matrix products it supports", "[kernels][gemm]") {
  for_each_target([&] {
    const std::string target = kn::target_name(kn::active_target());
    const std::string isa = kn::gemm_isa_name();
    if (target.rfind("AVX3", 0) == 0) {
      CHECK(isa == "AVX-512");
    } else if (target == "AVX2") {
      CHECK(isa == "AVX2+FMA");
    } else {
      CHECK(isa == "baseline");
    }
  });
}
