// IDX (the MNIST file format): a big-endian header, then the elements. Images are
// magic 0x00000803 (unsigned bytes, 3 dimensions: count, rows, columns) and become features
// in [0, 1]; labels are magic 0x00000801 (unsigned bytes, 1 dimension: count).
//
// Files are read as streams (parse_idx's bytes in memory are one too): the elements pass
// through a small buffer on their way to the features, so loading holds neither the
// compressed nor the inflated file next to them.
#include "data/idx.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data/byte_stream.hpp"
#include "data/memory_limit.hpp"
#include "dude/errors.hpp"
#include "dude/io.hpp"

namespace dude {
namespace {

constexpr unsigned char kUnsignedByteType = 0x08;

// Elements are read this many bytes at a time: enough to make each read's cost negligible,
// little next to the features (4 bytes per element).
constexpr std::size_t kChunkSize = std::size_t{1} << 18;

/// What an IDX header declares.
struct IdxHeader {
  std::vector<std::uint32_t> dims;
  std::size_t data_offset;                // where the elements start
  std::optional<std::uint64_t> elements;  // the product of dims; none when over 2^64
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

/// Reads and checks the header of an IDX file of unsigned bytes with `dim_names.size()`
/// dimensions (at most 3).
IdxHeader read_header(detail::ByteStream& in, const std::string& name,
                      const std::vector<const char*>& dim_names, const char* kind) {
  const std::size_t rank = dim_names.size();
  const std::size_t header = 4 + 4 * rank;
  std::array<char, 16> buffer{};
  // A short read is the end of the file: shorter than a header, `bytes` is all of it.
  const std::string_view bytes(buffer.data(), in.read(buffer.data(), header));
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

  IdxHeader contents{{}, header, std::uint64_t{1}};
  for (std::size_t d = 0; d < rank; ++d) {
    const std::uint32_t dim = read_be32(bytes, 4 + 4 * d);
    if (dim == 0) fail_at(name, 4 + 4 * d, std::string("zero ") + dim_names[d]);
    if (contents.elements && *contents.elements > std::numeric_limits<std::uint64_t>::max() / dim)
      contents.elements.reset();
    if (contents.elements) *contents.elements *= dim;
    contents.dims.push_back(dim);
  }
  return contents;
}

/// Reads the elements after the header a chunk at a time, handing each chunk to
/// `consume(bytes, count)`, and checks that the file holds exactly the elements the header
/// promises.
template <class Consume>
void read_elements(detail::ByteStream& in, const std::string& name, const IdxHeader& header,
                   const char* kind, const Consume& consume) {
  std::vector<char> chunk(kChunkSize);
  // Reads to the end of the file and says how many bytes were left: what the errors report.
  const auto count_rest = [&] {
    std::uint64_t count = 0;
    for (std::size_t got; (got = in.read(chunk.data(), chunk.size())) != 0;) count += got;
    return count;
  };
  std::uint64_t found = 0;
  while (header.elements && found < *header.elements) {
    const auto want =
        static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), *header.elements - found));
    const std::size_t got = in.read(chunk.data(), want);
    found += got;
    if (got < want) break;
    consume(reinterpret_cast<const unsigned char*>(chunk.data()), got);
  }
  if (!header.elements || found < *header.elements) {
    found += count_rest();
    fail_at(
        name, header.data_offset + found,
        "truncated data: expected " +
            (header.elements ? std::to_string(*header.elements) : std::string("more than 2^64")) +
            " bytes of " + kind + " after the header, found " + std::to_string(found));
  }
  if (const std::uint64_t trailing = count_rest(); trailing != 0) {
    fail_at(name, header.data_offset + found,
            "trailing bytes: " + std::to_string(trailing) + " bytes after the last of the " +
                std::to_string(header.dims[0]) + " " + kind);
  }
}

/// How many elements to reserve room for: what the header declares, unless the stream
/// expects less, so that a corrupt header does not drive a huge allocation.
std::size_t capacity_for(const IdxHeader& header, const detail::ByteStream& in) {
  return static_cast<std::size_t>(
      std::min<std::uint64_t>(header.elements.value_or(0), in.size_hint()));
}

struct IdxImages {
  std::uint32_t count;
  std::uint32_t rows;
  std::uint32_t columns;
  std::shared_ptr<float[]> x;  // count * rows * columns features (allocate_features)
};

/// The dimensions of a header as "60000 x 28 x 28".
std::string shape_of(const IdxHeader& header) {
  std::string shape;
  for (const std::uint32_t dim : header.dims) {
    shape += (shape.empty() ? "" : " x ") + std::to_string(dim);
  }
  return shape;
}

/// Refuses a header whose elements, at `element_bytes` each in memory, and a model over
/// `features` (0: none) would not fit in options.max_memory, before anything is allocated.
void check_header_memory(const IdxHeader& header, const std::string& name, const char* kind,
                         std::size_t element_bytes, std::uint64_t features,
                         const LoadOptions& options) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t elements = header.elements.value_or(kMax);
  const std::uint64_t bytes = elements > kMax / element_bytes ? kMax : elements * element_bytes;
  detail::check_memory(name, DataError::Where::ByteOffset, 4,
                       std::string("the header's ") + shape_of(header) + " " + kind, bytes,
                       options.features == 0 ? features : 0, options.classes, options.max_memory);
}

IdxImages read_images(detail::ByteStream& in, const std::string& name, const LoadOptions& options) {
  const IdxHeader header =
      read_header(in, name, {"images", "image rows", "image columns"}, "images");
  check_header_memory(header, name, "images", sizeof(float),
                      std::uint64_t{header.dims[1]} * header.dims[2], options);
  // Pixels p become p / 255, correctly rounded (so 255 is exactly 1), through a table.
  std::array<float, 256> scaled{};
  for (std::size_t p = 0; p < scaled.size(); ++p) scaled[p] = static_cast<float>(p) / 255.0f;
  std::size_t capacity = capacity_for(header, in);
  std::shared_ptr<float[]> x = allocate_features(capacity);
  std::size_t size = 0;
  read_elements(in, name, header, "images", [&](const unsigned char* pixels, std::size_t count) {
    if (size + count >
        capacity) {  // more than the size hint promised (a gzip trailer wraps at 4 GiB)
      capacity = std::max(size + count, 2 * capacity);
      std::shared_ptr<float[]> larger = allocate_features(capacity);
      std::copy_n(x.get(), size, larger.get());
      x = std::move(larger);
    }
    std::transform(pixels, pixels + count, x.get() + size,
                   [&](unsigned char p) { return scaled[p]; });
    size += count;
  });
  return {header.dims[0], header.dims[1], header.dims[2], std::move(x)};
}

struct IdxLabels {
  std::vector<std::uint32_t> ids;
  std::size_t data_offset;  // where the labels start in the file
};

IdxLabels read_labels(detail::ByteStream& in, const std::string& name, const LoadOptions& options) {
  const IdxHeader header = read_header(in, name, {"labels"}, "labels");
  check_header_memory(header, name, "labels", sizeof(std::uint32_t), 0, options);
  std::vector<std::uint32_t> ids;
  ids.reserve(capacity_for(header, in));
  read_elements(in, name, header, "labels", [&](const unsigned char* bytes, std::size_t count) {
    ids.insert(ids.end(), bytes, bytes + count);
  });
  return {std::move(ids), header.data_offset};
}

/// Checks that images and labels go together and fit the options, and makes them a data set.
Dataset assemble(IdxImages images, const std::string& images_name, IdxLabels labels,
                 const std::string& labels_name, const LoadOptions& options) {
  const std::size_t rows = images.count;
  if (labels.ids.size() != rows) {
    throw DataError(images_name, "has " + std::to_string(rows) + " images but the labels file " +
                                     labels_name + " has " + std::to_string(labels.ids.size()) +
                                     " labels");
  }
  const std::size_t features = std::size_t{images.rows} * images.columns;
  if (options.features != 0 && options.features != features) {
    throw DataError(images_name, "has " + std::to_string(features) + " features (" +
                                     std::to_string(images.rows) + "x" +
                                     std::to_string(images.columns) +
                                     " images), the model/training data has " +
                                     std::to_string(options.features));
  }

  std::uint32_t max_label = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    if (options.classes != 0 && labels.ids[i] >= options.classes) {
      fail_at(labels_name, labels.data_offset + i,
              "label " + std::to_string(labels.ids[i]) +
                  " is out of range: the model/training data has " +
                  std::to_string(options.classes) + " classes");
    }
    max_label = std::max(max_label, labels.ids[i]);
  }
  const std::uint32_t classes =
      options.classes != 0 ? options.classes : std::max<std::uint32_t>(2, max_label + 1);
  return Dataset::dense(features, classes, std::move(images.x), std::move(labels.ids));
}

}  // namespace

Dataset parse_idx(std::string_view images, const std::string& images_name, std::string_view labels,
                  const std::string& labels_name, const LoadOptions& options) {
  detail::ByteStream image_stream(images, images_name, detail::Encoding::Plain);
  IdxImages image_data = read_images(image_stream, images_name, options);
  detail::ByteStream label_stream(labels, labels_name, detail::Encoding::Plain);
  IdxLabels label_data = read_labels(label_stream, labels_name, options);
  return assemble(std::move(image_data), images_name, std::move(label_data), labels_name, options);
}

namespace detail {

Dataset load_idx(const std::string& images_path, const std::string& labels_path,
                 const LoadOptions& options) {
  // The images file is closed (and its buffers freed) before the labels file is opened.
  IdxImages images = [&] {
    ByteStream stream(images_path);
    return read_images(stream, images_path, options);
  }();
  ByteStream label_stream(labels_path);
  IdxLabels labels = read_labels(label_stream, labels_path, options);
  return assemble(std::move(images), images_path, std::move(labels), labels_path, options);
}

}  // namespace detail
}  // namespace dude
