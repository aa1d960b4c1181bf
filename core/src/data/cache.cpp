// The binary cache of parsed data (LoadOptions::cache_path): the arrays of a Dataset as they
// lie in memory, read back whole on the next run instead of parsing the text again.
//
// Layout: a fixed header, then 8-byte aligned sections: the label names (each a u32 length
// and its bytes), the labels (u32 per row), and either the dense features (f32, rows x
// features) or the CSR arrays (row_ptr u64 x rows + 1, index u32 x nnz, value f32 x nnz). The
// header records the source file's size and modification time and a hash of the load options;
// a cache that does not match them, or whose payload checksum (XXH3) fails, is rebuilt, never
// trusted and never an error. Every size is checked against the file's length before use.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/atomic_file.hpp"
#include "common/page_memory.hpp"
#include "data/cache.hpp"
#include "dude/errors.hpp"

namespace dude::detail {
namespace {

constexpr char kMagic[8] = {'D', 'U', 'D', 'E', 'C', 'A', 'C', 'H'};
constexpr std::uint32_t kVersion = 1;

struct Header {
  char magic[8];
  std::uint32_t version;
  std::uint32_t sparse;
  std::uint64_t source_size;
  std::int64_t source_mtime_ns;
  std::uint64_t options_hash;
  std::uint64_t rows;
  std::uint64_t features;
  std::uint64_t nnz;
  std::uint64_t names_bytes;  // the names section, padded
  std::uint32_t classes;
  std::uint32_t names;
  std::uint64_t checksum;  // XXH3 of everything after the header
};
static_assert(sizeof(Header) == 88);

std::uint64_t padded(std::uint64_t bytes) { return (bytes + 7) / 8 * 8; }

/// What identifies the source: its size and modification time.
struct SourceStamp {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
};

SourceStamp stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw DataError(path, "cannot read the file");
  return {static_cast<std::uint64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

/// Everything in the options that changes what a load produces.
std::uint64_t options_hash(const LoadOptions& o, Format format) {
  std::string key = std::to_string(static_cast<int>(format)) + '\n' + o.labels_path + '\n' +
                    std::to_string(o.csv_label_column) + (o.csv_header ? "h" : "-") + '\n' +
                    std::to_string(o.features) + '\n' + std::to_string(o.classes) + '\n' +
                    std::to_string(o.hashing.bits) + ',' + std::to_string(o.hashing.ngrams) + '\n';
  for (const std::string& name : o.label_names) key += name + '\n';
  return XXH3_64bits(key.data(), key.size());
}

/// The payload of a data set: names, labels, then the features.
std::string payload_of(const Dataset& d, std::uint64_t& names_bytes) {
  std::string out;
  auto append = [&out](const void* p, std::size_t n) {
    if (n > 0) out.append(static_cast<const char*>(p), n);
    out.resize(padded(out.size()), '\0');
  };
  for (const std::string& name : d.label_names()) {
    const auto length = static_cast<std::uint32_t>(name.size());
    out.append(reinterpret_cast<const char*>(&length), sizeof length);
    out.append(name);
  }
  out.resize(padded(out.size()), '\0');
  names_bytes = out.size();
  append(d.labels().data(), d.rows() * sizeof(std::uint32_t));
  if (!d.is_sparse()) {
    append(d.rows() > 0 ? d.dense_row(0) : nullptr, d.rows() * d.features() * sizeof(float));
    return out;
  }
  std::vector<std::uint64_t> row_ptr{0};
  for (std::size_t r = 0; r < d.rows(); ++r)
    row_ptr.push_back(row_ptr.back() + d.sparse_row(r).nnz);
  append(row_ptr.data(), row_ptr.size() * sizeof(std::uint64_t));
  const SparseRow first = d.rows() > 0 ? d.sparse_row(0) : SparseRow{nullptr, nullptr, 0};
  append(first.index, row_ptr.back() * sizeof(std::uint32_t));
  append(first.value, row_ptr.back() * sizeof(float));
  return out;
}

/// The whole file read into pages of its own (page_memory.hpp: 2 MiB pages where granted):
/// the training loop then addresses the arrays with fewer TLB misses than a mapping of the
/// page cache (4 KiB pages) would give. Null when it cannot be read.
std::shared_ptr<const std::byte> read_whole(const std::string& path, std::size_t& size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  std::shared_ptr<std::byte[]> pages;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size >= static_cast<off_t>(sizeof(Header))) {
    size = static_cast<std::size_t>(st.st_size);
    pages = map_pages(size);
    for (std::size_t done = 0; done < size;) {
      const ssize_t got = ::read(fd, pages.get() + done, size - done);
      if (got <= 0) {
        pages.reset();
        break;
      }
      done += static_cast<std::size_t>(got);
    }
  }
  ::close(fd);
  return std::shared_ptr<const std::byte>(pages, pages.get());
}

/// The names section: `count` names of 1..1024 bytes each, within `bytes`.
bool read_names(const std::byte* p, std::uint64_t bytes, std::uint32_t count,
                std::vector<std::string>& names) {
  std::uint64_t at = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t length = 0;
    if (at + sizeof length > bytes) return false;
    std::memcpy(&length, p + at, sizeof length);
    at += sizeof length;
    if (length == 0 || length > 1024 || at + length > bytes) return false;
    names.emplace_back(reinterpret_cast<const char*>(p + at), length);
    at += length;
  }
  return true;
}

/// Whether `cache` holds a valid copy of the source's data set (then in `out`); false when it
/// is missing, stale or damaged.
bool read_cache(const std::string& cache, const SourceStamp& source, std::uint64_t hash,
                Dataset& out) {
  std::size_t size = 0;
  const std::shared_ptr<const std::byte> file = read_whole(cache, size);
  if (!file) return false;
  Header h;
  std::memcpy(&h, file.get(), sizeof h);
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0 || h.version != kVersion ||
      h.source_size != source.size || h.source_mtime_ns != source.mtime_ns ||
      h.options_hash != hash || h.classes < 2 || (h.sparse == 0 && h.nnz != 0)) {
    return false;
  }
  // Every section's length, overflow-checked against the file (rows and nnz below 2^40).
  if (h.rows >= (1ull << 40) || h.nnz >= (1ull << 40) || h.features >= (1ull << 40) ||
      h.names_bytes >= (1ull << 40) ||
      (h.sparse == 0 && h.features > (1ull << 40) / (h.rows + 1))) {
    return false;
  }
  const std::uint64_t labels_at = sizeof(Header) + h.names_bytes;
  const std::uint64_t features_at = labels_at + padded(h.rows * 4);
  const std::uint64_t row_ptr_bytes = padded((h.rows + 1) * 8);
  const std::uint64_t end = h.sparse ? features_at + row_ptr_bytes + padded(h.nnz * 4) * 2
                                     : features_at + padded(h.rows * h.features * 4);
  if (end != size) return false;
  const std::byte* base = file.get();
  if (XXH3_64bits(base + sizeof(Header), size - sizeof(Header)) != h.checksum) return false;
  std::vector<std::string> names;
  if (!read_names(base + sizeof(Header), h.names_bytes, h.names, names)) return false;
  const auto* labels = reinterpret_cast<const std::uint32_t*>(base + labels_at);
  try {
    Dataset d;
    if (h.sparse) {
      const auto* row_ptr = reinterpret_cast<const std::uint64_t*>(base + features_at);
      const auto* index =
          reinterpret_cast<const std::uint32_t*>(base + features_at + row_ptr_bytes);
      const auto* value =
          reinterpret_cast<const float*>(base + features_at + row_ptr_bytes + padded(h.nnz * 4));
      if (row_ptr[h.rows] != h.nnz) return false;
      d = Dataset::sparse_view(row_ptr, index, value, labels, h.rows, h.features, h.classes);
    } else {
      d = Dataset::dense_view(reinterpret_cast<const float*>(base + features_at), labels, h.rows,
                              h.features, h.classes);
    }
    d = d.kept_alive_by(file);
    out = names.empty() ? d : d.with_label_names(std::move(names));
  } catch (const ConfigError&) {
    return false;  // arrays that do not make a data set: rebuild
  }
  return true;
}

void write_cache(const std::string& cache, const SourceStamp& source, std::uint64_t hash,
                 const Dataset& d) {
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kVersion;
  h.sparse = d.is_sparse() ? 1 : 0;
  h.source_size = source.size;
  h.source_mtime_ns = source.mtime_ns;
  h.options_hash = hash;
  h.rows = d.rows();
  h.features = d.features();
  h.nnz = d.is_sparse() ? d.stored_values() : 0;
  h.classes = d.classes();
  h.names = static_cast<std::uint32_t>(d.label_names().size());
  const std::string payload = payload_of(d, h.names_bytes);
  h.checksum = XXH3_64bits(payload.data(), payload.size());
  AtomicFile<Error> file(cache);
  file.write(std::string_view(reinterpret_cast<const char*>(&h), sizeof h));
  file.write(payload);
  file.commit();
}

}  // namespace

Dataset load_through_cache(const std::string& path, const LoadOptions& options, Format format,
                           const std::function<Dataset()>& parse) {
  const SourceStamp source = stamp_of(path);
  const std::uint64_t hash = options_hash(options, format);
  Dataset cached;
  if (read_cache(options.cache_path, source, hash, cached)) return cached;
  Dataset parsed = parse();
  write_cache(options.cache_path, source, hash, parsed);
  return parsed;
}

}  // namespace dude::detail
