// The gradient team (engine/gradient_team.hpp): a minibatch's rows split over T threads and
// the parts' gradients combined give the whole minibatch's gradient, for uneven splits and
// for more threads than rows; a part's error reaches the caller. Tagged [parallel] so the
// ThreadSanitizer build runs them: the members write plain memory between the barriers.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "dude/objective.hpp"
#include "engine/gradient_team.hpp"
#include "test_data.hpp"

using namespace dude;

namespace {

/// `count` distinct rows of `data`, not in order (a minibatch as a sampler draws it).
std::vector<std::uint32_t> minibatch(const Dataset& data, std::size_t count) {
  std::vector<std::uint32_t> rows(count);
  for (std::size_t i = 0; i < count; ++i) {
    rows[i] = static_cast<std::uint32_t>((7 * i + 3) % data.rows());
  }
  return rows;
}

/// How many coordinates of `team` differ from `whole` by more than `tolerance` times the
/// largest coordinate of `whole`.
std::size_t count_off(const std::vector<float>& team, const std::vector<float>& whole,
                      double tolerance) {
  float largest = 0;
  for (const float g : whole) largest = std::max(largest, std::abs(g));
  std::size_t off = 0;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    off += std::abs(static_cast<double>(team[i]) - whole[i]) > tolerance * largest;
  }
  return off;
}

/// A stand-in whose gradient is the mean over the rows of (row + i) and whose loss is the
/// mean row: exact small numbers. Its gradient on a minibatch holding row 13 throws.
struct RowMean {
  std::size_t num_params() const { return 40; }  // not a multiple of the members
  Workspace make_workspace(std::size_t, bool) const { return Workspace{}; }
  double loss_grad(const float*, const Dataset&, std::span<const std::uint32_t> rows, float* grad,
                   Workspace&) const {
    if (std::find(rows.begin(), rows.end(), 13u) != rows.end()) throw std::runtime_error("row 13");
    double sum = 0;
    for (const std::uint32_t r : rows) sum += r;
    const double mean = sum / static_cast<double>(rows.size());
    for (std::size_t i = 0; i < num_params(); ++i) grad[i] = static_cast<float>(mean + i);
    return mean;
  }
};

}  // namespace

TEST_CASE("a gradient team's combined gradient equals the whole minibatch's",
          "[gradient-team][parallel]") {
  const std::string spec = GENERATE(as<std::string>{}, "softmax", "mlp:16");
  const float l2 = GENERATE(0.0f, 0.01f);  // every part carries the L2 term: once in the mean
  // Even and uneven splits, and more threads than rows (empty parts, skipped).
  const auto [batch, threads] = GENERATE(
      table<std::size_t, std::size_t>({{16, 1}, {16, 2}, {10, 3}, {7, 4}, {2, 3}, {1, 4}}));
  INFO(spec << ", l2 " << l2 << ", " << batch << " rows on " << threads << " threads");
  const Dataset data = testdata::random_dense(64, 20, 3, 5);
  const Objective objective(ModelSpec::parse(spec), data.features(), data.classes(), l2);
  std::vector<float> params(objective.num_params());
  objective.init_params(params.data(), 2);
  const std::vector<std::uint32_t> rows = minibatch(data, batch);

  std::vector<float> whole(objective.num_params());
  Workspace ws = objective.make_workspace(batch);
  const double whole_loss = objective.loss_grad(params.data(), data, rows, whole.data(), ws);

  engine::GradientTeam<> team(objective, threads, batch, true);
  std::vector<float> combined(objective.num_params(), -1.0f);
  const double loss = team.loss_grad(params.data(), data, rows, combined.data());
  if (threads == 1) {
    CHECK(loss == whole_loss);  // one member is loss_grad itself
    CHECK(combined == whole);
    return;
  }
  // The parts' sums are rounded on their own, then weighted by n_k / n and added: a few float
  // roundings (2^-24 each) of terms no larger than the largest coordinate, where 1e-5 is some
  // 170 of them. A wrong weight (the parts' plain mean: 1/3 against 3/10 of 10 rows) is off
  // far beyond it.
  CHECK(loss == Approx(whole_loss).epsilon(1e-5));
  CHECK(count_off(combined, whole, 1e-5) == 0);
  // The order of the combination is fixed: the same rows give the same bits.
  std::vector<float> again(objective.num_params());
  CHECK(team.loss_grad(params.data(), data, rows, again.data()) == loss);
  CHECK(again == combined);
}

TEST_CASE("a gradient team rethrows a part's error and goes on", "[gradient-team][parallel]") {
  const Dataset data = testdata::random_dense(32, 2, 2, 1);
  const RowMean model;
  engine::GradientTeam<RowMean> team(model, 3, 9, true);
  std::vector<float> grad(model.num_params());
  const std::vector<std::uint32_t> failing = {10, 11, 12, 13, 14, 15, 16, 17, 18};  // in part 1
  CHECK_THROWS_WITH(team.loss_grad(nullptr, data, failing, grad.data()), "row 13");
  // Parts of 3 rows each (means 1, 4, 7, each weighted 1/3), then of 0, 1 and 1 rows.
  const auto check_mean = [&](const std::vector<std::uint32_t>& rows, double mean) {
    INFO(rows.size() << " rows");
    CHECK(team.loss_grad(nullptr, data, rows, grad.data()) == Approx(mean));
    for (std::size_t i = 0; i < grad.size(); ++i) CHECK(grad[i] == Approx(mean + i));
  };
  check_mean({0, 1, 2, 3, 4, 5, 6, 7, 8}, 4.0);
  check_mean({20, 21}, 20.5);
}
