// Data partitions over workers (iid, label:K, dirichlet:ALPHA, group:FILE) and per-worker
// slowdowns.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <set>
#include <string>

#include "dude/dataset.hpp"
#include "dude/errors.hpp"
#include "dude/partition.hpp"
#include "temp_dir.hpp"

using namespace dude;

namespace {

/// A one-feature data set with the given labels.
Dataset with_labels(std::vector<std::uint32_t> labels, std::uint32_t classes) {
  std::vector<float> x(labels.size(), 0.0f);
  return Dataset::dense(1, classes, std::move(x), std::move(labels));
}

/// `per_class` rows of each of `classes` classes, interleaved: row i has label i % classes.
Dataset balanced(std::size_t per_class, std::uint32_t classes) {
  std::vector<std::uint32_t> labels(per_class * classes);
  for (std::size_t i = 0; i < labels.size(); ++i)
    labels[i] = static_cast<std::uint32_t>(i % classes);
  return with_labels(std::move(labels), classes);
}

using Shards = std::vector<std::vector<std::uint32_t>>;

Shards split(const Dataset& d, std::size_t workers, std::string_view spec, std::uint64_t seed = 7) {
  const std::vector<std::uint32_t> rows = all_rows(d.rows());
  return partition_rows(d, rows, workers, PartitionSpec::parse(spec), seed);
}

/// Every shard ascending, and together they hold `rows` exactly once each.
void check_exact_cover(const Shards& shards, std::vector<std::uint32_t> rows) {
  std::vector<std::uint32_t> all;
  for (const auto& s : shards) {
    CHECK(std::is_sorted(s.begin(), s.end()));
    all.insert(all.end(), s.begin(), s.end());
  }
  std::sort(all.begin(), all.end());
  std::sort(rows.begin(), rows.end());
  CHECK(all == rows);  // same multiset: covered, and no row twice
}

/// Mean over workers of the largest class's share of the worker's shard.
double mean_max_share(const Dataset& d, const Shards& shards) {
  double total = 0;
  for (const auto& h : shard_histograms(d, shards)) {
    const std::size_t n = std::accumulate(h.begin(), h.end(), std::size_t{0});
    total += static_cast<double>(*std::max_element(h.begin(), h.end())) / static_cast<double>(n);
  }
  return total / static_cast<double>(shards.size());
}

std::string config_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}

std::string data_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no DataError)";
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

/// Group names for the rows of a data set: `counts` rows of each group, dealt round-robin in
/// the order given (so that each group's rows are scattered over the file).
std::vector<std::string> interleaved(
    const std::vector<std::pair<std::string, std::size_t>>& counts) {
  std::vector<std::string> names;
  for (std::size_t round = 0;; ++round) {
    const std::size_t before = names.size();
    for (const auto& [name, count] : counts) {
      if (round < count) names.push_back(name);
    }
    if (names.size() == before) return names;
  }
}

/// A group file with one line per name, and a data set with as many rows.
struct GroupedData {
  testdata::TempDir dir;
  std::vector<std::string> names;  // the group of each row
  std::string file;
  Dataset data;

  explicit GroupedData(std::vector<std::string> row_groups)
      : names(std::move(row_groups)),
        file(dir.file("groups.txt")),
        data(with_labels(std::vector<std::uint32_t>(names.size(), 0), 2)) {
    std::string text;
    for (const std::string& name : names) text += name + "\n";
    write_text(file, text);
  }

  PartitionSpec spec() const { return PartitionSpec::parse("group:" + file); }

  /// The rows among `rows` whose group is one of `groups`, ascending.
  std::vector<std::uint32_t> rows_of(const std::set<std::string>& groups,
                                     std::vector<std::uint32_t> rows) const {
    std::sort(rows.begin(), rows.end());
    std::vector<std::uint32_t> out;
    for (const std::uint32_t r : rows) {
      if (groups.count(names[r]) == 1) out.push_back(r);
    }
    return out;
  }

  /// Every group's rows among `rows` lie in a single shard.
  void check_whole_groups(const Shards& shards) const {
    std::map<std::string, std::set<std::size_t>> holders;
    for (std::size_t w = 0; w < shards.size(); ++w) {
      for (const std::uint32_t r : shards[w]) holders[names[r]].insert(w);
    }
    for (const auto& [name, workers] : holders) {
      INFO("group " << name);
      CHECK(workers.size() == 1);
    }
  }
};

/// The example of the dealing tests: 22 rows in six groups of 6, 5, 4, 4, 2 and 1 rows,
/// first appearing in an order that is neither by size nor by name.
std::vector<std::string> six_groups() {
  return interleaved(
      {{"religion", 1}, {"lore", 4}, {"humor", 2}, {"press", 6}, {"learned", 4}, {"fiction", 5}});
}

}  // namespace

TEST_CASE("partition specs parse, print and reject bad text", "[partition]") {
  CHECK(PartitionSpec::parse("iid").kind == PartitionSpec::Kind::Iid);
  const auto label = PartitionSpec::parse("label:3");
  CHECK(label.kind == PartitionSpec::Kind::Label);
  CHECK(label.classes_per_worker == 3);
  const auto dir = PartitionSpec::parse("dirichlet:0.1");
  CHECK(dir.kind == PartitionSpec::Kind::Dirichlet);
  CHECK(dir.alpha == 0.1);
  for (const char* text :
       {"iid", "label:1", "label:12", "dirichlet:0.1", "dirichlet:1000", "dirichlet:2.5e-05"}) {
    CHECK(PartitionSpec::parse(text).to_string() == text);
  }

  for (const char* bad :
       {"label:0", "label:x", "label:", "label:-1", "label:2.5", "dirichlet:-1", "dirichlet:0",
        "dirichlet:nan", "dirichlet:inf", "dirichlet:", "dirichlet:1x", "bogus", "", "IID", "iid:3",
        "label", "group", "group:", "groups:x"}) {
    INFO(bad);
    const std::string message = config_error([&] { PartitionSpec::parse(bad); });
    CHECK(message.rfind("partition '" + std::string(bad) + "'", 0) == 0);
  }
  CHECK_THAT(config_error([] { PartitionSpec::parse("label:0"); }), Catch::Contains("K"));
  CHECK_THAT(config_error([] { PartitionSpec::parse("dirichlet:nan"); }), Catch::Contains("ALPHA"));
  CHECK_THAT(config_error([] { PartitionSpec::parse("bogus"); }),
             Catch::Contains("iid, label:K, dirichlet:ALPHA or group:FILE"));
  CHECK_THAT(config_error([] { PartitionSpec::parse("group:"); }), Catch::Contains("FILE"));
}

TEST_CASE("iid: an exact cover in nearly equal shards with a balanced class mix", "[partition]") {
  const Dataset d = balanced(1000, 10);  // 10000 rows
  const Shards shards = split(d, 4, "iid");
  REQUIRE(shards.size() == 4);
  check_exact_cover(shards, all_rows(d.rows()));
  for (const auto& h : shard_histograms(d, shards)) {
    for (const std::size_t count : h) {  // 250 expected, binomial sd about 14
      CHECK(count > 190);
      CHECK(count < 310);
    }
  }

  const Dataset odd = balanced(100, 10);  // 1000 rows over 7 workers: 143 x 6 and 142
  const Shards parts = split(odd, 7, "iid");
  check_exact_cover(parts, all_rows(odd.rows()));
  std::size_t lo = odd.rows(), hi = 0;
  for (const auto& s : parts) {
    lo = std::min(lo, s.size());
    hi = std::max(hi, s.size());
  }
  CHECK(hi - lo <= 1);
}

TEST_CASE("a partition covers a subset of rows given in any order", "[partition]") {
  const Dataset d = balanced(200, 5);
  std::vector<std::uint32_t> rows = split_rows(d.rows(), 0.3, 3).train;
  std::reverse(rows.begin(), rows.end());
  for (const char* spec : {"iid", "dirichlet:0.5", "dirichlet:50"}) {
    INFO(spec);
    const Shards shards = partition_rows(d, rows, 6, PartitionSpec::parse(spec), 11);
    check_exact_cover(shards, rows);
    std::vector<std::uint32_t> sorted = rows;
    std::sort(sorted.begin(), sorted.end());
    CHECK(partition_rows(d, sorted, 6, PartitionSpec::parse(spec), 11) == shards);
  }
}

TEST_CASE("label:1 gives each of 10 workers all the rows of one class", "[partition]") {
  const Dataset d = balanced(37, 10);
  const Shards shards = split(d, 10, "label:1");
  REQUIRE(shards.size() == 10);
  for (std::uint32_t w = 0; w < 10; ++w) {
    std::vector<std::uint32_t> expected;
    for (std::uint32_t r = 0; r < d.rows(); ++r) {
      if (d.label(r) == w) expected.push_back(r);
    }
    CHECK(shards[w] == expected);
  }
}

TEST_CASE("label:2 splits each class evenly between its two holders", "[partition]") {
  // Uneven class sizes, so that odd counts are split too.
  std::vector<std::uint32_t> labels;
  for (std::uint32_t c = 0; c < 10; ++c) {
    for (std::uint32_t i = 0; i < 50 + 7 * c; ++i) labels.push_back(c);
  }
  const Dataset d = with_labels(labels, 10);
  const Shards shards = split(d, 10, "label:2");
  check_exact_cover(shards, all_rows(d.rows()));
  const auto hist = shard_histograms(d, shards);
  const auto class_rows = d.class_histogram();
  for (std::size_t w = 0; w < 10; ++w) {
    const std::set<std::size_t> held{(2 * w) % 10, (2 * w + 1) % 10};
    for (std::size_t c = 0; c < 10; ++c) CHECK((hist[w][c] > 0) == (held.count(c) == 1));
  }
  for (std::size_t c = 0; c < 10; ++c) {
    std::vector<std::size_t> parts;
    for (std::size_t w = 0; w < 10; ++w) {
      if (hist[w][c] > 0) parts.push_back(hist[w][c]);
    }
    INFO("class " << c);
    REQUIRE(parts.size() == 2);
    CHECK(parts[0] + parts[1] == class_rows[c]);
    CHECK(std::max(parts[0], parts[1]) - std::min(parts[0], parts[1]) <= 1);
  }
}

TEST_CASE("label:K drops the classes no worker holds, and rejects K above the class count",
          "[partition]") {
  const Dataset d = balanced(20, 10);
  const Shards shards = split(d, 3, "label:2");  // workers hold {0,1}, {2,3}, {4,5}
  const auto hist = shard_histograms(d, shards);
  std::size_t kept = 0;
  for (std::size_t w = 0; w < 3; ++w) {
    for (std::size_t c = 0; c < 10; ++c) {
      CHECK(hist[w][c] == (c / 2 == w ? 20u : 0u));
      kept += hist[w][c];
    }
  }
  CHECK(kept == 120);
  CHECK_THAT(config_error([&] { split(d, 3, "label:11"); }),
             Catch::StartsWith("partition 'label:11'") && Catch::Contains("10 classes"));
  CHECK_NOTHROW(split(d, 3, "label:10"));
}

TEST_CASE("dirichlet: an exact cover, skewed for small alpha, near-uniform for large",
          "[partition]") {
  const Dataset d = balanced(1000, 10);
  const Shards skewed = split(d, 10, "dirichlet:0.1");
  check_exact_cover(skewed, all_rows(d.rows()));
  // Over seeds this is 0.60 on average with a spread of 0.05 (and 0.27 for alpha 1, 0.105 for
  // alpha 1000, where a uniform split gives 0.1 plus rounding).
  CHECK(mean_max_share(d, skewed) > 0.45);

  const Shards flat = split(d, 10, "dirichlet:1000");
  check_exact_cover(flat, all_rows(d.rows()));
  CHECK(mean_max_share(d, flat) < 0.2);
  for (const auto& s : flat) {  // about 1000 rows each
    CHECK(s.size() > 850);
    CHECK(s.size() < 1150);
  }
}

TEST_CASE("a partition that would leave a worker empty is an error", "[partition]") {
  const Dataset d = balanced(2, 3);  // 6 rows
  CHECK_THAT(config_error([&] { split(d, 7, "iid"); }),
             Catch::StartsWith("partition 'iid'") && Catch::Contains("7 workers"));
  CHECK_NOTHROW(split(d, 6, "iid"));
  // label:1 over 6 workers: classes 0..2 are held by two workers each, one row apiece...
  CHECK_NOTHROW(split(d, 6, "label:1"));
  // ...but a class of one row cannot feed two workers.
  const Dataset thin = with_labels({0, 1, 1, 2, 2, 1, 1}, 3);
  CHECK_THAT(config_error([&] { split(thin, 6, "label:1"); }),
             Catch::StartsWith("partition 'label:1' leaves worker"));
  // A tiny alpha gives each class to about one worker: most of 20 workers get nothing.
  const Dataset few = balanced(10, 2);
  CHECK_THAT(config_error([&] { split(few, 20, "dirichlet:0.001"); }),
             Catch::StartsWith("partition 'dirichlet:0.001' leaves worker") &&
                 Catch::Contains("larger alpha"));
  CHECK_THAT(config_error([&] { split(few, 0, "iid"); }), Catch::Contains("workers"));
  const std::vector<std::uint32_t> outside{0, 20};
  CHECK_THAT(config_error([&] { partition_rows(few, outside, 1, PartitionSpec{}, 1); }),
             Catch::Contains("row id 20"));
}

TEST_CASE("partitions are reproducible from the seed", "[partition]") {
  const Dataset d = balanced(50, 10);
  // label:1 over 20 workers: two holders per class, so the cut depends on the seed.
  for (const char* spec : {"iid", "label:1", "label:3", "dirichlet:0.5"}) {
    INFO(spec);
    CHECK(split(d, 20, spec, 42) == split(d, 20, spec, 42));
    CHECK(split(d, 20, spec, 42) != split(d, 20, spec, 43));
  }
  // label:1 with one holder per class gives each worker its whole class, whatever the seed.
  CHECK(split(d, 10, "label:1", 42) == split(d, 10, "label:1", 43));
}

TEST_CASE("slowdown factors repeat over the workers", "[partition]") {
  CHECK(parse_slowdown("1,4", 5) == std::vector<double>{1, 4, 1, 4, 1});
  CHECK(parse_slowdown("2", 3) == std::vector<double>{2, 2, 2});
  CHECK(parse_slowdown("1, 1.5 ,3", 2) == std::vector<double>{1, 1.5});
  CHECK(parse_slowdown("1,4", 0).empty());
  for (const char* bad : {"0.5", "", "1,,2", "a", "1,", ",1", "1,inf", "nan", "1;4", " "}) {
    INFO(bad);
    CHECK_THAT(config_error([&] { parse_slowdown(bad, 4); }),
               Catch::StartsWith("slowdown '" + std::string(bad) + "'"));
  }
  CHECK_THAT(config_error([] { parse_slowdown("1,,2", 4); }), Catch::Contains("factor 2 is empty"));
  CHECK_THAT(config_error([] { parse_slowdown("1,0.5", 4); }), Catch::Contains(">= 1"));
}

TEST_CASE("group:FILE reads one group per line and names the line of a bad one", "[partition]") {
  testdata::TempDir dir;
  const std::string file = dir.file("genres.txt");
  // Blanks at either end and a carriage return are not part of a name; inner blanks are. The
  // last line has no newline.
  write_text(file, "press\n  fiction\t\r\nbelles lettres\npress\r\nfiction");
  const PartitionSpec spec = PartitionSpec::parse("group:" + file);
  CHECK(spec.kind == PartitionSpec::Kind::Group);
  REQUIRE(spec.groups);
  CHECK(spec.groups->file == file);
  CHECK(spec.groups->names == std::vector<std::string>{"press", "fiction", "belles lettres"});
  CHECK(spec.groups->group == std::vector<std::uint32_t>{0, 1, 2, 0, 1});

  // to_string reads back into the same spec; copies share the groups.
  CHECK(spec.to_string() == "group:" + file);
  const PartitionSpec again = PartitionSpec::parse(spec.to_string());
  CHECK(again.groups->names == spec.groups->names);
  CHECK(again.groups->group == spec.groups->group);
  const PartitionSpec copy = spec;
  CHECK(copy.groups == spec.groups);

  const auto error_of = [&](const std::string& text) {
    write_text(file, text);
    return data_error([&] { PartitionSpec::parse("group:" + file); });
  };
  CHECK_THAT(error_of("press\nfiction\n\nlore\n"), Catch::StartsWith(file + ":3: empty line"));
  CHECK_THAT(error_of("press\n \t\r\n"), Catch::StartsWith(file + ":2: empty line"));
  CHECK_THAT(error_of("press\nlore\n\n"), Catch::StartsWith(file + ":3: empty line"));
  CHECK_THAT(error_of("\npress\n"), Catch::StartsWith(file + ":1: empty line"));
  CHECK_THAT(error_of(""), Catch::StartsWith(file + ": empty file"));
  const std::string missing = dir.file("missing.txt");
  CHECK_THAT(data_error([&] { PartitionSpec::parse("group:" + missing); }),
             Catch::StartsWith(missing + ": cannot open"));
}

TEST_CASE("group:FILE needs exactly one line per row of the data file", "[partition]") {
  GroupedData g(six_groups());  // 22 lines
  const PartitionSpec spec = g.spec();
  for (const std::size_t rows : {21u, 23u}) {
    const Dataset other = with_labels(std::vector<std::uint32_t>(rows, 0), 2);
    CHECK_THAT(config_error([&] { partition_rows(other, all_rows(rows), 2, spec, 1); }),
               Catch::StartsWith("partition 'group:" + g.file + "'") &&
                   Catch::Contains(g.file + " has 22 lines") &&
                   Catch::Contains(std::to_string(rows) + " rows"));
  }
  CHECK_THAT(config_error([&] {
               PartitionSpec spec_without_groups;
               spec_without_groups.kind = PartitionSpec::Kind::Group;
               partition_rows(g.data, all_rows(g.data.rows()), 2, spec_without_groups, 1);
             }),
             Catch::Contains("no groups"));
}

TEST_CASE("group:FILE deals whole groups, largest first, each to the lightest worker",
          "[partition]") {
  GroupedData g(six_groups());
  const std::vector<std::uint32_t> rows = all_rows(g.data.rows());
  const auto deal = [&](std::size_t workers, std::uint64_t seed) {
    return partition_rows(g.data, rows, workers, g.spec(), seed);
  };
  // 3 workers, groups by size: press 6 -> w0, fiction 5 -> w1, learned 4 -> w2 (before lore
  // by name), lore 4 -> w2 (4 rows, the fewest), humor 2 -> w1 (5), religion 1 -> w0 (6).
  const Shards three = deal(3, 1);
  REQUIRE(three.size() == 3);
  CHECK(three[0] == g.rows_of({"press", "religion"}, rows));
  CHECK(three[1] == g.rows_of({"fiction", "humor"}, rows));
  CHECK(three[2] == g.rows_of({"learned", "lore"}, rows));
  check_exact_cover(three, rows);
  // 4 workers: the tie of learned and lore goes by name (learned to w2, lore to w3), and the
  // tie of w2 and w3 (4 rows each) over humor goes to the lower id.
  const Shards four = deal(4, 1);
  REQUIRE(four.size() == 4);
  CHECK(four[0] == g.rows_of({"press"}, rows));
  CHECK(four[1] == g.rows_of({"fiction"}, rows));
  CHECK(four[2] == g.rows_of({"learned", "humor"}, rows));
  CHECK(four[3] == g.rows_of({"lore", "religion"}, rows));
  // One group per worker when there are as many workers as groups.
  const Shards six = deal(6, 1);
  g.check_whole_groups(six);
  for (const auto& shard : six) CHECK(g.rows_of({g.names[shard.front()]}, rows) == shard);
  // The seed changes nothing.
  for (const std::uint64_t seed : {0u, 2u, 99u}) {
    CHECK(deal(3, seed) == three);
    CHECK(deal(4, seed) == four);
  }
}

TEST_CASE("group:FILE never splits a group and never gives a row twice", "[partition]") {
  // 40 groups of 1 to 40 rows, scattered over the file.
  std::vector<std::pair<std::string, std::size_t>> counts;
  for (std::size_t i = 0; i < 40; ++i) {
    // append, not "g" + ...: that trips a false -Wrestrict in GCC 12 (GCC bug 105329).
    counts.emplace_back(std::string("g").append(std::to_string(i)), (i * 17) % 40 + 1);
  }
  GroupedData g(interleaved(counts));
  for (const std::size_t workers : {1u, 2u, 7u, 16u, 40u}) {
    INFO(workers << " workers");
    const Shards shards = partition_rows(g.data, all_rows(g.data.rows()), workers, g.spec(), 3);
    REQUIRE(shards.size() == workers);
    check_exact_cover(shards, all_rows(g.data.rows()));
    g.check_whole_groups(shards);
    for (const auto& shard : shards) CHECK(!shard.empty());
  }
}

TEST_CASE("group:FILE on a holdout subset deals the given rows only", "[partition]") {
  GroupedData g(six_groups());
  // All rows but five of press's six: fiction 5, learned 4, lore 4, humor 2, press 1,
  // religion 1 over 3 workers: fiction -> w0, learned -> w1, lore -> w2, humor -> w1 (the
  // lower of the two with 4), press -> w2 (5; before religion by name), religion -> w0 (the
  // lower of the two with 5).
  std::vector<std::uint32_t> rows;
  std::size_t press_kept = 0;
  for (std::uint32_t r = 0; r < g.data.rows(); ++r) {
    if (g.names[r] == "press" && press_kept++ > 0) continue;
    rows.push_back(r);
  }
  REQUIRE(rows.size() == 17);
  std::reverse(rows.begin(), rows.end());  // the order they come in does not matter
  const Shards shards = partition_rows(g.data, rows, 3, g.spec(), 5);
  CHECK(shards[0] == g.rows_of({"fiction", "religion"}, rows));
  CHECK(shards[1] == g.rows_of({"learned", "humor"}, rows));
  CHECK(shards[2] == g.rows_of({"lore", "press"}, rows));
  check_exact_cover(shards, rows);

  // A seeded holdout split, as the trainer makes it: an exact cover by whole groups.
  const std::vector<std::uint32_t> train = split_rows(g.data.rows(), 0.3, 3).train;
  const Shards split_shards = partition_rows(g.data, train, 4, g.spec(), 5);
  check_exact_cover(split_shards, train);
  g.check_whole_groups(split_shards);
}

TEST_CASE("group:FILE with fewer groups than workers is an error", "[partition]") {
  GroupedData g(six_groups());
  CHECK_THAT(config_error([&] { partition_rows(g.data, all_rows(g.data.rows()), 7, g.spec(), 1); }),
             Catch::StartsWith("partition 'group:" + g.file + "'") &&
                 Catch::Contains("6 groups, fewer than the 7 workers"));
  // A group with no row among those given does not count.
  std::vector<std::uint32_t> rows;
  for (std::uint32_t r = 0; r < g.data.rows(); ++r) {
    if (g.names[r] != "religion") rows.push_back(r);
  }
  CHECK_THAT(config_error([&] { partition_rows(g.data, rows, 6, g.spec(), 1); }),
             Catch::Contains("21 rows fall in 5 groups, fewer than the 6 workers"));
  CHECK_NOTHROW(partition_rows(g.data, rows, 5, g.spec(), 1));
}
