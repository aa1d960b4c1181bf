// dude: the command-line trainer. Owns argv, printing and exit codes; everything else is the
// library's.
#include <CLI/CLI.hpp>

#include <csignal>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"

int main(int argc, char** argv) {
  using namespace dude::cli;
  // Past a file size limit (ulimit -f) a write then fails with EFBIG, which the writers report
  // naming the file and clean up after, instead of the signal killing the process mid-write.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{
      "dude: asynchronous SGD on every core (DuDe-ASGD), robust when every worker sees "
      "different data"};
  app.require_subcommand(1);
  const std::vector<Command> commands = {add_train_command(app),   add_eval_command(app),
                                         add_predict_command(app), add_bench_command(app),
                                         add_compare_command(app), add_convert_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUsageError;
  }
  for (const Command& command : commands) {
    if (command.app->parsed()) return run_guarded(command.run);
  }
  return kUsageError;
}
