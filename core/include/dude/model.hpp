// dude/model.hpp: a trained model and its file format.
//
// File layout (little-endian), version 1:
//   magic "DUDEMODL" (8 bytes) | u32 version | u32 spec length | spec text |
//   u64 features | u32 classes | f32 l2 | u64 param count | f32 params[count] |
//   u32 CRC-32 (zlib) of every preceding byte
// Saving writes a temporary file next to the target and renames it over the target, so a
// reader never sees half a file. Loading checks the magic, version, spec, sizes (the
// parameter count must match the spec and dimensions) and the checksum, and throws
// ModelFileError naming the file and what is wrong.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dude/objective.hpp"

namespace dude {

struct Model {
  ModelSpec spec;
  std::size_t features = 0;
  std::uint32_t classes = 0;
  float l2 = 0;
  std::vector<float> params;

  Objective objective() const { return Objective(spec, features, classes, l2); }
};

void save_model(const std::string& path, const Model& model);
Model load_model(const std::string& path);

}  // namespace dude
