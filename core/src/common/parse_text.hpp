// parse_text.hpp (internal): reading settings from short texts ("fedbuff:4", "mlp:128,64",
// "1,4"): a whole token as a number, and comma-separated lists. The data parsers (data/) have
// their own scanners, built for speed over large files.
#pragma once

#include <charconv>
#include <cmath>
#include <optional>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace dude::detail {

/// `text` without spaces and tabs at either end.
inline std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

/// The whole of `text` as a number: an unsigned integer (digits only, no sign, in range) or a
/// finite double. None when the text is empty, holds anything else, or is out of range.
template <class T>
std::optional<T> parse_whole(std::string_view text) {
  static_assert(std::is_unsigned_v<T> || std::is_same_v<T, double>);
  T value{};
  const char* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || stop != end) return std::nullopt;
  if constexpr (std::is_same_v<T, double>) {
    if (!std::isfinite(value)) return std::nullopt;
  }
  return value;
}

/// The items of a comma-separated list, each without surrounding blanks; "" gives one empty
/// item, so that a caller that rejects empty items rejects an empty list too.
inline std::vector<std::string_view> split_commas(std::string_view text) {
  std::vector<std::string_view> items;
  for (;;) {
    const std::size_t comma = text.find(',');
    items.push_back(trim_blanks(text.substr(0, comma)));
    if (comma == std::string_view::npos) return items;
    text.remove_prefix(comma + 1);
  }
}

}  // namespace dude::detail
