// server_threads.hpp (internal): the threads of a server engine (dense or sparse): one server
// thread and one thread per worker, each failure kept in the run state, and the drain that
// keeps any worker from waiting forever on a server that has stopped.
//
// Design
// - live_ counts the workers still running. A worker leaves with a release decrement; the
//   stopped server drains with acquire loads until it reads 0, releasing every posted slot
//   meanwhile, so every worker's last post is answered and the worker sees the stop flag.
// - The server sets the run's stop flag before draining, so no worker posts forever.
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

#include "common/threads.hpp"
#include "engine/run_state.hpp"

namespace dude::engine {

class ServerThreads {
 public:
  ServerThreads(RunState& run, std::size_t workers) : run_(run), workers_(workers) {}

  /// Starts `serve` on the server thread and `work(w)` on each worker's. After the server
  /// stops, `release_posted` is called until every worker has left: it must release every
  /// slot that holds a post. `after_drain` runs last on the server thread.
  void start(std::function<void()> serve, std::function<void(std::size_t)> work,
             std::function<void()> release_posted, std::function<void()> after_drain = {}) {
    serve_ = std::move(serve);
    release_posted_ = std::move(release_posted);
    after_drain_ = std::move(after_drain);
    live_.store(workers_, std::memory_order_relaxed);
    threads_.emplace_back([this] { guarded(workers_, [this] { serve_(); }); });
    start_worker_threads(std::move(work));
  }
  /// Starts `work(w)` on each worker's thread and no server thread (workers that apply their
  /// own arrivals: nothing to drain, a worker that stops only leaves).
  void start_workers(std::function<void(std::size_t)> work) {
    first_worker_core_ = 0;
    start_worker_threads(std::move(work));
  }
  void join() {
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void start_worker_threads(std::function<void(std::size_t)> work) {
    work_ = std::move(work);
    for (std::size_t w = 0; w < workers_; ++w) {
      threads_.emplace_back([this, w] { guarded(w, [this, w] { work_(w); }); });
    }
  }
  /// Runs a thread's body (pinned: the server on core 0, worker w on w + 1, or on w without a
  /// server thread), keeping its exception; then a worker leaves and the server drains.
  template <class Body>
  void guarded(std::size_t thread, Body&& body) {
    try {
      if (run_.config.pin_threads) {
        detail::pin_to_core(thread == workers_ ? 0 : thread + first_worker_core_);
      }
      body();
    } catch (...) {
      run_.fail(thread, std::current_exception());
    }
    if (thread != workers_) {
      live_.fetch_sub(1, std::memory_order_release);
      return;
    }
    run_.stop.store(true, std::memory_order_relaxed);
    while (live_.load(std::memory_order_acquire) > 0) {
      release_posted_();
      std::this_thread::yield();
    }
    if (after_drain_) after_drain_();
  }

  RunState& run_;
  const std::size_t workers_;
  std::function<void()> serve_;
  std::function<void(std::size_t)> work_;
  std::function<void()> release_posted_;
  std::function<void()> after_drain_;
  std::vector<std::thread> threads_;
  std::size_t first_worker_core_ = 1;  // 0 without a server thread
  std::atomic<std::size_t> live_{0};   // workers still running; the server drains until 0
};

}  // namespace dude::engine
