#include "mpi/server_rank.hpp"

#include <algorithm>
#include <exception>
#include <string>

#include "dude/errors.hpp"
#include "dude/mpi.hpp"

namespace dude::mpi::detail {

namespace {

/// The fold team's idle helpers spin this many polls before yielding: ranks share the
/// machine's cores with other ranks, so spin briefly.
constexpr unsigned kHelperSpins = 64;

}  // namespace

ServerRank::ServerRank(MPI_Comm comm, engine::RunState& run, engine::ServerPolicy& policy,
                       const float* initial)
    : comm_(comm),
      run_(run),
      policy_(policy),
      params_(policy.params()),
      workers_(run.config.workers),
      pool_(params_, 1),
      team_(run.config.server_threads, params_, kHelperSpins),
      recv_(workers_, MPI_REQUEST_NULL),
      send_(workers_, MPI_REQUEST_NULL),
      headers_(workers_),
      taken_(workers_, 0),
      completed_(workers_),
      statuses_(workers_) {
  for (std::size_t w = 0; w < workers_; ++w) {
    posts_.emplace_back(params_);
    models_.emplace_back(params_);
  }
  std::copy(initial, initial + params_, pool_.writable());
  pool_.publish(0);
  arrivals_.reserve(workers_);
}

void ServerRank::serve(bool warm_start) {
  // Every worker starts from the server's model, whatever it was initialised with.
  // (The root of MPI_Bcast only reads its buffer.)
  MPI_Bcast(const_cast<float*>(pool_.current()), byte_count(params_), MPI_BYTE, 0, comm_);
  for (std::size_t w = 0; w < workers_; ++w) post_receive(w);
  try {
    if (warm_start) take_warm_start();
    while (!run_.stopping()) {
      const std::size_t needed = std::max<std::size_t>(policy_.round_size(), 1);
      take_arrived();
      if (arrivals_.size() >= needed) apply_round();
    }
  } catch (...) {
    stop_workers(false);  // the error on its way wins over a failure seen meanwhile
    throw;
  }
  stop_workers(true);
}

std::uint64_t ServerRank::snapshot(float* out) {
  const engine::ModelPool::View view = pool_.acquire(0);
  std::copy(view.params, view.params + params_, out);
  pool_.release(0);
  return view.version;
}

void ServerRank::post_receive(std::size_t w) {
  taken_[w] = 0;
  MPI_Irecv(posts_[w].data(), posts_[w].capacity(), MPI_BYTE, rank_of(w), MPI_ANY_TAG, comm_,
            &recv_[w]);
}

void ServerRank::take_arrived() {
  int count = 0;
  MPI_Waitsome(static_cast<int>(workers_), recv_.data(), &count, completed_.data(),
               statuses_.data());
  if (count == MPI_UNDEFINED) return;  // every post is taken already
  // Every completed receive is taken, also past a failure, so that stop_workers() knows whom
  // it still has to hear from; the first error is thrown after.
  std::exception_ptr error;
  for (int i = 0; i < count; ++i) {
    try {
      take(static_cast<std::size_t>(completed_[i]), statuses_[i]);
    } catch (...) {
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

void ServerRank::take(std::size_t w, const MPI_Status& status) {
  taken_[w] = 1;
  int length = 0;
  MPI_Get_count(&status, MPI_BYTE, &length);
  if (status.MPI_TAG == kFailure) throw WorkerFailed(rank_of(w), posts_[w].text(length));
  if (length != posts_[w].bytes()) {
    throw Error("MPI rank " + std::to_string(rank_of(w)) + " posted " + std::to_string(length) +
                " bytes, not the " + std::to_string(posts_[w].bytes()) +
                " of this model: every rank must train the same --model on data of the same shape");
  }
  if (status.MPI_TAG == kSeed) {
    policy_.seed_gradient(w, posts_[w].params());
    ++seeds_;
    send_model(w);  // x0 again: no step is taken before the last seed
    return;
  }
  headers_[w] = posts_[w].prefix();
  arrivals_.push_back({posts_[w].params(), &headers_[w]});
}

/// DuDe's table is filled with every worker's gradient at x0 before the first step, as the
/// threaded run's warm_start() does. A worker posts its seed and waits for the reply (x0),
/// then posts its first gradient: those that come before the last seed wait in the first
/// round.
void ServerRank::take_warm_start() {
  while (seeds_ < workers_) take_arrived();
}

/// One round (engine/server_round.hpp, as the threaded server applies it), then the new model
/// to each of its senders.
void ServerRank::apply_round() {
  engine::apply_round(policy_, team_, pool_, run_, arrivals_, counts_);
  // At the end of the run the senders of this round get kStop from stop_workers() instead.
  if (!run_.stopping()) {
    for (const engine::Arrival& a : arrivals_) send_model(a.header->worker);
  }
  arrivals_.clear();
}

void ServerRank::send_model(std::size_t w) {
  MPI_Wait(&send_[w], MPI_STATUS_IGNORE);  // its previous model has left models_[w]
  post_receive(w);
  ModelMessage& model = models_[w];
  model.set_prefix(counts_.version);
  std::copy(pool_.current(), pool_.current() + params_, model.params());
  MPI_Isend(model.data(), model.bytes(), MPI_BYTE, rank_of(w), kModel, comm_, &send_[w]);
}

/// Every worker is computing (its receive is posted: it sends one more message) or waiting
/// (its post is taken): each gets kStop once its last message is in. A failure reported
/// meanwhile is thrown after every worker is stopped when `report_failure`.
void ServerRank::stop_workers(bool report_failure) {
  std::exception_ptr failure;
  for (std::size_t w = 0; w < workers_; ++w) {
    if (!taken_[w]) {
      MPI_Status status;
      MPI_Wait(&recv_[w], &status);
      int length = 0;
      MPI_Get_count(&status, MPI_BYTE, &length);
      if (status.MPI_TAG == kFailure && !failure) {
        failure = std::make_exception_ptr(WorkerFailed(rank_of(w), posts_[w].text(length)));
      }
    }
    MPI_Wait(&send_[w], MPI_STATUS_IGNORE);
    MPI_Send(nullptr, 0, MPI_BYTE, rank_of(w), kStop, comm_);
  }
  arrivals_.clear();
  if (failure && report_failure) std::rethrow_exception(failure);
}

}  // namespace dude::mpi::detail
