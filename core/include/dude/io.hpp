// dude/io.hpp: loading data sets from files, strictly.
//
// Every loader reads gzip transparently (detected by its magic bytes, not the name) and stops
// at the first malformed input with a DataError naming the file, the line (byte offset for
// binary formats) and what is wrong. Nothing is ever silently skipped or clamped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dude/dataset.hpp"

namespace dude {

enum class Format { Auto, Libsvm, Csv, Idx };

/// Parses "auto", "libsvm" (or "svmlight"), "csv", "idx"; throws ConfigError otherwise.
Format parse_format(std::string_view name);

struct LoadOptions {
  /// Auto picks by extension (after an optional .gz): .csv -> CSV; *-idx?-ubyte or .idx ->
  /// IDX; anything else (.svm, .libsvm, .txt ...) -> LIBSVM.
  Format format = Format::Auto;
  /// IDX: the labels file; empty means the standard naming (...-images-idx3-ubyte[.gz] ->
  /// ...-labels-idx1-ubyte[.gz]).
  std::string labels_path;
  /// CSV: which column holds the label; negative counts from the end (-1 is the last).
  int csv_label_column = 0;
  /// CSV: the first line is a header and is skipped.
  bool csv_header = false;
  /// The feature count the data must fit (0: as read). Sparse data with fewer features is
  /// widened; any row using a feature beyond it, or dense data of another width, is an error.
  std::size_t features = 0;
  /// The class count labels must fit (0: largest label + 1, at least 2).
  std::uint32_t classes = 0;
};

/// Loads a data set from a file in any supported format.
Dataset load_dataset(const std::string& path, const LoadOptions& options = {});

/// Reads a whole file, inflating it if it is gzip-compressed (one or more members).
/// Throws DataError on an unreadable file or a truncated or corrupt gzip stream.
std::string read_file(const std::string& path);

/// Parsers over text already in memory; `name` is the file name used in error messages.
/// Large inputs are parsed in parallel chunks (oneTBB); the result does not depend on it.
Dataset parse_libsvm(std::string_view text, const std::string& name,
                     const LoadOptions& options = {});
Dataset parse_csv(std::string_view text, const std::string& name, const LoadOptions& options = {});
/// IDX images (magic 0x00000803, unsigned bytes, scaled to [0,1]) and labels (0x00000801).
Dataset parse_idx(std::string_view images, const std::string& images_name, std::string_view labels,
                  const std::string& labels_name, const LoadOptions& options = {});

/// The IDX labels file that goes with an images file by the standard naming; throws
/// DataError when the name does not follow it.
std::string idx_labels_path(const std::string& images_path);

/// Data sets built into the library: "digits", the UCI optical hand-written digits
/// (1,797 x 64, features scaled to [0,1], 10 classes), true for names it knows.
bool is_builtin_dataset(std::string_view name);
/// The built-in data set `name`, fitted to `fit.features` and `fit.classes` as load_dataset
/// fits a file (the other options do not apply).
Dataset load_builtin_dataset(std::string_view name, const LoadOptions& fit = {});

}  // namespace dude
