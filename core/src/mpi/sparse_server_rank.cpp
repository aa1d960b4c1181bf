#include "mpi/sparse_server_rank.hpp"

#include <string>

#include "dude/errors.hpp"

namespace dude::mpi::detail {

SparseServerRank::SparseServerRank(MPI_Comm comm, engine::RunState& run,
                                   engine::SparsePolicy& policy, const SparseShape& shape)
    : run_(run),
      policy_(policy),
      shape_(shape),
      workers_(run.config.workers),
      links_(comm, workers_, sparse_post_floats(shape.features, shape.width, shape.tail),
             shape.features * shape.width + shape.tail),
      features_(workers_),
      gradients_(workers_),
      headers_(workers_) {
  arrived_.reserve(workers_);
  held_.reserve(workers_);
}

void SparseServerRank::serve(bool warm_start) {
  seeds_needed_ = warm_start ? workers_ : 0;
  const engine::ServerLeaving leaving(server_done_);
  links_.serve(
      run_, [this](std::size_t w, int tag, int length) { take(w, tag, length); },
      [this] { step(); });
}

std::uint64_t SparseServerRank::snapshot(float* out) {
  const std::lock_guard<std::mutex> lock(policy_lock_);
  policy_.read_all(out);
  return counts_.version;
}

engine::EngineState SparseServerRank::save_state() {
  return state_request_.ask(server_done_, [this] { return write_state(); });
}

engine::EngineState SparseServerRank::write_state() const {
  return engine::write_sparse_server_state(policy_, run_);
}

void SparseServerRank::load_state(::dude::detail::StateReader& in) {
  counts_ = engine::read_sparse_server_state(in, policy_, run_);
}

void SparseServerRank::unpack(std::size_t w, int tag, int length) {
  const SparsePostMessage& post = links_.post(w);
  const SparseCounts counts = post.prefix();
  const auto misfit = [&] {
    return Error("MPI rank " + std::to_string(rank_of(w)) + " posted a sparse message of " +
                 std::to_string(length) +
                 " bytes that does not fit this model: every rank must train the same --model "
                 "on data of the same features");
  };
  const bool gradient = tag != kPull;
  if (counts.features > shape_.features || counts.rows > shape_.features ||
      counts.tail != (gradient ? shape_.tail : 0) ||
      length != SparsePostMessage::bytes_for(sparse_payload(counts, shape_.width))) {
    throw misfit();
  }
  unpack_sparse(post, shape_.width, features_[w], gradients_[w]);
  // Ids are ascending: the last is the largest.
  const auto beyond = [&](const std::vector<std::uint32_t>& ids) {
    return !ids.empty() && ids.back() >= shape_.rows;
  };
  if (beyond(features_[w]) || beyond(gradients_[w].rows)) throw misfit();
}

void SparseServerRank::take(std::size_t w, int tag, int length) {
  unpack(w, tag, length);
  if (tag == kPull) {
    answer(w);
  } else if (tag == kSeed) {
    {
      const std::lock_guard<std::mutex> lock(policy_lock_);
      policy_.seed_gradient(w, gradients_[w]);
    }
    ++seeds_;
    answer(w);  // x0 again: no step is taken before the last seed
  } else {
    headers_[w] = links_.post(w).prefix().header;
    arrived_.push_back(w);
  }
}

void SparseServerRank::step() {
  state_request_.serve([this] { return write_state(); });
  if (seeds_ < seeds_needed_) return;
  for (const std::size_t w : arrived_) {
    if (run_.stopping()) break;  // the rest get kStop
    held_.push_back(w);
    if (!apply(w)) continue;  // sync: the round is not complete
    // At the end of the run the senders of this round get kStop instead.
    if (run_.budget.spent(counts_.version, counts_.samples))
      run_.stop.store(true, std::memory_order_relaxed);
    if (!run_.stopping()) {
      for (const std::size_t done : held_) answer(done);
    }
    held_.clear();
  }
  arrived_.clear();
}

bool SparseServerRank::apply(std::size_t w) {
  return engine::apply_sparse_arrival(policy_, run_, headers_[w], gradients_[w], counts_,
                                      policy_lock_);
}

void SparseServerRank::answer(std::size_t w) {
  ModelMessage& reply = *links_.begin_reply(w);  // never null under hand-off
  const std::size_t rows = features_[w].size() * shape_.width;
  {
    const std::lock_guard<std::mutex> lock(policy_lock_);
    policy_.read(features_[w], reply.params(), reply.params() + rows);
    reply.set_prefix(counts_.version);
  }
  links_.send_reply(w, rows + shape_.tail);
}

}  // namespace dude::mpi::detail
