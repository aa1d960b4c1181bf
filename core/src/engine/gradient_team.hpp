// gradient_team.hpp (internal): one minibatch's gradient computed by a team of threads, for a
// worker that has a node's cores to itself (an MPI worker rank with threads_per_worker > 1),
// so that a node of 16 cores is one fast worker rather than 16 slow ones.
//
// Design
// - Split: the minibatch's n rows are cut into T contiguous parts, part k the rows
//   [k n / T, (k + 1) n / T): their sizes differ by one at most, and when T > n some parts are
//   empty and are skipped. Member k computes part k's loss and gradient (Model::loss_grad: the
//   mean over its rows, plus the L2 term) into a gradient buffer and with a Workspace of its
//   own, both allocated once, as fastText's threads own theirs.
// - Combine: the minibatch's gradient is the row-weighted mean of the parts',
//   sum_k (n_k / n) g_k, and its loss likewise; the weights sum to one, so the L2 term every
//   part carries comes out once. Each coordinate is summed over the parts in the fixed order
//   0, 1, ..., T - 1, whichever member sums it: the members share the coordinates of the
//   combine (one thread summing T buffers of d floats would take longer than the parts' own
//   gradients at small batches). So a gradient depends on the model and the rows only, and a
//   run is reproducible given the same arrivals; it differs from the whole minibatch's
//   gradient by float rounding (each part's sum is rounded on its own, then weighted).
// - Persistent team: the caller is member 0, and T - 1 helper threads live as long as the
//   team, meeting the caller at one std::barrier three times per minibatch (start, parts done,
//   combined): starting threads per minibatch would cost tens of microseconds each, as long as
//   a small minibatch's gradient. Plain std::threads rather than oneTBB: a team of fixed
//   members needs no scheduler, and ThreadSanitizer sees through a std::barrier, not through
//   oneTBB's tasks (common/parallel.hpp).
// - Errors: a member's exception is kept, every member still meets every barrier, and the
//   caller rethrows the exception of the lowest failed part once the round is over; the team
//   stays usable.
// - T = 1: no helper thread and no buffer: loss_grad straight into the caller's gradient, a
//   single-threaded worker's code path, bit for bit.
// - The helpers call only the model and the kernels, never MPI: an MPI worker rank makes every
//   MPI call on its main thread, so MPI_THREAD_FUNNELED still holds.
#pragma once

#include <algorithm>
#include <barrier>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>
#include <thread>
#include <vector>

#include "common/aligned_buffer.hpp"
#include "dude/dataset.hpp"
#include "dude/kernels.hpp"
#include "dude/objective.hpp"

namespace dude::engine {

/// `Model` is dude::Objective, or a stand-in with its num_params / make_workspace / loss_grad.
template <class Model = Objective>
class GradientTeam {
 public:
  /// A team of `threads` members (the caller and threads - 1 helpers; 0 counts as 1) computing
  /// gradients of `objective` on minibatches of up to `max_batch` rows, dense rows when
  /// `dense_input`.
  GradientTeam(const Model& objective, std::size_t threads, std::size_t max_batch, bool dense_input)
      : objective_(objective),
        size_(std::max<std::size_t>(threads, 1)),
        params_(objective.num_params()),
        sync_(static_cast<std::ptrdiff_t>(size_)) {
    const std::size_t part_rows = size_ == 1 ? max_batch : (max_batch + size_ - 1) / size_;
    members_.reserve(size_);
    for (std::size_t m = 0; m < size_; ++m) {
      Member& member = members_.emplace_back();
      member.workspace = objective.make_workspace(std::max<std::size_t>(part_rows, 1), dense_input);
      if (size_ > 1) member.gradient = AlignedFloats(params_, AlignedFloats::Uninitialized{});
    }
    start_helpers();
  }
  GradientTeam(const GradientTeam&) = delete;
  GradientTeam& operator=(const GradientTeam&) = delete;
  ~GradientTeam() { stop_helpers(); }

  /// The mean loss over `rows` (plus the L2 term) and, into `grad` (num_params floats,
  /// overwritten), its gradient, as Model::loss_grad gives them, to float rounding (exactly
  /// for one member). Rethrows the exception of the lowest part whose gradient threw.
  double loss_grad(const float* params, const Dataset& data, std::span<const std::uint32_t> rows,
                   float* grad) {
    if (size_ == 1) return objective_.loss_grad(params, data, rows, grad, members_[0].workspace);
    round_ = Round{params, &data, rows, grad};
    sync_.arrive_and_wait();  // start
    compute_part(0);
    sync_.arrive_and_wait();  // parts done
    combine_range(0);
    sync_.arrive_and_wait();  // combined
    return finish_round();
  }

  /// Part `part` of `rows` cut into `parts`: rows [part n / parts, (part + 1) n / parts) of
  /// the n, empty for some parts when parts > n.
  static std::span<const std::uint32_t> part_of(std::span<const std::uint32_t> rows,
                                                std::size_t part, std::size_t parts) {
    const std::size_t begin = part * rows.size() / parts;
    const std::size_t end = (part + 1) * rows.size() / parts;
    return rows.subspan(begin, end - begin);
  }

 private:
  struct Member {
    Workspace workspace;
    AlignedFloats gradient;  // its part's (none for a team of one)
    double loss = 0;
    std::exception_ptr error;
  };
  struct Round {
    const float* params = nullptr;
    const Dataset* data = nullptr;
    std::span<const std::uint32_t> rows;
    float* grad = nullptr;
  };

  /// Starts the helpers; when one cannot start, those started are stopped again (the missing
  /// ones leave the barrier) and the error is rethrown.
  void start_helpers() {
    try {
      for (std::size_t m = 1; m < size_; ++m) helpers_.emplace_back([this, m] { help(m); });
    } catch (...) {
      for (std::size_t m = helpers_.size() + 1; m < size_; ++m) sync_.arrive_and_drop();
      stop_helpers();
      throw;
    }
  }

  void stop_helpers() {
    if (helpers_.empty()) return;
    stop_ = true;  // published by the barrier's phase
    sync_.arrive_and_wait();
    for (std::thread& helper : helpers_) helper.join();
    helpers_.clear();
  }

  /// A helper's life: each round its part, then its share of the combine.
  void help(std::size_t m) {
    for (;;) {
      sync_.arrive_and_wait();  // start
      if (stop_) return;
      compute_part(m);
      sync_.arrive_and_wait();  // parts done
      combine_range(m);
      sync_.arrive_and_wait();  // combined
    }
  }

  void compute_part(std::size_t m) {
    Member& member = members_[m];
    member.error = nullptr;
    const std::span<const std::uint32_t> part = part_of(round_.rows, m, size_);
    if (part.empty()) return;
    try {
      member.loss = objective_.loss_grad(round_.params, *round_.data, part, member.gradient.data(),
                                         member.workspace);
    } catch (...) {
      member.error = std::current_exception();
    }
  }

  /// Part k's weight in the minibatch's mean: its share of the rows.
  double weight(std::size_t k) const {
    return static_cast<double>(part_of(round_.rows, k, size_).size()) /
           static_cast<double>(round_.rows.size());
  }

  /// Member m's coordinates of the combined gradient, summed over the parts in order.
  void combine_range(std::size_t m) {
    for (const Member& member : members_) {
      if (member.error) return;  // the round fails: its gradient is not used
    }
    const std::size_t begin = m * params_ / size_;
    const std::size_t count = (m + 1) * params_ / size_ - begin;
    float* out = round_.grad + begin;
    bool first = true;
    for (std::size_t k = 0; k < size_; ++k) {
      if (part_of(round_.rows, k, size_).empty()) continue;
      const auto w = static_cast<float>(weight(k));
      const float* part = members_[k].gradient.data() + begin;
      if (first) {
        std::copy(part, part + count, out);
        kernels::scale(w, out, count);
        first = false;
      } else {
        kernels::axpy(w, part, out, count);
      }
    }
  }

  double finish_round() const {
    double loss = 0;
    for (std::size_t k = 0; k < size_; ++k) {
      if (members_[k].error) std::rethrow_exception(members_[k].error);
      if (!part_of(round_.rows, k, size_).empty()) loss += weight(k) * members_[k].loss;
    }
    return loss;
  }

  const Model& objective_;
  const std::size_t size_;
  const std::size_t params_;
  std::vector<Member> members_;
  std::barrier<> sync_;
  std::vector<std::thread> helpers_;
  Round round_;        // written by the caller before the start barrier, read by every member
  bool stop_ = false;  // likewise, before the barrier that ends the helpers
};

}  // namespace dude::engine
