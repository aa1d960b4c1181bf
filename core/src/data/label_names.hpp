// label_names.hpp (internal): the rules class names follow, shared by the data sets that carry
// them, the fastText parser that makes them and the model file that stores them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace dude::detail {

/// Class ids stay below this: a class sizes the output layer, so an absurd count would
/// allocate an absurd model (and a crafted model file could claim one).
inline constexpr std::uint32_t kMaxClasses = std::uint32_t{1} << 16;

/// A class name is at most this long: enough for any label, small enough that a model file
/// claiming 2^16 names cannot make the reader allocate much.
inline constexpr std::size_t kMaxLabelNameBytes = 1024;

/// fastText's token separators (its Dictionary::readWord): a name holds none of them, so that
/// "__label__" + name reads back as one token.
inline bool is_token_separator(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '\0';
}

/// Why `names` cannot name `classes` classes (one name per class, each non-empty, at most
/// kMaxLabelNameBytes, free of separators, all distinct), or an empty string when they can.
std::string label_names_problem(std::span<const std::string> names, std::size_t classes);

}  // namespace dude::detail
