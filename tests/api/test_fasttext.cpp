// fastText text in: parsing, the hash (against values computed with `xxhsum -H3`), n-grams,
// merged features, the label dictionary and the mapping of test files through it, every kind of
// malformed line (also deep in inputs parsed in parallel chunks), the model file's input spec
// and names (and version 1 files), and LIBSVM written back out.
#include <tbb/global_control.h>
#include <zlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "dude/errors.hpp"
#include "dude/io.hpp"
#include "dude/model.hpp"
#include "file_bytes.hpp"
#include "lcg.hpp"
#include "temp_dir.hpp"
#include "test_data.hpp"

using namespace dude;

namespace {

using Where = DataError::Where;

Dataset parse(const std::string& text, std::uint32_t bits = 20, std::uint32_t ngrams = 1) {
  LoadOptions options;
  options.hashing = {bits, ngrams};
  return parse_fasttext(text, "t.ft", options);
}

/// Row i as feature -> value.
std::map<std::uint32_t, float> row_of(const Dataset& d, std::size_t i) {
  const SparseRow row = d.sparse_row(i);
  std::map<std::uint32_t, float> out;
  for (std::size_t j = 0; j < row.nnz; ++j) out[row.index[j]] = row.value[j];
  return out;
}

/// What a row of these words (and n-grams, joined by one space) must hold.
std::map<std::uint32_t, float> expected_row(const std::vector<std::string>& words,
                                            std::uint32_t bits, std::size_t ngrams = 1) {
  std::map<std::uint32_t, float> out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    std::string gram;
    for (std::size_t n = 1; n <= ngrams && i + n <= words.size(); ++n) {
      gram += (n > 1 ? " " : "") + words[i + n - 1];
      out[hashed_feature(gram, bits)] += 1.0f;
    }
  }
  return out;
}

std::vector<std::string> names_of(const Dataset& d) {
  return {d.label_names().begin(), d.label_names().end()};
}

std::vector<std::uint32_t> labels_of(const Dataset& d) {
  return {d.labels().begin(), d.labels().end()};
}

DataError data_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e;
  }
  throw std::runtime_error("expected a DataError, none was thrown");
}

void check_line_error(const std::string& text, std::uint64_t line, const std::string& phrase,
                      const LoadOptions& options = {}) {
  const DataError e = data_error_of([&] { parse_fasttext(text, "t.ft", options); });
  INFO(e.what());
  CHECK(e.file() == "t.ft");
  CHECK(e.where() == Where::Line);
  CHECK(e.position() == line);
  CHECK_THAT(e.reason(), Catch::Contains(phrase));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Parsing and hashing

TEST_CASE("fasttext: the hash is XXH3_64bits with seed 0, reduced mod 2^bits", "[fasttext]") {
  // Golden values from Debian's xxhash 0.8.1: printf '%s' WORD | xxhsum -H3
  CHECK(hash_token("hello") == 0x9555e8555c62dcfdULL);
  CHECK(hash_token("world") == 0xd6476c25083d69beULL);
  CHECK(hash_token("hello world") == 0xd447b1ea40e6988bULL);
  CHECK(hash_token("na\xC3\xAFve") == 0xccccbc10c2277808ULL);  // "naïve" in UTF-8
  CHECK(hash_token("") == 0x2d06800538d394c2ULL);
  CHECK(hashed_feature("hello", 20) == 187645);
  CHECK(hashed_feature("hello", 16) == 56573);
  CHECK(hashed_feature("world", 20) == 879038);
  CHECK(hashed_feature("world", 16) == 27070);
  CHECK(hashed_feature("hello world", 20) == 432267);
  CHECK(hashed_feature("hello world", 16) == 39051);

  // The parser puts the words and the bigram exactly there.
  const std::string text = "__label__a hello world\n__label__b na\xC3\xAFve\n";
  const Dataset d20 = parse(text, 20, 2);
  CHECK(d20.features() == (std::size_t{1} << 20));
  CHECK(row_of(d20, 0) == std::map<std::uint32_t, float>{{187645, 1}, {432267, 1}, {879038, 1}});
  CHECK(row_of(d20, 1) == std::map<std::uint32_t, float>{{489480, 1}});
  const Dataset d16 = parse(text, 16, 2);
  CHECK(d16.features() == 65536);
  CHECK(row_of(d16, 0) == std::map<std::uint32_t, float>{{27070, 1}, {39051, 1}, {56573, 1}});
  CHECK(row_of(d16, 1) == std::map<std::uint32_t, float>{{30728, 1}});
}

TEST_CASE("fasttext: labels, words, tabs, CRLF, a BOM and blank lines parse exactly",
          "[fasttext]") {
  const std::string text =
      "\xEF\xBB\xBF__label__spam buy\tnow  now\r\n"
      "\r\n"
      "   \t \n"
      "hello __label__ham   there\v#1\n"
      "__label__ham\n"
      "__label__spam win\f\r\n";
  const Dataset d = parse(text, 16);
  REQUIRE(d.rows() == 4);
  CHECK(d.is_sparse());
  CHECK(d.classes() == 2);
  CHECK(names_of(d) == std::vector<std::string>{"ham", "spam"});
  CHECK(labels_of(d) == std::vector<std::uint32_t>{1, 0, 0, 1});
  CHECK(row_of(d, 0) == expected_row({"buy", "now", "now"}, 16));
  CHECK(row_of(d, 1) == expected_row({"hello", "there", "#1"}, 16));  // '#' is no comment
  CHECK(d.sparse_row(2).nnz == 0);                                    // a label and no words
  CHECK(row_of(d, 3) == expected_row({"win"}, 16));
}

TEST_CASE("fasttext: n-grams join consecutive words by one space, labels left out", "[fasttext]") {
  const Dataset d = parse("__label__x a\tb  c\nd __label__y e\n", 20, 3);
  std::map<std::uint32_t, float> trigrams;
  for (const char* gram : {"a", "b", "c", "a b", "b c", "a b c"}) {
    trigrams[hashed_feature(gram, 20)] += 1.0f;
  }
  CHECK(trigrams.size() == 6);
  CHECK(row_of(d, 0) == trigrams);
  // "d e" is a bigram: the label between the words is not one of them.
  CHECK(row_of(d, 1) == std::map<std::uint32_t, float>{{hashed_feature("d", 20), 1.0f},
                                                       {hashed_feature("e", 20), 1.0f},
                                                       {hashed_feature("d e", 20), 1.0f}});
  // The default hashes words only.
  CHECK(row_of(parse("__label__x a\tb  c\n__label__y a\n"), 0) ==
        expected_row({"a", "b", "c"}, 20));
}

TEST_CASE("fasttext: repeated and colliding features merge, indices ascending", "[fasttext]") {
  const Dataset d = parse("__label__x a a a b\n__label__y a b c d e f g h\n", 20);
  CHECK(row_of(d, 0) == std::map<std::uint32_t, float>{{hashed_feature("a", 20), 3.0f},
                                                       {hashed_feature("b", 20), 1.0f}});
  // With 2 features, eight words land on at most two features whose counts add up to eight.
  const Dataset tiny = parse("__label__x a\n__label__y a b c d e f g h\n", 1);
  const SparseRow row = tiny.sparse_row(1);
  REQUIRE(row.nnz >= 1);
  REQUIRE(row.nnz <= 2);
  CHECK(std::adjacent_find(row.index, row.index + row.nnz, std::greater_equal<>()) ==
        row.index + row.nnz);  // strictly ascending
  float total = 0;
  for (std::size_t j = 0; j < row.nnz; ++j) total += row.value[j];
  CHECK(total == 8.0f);
  CHECK(row_of(tiny, 1) == expected_row({"a", "b", "c", "d", "e", "f", "g", "h"}, 1));
}

TEST_CASE("fasttext: classes are the label names in byte order, and copies share them",
          "[fasttext]") {
  const Dataset d = parse(
      "__label__b x\n__label__\xC3\xA9t\xC3\xA9 x\n__label__B x\n__label__a x\n__label__b y\n");
  CHECK(names_of(d) == std::vector<std::string>{"B", "a", "b", "\xC3\xA9t\xC3\xA9"});
  CHECK(labels_of(d) == std::vector<std::uint32_t>{2, 3, 0, 1, 2});
  const Dataset copy = d;  // NOLINT: the copy is the point
  CHECK(copy.label_names().data() == d.label_names().data());
  CHECK(parse_libsvm("1 1:1\n0 2:1\n", "t.svm").label_names().empty());
}

TEST_CASE("fasttext: a test file maps its labels through the training names", "[fasttext]") {
  LoadOptions options;
  options.hashing.bits = 12;
  options.label_names = {"alpha", "beta", "gamma"};
  const Dataset test = parse_fasttext("__label__gamma x\n__label__alpha y\n", "test.ft", options);
  CHECK(test.classes() == 3);
  CHECK(labels_of(test) == std::vector<std::uint32_t>{2, 0});
  CHECK(names_of(test) == options.label_names);

  // The training data's counts fit (a model's would be the same).
  options.features = std::size_t{1} << 12;
  options.classes = 3;
  CHECK(parse_fasttext("__label__beta z\n", "test.ft", options).labels()[0] == 1);
}

TEST_CASE("fasttext: .ft and .fasttext files load by name, gzip by content", "[fasttext]") {
  CHECK(detect_format("data/train.ft") == Format::Fasttext);
  CHECK(detect_format("TRAIN.FASTTEXT.gz") == Format::Fasttext);
  CHECK(detect_format("train.txt") == Format::Libsvm);
  CHECK(parse_format("fasttext") == Format::Fasttext);

  testdata::TempDir dir;
  const std::string text = "__label__a one two\n__label__b three\n";
  const std::string path = dir.file("x.ft.gz");
  gzFile gz = gzopen(path.c_str(), "wb");
  REQUIRE(gz != nullptr);
  REQUIRE(gzwrite(gz, text.data(), static_cast<unsigned>(text.size())) ==
          static_cast<int>(text.size()));
  REQUIRE(gzclose(gz) == Z_OK);
  LoadOptions options;
  options.hashing.bits = 10;
  const Dataset d = load_dataset(path, options);
  CHECK(d.rows() == 2);
  CHECK(names_of(d) == std::vector<std::string>{"a", "b"});
  testdata::write_bytes(dir.file("x.fasttext"), text);
  CHECK(load_dataset(dir.file("x.fasttext"), options).rows() == 2);
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST_CASE("fasttext error: a line without a label or with two", "[fasttext][errors]") {
  check_line_error("__label__a x\n__label__b y\nno label here\n", 3,
                   "no label: a line needs one __label__NAME token (it starts with 'no')");
  check_line_error("__label__a x\n__label__b y __label__c\n", 2,
                   "a second label '__label__c' after '__label__b'");
  const std::string long_word(100, 'w');
  const DataError e = data_error_of([&] { parse("__label__a x\n" + long_word + "\n"); });
  CHECK(e.position() == 2);
  CHECK_THAT(e.reason(), Catch::Contains("'" + std::string(40, 'w') + "...'"));
}

TEST_CASE("fasttext error: empty or overlong label names", "[fasttext][errors]") {
  check_line_error("__label__a x\n__label__ y\n", 2, "empty label name '__label__'");
  check_line_error("__label__a x\n__label__" + std::string(1025, 'n') + " y\n", 2,
                   "is longer than 1024 bytes");
}

TEST_CASE("fasttext error: a test label the training data lacks", "[fasttext][errors]") {
  LoadOptions options;
  options.label_names = {"ham", "spam"};
  check_line_error("__label__ham a\n__label__spam b\n\n__label__eggs c\n", 4,
                   "label 'eggs' is not among the 2 labels of the model/training data", options);
}

TEST_CASE("fasttext error: files that cannot make a data set", "[fasttext][errors]") {
  const auto file_error = [](const std::string& text, const LoadOptions& options) {
    const DataError e = data_error_of([&] { parse_fasttext(text, "t.ft", options); });
    CHECK(e.where() == Where::File);
    return e.reason();
  };
  CHECK_THAT(file_error("", {}), Catch::Contains("empty file"));
  CHECK_THAT(file_error("\n  \n\r\n", {}), Catch::Contains("empty file"));
  CHECK_THAT(file_error("__label__a x\n__label__a y\n", {}),
             Catch::Contains("a single label, 'a'"));
  LoadOptions model;
  model.features = 1000;
  CHECK_THAT(file_error("__label__a x\n", model), Catch::Contains("hash bits 20 give 1048576"));
  LoadOptions numeric;
  numeric.classes = 3;
  CHECK_THAT(file_error("__label__a x\n", numeric), Catch::Contains("labels are names"));

  LoadOptions bad;
  bad.hashing.bits = 31;
  CHECK_THROWS_AS(parse_fasttext("__label__a x\n", "t.ft", bad), ConfigError);
  bad.hashing = {20, 0};
  CHECK_THROWS_AS(parse_fasttext("__label__a x\n", "t.ft", bad), ConfigError);
  bad.hashing = {};
  bad.label_names = {"a", "a"};
  CHECK_THROWS_WITH(parse_fasttext("__label__a x\n", "t.ft", bad), Catch::Contains("repeats"));
}

// ---------------------------------------------------------------------------------------------
// Large inputs: parsed in parallel chunks

namespace {

struct GeneratedText {
  std::string text;
  std::vector<std::vector<std::string>> words;
  std::vector<std::string> labels;
};

/// `rows` lines of a few words each. The last line's label sorts before every other one, so
/// the ids of all earlier chunks depend on a label only the last chunk has seen.
GeneratedText generate_text(std::size_t rows) {
  testdata::Lcg rng(7);
  const std::vector<std::string> names = {"sports", "news", "arts", "tech", "food"};
  GeneratedText g;
  for (std::size_t r = 0; r < rows; ++r) {
    g.labels.push_back(r + 1 == rows ? "aaa" : names[rng.next(5)]);
    std::vector<std::string> words;
    // Built with append, not operator+, which trips a false -Wrestrict in GCC 12 (bug 105329).
    for (std::uint32_t n = 2 + rng.next(5); n > 0; --n) {
      words.push_back(std::string("w").append(std::to_string(rng.next(5000))));
    }
    g.text.append("__label__").append(g.labels.back());
    for (const std::string& w : words) g.text.append(" ").append(w);
    g.text += '\n';
    g.words.push_back(std::move(words));
  }
  return g;
}

/// The text with its 1-based line `line` replaced.
std::string with_line(const std::string& text, std::size_t line, const std::string& content) {
  std::size_t begin = 0;
  for (std::size_t l = 1; l < line; ++l) begin = text.find('\n', begin) + 1;
  const std::size_t end = text.find('\n', begin);
  return text.substr(0, begin) + content + text.substr(end);
}

}  // namespace

TEST_CASE("fasttext: a large input parses exactly, on one thread or many", "[fasttext][parallel]") {
  const GeneratedText g = generate_text(300000);
  REQUIRE(g.text.size() > (std::size_t{6} << 20));  // several 2 MiB chunks
  LoadOptions options;
  options.hashing = {18, 2};
  const Dataset parallel = parse_fasttext(g.text, "big.ft", options);
  REQUIRE(parallel.rows() == g.labels.size());
  const std::vector<std::string> names = {"aaa", "arts", "food", "news", "sports", "tech"};
  CHECK(names_of(parallel) == names);
  std::size_t first_wrong = 0;  // the first row that differs from the generated one
  while (first_wrong < parallel.rows()) {
    const auto id = static_cast<std::uint32_t>(
        std::find(names.begin(), names.end(), g.labels[first_wrong]) - names.begin());
    if (parallel.label(first_wrong) != id ||
        row_of(parallel, first_wrong) != expected_row(g.words[first_wrong], 18, 2)) {
      break;
    }
    ++first_wrong;
  }
  CHECK(first_wrong == parallel.rows());

  const tbb::global_control one_thread(tbb::global_control::max_allowed_parallelism, 1);
  const Dataset serial = parse_fasttext(g.text, "big.ft", options);
  CHECK(labels_of(serial) == labels_of(parallel));
  CHECK(names_of(serial) == names);
  CHECK(serial.stored_values() == parallel.stored_values());
  CHECK(std::equal(serial.sparse_row(0).index, serial.sparse_row(0).index + serial.stored_values(),
                   parallel.sparse_row(0).index));
}

TEST_CASE("fasttext: errors deep in a large input name the first bad line",
          "[fasttext][parallel][errors]") {
  const GeneratedText g = generate_text(300000);
  std::string text = with_line(g.text, 280001, "__label__a w1 __label__b");
  check_line_error(text, 280001, "a second label");
  text = with_line(text, 150007, "w1 w2");
  check_line_error(text, 150007, "no label");
  text = with_line(text, 20011, "__label__ w1");
  check_line_error(text, 20011, "empty label name");

  LoadOptions training;
  training.label_names = {"aaa", "arts", "food", "news", "sports", "tech"};
  check_line_error(with_line(g.text, 250003, "__label__music w1"), 250003,
                   "label 'music' is not among the 6 labels", training);
}

// ---------------------------------------------------------------------------------------------
// The model file: input spec and label names

namespace {

Model text_model() {
  Model m{ModelSpec::parse("softmax"), 16, 3, 0.0f, {}};
  m.params.resize(m.objective().num_params());
  m.objective().init_params(m.params.data(), 3);
  m.text_hashing = TextHashing{4, 2};
  m.label_names = {"neg", "mid", "pos"};
  return m;
}

// Offsets in text_model()'s file: magic 8, version 4, spec length 4, "softmax" 7, features 8,
// classes 4, l2 4; then the input kind, hash bits, n-grams, the name count, the first name's
// length and bytes.
constexpr std::size_t kInputKindOffset = 39;
constexpr std::size_t kHashBitsOffset = 43;
constexpr std::size_t kNameCountOffset = 51;
constexpr std::size_t kFirstNameLengthOffset = 55;

std::string with_u32(std::string bytes, std::size_t offset, std::uint32_t value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
  return testdata::with_valid_crc(std::move(bytes));
}

template <class T>
void append(std::string& bytes, const T& value) {
  bytes.append(reinterpret_cast<const char*>(&value), sizeof value);
}

/// A model file as version 1 wrote it: no input kind, no hashing, no names.
std::string version1_file(const Model& m) {
  std::string bytes = "DUDEMODL";
  append(bytes, std::uint32_t{1});
  const std::string spec = m.spec.to_string();
  append(bytes, static_cast<std::uint32_t>(spec.size()));
  bytes += spec;
  append(bytes, static_cast<std::uint64_t>(m.features));
  append(bytes, m.classes);
  append(bytes, m.l2);
  append(bytes, static_cast<std::uint64_t>(m.params.size()));
  bytes.append(reinterpret_cast<const char*>(m.params.data()), m.params.size() * sizeof(float));
  append(bytes, std::uint32_t{0});  // the checksum's place
  return testdata::with_valid_crc(std::move(bytes));
}

}  // namespace

TEST_CASE("model file: the text input spec and label names round trip", "[fasttext][model]") {
  testdata::TempDir dir;
  const Model m = text_model();
  save_model(dir.file("m.dude"), m);
  const Model back = load_model(dir.file("m.dude"));
  REQUIRE(back.text_hashing.has_value());
  CHECK(*back.text_hashing == TextHashing{4, 2});
  CHECK(back.label_names == m.label_names);
  CHECK(back.params == m.params);

  Model numeric = text_model();
  numeric.text_hashing.reset();
  numeric.label_names.clear();
  save_model(dir.file("n.dude"), numeric);
  const Model plain = load_model(dir.file("n.dude"));
  CHECK_FALSE(plain.text_hashing.has_value());
  CHECK(plain.label_names.empty());
}

TEST_CASE("model file: version 1 files still load", "[fasttext][model]") {
  testdata::TempDir dir;
  Model m = text_model();
  m.text_hashing.reset();
  m.label_names.clear();
  testdata::write_bytes(dir.file("v1.dude"), version1_file(m));
  const Model back = load_model(dir.file("v1.dude"));
  CHECK(back.spec == m.spec);
  CHECK(back.features == 16);
  CHECK(back.classes == 3);
  CHECK(back.params == m.params);
  CHECK_FALSE(back.text_hashing.has_value());
  CHECK(back.label_names.empty());
}

TEST_CASE("model file: crafted input specs and names are refused", "[fasttext][model][errors]") {
  testdata::TempDir dir;
  const std::string path = dir.file("m.dude");
  save_model(path, text_model());
  const std::string good = testdata::read_bytes(path);
  const auto refused = [&](const std::string& bytes, const std::string& phrase) {
    testdata::write_bytes(path, bytes);
    CHECK_THROWS_AS(load_model(path), ModelFileError);
    CHECK_THROWS_WITH(load_model(path), Catch::Contains(phrase));
  };
  refused(with_u32(good, kNameCountOffset, 0xFFFFFFFFu), "4294967295 label names for 3 classes");
  refused(with_u32(good, kNameCountOffset, 65536), "label names for 3 classes");
  refused(with_u32(good, kNameCountOffset, 2), "2 label names for 3 classes");
  refused(with_u32(good, kFirstNameLengthOffset, 0xFFFFFFF0u), "implausible length");
  refused(with_u32(good, kFirstNameLengthOffset, 0), "implausible length");
  refused(with_u32(good, kFirstNameLengthOffset, 1000), "implausible length");  // past the end
  refused(with_u32(good, kInputKindOffset, 7), "unknown input kind 7");
  refused(with_u32(good, kHashBitsOffset, 31), "hash bits");
  refused(with_u32(good, kHashBitsOffset, 5), "hash bits 5 give 32 features, the model has 16");
  std::string repeated = good;
  repeated.replace(kFirstNameLengthOffset + 4, 3, "mid");  // "neg" -> "mid", named twice
  refused(testdata::with_valid_crc(repeated), "repeats");
  refused(good.substr(0, kFirstNameLengthOffset + 2), "checksum mismatch");
}

TEST_CASE("model file: saving refuses names or hashing that do not fit", "[fasttext][model]") {
  testdata::TempDir dir;
  Model m = text_model();
  m.label_names.pop_back();
  CHECK_THROWS_WITH(save_model(dir.file("m.dude"), m), Catch::Contains("2 label names"));
  m = text_model();
  m.label_names[1] = "two words";
  CHECK_THROWS_AS(save_model(dir.file("m.dude"), m), ModelFileError);
  m = text_model();
  m.text_hashing->bits = 5;
  CHECK_THROWS_AS(save_model(dir.file("m.dude"), m), ModelFileError);
  CHECK(std::filesystem::is_empty(dir.path()));
}

// ---------------------------------------------------------------------------------------------
// LIBSVM out

namespace {

void check_round_trip(const Dataset& d, const std::string& path) {
  write_libsvm(path, d);
  LoadOptions fit;
  fit.features = d.features();
  fit.classes = d.classes();
  const Dataset back = load_dataset(path, fit);
  REQUIRE(back.rows() == d.rows());
  CHECK(back.features() == d.features());
  CHECK(labels_of(back) == labels_of(d));
  for (std::size_t r = 0; r < d.rows(); ++r) {
    std::map<std::uint32_t, float> expected;
    if (d.is_sparse()) {
      expected = row_of(d, r);
    } else {
      for (std::uint32_t j = 0; j < d.features(); ++j) {
        if (d.dense_row(r)[j] != 0.0f) expected[j] = d.dense_row(r)[j];
      }
    }
    if (row_of(back, r) != expected) FAIL("row " << r << " differs");
  }
}

}  // namespace

TEST_CASE("write_libsvm: what it writes parses back to the same data", "[fasttext][libsvm]") {
  testdata::TempDir dir;
  check_round_trip(testdata::random_sparse(300, 50, 4, 6, 11), dir.file("sparse.svm"));
  check_round_trip(testdata::random_dense(40, 7, 3, 12), dir.file("dense.svm"));
  const Dataset text = parse("__label__b x y x\n__label__a\n__label__c z\n", 12, 2);
  check_round_trip(text, dir.file("text.svm"));
  CHECK(testdata::read_bytes(dir.file("text.svm")).starts_with("1 "));
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 3);
  CHECK_THROWS_AS(write_libsvm(dir.file("missing/x.svm"), text), Error);
}

TEST_CASE("dataset: label names are checked, one per class", "[fasttext]") {
  const Dataset d = testdata::random_dense(4, 2, 3, 1);
  CHECK(d.with_label_names({"a", "b", "c"}).label_names().size() == 3);
  CHECK(d.label_names().empty());
  CHECK_THROWS_AS(d.with_label_names({"a", "b"}), ConfigError);
  CHECK_THROWS_AS(d.with_label_names({"a", "b", "a"}), ConfigError);
  CHECK_THROWS_AS(d.with_label_names({"a", "", "c"}), ConfigError);
  CHECK_THROWS_AS(d.with_label_names({"a", "b\tc", "d"}), ConfigError);
  CHECK_THROWS_AS(d.with_label_names({"a", "b", "c"}).widened(2, 4), ConfigError);
}
