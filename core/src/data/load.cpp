// Loading by file name (format detection, the IDX labels file) and the built-in data sets.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <string>
#include <vector>

#include "common/quote.hpp"
#include "data/byte_stream.hpp"
#include "data/cache.hpp"
#include "data/idx.hpp"
#include "dude/errors.hpp"
#include "dude/io.hpp"

namespace dude {
namespace embedded {
// data/digits.csv.gz, compiled in by cmake/embed_file.cmake.
extern const unsigned char kDigitsCsvGz[];
extern const std::size_t kDigitsCsvGz_size;
}  // namespace embedded

namespace {

constexpr std::string_view kGzipSuffix = ".gz";

std::string_view without_gz(std::string_view path) {
  if (path.ends_with(kGzipSuffix)) path.remove_suffix(kGzipSuffix.size());
  return path;
}

/// The file name without its directory and without ".gz", in lower case: what format
/// detection looks at.
std::string detection_name(std::string_view path) {
  const auto slash = path.find_last_of('/');
  if (slash != std::string_view::npos) path.remove_prefix(slash + 1);
  std::string name(without_gz(path));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

/// The IDX images file name endings and the labels file names that go with them.
struct IdxNaming {
  std::string_view images;
  std::string_view labels;
};
constexpr IdxNaming kIdxNamings[] = {{"images-idx3-ubyte", "labels-idx1-ubyte"},
                                     {"images.idx3-ubyte", "labels.idx1-ubyte"}};

constexpr std::string_view kDigits = "digits";

/// The text of a file in a text format, refused as soon as it breaks the limits: more bytes
/// than the memory limit, a line longer than kMaxLineBytes, or a NUL byte where `format` (not
/// null) has none.
detail::TextBuffer read_text(const std::string& path, const LoadOptions& options,
                             const char* format) {
  detail::ByteStream stream(path);
  return detail::read_all(stream, {options.max_memory, kMaxLineBytes, format});
}

}  // namespace

Format parse_format(std::string_view name) {
  if (name == "auto") return Format::Auto;
  if (name == "libsvm" || name == "svmlight") return Format::Libsvm;
  if (name == "csv") return Format::Csv;
  if (name == "idx") return Format::Idx;
  if (name == "fasttext") return Format::Fasttext;
  throw ConfigError("format: unknown data format " + detail::quoted(name) +
                    " (expected auto, libsvm, csv, idx or fasttext)");
}

Format detect_format(std::string_view path) {
  const std::string name = detection_name(path);
  if (name.ends_with(".csv")) return Format::Csv;
  // MNIST-style names: train-images-idx3-ubyte, t10k-labels.idx1-ubyte, ...
  if ((name.ends_with("-ubyte") && name.find("idx") != std::string::npos) ||
      name.ends_with(".idx")) {
    return Format::Idx;
  }
  if (name.ends_with(".ft") || name.ends_with(".fasttext")) return Format::Fasttext;
  return Format::Libsvm;
}

std::string idx_labels_path(const std::string& images_path) {
  const std::string_view stem = without_gz(images_path);
  const std::string_view gz = std::string_view(images_path).substr(stem.size());
  for (const IdxNaming& naming : kIdxNamings) {
    if (stem.ends_with(naming.images)) {
      return std::string(stem.substr(0, stem.size() - naming.images.size())) +
             std::string(naming.labels) + std::string(gz);
    }
  }
  throw DataError(images_path,
                  "cannot name the IDX labels file: the images file name does not end in "
                  "images-idx3-ubyte[.gz]; give the labels file explicitly");
}

Dataset load_dataset(const std::string& path, const LoadOptions& options) {
  const Format format = options.format == Format::Auto ? detect_format(path) : options.format;
  if (!options.cache_path.empty() && format != Format::Idx) {
    return detail::load_through_cache(path, options, format, [&] {
      LoadOptions direct = options;
      direct.cache_path.clear();
      return load_dataset(path, direct);
    });
  }
  switch (format) {
    case Format::Idx: {
      const std::string labels_path =
          options.labels_path.empty() ? idx_labels_path(path) : options.labels_path;
      return detail::load_idx(path, labels_path, options);
    }
    case Format::Csv: return parse_csv(read_text(path, options, "CSV").view(), path, options);
    // NUL bytes separate words in fastText text, as fastText reads it.
    case Format::Fasttext:
      return parse_fasttext(read_text(path, options, nullptr).view(), path, options);
    case Format::Libsvm:
    case Format::Auto: break;
  }
  return parse_libsvm(read_text(path, options, "LIBSVM").view(), path, options);
}

std::uint64_t default_max_memory() noexcept {
  constexpr std::uint64_t kUnknown = std::uint64_t{16} << 30;
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return kUnknown;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size) / 2;
}

bool is_builtin_dataset(std::string_view name) { return name == kDigits; }

namespace {

/// The built-in data fitted to options.features and options.classes as the file loaders fit
/// theirs: the same feature count (it is dense), labels within the classes, which may widen.
Dataset fit_builtin(const Dataset& d, const std::string& name, const LoadOptions& options) {
  if (options.features != 0 && options.features != d.features()) {
    throw DataError(name, "has " + std::to_string(d.features()) + " features, the model has " +
                              std::to_string(options.features));
  }
  if (options.classes != 0 && options.classes < d.classes()) {
    throw DataError(name, "has " + std::to_string(d.classes()) + " classes, the model has " +
                              std::to_string(options.classes));
  }
  return options.classes > d.classes() ? d.widened(d.features(), options.classes) : d;
}

}  // namespace

Dataset load_builtin_dataset(std::string_view name, const LoadOptions& fit) {
  if (!is_builtin_dataset(name)) {
    throw ConfigError("unknown built-in data set " + detail::quoted(name) + " (known: digits)");
  }
  const std::string display_name = "digits (built-in)";
  const std::string text =
      detail::inflate_gzip(std::string_view(reinterpret_cast<const char*>(embedded::kDigitsCsvGz),
                                            embedded::kDigitsCsvGz_size),
                           display_name);
  LoadOptions options;
  options.csv_label_column = -1;
  const Dataset counts = parse_csv(text, display_name, options);
  // The features count pixels in 4x4 blocks (0..16); scaled by 1/16 they lie in [0, 1] like the
  // other image data. Dividing by a power of two is exact.
  const float* first = counts.dense_row(0);
  std::vector<float> x(first, first + counts.stored_values());
  for (float& v : x) v /= 16.0f;
  const auto labels = counts.labels();
  return fit_builtin(Dataset::dense(counts.features(), counts.classes(), std::move(x),
                                    std::vector<std::uint32_t>(labels.begin(), labels.end())),
                     display_name, fit);
}

}  // namespace dude
