#include "stop_signals.hpp"

#include <unistd.h>

#include <csignal>

namespace dude::cli {
namespace {

// What the handler touches: lock-free atomics only, which are async-signal-safe. The flag is
// read by the library with relaxed loads (it only ends loops); the signal number is stored
// before the flag is set, with release, so that whoever sees the flag sees the number.
std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

struct sigaction g_previous_int, g_previous_term;

extern "C" void on_stop_signal(int signal) {
  int none = 0;
  if (!g_signal.compare_exchange_strong(none, signal, std::memory_order_acq_rel)) {
    ::_exit(128 + signal);  // the second signal: the user insists
  }
  g_stop.store(true, std::memory_order_release);
}

}  // namespace

StopSignals::StopSignals() {
  g_stop.store(false);
  g_signal.store(0);
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // reads and writes in progress go on; the loops poll the flag
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

const std::atomic<bool>& StopSignals::stop_flag() const { return g_stop; }

int StopSignals::signal() const { return g_signal.load(std::memory_order_acquire); }

const char* StopSignals::signal_name() const { return signal() == SIGINT ? "SIGINT" : "SIGTERM"; }

}  // namespace dude::cli
