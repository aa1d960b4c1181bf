// text_parse.hpp: pieces shared by the text parsers (LIBSVM, CSV, fastText); internal.
//
// The parsers scan the text by hand with std::from_chars: no streams, no allocation per token.
// Large inputs are cut at line ends into chunks parsed in parallel with oneTBB; each chunk
// stops at its first malformed line, and the failure of the earliest chunk is the one a
// serial parse would have met first. Line numbers are counted only when an error is raised.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "common/parallel.hpp"
#include "common/quote.hpp"
#include "data/label_names.hpp"
#include "data/sparse_pages.hpp"
#include "dude/errors.hpp"

namespace dude::detail {

/// Separators inside a line.
inline bool is_blank(char c) noexcept { return c == ' ' || c == '\t'; }

inline const char* skip_blanks(const char* p, const char* end) noexcept {
  while (p != end && is_blank(*p)) ++p;
  return p;
}

/// Where the text starts: after a UTF-8 byte order mark, which some editors write.
inline std::size_t text_start(std::string_view text) noexcept {
  return text.starts_with("\xEF\xBB\xBF") ? 3 : 0;
}

/// 1-based number of the line holding byte `offset`.
inline std::uint64_t line_number(std::string_view text, std::size_t offset) {
  return 1 + static_cast<std::uint64_t>(std::count(
                 text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

/// A malformed line met inside a chunk: its byte offset in the whole text and what is wrong.
/// Thrown by the chunk parsers and always caught by parse_in_chunks, which turns the first one
/// into a DataError; it never leaves this layer, hence no std::exception base.
struct ParseFailure {
  std::size_t offset;
  std::string reason;
};

[[noreturn]] inline void fail(std::size_t offset, std::string reason) {
  throw ParseFailure{offset, std::move(reason)};
}

/// The token starting at p, up to the first of `delimiters` and without trailing blanks,
/// quoted().
inline std::string quoted_token(const char* p, const char* end, std::string_view delimiters) {
  const char* stop = p;
  while (stop != end && delimiters.find(*stop) == std::string_view::npos) ++stop;
  while (stop != p && is_blank(stop[-1])) --stop;
  return quoted(std::string_view(p, static_cast<std::size_t>(stop - p)));
}

/// One line without its terminator ("\n" or "\r\n").
struct Line {
  const char* begin;
  const char* end;
  std::size_t offset;  // of `begin` in the whole text
};

/// Calls visit(line) for every line starting in text[begin, end). A final newline does not
/// start another line, so "a\nb\n" has two lines while "a\n\n" has an empty second one.
template <class Visit>
void for_each_line(std::string_view text, std::size_t begin, std::size_t end, Visit&& visit) {
  const char* const base = text.data();
  std::size_t pos = begin;
  while (pos < end) {
    const void* newline = std::memchr(base + pos, '\n', text.size() - pos);
    const std::size_t stop =
        newline != nullptr ? static_cast<std::size_t>(static_cast<const char*>(newline) - base)
                           : text.size();
    const char* line_end = base + stop;
    if (line_end != base + pos && line_end[-1] == '\r') --line_end;
    visit(Line{base + pos, line_end, pos});
    pos = stop + 1;
  }
}

/// Inputs are cut into chunks of about this many bytes; smaller inputs are one chunk.
inline constexpr std::size_t kChunkBytes = std::size_t{2} << 20;

/// Chunk boundaries over text[begin, size): ascending offsets starting with `begin` and ending
/// with text.size(), each inner one just after a '\n'.
inline std::vector<std::size_t> chunk_bounds(std::string_view text, std::size_t begin) {
  std::vector<std::size_t> bounds{begin};
  std::size_t pos = begin;
  while (text.size() - pos > 2 * kChunkBytes) {
    const auto newline = text.find('\n', pos + kChunkBytes);
    if (newline == std::string_view::npos) break;
    pos = newline + 1;
    bounds.push_back(pos);
  }
  bounds.push_back(text.size());
  return bounds;
}

/// Parses text[begin, size) chunk by chunk, in parallel when there are several chunks:
/// parse_chunk(chunk_begin, chunk_end) returns a Result or throws ParseFailure. Returns the
/// results in text order, or throws as DataError the failure a serial parse meets first.
template <class Result, class ParseChunk>
std::vector<Result> parse_in_chunks(std::string_view text, std::size_t begin,
                                    const std::string& name, const ParseChunk& parse_chunk) {
  const std::vector<std::size_t> bounds = chunk_bounds(text, begin);
  const std::size_t chunks = bounds.size() - 1;
  std::vector<Result> results(chunks);
  std::vector<std::optional<ParseFailure>> failures(chunks);
  parallel_for(chunks, [&](std::size_t i) {
    try {
      results[i] = parse_chunk(bounds[i], bounds[i + 1]);
    } catch (ParseFailure& failure) {
      failures[i] = std::move(failure);
    }
  });
  for (auto& failure : failures) {
    if (failure) {
      throw DataError(name, DataError::Where::Line, line_number(text, failure->offset),
                      std::move(failure->reason));
    }
  }
  return results;
}

/// The chunks' arrays `member` joined in order, into a std::vector or a PageArray (`Out`). A
/// lone chunk's vector is moved; several are copied in parallel.
template <class Out, class T, class Result>
Out concatenate(std::vector<Result>& results, std::vector<T> Result::*member) {
  if constexpr (std::is_same_v<Out, std::vector<T>>) {
    if (results.size() == 1) return std::move(results.front().*member);
  }
  std::vector<std::size_t> start(results.size() + 1, 0);
  for (std::size_t i = 0; i < results.size(); ++i)
    start[i + 1] = start[i] + (results[i].*member).size();
  Out joined(start.back());
  parallel_for(results.size(), [&](std::size_t i) {
    std::vector<T>& part = results[i].*member;
    std::copy(part.begin(), part.end(), joined.data() + start[i]);
    std::vector<T>().swap(part);  // free each part as soon as it is copied
  });
  return joined;
}
template <class T, class Result>
std::vector<T> concatenate(std::vector<Result>& results, std::vector<T> Result::*member) {
  return concatenate<std::vector<T>>(results, member);
}

/// The chunks' local CSR arrays (each row_ptr starting at 0) as one data set's pages, each
/// row_ptr shifted by the entries before its chunk.
template <class Chunk>
SparsePages join_sparse(std::vector<Chunk>& chunks, std::vector<std::uint32_t> labels) {
  std::vector<std::size_t> first_row(chunks.size() + 1, 0);
  std::vector<std::uint64_t> first_entry(chunks.size() + 1, 0);
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    first_row[i + 1] = first_row[i] + chunks[i].row_ptr.size() - 1;
    first_entry[i + 1] = first_entry[i] + chunks[i].row_ptr.back();
  }
  PageArray<std::uint64_t> row_ptr(first_row.back() + 1);  // zeroed: row_ptr[0] = 0
  parallel_for(chunks.size(), [&](std::size_t i) {
    const std::vector<std::uint64_t>& local = chunks[i].row_ptr;
    std::transform(local.begin() + 1, local.end(), row_ptr.data() + first_row[i] + 1,
                   [shift = first_entry[i]](std::uint64_t end) { return end + shift; });
  });
  return SparsePages{std::move(row_ptr),
                     concatenate<PageArray<std::uint32_t>>(chunks, &Chunk::index),
                     concatenate<PageArray<float>>(chunks, &Chunk::value), std::move(labels)};
}

/// What a number parser found.
enum class NumberStatus { Ok, Invalid, NotFinite, OutOfRange };

struct ParsedNumber {
  const char* end;  // just past the number (meaningful when status is Ok)
  NumberStatus status;
};

/// Parses a float32 at p like std::from_chars (general format), also accepting a leading '+'.
/// NaN and infinities are reported as NotFinite; values too small for a float become zero
/// (as any float conversion would round them), values too large are OutOfRange.
inline ParsedNumber parse_float(const char* p, const char* end, float& value) noexcept {
  if (p != end && *p == '+' && end - p > 1 && p[1] != '-' && p[1] != '+') ++p;
  const auto [stop, ec] = std::from_chars(p, end, value);
  if (ec == std::errc::invalid_argument) return {stop, NumberStatus::Invalid};
  if (ec == std::errc::result_out_of_range) {
    // Overflow or underflow? The double parse tells, and is only paid on this rare path.
    double wide = 0;
    const auto [wide_stop, wide_ec] = std::from_chars(p, end, wide);
    if (wide_ec != std::errc{} || std::fabs(wide) > 1.0) return {stop, NumberStatus::OutOfRange};
    value = std::signbit(wide) ? -0.0f : 0.0f;
    return {wide_stop, NumberStatus::Ok};
  }
  if (!std::isfinite(value)) return {stop, NumberStatus::NotFinite};
  return {stop, NumberStatus::Ok};
}

/// Why a number did not parse: `subject` names it ("column 3"), `shown` is its quoted token.
inline std::string number_problem(NumberStatus status, const std::string& subject,
                                  const std::string& shown) {
  switch (status) {
    case NumberStatus::NotFinite: return subject + " is not finite: " + shown;
    case NumberStatus::OutOfRange: return subject + " is out of float range: " + shown;
    case NumberStatus::Invalid:
    case NumberStatus::Ok:  // a number followed by something else
      break;
  }
  return "cannot parse " + subject + ": " + shown;
}

/// A raw label as read, before the ±1 convention is resolved: a class id, or this for -1.
inline constexpr std::uint32_t kMinusOneLabel = std::numeric_limits<std::uint32_t>::max();

/// Parses the label token [p, end): a non-negative integer class id (integer-valued floats
/// such as "3.0" or "1e1" are accepted) or -1. `classes` nonzero bounds the class ids.
/// `offset` locates the line for error messages.
inline std::uint32_t parse_label(const char* p, const char* end, std::size_t offset,
                                 std::uint32_t classes) {
  const auto token = [&] { return quoted(std::string_view(p, static_cast<std::size_t>(end - p))); };
  const char* digits = (p != end && *p == '+' && end - p > 1 && p[1] != '-') ? p + 1 : p;
  std::int64_t label = 0;
  const auto [stop, ec] = std::from_chars(digits, end, label);
  if (ec != std::errc{} || stop != end) {
    // Not a plain integer: accept a float that is one.
    double wide = 0;
    const auto [wide_stop, wide_ec] = std::from_chars(digits, end, wide);
    if (wide_ec == std::errc::invalid_argument || wide_stop != end) {
      fail(offset, "cannot parse label " + token());
    }
    if (wide_ec != std::errc{} || !std::isfinite(wide) || wide != std::trunc(wide)) {
      fail(offset, "label " + token() + " is not an integer class id");
    }
    label = std::fabs(wide) < 1e18 ? static_cast<std::int64_t>(wide)
                                   : std::numeric_limits<std::int64_t>::max();
  }
  if (label == -1) return kMinusOneLabel;
  if (label < 0) {
    fail(offset,
         "label " + token() +
             " is negative: class ids start at 0 (-1 is only valid with +1, as binary labels)");
  }
  if (label >= std::int64_t{kMaxClasses}) {
    fail(offset, "label " + token() + " is too large: class ids must be below " +
                     std::to_string(kMaxClasses));
  }
  if (classes != 0 && label >= std::int64_t{classes}) {
    fail(offset, "label " + token() + " is out of range: the model/training data has " +
                     std::to_string(classes) + " classes");
  }
  return static_cast<std::uint32_t>(label);
}

/// What the labels of a chunk (then of the whole text) hold, to resolve the ±1 convention.
struct LabelSummary {
  static constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
  std::uint32_t max_class = 0;           // largest label other than -1
  std::size_t first_minus_one = kNone;   // offset of the first line labelled -1
  std::size_t first_non_binary = kNone;  // offset of the first line labelled neither -1 nor 1
  std::uint32_t first_non_binary_label = 0;

  void add(std::uint32_t label, std::size_t line_offset) noexcept {
    if (label == kMinusOneLabel) {
      if (first_minus_one == kNone) first_minus_one = line_offset;
      return;
    }
    max_class = std::max(max_class, label);
    if (label != 1 && first_non_binary == kNone) {
      first_non_binary = line_offset;
      first_non_binary_label = label;
    }
  }

  /// Folds in the summary of the text that follows.
  void append(const LabelSummary& later) noexcept {
    max_class = std::max(max_class, later.max_class);
    if (first_minus_one == kNone) first_minus_one = later.first_minus_one;
    if (first_non_binary == kNone) {
      first_non_binary = later.first_non_binary;
      first_non_binary_label = later.first_non_binary_label;
    }
  }
};

/// Turns raw labels into class ids and returns the class count. Labels are class ids, except
/// that a file labelled only -1 and +1 is binary: -1 becomes class 0 and +1 class 1. A -1 next
/// to any other label is an error at the line where a serial read would notice the mix.
/// `classes` nonzero is the class count to use (the labels were checked against it).
inline std::uint32_t resolve_labels(std::vector<std::uint32_t>& labels, const LabelSummary& summary,
                                    std::string_view text, const std::string& name,
                                    std::uint32_t classes) {
  if (summary.first_minus_one == LabelSummary::kNone) {
    return classes != 0 ? classes : std::max<std::uint32_t>(2, summary.max_class + 1);
  }
  if (summary.first_non_binary != LabelSummary::kNone) {
    const std::string other = std::to_string(summary.first_non_binary_label);
    if (summary.first_non_binary > summary.first_minus_one) {
      throw DataError(name, DataError::Where::Line, line_number(text, summary.first_non_binary),
                      "label " + other + " after label -1 (line " +
                          std::to_string(line_number(text, summary.first_minus_one)) +
                          "): -1 is only valid with +1, as binary labels");
    }
    throw DataError(name, DataError::Where::Line, line_number(text, summary.first_minus_one),
                    "label -1 after label " + other + " (line " +
                        std::to_string(line_number(text, summary.first_non_binary)) +
                        "): -1 is only valid with +1, as binary labels");
  }
  for (auto& label : labels) {
    if (label == kMinusOneLabel) label = 0;
  }
  return classes != 0 ? classes : 2;
}

}  // namespace dude::detail
