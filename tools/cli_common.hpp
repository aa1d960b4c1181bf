// cli_common.hpp: what the dude subcommands share: data flags and loading, outputs that
// appear whole or not at all, and the progress line.
#pragma once

#include <CLI/CLI.hpp>

#include <nlohmann/json_fwd.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dude/async.hpp"
#include "dude/dataset.hpp"
#include "dude/errors.hpp"
#include "dude/io.hpp"
#include "dude/model.hpp"
#include "dude/trainer.hpp"

namespace dude::cli {

/// Exit codes of the dude command (a run stopped by a signal exits with 128 + the signal).
enum ExitCode : int { kOk = 0, kDataOrModelError = 1, kUsageError = 2, kDiverged = 3 };

/// Flags that say how to read a data file.
struct DataFlags {
  std::string format = "auto";
  int csv_label_column = 0;
  bool csv_header = false;
  TextHashing hashing;     // fastText
  std::string cache_dir;   // --cache: where parsed text data is cached (empty: no cache)
  std::string max_memory;  // --max-memory SIZE (empty: LoadOptions' default)
};
/// Registers --format, the CSV flags, --cache and --max-memory.
void add_data_flags(CLI::App& command, DataFlags& flags);
/// Registers --hash-bits and --ngrams: for the commands that read fastText text on their own
/// (a model brings its hashing to eval and predict).
void add_hashing_flags(CLI::App& command, DataFlags& flags);

/// A byte count as --max-memory takes it: N, or N with a unit K, M, G or T (powers of 1024,
/// also written KiB or KB ...): "512M", "16GiB", "1.5G". Throws ConfigError naming the flag.
std::uint64_t parse_memory_size(const std::string& text);
/// The load options the flags give; `labels` is the IDX labels file, or empty.
LoadOptions load_options(const DataFlags& flags, const std::string& path,
                         const std::string& labels);
/// Loads a data file, or a built-in data set by name.
Dataset load_data(const std::string& path, const LoadOptions& options);
/// Loads data for `model`: fitted to its features and classes, and when it reads fastText
/// text hashed as its training data was, with the labels mapped through its names (--format
/// auto then means fastText).
Dataset load_data_for(const Model& model, const std::string& path, const std::string& labels,
                      const DataFlags& flags);
/// Whether `path` is read as fastText text under these flags.
bool reads_fasttext(const std::string& path, const DataFlags& flags);

/// One evaluation point as a JSON object: the record format of `dude train --metrics` and of
/// the run files of `dude compare` (one object per line). Fields: wall_s (virtual time in
/// deterministic runs), step, samples, epoch, lr, train_loss, final; test_loss and
/// test_accuracy when there is a test set; staleness_mean (over the gradients applied since the
/// previous point), staleness_max (so far) and arrivals (per worker, so far) for asynchronous
/// runs.
nlohmann::json metrics_record(const Progress& p);

/// Flags that shape an asynchronous run (shared by train and compare).
struct EngineFlags {
  std::size_t workers = 0;  // 0: one per core
  std::string partition = "iid";
  std::string slowdown;
  std::string slot = "handoff";
  std::string server = "auto";
  bool no_warm_start = false;
  bool pin = false;
  std::size_t server_threads = 1;
  bool deterministic = false;
  std::string compute_time = "exp";
};
void add_engine_flags(CLI::App& command, EngineFlags& flags);
/// Parses the flags into `config` (everything but the algorithm and the SGD settings); throws
/// ConfigError naming the bad flag.
void apply_engine_flags(const EngineFlags& flags, AsyncConfig& config);

/// The model and SGD flags train and compare share. Each command registers its own budget
/// flags (train has --steps, compare does not) and --eval-every (counted differently).
struct SgdFlags {
  std::string model = "softmax";
  double epochs = 0;
  std::uint64_t steps = 0;
  double seconds = 0;
  std::string schedule;  // the command's default
  float lr_decay = 1.0f;
  std::size_t batch = 32;
  std::string batch_order = "shuffled";
  float l2 = 0.0f;
  std::uint64_t eval_every = 0;
  unsigned threads = 0;
  double divergence_factor = 10;
  bool no_divergence_check = false;
  std::uint32_t early_stop = 0;
  double warmup = 0;
};
/// Registers --model, --schedule, --lr-decay, --batch, --batch-order, --l2, --threads, the
/// divergence check's flags and --early-stop; the defaults are the values `flags` holds.
void add_sgd_flags(CLI::App& command, SgdFlags& flags);
/// Caps oneTBB's threads (loading, evaluation) at `threads` for as long as the returned handle
/// lives; 0: no cap (the handle is empty).
[[nodiscard]] std::shared_ptr<void> limit_threads(unsigned threads);
/// The flags' batch, order, schedule, evaluation interval and budget (10 epochs when none is
/// given) into `config`; the learning rate and the seed are the command's.
void apply_sgd_flags(const SgdFlags& flags, SgdConfig& config);

/// Where the training and test data come from (shared by train and compare).
struct TrainTestFlags {
  std::string train = "digits";
  std::string train_labels;
  std::string test;
  std::string test_labels;
  DataFlags data;
  double holdout = 0.2;
};
/// Registers --train (--data), --train-labels, --test, --test-labels, --holdout, the data flags
/// and the hashing flags.
void add_train_test_flags(CLI::App& command, TrainTestFlags& flags);

/// Training data and the rows to test on: all rows of a --test file, or a holdout of the
/// training rows seeded by split_seed (none when the fraction is 0). The test data is checked
/// against the training data's features and classes, and its labels are mapped through the
/// training data's names.
struct TrainTestData {
  Dataset train;
  std::vector<std::uint32_t> train_rows;
  Dataset test;  // the --test file, or the training data itself for a holdout
  std::vector<std::uint32_t> test_rows;
  /// Classes the model needs (a test file may hold labels the training rows lack).
  std::uint32_t classes() const { return std::max(train.classes(), test.classes()); }
};
TrainTestData load_train_test(const TrainTestFlags& flags, std::uint64_t split_seed);

/// A text output that replaces its target only when complete: written to a temporary file
/// beside it and renamed in commit(); removed if never committed.
class AtomicOutput {
 public:
  explicit AtomicOutput(std::string path);
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;
  std::FILE* stream() const { return file_; }
  void commit();

 private:
  std::string path_;
  std::string temporary_;
  std::FILE* file_ = nullptr;
};

/// A one-line progress display on a terminal (stderr), redrawn in place.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled);
  ~ProgressLine();
  /// Redraws the line; `fraction` in [0,1] of the budget gives the ETA.
  void update(const std::string& text, double elapsed_seconds, double fraction);
  /// Prints a permanent line above the progress line.
  void print(const std::string& text);
  void clear();

 private:
  bool enabled_;
  bool shown_ = false;
};

/// Runs `parse` and returns its result; a ConfigError it throws names the library's field
/// ("slowdown '1,x': …"), and is rethrown naming the command-line flag ("--slowdown '1,x': …").
template <class Parse>
auto for_flag(const std::string& flag, Parse&& parse) -> decltype(parse()) {
  try {
    return parse();
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    const std::string field = flag.substr(flag.find_first_not_of('-'));
    const bool names_field = message.compare(0, field.size(), field) == 0 &&
                             (message.size() == field.size() || message[field.size()] == ' ' ||
                              message[field.size()] == ':');
    throw ConfigError(names_field ? "--" + message : flag + ": " + message);
  }
}

/// Runs a subcommand body, mapping exceptions to messages on stderr and exit codes; `who`
/// (an MPI job's "rank R: ") goes before "error:".
int run_guarded(const std::function<int()>& body, const std::string& who = "");

}  // namespace dude::cli
