// dude predict: one predicted class (or the class probabilities) per input row.
#include <cstdio>
#include <memory>

#include "cli_common.hpp"
#include "commands.hpp"
#include "dude/model.hpp"

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
  const Model model = load_model(f.model);
  const Dataset data = load_data(f.data, f.labels, f.format, model.features, model.classes);
  const Objective objective = model.objective();

  std::unique_ptr<AtomicOutput> file;
  if (!f.out.empty()) file = std::make_unique<AtomicOutput>(f.out);
  std::FILE* out = file ? file->stream() : stdout;

  constexpr std::size_t kBlock = 1024;
  Workspace ws = objective.make_workspace(kBlock, !data.is_sparse());
  const std::vector<std::uint32_t> rows = all_rows(data.rows());
  std::vector<float> proba(f.proba ? kBlock * model.classes : 0);
  std::vector<std::uint32_t> predicted(kBlock);
  for (std::size_t begin = 0; begin < rows.size(); begin += kBlock) {
    const auto block = std::span(rows).subspan(begin, std::min(kBlock, rows.size() - begin));
    objective.predict(model.params.data(), data, block, f.proba ? proba.data() : nullptr,
                      predicted.data(), ws);
    for (std::size_t i = 0; i < block.size(); ++i) {
      if (f.proba) {
        for (std::uint32_t c = 0; c < model.classes; ++c) {
          std::fprintf(out, c == 0 ? "%.6g" : " %.6g", static_cast<double>(proba[i * model.classes + c]));
        }
        std::fputc('\n', out);
      } else {
        std::fprintf(out, "%u\n", predicted[i]);
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
  cmd->add_flag("--proba", f.proba, "Print every class's probability instead of the class");
  cmd->add_option("--out", f.out, "Write the predictions here (atomically) instead of stdout");
  return {cmd, [flags] { return run_predict(*flags); }};
}

}  // namespace dude::cli
