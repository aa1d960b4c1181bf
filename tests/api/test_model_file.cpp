// The model file: round trip, and every kind of damage refused with a message.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <limits>

#include "dude/checkpoint.hpp"
#include "dude/errors.hpp"
#include "dude/model.hpp"
#include "file_bytes.hpp"
#include "temp_dir.hpp"

using namespace dude;

namespace {

Model sample_model() {
  Model m{ModelSpec::parse("mlp:4,3"), 6, 5, 0.01f, {}};
  m.params.resize(m.objective().num_params());
  m.objective().init_params(m.params.data(), 7);
  m.params[0] = 1.5f;
  return m;
}

using testdata::read_bytes;
using testdata::with_valid_crc;
using testdata::write_bytes;

constexpr std::size_t kSpecLengthOffset = 12;  // after magic (8) and version (4)

}  // namespace

TEST_CASE("a saved model loads back identical, with no temporary file left", "[model]") {
  testdata::TempDir dir;
  const Model m = sample_model();
  save_model(dir.file("m.dude"), m);
  const Model back = load_model(dir.file("m.dude"));
  CHECK(back.spec == m.spec);
  CHECK(back.features == m.features);
  CHECK(back.classes == m.classes);
  CHECK(back.l2 == m.l2);
  CHECK(back.params == m.params);
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 1);
}

TEST_CASE("damaged model files are refused with a reason", "[model]") {
  testdata::TempDir dir;
  const std::string path = dir.file("m.dude");
  save_model(path, sample_model());
  const std::string good = read_bytes(path);

  SECTION("missing file") {
    CHECK_THROWS_WITH(load_model(dir.file("none")), Catch::Contains("cannot open"));
  }
  SECTION("flipped parameter byte") {
    std::string bad = good;
    bad[bad.size() - 10] ^= 0x40;
    write_bytes(path, bad);
    CHECK_THROWS_WITH(load_model(path), Catch::Contains("checksum mismatch"));
  }
  SECTION("truncated") {
    write_bytes(path, good.substr(0, good.size() - 7));
    CHECK_THROWS_AS(load_model(path), ModelFileError);
  }
  SECTION("not a model") {
    write_bytes(path, "hello, this is not a model file at all");
    CHECK_THROWS_WITH(load_model(path), Catch::Contains("bad magic"));
  }
  SECTION("empty") {
    write_bytes(path, "");
    CHECK_THROWS_WITH(load_model(path), Catch::Contains("truncated"));
  }
  SECTION("future version") {
    std::string bad = good;
    bad[8] = 9;
    write_bytes(path, with_valid_crc(bad));
    CHECK_THROWS_WITH(load_model(path), Catch::Contains("version 9 is not supported"));
  }
  SECTION("spec that does not parse") {
    std::string bad = good;
    bad[kSpecLengthOffset + 4] = 'x';  // "mlp:4,3" -> "xlp:4,3"
    write_bytes(path, with_valid_crc(bad));
    CHECK_THROWS_WITH(load_model(path), Catch::Contains("bad model spec"));
  }
  SECTION("parameter count that does not fit the spec") {
    std::string bad = good;
    bad[kSpecLengthOffset + 4 + 4] = '5';  // "mlp:4,3" -> "mlp:5,3": more parameters needed
    write_bytes(path, with_valid_crc(bad));
    CHECK_THROWS_WITH(load_model(path), Catch::Contains("parameters"));
  }
  SECTION("a feature count whose parameter count would wrap 64 bits") {
    std::uint32_t spec_length = 0;
    std::memcpy(&spec_length, good.data() + kSpecLengthOffset, 4);
    for (const std::uint64_t features :
         {std::uint64_t{1} << 63, ~std::uint64_t{0}, (std::uint64_t{1} << 32) + 1}) {
      INFO(features);
      std::string bad = good;
      std::memcpy(bad.data() + kSpecLengthOffset + 4 + spec_length, &features, 8);
      write_bytes(path, with_valid_crc(bad));
      CHECK_THROWS_AS(load_model(path), ModelFileError);
      CHECK_THROWS_WITH(load_model(path), Catch::Contains("features"));
    }
  }
  SECTION("a header claiming more parameters than the file holds") {
    // Consistent dimensions (2^28 features and the parameter count they need) in a file of a
    // few hundred bytes: refused by the file's length before anything that size is allocated.
    std::uint32_t spec_length = 0;
    std::memcpy(&spec_length, good.data() + kSpecLengthOffset, 4);
    const std::uint64_t features = std::uint64_t{1} << 28;
    Model claimed = sample_model();
    claimed.features = features;
    const std::uint64_t count = claimed.objective().num_params();
    const std::size_t count_offset = good.size() - 4 - sample_model().params.size() * 4 - 8;
    std::string bad = good;
    std::memcpy(bad.data() + kSpecLengthOffset + 4 + spec_length, &features, 8);
    std::memcpy(bad.data() + count_offset, &count, 8);
    write_bytes(path, with_valid_crc(bad));
    CHECK_THROWS_WITH(load_model(path), Catch::Contains("file size does not match its header"));
  }
  SECTION("NaN parameter") {
    std::string bad = good;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::memcpy(bad.data() + bad.size() - 8, &nan, 4);
    write_bytes(path, with_valid_crc(bad));
    CHECK_THROWS_WITH(load_model(path), Catch::Contains("NaN"));
  }
}

TEST_CASE("every header field resealed at 0, at its limit and past it is a ModelFileError",
          "[model]") {
  // Each field rewritten in a valid file and the CRC recomputed (anyone can), so only the
  // reader's own checks stand between the bytes and the allocation.
  const testdata::TempDir dir;
  const std::string path = dir.file("m.dude");
  save_model(path, sample_model());
  const std::string good = read_bytes(path);
  std::uint32_t spec_length = 0;
  std::memcpy(&spec_length, good.data() + kSpecLengthOffset, 4);
  const std::size_t features_at = kSpecLengthOffset + 4 + spec_length;
  const std::size_t classes_at = features_at + 8, l2_at = classes_at + 4;
  auto resealed = [&](std::size_t offset, const auto& value) {
    std::string bad = good;
    std::memcpy(bad.data() + offset, &value, sizeof value);
    write_bytes(path, with_valid_crc(bad));
  };
  const std::uint64_t max64 = ~std::uint64_t{0};
  const std::uint32_t max32 = ~std::uint32_t{0};
  for (const std::uint64_t features :
       {std::uint64_t{0}, std::uint64_t{1} << 32, (std::uint64_t{1} << 32) + 1, max64}) {
    INFO("features " << features);
    resealed(features_at, features);
    CHECK_THROWS_AS(load_model(path), ModelFileError);
  }
  for (const std::uint32_t classes : {0u, 1u, 1u << 20, max32}) {
    INFO("classes " << classes);
    resealed(classes_at, classes);
    CHECK_THROWS_AS(load_model(path), ModelFileError);
  }
  for (const std::uint32_t length : {0u, spec_length + 1, 1u << 20, max32}) {
    INFO("spec length " << length);
    resealed(kSpecLengthOffset, length);
    CHECK_THROWS_AS(load_model(path), ModelFileError);
  }
  for (const float l2 :
       {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(), -1.0f}) {
    INFO("l2 " << l2);
    resealed(l2_at, l2);
    CHECK_THROWS_AS(load_model(path), ModelFileError);
  }
}

TEST_CASE("saving refuses a model that does not fit its spec, and leaves no file", "[model]") {
  testdata::TempDir dir;
  Model m = sample_model();
  m.params.pop_back();
  CHECK_THROWS_AS(save_model(dir.file("m.dude"), m), ModelFileError);
  m = sample_model();
  m.params[3] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS(save_model(dir.file("m.dude"), m), ModelFileError);
  CHECK(std::filesystem::is_empty(dir.path()));
}

namespace {

/// A file size limit (as a full disk would) for as long as it lives: writes past it fail with
/// EFBIG instead of raising SIGXFSZ.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &previous_);
    rlimit limit = previous_;
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &previous_);
    std::signal(SIGXFSZ, previous_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit previous_{};
  void (*previous_handler_)(int) = nullptr;
};

}  // namespace

TEST_CASE("a write that fails part-way leaves the old file whole and no temporary", "[model]") {
  const testdata::TempDir dir;
  const std::string path = dir.file("m.dude");
  save_model(path, sample_model());
  const std::string before = read_bytes(path);
  Model big{ModelSpec::parse("mlp:256"), 64, 10, 0.0f, {}};
  big.params.assign(big.objective().num_params(), 0.5f);  // 78 KB
  {
    const FileSizeLimit limit(4096);
    CHECK_THROWS_WITH(save_model(path, big), Catch::Contains(path + ": cannot write"));
    CHECK_THROWS_AS(
        save_checkpoint(dir.file("run.ckpt"), Checkpoint{1, std::string(8192, 'x'), {}}),
        CheckpointError);
  }
  CHECK(read_bytes(path) == before);
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path()))
    ++files;
  CHECK(files == 1);  // m.dude alone: no temporary, no checkpoint
}

TEST_CASE("a directory given as the model file is a ModelFileError naming it", "[model]") {
  const testdata::TempDir dir;
  CHECK_THROWS_AS(load_model(dir.path().string()), ModelFileError);
  CHECK_THROWS_WITH(load_model(dir.path().string()),
                    Catch::Contains(dir.path().string()) && Catch::Contains("directory"));
}
