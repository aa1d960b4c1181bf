#include "cli_common.hpp"

#include <unistd.h>

#include <tbb/global_control.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <thread>

#include "dude/errors.hpp"
#include "dude/partition.hpp"

namespace dude::cli {

void add_data_flags(CLI::App& command, DataFlags& flags) {
  command
      .add_option("--format", flags.format,
                  "Input format: auto (by file name), libsvm, csv, idx or fasttext")
      ->check(CLI::IsMember({"auto", "libsvm", "svmlight", "csv", "idx", "fasttext"}))
      ->capture_default_str();
  command
      .add_option("--csv-label-column", flags.csv_label_column,
                  "CSV: column of the label (0-based; negative counts from the end)")
      ->capture_default_str();
  command.add_flag("--csv-header", flags.csv_header, "CSV: the first line is a header");
  command.add_option("--cache", flags.cache_dir,
                     "Keep parsed text data in DIR (one file per data file, rebuilt when the "
                     "data file or the options change), so that the next run maps it instead "
                     "of parsing");
  command.add_option("--max-memory", flags.max_memory,
                     "Refuse data that would need more than SIZE of memory (its text, its "
                     "features and a model over them), before allocating it: bytes, or with K, "
                     "M, G or T (KiB ... TiB). Default: half the physical memory (" +
                         format_bytes(default_max_memory()) + " here)");
}

void add_hashing_flags(CLI::App& command, DataFlags& flags) {
  command
      .add_option("--hash-bits", flags.hashing.bits,
                  "fastText: words and n-grams are hashed into 2^B features")
      ->check(CLI::Range(1u, TextHashing::kMaxBits))
      ->capture_default_str();
  command
      .add_option("--ngrams", flags.hashing.ngrams,
                  "fastText: also hash runs of up to N consecutive words (1: words only)")
      ->check(CLI::Range(1u, TextHashing::kMaxNgrams))
      ->capture_default_str();
}

std::uint64_t parse_memory_size(const std::string& text) {
  const auto bad = [&] {
    return ConfigError("--max-memory: expected a size such as 8G or 512MiB, got '" + text + "'");
  };
  double number = 0;
  const char* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, number);
  if (ec != std::errc{} || !(number > 0)) throw bad();
  std::string unit(stop, end);
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (unit.ends_with("ib")) {
    unit.resize(unit.size() - 2);
  } else if (unit.size() == 2 && unit.back() == 'b') {
    unit.resize(1);
  }
  static constexpr std::string_view kUnits = "kmgt";
  std::size_t power = 0;
  if (!unit.empty()) {
    const auto at = kUnits.find(unit);
    if (unit.size() != 1 || at == std::string_view::npos) throw bad();
    power = at + 1;
  }
  const double bytes = std::ldexp(number, 10 * static_cast<int>(power));
  if (!(bytes < 0x1p64)) throw bad();
  return static_cast<std::uint64_t>(bytes);
}

LoadOptions load_options(const DataFlags& flags, const std::string& path,
                         const std::string& labels) {
  LoadOptions options;
  if (!flags.max_memory.empty()) options.max_memory = parse_memory_size(flags.max_memory);
  if (!flags.cache_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(flags.cache_dir, ec);
    if (ec) throw Error(flags.cache_dir + ": cannot create the cache directory: " + ec.message());
    options.cache_path = (std::filesystem::path(flags.cache_dir) /
                          (std::filesystem::path(path).filename().string() + ".dudecache"))
                             .string();
  }
  options.format = parse_format(flags.format);
  options.labels_path = labels;
  options.csv_label_column = flags.csv_label_column;
  options.csv_header = flags.csv_header;
  options.hashing = flags.hashing;
  return options;
}

Dataset load_data(const std::string& path, const LoadOptions& options) {
  return is_builtin_dataset(path) ? load_builtin_dataset(path, options)
                                  : load_dataset(path, options);
}

Dataset load_data_for(const Model& model, const std::string& path, const std::string& labels,
                      const DataFlags& flags) {
  LoadOptions options = load_options(flags, path, labels);
  options.features = model.features;
  options.classes = model.classes;
  options.label_names = model.label_names;
  if (model.text_hashing) {
    options.hashing = *model.text_hashing;
    if (options.format == Format::Auto) options.format = Format::Fasttext;
  }
  return load_data(path, options);
}

bool reads_fasttext(const std::string& path, const DataFlags& flags) {
  if (is_builtin_dataset(path)) return false;  // built in data ignores --format
  const Format format = parse_format(flags.format);
  return (format == Format::Auto ? detect_format(path) : format) == Format::Fasttext;
}

nlohmann::json metrics_record(const Progress& p) {
  nlohmann::json j = {{"wall_s", p.wall_seconds}, {"step", p.steps}, {"samples", p.samples},
                      {"epoch", p.epoch},         {"lr", p.lr},      {"train_loss", p.train_loss},
                      {"final", p.final}};
  if (p.has_test) {
    j["test_loss"] = p.test_loss;
    j["test_accuracy"] = p.test_accuracy;
  }
  if (!p.arrivals.empty()) {
    j["staleness_mean"] = p.staleness_mean;
    j["staleness_max"] = p.staleness_max;
    j["arrivals"] = p.arrivals;
  }
  return j;
}

void add_sgd_flags(CLI::App& command, SgdFlags& flags) {
  command.add_option("--model", flags.model, "Model: logreg, softmax or mlp:W1[,W2...]")
      ->capture_default_str();
  command
      .add_option("--schedule", flags.schedule, "Learning-rate schedule: constant, invt or cosine")
      ->check(CLI::IsMember({"constant", "invt", "1/t", "cosine"}))
      ->capture_default_str();
  command.add_option("--lr-decay", flags.lr_decay, "invt: lr / (1 + decay * epoch)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  command.add_option("--batch", flags.batch, "Minibatch size (per worker when asynchronous)")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  command
      .add_option("--batch-order", flags.batch_order,
                  "Minibatch order: shuffled (a random permutation each epoch) or contiguous "
                  "(runs of consecutive rows in random order: faster on large dense data stored "
                  "in random order, not for files sorted by label)")
      ->check(CLI::IsMember({"shuffled", "contiguous"}))
      ->capture_default_str();
  command.add_option("--l2", flags.l2, "L2 regularisation of the weights")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  command.add_option("--threads", flags.threads,
                     "Threads for loading and evaluation (default: all cores)");
  auto* factor = command
                     .add_option("--divergence-factor", flags.divergence_factor,
                                 "Stop as diverged when the training loss is above this factor "
                                 "times the initial loss at two evaluations in a row")
                     ->check(CLI::Range(1.0, 1e30))
                     ->capture_default_str();
  command
      .add_flag("--no-divergence-check", flags.no_divergence_check,
                "Only a non-finite loss or parameter stops a run as diverged")
      ->excludes(factor);
  command
      .add_option("--warmup", flags.warmup,
                  "Epochs over which the rate rises linearly from 0 to the schedule's (0: none)")
      ->check(CLI::NonNegativeNumber);
  command.add_option("--early-stop", flags.early_stop,
                     "End the run once the test accuracy has not improved for N evaluations in "
                     "a row, keeping the model of the best one (needs --test; 0: off)");
}

std::shared_ptr<void> limit_threads(unsigned threads) {
  if (threads == 0) return nullptr;
  return std::make_shared<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                               threads);
}

void apply_sgd_flags(const SgdFlags& flags, SgdConfig& config) {
  constexpr double kDefaultEpochs = 10;
  config.batch = flags.batch;
  config.divergence_factor = flags.no_divergence_check ? 0 : flags.divergence_factor;
  config.early_stop = flags.early_stop;
  config.warmup_epochs = flags.warmup;
  config.batch_order = parse_batch_order(flags.batch_order);
  config.epochs = flags.epochs;
  config.steps = flags.steps;
  config.seconds = flags.seconds;
  if (flags.epochs == 0 && flags.steps == 0 && flags.seconds == 0) config.epochs = kDefaultEpochs;
  config.schedule = parse_schedule(flags.schedule);
  config.lr_decay = flags.lr_decay;
  config.eval_every = flags.eval_every;
}

void add_engine_flags(CLI::App& command, EngineFlags& flags) {
  command.add_option("--workers", flags.workers, "Worker threads (default: one per core)")
      ->check(CLI::Range(1, 4096));
  command
      .add_option(
          "--partition", flags.partition,
          "How rows are split over workers: iid, label:K (K classes each), dirichlet:ALPHA or "
          "group:FILE (whole groups named per row in FILE)")
      ->capture_default_str();
  command.add_option("--slowdown", flags.slowdown,
                     "Per-worker slowdown factors, repeated over the workers: 1,4 makes every "
                     "second worker post 4x less often");
  command
      .add_option("--slot", flags.slot,
                  "Gradient hand-over: handoff (worker waits) or triple (newest wins; with "
                  "--backend mpi on dense data only)")
      ->check(CLI::IsMember({"handoff", "triple"}))
      ->capture_default_str();
  command.add_flag(
      "--no-warm-start", flags.no_warm_start,
      "dude: start with an empty gradient table instead of every worker's gradient at x0");
  command.add_flag("--pin", flags.pin,
                   "With threads: pin the server and each worker to its own core");
  command
      .add_option("--server-threads", flags.server_threads,
                  "With threads: threads that fold each round, claiming chunks of "
                  "coordinates (the server and N-1 helpers; waiting hand-off workers help "
                  "too); same model for any N")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  command
      .add_option("--server", flags.server,
                  "Sparse data, with threads: where arrivals are applied: thread (a server "
                  "thread), workers (each worker applies its own, under a lock) or auto "
                  "(workers when they take every core)")
      ->check(CLI::IsMember({"auto", "thread", "workers"}))
      ->capture_default_str();
  command.add_flag("--deterministic", flags.deterministic,
                   "Replay on a virtual clock (one thread): the same flags give identical metrics; "
                   "times are virtual (one unit per unslowed gradient)");
  command
      .add_option(
          "--compute-time", flags.compute_time,
          "--deterministic: per-gradient compute time before slowdown: fixed, exp, normal:SIGMA "
          "or lognormal:SIGMA (heavy-tailed)")
      ->capture_default_str();
}

void apply_engine_flags(const EngineFlags& flags, AsyncConfig& config) {
  config.workers =
      flags.workers > 0 ? flags.workers : std::max(1u, std::thread::hardware_concurrency());
  config.partition = for_flag("--partition", [&] { return PartitionSpec::parse(flags.partition); });
  config.slowdown.clear();
  if (!flags.slowdown.empty()) {
    config.slowdown =
        for_flag("--slowdown", [&] { return parse_slowdown(flags.slowdown, config.workers); });
  }
  config.slot = parse_slot_discipline(flags.slot);
  config.warm_start = !flags.no_warm_start;
  config.pin_threads = flags.pin;
  config.server_threads = flags.server_threads;
  config.server = parse_server_placement(flags.server);
  config.deterministic = flags.deterministic;
  config.compute_time =
      for_flag("--compute-time", [&] { return ComputeTime::parse(flags.compute_time); });
}

void add_train_test_flags(CLI::App& command, TrainTestFlags& flags) {
  command
      .add_option("--train,--data", flags.train,
                  "Training data: a file (LIBSVM, CSV, IDX images or fastText text; .gz read "
                  "transparently) "
                  "or a built-in data set (digits)")
      ->capture_default_str();
  command.add_option("--train-labels", flags.train_labels,
                     "IDX labels file for --train (default: by name)");
  command.add_option("--test", flags.test, "Test data, same format as --train");
  command.add_option("--test-labels", flags.test_labels,
                     "IDX labels file for --test (default: by name)");
  command
      .add_option("--holdout", flags.holdout,
                  "Without --test: fraction of the training rows held out for testing (seeded)")
      ->check(CLI::Range(0.0, 0.99))
      ->capture_default_str();
  add_data_flags(command, flags.data);
  add_hashing_flags(command, flags.data);
}

TrainTestData load_train_test(const TrainTestFlags& flags, std::uint64_t split_seed) {
  TrainTestData d;
  d.train = load_data(flags.train, load_options(flags.data, flags.train, flags.train_labels));
  if (!flags.test.empty()) {
    LoadOptions test = load_options(flags.data, flags.test, flags.test_labels);
    test.features = d.train.features();
    test.classes = d.train.classes();
    test.label_names.assign(d.train.label_names().begin(), d.train.label_names().end());
    d.test = load_data(flags.test, test);
    d.train_rows = all_rows(d.train.rows());
    d.test_rows = all_rows(d.test.rows());
  } else {
    RowSplit split = split_rows(d.train.rows(), flags.holdout, split_seed);
    d.train_rows = std::move(split.train);
    d.test_rows = std::move(split.holdout);
    d.test = d.train;  // shares the arrays
  }
  return d;
}

AtomicOutput::AtomicOutput(std::string path)
    : path_(std::move(path)), temporary_(path_ + ".tmp." + std::to_string(::getpid())) {
  remove_stale_temporaries(path_);
  file_ = std::fopen(temporary_.c_str(), "w");
  if (file_ == nullptr) {
    throw Error(path_ + ": cannot create " + temporary_ + ": " + std::strerror(errno));
  }
}

AtomicOutput::~AtomicOutput() {
  if (file_ != nullptr) {
    std::fclose(file_);
    std::remove(temporary_.c_str());
  }
}

void AtomicOutput::commit() {
  const bool ok = std::fflush(file_) == 0 && !std::ferror(file_);
  const int saved_errno = errno;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!ok || !closed) {
    std::remove(temporary_.c_str());
    throw Error(path_ + ": write failed: " + std::strerror(saved_errno));
  }
  if (std::rename(temporary_.c_str(), path_.c_str()) != 0) {
    const int rename_errno = errno;
    std::remove(temporary_.c_str());
    throw Error(path_ +
                ": cannot rename the temporary file into place: " + std::strerror(rename_errno));
  }
}

ProgressLine::ProgressLine(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO) == 1) {}

ProgressLine::~ProgressLine() { clear(); }

void ProgressLine::update(const std::string& text, double elapsed_seconds, double fraction) {
  if (!enabled_) return;
  std::string line = text;
  if (fraction > 0.0 && fraction < 1.0) {
    const double eta = elapsed_seconds * (1.0 - fraction) / fraction;
    char buffer[48];
    std::snprintf(buffer, sizeof buffer, "  ETA %.0fs", std::ceil(eta));
    line += buffer;
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  shown_ = true;
}

void ProgressLine::print(const std::string& text) {
  clear();
  std::fprintf(stderr, "%s\n", text.c_str());
}

void ProgressLine::clear() {
  if (shown_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    shown_ = false;
  }
}

int run_guarded(const std::function<int()>& body, const std::string& who) {
  try {
    return body();
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "dude: %serror: %s\n", who.c_str(), e.what());
    return kUsageError;
  } catch (const TrainingDiverged& e) {
    std::fprintf(stderr, "dude: %serror: %s\n", who.c_str(), e.what());
    return kDiverged;
  } catch (const MemoryLimitError& e) {
    std::fprintf(stderr, "dude: %serror: %s; raise it with --max-memory\n", who.c_str(), e.what());
    return kDataOrModelError;
  } catch (const Error& e) {
    std::fprintf(stderr, "dude: %serror: %s\n", who.c_str(), e.what());
    return kDataOrModelError;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "dude: %serror: out of memory\n", who.c_str());
    return kDataOrModelError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dude: %sinternal error: %s\n", who.c_str(), e.what());
    return kDataOrModelError;
  }
}

}  // namespace dude::cli
