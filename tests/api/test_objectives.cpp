// Objectives: gradients against central finite differences of an independent double-precision
// forward pass (float32 differences cannot resolve 1e-4 relative error), prediction
// consistency, spec parsing.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "dude/errors.hpp"
#include "dude/objective.hpp"
#include "test_data.hpp"

using namespace dude;

namespace {

// Input-major layer weights, as in the library: W[in][out] then b[out], layer after layer.
double reference_network_loss(const std::vector<double>& params, const Dataset& data,
                              const std::vector<std::uint32_t>& rows,
                              const std::vector<std::size_t>& dims, double l2) {
  double total = 0;
  for (const std::uint32_t r : rows) {
    std::vector<double> a(dims[0], 0.0);
    if (data.is_sparse()) {
      const SparseRow row = data.sparse_row(r);
      for (std::size_t j = 0; j < row.nnz; ++j) a[row.index[j]] = row.value[j];
    } else {
      for (std::size_t j = 0; j < dims[0]; ++j) a[j] = data.dense_row(r)[j];
    }
    std::size_t offset = 0;
    for (std::size_t l = 0; l + 1 < dims.size(); ++l) {
      const std::size_t in = dims[l], out = dims[l + 1];
      std::vector<double> z(out);
      for (std::size_t o = 0; o < out; ++o) {
        double s = params[offset + in * out + o];
        for (std::size_t i = 0; i < in; ++i) s += a[i] * params[offset + i * out + o];
        z[o] = (l + 2 < dims.size()) ? std::max(s, 0.0) : s;
      }
      offset += in * out + out;
      a = std::move(z);
    }
    double m = a[0];
    for (double v : a) m = std::max(m, v);
    double sum = 0;
    for (double v : a) sum += std::exp(v - m);
    total += std::log(sum) + m - a[data.label(r)];
  }
  double penalty = 0;
  std::size_t offset = 0;
  for (std::size_t l = 0; l + 1 < dims.size(); ++l) {
    for (std::size_t i = 0; i < dims[l] * dims[l + 1]; ++i)
      penalty += params[offset + i] * params[offset + i];
    offset += dims[l] * dims[l + 1] + dims[l + 1];
  }
  return total / static_cast<double>(rows.size()) + 0.5 * l2 * penalty;
}

double reference_logreg_loss(const std::vector<double>& params, const Dataset& data,
                             const std::vector<std::uint32_t>& rows, double l2) {
  const std::size_t d = data.features();
  double total = 0;
  for (const std::uint32_t r : rows) {
    double z = params[d];
    if (data.is_sparse()) {
      const SparseRow row = data.sparse_row(r);
      for (std::size_t j = 0; j < row.nnz; ++j) z += row.value[j] * params[row.index[j]];
    } else {
      for (std::size_t j = 0; j < d; ++j) z += data.dense_row(r)[j] * params[j];
    }
    const double signed_margin = data.label(r) == 1 ? -z : z;
    total += std::log1p(std::exp(signed_margin));
  }
  double penalty = 0;
  for (std::size_t j = 0; j < d; ++j) penalty += params[j] * params[j];
  return total / static_cast<double>(rows.size()) + 0.5 * l2 * penalty;
}

template <class Loss>
void check_gradient(const Objective& objective, const Dataset& data, Loss&& reference_loss,
                    std::uint64_t seed) {
  const std::size_t n = objective.num_params();
  std::vector<float> params(n);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  for (float& p : params) p = normal(rng);

  const std::vector<std::uint32_t> rows = all_rows(data.rows());
  Workspace ws = objective.make_workspace(rows.size(), !data.is_sparse());
  std::vector<float> grad(n, 123.0f);  // must be overwritten
  const double loss = objective.loss_grad(params.data(), data, rows, grad.data(), ws);

  std::vector<double> at(params.begin(), params.end());
  REQUIRE(loss == Approx(reference_loss(at)).epsilon(1e-5));

  const double h = 1e-5;
  std::vector<double> fd(n);
  double fd_norm = 0, diff_norm = 0, fd_max = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double saved = at[i];
    at[i] = saved + h;
    const double up = reference_loss(at);
    at[i] = saved - h;
    const double down = reference_loss(at);
    at[i] = saved;
    fd[i] = (up - down) / (2 * h);
    fd_norm += fd[i] * fd[i];
    diff_norm += (fd[i] - grad[i]) * (fd[i] - grad[i]);
    fd_max = std::max(fd_max, std::abs(fd[i]));
  }
  INFO("relative error " << std::sqrt(diff_norm / fd_norm));
  CHECK(std::sqrt(diff_norm) <= 1e-4 * std::sqrt(fd_norm));
  for (std::size_t i = 0; i < n; ++i) {
    INFO("parameter " << i << ": analytic " << grad[i] << ", finite difference " << fd[i]);
    CHECK(std::abs(grad[i] - fd[i]) <= 1e-4 * std::max(std::abs(fd[i]), 1e-2 * fd_max));
  }
}

}  // namespace

TEST_CASE("logistic regression gradient matches finite differences", "[objective]") {
  const float l2 = GENERATE(0.0f, 0.1f);
  const bool sparse = GENERATE(false, true);
  const Dataset data =
      sparse ? testdata::random_sparse(9, 17, 2, 5, 3) : testdata::random_dense(9, 6, 2, 3);
  const Objective objective(ModelSpec::parse("logreg"), data.features(), 2, l2);
  check_gradient(
      objective, data,
      [&](const std::vector<double>& p) {
        return reference_logreg_loss(p, data, all_rows(data.rows()), l2);
      },
      11);
}

TEST_CASE("softmax regression gradient matches finite differences", "[objective]") {
  const float l2 = GENERATE(0.0f, 0.05f);
  const bool sparse = GENERATE(false, true);
  const Dataset data =
      sparse ? testdata::random_sparse(8, 15, 4, 4, 5) : testdata::random_dense(8, 5, 4, 5);
  const Objective objective(ModelSpec::parse("softmax"), data.features(), 4, l2);
  const std::vector<std::size_t> dims = {data.features(), 4};
  check_gradient(
      objective, data,
      [&](const std::vector<double>& p) {
        return reference_network_loss(p, data, all_rows(data.rows()), dims, l2);
      },
      12);
}

TEST_CASE("MLP gradient matches finite differences", "[objective]") {
  const float l2 = GENERATE(0.0f, 0.05f);
  const bool sparse = GENERATE(false, true);
  const Dataset data =
      sparse ? testdata::random_sparse(7, 13, 3, 4, 9) : testdata::random_dense(7, 6, 3, 9);
  const Objective objective(ModelSpec::parse("mlp:5,4"), data.features(), 3, l2);
  const std::vector<std::size_t> dims = {data.features(), 5, 4, 3};
  check_gradient(
      objective, data,
      [&](const std::vector<double>& p) {
        return reference_network_loss(p, data, all_rows(data.rows()), dims, l2);
      },
      13);
}

TEST_CASE("score and predict agree with the loss and each other", "[objective]") {
  const std::string spec = GENERATE(as<std::string>{}, "logreg", "softmax", "mlp:8");
  const std::uint32_t classes = spec == "logreg" ? 2 : 3;
  const Dataset data = testdata::random_dense(50, 6, classes, 21);
  const Objective objective(ModelSpec::parse(spec), data.features(), classes);
  std::vector<float> params(objective.num_params());
  objective.init_params(params.data(), 5);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  for (float& p : params) p += normal(rng);

  const std::vector<std::uint32_t> rows = all_rows(data.rows());
  Workspace ws = objective.make_workspace(rows.size());
  std::vector<float> grad(objective.num_params());
  const double mean_loss = objective.loss_grad(params.data(), data, rows, grad.data(), ws);
  const Objective::Score score = objective.score(params.data(), data, rows, ws);
  CHECK(score.loss_sum / rows.size() == Approx(mean_loss).epsilon(1e-6));

  std::vector<float> proba(rows.size() * classes);
  std::vector<std::uint32_t> predicted(rows.size());
  objective.predict(params.data(), data, rows, proba.data(), predicted.data(), ws);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    float sum = 0;
    std::uint32_t best = 0;
    for (std::uint32_t c = 0; c < classes; ++c) {
      sum += proba[i * classes + c];
      if (proba[i * classes + c] > proba[i * classes + best]) best = c;
    }
    CHECK(sum == Approx(1.0f).epsilon(1e-5));
    CHECK(best == predicted[i]);
    correct += predicted[i] == data.label(rows[i]);
  }
  CHECK(correct == score.correct);

  const Evaluation e = evaluate(objective, params.data(), data, rows, true);
  CHECK(e.accuracy == Approx(static_cast<double>(correct) / rows.size()));
  CHECK(e.loss == Approx(mean_loss).epsilon(1e-6));
  std::uint64_t diagonal = 0, total = 0;
  for (std::uint32_t t = 0; t < classes; ++t) {
    for (std::uint32_t p = 0; p < classes; ++p) {
      total += e.confusion[t * classes + p];
      if (t == p) diagonal += e.confusion[t * classes + p];
    }
  }
  CHECK(total == rows.size());
  CHECK(diagonal == correct);
}

TEST_CASE("model specs parse strictly", "[objective]") {
  CHECK(ModelSpec::parse("mlp:256,128").hidden == std::vector<std::uint32_t>{256, 128});
  CHECK(ModelSpec::parse("mlp:256,128").to_string() == "mlp:256,128");
  CHECK(ModelSpec::parse("logreg").kind == ModelSpec::Kind::LogReg);
  for (const char* bad : {"", "mlp", "mlp:", "mlp:0", "mlp:12,", "mlp:1x", "svm", "mlp:-3"}) {
    INFO(bad);
    CHECK_THROWS_AS(ModelSpec::parse(bad), ConfigError);
  }
  CHECK_THROWS_WITH(Objective(ModelSpec::parse("logreg"), 4, 3), Catch::Contains("binary"));
}

TEST_CASE("a workspace too small for the batch is refused", "[objective]") {
  const Dataset data = testdata::random_dense(10, 3, 2, 1);
  const Objective objective(ModelSpec::parse("softmax"), 3, 2);
  Workspace ws = objective.make_workspace(4);
  std::vector<float> params(objective.num_params()), grad(objective.num_params());
  const std::vector<std::uint32_t> rows = all_rows(10);
  CHECK_THROWS_AS(objective.loss_grad(params.data(), data, rows, grad.data(), ws), ConfigError);
}

TEST_CASE("a model whose parameter count would pass 2^38 (or wrap) is refused", "[objective]") {
  CHECK_THROWS_WITH(Objective(ModelSpec::parse("logreg"), ~std::size_t{0}, 2),
                    Catch::Contains("at most 2^32"));
  CHECK_THROWS_WITH(Objective(ModelSpec::parse("softmax"), std::size_t{1} << 32, 65536),
                    Catch::Contains("more than 2^38 parameters"));
  CHECK_THROWS_WITH(Objective(ModelSpec::parse("mlp:1048576,1048576"), 1024, 10),
                    Catch::Contains("more than 2^38 parameters"));
  CHECK_NOTHROW(Objective(ModelSpec::parse("softmax"), std::size_t{1} << 20, 12));
}

TEST_CASE("a confusion matrix of too many classes is refused before it is allocated",
          "[objective]") {
  const Dataset data = testdata::random_dense(10, 3, 2, 1);
  const Objective objective(ModelSpec::parse("softmax"), 3, kMaxConfusionClasses + 1);
  std::vector<float> params(objective.num_params(), 0.0f);
  const std::vector<std::uint32_t> rows = {0, 1, 2};
  CHECK_THROWS_WITH(evaluate(objective, params.data(), data, rows, true),
                    Catch::Contains("confusion matrix of 4097 classes"));
  CHECK(evaluate(objective, params.data(), data, rows, false).rows == 3);
}
