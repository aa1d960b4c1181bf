// cache_line.hpp (internal): the padding unit for data written by different threads.
#pragma once

#include <cstddef>

namespace dude::engine {

/// One cache line. x86 prefetches lines in adjacent pairs, so fields that two threads write
/// at high rates are kept kFalseSharingRange apart. (Not std::hardware_destructive_
/// interference_size: GCC 12 warns that it is not ABI-stable.)
inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::size_t kFalseSharingRange = 128;

/// Floats per cache line; gradient and model buffers are padded to whole lines.
inline constexpr std::size_t kFloatsPerLine = kCacheLine / sizeof(float);
inline constexpr std::size_t round_up_to_line(std::size_t floats) {
  return (floats + kFloatsPerLine - 1) / kFloatsPerLine * kFloatsPerLine;
}

}  // namespace dude::engine
