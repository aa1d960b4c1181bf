#include "common/threads.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <thread>

namespace dude::detail {

void pin_to_core(std::size_t core) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<int>(core % cores), &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);  // best effort: ignore failure
}

}  // namespace dude::detail
