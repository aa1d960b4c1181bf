// consumer: embeds dude the way an application would. The data lives in the program's own
// arrays and is wrapped without a copy; a model is trained on two worker threads with DuDe-ASGD,
// saved, loaded back, and the loaded model must predict exactly what the trained one does.
// Exit status: 0 on success, 1 on any dude::Error or mismatch.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "dude/dude.hpp"

namespace {

// The application's own data: here the built-in digits, copied into plain vectors, as if they
// came from a sensor or a database.
struct AppData {
  std::vector<float> x;               // rows * features, row-major
  std::vector<std::uint32_t> labels;  // rows
  std::size_t rows = 0, features = 0;
  std::uint32_t classes = 0;
};

AppData make_app_data() {
  const dude::Dataset digits = dude::load_builtin_dataset("digits");
  AppData d;
  d.rows = digits.rows();
  d.features = digits.features();
  d.classes = digits.classes();
  d.x.reserve(d.rows * d.features);
  for (std::size_t i = 0; i < d.rows; ++i) {
    const float* row = digits.dense_row(i);
    d.x.insert(d.x.end(), row, row + d.features);
    d.labels.push_back(digits.label(i));
  }
  return d;
}

int run() {
  const AppData app = make_app_data();
  // A view over the application's memory: nothing is copied; `app` outlives `data`.
  const dude::Dataset data = dude::Dataset::dense_view(app.x.data(), app.labels.data(), app.rows,
                                                       app.features, app.classes);
  const dude::RowSplit split = dude::split_rows(data.rows(), 0.2, /*seed=*/1);

  const dude::Objective objective(dude::ModelSpec::parse("softmax"), data.features(),
                                  data.classes());
  std::vector<float> params(objective.num_params());
  objective.init_params(params.data(), /*seed=*/1);

  dude::AsyncConfig config;
  config.algorithm = dude::AlgorithmSpec::parse("dude");
  config.workers = 2;
  config.partition = dude::PartitionSpec::parse("iid");
  config.sgd.epochs = 10;
  config.sgd.lr = 0.2f;
  config.sgd.schedule = dude::Schedule::Cosine;
  config.sgd.tick_seconds = 0;  // evaluation points only
  config.validate();            // a ConfigError here names the bad field

  std::atomic<bool> stop{false};  // another thread could set it to end training early
  const dude::Subset train{&data, split.train};
  const dude::Subset test{&data, split.holdout};
  const dude::Progress last = dude::train_async(
      objective, train, &test, config, params.data(),
      [](const dude::Progress& p) {
        if (!p.evaluation) return;
        std::printf("epoch %5.2f  steps %6llu  train loss %.4f  test accuracy %.4f%s\n", p.epoch,
                    static_cast<unsigned long long>(p.steps), p.train_loss, p.test_accuracy,
                    p.final ? "  (final)" : "");
      },
      &stop);

  const dude::Model trained{objective.spec(), objective.features(), objective.classes(),
                            objective.l2(), params};
  const dude::Predictor predictor(trained);
  const double accuracy = predictor.accuracy(data, split.holdout);
  std::printf("test accuracy: %.4f (%zu held-out rows, %zu server steps)\n", accuracy,
              split.holdout.size(), static_cast<std::size_t>(last.steps));
  int status = 0;
  if (!(accuracy > 0.8)) {
    std::fprintf(stderr, "consumer: accuracy %.4f is too low\n", accuracy);
    status = 1;
  }

  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("dude-consumer-" + std::to_string(::getpid()) + ".model");
  dude::save_model(path.string(), trained);
  const dude::Predictor loaded = dude::Predictor::load(path.string());
  std::filesystem::remove(path);

  const std::vector<std::uint32_t> expected = predictor.predict(data);
  const std::vector<std::uint32_t> got = loaded.predict(data);
  const std::vector<float> expected_proba = predictor.predict_proba(data);
  const std::vector<float> got_proba = loaded.predict_proba(data);
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) mismatches += expected[i] != got[i];
  if (got.size() != data.rows() || mismatches != 0 || got_proba != expected_proba ||
      loaded.model().params != trained.params) {
    std::fprintf(stderr,
                 "consumer: the loaded model disagrees with the trained one (%zu of %zu rows)\n",
                 mismatches, expected.size());
    status = 1;
  } else {
    std::printf("saved and loaded model: identical predictions on all %zu rows\n", got.size());
  }
  return status;
}

}  // namespace

int main() {
  try {
    return run();
  } catch (const dude::Error& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: unexpected error: %s\n", e.what());
  }
  return 1;
}
