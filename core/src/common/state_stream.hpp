// state_stream.hpp (internal): the binary encoding of a run's state in a checkpoint: values
// appended in a fixed order by save(), read back in the same order by load().
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "dude/errors.hpp"

namespace dude::detail {

/// Appends values as their bytes (the checkpoint is read back by the same build's layout on
/// the same machine; the header's version and the settings digest guard the rest).
class StateWriter {
 public:
  template <class T>
  void put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    bytes_.append(reinterpret_cast<const char*>(&value), sizeof value);
  }
  /// A length, then the elements.
  template <class T>
  void put_span(std::span<const T> values) {
    static_assert(std::is_trivially_copyable_v<T>);
    put<std::uint64_t>(values.size());
    if (!values.empty()) {  // an empty span's data() may be null, which append must not see
      bytes_.append(reinterpret_cast<const char*>(values.data()), values.size_bytes());
    }
  }
  template <class T>
  void put_vector(const std::vector<T>& values) {
    put_span(std::span<const T>(values));
  }
  std::string& bytes() { return bytes_; }

 private:
  std::string bytes_;
};

/// Reads what a StateWriter wrote; any read past the end or any length that does not fit
/// throws CheckpointError (a checksum has already been checked, so this means a bug or a
/// checkpoint of another shape).
class StateReader {
 public:
  explicit StateReader(std::string_view bytes) : bytes_(bytes) {}

  template <class T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    std::array<char, sizeof(T)> raw;
    std::memcpy(raw.data(), take(sizeof(T)), sizeof(T));
    return std::bit_cast<T>(raw);
  }
  /// Reads a length-prefixed array into `out`, which must already have that length.
  template <class T>
  void get_span(std::span<T> out) {
    if (get<std::uint64_t>() != out.size())
      throw CheckpointError("checkpoint: a state's size differs");
    copy_out(out.data(), out.size_bytes());
  }
  /// Reads a length-prefixed array of at most `max` elements into `out`, resized to it.
  template <class T>
  void get_vector(std::vector<T>& out, std::size_t max) {
    const auto n = get<std::uint64_t>();
    if (n > max) throw CheckpointError("checkpoint: a state's size is out of range");
    out.resize(n);
    copy_out(out.data(), n * sizeof(T));
  }
  /// After the last value: a state longer than what was read is of another shape.
  void expect_end() const {
    if (at_ != bytes_.size()) throw CheckpointError("checkpoint: the state has bytes left over");
  }

 private:
  /// An empty array's data() may be null, which memcpy must not see even for 0 bytes.
  void copy_out(void* to, std::size_t n) {
    const char* from = take(n);
    if (n > 0) std::memcpy(to, from, n);
  }
  const char* take(std::size_t n) {
    if (n > bytes_.size() - at_) throw CheckpointError("checkpoint: the state ends early");
    const char* p = bytes_.data() + at_;
    at_ += n;
    return p;
  }

  std::string_view bytes_;
  std::size_t at_ = 0;
};

}  // namespace dude::detail
