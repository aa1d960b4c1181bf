// dude/errors.hpp: every error the library reports is one of these types. The library never
// prints and never exits; the caller decides what a failure means.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace dude {

/// Base of every dude exception.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Malformed or unreadable input data. what() reads "FILE:LINE: REASON" for text formats and
/// "FILE: byte OFFSET: REASON" for binary ones; the parts are also available separately.
class DataError : public Error {
 public:
  enum class Where { File, Line, ByteOffset };
  /// An error about the whole file (empty, unreadable, mismatched with another file).
  DataError(std::string file, std::string reason);
  /// An error at a position: a 1-based line number or a 0-based byte offset.
  DataError(std::string file, Where where, std::uint64_t position, std::string reason);

  const std::string& file() const noexcept { return file_; }
  Where where() const noexcept { return where_; }
  std::uint64_t position() const noexcept { return position_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string file_;
  Where where_ = Where::File;
  std::uint64_t position_ = 0;
  std::string reason_;
};

/// Input whose loading would need more memory than LoadOptions::max_memory allows, refused
/// before anything that size is allocated. reason() names what needs the memory, how much,
/// and the limit.
class MemoryLimitError : public DataError {
 public:
  /// `what` needs `needed` bytes, or more than that when `at_least` (the input had not said how
  /// many when it was stopped).
  MemoryLimitError(std::string file, Where where, std::uint64_t position, const std::string& what,
                   std::uint64_t needed, std::uint64_t limit, bool at_least = false);

  std::uint64_t needed() const noexcept { return needed_; }
  std::uint64_t limit() const noexcept { return limit_; }

 private:
  std::uint64_t needed_;
  std::uint64_t limit_;
};

/// A byte count as people read it: "512 bytes", "3.5 MiB", "14.9 GiB".
std::string format_bytes(std::uint64_t bytes);

/// A configuration value out of range or inconsistent; what() names the field.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// A model file that cannot be read, is corrupt, or does not fit the data it is used on.
class ModelFileError : public Error {
 public:
  using Error::Error;
};

/// A checkpoint that cannot be written, read or used: unreadable, corrupt, or of a run with
/// other settings or data (what() names the difference).
class CheckpointError : public Error {
 public:
  using Error::Error;
};

/// A run stopped because it diverged, almost always a learning rate too large for the model:
/// a gradient's loss was not finite, the training loss stayed far above its initial value
/// (SgdConfig::divergence_factor), or a parameter overflowed (not finite, or so large that its
/// product with another would be). Raised by every
/// trainer at the step where it was seen. The model is then unusable unless the run kept the
/// last good one (SgdConfig::keep_last_good).
class TrainingDiverged : public Error {
 public:
  /// The last evaluation point that passed the checks.
  struct GoodPoint {
    std::uint64_t step = 0;
    double epoch = 0;
    std::optional<double> test_accuracy;
  };

  /// `step`: the model updates before the failure (Progress::steps: server steps, hogwild's
  /// shared count, or the single-thread trainer's steps); `worker`: the worker that computed
  /// the loss, none when the failure was seen at an evaluation or by the single-thread
  /// trainer; `reason`: what was wrong; `last_good`: none when no evaluation passed yet.
  TrainingDiverged(std::uint64_t step, std::optional<std::uint32_t> worker,
                   std::string reason = "the loss is not finite",
                   std::optional<GoodPoint> last_good = std::nullopt);

  /// Throws TrainingDiverged when `loss` is not finite.
  static void check(double loss, std::uint64_t step, std::optional<std::uint32_t> worker) {
    if (!std::isfinite(loss)) throw TrainingDiverged(step, worker);
  }

  std::uint64_t step() const noexcept { return step_; }
  std::optional<std::uint32_t> worker() const noexcept { return worker_; }
  const std::string& reason() const noexcept { return reason_; }
  const std::optional<GoodPoint>& last_good() const noexcept { return last_good_; }

 private:
  std::uint64_t step_;
  std::optional<std::uint32_t> worker_;
  std::string reason_;
  std::optional<GoodPoint> last_good_;
};

}  // namespace dude
