// page_array.hpp (internal): a large array of trivially copyable values on pages mapped from
// the operating system (page_memory.hpp): zeroed for free, on 2 MiB pages where the system
// grants them, so that randomly addressed rows of a large model cost fewer TLB misses.
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>

#include "common/page_memory.hpp"

namespace dude::detail {

template <class T>
class PageArray {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  PageArray() = default;
  /// `count` zero-valued elements.
  explicit PageArray(std::size_t count)
      : pages_(count > 0 ? map_pages(count * sizeof(T)) : nullptr), size_(count) {}
  /// A copy of [first, first + count).
  PageArray(const T* first, std::size_t count) : PageArray(count) {
    for (std::size_t i = 0; i < count; ++i) data()[i] = first[i];
  }
  T* data() noexcept { return reinterpret_cast<T*>(pages_.get()); }
  const T* data() const noexcept { return reinterpret_cast<const T*>(pages_.get()); }
  std::size_t size() const noexcept { return size_; }
  T& operator[](std::size_t i) noexcept { return data()[i]; }
  const T& operator[](std::size_t i) const noexcept { return data()[i]; }

 private:
  std::shared_ptr<std::byte[]> pages_;
  std::size_t size_ = 0;
};

}  // namespace dude::detail
