// wire.hpp (internal): the messages between the server rank and the worker ranks, and the
// buffers they travel in.
//
// Dense data, every message O(d):
//   worker -> server   kSeed      header + gradient at x0 (DuDe's warm start), once first
//                      kGradient  header + gradient
//                      kFailure   the text of the worker's exception
//   server -> worker   kModel     version + model, the reply to a kSeed or kGradient
//                      kStop      nothing, the reply to anything once the run is over
//
// Dense data, newest wins (AsyncConfig::newest_wins(); newest_links.hpp):
//   worker -> server   kSeed, kGradient, kFailure as above, the posts by MPI_Issend; a
//                      gradient finished while the post before is still on its way is not
//                      sent (overwritten)
//                      kStop      nothing, the worker's last message: its answer to kStop
//   server -> worker   kModel     version + model, after a round that applied the worker's
//                      post (and the reply to its seed), skipped while its previous kModel
//                      is still on its way; the worker computes on without waiting for it
//                      kStop      nothing, once the run is over
//
// Sparse data, every message O(nnz x width + tail), the protocol of the threaded sparse engine
// (engine/sparse_server_engine.hpp): the worker pulls the model of its next minibatch only.
//   worker -> server   kPull      counts + the features of its first minibatch, once first
//                      kSeed      counts + gradient at x0 + the features of its next minibatch
//                      kGradient  counts + gradient + the features of its next minibatch
//                      kFailure   as above
//   server -> worker   kModel     version + the model on those features (features x width,
//                                 ascending) + the tail
//                      kStop      as above
// A sparse post is SparseCounts, then the gradient's rows (ascending feature ids), the
// features (ascending), the gradient's values (rows x width) and its tail, packed in that
// order: the counts say where each part ends and how long the message is. Receive buffers
// are sized for the largest message (sparse_post_floats): a minibatch touches at most
// min(d, widest row x batch) features, the widest row over every rank's data (an allreduce
// before the run), and a gradient's rows are some of them.
//
// Under hand-off each worker message waits for its reply before the next is sent.
//
// Every rank runs the same build on the same kind of machine (mpirun starts one program), so
// headers and versions travel as their bytes.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "common/aligned_buffer.hpp"
#include "dude/async.hpp"
#include "dude/errors.hpp"
#include "engine/gradient_slot.hpp"
#include "engine/sparse_policy.hpp"

namespace dude::mpi::detail {

enum Tag : int { kSeed = 1, kGradient = 2, kFailure = 3, kModel = 4, kStop = 5, kPull = 6 };

/// A failure's text is cut to this many bytes.
inline constexpr std::size_t kFailureBytes = 1024;

/// An MPI count of `floats` floats in bytes; throws ConfigError past what one message holds.
inline int byte_count(std::size_t floats) {
  if (floats > static_cast<std::size_t>(INT_MAX) / sizeof(float)) {
    throw ConfigError("model: " + std::to_string(floats) +
                      " floats do not fit one MPI message (2 GiB)");
  }
  return static_cast<int>(floats * sizeof(float));
}

/// A message in one aligned array of floats: a prefix of `Prefix`'s bytes (the header of a
/// post, the version of a model), then `params` floats. Large enough for a failure's text.
template <class Prefix>
class Message {
  static_assert(std::is_trivially_copyable_v<Prefix>);

 public:
  static constexpr std::size_t kPrefixFloats = (sizeof(Prefix) + sizeof(float) - 1) / sizeof(float);

  explicit Message(std::size_t params)
      : params_(params),
        storage_(std::max(kPrefixFloats + params, kFailureBytes / sizeof(float))) {}

  Prefix prefix() const noexcept {
    Prefix p;
    std::memcpy(static_cast<void*>(&p), storage_.data(), sizeof p);
    return p;
  }
  void set_prefix(const Prefix& p) noexcept { std::memcpy(storage_.data(), &p, sizeof p); }
  float* params() noexcept { return storage_.data() + kPrefixFloats; }
  const float* params() const noexcept { return storage_.data() + kPrefixFloats; }
  /// The whole message (prefix and parameters), for MPI_Isend and MPI_Irecv.
  void* data() noexcept { return storage_.data(); }
  int bytes() const { return bytes_for(params_); }
  /// The bytes of a message of `params` parameters (at most the buffer's).
  static int bytes_for(std::size_t params) { return byte_count(kPrefixFloats + params); }
  /// What a receive may take at most: the message, or a failure's text.
  int capacity() const { return byte_count(storage_.size()); }
  /// A failure's text, of `length` bytes.
  std::string text(int length) const {
    return std::string(reinterpret_cast<const char*>(storage_.data()),
                       static_cast<std::size_t>(std::clamp(length, 0, capacity())));
  }

 private:
  std::size_t params_;
  engine::AlignedFloats storage_;
};

using Post = Message<engine::GradientHeader>;
using ModelMessage = Message<std::uint64_t>;

/// The prefix of a sparse post: its header and the length of each part.
struct SparseCounts {
  engine::GradientHeader header;
  std::uint32_t rows = 0;      // the gradient's first-layer rows (0 in a kPull)
  std::uint32_t features = 0;  // the features of the sender's next minibatch
  std::uint32_t tail = 0;      // the gradient's tail floats (0 in a kPull)
};
using SparsePostMessage = Message<SparseCounts>;
static_assert(sizeof(std::uint32_t) == sizeof(float), "a feature id travels in a float's place");

/// Floats after the prefix of a sparse post with these counts (ids take a float's 4 bytes).
inline std::size_t sparse_payload(const SparseCounts& c, std::size_t width) {
  return std::size_t{c.rows} * (1 + width) + c.features + c.tail;
}
/// The most a sparse post's payload takes: `features` per minibatch at most, rows of `width`.
inline std::size_t sparse_post_floats(std::size_t features, std::size_t width, std::size_t tail) {
  return sparse_payload({{},
                         static_cast<std::uint32_t>(features),
                         static_cast<std::uint32_t>(features),
                         static_cast<std::uint32_t>(tail)},
                        width);
}

/// Writes a sparse post into `out`: `gradient` (none in a kPull) and the next `features`;
/// returns its bytes. Throws Error when they do not fit `out` (a minibatch wider than the
/// bound the buffers were sized for).
inline int pack_sparse(SparsePostMessage& out, const engine::GradientHeader& header,
                       const engine::SparsePost* gradient,
                       std::span<const std::uint32_t> features) {
  SparseCounts c{header, 0, static_cast<std::uint32_t>(features.size()), 0};
  std::size_t floats = features.size();
  if (gradient != nullptr) {
    c.rows = static_cast<std::uint32_t>(gradient->rows.size());
    c.tail = static_cast<std::uint32_t>(gradient->tail.size());
    floats += gradient->rows.size() + gradient->values.size() + gradient->tail.size();
  }
  if (SparsePostMessage::bytes_for(floats) > out.capacity()) {
    throw Error("MPI: a sparse post of " + std::to_string(floats) +
                " floats does not fit its buffer: every rank must agree on the widest row");
  }
  float* at = out.params();
  out.set_prefix(c);
  const auto put = [&at](const auto& part) {
    std::memcpy(at, part.data(), part.size() * sizeof(float));
    at += part.size();
  };
  if (gradient != nullptr) put(gradient->rows);
  put(features);
  if (gradient != nullptr) {
    put(gradient->values);
    put(gradient->tail);
  }
  return SparsePostMessage::bytes_for(static_cast<std::size_t>(at - out.params()));
}

/// Reads a sparse post back: its features into `features`, and its gradient (when it has one)
/// into `gradient`, whose rows are `width` floats.
inline void unpack_sparse(const SparsePostMessage& in, std::size_t width,
                          std::vector<std::uint32_t>& features, engine::SparsePost& gradient) {
  const SparseCounts c = in.prefix();
  const float* at = in.params();
  const auto get = [&at](auto& part, std::size_t size) {
    part.resize(size);
    std::memcpy(part.data(), at, size * sizeof(float));
    at += size;
  };
  get(gradient.rows, c.rows);
  get(features, c.features);
  get(gradient.values, std::size_t{c.rows} * width);
  get(gradient.tail, c.tail);
}

/// MPI_COMM_WORLD's rank of worker w, and back.
inline int rank_of(std::size_t worker) { return static_cast<int>(worker) + 1; }

}  // namespace dude::mpi::detail
