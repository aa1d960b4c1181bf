// LIBSVM / SVMlight text: one row per line, "label [qid:N] index:value ... [# comment]".
// Indices are 1-based and strictly ascending; they are stored 0-based. Lines whose first
// non-blank character is '#' are comments. Any other empty or malformed line is an error.

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "data/memory_limit.hpp"
#include "data/text_parse.hpp"
#include "dude/errors.hpp"
#include "dude/io.hpp"

namespace dude {
namespace {

using detail::fail;
using detail::is_blank;
using detail::quoted_token;
using detail::skip_blanks;

constexpr std::string_view kBlanks = " \t";

// Stored indices are 0-based uint32, so a 1-based index may reach 2^32 - 1 at most.
constexpr std::uint64_t kMaxIndex = std::numeric_limits<std::uint32_t>::max();

/// One chunk's rows, in CSR form local to the chunk.
struct LibsvmChunk {
  std::vector<std::uint64_t> row_ptr{0};
  std::vector<std::uint32_t> index;
  std::vector<float> value;
  std::vector<std::uint32_t> labels;  // raw: -1 still unresolved
  std::uint64_t max_index = 0;        // largest 1-based index seen
  std::size_t max_index_offset = 0;   // of the first line holding it
  detail::LabelSummary label_summary;
};

class ChunkParser {
 public:
  ChunkParser(std::uint64_t features, std::uint32_t classes)
      : features_(features), classes_(classes) {}

  void parse_line(const detail::Line& line, LibsvmChunk& chunk) const {
    const char* p = skip_blanks(line.begin, line.end);
    if (p == line.end) fail(line.offset, "empty line");
    if (*p == '#') return;

    const char* label_end = p;
    while (label_end != line.end && !is_blank(*label_end)) ++label_end;
    const std::uint32_t label = detail::parse_label(p, label_end, line.offset, classes_);
    p = skip_blanks(label_end, line.end);
    if (line.end - p >= 4 && std::string_view(p, 4) == "qid:") p = skip_qid(p, line);

    std::uint64_t previous = 0;  // the previous 1-based index; 0 before the first
    while (p != line.end && *p != '#') {
      const char* token = p;
      std::uint64_t index = 0;
      const auto [colon, ec] = std::from_chars(p, line.end, index);
      if (ec == std::errc::invalid_argument || colon == line.end || *colon != ':') {
        fail(line.offset,
             "cannot parse " + quoted_token(token, line.end, kBlanks) + " as index:value");
      }
      if (ec == std::errc::result_out_of_range || index > kMaxIndex) {
        fail(line.offset, "feature index in " + quoted_token(token, line.end, kBlanks) +
                              " is too large (at most " + std::to_string(kMaxIndex) + ")");
      }
      if (index == 0) fail(line.offset, "feature index 0: indices start at 1");
      if (index <= previous) {
        fail(line.offset, "feature index " + std::to_string(index) + " after " +
                              std::to_string(previous) + ": indices must be strictly ascending");
      }
      if (features_ != 0 && index > features_) {
        fail(line.offset, "feature index " + std::to_string(index) + " exceeds the " +
                              std::to_string(features_) + " features of the model/training data");
      }
      float value = 0;
      const auto parsed = detail::parse_float(colon + 1, line.end, value);
      if (parsed.status != detail::NumberStatus::Ok ||
          (parsed.end != line.end && !is_blank(*parsed.end))) {
        fail(line.offset,
             detail::number_problem(parsed.status, "the value of feature " + std::to_string(index),
                                    quoted_token(token, line.end, kBlanks)));
      }
      chunk.index.push_back(static_cast<std::uint32_t>(index - 1));
      chunk.value.push_back(value);
      previous = index;
      p = skip_blanks(parsed.end, line.end);
    }
    chunk.labels.push_back(label);
    chunk.row_ptr.push_back(chunk.index.size());
    chunk.label_summary.add(label, line.offset);
    if (previous > chunk.max_index) {
      chunk.max_index = previous;
      chunk.max_index_offset = line.offset;
    }
  }

 private:
  // A query id (SVMlight ranking data) is accepted and ignored; it must still be a number.
  static const char* skip_qid(const char* p, const detail::Line& line) {
    std::uint64_t qid = 0;
    const auto [stop, ec] = std::from_chars(p + 4, line.end, qid);
    if (ec != std::errc{} || (stop != line.end && !is_blank(*stop))) {
      fail(line.offset, "cannot parse " + quoted_token(p, line.end, kBlanks) + " as qid:number");
    }
    return skip_blanks(stop, line.end);
  }

  std::uint64_t features_;
  std::uint32_t classes_;
};

}  // namespace

Dataset parse_libsvm(std::string_view text, const std::string& name, const LoadOptions& options) {
  const ChunkParser parser(options.features, options.classes);
  std::vector<LibsvmChunk> chunks = detail::parse_in_chunks<LibsvmChunk>(
      text, detail::text_start(text), name, [&](std::size_t begin, std::size_t end) {
        LibsvmChunk chunk;
        detail::for_each_line(text, begin, end,
                              [&](const detail::Line& line) { parser.parse_line(line, chunk); });
        return chunk;
      });

  std::uint64_t max_index = 0;
  std::size_t max_index_offset = 0;
  detail::LabelSummary label_summary;
  for (const LibsvmChunk& chunk : chunks) {
    if (chunk.max_index > max_index) {
      max_index = chunk.max_index;
      max_index_offset = chunk.max_index_offset;
    }
    label_summary.append(chunk.label_summary);
  }
  std::vector<std::uint32_t> labels = detail::concatenate(chunks, &LibsvmChunk::labels);
  if (labels.empty()) throw DataError(name, "empty file: no data rows");
  const std::uint32_t classes =
      detail::resolve_labels(labels, label_summary, text, name, options.classes);
  const std::size_t features = options.features != 0 ? options.features : max_index;
  if (features == 0) throw DataError(name, "no features: every row is empty");
  // The largest index sizes the model; one absurd index must not make an absurd model.
  if (options.features == 0) {
    detail::check_memory(name, DataError::Where::Line, detail::line_number(text, max_index_offset),
                         "feature index " + std::to_string(max_index), 0, features, classes,
                         options.max_memory);
  }

  return detail::sparse_dataset(features, classes, detail::join_sparse(chunks, std::move(labels)));
}

}  // namespace dude
