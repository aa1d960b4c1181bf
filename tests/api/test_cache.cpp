// The binary cache of parsed data: used when it matches its source and options, rebuilt when
// it does not or is damaged, and always giving the data set the text gives.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "dude/io.hpp"
#include "temp_dir.hpp"

using namespace dude;

namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

/// Sets the file's modification time to `seconds` since the epoch.
void set_mtime(const std::string& path, long seconds) {
  const struct timespec times[2] = {{seconds, 0}, {seconds, 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

std::vector<float> values_of(const Dataset& d) {
  std::vector<float> out;
  for (std::size_t r = 0; r < d.rows(); ++r) {
    if (d.is_sparse()) {
      const SparseRow row = d.sparse_row(r);
      for (std::size_t k = 0; k < row.nnz; ++k) {
        out.push_back(static_cast<float>(row.index[k]));
        out.push_back(row.value[k]);
      }
    } else {
      out.insert(out.end(), d.dense_row(r), d.dense_row(r) + d.features());
    }
    out.push_back(static_cast<float>(d.label(r)) - 1000.0f);
  }
  return out;
}

void check_same(const Dataset& a, const Dataset& b) {
  CHECK(a.rows() == b.rows());
  CHECK(a.features() == b.features());
  CHECK(a.classes() == b.classes());
  CHECK(a.is_sparse() == b.is_sparse());
  CHECK(std::vector<std::string>(a.label_names().begin(), a.label_names().end()) ==
        std::vector<std::string>(b.label_names().begin(), b.label_names().end()));
  CHECK(values_of(a) == values_of(b));
}

}  // namespace

TEST_CASE("the cache gives the parsed data set, and is used while it matches its source",
          "[loaders][cache]") {
  const testdata::TempDir dir;
  const std::string format = GENERATE(as<std::string>{}, "libsvm", "csv", "fasttext");
  INFO(format);
  const std::string source = dir.file("data." + format);
  const std::string text = format == "libsvm" ? "1 1:0.5 3:2\n0 2:1\n2 4:-1 5:3\n"
                           : format == "csv"  ? "1,0.5,2\n0,1,0\n2,-1,3\n"
                                              : "__label__b x y\n__label__a y\n__label__c z x\n";
  write_text(source, text);
  set_mtime(source, 1'000'000);
  LoadOptions options;
  options.format = parse_format(format);
  const Dataset direct = load_dataset(source, options);
  options.cache_path = dir.file("data.cache");

  const Dataset first = load_dataset(source, options);  // parses and writes the cache
  check_same(first, direct);
  const std::string cache = read_text(options.cache_path);
  REQUIRE(cache.size() > 88);
  check_same(load_dataset(source, options), direct);  // maps it

  SECTION("a source of the same size and time is not read again") {
    std::string other = text;
    std::swap(other[other.size() - 2], other[other.size() - 3]);  // same length
    write_text(source, other);
    set_mtime(source, 1'000'000);
    check_same(load_dataset(source, options), direct);
  }
  SECTION("a changed source rebuilds it") {
    write_text(source, text + text);
    set_mtime(source, 2'000'000);
    const Dataset twice = load_dataset(source, options);
    CHECK(twice.rows() == 2 * direct.rows());
    CHECK(read_text(options.cache_path) != cache);
  }
  SECTION("other options rebuild it") {
    if (format == "fasttext") {
      options.hashing.bits = 4;
    } else {
      options.classes = 7;
    }
    const Dataset other = load_dataset(source, options);
    CHECK((other.features() != direct.features() || other.classes() != direct.classes()));
    options.cache_path.clear();
    check_same(other, load_dataset(source, options));
  }
  SECTION("a damaged cache is rebuilt, never trusted") {
    for (const std::size_t at : {std::size_t{3}, std::size_t{40}, cache.size() - 5}) {
      std::string damaged = cache;
      damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
      write_text(options.cache_path, damaged);
      check_same(load_dataset(source, options), direct);
      CHECK(read_text(options.cache_path) == cache);
    }
    write_text(options.cache_path, cache.substr(0, cache.size() / 2));  // truncated
    check_same(load_dataset(source, options), direct);
    write_text(options.cache_path, "");
    check_same(load_dataset(source, options), direct);
  }
}
