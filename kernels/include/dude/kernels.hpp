// dude/kernels.hpp: the numeric kernels every objective and the server are built on.
//
// The interface holds no SIMD types. Each function dispatches at run time to the best
// instruction set the CPU supports among those compiled in (Google Highway's dynamic
// dispatch); `dude::kernels::scalar` holds the plain-loop reference implementation that the
// tests compare every compiled target against. All functions are thread-safe and allocate
// nothing (except the matrix products, whose Eigen blocking may take heap scratch for large
// operands). Pointers may be unaligned; `n` may be zero.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dude::kernels {

/// Sum of a[i] * b[i] for i < n.
float dot(const float* a, const float* b, std::size_t n);
/// y[i] += alpha * x[i].
void axpy(float alpha, const float* x, float* y, std::size_t n);
/// y[i] += alpha[0] x[0][i] + ... + alpha[3] x[3][i]: four axpys in one pass over y.
void axpy4(const float* alpha, const float* const* x, float* y, std::size_t n);
/// Binary logistic regression on margins z[i] with labels y[i] in {0, 1}: sets
/// coef[i] = scale * (sigmoid(z[i]) - y[i]) (the loss's derivative in z, scaled) and returns the
/// sum of the losses log(1 + exp(-z)) (y = 1) or log(1 + exp(z)) (y = 0), without overflow.
double logistic_loss_grad(const float* z, const float* y, float scale, float* coef, std::size_t n);
/// x[i] *= alpha.
void scale(float alpha, float* x, std::size_t n);
/// Sum of val[j] * dense[idx[j]] for j < nnz (a CSR row against a dense vector).
float sparse_dot(const std::uint32_t* idx, const float* val, std::size_t nnz, const float* dense);
/// dense[idx[j]] += alpha * val[j] for j < nnz. Indices must be distinct (a CSR row).
void sparse_axpy(float alpha, const std::uint32_t* idx, const float* val, std::size_t nnz,
                 float* dense);
/// Rows of `width` floats (a sparse first layer, one row per feature), three ways, each
/// rounding every element exactly as axpy does, row after row in the order given:
///   gather_rows:  y[k] += sum_j val[j] rows[idx[j] width + k]   (a CSR row times the rows);
///   scatter_rows: rows[idx[j] width + k] += val[j] x[k]   (its gradient; the idx[j] distinct);
///   add_rows:     dense[idx[i] width + k] += alpha values[i width + k]   (i < count; distinct).
void gather_rows(const std::uint32_t* idx, const float* val, std::size_t nnz, const float* rows,
                 std::size_t width, float* y);
void scatter_rows(const std::uint32_t* idx, const float* val, std::size_t nnz, const float* x,
                  std::size_t width, float* rows);
void add_rows(float alpha, const std::uint32_t* idx, std::size_t count, const float* values,
              std::size_t width, float* dense);
/// Softmax cross-entropy on one row of k logits, in place (throws std::out_of_range if
/// label >= k): on return z holds
/// softmax(z) - onehot(label) (the gradient of the loss with respect to the logits) and the
/// function returns -log softmax(z)[label], computed stably (max subtracted).
double softmax_xent(float* z, std::size_t k, std::uint32_t label);
/// Softmax probabilities of one row of k logits, in place.
void softmax(float* z, std::size_t k);
/// x[i] = max(x[i], 0).
void relu_forward(float* x, std::size_t n);
/// grad[i] = activation[i] > 0 ? grad[i] : 0, where activation is the ReLU's output.
void relu_backward(const float* activation, float* grad, std::size_t n);
/// The DuDe server fold for one arrival, in one pass over memory:
///   sum[i] += g_new[i] - g_old[i];  g_old[i] = g_new[i];  x_out[i] = x_in[i] - step * sum[i].
/// The running sum is kept in double (the difference is taken in double, exactly) so that
/// millions of folds do not drift. The model update rounds exactly like axpy(-step, ...) on
/// float(sum). x_out may equal x_in.
void server_fold(const float* g_new, float* g_old, double* sum, const float* x_in, float* x_out,
                 float step, std::size_t n);

/// The exact batched fold of k arrivals in one pass (docs/DESIGN.md §1): for m = 1..k in
/// order, sum += g_new[m] - g_old[m] and g_old[m] = g_new[m]; then
/// x_out = x_in - step * (S_1 + ... + S_k), S_m being the sum after the m-th arrival. Equals k
/// server_fold calls up to float rounding of x. The g_old arrays must not overlap (one per
/// worker); x_out may equal x_in.
void server_fold_batch(const float* const* g_new, float* const* g_old, std::size_t k, double* sum,
                       const float* x_in, float* x_out, float step, std::size_t n);

/// Dense row-major matrix products, C (m x n, contiguous rows) overwritten; sizes may be zero.
///   gemm_nn: C = A B    with A stored m x k and B stored k x n;
///   gemm_tn: C = A^T B  with A stored k x m and B stored k x n;
///   gemm_nt: C = A B^T  with A stored m x k and B stored n x k.
/// Built with Eigen once per instruction set (baseline, AVX2+FMA, AVX-512) and picked by the
/// active target; C must not overlap A or B.
void gemm_nn(std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b, float* c);
void gemm_tn(std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b, float* c);
void gemm_nt(std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b, float* c);
/// The instruction set the matrix products use now ("AVX-512", "AVX2+FMA" or "baseline").
std::string gemm_isa_name();

/// The plain-loop references, same contracts as above.
namespace scalar {
float dot(const float* a, const float* b, std::size_t n);
void axpy(float alpha, const float* x, float* y, std::size_t n);
void axpy4(const float* alpha, const float* const* x, float* y, std::size_t n);
double logistic_loss_grad(const float* z, const float* y, float scale, float* coef, std::size_t n);
void scale(float alpha, float* x, std::size_t n);
float sparse_dot(const std::uint32_t* idx, const float* val, std::size_t nnz, const float* dense);
void sparse_axpy(float alpha, const std::uint32_t* idx, const float* val, std::size_t nnz,
                 float* dense);
void gather_rows(const std::uint32_t* idx, const float* val, std::size_t nnz, const float* rows,
                 std::size_t width, float* y);
void scatter_rows(const std::uint32_t* idx, const float* val, std::size_t nnz, const float* x,
                  std::size_t width, float* rows);
void add_rows(float alpha, const std::uint32_t* idx, std::size_t count, const float* values,
              std::size_t width, float* dense);
double softmax_xent(float* z, std::size_t k, std::uint32_t label);
void softmax(float* z, std::size_t k);
void relu_forward(float* x, std::size_t n);
void relu_backward(const float* activation, float* grad, std::size_t n);
void server_fold(const float* g_new, float* g_old, double* sum, const float* x_in, float* x_out,
                 float step, std::size_t n);
void server_fold_batch(const float* const* g_new, float* const* g_old, std::size_t k, double* sum,
                       const float* x_in, float* x_out, float step, std::size_t n);
void gemm_nn(std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b, float* c);
void gemm_tn(std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b, float* c);
void gemm_nt(std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b, float* c);
}  // namespace scalar

/// The SIMD targets compiled into this build that the running CPU supports, best first,
/// as opaque ids for `force_target` (for tests and benchmarks).
std::vector<std::int64_t> available_targets();
/// Human-readable name of a target id ("AVX3", "AVX2", "SSE4", "EMU128" ...).
std::string target_name(std::int64_t target);
/// The target the dispatched functions use now.
std::int64_t active_target();
/// Restricts dispatch to one target from `available_targets()`; 0 restores the default
/// (the best one); any other id throws std::invalid_argument. Not thread-safe: call it while
/// no kernel runs (tests, benchmark set-up).
void force_target(std::int64_t target);

}  // namespace dude::kernels
