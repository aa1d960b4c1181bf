// libFuzzer harness: CSV text (parse_csv). The first byte picks the options: a header line or
// not, and the label column (-4..3, negative counting from the end); the rest is the text.
#include <cstddef>
#include <cstdint>

#include "dude/io.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  dude::LoadOptions options;
  options.csv_header = (data[0] & 1) != 0;
  options.csv_label_column = ((data[0] >> 1) & 7) - 4;
  options.classes = (data[0] >> 4) & 0x0F;  // 0: as read
  dude::fuzz::expect_clean_failure([&] {
    dude::fuzz::check_dataset(
        dude::parse_csv(dude::fuzz::as_text(data + 1, size - 1), "fuzz.csv", options));
  });
  return 0;
}
