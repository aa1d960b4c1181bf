// page_memory.hpp (internal): large arrays mapped straight from the operating system.
#pragma once

#include <cstddef>
#include <memory>

namespace dude::detail {

/// `bytes` of zeroed, page-aligned memory, unpopulated until first written and unmapped when
/// the last owner lets go. A mapping of 2 MiB or more starts on a 2 MiB boundary and asks for
/// transparent huge pages before any page is touched (madvise: advice, so ordinary pages where
/// the system declines). Throws std::bad_alloc when the mapping fails.
std::shared_ptr<std::byte[]> map_pages(std::size_t bytes);

}  // namespace dude::detail
