// The model file format (see dude/model.hpp): read and written in one buffer, checksummed
// with zlib's CRC-32, written to a temporary file and renamed into place.
#include <zlib.h>

#include <unistd.h>
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include "dude/errors.hpp"
#include "dude/model.hpp"

namespace dude {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the model file format is little-endian; add byte swapping for this platform");

constexpr char kMagic[8] = {'D', 'U', 'D', 'E', 'M', 'O', 'D', 'L'};
constexpr std::uint32_t kVersion = 1;
constexpr std::uint32_t kMaxSpecLength = 4096;

class Writer {
 public:
  template <class T>
  void put(const T& value) {
    append(&value, sizeof value);
  }
  void append(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const char*>(data);
    buffer_.insert(buffer_.end(), bytes, bytes + size);
  }
  std::string& bytes() { return buffer_; }

 private:
  std::string buffer_;
};

class Reader {
 public:
  Reader(const std::string& bytes, const std::string& path) : bytes_(bytes), path_(path) {}
  template <class T>
  T get(const char* what) {
    T value;
    take(&value, sizeof value, what);
    return value;
  }
  void take(void* out, std::size_t size, const char* what) {
    if (bytes_.size() - offset_ < size) {
      throw ModelFileError(path_ + ": truncated model file (ends inside the " + what + ")");
    }
    std::memcpy(out, bytes_.data() + offset_, size);
    offset_ += size;
  }
  std::size_t offset() const { return offset_; }

 private:
  const std::string& bytes_;
  const std::string& path_;
  std::size_t offset_ = 0;
};

std::uint32_t crc32_of(const char* data, std::size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (size > 0) {
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(size, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data), chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

}  // namespace

void save_model(const std::string& path, const Model& model) {
  const Objective objective = model.objective();  // validates spec and dimensions
  if (model.params.size() != objective.num_params()) {
    throw ModelFileError(path + ": the model holds " + std::to_string(model.params.size()) +
                         " parameters, its spec needs " + std::to_string(objective.num_params()));
  }
  for (const float p : model.params) {
    if (!std::isfinite(p)) {
      throw ModelFileError(path + ": refusing to save a model with a NaN or infinite parameter");
    }
  }
  const std::string spec = model.spec.to_string();
  Writer w;
  w.append(kMagic, sizeof kMagic);
  w.put(kVersion);
  w.put(static_cast<std::uint32_t>(spec.size()));
  w.append(spec.data(), spec.size());
  w.put(static_cast<std::uint64_t>(model.features));
  w.put(model.classes);
  w.put(model.l2);
  w.put(static_cast<std::uint64_t>(model.params.size()));
  w.append(model.params.data(), model.params.size() * sizeof(float));
  w.put(crc32_of(w.bytes().data(), w.bytes().size()));

  // Write next to the target and rename over it: readers see the old file or the new one.
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(temporary.c_str(), "wb");
  if (f == nullptr) {
    throw ModelFileError(path + ": cannot create " + temporary + ": " + std::strerror(errno));
  }
  const bool written = std::fwrite(w.bytes().data(), 1, w.bytes().size(), f) == w.bytes().size();
  const bool flushed = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  const int saved_errno = errno;
  const bool closed = std::fclose(f) == 0;
  if (!written || !flushed || !closed) {
    std::remove(temporary.c_str());
    throw ModelFileError(path + ": cannot write " + temporary + ": " + std::strerror(saved_errno));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int rename_errno = errno;
    std::remove(temporary.c_str());
    throw ModelFileError(
        path + ": cannot rename the temporary file into place: " + std::strerror(rename_errno));
  }
}

Model load_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelFileError(path + ": cannot open model file: " + std::strerror(errno));
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw ModelFileError(path + ": read error");

  Reader r(bytes, path);
  char magic[sizeof kMagic];
  r.take(magic, sizeof magic, "magic");
  if (std::memcmp(magic, kMagic, sizeof kMagic) != 0) {
    throw ModelFileError(path + ": not a dude model file (bad magic)");
  }
  const auto version = r.get<std::uint32_t>("version");
  if (version != kVersion) {
    throw ModelFileError(path + ": model file version " + std::to_string(version) +
                         " is not supported (this build reads version " + std::to_string(kVersion) +
                         ")");
  }
  // Verify the checksum before trusting any size field further on.
  if (bytes.size() < r.offset() + sizeof(std::uint32_t)) {
    throw ModelFileError(path + ": truncated model file");
  }
  std::uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + bytes.size() - sizeof stored_crc, sizeof stored_crc);
  if (crc32_of(bytes.data(), bytes.size() - sizeof stored_crc) != stored_crc) {
    throw ModelFileError(path + ": checksum mismatch: the model file is corrupt or truncated");
  }

  const auto spec_length = r.get<std::uint32_t>("spec length");
  if (spec_length == 0 || spec_length > kMaxSpecLength) {
    throw ModelFileError(path + ": implausible model spec length " + std::to_string(spec_length));
  }
  std::string spec_text(spec_length, '\0');
  r.take(spec_text.data(), spec_length, "model spec");
  Model model;
  try {
    model.spec = ModelSpec::parse(spec_text);
  } catch (const ConfigError& e) {
    throw ModelFileError(path + ": bad model spec in file: " + e.what());
  }
  model.features = static_cast<std::size_t>(r.get<std::uint64_t>("feature count"));
  model.classes = r.get<std::uint32_t>("class count");
  model.l2 = r.get<float>("l2");
  const auto count = r.get<std::uint64_t>("parameter count");
  std::size_t expected = 0;
  try {
    expected = model.objective().num_params();
  } catch (const ConfigError& e) {
    throw ModelFileError(path + ": inconsistent model header: " + e.what());
  }
  if (count != expected) {
    throw ModelFileError(path + ": the file holds " + std::to_string(count) + " parameters, but " +
                         spec_text + " with " + std::to_string(model.features) + " features and " +
                         std::to_string(model.classes) + " classes needs " +
                         std::to_string(expected));
  }
  if (bytes.size() != r.offset() + count * sizeof(float) + sizeof(std::uint32_t)) {
    throw ModelFileError(path + ": file size does not match its header");
  }
  model.params.resize(count);
  r.take(model.params.data(), count * sizeof(float), "parameters");
  for (const float p : model.params) {
    if (!std::isfinite(p))
      throw ModelFileError(path + ": the model holds a NaN or infinite parameter");
  }
  return model;
}

}  // namespace dude
