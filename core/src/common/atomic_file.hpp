// atomic_file.hpp (internal): a file that appears whole or not at all, for the writers of the
// library (model files, LIBSVM text).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "dude/io.hpp"

namespace dude::detail {

/// Written to a temporary file beside the target and renamed over it by commit(), after an
/// fsync (and the folder synced after), so a reader sees the old file or the new one, never half of
/// one; removed if never committed. Every failure throws `Failure` (a dude::Error type) with a
/// message starting with the target path.
template <class Failure>
class AtomicFile {
 public:
  explicit AtomicFile(std::string path)
      : path_(std::move(path)), temporary_(path_ + ".tmp." + std::to_string(::getpid())) {
    remove_stale_temporaries(path_);
    file_ = std::fopen(temporary_.c_str(), "wb");
    if (file_ == nullptr) {
      throw Failure(path_ + ": cannot create " + temporary_ + ": " + std::strerror(errno));
    }
  }
  ~AtomicFile() {
    if (file_ != nullptr) {
      std::fclose(file_);
      std::remove(temporary_.c_str());
    }
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::string_view bytes) {
    if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) fail_writing();
  }

  void commit() {
    if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) fail_writing();
    std::FILE* f = file_;
    file_ = nullptr;
    if (std::fclose(f) != 0) {
      const int saved_errno = errno;
      std::remove(temporary_.c_str());
      throw Failure(path_ + ": cannot write " + temporary_ + ": " + std::strerror(saved_errno));
    }
    if (std::rename(temporary_.c_str(), path_.c_str()) != 0) {
      const int rename_errno = errno;
      std::remove(temporary_.c_str());
      throw Failure(
          path_ + ": cannot rename the temporary file into place: " + std::strerror(rename_errno));
    }
    sync_folder();
  }

 private:
  /// Makes the rename itself durable: without an fsync of the folder, a crash soon after can
  /// leave the folder's entry pointing at the old file (or none) although the data is on disk.
  void sync_folder() const {
    const std::size_t slash = path_.rfind('/');
    const std::string folder = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return;  // the file is in place; only its durability is not confirmed
    const int result = ::fsync(fd);
    const int saved_errno = errno;
    ::close(fd);
    // EINVAL: a file system that cannot sync folders (their entries are then synchronous).
    if (result != 0 && saved_errno != EINVAL) {
      throw Failure(path_ + ": cannot sync its folder: " + std::strerror(saved_errno));
    }
  }

  // The destructor removes the temporary file as the exception unwinds.
  [[noreturn]] void fail_writing() {
    throw Failure(path_ + ": cannot write " + temporary_ + ": " + std::strerror(errno));
  }

  std::string path_;
  std::string temporary_;
  std::FILE* file_ = nullptr;
};

}  // namespace dude::detail
