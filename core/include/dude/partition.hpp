// dude/partition.hpp: how the training rows are dealt out to the asynchronous workers, and
// how much slower some workers are made to run.
//
// A partition gives every worker its own shard of the training rows; a worker samples its
// minibatches from its shard only. Four kinds:
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
//   group:FILE       whole groups of rows per worker, from FILE: one group name per line, one
//                    line per row of the data file, in row order (the groups of every row of
//                    the file, whatever subset of them a holdout split leaves for training).
//                    Genres of a corpus, say: press, fiction and learned text on different
//                    workers, a heterogeneity that comes from the data rather than its labels.
//                    The groups that have rows among those given are dealt largest first (by
//                    their count of given rows; ties by name), each to the worker with the
//                    fewest rows so far (ties to the lower worker id): the greedy
//                    longest-first rule, whose largest shard is within 4/3 of the best
//                    possible (Graham 1969), and which gives each worker one group first
//                    when there are at least as many groups as workers. A group is never
//                    split; fewer groups than workers is an error. The seed plays no part:
//                    a worker holds the same groups whatever the seed (the trainer's
//                    minibatches still depend on it).
//
// The shards depend only on the set of rows given, the data's labels (the rows' groups for
// group:FILE), the worker count, the spec and the seed: the same inputs give identical shards
// on every platform.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dude/dataset.hpp"

namespace dude {

/// The groups of group:FILE, as read from FILE: the group of every row of the data file.
struct RowGroups {
  std::string file;                  // FILE as given after "group:"
  std::vector<std::uint32_t> group;  // the group id of each row of the data file, in row order
  std::vector<std::string> names;    // names[id]; ids in order of first appearance in FILE
};

struct PartitionSpec {
  enum class Kind { Iid, Label, Dirichlet, Group };
  Kind kind = Kind::Iid;
  std::uint32_t classes_per_worker = 0;  // Label: K, at least 1
  double alpha = 0;                      // Dirichlet: concentration, finite and > 0
  /// Group: the rows' groups, read once by parse(); shared and immutable, so that copies of
  /// the spec (one per run of a comparison grid) are cheap. Null for the other kinds.
  std::shared_ptr<const RowGroups> groups;

  /// Parses "iid", "label:K" (K an integer >= 1), "dirichlet:ALPHA" (ALPHA a finite number
  /// > 0) or "group:FILE" (FILE a path; it is read now). Throws ConfigError whose message
  /// starts with "partition '<text>'" on other text. For group:FILE, throws DataError naming
  /// FILE when it cannot be read or is empty, and "FILE:LINE: reason" at its first empty line.
  /// A group name is its line less blanks at either end and a trailing carriage return (inner
  /// blanks are kept); a last line without a newline counts; FILE may be gzip-compressed.
  static PartitionSpec parse(std::string_view text);
  /// The text parse() reads back into the same spec ("iid", "label:2", "dirichlet:0.1",
  /// "group:FILE"; for group:FILE parse() reads the file again).
  std::string to_string() const;
};

/// Splits `rows` (row ids of `data`) into `workers` shards following `spec`, reproducibly
/// from `seed` (group:FILE does not use it). Each shard comes back sorted ascending (the
/// trainer shuffles); no row is in two shards, and every row is in one except those label:K
/// drops.
///
/// Throws ConfigError when workers is 0, a row id is not a row of `data`, label:K has K above
/// the class count, group:FILE's file has not one line per row of `data` (the message names
/// the file and both counts) or the given rows fall in fewer groups than workers (it names
/// both counts), or the partition would leave a worker without rows (more workers than
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
