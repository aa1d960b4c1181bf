// relacy_atomic.hpp: std::atomic's interface on Relacy's atomics, for the Atomic template
// parameter of the engine's protocols (gradient_slot.hpp, model_pool.hpp, ticket_lock.hpp), so that
// Relacy checks the engine's own code under the C++ memory model.
//
// Include it after the protocol headers and every standard header: <relacy/relacy.hpp>
// defines macros (memory_order_relaxed, new, delete, ...) that would rewrite them.
//
// - Each operation takes the caller's std::source_location as a default argument: Relacy's
//   traces name the protocol's line, and a seeded bug (Weakening) picks its operations by the
//   calling function.
// - wait()/notify_one() follow libstdc++ 12 on Linux: the waiter counts itself in (seq_cst
//   RMW) and sleeps on the futex while the value is unchanged; notify_one() skips the wake when
//   its seq_cst load of the count reads zero. The futex is Relacy's, but its check of the
//   value is a seq_cst load (the kernel's full barrier, then a read) rather than Relacy's
//   seq_cst fence and acquire load: Relacy's fences order only against other fences, so that
//   check could miss a seq_cst store the C++ model says it must see (a false deadlock).
#pragma once

#include <atomic>
#include <source_location>
#include <string>
#include <string_view>

#include <relacy/relacy.hpp>

namespace model_check {

using Site = std::source_location;

enum class Op { load, store, exchange, fetch_add };

/// A seeded bug: the `op`s that member function `member` of class template `type` performs run
/// with `order` instead of the order the code names. Set only between simulations.
struct Weakening {
  std::string_view type;  // e.g. "BasicHandoffSlot"; empty: the code as written
  std::string_view member;
  Op op = Op::load;
  std::memory_order order = std::memory_order::seq_cst;
};
inline Weakening weakening;
inline bool weakening_applied = false;  // whether any operation matched, for the report
// How GCC's signatures spell the weakened member: "RESULT ns::TYPE<PARAMS>::MEMBER(ARGS) [with
// ...]". Built by seed(), outside the simulation, in which Relacy owns operator new.
inline std::string weakened_type, weakened_member;

inline void seed(const Weakening& bug) {
  weakening = bug;
  weakened_type = std::string(bug.type) + "<";
  weakened_member = ">::" + std::string(bug.member) + "(";
}

inline rl::memory_order to_relacy(std::memory_order order) {
  switch (order) {
    case std::memory_order::relaxed: return rl::mo_relaxed;
    case std::memory_order::consume: return rl::mo_consume;
    case std::memory_order::acquire: return rl::mo_acquire;
    case std::memory_order::release: return rl::mo_release;
    case std::memory_order::acq_rel: return rl::mo_acq_rel;
    case std::memory_order::seq_cst: return rl::mo_seq_cst;
  }
  return rl::mo_seq_cst;
}

inline bool in_weakened_member(const Site& site) {
  const std::string_view signature = site.function_name();
  const std::size_t type = signature.find(weakened_type);
  const std::size_t member = signature.find(weakened_member);
  return type != std::string_view::npos && member != std::string_view::npos && type < member;
}

/// The order an operation runs with: the code's, unless the seeded bug names it.
inline rl::memory_order order_at(Op op, std::memory_order order, const Site& site) {
  const bool named = !weakening.type.empty() && op == weakening.op && in_weakened_member(site);
  if (!named) return to_relacy(order);
  weakening_applied = true;
  return to_relacy(weakening.order);
}

inline rl::debug_info info_at(const Site& site) {
  return rl::debug_info(site.function_name(), site.file_name(), site.line());
}

/// The hand-off's yield between polls: a preemption point of Relacy's scheduler. (A real yield
/// would make the check as slow as the machine is busy. Not rl::yield: after it Relacy lets a
/// load see only the newest store, even one made after the yield, which would close the window
/// a lost wake-up needs.)
inline void yield() noexcept { rl::ctx().sched(); }

template <class T>
class Atomic {
 public:
  Atomic() = default;
  Atomic(T value) : value_(value) {}  // implicit, as std::atomic's

  T load(std::memory_order order, Site site = Site::current()) const {
    return value_.load(order_at(Op::load, order, site), info_at(site));
  }
  void store(T value, std::memory_order order, Site site = Site::current()) {
    value_.store(value, order_at(Op::store, order, site), info_at(site));
  }
  T exchange(T value, std::memory_order order, Site site = Site::current()) {
    return value_.exchange(value, order_at(Op::exchange, order, site), info_at(site));
  }

  T fetch_add(T delta, std::memory_order order, Site site = Site::current()) {
    return value_.fetch_add(delta, order_at(Op::fetch_add, order, site), info_at(site));
  }

  /// Its loads of the value count as loads of the caller (a seeded bug weakens them too).
  void wait(T old, std::memory_order order, Site site = Site::current()) {
    waiters_.fetch_add(1, rl::mo_seq_cst, info_at(site));
    while (load(order, site) == old) futex_wait(old, site);
    waiters_.fetch_sub(1, rl::mo_release, info_at(site));
  }
  void notify_one(Site site = Site::current()) {
    if (waiters_.load(rl::mo_seq_cst, info_at(site)) == 0) return;
    rl::context& context = rl::ctx();
    context.sched();
    context.atomic_thread_fence_seq_cst();
    value_.wake(context, 1, info_at(site));
  }

 private:
  /// FUTEX_WAIT as Relacy's (stdlib/pthread.hpp), on a value of any type: the check and the
  /// sleep are one step (the kernel's hash-bucket lock); wakes may be spurious.
  void futex_wait(T old, const Site& site) {
    rl::context& context = rl::ctx();
    context.sched();
    T now;
    {
      rl::preemption_disabler no_switch(context);
      now = value_.load(rl::mo_seq_cst, info_at(site));
    }
    if (now == old) value_.wait(context, false, true, info_at(site));
  }

  rl::atomic<T> value_;
  rl::atomic<int> waiters_{0};  // libstdc++'s waiter count
};

}  // namespace model_check
