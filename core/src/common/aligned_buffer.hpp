// aligned_buffer.hpp (internal): a fixed-size, cache-line-aligned float array.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

#include "common/cache_line.hpp"

namespace dude::engine {

class AlignedFloats {
 public:
  AlignedFloats() = default;
  /// Zero-filled.
  explicit AlignedFloats(std::size_t count)
      : data_(new (std::align_val_t{kFalseSharingRange}) float[count]()), size_(count) {}
  /// Left uninitialised, for buffers always written before they are read: a large one comes
  /// from fresh pages, which take no memory until first written.
  struct Uninitialized {};
  AlignedFloats(std::size_t count, Uninitialized)
      : data_(new (std::align_val_t{kFalseSharingRange}) float[count]), size_(count) {}
  float* data() noexcept { return data_.get(); }
  const float* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  float& operator[](std::size_t i) noexcept { return data_[i]; }
  const float& operator[](std::size_t i) const noexcept { return data_[i]; }

 private:
  struct AlignedDelete {
    void operator()(float* p) const noexcept {
      ::operator delete[](p, std::align_val_t{kFalseSharingRange});
    }
  };
  std::unique_ptr<float[], AlignedDelete> data_;
  std::size_t size_ = 0;
};

}  // namespace dude::engine
