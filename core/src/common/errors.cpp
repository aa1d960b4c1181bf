#include "dude/errors.hpp"

#include <cstdio>
#include <iterator>
#include <utility>

namespace dude {
namespace {
// Built with append rather than operator+ chains, which trip a false -Wrestrict in
// GCC 12 at -O3 (GCC bug 105329).
std::string describe(const std::string& file, DataError::Where where, std::uint64_t position,
                     const std::string& reason) {
  std::string text = file;
  switch (where) {
    case DataError::Where::Line: text.append(":").append(std::to_string(position)); break;
    case DataError::Where::ByteOffset:
      text.append(": byte ").append(std::to_string(position));
      break;
    case DataError::Where::File: break;
  }
  text.append(": ").append(reason);
  return text;
}

std::string describe_divergence(std::uint64_t step, std::optional<std::uint32_t> worker,
                                const std::string& reason,
                                const std::optional<TrainingDiverged::GoodPoint>& last_good) {
  std::string text = "training diverged at step ";
  text.append(std::to_string(step));
  if (worker) text.append(" (worker ").append(std::to_string(*worker)).append(")");
  text.append(": ").append(reason).append("; ");
  if (last_good) {
    char where[96];
    std::snprintf(where, sizeof where, "last good evaluation at step %llu (epoch %.2f",
                  static_cast<unsigned long long>(last_good->step), last_good->epoch);
    text.append(where);
    if (last_good->test_accuracy) {
      std::snprintf(where, sizeof where, ", test accuracy %.4f", *last_good->test_accuracy);
      text.append(where);
    }
    text.append(")");
  } else {
    text.append("no evaluation before it passed");
  }
  return text.append("; lower the learning rate");
}
}  // namespace

DataError::DataError(std::string file, std::string reason)
    : DataError(std::move(file), Where::File, 0, std::move(reason)) {}

DataError::DataError(std::string file, Where where, std::uint64_t position, std::string reason)
    : Error(describe(file, where, position, reason)),
      file_(std::move(file)),
      where_(where),
      position_(position),
      reason_(std::move(reason)) {}

MemoryLimitError::MemoryLimitError(std::string file, Where where, std::uint64_t position,
                                   const std::string& what, std::uint64_t needed,
                                   std::uint64_t limit, bool at_least)
    : DataError(std::move(file), where, position,
                std::string(what)
                    .append(at_least ? " needs more than " : " needs ")
                    .append(format_bytes(needed))
                    .append(", over the memory limit of ")
                    .append(format_bytes(limit))),
      needed_(needed),
      limit_(limit) {}

std::string format_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double scaled = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  while (scaled >= 1024 && unit + 1 < std::size(kUnits)) {
    scaled /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", scaled, kUnits[unit]);
  return text;
}

TrainingDiverged::TrainingDiverged(std::uint64_t step, std::optional<std::uint32_t> worker,
                                   std::string reason, std::optional<GoodPoint> last_good)
    : Error(describe_divergence(step, worker, reason, last_good)),
      step_(step),
      worker_(worker),
      reason_(std::move(reason)),
      last_good_(last_good) {}

}  // namespace dude
