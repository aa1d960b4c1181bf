// Predictor: a Model plus its Objective, answering predictions with a Workspace per call.
#include "dude/predictor.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "dude/errors.hpp"
#include "model/data_fit.hpp"

namespace dude {
namespace {

constexpr std::size_t kBlock = 256;  // rows per Objective::predict call (the Workspace's size)

Objective checked_objective(const Model& model) {
  Objective objective = model.objective();  // throws ConfigError on a spec that does not fit
  if (model.params.size() != objective.num_params()) {
    throw ConfigError("model: " + std::to_string(model.params.size()) + " parameters, but " +
                      model.spec.to_string() + " with " + std::to_string(model.features) +
                      " features and " + std::to_string(model.classes) + " classes needs " +
                      std::to_string(objective.num_params()));
  }
  return objective;
}

void check_fit(const Predictor& p, const Dataset& data, std::span<const std::uint32_t> rows) {
  detail::check_data_fits(data, p.features(), p.classes(), "predictor");
  for (const std::uint32_t r : rows) {
    if (r >= data.rows()) {
      throw ConfigError("predictor: row " + std::to_string(r) + " is not a row of a data set of " +
                        std::to_string(data.rows()));
    }
  }
}

}  // namespace

Predictor::Predictor(Model model)
    : model_(std::move(model)), objective_(checked_objective(model_)) {}

Predictor Predictor::load(const std::string& path) { return Predictor(load_model(path)); }

Predictor::Predictor(const Predictor& other) : Predictor(other.model_) {}

Predictor& Predictor::operator=(const Predictor& other) {
  if (this != &other) *this = Predictor(other);
  return *this;
}

Predictor::Predictor(Predictor&&) noexcept = default;
Predictor& Predictor::operator=(Predictor&&) noexcept = default;
Predictor::~Predictor() = default;

void Predictor::run(const Dataset& data, std::span<const std::uint32_t> rows, float* proba,
                    std::uint32_t* classes) const {
  check_fit(*this, data, rows);
  if (rows.empty()) return;
  // The only mutable state of a call: its own scratch memory.
  Workspace ws = objective_.make_workspace(std::min(kBlock, rows.size()), !data.is_sparse());
  const std::size_t k = model_.classes;
  for (std::size_t begin = 0; begin < rows.size(); begin += kBlock) {
    const auto block = rows.subspan(begin, std::min(kBlock, rows.size() - begin));
    objective_.predict(model_.params.data(), data, block, proba ? proba + begin * k : nullptr,
                       classes ? classes + begin : nullptr, ws);
  }
}

std::vector<std::uint32_t> Predictor::predict(const Dataset& data,
                                              std::span<const std::uint32_t> rows) const {
  std::vector<std::uint32_t> out(rows.size());
  run(data, rows, nullptr, out.data());
  return out;
}

std::vector<std::uint32_t> Predictor::predict(const Dataset& data) const {
  const std::vector<std::uint32_t> rows = all_rows(data.rows());
  return predict(data, rows);
}

std::vector<float> Predictor::predict_proba(const Dataset& data,
                                            std::span<const std::uint32_t> rows) const {
  std::vector<float> out(rows.size() * model_.classes);
  run(data, rows, out.data(), nullptr);
  return out;
}

std::vector<float> Predictor::predict_proba(const Dataset& data) const {
  const std::vector<std::uint32_t> rows = all_rows(data.rows());
  return predict_proba(data, rows);
}

double Predictor::accuracy(const Dataset& data, std::span<const std::uint32_t> rows) const {
  check_fit(*this, data, rows);
  if (rows.empty()) return 0.0;
  return evaluate(objective_, model_.params.data(), data, rows).accuracy;
}

double Predictor::accuracy(const Dataset& data) const {
  const std::vector<std::uint32_t> rows = all_rows(data.rows());
  return accuracy(data, rows);
}

}  // namespace dude
