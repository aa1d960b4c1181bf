// The data loaders: exact parses of small inputs, one test for each kind of malformed input
// (file, line or byte offset, and reason), gzip, parallel parses of large inputs, the built-in
// digits and, where installed, Fashion-MNIST.
#include <tbb/global_control.h>
#include <zlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "dude/errors.hpp"
#include "dude/io.hpp"
#include "lcg.hpp"
#include "temp_dir.hpp"

#ifndef DUDE_FASHION_MNIST_DIR
#define DUDE_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#endif

namespace {

using dude::DataError;
using dude::Dataset;
using dude::LoadOptions;
using Where = dude::DataError::Where;

template <class F>
DataError data_error_of(F&& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e;
  }
  throw std::runtime_error("expected a DataError, none was thrown");
}

/// Checks every part of the DataError that `f` throws.
template <class F>
void check_error(F&& f, const std::string& file, Where where, std::uint64_t position,
                 const std::string& phrase) {
  const DataError e = data_error_of(f);
  INFO(e.what());
  CHECK(e.file() == file);
  CHECK(e.where() == where);
  CHECK(e.position() == position);
  CHECK_THAT(e.reason(), Catch::Contains(phrase));
}

void check_libsvm_error(const std::string& text, std::uint64_t line, const std::string& phrase,
                        const LoadOptions& options = {}) {
  check_error([&] { dude::parse_libsvm(text, "t.svm", options); }, "t.svm", Where::Line, line,
              phrase);
}

void check_csv_error(const std::string& text, std::uint64_t line, const std::string& phrase,
                     const LoadOptions& options = {}) {
  check_error([&] { dude::parse_csv(text, "t.csv", options); }, "t.csv", Where::Line, line, phrase);
}

std::vector<std::uint64_t> row_ptr_of(const Dataset& d) {
  std::vector<std::uint64_t> row_ptr{0};
  for (std::size_t i = 0; i < d.rows(); ++i)
    row_ptr.push_back(row_ptr.back() + d.sparse_row(i).nnz);
  return row_ptr;
}

std::vector<std::uint32_t> indices_of(const Dataset& d) {
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < d.rows(); ++i) {
    const auto row = d.sparse_row(i);
    out.insert(out.end(), row.index, row.index + row.nnz);
  }
  return out;
}

std::vector<float> values_of(const Dataset& d) {
  if (!d.is_sparse()) return std::vector<float>(d.dense_row(0), d.dense_row(0) + d.stored_values());
  std::vector<float> out;
  for (std::size_t i = 0; i < d.rows(); ++i) {
    const auto row = d.sparse_row(i);
    out.insert(out.end(), row.value, row.value + row.nnz);
  }
  return out;
}

std::vector<std::uint32_t> labels_of(const Dataset& d) {
  return {d.labels().begin(), d.labels().end()};
}

/// gzip-compresses bytes (one member), with `comment` in its header when not empty: a way to
/// make a member exactly as long as a test needs.
std::string gzip(const std::string& bytes, const std::string& comment = "") {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) ==
          Z_OK);
  gz_header header{};
  header.comment = reinterpret_cast<Bytef*>(const_cast<char*>(comment.c_str()));
  if (!comment.empty()) REQUIRE(deflateSetHeader(&zs, &header) == Z_OK);
  std::string out(deflateBound(&zs, bytes.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  REQUIRE(rc == Z_STREAM_END);
  out.resize(zs.total_out);
  return out;
}

/// Writes `bytes` to `name` in `dir` and returns the path.
std::string write_file(const testdata::TempDir& dir, const std::string& name,
                       const std::string& bytes) {
  const std::string path = dir.file(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

void put_be32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

std::string idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols,
                       const std::vector<int>& pixels, std::uint32_t magic = 0x00000803) {
  std::string out;
  put_be32(out, magic);
  put_be32(out, count);
  put_be32(out, rows);
  put_be32(out, cols);
  for (const int p : pixels) out.push_back(static_cast<char>(p));
  return out;
}

std::string idx_labels(const std::vector<int>& labels) {
  std::string out;
  put_be32(out, 0x00000801);
  put_be32(out, static_cast<std::uint32_t>(labels.size()));
  for (const int l : labels) out.push_back(static_cast<char>(l));
  return out;
}

// Three 2x2 images and their labels.
const std::vector<int> kPixels = {0, 255, 128, 1, 2, 3, 4, 5, 250, 251, 252, 253};
const std::vector<int> kLabels = {3, 0, 1};

/// Checks that two data sets hold the same dense data.
void check_same_dense(const Dataset& actual, const Dataset& expected) {
  REQUIRE_FALSE(actual.is_sparse());
  CHECK(actual.rows() == expected.rows());
  CHECK(actual.features() == expected.features());
  CHECK(actual.classes() == expected.classes());
  CHECK(values_of(actual) == values_of(expected));
  CHECK(labels_of(actual) == labels_of(expected));
}

/// `count` 28x28 IDX images of random pixels (which gzip cannot shrink) and their labels.
struct RandomImages {
  std::vector<int> pixels;
  std::vector<int> labels;
};

RandomImages random_images(std::uint32_t count) {
  RandomImages r;
  testdata::Lcg rng(42);
  r.pixels.resize(std::size_t{count} * 28 * 28);
  for (int& p : r.pixels) p = static_cast<int>(rng.next(256));
  r.labels.resize(count);
  for (int& l : r.labels) l = static_cast<int>(rng.next(10));
  return r;
}

/// A LIBSVM text of `rows` rows (labels 0..4, with comment lines) and the data it holds.
struct GeneratedLibsvm {
  std::string text;
  std::vector<std::uint64_t> row_ptr{0};
  std::vector<std::uint32_t> index;
  std::vector<float> value;
  std::vector<std::uint32_t> labels;
};

GeneratedLibsvm generate_libsvm(std::size_t rows) {
  GeneratedLibsvm g;
  testdata::Lcg rng(42);
  char number[32];
  for (std::size_t r = 0; r < rows; ++r) {
    if (r % 1000 == 0) g.text += "# block " + std::to_string(r) + "\n";
    const std::uint32_t label = rng.next(5);
    g.labels.push_back(label);
    g.text += std::to_string(label);
    std::uint32_t index = 0;
    const std::uint32_t nnz = rng.next(40);
    for (std::uint32_t k = 0; k < nnz; ++k) {
      index += 1 + rng.next(50);
      std::snprintf(number, sizeof number, "%.6f",
                    (static_cast<double>(rng.next(2000000)) - 1e6) / 1e6);
      g.text += ' ' + std::to_string(index) + ':' + number;
      g.index.push_back(index - 1);
      g.value.push_back(std::strtof(number, nullptr));
    }
    g.row_ptr.push_back(g.index.size());
    g.text += r % 7 == 0 ? " \r\n" : "\n";
  }
  return g;
}

/// The 1-based line number at which row `row` of generate_libsvm's text starts.
std::uint64_t generated_line_of_row(std::size_t row) { return row + row / 1000 + 2; }

/// Replaces line `line` (1-based) of text.
std::string with_line(std::string text, std::uint64_t line, const std::string& replacement) {
  std::size_t begin = 0;
  for (std::uint64_t l = 1; l < line; ++l) begin = text.find('\n', begin) + 1;
  const std::size_t end = text.find('\n', begin);
  return text.replace(begin, end - begin, replacement);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// LIBSVM

TEST_CASE("libsvm: comments, qid, tabs and CRLF parse exactly", "[loaders][libsvm]") {
  const std::string text =
      "# a comment line\r\n"
      "1 qid:3 1:0.5 3:-2\r\n"
      "0 2:1e-3\t4:7   # a trailing comment\r\n"
      "2\r\n"
      "   # an indented comment\n"
      "3.0 1:+1 4:.25";  // no final newline
  const Dataset d = dude::parse_libsvm(text, "t.svm");
  REQUIRE(d.is_sparse());
  CHECK(d.rows() == 4);
  CHECK(d.features() == 4);
  CHECK(d.classes() == 4);
  CHECK(row_ptr_of(d) == std::vector<std::uint64_t>{0, 2, 4, 4, 6});
  CHECK(indices_of(d) == std::vector<std::uint32_t>{0, 2, 1, 3, 0, 3});
  CHECK(values_of(d) == std::vector<float>{0.5f, -2.0f, 1e-3f, 7.0f, 1.0f, 0.25f});
  CHECK(labels_of(d) == std::vector<std::uint32_t>{1, 0, 2, 3});
}

TEST_CASE("libsvm: the model's feature and class counts widen the data", "[loaders][libsvm]") {
  LoadOptions options;
  options.features = 10;
  options.classes = 7;
  const Dataset d = dude::parse_libsvm("1 2:1\n0 3:1\n", "t.svm", options);
  CHECK(d.features() == 10);
  CHECK(d.classes() == 7);
}

TEST_CASE("libsvm: values too small for a float become zero", "[loaders][libsvm]") {
  const Dataset d = dude::parse_libsvm("1 1:1e-50 2:-1e-60\n", "t.svm");
  CHECK(values_of(d) == std::vector<float>{0.0f, 0.0f});
}

TEST_CASE("labels: -1/+1 files are binary, -1 becomes class 0", "[loaders][labels]") {
  const Dataset d = dude::parse_libsvm("+1 1:1\n-1 2:1\n-1.0 1:2\n1 1:3\n", "t.svm");
  CHECK(labels_of(d) == std::vector<std::uint32_t>{1, 0, 0, 1});
  CHECK(d.classes() == 2);

  // Without a -1, labels are class ids as usual; at least two classes.
  const Dataset ones = dude::parse_libsvm("+1 1:1\n1 1:2\n", "t.svm");
  CHECK(labels_of(ones) == std::vector<std::uint32_t>{1, 1});
  CHECK(ones.classes() == 2);

  LoadOptions options;
  options.classes = 3;
  CHECK(dude::parse_libsvm("-1 1:1\n+1 1:1\n", "t.svm", options).classes() == 3);
}

TEST_CASE("labels: -1 mixed with other class ids is an error where the mix shows",
          "[loaders][labels]") {
  check_libsvm_error("0 1:1\n1 1:1\n-1 1:1\n", 3, "label -1 after label 0 (line 1)");
  check_libsvm_error("-1 1:1\n1 1:1\n2 1:1\n", 3, "label 2 after label -1 (line 1)");
  check_csv_error("1,1\n-1,1\n2,1\n", 3, "label 2 after label -1");
}

TEST_CASE("libsvm error: unparsable token", "[loaders][libsvm][errors]") {
  check_libsvm_error("1 1:1\n0 abc\n", 2, "cannot parse 'abc' as index:value");
  check_libsvm_error("1 1:1 -3:2\n", 1, "'-3:2'");
  check_libsvm_error("1 qid:x 1:1\n", 1, "'qid:x'");
}

TEST_CASE("libsvm error: unparsable label", "[loaders][libsvm][errors]") {
  check_libsvm_error("1 1:1\nyes 1:1\n", 2, "cannot parse label 'yes'");
}

TEST_CASE("libsvm error: feature index 0", "[loaders][libsvm][errors]") {
  check_libsvm_error("1 1:1\n1 1:1\n0 0:1 2:3\n", 3, "feature index 0");
}

TEST_CASE("libsvm error: feature indices not ascending", "[loaders][libsvm][errors]") {
  check_libsvm_error("1 1:1\n1 3:1 2:1\n", 2,
                     "feature index 2 after 3: indices must be strictly ascending");
  check_libsvm_error("1 2:1 2:1\n", 1, "strictly ascending");
}

TEST_CASE("libsvm error: NaN or infinite value", "[loaders][libsvm][errors]") {
  check_libsvm_error("1 1:1\n1 2:nan\n", 2, "the value of feature 2 is not finite: '2:nan'");
  check_libsvm_error("1 1:inf\n", 1, "not finite");
  check_libsvm_error("1 1:-Infinity\n", 1, "not finite");
  check_libsvm_error("1 1:1e39\n", 1, "out of float range");
}

TEST_CASE("libsvm error: unparsable value", "[loaders][libsvm][errors]") {
  check_libsvm_error("1 1:abc\n", 1, "cannot parse the value of feature 1: '1:abc'");
  check_libsvm_error("1 1:1\n1 1:\n", 2, "cannot parse the value of feature 1");
  check_libsvm_error("1 1:2x\n", 1, "'1:2x'");
  check_libsvm_error("1 1:0x10\n", 1, "'1:0x10'");
}

TEST_CASE("libsvm error: non-integer label", "[loaders][libsvm][errors]") {
  check_libsvm_error("1 1:1\n1.5 1:1\n", 2, "label '1.5' is not an integer class id");
  check_libsvm_error("nan 1:1\n", 1, "not an integer class id");
}

TEST_CASE("libsvm error: label out of range", "[loaders][libsvm][errors]") {
  LoadOptions options;
  options.classes = 3;
  check_libsvm_error("2 1:1\n3 1:1\n", 2,
                     "label '3' is out of range: the model/training data has 3 classes", options);
  check_libsvm_error("1 1:1\n-2 1:1\n", 2, "label '-2' is negative");
  check_libsvm_error("4294967295 1:1\n", 1, "too large");
}

TEST_CASE("libsvm error: empty file", "[loaders][libsvm][errors]") {
  for (const std::string text : {"", "# nothing but a comment\n"}) {
    check_error([&] { dude::parse_libsvm(text, "t.svm"); }, "t.svm", Where::File, 0,
                "empty file: no data rows");
  }
  check_error([&] { dude::parse_libsvm("1\n0\n", "t.svm"); }, "t.svm", Where::File, 0,
              "no features");
}

TEST_CASE("libsvm error: empty line", "[loaders][libsvm][errors]") {
  check_libsvm_error("1 1:1\n\n1 1:1\n", 2, "empty line");
  check_libsvm_error("1 1:1\r\n \t\r\n", 2, "empty line");
  check_libsvm_error("1 1:1\n\n", 2, "empty line");  // only one final newline is allowed
}

TEST_CASE("libsvm error: feature index beyond the model's", "[loaders][libsvm][errors]") {
  LoadOptions options;
  options.features = 3;
  check_libsvm_error("1 1:1 3:1\n0 2:1 4:1\n", 2,
                     "feature index 4 exceeds the 3 features of the model/training data", options);
}

// ---------------------------------------------------------------------------------------------
// CSV

TEST_CASE("csv: header skipped, label in the first column", "[loaders][csv]") {
  LoadOptions options;
  options.csv_header = true;
  const Dataset d = dude::parse_csv("label,a,b\n1,0.5,2\n0, -1 ,3e2\n2,+4,5\n", "t.csv", options);
  REQUIRE_FALSE(d.is_sparse());
  CHECK(d.rows() == 3);
  CHECK(d.features() == 2);
  CHECK(d.classes() == 3);
  CHECK(values_of(d) == std::vector<float>{0.5f, 2.0f, -1.0f, 300.0f, 4.0f, 5.0f});
  CHECK(labels_of(d) == std::vector<std::uint32_t>{1, 0, 2});
}

TEST_CASE("csv: label in the last or a middle column, CRLF, -1/+1 labels", "[loaders][csv]") {
  LoadOptions options;
  options.csv_label_column = -1;
  const Dataset last = dude::parse_csv("0.5,2,+1\r\n-1,3,-1\r\n", "t.csv", options);
  CHECK(values_of(last) == std::vector<float>{0.5f, 2.0f, -1.0f, 3.0f});
  CHECK(labels_of(last) == std::vector<std::uint32_t>{1, 0});
  CHECK(last.classes() == 2);

  options.csv_label_column = 1;
  const Dataset middle = dude::parse_csv("7,4,8\n9,3.0,10\n", "t.csv", options);
  CHECK(values_of(middle) == std::vector<float>{7, 8, 9, 10});
  CHECK(labels_of(middle) == std::vector<std::uint32_t>{4, 3});
  CHECK(middle.classes() == 5);
}

TEST_CASE("csv error: wrong field count", "[loaders][csv][errors]") {
  check_csv_error("1,2,3\n1,2\n", 2, "expected 3 fields, found 2");
  check_csv_error("1,2,3\n1,2,3\n1,2,3,4\n", 3, "expected 3 fields, found 4");
  check_csv_error("1,2,3\n1,2,3,\n", 2, "expected 3 fields, found 4");
}

TEST_CASE("csv error: unparsable or empty field", "[loaders][csv][errors]") {
  check_csv_error("1,2,3\n1,2,x\n", 2, "cannot parse column 3: 'x'");
  check_csv_error("1,2 5,3\n", 1, "cannot parse column 2: '2 5'");
  check_csv_error("1,,3\n", 1, "column 2 is empty");
  check_csv_error("a,2,3\n", 1, "cannot parse label 'a'");
}

TEST_CASE("csv error: NaN or infinite value", "[loaders][csv][errors]") {
  check_csv_error("1,2,3\n0,nan,3\n", 2, "column 2 is not finite: 'nan'");
  check_csv_error("1,2,-inf\n", 1, "column 3 is not finite");
}

TEST_CASE("csv error: labels", "[loaders][csv][errors]") {
  check_csv_error("1,2\n2.5,2\n", 2, "label '2.5' is not an integer class id");
  LoadOptions options;
  options.classes = 2;
  check_csv_error("1,2\n2,2\n", 2, "label '2' is out of range", options);
  options = {};
  options.csv_label_column = 4;
  check_csv_error("1,2\n", 1, "label column 4 does not exist", options);
}

TEST_CASE("csv error: empty file or empty line", "[loaders][csv][errors]") {
  LoadOptions options;
  options.csv_header = true;
  check_error([&] { dude::parse_csv("a,b\n", "t.csv", options); }, "t.csv", Where::File, 0,
              "empty file: no data rows");
  check_error([&] { dude::parse_csv("", "t.csv"); }, "t.csv", Where::File, 0,
              "empty file: no data rows");
  check_csv_error("1,2\n\n1,2\n", 2, "empty line");
}

TEST_CASE("csv error: feature count differs from the model's", "[loaders][csv][errors]") {
  LoadOptions options;
  options.features = 3;
  check_error([&] { dude::parse_csv("1,2,3\n", "t.csv", options); }, "t.csv", Where::File, 0,
              "has 2 features, the model/training data has 3");
}

// ---------------------------------------------------------------------------------------------
// IDX

TEST_CASE("idx: images and labels parse exactly", "[loaders][idx]") {
  const Dataset d = dude::parse_idx(idx_images(3, 2, 2, kPixels), "i", idx_labels(kLabels), "l");
  REQUIRE_FALSE(d.is_sparse());
  CHECK(d.rows() == 3);
  CHECK(d.features() == 4);
  CHECK(d.classes() == 4);
  CHECK(labels_of(d) == std::vector<std::uint32_t>{3, 0, 1});
  const std::vector<float> values = values_of(d);
  for (std::size_t i = 0; i < kPixels.size(); ++i)
    CHECK(values[i] == static_cast<float>(kPixels[i]) / 255.0f);
  CHECK(values[1] == 1.0f);
}

TEST_CASE("idx: gzip-compressed files load by the standard naming", "[loaders][idx][gzip]") {
  const testdata::TempDir dir;
  const std::string images =
      write_file(dir, "train-images-idx3-ubyte.gz", gzip(idx_images(3, 2, 2, kPixels)));
  write_file(dir, "train-labels-idx1-ubyte.gz", gzip(idx_labels(kLabels)));
  const Dataset d = dude::load_dataset(images);
  CHECK(d.rows() == 3);
  CHECK(d.features() == 4);
  CHECK(labels_of(d) == std::vector<std::uint32_t>{3, 0, 1});
  CHECK(values_of(d)[1] == 1.0f);
}

TEST_CASE("idx: files, plain or gzip-compressed, load as their bytes parse",
          "[loaders][idx][gzip]") {
  const std::string images = idx_images(3, 2, 2, kPixels);
  const std::string labels = idx_labels(kLabels);
  const Dataset expected = dude::parse_idx(images, "i", labels, "l");
  for (const bool compressed : {false, true}) {
    INFO("gzip: " << compressed);
    const testdata::TempDir dir;
    const auto encode = [&](const std::string& bytes) { return compressed ? gzip(bytes) : bytes; };
    const std::string path = write_file(dir, "t10k-images-idx3-ubyte", encode(images));
    write_file(dir, "t10k-labels-idx1-ubyte", encode(labels));
    check_same_dense(dude::load_dataset(path), expected);
  }
}

TEST_CASE("idx: files larger than the reader's blocks load exactly", "[loaders][idx][gzip]") {
  // About 1.5 MB either way: the reader goes through several 1 MiB blocks of the file and
  // several chunks of pixels.
  const RandomImages r = random_images(2000);
  const std::string images = idx_images(2000, 28, 28, r.pixels);
  const std::string compressed = gzip(images);
  REQUIRE(compressed.size() > (std::size_t{1} << 20));
  std::vector<float> values;
  for (const int p : r.pixels) values.push_back(static_cast<float>(p) / 255.0f);
  const std::vector<std::uint32_t> labels(r.labels.begin(), r.labels.end());

  const testdata::TempDir dir;
  for (const bool gzipped : {false, true}) {
    INFO("gzip: " << gzipped);
    const std::string suffix = gzipped ? ".gz" : "";
    const std::string path =
        write_file(dir, "big-images-idx3-ubyte" + suffix, gzipped ? compressed : images);
    const std::string label_file = idx_labels(r.labels);
    write_file(dir, "big-labels-idx1-ubyte" + suffix, gzipped ? gzip(label_file) : label_file);
    const Dataset d = dude::load_dataset(path);
    CHECK(d.rows() == 2000);
    CHECK(d.features() == 784);
    CHECK(d.classes() == 10);
    CHECK(values_of(d) == values);
    CHECK(labels_of(d) == labels);
  }
}

TEST_CASE("idx: the labels file name follows the images file name", "[loaders][idx]") {
  CHECK(dude::idx_labels_path("/d/train-images-idx3-ubyte.gz") == "/d/train-labels-idx1-ubyte.gz");
  CHECK(dude::idx_labels_path("t10k-images-idx3-ubyte") == "t10k-labels-idx1-ubyte");
  CHECK(dude::idx_labels_path("d/train-images.idx3-ubyte") == "d/train-labels.idx1-ubyte");
  check_error([] { dude::idx_labels_path("pictures.idx"); }, "pictures.idx", Where::File, 0,
              "cannot name the IDX labels file");
}

TEST_CASE("idx error: bad magic or element type", "[loaders][idx][errors]") {
  check_error([] { dude::parse_idx(idx_labels(kLabels), "i", idx_labels(kLabels), "l"); }, "i",
              Where::ByteOffset, 0, "bad magic 0x00000801, expected 0x00000803");
  check_error(
      [] { dude::parse_idx(idx_images(3, 2, 2, kPixels), "i", idx_images(3, 2, 2, kPixels), "l"); },
      "l", Where::ByteOffset, 0, "bad magic 0x00000803, expected 0x00000801");
  check_error(
      [] {
        dude::parse_idx(idx_images(3, 2, 2, kPixels, 0x00000D03), "i", idx_labels(kLabels), "l");
      },
      "i", Where::ByteOffset, 2, "unsupported element type 0x0D");
}

TEST_CASE("idx error: sizes that do not match the dimensions", "[loaders][idx][errors]") {
  std::string images = idx_images(3, 2, 2, kPixels);
  const std::string labels = idx_labels(kLabels);
  check_error([&] { dude::parse_idx(images.substr(0, 27), "i", labels, "l"); }, "i",
              Where::ByteOffset, 27,
              "truncated data: expected 12 bytes of images after the header, found 11");
  check_error([&] { dude::parse_idx(images + "xy", "i", labels, "l"); }, "i", Where::ByteOffset, 28,
              "trailing bytes: 2 bytes");
  check_error([&] { dude::parse_idx(images.substr(0, 10), "i", labels, "l"); }, "i",
              Where::ByteOffset, 10, "truncated header: expected 16 bytes, found 10");
  check_error([&] { dude::parse_idx(idx_images(3, 0, 2, {}), "i", labels, "l"); }, "i",
              Where::ByteOffset, 8, "zero image rows");
  check_error([&] { dude::parse_idx(images, "i", labels.substr(0, 10), "l"); }, "l",
              Where::ByteOffset, 10,
              "truncated data: expected 3 bytes of labels after the header, found 2");
}

TEST_CASE("idx error: image and label counts differ", "[loaders][idx][errors]") {
  check_error(
      [] {
        dude::parse_idx(idx_images(3, 2, 2, kPixels), "i", idx_labels({1, 2}), "l");
      },
      "i", Where::File, 0, "has 3 images but the labels file l has 2 labels");
}

TEST_CASE("idx error: label out of range", "[loaders][idx][errors]") {
  LoadOptions options;
  options.classes = 2;
  check_error(
      [&] {
        dude::parse_idx(idx_images(3, 2, 2, kPixels), "i", idx_labels({1, 0, 2}), "l", options);
      },
      "l", Where::ByteOffset, 10, "label 2 is out of range: the model/training data has 2 classes");
}

TEST_CASE("idx error: feature count differs from the model's", "[loaders][idx][errors]") {
  LoadOptions options;
  options.features = 784;
  check_error(
      [&] {
        dude::parse_idx(idx_images(3, 2, 2, kPixels), "i", idx_labels(kLabels), "l", options);
      },
      "i", Where::File, 0, "has 4 features (2x2 images), the model/training data has 784");
}

TEST_CASE("idx error: broken files name the file and the byte", "[loaders][idx][gzip][errors]") {
  const testdata::TempDir dir;
  const RandomImages r = random_images(200);
  const std::string images = idx_images(200, 28, 28, r.pixels);
  const std::string compressed = gzip(images);
  write_file(dir, "x-labels-idx1-ubyte.gz", gzip(idx_labels(r.labels)));
  const std::string path = dir.file("x-images-idx3-ubyte.gz");
  const auto check_file = [&](const std::string& bytes, std::uint64_t offset,
                              const std::string& phrase) {
    write_file(dir, "x-images-idx3-ubyte.gz", bytes);
    check_error([&] { dude::load_dataset(path); }, path, Where::ByteOffset, offset, phrase);
  };
  check_file(compressed.substr(0, compressed.size() / 2), compressed.size() / 2,
             "truncated gzip stream");
  check_file(compressed + "junk", compressed.size(),
             "unexpected bytes after the end of the gzip stream");
  check_file(compressed + "\x1f", compressed.size(),  // half a gzip magic is no member
             "unexpected bytes after the end of the gzip stream");
  // The IDX checks see the inflated bytes.
  check_file(gzip(images + "xyz"), images.size(),
             "trailing bytes: 3 bytes after the last of the 200 images");
  check_file(gzip(images.substr(0, images.size() - 5)), images.size() - 5,
             "truncated data: expected 156800 bytes of images after the header, found 156795");
  check_file(images.substr(0, 9), 9, "truncated header: expected 16 bytes, found 9");
}

// ---------------------------------------------------------------------------------------------
// Files, gzip and format detection

TEST_CASE("files: format detected by name, gzip by content", "[loaders][gzip]") {
  const testdata::TempDir dir;
  const std::string svm = write_file(dir, "a.svm", gzip("1 1:2\n"));  // gzip under a plain name
  CHECK(dude::load_dataset(svm).is_sparse());
  const std::string csv = write_file(dir, "a.CSV.gz", gzip("1,2\n"));
  CHECK_FALSE(dude::load_dataset(csv).is_sparse());
  LoadOptions options;
  options.format = dude::Format::Csv;
  CHECK_FALSE(dude::load_dataset(write_file(dir, "a.txt", "1,2\n"), options).is_sparse());
  CHECK(dude::parse_format("svmlight") == dude::Format::Libsvm);
  CHECK_THROWS_AS(dude::parse_format("arff"), dude::ConfigError);
}

TEST_CASE("files: concatenated gzip members are one stream", "[loaders][gzip]") {
  const testdata::TempDir dir;
  const std::string path = write_file(dir, "two.svm.gz", gzip("1 1:1\n") + gzip("0 2:1\n"));
  CHECK(dude::read_file(path) == "1 1:1\n0 2:1\n");
  CHECK(dude::load_dataset(path).rows() == 2);

  // The last member's recorded size (1 byte) says nothing about the first's: the output grows.
  const std::string large = generate_libsvm(3000).text;
  const std::string grown = write_file(dir, "grown.gz", gzip(large) + gzip("x"));
  CHECK(dude::read_file(grown) == large + "x");
}

TEST_CASE("files: a gzip member may end anywhere in the reader's blocks", "[loaders][gzip]") {
  // Files are read in 1 MiB blocks; the next member's magic (or what stands in its place) may
  // begin just before a block boundary, so that its two bytes come from two reads, or at it.
  constexpr std::size_t kBlock = std::size_t{1} << 20;
  testdata::Lcg rng(42);
  std::string first(kBlock - 8192, '\0');
  for (char& c : first) c = static_cast<char>(rng.next(256));
  const std::size_t bare = gzip(first).size();
  const testdata::TempDir dir;
  for (const std::size_t end : {kBlock - 2, kBlock - 1, kBlock, kBlock + 1}) {
    INFO("first member ends at " << end);
    REQUIRE(end > bare + 1);  // a comment takes its length and a terminating NUL
    const std::string member = gzip(first, std::string(end - bare - 1, 'c'));
    REQUIRE(member.size() == end);
    CHECK(dude::read_file(write_file(dir, "two.gz", member + gzip("second"))) == first + "second");
    const std::string junk = write_file(dir, "junk.gz", member + "x");
    check_error([&] { dude::read_file(junk); }, junk, Where::ByteOffset, end,
                "unexpected bytes after the end of the gzip stream");
  }
}

TEST_CASE("files error: truncated gzip stream", "[loaders][gzip][errors]") {
  const testdata::TempDir dir;
  const std::string compressed = gzip(generate_libsvm(100).text);
  const std::string path =
      write_file(dir, "cut.svm.gz", compressed.substr(0, compressed.size() / 2));
  check_error([&] { dude::load_dataset(path); }, path, Where::ByteOffset, compressed.size() / 2,
              "truncated gzip stream");
  // Without its 8-byte trailer the data is complete but the stream is not.
  const std::string no_trailer =
      write_file(dir, "no-trailer.gz", compressed.substr(0, compressed.size() - 8));
  check_error([&] { dude::read_file(no_trailer); }, no_trailer, Where::ByteOffset,
              compressed.size() - 8, "truncated gzip stream");
}

TEST_CASE("files error: corrupt gzip data or bytes after it", "[loaders][gzip][errors]") {
  const testdata::TempDir dir;
  std::string compressed = gzip("1 1:1\n");
  const std::string trailing = write_file(dir, "trailing.gz", compressed + "junk");
  check_error([&] { dude::read_file(trailing); }, trailing, Where::ByteOffset, compressed.size(),
              "unexpected bytes after the end of the gzip stream");

  compressed[2] = 7;  // the compression method: 8 (deflate) is the only one
  const std::string bad = write_file(dir, "bad.gz", compressed);
  const DataError e = data_error_of([&] { dude::read_file(bad); });
  INFO(e.what());
  CHECK(e.where() == Where::ByteOffset);
  CHECK(e.position() <= 10);  // within the gzip header
  CHECK_THAT(e.reason(), Catch::Contains("corrupt gzip data: unknown compression method"));
}

TEST_CASE("files error: missing file", "[loaders][errors]") {
  const testdata::TempDir dir;
  const std::string path = dir.file("missing.svm");
  check_error([&] { dude::load_dataset(path); }, path, Where::File, 0,
              "cannot open: No such file or directory");
}

// ---------------------------------------------------------------------------------------------
// Large inputs: parsed in parallel chunks, identical to the data generated

TEST_CASE("libsvm: a large input parses exactly, on one thread or many",
          "[loaders][libsvm][parallel]") {
  const GeneratedLibsvm g = generate_libsvm(120000);
  REQUIRE(g.text.size() > 12'000'000);  // several chunks
  const Dataset parallel = dude::parse_libsvm(g.text, "big.svm");
  CHECK(parallel.rows() == g.labels.size());
  CHECK(row_ptr_of(parallel) == g.row_ptr);
  CHECK(indices_of(parallel) == g.index);
  CHECK(values_of(parallel) == g.value);
  CHECK(labels_of(parallel) == g.labels);
  CHECK(parallel.classes() == 5);

  const tbb::global_control one_thread(tbb::global_control::max_allowed_parallelism, 1);
  const Dataset serial = dude::parse_libsvm(g.text, "big.svm");
  CHECK(row_ptr_of(serial) == g.row_ptr);
  CHECK(indices_of(serial) == g.index);
  CHECK(values_of(serial) == g.value);
  CHECK(labels_of(serial) == g.labels);
}

TEST_CASE("libsvm: errors deep in a large input name the first bad line",
          "[loaders][libsvm][parallel][errors]") {
  const GeneratedLibsvm g = generate_libsvm(120000);
  const std::uint64_t early = generated_line_of_row(70001);
  const std::uint64_t late = generated_line_of_row(110003);
  std::string text = with_line(g.text, late, "1 1:x");
  check_libsvm_error(text, late, "cannot parse the value of feature 1");
  text = with_line(text, early, "0 3:1 2:1");
  check_libsvm_error(text, early, "strictly ascending");

  // A -1 among class ids 0..4 is noticed only after all chunks are read.
  const std::uint64_t minus_one = generated_line_of_row(90000);
  check_libsvm_error(with_line(g.text, minus_one, "-1 1:1"), minus_one, "label -1 after label");
}

TEST_CASE("csv: a large input parses exactly", "[loaders][csv][parallel]") {
  testdata::Lcg rng(42);
  std::string text;
  std::vector<float> x;
  std::vector<std::uint32_t> labels;
  for (int r = 0; r < 150000; ++r) {
    labels.push_back(rng.next(10));
    text += std::to_string(labels.back());
    for (int c = 0; c < 10; ++c) {
      const std::uint32_t v = rng.next(100000);
      text += ',' + std::to_string(v / 1000) + '.' + std::to_string(v % 1000);
      x.push_back(std::strtof((std::to_string(v / 1000) + '.' + std::to_string(v % 1000)).c_str(),
                              nullptr));
    }
    text += '\n';
  }
  REQUIRE(text.size() > 8'000'000);
  const Dataset d = dude::parse_csv(text, "big.csv");
  CHECK(d.rows() == 150000);
  CHECK(d.features() == 10);
  CHECK(values_of(d) == x);
  CHECK(labels_of(d) == labels);
  check_csv_error(with_line(text, 140000, "1,2"), 140000, "expected 11 fields, found 2");
}

// ---------------------------------------------------------------------------------------------
// Real data

TEST_CASE("builtin: digits", "[loaders][builtin]") {
  CHECK(dude::is_builtin_dataset("digits"));
  CHECK_FALSE(dude::is_builtin_dataset("mnist"));
  CHECK_THROWS_AS(dude::load_builtin_dataset("mnist"), dude::ConfigError);
  const Dataset d = dude::load_builtin_dataset("digits");
  REQUIRE_FALSE(d.is_sparse());
  CHECK(d.rows() == 1797);
  CHECK(d.features() == 64);
  CHECK(d.classes() == 10);
  CHECK(d.class_histogram() ==
        std::vector<std::size_t>{178, 182, 177, 183, 181, 182, 181, 179, 174, 180});
  const std::vector<float> values = values_of(d);
  CHECK(*std::min_element(values.begin(), values.end()) == 0.0f);
  CHECK(*std::max_element(values.begin(), values.end()) == 1.0f);
  for (const float v : values) REQUIRE(v * 16.0f == std::round(v * 16.0f));  // counts / 16
}

TEST_CASE("fashion-mnist: the installed files", "[loaders][fmnist]") {
  const std::filesystem::path dir = DUDE_FASHION_MNIST_DIR;
  if (!std::filesystem::exists(dir / "train-images-idx3-ubyte.gz")) {
    FAIL("Fashion-MNIST is not installed in " << dir << ": run tools/setup.sh");
  }
  const Dataset train = dude::load_dataset((dir / "train-images-idx3-ubyte.gz").string());
  CHECK(train.rows() == 60000);
  CHECK(train.features() == 784);
  CHECK(train.classes() == 10);
  CHECK(train.class_histogram() == std::vector<std::size_t>(10, 6000));
  const float* values = train.dense_row(0);
  const auto [min, max] = std::minmax_element(values, values + train.stored_values());
  CHECK(*min == 0.0f);
  CHECK(*max == 1.0f);

  LoadOptions options;
  options.features = train.features();
  options.classes = train.classes();
  const Dataset test = dude::load_dataset((dir / "t10k-images-idx3-ubyte.gz").string(), options);
  CHECK(test.rows() == 10000);
  CHECK(test.features() == 784);
  CHECK(test.class_histogram() == std::vector<std::size_t>(10, 1000));
}

TEST_CASE("features: mapped arrays are zeroed, aligned, and kept alive by the data set",
          "[loaders][dataset]") {
  // Small (ordinary pages) and large (2 MiB-aligned for huge pages) arrays.
  for (const std::size_t n : {std::size_t{0}, std::size_t{10}, std::size_t{3} << 20}) {
    INFO("n " << n);
    std::shared_ptr<float[]> x = dude::allocate_features(n);
    REQUIRE(x != nullptr);
    const auto address = reinterpret_cast<std::uintptr_t>(x.get());
    CHECK(address % 4096 == 0);
    if (n * sizeof(float) >= (std::size_t{2} << 20)) CHECK(address % (std::size_t{2} << 20) == 0);
    CHECK(std::all_of(x.get(), x.get() + n, [](float v) { return v == 0.0f; }));
    for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(i % 7);
  }
  // A data set over such an array owns a share of it: the caller's pointer can go.
  std::shared_ptr<float[]> x = dude::allocate_features(6);
  for (std::size_t i = 0; i < 6; ++i) x[i] = static_cast<float>(i);
  const dude::Dataset d = dude::Dataset::dense(3, 2, std::move(x), {0, 1});
  REQUIRE(d.rows() == 2);
  CHECK(d.dense_row(1)[2] == 5.0f);
  CHECK_THROWS_AS(dude::Dataset::dense(3, 2, std::shared_ptr<const float[]>(), {0, 1}),
                  dude::ConfigError);
}

// ---------------------------------------------------------------------------------------------
// Hostile inputs: refused early, naming the file, the place and the sizes

namespace {

/// The MemoryLimitError `f` throws, after checking its file, place and phrase.
template <class F>
dude::MemoryLimitError memory_error_of(F&& f, const std::string& file, Where where,
                                       std::uint64_t position, const std::string& phrase) {
  try {
    f();
  } catch (const dude::MemoryLimitError& e) {
    INFO(e.what());
    CHECK(e.file() == file);
    CHECK(e.where() == where);
    CHECK(e.position() == position);
    CHECK_THAT(e.reason(), Catch::Contains(phrase));
    return e;
  }
  throw std::runtime_error("expected a MemoryLimitError, none was thrown");
}

}  // namespace

TEST_CASE("limits: a feature index whose model passes the memory limit, before allocating",
          "[loaders][libsvm][limits]") {
  LoadOptions options;
  options.max_memory = std::uint64_t{1} << 30;
  const auto e = memory_error_of(
      [&] { dude::parse_libsvm("0 1:1\n1 1000000000:1\n0 2:1\n", "t.svm", options); }, "t.svm",
      Where::Line, 2,
      "feature index 1000000000: a model of 1000000000 features x 2 classes (a weight and a "
      "gradient each) needs 14.9 GiB, over the memory limit of 1.0 GiB");
  CHECK(e.needed() == std::uint64_t{16'000'000'000});
  CHECK(e.limit() == options.max_memory);
  memory_error_of([&] { dude::parse_libsvm("1 4294967295:1\n", "t.svm", options); }, "t.svm",
                  Where::Line, 1, "needs 64.0 GiB");
  // The classes count: 3 classes make the same index too large for a limit 2 would fit.
  options.max_memory = 16'000'000;
  CHECK(dude::parse_libsvm("0 1:1\n1 1000000:1\n", "t.svm", options).features() == 1'000'000);
  memory_error_of([&] { dude::parse_libsvm("0 1:1\n2 1000000:1\n", "t.svm", options); }, "t.svm",
                  Where::Line, 2, "x 3 classes");
  // A model's feature count is the model's: its data is not sized again.
  options.features = 1'000'000'000;
  CHECK(dude::parse_libsvm("1 1000000000:1\n", "t.svm", options).features() == 1'000'000'000);
}

TEST_CASE("limits: fastText hashing, CSV rows and IDX headers past the memory limit",
          "[loaders][limits]") {
  LoadOptions options;
  options.max_memory = std::uint64_t{1} << 30;
  options.hashing.bits = 30;
  memory_error_of([&] { dude::parse_fasttext("__label__a x\n__label__b y\n", "t.ft", options); },
                  "t.ft", Where::File, 0, "hash bits 30: a model of 1073741824 features");
  options = {};
  options.max_memory = 50;
  memory_error_of([&] { dude::parse_csv("0,1,2\n1,3,4\n0,5,6\n1,7,8\n", "t.csv", options); },
                  "t.csv", Where::File, 0,
                  "4 rows x 2: 32 bytes of features and a model of 2 features x 2 classes");
  options.max_memory = std::uint64_t{1} << 30;
  const std::string labels = idx_labels(kLabels);
  memory_error_of(
      [&] { dude::parse_idx(idx_images(1 << 20, 1024, 1024, kPixels), "i", labels, "l", options); },
      "i", Where::ByteOffset, 4,
      "the header's 1048576 x 1024 x 1024 images: 4.0 TiB of features and a model of 1048576 "
      "features x 2 classes");
}

TEST_CASE("limits: a file, plain or compressed, larger than the memory limit is not read whole",
          "[loaders][gzip][limits]") {
  const testdata::TempDir dir;
  const std::string text = generate_libsvm(3000).text;
  LoadOptions options;
  options.max_memory = 1000;
  const std::string plain = write_file(dir, "big.svm", text);
  memory_error_of([&] { dude::load_dataset(plain, options); }, plain, Where::File, 0,
                  "the file needs " + dude::format_bytes(text.size()) +
                      ", over the memory limit of 1000 bytes");
  const std::string packed = write_file(dir, "big.svm.gz", gzip(text));
  memory_error_of([&] { dude::load_dataset(packed, options); }, packed, Where::File, 0,
                  "the inflated file needs more than 1000 bytes");
  CHECK_THROWS_AS(dude::read_file(packed, 1000), dude::MemoryLimitError);
  CHECK(dude::read_file(packed, text.size()) == text);
}

TEST_CASE("limits: a cut gzip file is refused as truncated whatever its trailer claims",
          "[loaders][gzip][limits]") {
  const testdata::TempDir dir;
  const std::string text = generate_libsvm(3000).text;
  const std::string whole = gzip(text);
  std::string cut = whole.substr(0, whole.size() / 2);
  // The last 4 bytes, read as the trailer's size, claim 4 GiB; the stream still inflates its
  // first bytes, and is refused where it ends, within a limit far below the claim.
  cut.replace(cut.size() - 4, 4, "\xff\xff\xff\xff");
  const std::string path = write_file(dir, "cut.svm.gz", cut);
  LoadOptions options;
  options.max_memory = 4 * text.size();
  const DataError e = data_error_of([&] { dude::load_dataset(path, options); });
  INFO(e.what());
  CHECK(e.where() == Where::ByteOffset);
  CHECK_THAT(e.reason(), Catch::Contains("gzip") && !Catch::Contains("memory limit"));
}

TEST_CASE("limits: a NUL byte in LIBSVM or CSV text is refused as soon as it is read",
          "[loaders][gzip][limits]") {
  const testdata::TempDir dir;
  // Megabytes of zeros after a good line: the error names line 2 and the first NUL byte.
  const std::string bomb = gzip("1 1:1\n" + std::string(std::size_t{8} << 20, '\0'));
  for (const std::string name : {"bomb.svm.gz", "bomb.csv.gz"}) {
    const std::string path = write_file(dir, name, bomb);
    check_error([&] { dude::load_dataset(path); }, path, Where::Line, 2,
                "a NUL byte (byte 6 of the text): not ");
  }
}

TEST_CASE("limits: a line longer than kMaxLineBytes is refused once it passes the limit",
          "[loaders][gzip][limits]") {
  const testdata::TempDir dir;
  // fastText splits words at NUL bytes, so a file of them is one overlong line of blanks.
  const std::string nuls = gzip("__label__a x\n" + std::string(dude::kMaxLineBytes + 1, '\0'));
  const std::string ft = write_file(dir, "long.ft.gz", nuls);
  check_error([&] { dude::load_dataset(ft); }, ft, Where::Line, 2,
              "a line longer than 32.0 MiB, the most a line may hold");
  // A line of exactly the limit is read (and parsed: here, a label too large).
  const std::string svm =
      write_file(dir, "long.svm.gz", gzip(std::string(dude::kMaxLineBytes, '1') + "\n"));
  check_error([&] { dude::load_dataset(svm); }, svm, Where::Line, 1,
              std::string("label '").append(40, '1').append("...'"));
}

TEST_CASE("limits: messages quote at most 40 bytes of a token", "[loaders][errors][limits]") {
  const std::string huge(10'000'000, 'x');
  // Built with append: operator+ chains trip a false -Wrestrict in GCC 12 (bug 105329).
  const std::string shown = std::string(30, 'x').append("...'");
  for (const std::string& text : {huge + " 1:1\n", "1 " + huge + "\n", "1 1:" + huge + "\n"}) {
    const DataError e = data_error_of([&] { dude::parse_libsvm(text, "t.svm"); });
    CHECK_THAT(e.reason(), Catch::Contains(shown));
    CHECK(std::string(e.what()).size() < 200);
  }
  for (const std::string& text : {huge + ",1\n", "1," + huge + "\n"}) {
    const DataError e = data_error_of([&] { dude::parse_csv(text, "t.csv"); });
    CHECK_THAT(e.reason(), Catch::Contains(shown));
    CHECK(std::string(e.what()).size() < 200);
  }
  LoadOptions named;
  named.label_names = {"a", "b"};
  for (const std::string& text : {"__label__" + huge + " w\n", "__label__a __label__" + huge + "\n",
                                  "__label__a w\n__label__" + huge.substr(0, 1000) + " w\n"}) {
    const DataError e = data_error_of([&] { dude::parse_fasttext(text, "t.ft", named); });
    INFO(e.reason().substr(0, 200));
    CHECK(std::string(e.what()).size() < 200);
  }
}

TEST_CASE("csv error: a header read as data says how to skip it", "[loaders][csv][errors]") {
  check_csv_error("label,f1,f2\n0,1,2\n", 1,
                  "no field is a number: 'label,f1,f2' looks like a header; skip it with "
                  "--csv-header (LoadOptions::csv_header)");
  // A line with any number in it is data, malformed or not.
  check_csv_error("a,2,3\n", 1, "cannot parse label 'a'");
}

TEST_CASE("files: a byte order mark and CRLF line ends, in every text format, plain or gzip",
          "[loaders][gzip]") {
  const testdata::TempDir dir;
  struct Case {
    const char* name;
    std::string text;
  };
  const Case cases[] = {{"t.svm", "1 1:0.5 3:2\n0 2:1\n"},
                        {"t.csv", "1,0.5,2\n0,1,3\n"},
                        {"t.ft", "__label__a hello world\n__label__b bye\n"}};
  for (const Case& c : cases) {
    INFO(c.name);
    std::string windows = "\xEF\xBB\xBF";
    for (const char ch : c.text) windows += ch == '\n' ? std::string("\r\n") : std::string(1, ch);
    const Dataset plain = dude::load_dataset(write_file(dir, c.name, c.text));
    for (const std::string& name :
         {std::string("bom-") + c.name, std::string("bom-") + c.name + ".gz"}) {
      const std::string bytes = name.ends_with(".gz") ? gzip(windows) : windows;
      const Dataset d = dude::load_dataset(write_file(dir, name, bytes));
      CHECK(d.rows() == plain.rows());
      CHECK(d.features() == plain.features());
      CHECK(d.stored_values() == plain.stored_values());
      CHECK(std::vector<std::uint32_t>(d.labels().begin(), d.labels().end()) ==
            std::vector<std::uint32_t>(plain.labels().begin(), plain.labels().end()));
    }
  }
}
