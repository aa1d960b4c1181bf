// file_bytes.hpp: whole files as bytes, and the model file's checksum, for tests that craft
// or damage files.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

namespace testdata {

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Re-seals a modified model file (its last 4 bytes are the CRC-32 of the others) with a valid
/// checksum, to reach the checks behind it.
inline std::string with_valid_crc(std::string bytes) {
  const std::size_t body = bytes.size() - 4;
  const auto crc = static_cast<std::uint32_t>(crc32(
      crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(body)));
  std::memcpy(bytes.data() + body, &crc, 4);
  return bytes;
}

}  // namespace testdata
