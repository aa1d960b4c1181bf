// dude predict: one predicted class (or the class probabilities) per input row. The class is
// printed by name when the model has names (fastText labels), as its id otherwise.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <span>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
#include "dude/predictor.hpp"

namespace dude::cli {
namespace {

struct PredictFlags {
  std::string model;
  std::string data;
  std::string labels;
  DataFlags format;
  bool proba = false;
  std::string out;
};

int run_predict(const PredictFlags& f) {
  const Predictor predictor = Predictor::load(f.model);
  const std::uint32_t classes = predictor.classes();
  const Dataset data = load_data_for(predictor.model(), f.data, f.labels, f.format);
  const std::vector<std::string>& names = predictor.model().label_names;

  std::unique_ptr<AtomicOutput> file;
  if (!f.out.empty()) file = std::make_unique<AtomicOutput>(f.out);
  std::FILE* out = file ? file->stream() : stdout;
  // In blocks, so that the output streams and memory stays bounded by the block.
  constexpr std::size_t kBlock = 1024;
  const std::vector<std::uint32_t> rows = all_rows(data.rows());
  for (std::size_t begin = 0; begin < rows.size(); begin += kBlock) {
    const auto block = std::span(rows).subspan(begin, std::min(kBlock, rows.size() - begin));
    if (f.proba) {
      const std::vector<float> proba = predictor.predict_proba(data, block);
      for (std::size_t i = 0; i < block.size(); ++i) {
        for (std::uint32_t c = 0; c < classes; ++c) {
          std::fprintf(out, c == 0 ? "%.6g" : " %.6g", static_cast<double>(proba[i * classes + c]));
        }
        std::fputc('\n', out);
      }
    } else {
      for (const std::uint32_t predicted : predictor.predict(data, block)) {
        if (names.empty()) {
          std::fprintf(out, "%u\n", predicted);
        } else {
          std::fprintf(out, "%s\n", names[predicted].c_str());
        }
      }
    }
  }
  if (file) file->commit();
  return kOk;
}

}  // namespace

Command add_predict_command(CLI::App& app) {
  auto flags = std::make_shared<PredictFlags>();
  PredictFlags& f = *flags;
  CLI::App* cmd = app.add_subcommand("predict", "Predict the class (or probabilities) of each row");
  cmd->add_option("--model", f.model, "Model file written by dude train --out")->required();
  cmd->add_option("--data", f.data, "Data to predict (a file or a built-in data set)")->required();
  cmd->add_option("--labels", f.labels, "IDX labels file for --data (default: by name)");
  add_data_flags(*cmd, f.format);
  cmd->add_flag("--proba", f.proba,
                "Print every class's probability (in class id order) instead of the class");
  cmd->add_option("--out", f.out, "Write the predictions here (atomically) instead of stdout");
  return {cmd, [flags] { return run_predict(*flags); }};
}

}  // namespace dude::cli
