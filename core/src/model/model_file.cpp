// The model file format (see dude/model.hpp): read and written in one buffer, checksummed
// with zlib's CRC-32, written to a temporary file and renamed into place.
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/atomic_file.hpp"
#include "data/label_names.hpp"
#include "dude/errors.hpp"
#include "dude/model.hpp"

namespace dude {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the model file format is little-endian; add byte swapping for this platform");

constexpr char kMagic[8] = {'D', 'U', 'D', 'E', 'M', 'O', 'D', 'L'};
constexpr std::uint32_t kVersion = 2;
constexpr std::uint32_t kFirstVersion = 1;  // before text input: no input kind, no names
constexpr std::uint32_t kMaxSpecLength = 4096;

/// How the model reads its input (the file's "input kind").
enum class InputKind : std::uint32_t { Numeric = 0, FasttextText = 1 };

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

/// Reads bytes[offset, end) in order.
class Reader {
 public:
  Reader(const std::string& bytes, const std::string& path, std::size_t offset, std::size_t end)
      : bytes_(bytes), path_(path), offset_(offset), end_(end) {}
  template <class T>
  T get(const char* what) {
    T value;
    take(&value, sizeof value, what);
    return value;
  }
  void take(void* out, std::size_t size, const char* what) {
    if (remaining() < size) {
      throw ModelFileError(path_ + ": truncated model file (ends inside the " + what + ")");
    }
    std::memcpy(out, bytes_.data() + offset_, size);
    offset_ += size;
  }
  std::size_t offset() const { return offset_; }
  std::size_t remaining() const { return end_ - offset_; }

 private:
  const std::string& bytes_;
  const std::string& path_;
  std::size_t offset_;
  std::size_t end_;
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

/// Why the model's text input settings and class names do not fit it, or an empty string.
std::string text_input_problem(const Model& model) {
  if (model.text_hashing) {
    try {
      model.text_hashing->validate();
    } catch (const ConfigError& e) {
      return e.what();
    }
    if (model.features != model.text_hashing->features()) {
      return "hash bits " + std::to_string(model.text_hashing->bits) + " give " +
             std::to_string(model.text_hashing->features()) + " features, the model has " +
             std::to_string(model.features);
    }
  }
  if (model.label_names.empty()) return {};
  return detail::label_names_problem(model.label_names, model.classes);
}

void put_text_input(Writer& w, const Model& model) {
  const TextHashing hashing = model.text_hashing.value_or(TextHashing{0, 0});
  w.put(static_cast<std::uint32_t>(model.text_hashing ? InputKind::FasttextText
                                                      : InputKind::Numeric));
  w.put(hashing.bits);
  w.put(hashing.ngrams);
  w.put(static_cast<std::uint32_t>(model.label_names.size()));
  for (const std::string& name : model.label_names) {
    w.put(static_cast<std::uint32_t>(name.size()));
    w.append(name.data(), name.size());
  }
}

/// The input kind, hashing and class names of a version 2 file into `model`, whose classes
/// are read. Every count and length is bounded before anything is allocated for it.
void read_text_input(Reader& r, const std::string& path, Model& model) {
  const auto kind = r.get<std::uint32_t>("input kind");
  const auto bits = r.get<std::uint32_t>("hash bits");
  const auto ngrams = r.get<std::uint32_t>("n-gram length");
  if (kind == static_cast<std::uint32_t>(InputKind::FasttextText)) {
    model.text_hashing = TextHashing{bits, ngrams};
  } else if (kind != static_cast<std::uint32_t>(InputKind::Numeric) || bits != 0 || ngrams != 0) {
    throw ModelFileError(path + ": unknown input kind " + std::to_string(kind) + " (hash bits " +
                         std::to_string(bits) + ", n-grams " + std::to_string(ngrams) + ")");
  }
  const auto count = r.get<std::uint32_t>("label-name count");
  if (count != 0 && (count > detail::kMaxClasses || count != model.classes)) {
    throw ModelFileError(path + ": " + std::to_string(count) + " label names for " +
                         std::to_string(model.classes) + " classes");
  }
  model.label_names.reserve(count);
  for (std::uint32_t c = 0; c < count; ++c) {
    const auto length = r.get<std::uint32_t>("label-name length");
    if (length == 0 || length > detail::kMaxLabelNameBytes || length > r.remaining()) {
      throw ModelFileError(path + ": implausible length " + std::to_string(length) +
                           " of label name " + std::to_string(c));
    }
    std::string& name = model.label_names.emplace_back(length, '\0');
    r.take(name.data(), length, "label names");
  }
  const std::string problem = text_input_problem(model);
  if (!problem.empty()) throw ModelFileError(path + ": " + problem);
}

/// Where the body of a checked file starts: after the magic and the version.
constexpr std::size_t kBodyOffset = sizeof kMagic + sizeof(std::uint32_t);

/// The bytes of a model file after checking its magic, version and checksum; `version` is set.
std::string read_checked_file(const std::string& path, std::uint32_t& version) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw ModelFileError(path + ": is a directory, not a model file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelFileError(path + ": cannot open model file: " + std::strerror(errno));
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw ModelFileError(path + ": read error");

  Reader r(bytes, path, 0, bytes.size());
  char magic[sizeof kMagic];
  r.take(magic, sizeof magic, "magic");
  if (std::memcmp(magic, kMagic, sizeof kMagic) != 0) {
    throw ModelFileError(path + ": not a dude model file (bad magic)");
  }
  version = r.get<std::uint32_t>("version");
  if (version < kFirstVersion || version > kVersion) {
    throw ModelFileError(path + ": model file version " + std::to_string(version) +
                         " is not supported (this build reads versions " +
                         std::to_string(kFirstVersion) + " to " + std::to_string(kVersion) + ")");
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
  return bytes;
}

/// The spec, dimensions and l2 that follow the version.
Model read_header(Reader& r, const std::string& path) {
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
  return model;
}

/// The parameters, which must be as many as the spec and dimensions need and fill the file up
/// to its checksum.
void read_params(Reader& r, const std::string& path, Model& model) {
  const auto count = r.get<std::uint64_t>("parameter count");
  std::size_t expected = 0;
  try {
    expected = model.objective().num_params();
  } catch (const ConfigError& e) {
    throw ModelFileError(path + ": inconsistent model header: " + e.what());
  }
  if (count != expected) {
    throw ModelFileError(path + ": the file holds " + std::to_string(count) + " parameters, but " +
                         model.spec.to_string() + " with " + std::to_string(model.features) +
                         " features and " + std::to_string(model.classes) + " classes needs " +
                         std::to_string(expected));
  }
  if (r.remaining() % sizeof(float) != 0 || r.remaining() / sizeof(float) != count) {
    throw ModelFileError(path + ": file size does not match its header");
  }
  model.params.resize(count);
  r.take(model.params.data(), count * sizeof(float), "parameters");
  for (const float p : model.params) {
    if (!std::isfinite(p))
      throw ModelFileError(path + ": the model holds a NaN or infinite parameter");
  }
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
  const std::string problem = text_input_problem(model);
  if (!problem.empty()) throw ModelFileError(path + ": " + problem);
  const std::string spec = model.spec.to_string();
  Writer w;
  w.append(kMagic, sizeof kMagic);
  w.put(kVersion);
  w.put(static_cast<std::uint32_t>(spec.size()));
  w.append(spec.data(), spec.size());
  w.put(static_cast<std::uint64_t>(model.features));
  w.put(model.classes);
  w.put(model.l2);
  put_text_input(w, model);
  w.put(static_cast<std::uint64_t>(model.params.size()));
  w.append(model.params.data(), model.params.size() * sizeof(float));
  w.put(crc32_of(w.bytes().data(), w.bytes().size()));

  detail::AtomicFile<ModelFileError> file(path);
  file.write(w.bytes());
  file.commit();
}

Model load_model(const std::string& path) {
  std::uint32_t version = 0;
  const std::string bytes = read_checked_file(path, version);
  Reader r(bytes, path, kBodyOffset, bytes.size() - sizeof(std::uint32_t));
  Model model = read_header(r, path);
  if (version >= 2) read_text_input(r, path, model);
  read_params(r, path, model);
  return model;
}

}  // namespace dude
