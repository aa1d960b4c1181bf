// libFuzzer harness: gzip input (one or more members), inflated from memory by the stream that
// read_file inflates files with. Not read_file itself: a file costs a write and a 1 MiB read
// block per input, about 15 times fewer executions, and inputs of fuzzing size never reach a
// second block of a file anyway.
#include <cstddef>
#include <cstdint>

#include "data/byte_stream.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  dude::fuzz::expect_clean_failure(
      [&] { dude::detail::inflate_gzip(dude::fuzz::as_text(data, size), "fuzz.gz"); });
  return 0;
}
