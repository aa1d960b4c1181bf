// commands.hpp: each subcommand registers itself on the top-level app and returns the
// function that runs it once the command line is parsed.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace dude::cli {

/// A registered subcommand and what runs it; `run` returns the exit code.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

Command add_train_command(CLI::App& app);
Command add_eval_command(CLI::App& app);
Command add_predict_command(CLI::App& app);
Command add_bench_command(CLI::App& app);
Command add_compare_command(CLI::App& app);
Command add_convert_command(CLI::App& app);

}  // namespace dude::cli
