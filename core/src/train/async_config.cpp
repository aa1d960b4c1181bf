// The asynchronous run's settings: parsing and printing the algorithm, the slot discipline
// and the compute-time model; checking an AsyncConfig; the default learning rate.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>

#include "common/parse_text.hpp"
#include "dude/async.hpp"
#include "dude/errors.hpp"

namespace dude {

namespace {

using Kind = AlgorithmSpec::Kind;
/// The algorithms spelled by a name alone.
constexpr std::array<std::pair<std::string_view, Kind>, 8> kAlgorithmNames = {{
    {"dude", Kind::Dude},
    {"asgd", Kind::Asgd},
    {"hogwild", Kind::Hogwild},
    {"sync", Kind::Sync},
    {"sgd", Kind::Sgd},
    {"ringleader", Kind::Ringleader},
    {"malenia", Kind::Malenia},
    {"asgd-da", Kind::AsgdDelayAdaptive},
}};

/// The algorithms that take a whole number >= 1 after a colon, and the field it sets.
struct Parameterised {
  std::string_view name;
  Kind kind;
  std::uint32_t AlgorithmSpec::*field;
};
constexpr std::array<Parameterised, 3> kParameterised = {{
    {"fedbuff", Kind::FedBuff, &AlgorithmSpec::buffer},
    {"malenia", Kind::Malenia, &AlgorithmSpec::harmonic_batch},
    {"asgd-da", Kind::AsgdDelayAdaptive, &AlgorithmSpec::delay_scale},
}};

/// "NAME:N" with N >= 1 for a parameterised algorithm NAME; nothing otherwise.
std::optional<AlgorithmSpec> parse_parameterised(std::string_view text) {
  for (const Parameterised& p : kParameterised) {
    if (text.size() <= p.name.size() || text.substr(0, p.name.size()) != p.name ||
        text[p.name.size()] != ':') {
      continue;
    }
    const std::uint32_t value =
        detail::parse_whole<std::uint32_t>(text.substr(p.name.size() + 1)).value_or(0);
    if (value == 0) return std::nullopt;
    AlgorithmSpec spec;
    spec.kind = p.kind;
    spec.*p.field = value;
    return spec;
  }
  return std::nullopt;
}

}  // namespace

AlgorithmSpec AlgorithmSpec::parse(std::string_view text) {
  AlgorithmSpec spec;
  for (const auto& [name, kind] : kAlgorithmNames) {
    if (text == name) {
      spec.kind = kind;
      return spec;
    }
  }
  if (const auto parameterised = parse_parameterised(text)) return *parameterised;
  throw ConfigError("algorithm '" + std::string(text) +
                    "': expected dude, asgd, hogwild, sync, fedbuff:K, sgd, ringleader, "
                    "malenia[:S] or asgd-da[:C] (K, S, C whole numbers >= 1)");
}

std::string AlgorithmSpec::to_string() const {
  switch (kind) {
    case Kind::FedBuff: return "fedbuff:" + std::to_string(buffer);
    case Kind::Malenia:
      return harmonic_batch == 1 ? "malenia" : "malenia:" + std::to_string(harmonic_batch);
    case Kind::AsgdDelayAdaptive:
      return delay_scale == 0 ? "asgd-da" : "asgd-da:" + std::to_string(delay_scale);
    default: break;
  }
  for (const auto& [name, named] : kAlgorithmNames) {
    if (named == kind) return std::string(name);
  }
  return "?";
}

SlotDiscipline parse_slot_discipline(std::string_view text) {
  if (text == "handoff") return SlotDiscipline::Handoff;
  if (text == "triple") return SlotDiscipline::TripleBuffer;
  throw ConfigError("slot discipline '" + std::string(text) + "': expected handoff or triple");
}

ServerPlacement parse_server_placement(std::string_view text) {
  if (text == "auto") return ServerPlacement::Auto;
  if (text == "thread") return ServerPlacement::Thread;
  if (text == "workers") return ServerPlacement::Workers;
  throw ConfigError("server placement '" + std::string(text) +
                    "': expected auto, thread or workers");
}

ComputeTime ComputeTime::parse(std::string_view text) {
  ComputeTime t;
  if (text == "fixed") {
    t.kind = Kind::Fixed;
    return t;
  }
  if (text == "exp") {
    t.kind = Kind::Exponential;
    return t;
  }
  for (const auto& [prefix, kind] : {std::pair<std::string_view, Kind>{"normal:", Kind::Normal},
                                     {"lognormal:", Kind::LogNormal}}) {
    if (text.substr(0, prefix.size()) != prefix) continue;
    const double sigma = detail::parse_whole<double>(text.substr(prefix.size())).value_or(0);
    if (sigma > 0 && sigma <= 10) {
      t.kind = kind;
      t.sigma = sigma;
      return t;
    }
  }
  throw ConfigError("compute time '" + std::string(text) +
                    "': expected fixed, exp, normal:SIGMA or lognormal:SIGMA (0 < SIGMA <= 10)");
}

std::string ComputeTime::to_string() const {
  switch (kind) {
    case Kind::Fixed: return "fixed";
    case Kind::Exponential: return "exp";
    case Kind::Normal:
    case Kind::LogNormal: break;
  }
  char text[48];
  std::snprintf(text, sizeof text, "%s:%g", kind == Kind::Normal ? "normal" : "lognormal", sigma);
  return text;
}

void AsyncConfig::validate() const {
  sgd.validate();
  if (workers == 0 || workers > 4096) throw ConfigError("workers: must be in [1, 4096]");
  if (!slowdown.empty() && slowdown.size() != workers) {
    throw ConfigError("slowdown: needs one factor per worker");
  }
  for (const double f : slowdown) {
    if (!(f >= 1.0) || !std::isfinite(f))
      throw ConfigError("slowdown: factors must be finite and >= 1");
  }
  if (server_threads == 0 || server_threads > 256) {
    throw ConfigError("server_threads: must be in [1, 256]");
  }
  if (threads_per_worker == 0 || threads_per_worker > 256) {
    throw ConfigError("threads_per_worker: must be in [1, 256]");
  }
  if (algorithm.kind == AlgorithmSpec::Kind::FedBuff && algorithm.buffer == 0) {
    throw ConfigError("algorithm: fedbuff needs K >= 1");
  }
  if (algorithm.kind == AlgorithmSpec::Kind::Malenia && algorithm.harmonic_batch == 0) {
    throw ConfigError("algorithm: malenia needs S >= 1");
  }
}

namespace {

enum class DelayRule { None, SqrtWorkers, Workers };

DelayRule delay_rule(const AlgorithmSpec& algorithm) {
  switch (algorithm.kind) {
    case Kind::Sgd:
    case Kind::Sync:
    case Kind::Malenia: return DelayRule::None;
    case Kind::Dude:
    case Kind::Ringleader: return DelayRule::Workers;
    case Kind::Asgd:
    case Kind::Hogwild:
    case Kind::AsgdDelayAdaptive:
    case Kind::FedBuff: break;
  }
  return DelayRule::SqrtWorkers;
}

constexpr float kSingleThreadLr = 0.2f;

}  // namespace

float default_learning_rate(const AlgorithmSpec& algorithm, std::size_t workers) {
  const auto n = static_cast<float>(std::max<std::size_t>(workers, 1));
  switch (delay_rule(algorithm)) {
    case DelayRule::None: return kSingleThreadLr;
    case DelayRule::Workers: return kSingleThreadLr / n;
    case DelayRule::SqrtWorkers: break;
  }
  return kSingleThreadLr / std::sqrt(n);
}

std::string default_learning_rate_rule(const AlgorithmSpec& algorithm, std::size_t workers) {
  const std::string n = std::to_string(std::max<std::size_t>(workers, 1));
  switch (delay_rule(algorithm)) {
    case DelayRule::None: return "0.2";
    case DelayRule::Workers: return "0.2 / " + n + " workers";
    case DelayRule::SqrtWorkers: break;
  }
  return "0.2 / sqrt(" + n + " workers)";
}

}  // namespace dude
