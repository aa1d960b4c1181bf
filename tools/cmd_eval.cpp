// dude eval: accuracy, loss and confusion matrix of a saved model on a data set.
#include <cstdio>
#include <memory>

#include "cli_common.hpp"
#include "commands.hpp"
#include "dude/model.hpp"

namespace dude::cli {
namespace {

struct EvalFlags {
  std::string model;
  std::string data;
  std::string labels;
  DataFlags format;
  bool no_confusion = false;
};

int run_eval(const EvalFlags& f) {
  const Model model = load_model(f.model);
  const Dataset data = load_data_for(model, f.data, f.labels, f.format);
  const Objective objective = model.objective();
  const std::vector<std::uint32_t> rows = all_rows(data.rows());
  // A matrix of more classes than this is unreadable on a terminal and costs classes^2.
  constexpr std::uint32_t kPrintedClasses = 64;
  const bool confusion = !f.no_confusion && model.classes <= kPrintedClasses;
  const Evaluation e = evaluate(objective, model.params.data(), data, rows, confusion);
  std::printf("accuracy: %.6f\nloss: %.6f\nrows: %zu\n", e.accuracy, e.loss, e.rows);
  if (!f.no_confusion && !confusion) {
    std::printf("confusion matrix: not printed for %u classes (at most %u)\n", model.classes,
                kPrintedClasses);
  }
  if (confusion) {
    std::printf("confusion matrix (rows: true class, columns: predicted class):\n");
    for (std::uint32_t t = 0; t < model.classes; ++t) {
      for (std::uint32_t p = 0; p < model.classes; ++p) {
        std::printf(
            p == 0 ? "%llu" : " %llu",
            static_cast<unsigned long long>(e.confusion[std::size_t{t} * model.classes + p]));
      }
      std::printf("\n");
    }
  }
  return kOk;
}

}  // namespace

Command add_eval_command(CLI::App& app) {
  auto flags = std::make_shared<EvalFlags>();
  EvalFlags& f = *flags;
  CLI::App* cmd =
      app.add_subcommand("eval", "Accuracy, loss and confusion matrix of a model on data");
  cmd->add_option("--model", f.model, "Model file written by dude train --out")->required();
  cmd->add_option("--data", f.data, "Labelled data (a file or a built-in data set)")->required();
  cmd->add_option("--labels", f.labels, "IDX labels file for --data (default: by name)");
  add_data_flags(*cmd, f.format);
  cmd->add_flag("--no-confusion", f.no_confusion, "Do not print the confusion matrix");
  return {cmd, [flags] { return run_eval(*flags); }};
}

}  // namespace dude::cli
