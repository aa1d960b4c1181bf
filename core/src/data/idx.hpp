// idx.hpp: loading IDX files by streaming them (internal).
#pragma once

#include <string>

#include "dude/dataset.hpp"
#include "dude/io.hpp"

namespace dude::detail {

/// Loads an IDX images file and its labels file with the checks of parse_idx, inflating gzip
/// files on the way; of the file bytes only small blocks are ever held, not the whole files.
Dataset load_idx(const std::string& images_path, const std::string& labels_path,
                 const LoadOptions& options);

}  // namespace dude::detail
