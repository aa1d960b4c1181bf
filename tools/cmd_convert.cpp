// dude convert: any data set dude loads, written as LIBSVM text, so that other tools
// (LIBLINEAR, scikit-learn's load_svmlight_file) train on exactly the features dude sees,
// fastText text's hashed ones included.
#include <cstdio>
#include <memory>

#include "cli_common.hpp"
#include "commands.hpp"
#include "dude/errors.hpp"
#include "dude/io.hpp"

namespace dude::cli {
namespace {

struct ConvertFlags {
  std::string data;
  std::string labels;
  DataFlags format;
  std::string out;
  std::string labels_out;
};

int run_convert(const ConvertFlags& f) {
  const Dataset data = load_data(f.data, load_options(f.format, f.data, f.labels));
  if (!f.labels_out.empty() && data.label_names().empty()) {
    throw ConfigError("--labels-out: " + f.data + " has no label names (its classes are ids)");
  }
  write_libsvm(f.out, data);
  if (!f.labels_out.empty()) {
    AtomicOutput names(f.labels_out);
    for (const std::string& name : data.label_names()) {
      std::fprintf(names.stream(), "%s\n", name.c_str());
    }
    names.commit();
  }
  std::printf("rows: %zu  features: %zu  classes: %u  written: %s\n", data.rows(), data.features(),
              data.classes(), f.out.c_str());
  return kOk;
}

}  // namespace

Command add_convert_command(CLI::App& app) {
  auto flags = std::make_shared<ConvertFlags>();
  ConvertFlags& f = *flags;
  CLI::App* cmd = app.add_subcommand(
      "convert", "Write a data set as LIBSVM text (class ids, 1-based feature indices)");
  cmd->add_option("--data", f.data, "Data to convert (a file or a built-in data set)")->required();
  cmd->add_option("--labels", f.labels, "IDX labels file for --data (default: by name)");
  add_data_flags(*cmd, f.format);
  add_hashing_flags(*cmd, f.format);
  cmd->add_option("--out", f.out, "The LIBSVM file to write (atomically)")->required();
  cmd->add_option("--labels-out", f.labels_out,
                  "Also write the class names here, one per line in class id order (data with "
                  "named labels: fastText)");
  return {cmd, [flags] { return run_convert(*flags); }};
}

}  // namespace dude::cli
