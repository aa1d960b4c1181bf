// parallel.hpp (internal): the one place dude's data-parallel loops (parsing, evaluation)
// reach oneTBB.
//
// oneTBB's scheduler is not built with ThreadSanitizer instrumentation, so TSan cannot see
// the synchronisation inside its task hand-offs and reports every result a task writes and
// the caller reads as a race. In ThreadSanitizer builds these loops therefore run serially
// (same results: every caller writes per-index slots and combines them in index order), and
// what TSan reports is about dude's own threads.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_THREAD__)
#define DUDE_SERIAL_PARALLEL_FOR 1
#else
#include <tbb/parallel_for.h>
#endif

namespace dude::detail {

/// Calls body(i) for every i in [0, count), in parallel; body must be safe to run concurrently
/// for different i.
template <class Body>
void parallel_for(std::size_t count, const Body& body) {
#if defined(DUDE_SERIAL_PARALLEL_FOR)
  for (std::size_t i = 0; i < count; ++i) body(i);
#else
  tbb::parallel_for(std::size_t{0}, count, body);
#endif
}

}  // namespace dude::detail
