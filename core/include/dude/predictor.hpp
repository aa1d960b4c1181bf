// dude/predictor.hpp: a trained model ready to answer predictions, from any number of threads.
//
// A Predictor holds its own copy of a Model and the Objective built from it, so it does not
// depend on the Model, the file or the training run it came from. Every member is const and
// thread-safe: each predict/predict_proba call allocates its own Workspace (one, sized for a
// block of at most 256 rows, per call) and runs on the calling thread, so concurrent calls share
// nothing mutable. accuracy() goes through dude::evaluate and spreads its blocks over oneTBB's
// thread pool.
//
// Data passed in must fit the model: dense data needs exactly the model's feature count,
// sparse data at most that many (absent features are zero), and its class count may not exceed
// the model's; otherwise the call throws ConfigError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dude/dataset.hpp"
#include "dude/model.hpp"
#include "dude/objective.hpp"

namespace dude {

class Predictor {
 public:
  /// Takes (a copy of) the model. Throws ConfigError if the spec does not fit the dimensions or
  /// the parameter count is not the one the spec needs.
  explicit Predictor(Model model);
  /// load_model(path) then Predictor(model); throws ModelFileError like load_model.
  static Predictor load(const std::string& path);

  Predictor(const Predictor& other);
  Predictor& operator=(const Predictor& other);
  Predictor(Predictor&&) noexcept;
  Predictor& operator=(Predictor&&) noexcept;
  ~Predictor();

  const Model& model() const noexcept { return model_; }
  const Objective& objective() const noexcept { return objective_; }
  std::size_t features() const noexcept { return model_.features; }
  std::uint32_t classes() const noexcept { return model_.classes; }

  /// The predicted class of each listed row (or of every row), in the order given.
  std::vector<std::uint32_t> predict(const Dataset& data) const;
  std::vector<std::uint32_t> predict(const Dataset& data,
                                     std::span<const std::uint32_t> rows) const;

  /// Class probabilities, rows x classes(), row-major, in the order given.
  std::vector<float> predict_proba(const Dataset& data) const;
  std::vector<float> predict_proba(const Dataset& data, std::span<const std::uint32_t> rows) const;

  /// Fraction of rows whose predicted class is their label (0 for no rows).
  double accuracy(const Dataset& data) const;
  double accuracy(const Dataset& data, std::span<const std::uint32_t> rows) const;

 private:
  void run(const Dataset& data, std::span<const std::uint32_t> rows, float* proba,
           std::uint32_t* classes) const;

  Model model_;
  Objective objective_;
};

}  // namespace dude
