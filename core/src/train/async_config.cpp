// The asynchronous run's settings: parsing and printing the algorithm, the slot discipline
// and the compute-time model; checking an AsyncConfig; the default learning rate.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

#include "common/parse_text.hpp"
#include "dude/async.hpp"
#include "dude/errors.hpp"

namespace dude {

namespace {

using Kind = AlgorithmSpec::Kind;
/// The algorithms spelled by a name alone (fedbuff takes its K).
constexpr std::array<std::pair<std::string_view, Kind>, 5> kAlgorithmNames = {{
    {"dude", Kind::Dude},
    {"asgd", Kind::Asgd},
    {"hogwild", Kind::Hogwild},
    {"sync", Kind::Sync},
    {"sgd", Kind::Sgd},
}};

}  // namespace

AlgorithmSpec AlgorithmSpec::parse(std::string_view text) {
  AlgorithmSpec spec;
  for (const auto& [name, kind] : kAlgorithmNames) {
    if (text == name) {
      spec.kind = kind;
      return spec;
    }
  }
  const std::string_view prefix = "fedbuff:";
  if (text.substr(0, prefix.size()) == prefix) {
    const std::uint32_t buffer =
        detail::parse_whole<std::uint32_t>(text.substr(prefix.size())).value_or(0);
    if (buffer >= 1) {
      spec.kind = Kind::FedBuff;
      spec.buffer = buffer;
      return spec;
    }
  }
  throw ConfigError("algorithm '" + std::string(text) +
                    "': expected dude, asgd, hogwild, sync, fedbuff:K (K >= 1) or sgd");
}

std::string AlgorithmSpec::to_string() const {
  if (kind == Kind::FedBuff) return "fedbuff:" + std::to_string(buffer);
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
  const std::string_view prefix = "normal:";
  if (text.substr(0, prefix.size()) == prefix) {
    const double sigma = detail::parse_whole<double>(text.substr(prefix.size())).value_or(0);
    if (sigma > 0 && sigma <= 10) {
      t.kind = Kind::Normal;
      t.sigma = sigma;
      return t;
    }
  }
  throw ConfigError("compute time '" + std::string(text) +
                    "': expected fixed, exp or normal:SIGMA (0 < SIGMA <= 10)");
}

std::string ComputeTime::to_string() const {
  switch (kind) {
    case Kind::Fixed: return "fixed";
    case Kind::Exponential: return "exp";
    case Kind::Normal: break;
  }
  char text[48];
  std::snprintf(text, sizeof text, "normal:%g", sigma);
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
  if (algorithm.kind == AlgorithmSpec::Kind::FedBuff && algorithm.buffer == 0) {
    throw ConfigError("algorithm: fedbuff needs K >= 1");
  }
}

float default_learning_rate(const AlgorithmSpec& algorithm, std::size_t workers) {
  constexpr float kSingleThreadLr = 0.2f;
  if (algorithm.kind == AlgorithmSpec::Kind::Sgd) return kSingleThreadLr;
  return kSingleThreadLr / std::sqrt(static_cast<float>(std::max<std::size_t>(workers, 1)));
}

}  // namespace dude
