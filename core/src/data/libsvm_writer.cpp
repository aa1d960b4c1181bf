// LIBSVM text out of any data set: what LIBLINEAR and the other LIBSVM readers take.
#include <charconv>
#include <cstdint>
#include <string>
#include <system_error>

#include "common/atomic_file.hpp"
#include "dude/errors.hpp"
#include "dude/io.hpp"

namespace dude {
namespace {

/// Rows are formatted into a buffer of about this size, then written.
constexpr std::size_t kFlushBytes = std::size_t{1} << 20;

void append_number(std::string& out, std::uint64_t value) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, end);
}

/// " index:value" with a 1-based index; nine significant digits (printf's %.9g) read back as
/// the same float32.
void append_feature(std::string& out, std::uint64_t index, float value) {
  out += ' ';
  append_number(out, index + 1);
  out += ':';
  char digits[32];
  const auto [end, ec] =
      std::to_chars(digits, digits + sizeof digits, value, std::chars_format::general, 9);
  out.append(digits, end);
}

void append_row(std::string& out, const Dataset& data, std::size_t i) {
  append_number(out, data.label(i));
  if (data.is_sparse()) {
    const SparseRow row = data.sparse_row(i);
    for (std::size_t j = 0; j < row.nnz; ++j) append_feature(out, row.index[j], row.value[j]);
  } else {
    const float* row = data.dense_row(i);
    for (std::size_t j = 0; j < data.features(); ++j) {
      if (row[j] != 0.0f) append_feature(out, j, row[j]);
    }
  }
  out += '\n';
}

}  // namespace

void write_libsvm(const std::string& path, const Dataset& data) {
  detail::AtomicFile<Error> file(path);
  std::string buffer;
  for (std::size_t i = 0; i < data.rows(); ++i) {
    append_row(buffer, data, i);
    if (buffer.size() >= kFlushBytes) {
      file.write(buffer);
      buffer.clear();
    }
  }
  file.write(buffer);
  file.commit();
}

}  // namespace dude
