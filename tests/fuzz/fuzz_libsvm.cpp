// libFuzzer harness: LIBSVM text (parse_libsvm). The first byte picks the options, so that
// fitting to a feature and class count is fuzzed too; the rest is the text. What parses must
// also survive write_libsvm and read back as the same rows.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "dude/io.hpp"
#include "fuzz_support.hpp"

namespace {

bool same_rows(const dude::Dataset& a, const dude::Dataset& b) {
  if (a.rows() != b.rows() || a.features() != b.features()) return false;
  for (std::size_t i = 0; i < a.rows(); ++i) {
    const dude::SparseRow x = a.sparse_row(i), y = b.sparse_row(i);
    if (a.label(i) != b.label(i) || x.nnz != y.nnz ||
        !std::equal(x.index, x.index + x.nnz, y.index) ||
        !std::equal(x.value, x.value + x.nnz, y.value)) {
      return false;
    }
  }
  return true;
}

/// Writes `data` as LIBSVM and reads it back fitted to its own shape; aborts unless the rows
/// come back as they were.
void check_round_trip(const dude::Dataset& data) {
  static const dude::fuzz::ScratchFile file("round-trip.svm");
  dude::write_libsvm(file.path(), data);
  dude::LoadOptions shape;
  shape.features = data.features();
  shape.classes = data.classes();
  if (!same_rows(data, dude::load_dataset(file.path(), shape))) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  dude::LoadOptions options;
  options.features = data[0] & 0x0F;        // 0: as read
  options.classes = (data[0] >> 4) & 0x0F;  // 0: as read
  dude::fuzz::expect_clean_failure([&] {
    const dude::Dataset parsed =
        dude::parse_libsvm(dude::fuzz::as_text(data + 1, size - 1), "fuzz.svm", options);
    dude::fuzz::check_dataset(parsed);
    check_round_trip(parsed);
  });
  return 0;
}
