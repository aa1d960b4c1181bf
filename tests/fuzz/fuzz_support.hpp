// fuzz_support.hpp: what the libFuzzer harnesses share (one harness per reader, fuzz_*.cpp).
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "dude/dataset.hpp"
#include "dude/errors.hpp"

namespace dude::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Runs one read of fuzzed bytes. A dude::Error is the reader rejecting bad input, the expected
/// outcome; anything else escapes and libFuzzer reports it as a crash. (An allocation too
/// large for memory is libFuzzer's out-of-memory, which run_fuzz.sh counts apart.)
template <class Read>
void expect_clean_failure(const Read& read) {
  try {
    read();
  } catch (const Error&) {
  }
}

/// Aborts (a libFuzzer crash) when a loaded data set breaks the invariants every reader promises:
/// labels within the classes, sparse rows with ascending indices within the features.
inline void check_dataset(const Dataset& data) {
  const auto require = [](bool holds) {
    if (!holds) std::abort();
  };
  for (std::size_t i = 0; i < data.rows(); ++i) require(data.label(i) < data.classes());
  if (!data.is_sparse()) return;
  for (std::size_t i = 0; i < data.rows(); ++i) {
    const SparseRow row = data.sparse_row(i);
    for (std::size_t j = 0; j < row.nnz; ++j) {
      require(row.index[j] < data.features());
      require(j == 0 || row.index[j - 1] < row.index[j]);
    }
  }
}

/// A file of this process's own for the readers that take only a path, rewritten for each
/// input and removed at exit.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& name)
      : path_((std::filesystem::temp_directory_path() /
               ("dude-fuzz-" + std::to_string(::getpid()) + "-" + name))
                  .string()) {}
  ~ScratchFile() { std::remove(path_.c_str()); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::string& path() const noexcept { return path_; }

  /// Replaces the file's contents with `bytes` and returns its path.
  const std::string& write(std::string_view bytes) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) std::abort();  // the harness itself is broken, not the reader
    return path_;
  }

 private:
  std::string path_;
};

}  // namespace dude::fuzz
