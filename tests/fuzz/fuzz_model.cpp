// libFuzzer harness: model files (load_model, then a Predictor on what loaded, predicting one
// all-zero row). The last four
// bytes are replaced by the CRC-32 of the others before loading: with a random checksum nearly
// every input would stop at the checksum check, and the fields after it would go unfuzzed.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "dude/model.hpp"
#include "dude/predictor.hpp"
#include "fuzz_support.hpp"

namespace {

std::string with_valid_checksum(const std::uint8_t* data, std::size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (size < 4) return bytes;
  const auto crc =
      static_cast<std::uint32_t>(crc32(0, data, static_cast<uInt>(size - 4)));  // little-endian
  for (std::size_t i = 0; i < 4; ++i) bytes[size - 4 + i] = static_cast<char>(crc >> (8 * i));
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const dude::fuzz::ScratchFile file("fuzz.model");
  const std::string& path = file.write(with_valid_checksum(data, size));
  dude::fuzz::expect_clean_failure([&] {
    const dude::Predictor predictor(dude::load_model(path));
    // One sparse row without entries: valid at any feature count, and it allocates nothing.
    const dude::Dataset row =
        dude::Dataset::sparse(predictor.features(), predictor.classes(), {0, 0}, {}, {}, {0});
    if (predictor.predict(row).at(0) >= predictor.classes()) std::abort();
  });
  return 0;
}
