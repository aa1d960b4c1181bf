// dude/model.hpp: a trained model and its file format.
//
// File layout (little-endian), version 2:
//   magic "DUDEMODL" (8 bytes) | u32 version | u32 spec length | spec text |
//   u64 features | u32 classes | f32 l2 |
//   u32 input kind (0: numeric data, 1: fastText text) | u32 hash bits | u32 n-grams |
//   u32 label-name count (0, or one per class) | per name: u32 length | name bytes |
//   u64 param count | f32 params[count] |
//   u32 CRC-32 (zlib) of every preceding byte
// Hash bits and n-grams are 0 for numeric data. Version 1 files (written before text input)
// lack the input kind, hashing and names, and load as numeric models without names.
// Saving writes a temporary file next to the target and renames it over the target, so a
// reader never sees half a file. Loading checks the magic, version, spec, sizes (the
// parameter count must match the spec and dimensions; names and their lengths are bounded,
// 2^16 and 1024 bytes) and the checksum, and throws ModelFileError naming the file and what
// is wrong.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dude/io.hpp"
#include "dude/objective.hpp"

namespace dude {

struct Model {
  ModelSpec spec;
  std::size_t features = 0;
  std::uint32_t classes = 0;
  float l2 = 0;
  std::vector<float> params;
  /// Set when the model reads fastText text, hashed so (features is then 2^bits): predict and
  /// eval read raw text the way training did. Empty for numeric data.
  std::optional<TextHashing> text_hashing = {};
  /// The name of each class by id (the training data's label_names()); empty when the classes
  /// are plain ids.
  std::vector<std::string> label_names = {};

  Objective objective() const { return Objective(spec, features, classes, l2); }
};

void save_model(const std::string& path, const Model& model);
Model load_model(const std::string& path);

}  // namespace dude
