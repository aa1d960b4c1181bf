#include "data/label_names.hpp"

#include <algorithm>
#include <vector>

#include "common/quote.hpp"

namespace dude::detail {

std::string label_names_problem(std::span<const std::string> names, std::size_t classes) {
  if (names.size() != classes) {
    return std::to_string(names.size()) + " label names for " + std::to_string(classes) +
           " classes";
  }
  for (std::size_t c = 0; c < names.size(); ++c) {
    const std::string& name = names[c];
    if (name.empty()) return "the name of class " + std::to_string(c) + " is empty";
    if (name.size() > kMaxLabelNameBytes) {
      return "the name of class " + std::to_string(c) + " is longer than " +
             std::to_string(kMaxLabelNameBytes) + " bytes";
    }
    if (std::any_of(name.begin(), name.end(), is_token_separator)) {
      return "the name of class " + std::to_string(c) +
             " holds a blank, a line break or a NUL byte";
    }
  }
  std::vector<std::string_view> sorted(names.begin(), names.end());
  std::sort(sorted.begin(), sorted.end());
  const auto repeated = std::adjacent_find(sorted.begin(), sorted.end());
  if (repeated != sorted.end()) return "the label name " + quoted(*repeated) + " repeats";
  return {};
}

}  // namespace dude::detail
