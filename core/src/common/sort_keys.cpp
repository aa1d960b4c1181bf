#include "common/sort_keys.hpp"

#include <hwy/contrib/sort/vqsort.h>

namespace dude::detail {
namespace {

const hwy::Sorter& thread_sorter() {
  thread_local const hwy::Sorter sorter;
  return sorter;
}

}  // namespace

void sort_keys(std::span<std::uint32_t> keys) {
  thread_sorter()(keys.data(), keys.size(), hwy::SortAscending());
}

void sort_keys(std::span<std::uint64_t> keys) {
  thread_sorter()(keys.data(), keys.size(), hwy::SortAscending());
}

}  // namespace dude::detail
