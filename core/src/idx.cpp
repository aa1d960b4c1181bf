// IDX (the MNIST file format): a big-endian header, then the elements. Images are
// magic 0x00000803 (unsigned bytes, 3 dimensions: count, rows, columns) and become features
// in [0, 1]; labels are magic 0x00000801 (unsigned bytes, 1 dimension: count).

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "dude/errors.hpp"
#include "dude/io.hpp"
#include "parallel.hpp"

namespace dude {
namespace {

constexpr unsigned char kUnsignedByteType = 0x08;

/// What an IDX header declares.
struct IdxHeader {
  std::vector<std::uint32_t> dims;
  std::size_t data_offset;  // where the elements start
};

std::uint32_t read_be32(std::string_view bytes, std::size_t offset) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data()) + offset;
  return std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 |
         std::uint32_t{b[3]};
}

/// "0x" and `digits` upper-case hex digits.
std::string hex(std::uint32_t value, int digits) {
  std::array<char, 11> text{};
  std::snprintf(text.data(), text.size(), "0x%0*X", digits, value);
  return text.data();
}

[[noreturn]] void fail_at(const std::string& name, std::size_t offset, std::string reason) {
  throw DataError(name, DataError::Where::ByteOffset, offset, std::move(reason));
}

/// Checks the header of an IDX file of unsigned bytes with `dim_names.size()` dimensions and
/// that the file holds exactly the elements the header promises.
IdxHeader read_idx(std::string_view bytes, const std::string& name,
                   const std::vector<const char*>& dim_names, const char* kind) {
  const std::size_t rank = dim_names.size();
  const std::size_t header = 4 + 4 * rank;
  const auto truncated_header = [&] {
    fail_at(name, bytes.size(),
            "truncated header: expected " + std::to_string(header) + " bytes, found " +
                std::to_string(bytes.size()));
  };
  if (bytes.size() < 4) truncated_header();
  const std::uint32_t magic = read_be32(bytes, 0);
  const std::uint32_t expected_magic =
      std::uint32_t{kUnsignedByteType} << 8 | static_cast<std::uint32_t>(rank);
  const auto type = static_cast<unsigned char>(bytes[2]);
  if ((magic >> 16) != 0 || (magic & 0xFF) != rank) {
    fail_at(name, 0,
            "bad magic " + hex(magic, 8) + ", expected " + hex(expected_magic, 8) + " (IDX " +
                kind + ")");
  }
  if (type != kUnsignedByteType) {
    fail_at(
        name, 2,
        "unsupported element type " + hex(type, 2) + ": only unsigned bytes (0x08) are supported");
  }
  if (bytes.size() < header) truncated_header();

  IdxHeader contents{{}, header};
  std::uint64_t elements = 1;
  bool overflow = false;
  for (std::size_t d = 0; d < rank; ++d) {
    const std::uint32_t dim = read_be32(bytes, 4 + 4 * d);
    if (dim == 0) fail_at(name, 4 + 4 * d, std::string("zero ") + dim_names[d]);
    overflow = overflow || elements > std::numeric_limits<std::uint64_t>::max() / dim;
    elements *= dim;
    contents.dims.push_back(dim);
  }
  const std::uint64_t found = bytes.size() - header;
  if (overflow || elements > found) {
    fail_at(name, bytes.size(),
            "truncated data: expected " +
                (overflow ? std::string("more than 2^64") : std::to_string(elements)) +
                " bytes of " + kind + " after the header, found " + std::to_string(found));
  }
  if (elements < found) {
    fail_at(name, header + elements,
            "trailing bytes: " + std::to_string(found - elements) +
                " bytes after the last of the " + std::to_string(contents.dims[0]) + " " + kind);
  }
  return contents;
}

}  // namespace

Dataset parse_idx(std::string_view images, const std::string& images_name, std::string_view labels,
                  const std::string& labels_name, const LoadOptions& options) {
  const IdxHeader image_file =
      read_idx(images, images_name, {"images", "image rows", "image columns"}, "images");
  const IdxHeader label_file = read_idx(labels, labels_name, {"labels"}, "labels");
  const std::size_t rows = image_file.dims[0];
  if (label_file.dims[0] != rows) {
    throw DataError(images_name, "has " + std::to_string(rows) + " images but the labels file " +
                                     labels_name + " has " + std::to_string(label_file.dims[0]) +
                                     " labels");
  }
  const std::size_t features = std::size_t{image_file.dims[1]} * image_file.dims[2];
  if (options.features != 0 && options.features != features) {
    throw DataError(images_name, "has " + std::to_string(features) + " features (" +
                                     std::to_string(image_file.dims[1]) + "x" +
                                     std::to_string(image_file.dims[2]) +
                                     " images), the model/training data has " +
                                     std::to_string(options.features));
  }

  const auto* label_bytes =
      reinterpret_cast<const unsigned char*>(labels.data()) + label_file.data_offset;
  std::vector<std::uint32_t> label_ids(label_bytes, label_bytes + rows);
  std::uint32_t max_label = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    if (options.classes != 0 && label_ids[i] >= options.classes) {
      fail_at(labels_name, label_file.data_offset + i,
              "label " + std::to_string(label_ids[i]) +
                  " is out of range: the model/training data has " +
                  std::to_string(options.classes) + " classes");
    }
    max_label = std::max(max_label, label_ids[i]);
  }
  const std::uint32_t classes =
      options.classes != 0 ? options.classes : std::max<std::uint32_t>(2, max_label + 1);

  // Pixels p become p / 255, correctly rounded (so 255 is exactly 1), through a table.
  std::array<float, 256> scaled{};
  for (std::size_t p = 0; p < scaled.size(); ++p) scaled[p] = static_cast<float>(p) / 255.0f;
  const auto* pixels =
      reinterpret_cast<const unsigned char*>(images.data()) + image_file.data_offset;
  std::vector<float> x(rows * features);
  constexpr std::size_t kBlock = std::size_t{1} << 16;
  parallel_for((x.size() + kBlock - 1) / kBlock, [&](std::size_t b) {
    const std::size_t end = std::min(x.size(), (b + 1) * kBlock);
    for (std::size_t i = b * kBlock; i < end; ++i) x[i] = scaled[pixels[i]];
  });
  return Dataset::dense(features, classes, std::move(x), std::move(label_ids));
}

}  // namespace dude
