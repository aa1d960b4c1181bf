// gzip.hpp: transparent gzip decompression for the loaders (internal).
#pragma once

#include <string>
#include <string_view>

namespace dude::detail {

/// True when `bytes` starts with the gzip magic 1f 8b.
bool is_gzip(std::string_view bytes) noexcept;

/// Inflates a gzip stream of one or more members. Throws DataError naming `name` and the
/// compressed byte offset when the stream is truncated, corrupt, or followed by other bytes.
std::string inflate_gzip(std::string_view compressed, const std::string& name);

/// Inflates `bytes` when they are gzip-compressed; otherwise hands them back unchanged.
std::string maybe_inflate(std::string bytes, const std::string& name);

}  // namespace dude::detail
