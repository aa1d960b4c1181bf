#include "mpi/server_rank.hpp"

#include <algorithm>
#include <exception>
#include <span>
#include <string>

#include "dude/errors.hpp"
#include "dude/mpi.hpp"

namespace dude::mpi::detail {

namespace {

/// The fold team's idle helpers spin this many polls before yielding: ranks share the
/// machine's cores with other ranks, so spin briefly.
constexpr unsigned kHelperSpins = 64;

}  // namespace

template <class Links>
ServerRank<Links>::ServerRank(MPI_Comm comm, engine::RunState& run, engine::ServerPolicy& policy,
                              const float* initial)
    : run_(run),
      policy_(policy),
      params_(policy.params()),
      workers_(run.config.workers),
      links_(comm, workers_, params_, params_),
      pool_(params_, 1),
      team_(run.config.server_threads, params_, kHelperSpins),
      headers_(workers_),
      gathered_(workers_, kNotGathered),
      posts_{std::vector<std::uint64_t>(workers_, 0),
             std::vector<std::uint64_t>(workers_, 0),
             std::vector<std::uint64_t>(workers_, 0),
             {}} {
  std::copy(initial, initial + params_, pool_.writable());
  pool_.publish(0);
  arrivals_.reserve(workers_);
}

template <class Links>
void ServerRank<Links>::serve(bool warm_start) {
  // Every worker starts from the server's model, whatever it was initialised with.
  // (The root of MPI_Bcast only reads its buffer.)
  MPI_Bcast(const_cast<float*>(pool_.current()), byte_count(params_), MPI_BYTE, 0, links_.comm());
  seeds_needed_ = warm_start ? workers_ : 0;
  const engine::ServerLeaving leaving(server_done_);
  links_.serve(
      run_, [this](std::size_t w, int tag, int length) { take(w, tag, length); },
      [this] { step(); });
  for (const engine::Arrival& a : arrivals_) ++posts_.unapplied[a.header->worker];
}

template <class Links>
std::uint64_t ServerRank<Links>::snapshot(float* out) {
  const engine::ModelPool::View view = pool_.acquire(0);
  std::copy(view.params, view.params + params_, out);
  pool_.release(0);
  return view.version;
}

template <class Links>
engine::EngineState ServerRank<Links>::save_state() {
  return state_request_.ask(server_done_, [this] { return write_state(); });
}

template <class Links>
engine::EngineState ServerRank<Links>::write_state() const {
  return engine::write_server_state(pool_, policy_, run_);
}

template <class Links>
void ServerRank<Links>::load_state(::dude::detail::StateReader& in) {
  engine::read_server_state(in, pool_, policy_, run_);
  counts_ = {run_.counters.steps.load(std::memory_order_relaxed),
             run_.counters.samples.load(std::memory_order_relaxed)};
}

template <class Links>
PostCounts ServerRank<Links>::post_counts() const {
  PostCounts counts = posts_;
  const std::span<const std::uint64_t> after_stop = links_.posts_after_stop();
  counts.after_stop.assign(after_stop.begin(), after_stop.end());
  return counts;
}

template <class Links>
void ServerRank<Links>::take(std::size_t w, int tag, int length) {
  const Post& post = links_.post(w);
  if (length != post.bytes()) {
    throw Error("MPI rank " + std::to_string(rank_of(w)) + " posted " + std::to_string(length) +
                " bytes, not the " + std::to_string(post.bytes()) +
                " of this model: every rank must train the same --model on data of the same shape");
  }
  if (tag == kSeed) {
    policy_.seed_gradient(w, post.params());
    ++seeds_;
    send_model(w);  // x0 again: no step is taken before the last seed
    return;
  }
  headers_[w] = post.prefix();
  ++posts_.read[w];
  const engine::Arrival arrival{post.params(), &headers_[w]};
  if (gathered_[w] == kNotGathered) {
    gathered_[w] = arrivals_.size();
    arrivals_.push_back(arrival);
    return;
  }
  // Newest wins: w's older post, still in the round being gathered, gives way.
  arrivals_[gathered_[w]] = arrival;
  ++posts_.overwritten[w];
}

/// Between two rounds: answers the monitor's request for a checkpoint, if any; then applies
/// the round gathered once complete. DuDe's table is filled with every worker's gradient at
/// x0 before the first step, as the threaded run's warm_start() does. A worker posts its seed and
/// waits for the reply (x0), then posts its first gradient: those that come before the last seed
/// wait in the first round.
template <class Links>
void ServerRank<Links>::step() {
  state_request_.serve([this] { return write_state(); });
  const std::size_t needed = std::max<std::size_t>(policy_.round_size(), 1);
  if (seeds_ >= seeds_needed_ && arrivals_.size() >= needed) apply_round();
}

/// One round (engine/server_round.hpp, as the threaded server applies it), then the new model
/// to each of its senders.
template <class Links>
void ServerRank<Links>::apply_round() {
  const std::size_t applied = engine::apply_round(policy_, team_, pool_, run_, arrivals_, counts_);
  for (std::size_t m = applied; m < arrivals_.size(); ++m) {
    ++posts_.unapplied[arrivals_[m].header->worker];
  }
  for (const engine::Arrival& a : arrivals_) gathered_[a.header->worker] = kNotGathered;
  // At the end of the run the senders of this round get kStop from stop_workers() instead.
  if (!run_.stopping()) {
    for (const engine::Arrival& a : arrivals_) send_model(a.header->worker);
  }
  arrivals_.clear();
}

/// The current model to w, when its transport takes a reply now (NewestLinks skips a worker
/// whose previous model has not left yet).
template <class Links>
void ServerRank<Links>::send_model(std::size_t w) {
  ModelMessage* model = links_.begin_reply(w);
  if (model == nullptr) return;
  model->set_prefix(counts_.version);
  std::copy(pool_.current(), pool_.current() + params_, model->params());
  links_.send_reply(w, params_);
}

template class ServerRank<HandoffLinks>;
template class ServerRank<NewestLinks>;

}  // namespace dude::mpi::detail
