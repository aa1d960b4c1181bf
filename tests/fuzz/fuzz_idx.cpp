// libFuzzer harness: IDX images and labels (parse_idx). The first byte says how many of the
// following bytes are the images file; the labels file is the rest.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dude/io.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view files = dude::fuzz::as_text(data + 1, size - 1);
  const std::size_t split = std::min<std::size_t>(data[0], files.size());
  dude::fuzz::expect_clean_failure([&] {
    dude::fuzz::check_dataset(dude::parse_idx(files.substr(0, split), "fuzz-images-idx3-ubyte",
                                              files.substr(split), "fuzz-labels-idx1-ubyte"));
  });
  return 0;
}
