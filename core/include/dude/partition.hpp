// dude/partition.hpp: how the training rows are dealt out to the asynchronous workers, and
// how much slower some workers are made to run.
//
// A partition gives every worker its own shard of the training rows; a worker samples its
// minibatches from its shard only. Three kinds:
//
//   iid              every worker sees the same mix: the rows in a seeded random order, cut
//                    into `workers` contiguous parts whose sizes differ by at most one.
//   label:K          worker w holds the K classes (w*K + j) mod C, j = 0..K-1 (C: the data's
//                    class count). Each class's rows, in a seeded random order, are cut into
//                    nearly equal contiguous parts (sizes differ by at most one), one per worker
//                    holding it, in worker order. When workers * K < C some classes have no
//                    holder and their rows are dropped from training. K > C is an error.
//                    label:1 with as many workers as classes is the one-class-per-worker setting.
//   dirichlet:ALPHA  for each class, the share of each worker is drawn from a symmetric
//                    Dirichlet(ALPHA) distribution; the class's rows, in a seeded random order,
//                    are cut in those proportions (rounded so that the parts add up to the
//                    class exactly). Small ALPHA (0.1) gives each worker a few dominant classes;
//                    large ALPHA (1000) approaches iid.
//
// The shards depend only on the set of rows given, the data's labels, the worker count, the
// spec and the seed: the same inputs give identical shards on every platform.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dude/dataset.hpp"

namespace dude {

struct PartitionSpec {
  enum class Kind { Iid, Label, Dirichlet };
  Kind kind = Kind::Iid;
  std::uint32_t classes_per_worker = 0;  // Label: K, at least 1
  double alpha = 0;                      // Dirichlet: concentration, finite and > 0

  /// Parses "iid", "label:K" (K an integer >= 1) or "dirichlet:ALPHA" (ALPHA a finite number
  /// > 0). Throws ConfigError whose message starts with "partition '<text>'" otherwise.
  static PartitionSpec parse(std::string_view text);
  /// The text parse() reads back into the same spec ("iid", "label:2", "dirichlet:0.1").
  std::string to_string() const;
};

/// Splits `rows` (row ids of `data`) into `workers` shards following `spec`, reproducibly
/// from `seed`. Each shard comes back sorted ascending (the trainer shuffles); no row is in
/// two shards, and every row is in one except those label:K drops.
///
/// Throws ConfigError when workers is 0, a row id is not a row of `data`, label:K has K above
/// the class count, or the partition would leave a worker without rows (more workers than
/// rows, a worker whose label:K classes have too few rows, or a worker that dirichlet's draw
/// gave nothing, which happens with small ALPHA and many workers): a worker with an empty
/// shard could not compute a gradient. The message names the spec and the worker.
std::vector<std::vector<std::uint32_t>> partition_rows(const Dataset& data,
                                                       std::span<const std::uint32_t> rows,
                                                       std::size_t workers,
                                                       const PartitionSpec& spec,
                                                       std::uint64_t seed);

/// Per-worker slowdown factors from "F1,F2,..." (each a finite number >= 1, blanks around a
/// factor allowed): the list is repeated over the workers, so "1,4" makes every second worker
/// 4x slower; factors beyond the worker count are unused. Returns `workers` factors. Throws
/// ConfigError on an empty list, an empty or malformed factor or one below 1; the message
/// starts with "slowdown '<text>'".
std::vector<double> parse_slowdown(std::string_view text, std::size_t workers);

/// Class histogram of each shard (shards.size() x data.classes()), for verbose output and
/// tests. Throws ConfigError on a row id that is not a row of `data`.
std::vector<std::vector<std::size_t>> shard_histograms(
    const Dataset& data, const std::vector<std::vector<std::uint32_t>>& shards);

}  // namespace dude
