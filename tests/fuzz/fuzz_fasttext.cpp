// libFuzzer harness: fastText text (parse_fasttext). The first byte picks the hashing (2^1 ..
// 2^16 features, n-grams 1..4) and whether the class names are given (a line's label must then
// be one of "a", "b", "c"); the rest is the text.
#include <cstddef>
#include <cstdint>

#include "dude/io.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  dude::LoadOptions options;
  options.hashing.bits = 1 + (data[0] & 0x0F);
  options.hashing.ngrams = 1 + ((data[0] >> 4) & 3);
  if ((data[0] & 0x40) != 0) options.label_names = {"a", "b", "c"};
  dude::fuzz::expect_clean_failure([&] {
    dude::fuzz::check_dataset(
        dude::parse_fasttext(dude::fuzz::as_text(data + 1, size - 1), "fuzz.ft", options));
  });
  return 0;
}
