// CSV: comma-separated dense rows of numbers, one of the columns the label, an optional header.
// Every row has the field count of the first; blanks around fields are allowed; quoting is not
// (the fields are numbers). Any empty or malformed line is an error.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "data/memory_limit.hpp"
#include "data/text_parse.hpp"
#include "dude/errors.hpp"
#include "dude/io.hpp"

namespace dude {
namespace {

using detail::fail;
using detail::skip_blanks;

struct CsvChunk {
  std::vector<float> x;               // row-major, the label column left out
  std::vector<std::uint32_t> labels;  // raw: -1 still unresolved
  detail::LabelSummary label_summary;
};

/// The shape every row must have.
struct CsvLayout {
  std::size_t fields;
  std::size_t label_column;  // 0-based
  std::uint32_t classes;     // LoadOptions::classes
};

std::size_t count_fields(const char* begin, const char* end) {
  return 1 + static_cast<std::size_t>(std::count(begin, end, ','));
}

/// Whether no field of a line is a number, as in a header of column names.
bool holds_no_number(const detail::Line& line) {
  for (const char* p = line.begin;;) {
    const char* stop = std::find(p, line.end, ',');
    float value = 0;
    const auto parsed = detail::parse_float(skip_blanks(p, stop), stop, value);
    if (parsed.status == detail::NumberStatus::Ok && skip_blanks(parsed.end, stop) == stop) {
      return false;
    }
    if (stop == line.end) return true;
    p = stop + 1;
  }
}

std::string column_name(std::size_t column) { return "column " + std::to_string(column + 1); }

void parse_line(const detail::Line& line, const CsvLayout& layout, CsvChunk& chunk) {
  const char* const end = line.end;
  if (skip_blanks(line.begin, end) == end) fail(line.offset, "empty line");
  const auto wrong_field_count = [&] {
    fail(line.offset, "expected " + std::to_string(layout.fields) + " fields, found " +
                          std::to_string(count_fields(line.begin, end)));
  };
  std::uint32_t label = 0;
  const char* p = line.begin;
  for (std::size_t column = 0;; ++column) {
    if (column == layout.fields) wrong_field_count();
    p = skip_blanks(p, end);
    if (p == end || *p == ',') fail(line.offset, column_name(column) + " is empty");
    if (column == layout.label_column) {
      const char* stop = p;
      while (stop != end && *stop != ',') ++stop;
      const char* token_end = stop;
      while (detail::is_blank(token_end[-1])) --token_end;
      label = detail::parse_label(p, token_end, line.offset, layout.classes);
      p = stop;
    } else {
      float value = 0;
      const auto parsed = detail::parse_float(p, end, value);
      const char* after = skip_blanks(parsed.end, end);
      if (parsed.status != detail::NumberStatus::Ok || (after != end && *after != ',')) {
        fail(line.offset, detail::number_problem(parsed.status, column_name(column),
                                                 detail::quoted_token(p, end, ",")));
      }
      chunk.x.push_back(value);
      p = after;
    }
    if (p == end) {
      if (column + 1 != layout.fields) wrong_field_count();
      break;
    }
    ++p;  // the comma
  }
  chunk.labels.push_back(label);
  chunk.label_summary.add(label, line.offset);
}

}  // namespace

Dataset parse_csv(std::string_view text, const std::string& name, const LoadOptions& options) {
  std::size_t begin = detail::text_start(text);
  if (options.csv_header) {
    const auto newline = text.find('\n', begin);
    begin = newline == std::string_view::npos ? text.size() : newline + 1;
  }
  if (begin == text.size()) throw DataError(name, "empty file: no data rows");

  // The first row fixes the layout.
  detail::Line first{};
  detail::for_each_line(text, begin, begin + 1, [&](const detail::Line& line) { first = line; });
  const auto first_line = [&] { return detail::line_number(text, begin); };
  if (skip_blanks(first.begin, first.end) == first.end) {
    throw DataError(name, DataError::Where::Line, first_line(), "empty line");
  }
  if (!options.csv_header && holds_no_number(first)) {
    throw DataError(
        name, DataError::Where::Line, first_line(),
        "no field is a number: " + detail::quoted_token(first.begin, first.end, "") +
            " looks like a header; skip it with --csv-header (LoadOptions::csv_header)");
  }
  CsvLayout layout{count_fields(first.begin, first.end), 0, options.classes};
  if (layout.fields < 2) {
    throw DataError(name, DataError::Where::Line, first_line(),
                    "a row needs a label and at least one feature, found 1 field");
  }
  const auto fields = static_cast<long long>(layout.fields);
  const long long label_column =
      options.csv_label_column >= 0 ? options.csv_label_column : fields + options.csv_label_column;
  if (label_column < 0 || label_column >= fields) {
    throw DataError(name, DataError::Where::Line, first_line(),
                    "label column " + std::to_string(options.csv_label_column) +
                        " does not exist in a row of " + std::to_string(layout.fields) + " fields");
  }
  layout.label_column = static_cast<std::size_t>(label_column);
  const std::size_t features = layout.fields - 1;
  if (options.features != 0 && options.features != features) {
    throw DataError(name, "has " + std::to_string(features) +
                              " features, the model/training data has " +
                              std::to_string(options.features));
  }

  std::vector<CsvChunk> chunks = detail::parse_in_chunks<CsvChunk>(
      text, begin, name, [&](std::size_t chunk_begin, std::size_t chunk_end) {
        CsvChunk chunk;
        detail::for_each_line(text, chunk_begin, chunk_end,
                              [&](const detail::Line& line) { parse_line(line, layout, chunk); });
        return chunk;
      });

  detail::LabelSummary label_summary;
  for (const CsvChunk& chunk : chunks) label_summary.append(chunk.label_summary);
  std::vector<std::uint32_t> labels = detail::concatenate(chunks, &CsvChunk::labels);
  const std::uint32_t classes =
      detail::resolve_labels(labels, label_summary, text, name, options.classes);
  // Before the chunks' features are joined (a copy) and a model is sized over them.
  detail::check_memory(name, DataError::Where::File, 0,
                       std::to_string(labels.size()) + " rows x " + std::to_string(features),
                       std::uint64_t{labels.size()} * features * sizeof(float),
                       options.features == 0 ? features : 0, classes, options.max_memory);
  std::vector<float> x = detail::concatenate(chunks, &CsvChunk::x);
  return Dataset::dense(features, classes, std::move(x), std::move(labels));
}

}  // namespace dude
