#include "dude/partition.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "common/parse_text.hpp"
#include "common/rng.hpp"
#include "data/text_parse.hpp"
#include "dude/errors.hpp"
#include "dude/io.hpp"

namespace dude {
namespace {

// One random stream per kind, so that the kinds never share draws.
constexpr std::uint64_t kIidStream = 0x9a27'0001;
constexpr std::uint64_t kLabelStream = 0x9a27'0002;
constexpr std::uint64_t kDirichletStream = 0x9a27'0003;

constexpr const char* kExpected = "expected iid, label:K, dirichlet:ALPHA or group:FILE";

[[noreturn]] void bad_spec(std::string_view text, const std::string& why) {
  throw ConfigError("partition '" + std::string(text) + "': " + why);
}

std::string format_double(double v) {
  char buf[64];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, ptr) : std::to_string(v);
}

/// Gamma(shape, 1) for shape >= 1: Marsaglia and Tsang (2000), squeeze test first.
double gamma_at_least_one(detail::Rng& rng, double shape) {
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x = 0, v = 0;
    do {
      x = rng.normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = rng.uniform();
    const double x2 = x * x;
    if (u < 1.0 - 0.0331 * x2 * x2) return d * v;
    if (std::log(u) < 0.5 * x2 + d * (1.0 - v + std::log(v))) return d * v;
  }
}

/// Proportions over n parts drawn from a symmetric Dirichlet(alpha): normalised Gamma(alpha)
/// draws. For alpha < 1 a Gamma(alpha) draw is Gamma(alpha + 1) * U^(1/alpha); that power
/// underflows to 0 for small alpha, so the draws are kept as alpha * log(draw) and only the
/// ratios to the largest are exponentiated, which never turns every part into 0.
std::vector<double> dirichlet_proportions(detail::Rng& rng, std::size_t n, double alpha) {
  const bool boost = alpha < 1.0;
  std::vector<double> t(n);
  for (double& ti : t) {
    const double g = gamma_at_least_one(rng, boost ? alpha + 1.0 : alpha);
    // Scaled log of the Gamma(alpha) draw: alpha * log(g * U^(1/alpha)), or log(g).
    ti = boost ? alpha * std::log(g) + std::log(1.0 - rng.uniform()) : std::log(g);
  }
  const double top = *std::max_element(t.begin(), t.end());
  double sum = 0;
  for (double& ti : t) {
    ti = std::exp(boost ? (ti - top) / alpha : ti - top);  // the largest part is exactly 1
    sum += ti;
  }
  for (double& ti : t) ti /= sum;
  return t;
}

/// Part sizes for `n` items in the given proportions, adding up to n exactly: the cumulative
/// proportions are rounded to the nearest item boundary.
std::vector<std::size_t> sizes_for(const std::vector<double>& proportions, std::size_t n) {
  std::vector<std::size_t> sizes(proportions.size());
  double cumulative = 0;
  std::size_t previous = 0;
  for (std::size_t w = 0; w < proportions.size(); ++w) {
    cumulative += proportions[w];
    std::size_t boundary = n;
    if (w + 1 < proportions.size()) {
      const auto rounded =
          static_cast<std::size_t>(std::llround(cumulative * static_cast<double>(n)));
      boundary = std::clamp(rounded, previous, n);
    }
    sizes[w] = boundary - previous;
    previous = boundary;
  }
  return sizes;
}

/// Appends `items` to the shards of `owners`, cut into nearly equal contiguous parts, the
/// larger ones first (numpy's array_split).
void deal_evenly(std::span<const std::uint32_t> items, const std::vector<std::size_t>& owners,
                 std::vector<std::vector<std::uint32_t>>& shards) {
  const std::size_t base = items.size() / owners.size();
  const std::size_t extra = items.size() % owners.size();
  std::size_t at = 0;
  for (std::size_t i = 0; i < owners.size(); ++i) {
    const std::size_t take = base + (i < extra ? 1 : 0);
    auto& shard = shards[owners[i]];
    shard.insert(shard.end(), items.begin() + static_cast<std::ptrdiff_t>(at),
                 items.begin() + static_cast<std::ptrdiff_t>(at + take));
    at += take;
  }
}

void check_rows(const Dataset& data, std::span<const std::uint32_t> rows, const char* who) {
  for (const std::uint32_t r : rows) {
    if (r >= data.rows()) {
      throw ConfigError(std::string(who) + ": row id " + std::to_string(r) + " is outside the " +
                        std::to_string(data.rows()) + " rows of the data");
    }
  }
}

/// The groups of group:FILE: one name per line, ids in order of first appearance. Checks
/// every line, so that a malformed file fails here, naming its line, and not in the middle of
/// a run.
std::shared_ptr<const RowGroups> read_row_groups(const std::string& path) {
  const std::string text = read_file(path);
  auto groups = std::make_shared<RowGroups>();
  groups->file = path;
  std::unordered_map<std::string_view, std::uint32_t> ids;
  std::size_t at = detail::text_start(text);
  if (at == text.size()) throw DataError(path, "empty file: expected one group name per row");
  std::uint64_t line = 0;
  while (at < text.size()) {
    ++line;
    const std::size_t newline = std::min(text.find('\n', at), text.size());
    std::string_view name(text.data() + at, newline - at);
    if (name.ends_with('\r')) name.remove_suffix(1);
    name = detail::trim_blanks(name);
    if (name.empty()) {
      throw DataError(path, DataError::Where::Line, line,
                      "empty line: expected a group name (one line per row of the data)");
    }
    const auto [it, added] = ids.try_emplace(name, static_cast<std::uint32_t>(ids.size()));
    if (added) groups->names.emplace_back(name);
    groups->group.push_back(it->second);
    at = newline + 1;
  }
  return groups;
}

void check_spec(const PartitionSpec& spec) {
  if (spec.kind == PartitionSpec::Kind::Label && spec.classes_per_worker == 0) {
    throw ConfigError("partition 'label:0': K must be an integer >= 1");
  }
  if (spec.kind == PartitionSpec::Kind::Dirichlet &&
      !(std::isfinite(spec.alpha) && spec.alpha > 0)) {
    throw ConfigError("partition '" + spec.to_string() + "': ALPHA must be a finite number > 0");
  }
  if (spec.kind == PartitionSpec::Kind::Group && !spec.groups) {
    throw ConfigError("partition 'group': no groups; make the spec with PartitionSpec::parse");
  }
}

}  // namespace

PartitionSpec PartitionSpec::parse(std::string_view text) {
  PartitionSpec spec;
  if (text == "iid") return spec;
  const std::size_t colon = text.find(':');
  const std::string_view name = text.substr(0, colon);
  if (colon == std::string_view::npos ||
      (name != "label" && name != "dirichlet" && name != "group")) {
    bad_spec(text, std::string("unknown partition; ") + kExpected);
  }
  const std::string_view value = text.substr(colon + 1);
  if (name == "group") {
    if (value.empty()) bad_spec(text, "FILE (one group name per row of the data) is missing");
    spec.kind = Kind::Group;
    spec.groups = read_row_groups(std::string(value));
  } else if (name == "label") {
    spec.kind = Kind::Label;
    spec.classes_per_worker = detail::parse_whole<std::uint32_t>(value).value_or(0);
    if (spec.classes_per_worker == 0) {
      bad_spec(text, "K (classes per worker) must be an integer >= 1");
    }
  } else {
    spec.kind = Kind::Dirichlet;
    spec.alpha = detail::parse_whole<double>(value).value_or(0);
    if (!(spec.alpha > 0)) {
      bad_spec(text, "ALPHA (Dirichlet concentration) must be a finite number > 0");
    }
  }
  return spec;
}

std::string PartitionSpec::to_string() const {
  switch (kind) {
    case Kind::Iid: return "iid";
    case Kind::Label: return "label:" + std::to_string(classes_per_worker);
    case Kind::Dirichlet: return "dirichlet:" + format_double(alpha);
    case Kind::Group: return "group:" + (groups ? groups->file : std::string());
  }
  return "?";
}

namespace {

/// Every check partition_rows makes before dealing: the spec, the row ids, K against the
/// classes, and at least one row per worker.
void check_partition(const Dataset& data, std::span<const std::uint32_t> rows, std::size_t workers,
                     const PartitionSpec& spec) {
  const std::string name = spec.to_string();
  if (workers == 0) throw ConfigError("partition '" + name + "': workers must be at least 1");
  check_spec(spec);
  if (spec.kind == PartitionSpec::Kind::Group && spec.groups->group.size() != data.rows()) {
    throw ConfigError("partition '" + name + "': " + spec.groups->file + " has " +
                      std::to_string(spec.groups->group.size()) + " lines but the data has " +
                      std::to_string(data.rows()) +
                      " rows; it needs one group name per row of the data file");
  }
  check_rows(data, rows, ("partition '" + name + "'").c_str());
  if (spec.kind == PartitionSpec::Kind::Label && spec.classes_per_worker > data.classes()) {
    throw ConfigError("partition '" + name + "': K = " + std::to_string(spec.classes_per_worker) +
                      " exceeds the " + std::to_string(data.classes()) + " classes of the data");
  }
  if (rows.size() < workers) {
    throw ConfigError("partition '" + name + "': " + std::to_string(rows.size()) +
                      " rows cannot give each of " + std::to_string(workers) +
                      " workers a row; use fewer workers");
  }
}

using Shards = std::vector<std::vector<std::uint32_t>>;

void deal_iid(std::vector<std::uint32_t> rows, std::uint64_t seed, Shards& shards) {
  detail::Rng rng(seed, kIidStream);
  rng.shuffle(std::span<std::uint32_t>(rows));
  std::vector<std::size_t> everyone(shards.size());
  for (std::size_t w = 0; w < shards.size(); ++w) everyone[w] = w;
  deal_evenly(rows, everyone, shards);
}

/// label:K: worker w holds classes (w*K + j) mod C; each class is dealt evenly over its
/// holders, in worker order.
void deal_by_label(std::vector<std::vector<std::uint32_t>> by_class, std::uint64_t k,
                   std::uint64_t seed, Shards& shards) {
  const std::size_t classes = by_class.size();
  std::vector<std::vector<std::size_t>> holders(classes);  // ascending worker ids
  for (std::size_t w = 0; w < shards.size(); ++w) {
    const std::uint64_t first = (static_cast<std::uint64_t>(w % classes) * k) % classes;
    for (std::uint64_t j = 0; j < k; ++j) holders[(first + j) % classes].push_back(w);
  }
  detail::Rng rng(seed, kLabelStream);
  for (std::size_t c = 0; c < classes; ++c) {
    if (holders[c].empty()) continue;  // no worker holds this class: its rows are dropped
    rng.shuffle(std::span<std::uint32_t>(by_class[c]));
    deal_evenly(by_class[c], holders[c], shards);
  }
}

/// dirichlet:ALPHA: each class is cut in proportions drawn from Dirichlet(ALPHA).
void deal_by_dirichlet(std::vector<std::vector<std::uint32_t>> by_class, double alpha,
                       std::uint64_t seed, Shards& shards) {
  detail::Rng rng(seed, kDirichletStream);
  for (auto& ids : by_class) {
    const std::vector<double> share = dirichlet_proportions(rng, shards.size(), alpha);
    rng.shuffle(std::span<std::uint32_t>(ids));
    const std::vector<std::size_t> sizes = sizes_for(share, ids.size());
    std::size_t at = 0;
    for (std::size_t w = 0; w < shards.size(); ++w) {
      shards[w].insert(shards[w].end(), ids.begin() + static_cast<std::ptrdiff_t>(at),
                       ids.begin() + static_cast<std::ptrdiff_t>(at + sizes[w]));
      at += sizes[w];
    }
  }
}

/// group:FILE: whole groups, largest first, each to the worker with the fewest rows so far.
void deal_by_group(std::span<const std::uint32_t> sorted_rows, const PartitionSpec& spec,
                   Shards& shards) {
  const RowGroups& groups = *spec.groups;
  std::vector<std::vector<std::uint32_t>> by_group(groups.names.size());  // each ascending
  for (const std::uint32_t r : sorted_rows) by_group[groups.group[r]].push_back(r);
  std::vector<std::uint32_t> order;  // the groups with rows, largest first, ties by name
  for (std::uint32_t g = 0; g < by_group.size(); ++g) {
    if (!by_group[g].empty()) order.push_back(g);
  }
  if (order.size() < shards.size()) {
    throw ConfigError(
        "partition '" + spec.to_string() + "': the " + std::to_string(sorted_rows.size()) +
        " rows fall in " + std::to_string(order.size()) + " groups, fewer than the " +
        std::to_string(shards.size()) + " workers; a group is never split, so use at most " +
        std::to_string(order.size()) + " workers");
  }
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    if (by_group[a].size() != by_group[b].size()) return by_group[a].size() > by_group[b].size();
    return groups.names[a] < groups.names[b];
  });
  for (const std::uint32_t g : order) {
    // The first of the workers with the fewest rows; a linear scan, as workers are few.
    const auto lightest =
        std::min_element(shards.begin(), shards.end(),
                         [](const auto& a, const auto& b) { return a.size() < b.size(); });
    lightest->insert(lightest->end(), by_group[g].begin(), by_group[g].end());
  }
}

/// Throws when a worker got no rows: it could not compute a gradient.
void check_no_empty_shard(const Shards& shards, const PartitionSpec& spec) {
  for (std::size_t w = 0; w < shards.size(); ++w) {
    if (!shards[w].empty()) continue;
    std::string hint;
    switch (spec.kind) {
      case PartitionSpec::Kind::Iid: hint = "use fewer workers"; break;
      case PartitionSpec::Kind::Label:
        hint = "its classes have fewer rows than workers holding them; use fewer workers";
        break;
      case PartitionSpec::Kind::Dirichlet: hint = "use a larger alpha or fewer workers"; break;
      case PartitionSpec::Kind::Group:  // not reached: deal_by_group feeds every worker
        hint = "use fewer workers";
        break;
    }
    throw ConfigError("partition '" + spec.to_string() + "' leaves worker " + std::to_string(w) +
                      " of " + std::to_string(shards.size()) + " without rows; " + hint);
  }
}

}  // namespace

std::vector<std::vector<std::uint32_t>> partition_rows(const Dataset& data,
                                                       std::span<const std::uint32_t> rows,
                                                       std::size_t workers,
                                                       const PartitionSpec& spec,
                                                       std::uint64_t seed) {
  check_partition(data, rows, workers, spec);
  // Work from the sorted rows so that the order they were given in does not matter.
  std::vector<std::uint32_t> sorted(rows.begin(), rows.end());
  std::sort(sorted.begin(), sorted.end());
  Shards shards(workers);
  if (spec.kind == PartitionSpec::Kind::Iid) {
    deal_iid(std::move(sorted), seed, shards);
  } else if (spec.kind == PartitionSpec::Kind::Group) {
    deal_by_group(sorted, spec, shards);
  } else {
    std::vector<std::vector<std::uint32_t>> by_class(data.classes());  // each ascending
    for (const std::uint32_t r : sorted) by_class[data.label(r)].push_back(r);
    if (spec.kind == PartitionSpec::Kind::Label) {
      deal_by_label(std::move(by_class), spec.classes_per_worker, seed, shards);
    } else {
      deal_by_dirichlet(std::move(by_class), spec.alpha, seed, shards);
    }
  }
  check_no_empty_shard(shards, spec);
  for (auto& shard : shards) std::sort(shard.begin(), shard.end());
  return shards;
}

std::vector<double> parse_slowdown(std::string_view text, std::size_t workers) {
  const auto fail = [&](const std::string& why) -> void {
    throw ConfigError("slowdown '" + std::string(text) + "': " + why);
  };
  if (detail::trim_blanks(text).empty()) {
    fail("expected a comma-separated list of factors >= 1, like 1,4");
  }
  std::vector<double> factors;
  for (const std::string_view token : detail::split_commas(text)) {
    const std::string which = "factor " + std::to_string(factors.size() + 1);
    if (token.empty()) fail(which + " is empty");
    const double f = detail::parse_whole<double>(token).value_or(0);
    if (!(f >= 1.0)) fail(which + " ('" + std::string(token) + "') must be a finite number >= 1");
    factors.push_back(f);
  }
  std::vector<double> out(workers);
  for (std::size_t w = 0; w < workers; ++w) out[w] = factors[w % factors.size()];
  return out;
}

std::vector<std::vector<std::size_t>> shard_histograms(
    const Dataset& data, const std::vector<std::vector<std::uint32_t>>& shards) {
  std::vector<std::vector<std::size_t>> out(shards.size(),
                                            std::vector<std::size_t>(data.classes(), 0));
  for (std::size_t w = 0; w < shards.size(); ++w) {
    check_rows(data, shards[w], "shard_histograms");
    for (const std::uint32_t r : shards[w]) ++out[w][data.label(r)];
  }
  return out;
}

}  // namespace dude
