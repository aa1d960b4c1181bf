#include "common/page_memory.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <new>

namespace dude::detail {

std::shared_ptr<std::byte[]> map_pages(std::size_t bytes) {
  constexpr std::size_t kHugePage = std::size_t{2} << 20;
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const bool huge = bytes >= kHugePage;
  const std::size_t unit = huge ? kHugePage : page;
  const std::size_t length = (std::max<std::size_t>(bytes, 1) + unit - 1) / unit * unit;
  // For huge pages, map one huge page more and trim both ends to 2 MiB boundaries, so that
  // every page of the array can become a huge page.
  const std::size_t slack = huge ? kHugePage : 0;
  void* mapped =
      ::mmap(nullptr, length + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<std::uintptr_t>(mapped);
  const std::uintptr_t aligned = (start + unit - 1) & ~std::uintptr_t{unit - 1};
  if (aligned > start) ::munmap(mapped, aligned - start);
  const std::uintptr_t end = start + length + slack;
  if (end > aligned + length)
    ::munmap(reinterpret_cast<void*>(aligned + length), end - aligned - length);
  auto* base = reinterpret_cast<std::byte*>(aligned);
  if (huge) ::madvise(base, length, MADV_HUGEPAGE);  // advice only
  return std::shared_ptr<std::byte[]>(base, [length](std::byte* p) { ::munmap(p, length); });
}

}  // namespace dude::detail
