// cache.hpp (internal): the binary cache of parsed data (LoadOptions::cache_path).
#pragma once

#include <functional>
#include <string>

#include "dude/dataset.hpp"
#include "dude/io.hpp"

namespace dude::detail {

/// The data set of the text file `path` read as `format` under `options`: read from the
/// cache at options.cache_path when it was written from this very file (same size and
/// modification time) with the same options and its checksum holds; otherwise parse() and a
/// new cache, written whole or not at all.
Dataset load_through_cache(const std::string& path, const LoadOptions& options, Format format,
                           const std::function<Dataset()>& parse);

}  // namespace dude::detail
