// quote.hpp (internal): the one way an error message quotes input.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dude::detail {

/// `token` in single quotes for a message, cut to its first 40 bytes ("...") so that a huge
/// token does not make a huge message.
inline std::string quoted(std::string_view token) {
  constexpr std::size_t kMaxShown = 40;
  std::string text(1, '\'');
  text.append(token.substr(0, kMaxShown));
  if (token.size() > kMaxShown) text += "...";
  text += '\'';
  return text;
}

}  // namespace dude::detail
