// threads.hpp (internal): placing threads on cores.
#pragma once

#include <cstddef>

namespace dude::detail {

/// Pins the calling thread to a core (modulo the core count); best effort: a failure (no such
/// core in the process's CPU set) leaves the thread where the scheduler put it.
void pin_to_core(std::size_t core);

}  // namespace dude::detail
