// dude/io.hpp: loading data sets from files, strictly.
//
// Every loader reads gzip transparently (detected by its magic bytes, not the name) and stops
// at the first malformed input with a DataError naming the file, the line (byte offset for
// binary formats) and what is wrong. Nothing is ever silently skipped or clamped. The text
// formats accept a UTF-8 byte order mark and CRLF line ends; a NUL byte in LIBSVM or CSV
// text, or a line longer than kMaxLineBytes, is refused as soon as it is read, before the
// rest of the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dude/dataset.hpp"

namespace dude {

enum class Format { Auto, Libsvm, Csv, Idx, Fasttext };

/// Parses "auto", "libsvm" (or "svmlight"), "csv", "idx", "fasttext"; throws ConfigError
/// otherwise.
Format parse_format(std::string_view name);

/// The format Format::Auto picks for a file, by its name after an optional .gz: .csv -> CSV;
/// *-idx?-ubyte or .idx -> IDX; .ft or .fasttext -> fastText; anything else (.svm, .libsvm,
/// .txt ...) -> LIBSVM.
Format detect_format(std::string_view path);

/// How fastText text becomes features: every word (a token not starting with "__label__") and
/// every run of 2..ngrams consecutive words, joined by one space, adds 1 to feature
/// hash_token(bytes) mod 2^bits. The hash is portable: the same text gives the same features
/// on every machine, and a model stores these settings.
struct TextHashing {
  static constexpr std::uint32_t kMaxBits = 30;
  static constexpr std::uint32_t kMaxNgrams = 16;
  std::uint32_t bits = 20;   // 2^bits features, 1..kMaxBits
  std::uint32_t ngrams = 1;  // longest word n-gram, 1..kMaxNgrams (1: words only)

  /// Throws ConfigError naming the field unless both settings are in range.
  void validate() const;
  /// 2^bits; meaningful once validate() passed.
  std::size_t features() const noexcept { return std::size_t{1} << bits; }
  bool operator==(const TextHashing&) const = default;
};

/// XXH3_64bits of the bytes with seed 0 (xxHash 0.8, the hash `xxhsum -H3` prints).
std::uint64_t hash_token(std::string_view bytes) noexcept;
/// The feature a word or n-gram hashes to: hash_token(bytes) mod 2^bits.
std::uint32_t hashed_feature(std::string_view bytes, std::uint32_t bits) noexcept;

/// The default LoadOptions::max_memory: half of the machine's physical memory (16 GiB where the
/// system does not say), leaving the other half to the rest of the machine.
std::uint64_t default_max_memory() noexcept;

/// The longest line the text formats accept, 32 MiB: far beyond any real row (a LIBSVM row of
/// a million features is about 15 MiB), and what stops a file of zeros or of garbage without
/// line breaks after reading little.
inline constexpr std::size_t kMaxLineBytes = std::size_t{32} << 20;

struct LoadOptions {
  /// Auto picks by the file name, as detect_format.
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
  /// fastText: how words become features (the data has hashing.features() features).
  TextHashing hashing;
  /// fastText: the training data's (or a model's) class names, label_names(). Given, each
  /// line's label must be one of them and takes its id; a label not among them is a DataError
  /// at its line. Empty, the classes are the file's own labels in byte order.
  std::vector<std::string> label_names;
  /// A binary cache of the parsed data (empty: none), for the text formats (LIBSVM, CSV,
  /// fastText; IDX is read directly). When the file there was written from this very data file
  /// (same size and modification time) with the same options and its checksum holds, the data
  /// set is read from it instead of parsed; otherwise the file is parsed and the cache
  /// written (whole or not at all) for the next load.
  std::string cache_path;
  /// The most memory a load may commit to, in bytes: the text of a text file, the features of
  /// the data set, and a dense model over its features and classes (a weight and a gradient
  /// per feature and class, as training holds them). Anything needing more is refused with a
  /// MemoryLimitError naming the file, the size and the limit before it is allocated. It does
  /// not change what a load produces.
  std::uint64_t max_memory = default_max_memory();
};

/// Loads a data set from a file in any supported format.
Dataset load_dataset(const std::string& path, const LoadOptions& options = {});

/// Reads a whole file, inflating it if it is gzip-compressed (one or more members).
/// Throws DataError on an unreadable file or a truncated or corrupt gzip stream, and
/// MemoryLimitError when its bytes are more than `max_memory`.
std::string read_file(const std::string& path, std::uint64_t max_memory = default_max_memory());

/// Parsers over text already in memory; `name` is the file name used in error messages.
/// Large inputs are parsed in parallel chunks (oneTBB); the result does not depend on it.
Dataset parse_libsvm(std::string_view text, const std::string& name,
                     const LoadOptions& options = {});
Dataset parse_csv(std::string_view text, const std::string& name, const LoadOptions& options = {});
/// fastText text: one row per line, exactly one "__label__NAME" token and any number of words,
/// separated by blanks (space, tab, \v, \f, \r, NUL, as fastText splits them); lines holding
/// only blanks are skipped. Stored sparse (CSR) with hashed features, see TextHashing; the
/// classes are named (Dataset::label_names).
Dataset parse_fasttext(std::string_view text, const std::string& name,
                       const LoadOptions& options = {});
/// IDX images (magic 0x00000803, unsigned bytes, scaled to [0,1]) and labels (0x00000801).
Dataset parse_idx(std::string_view images, const std::string& images_name, std::string_view labels,
                  const std::string& labels_name, const LoadOptions& options = {});

/// Writes a data set as LIBSVM text: per row its class id and its nonzero features as 1-based
/// index:value pairs (values as printf's %.9g: a float32 reads back exactly), one row per
/// line. The file appears whole or not at all (a temporary file renamed into place); throws
/// dude::Error naming the path when it cannot be written.
void write_libsvm(const std::string& path, const Dataset& data);

/// Removes the temporary files PATH.tmp.PID that writers of PATH killed mid-write left behind
/// (their process no longer exists). Every writer of the library and of the dude command calls
/// it before writing PATH; a temporary file of a live writer is left alone.
void remove_stale_temporaries(const std::string& path);

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
