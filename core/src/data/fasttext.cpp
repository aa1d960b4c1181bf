// fastText text, the input of `fasttext supervised`: one row per line, tokens separated by
// blanks, the token starting with "__label__" the row's class and every other one a word.
// Words and word n-grams are hashed into 2^bits features (TextHashing); the classes are the
// label names in byte order, which every chunk can agree on only once all are read, so each
// chunk numbers its labels locally and the ids are settled after the parse.
//
// fastText itself skips a line without a label (an empty line among them), so lines holding
// only blanks are skipped here too; a line with words but no label, or with two labels, is an
// error. fastText has no comments: '#' is a word like any other.
#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/parallel.hpp"
#include "data/label_names.hpp"
#include "data/memory_limit.hpp"
#include "data/text_parse.hpp"
#include "dude/errors.hpp"
#include "dude/io.hpp"

namespace dude {
namespace {

using detail::fail;
using detail::is_token_separator;

constexpr std::string_view kLabelPrefix = "__label__";
// What quoted_token stops at: fastText's separators.
constexpr std::string_view kSeparators{" \t\v\f\r\0", 6};

/// Class names to their ids.
using Dictionary = std::unordered_map<std::string_view, std::uint32_t>;

/// One chunk's rows, in CSR form local to the chunk.
struct FasttextChunk {
  std::vector<std::uint64_t> row_ptr{0};
  std::vector<std::uint32_t> index;
  std::vector<float> value;
  std::vector<std::uint32_t> labels;          // ids in the training dictionary, or chunk-local ones
  std::vector<std::string_view> local_names;  // chunk-local id -> name (no training dictionary)
};

/// Parses the lines of one chunk. Its scratch arrays are reused from line to line.
class LineParser {
 public:
  LineParser(const TextHashing& hashing, const Dictionary* training)
      : mask_((std::uint64_t{1} << hashing.bits) - 1),
        ngrams_(hashing.ngrams),
        training_(training) {}

  void parse(const detail::Line& line, FasttextChunk& chunk) {
    std::string_view label;
    if (!split(line, label)) return;
    chunk.labels.push_back(class_of(label, line.offset, chunk));
    add_features(chunk);
  }

 private:
  /// The line's words into words_ and its label's name into `label`; false for a blank line.
  bool split(const detail::Line& line, std::string_view& label) {
    words_.clear();
    const char* label_token = nullptr;
    for (const char* p = line.begin;;) {
      while (p != line.end && is_token_separator(*p)) ++p;
      if (p == line.end) break;
      const char* stop = p;
      while (stop != line.end && !is_token_separator(*stop)) ++stop;
      const std::string_view token(p, static_cast<std::size_t>(stop - p));
      if (!token.starts_with(kLabelPrefix)) {
        words_.push_back(token);
      } else if (label_token != nullptr) {
        fail(line.offset, "a second label " + detail::quoted_token(p, line.end, kSeparators) +
                              " after " + detail::quoted_token(label_token, line.end, kSeparators) +
                              ": a line has exactly one");
      } else {
        label_token = p;
        label = token.substr(kLabelPrefix.size());
      }
      p = stop;
    }
    if (label_token == nullptr && words_.empty()) return false;
    if (label_token == nullptr) {
      fail(line.offset, "no label: a line needs one __label__NAME token (it starts with " +
                            detail::quoted_token(words_.front().data(), line.end, kSeparators) +
                            ")");
    }
    if (label.empty()) fail(line.offset, "empty label name '__label__'");
    if (label.size() > detail::kMaxLabelNameBytes) {
      fail(line.offset, "label " + detail::quoted_token(label_token, line.end, kSeparators) +
                            " is longer than " + std::to_string(detail::kMaxLabelNameBytes) +
                            " bytes");
    }
    return true;
  }

  /// The id of a label: its training id, or a chunk-local one settled after the parse.
  std::uint32_t class_of(std::string_view label, std::size_t offset, FasttextChunk& chunk) {
    if (training_ == nullptr) {
      const auto [it, added] =
          local_.try_emplace(label, static_cast<std::uint32_t>(chunk.local_names.size()));
      if (added) chunk.local_names.push_back(label);
      return it->second;
    }
    const auto it = training_->find(label);
    if (it == training_->end()) {
      fail(offset, "label " + detail::quoted(label) + " is not among the " +
                       std::to_string(training_->size()) + " labels of the model/training data");
    }
    return it->second;
  }

  /// Hashes the words and their n-grams, merges repeated features (counts add up) and appends
  /// the row with ascending indices.
  void add_features(FasttextChunk& chunk) {
    features_.clear();
    for (std::size_t i = 0; i < words_.size(); ++i) {
      gram_.assign(words_[i]);
      features_.push_back(feature_of(gram_));
      for (std::size_t n = 2; n <= ngrams_ && i + n <= words_.size(); ++n) {
        gram_ += ' ';
        gram_ += words_[i + n - 1];
        features_.push_back(feature_of(gram_));
      }
    }
    std::sort(features_.begin(), features_.end());
    for (std::size_t j = 0; j < features_.size();) {
      std::size_t k = j + 1;
      while (k < features_.size() && features_[k] == features_[j]) ++k;
      chunk.index.push_back(features_[j]);
      chunk.value.push_back(static_cast<float>(k - j));
      j = k;
    }
    chunk.row_ptr.push_back(chunk.index.size());
  }

  std::uint32_t feature_of(std::string_view bytes) const noexcept {
    return static_cast<std::uint32_t>(hash_token(bytes) & mask_);
  }

  std::uint64_t mask_;
  std::size_t ngrams_;
  const Dictionary* training_;
  Dictionary local_;  // views into the text, which outlives the parse
  std::vector<std::string_view> words_;
  std::vector<std::uint32_t> features_;
  std::string gram_;
};

/// The class names of every chunk's labels, distinct and in byte order; turns each chunk's
/// local label ids into ids among them.
std::vector<std::string> settle_label_ids(std::vector<FasttextChunk>& chunks,
                                          const std::string& name) {
  std::vector<std::string_view> names;
  for (const FasttextChunk& chunk : chunks) {
    names.insert(names.end(), chunk.local_names.begin(), chunk.local_names.end());
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (names.size() > detail::kMaxClasses) {
    throw DataError(name, std::to_string(names.size()) + " distinct labels, more than the " +
                              std::to_string(detail::kMaxClasses) + " classes a model may have");
  }
  if (names.size() < 2) {
    throw DataError(name, "a single label, " + detail::quoted(names.front()) +
                              ": a classifier needs at least two");
  }
  detail::parallel_for(chunks.size(), [&](std::size_t i) {
    std::vector<std::uint32_t> global;
    for (const std::string_view local : chunks[i].local_names) {
      global.push_back(static_cast<std::uint32_t>(
          std::lower_bound(names.begin(), names.end(), local) - names.begin()));
    }
    for (std::uint32_t& label : chunks[i].labels) label = global[label];
  });
  return {names.begin(), names.end()};
}

/// The training dictionary of the options (empty without names), after checking that the
/// options fit the fastText data they describe.
Dictionary training_dictionary(const LoadOptions& options, const std::string& name) {
  options.hashing.validate();
  if (options.features != 0 && options.features != options.hashing.features()) {
    throw DataError(name, "hash bits " + std::to_string(options.hashing.bits) + " give " +
                              std::to_string(options.hashing.features()) +
                              " features, the model/training data has " +
                              std::to_string(options.features));
  }
  const std::vector<std::string>& names = options.label_names;
  if (names.empty()) {
    if (options.classes != 0) {
      throw DataError(name,
                      "fastText labels are names, and the model/training data has none "
                      "(its classes are numeric ids)");
    }
    return {};
  }
  const std::size_t classes = options.classes != 0 ? options.classes : names.size();
  const std::string problem = detail::label_names_problem(names, classes);
  if (!problem.empty()) throw ConfigError("label names: " + problem);
  Dictionary dictionary;
  for (std::uint32_t c = 0; c < names.size(); ++c) dictionary.emplace(names[c], c);
  return dictionary;
}

}  // namespace

void TextHashing::validate() const {
  if (bits < 1 || bits > kMaxBits) {
    throw ConfigError("hash bits: must be in [1, " + std::to_string(kMaxBits) + "], got " +
                      std::to_string(bits));
  }
  if (ngrams < 1 || ngrams > kMaxNgrams) {
    throw ConfigError("ngrams: must be in [1, " + std::to_string(kMaxNgrams) + "], got " +
                      std::to_string(ngrams));
  }
}

std::uint64_t hash_token(std::string_view bytes) noexcept {
  return XXH3_64bits(bytes.data(), bytes.size());
}

std::uint32_t hashed_feature(std::string_view bytes, std::uint32_t bits) noexcept {
  return static_cast<std::uint32_t>(hash_token(bytes) & ((std::uint64_t{1} << bits) - 1));
}

Dataset parse_fasttext(std::string_view text, const std::string& name, const LoadOptions& options) {
  const Dictionary training = training_dictionary(options, name);
  std::vector<FasttextChunk> chunks = detail::parse_in_chunks<FasttextChunk>(
      text, detail::text_start(text), name, [&](std::size_t begin, std::size_t end) {
        LineParser parser(options.hashing, training.empty() ? nullptr : &training);
        FasttextChunk chunk;
        detail::for_each_line(text, begin, end,
                              [&](const detail::Line& line) { parser.parse(line, chunk); });
        return chunk;
      });
  std::size_t rows = 0;
  for (const FasttextChunk& chunk : chunks) rows += chunk.labels.size();
  if (rows == 0) throw DataError(name, "empty file: no data rows");
  std::vector<std::string> names =
      training.empty() ? settle_label_ids(chunks, name) : options.label_names;

  const auto classes = static_cast<std::uint32_t>(names.size());
  // Given the features (a model's), the model exists; otherwise the hashing sizes it.
  if (options.features == 0) {
    detail::check_memory(name, DataError::Where::File, 0,
                         "hash bits " + std::to_string(options.hashing.bits), 0,
                         options.hashing.features(), classes, options.max_memory);
  }

  std::vector<std::uint32_t> labels = detail::concatenate(chunks, &FasttextChunk::labels);
  return detail::sparse_dataset(options.hashing.features(), classes,
                                detail::join_sparse(chunks, std::move(labels)))
      .with_label_names(std::move(names));
}

}  // namespace dude
