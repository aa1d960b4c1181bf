// wire.hpp (internal): the messages between the server rank and the worker ranks, and the
// buffers they travel in.
//
//   worker -> server   kSeed      header + gradient at x0 (DuDe's warm start), once first
//                      kGradient  header + gradient
//                      kFailure   the text of the worker's exception
//   server -> worker   kModel     version + model, the reply to a kSeed or kGradient
//                      kStop      nothing, the reply to anything once the run is over
//
// Each worker message waits for its reply before the next is sent.
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
#include <string>
#include <type_traits>

#include "common/aligned_buffer.hpp"
#include "dude/errors.hpp"
#include "engine/gradient_slot.hpp"

namespace dude::mpi::detail {

enum Tag : int { kSeed = 1, kGradient = 2, kFailure = 3, kModel = 4, kStop = 5 };

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

/// MPI_COMM_WORLD's rank of worker w, and back.
inline int rank_of(std::size_t worker) { return static_cast<int>(worker) + 1; }

}  // namespace dude::mpi::detail
