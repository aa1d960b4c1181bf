#include "gzip.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <limits>
#include <new>
#include <system_error>

#include "dude/errors.hpp"
#include "dude/io.hpp"

namespace dude {
namespace detail {
namespace {

// zlib counts bytes in uInt; larger buffers are fed to it in pieces of at most this size.
constexpr std::size_t kMaxZlibSpan = std::numeric_limits<uInt>::max();

// Deflate never compresses better than about 1032:1, so a gzip trailer claiming more is
// corrupt and must not drive a huge allocation.
constexpr std::size_t kMaxDeflateRatio = 1032;

std::string errno_message() { return std::generic_category().message(errno); }

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() { ::close(fd_); }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

class InflateStream {
 public:
  InflateStream() {
    // 16 + MAX_WBITS: expect a gzip header and trailer, not a raw zlib stream.
    const int rc = inflateInit2(&stream_, 16 + MAX_WBITS);
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    if (rc != Z_OK) throw Error(std::string("zlib initialisation failed: ") + zError(rc));
  }
  InflateStream(const InflateStream&) = delete;
  InflateStream& operator=(const InflateStream&) = delete;
  ~InflateStream() { inflateEnd(&stream_); }
  z_stream& get() noexcept { return stream_; }

 private:
  z_stream stream_{};
};

// The output buffer to start with: the size the last member's trailer records (exact for the
// usual single-member file, so the output is never reallocated), within what deflate allows.
std::size_t initial_output_size(std::string_view compressed) {
  constexpr std::size_t kMinimum = 64 * 1024;
  std::size_t hint = 0;
  if (compressed.size() >= 18) {  // smallest gzip member: 10-byte header, 8-byte trailer
    const auto* tail =
        reinterpret_cast<const unsigned char*>(compressed.data()) + compressed.size() - 4;
    hint = std::size_t{tail[0]} | std::size_t{tail[1]} << 8 | std::size_t{tail[2]} << 16 |
           std::size_t{tail[3]} << 24;
  }
  hint = std::min(hint, compressed.size() * kMaxDeflateRatio);
  // One spare byte lets inflate see the end of the stream without asking for more room.
  return std::max(hint, kMinimum) + 1;
}

// Reads the raw bytes of a file, in blocks as large as the file.
std::string read_raw(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw DataError(path, "cannot open: " + errno_message());
  const FileDescriptor file(fd);

  struct stat info {};
  if (::fstat(fd, &info) != 0) throw DataError(path, "cannot open: " + errno_message());
  // Regular files get a buffer one byte larger than their size so the read that detects the
  // end needs no reallocation; pipes and devices start at 1 MiB and grow.
  std::string data;
  data.resize(S_ISREG(info.st_mode) ? static_cast<std::size_t>(info.st_size) + 1
                                    : std::size_t{1} << 20);
  std::size_t filled = 0;
  for (;;) {
    if (filled == data.size()) data.resize(data.size() * 2);
    const std::size_t want = std::min<std::size_t>(data.size() - filled, std::size_t{1} << 30);
    const ssize_t got = ::read(fd, data.data() + filled, want);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      throw DataError(path, "cannot read: " + errno_message());
    }
    filled += static_cast<std::size_t>(got);
  }
  data.resize(filled);
  return data;
}

}  // namespace

bool is_gzip(std::string_view bytes) noexcept {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

std::string inflate_gzip(std::string_view compressed, const std::string& name) {
  InflateStream inflater;
  z_stream& zs = inflater.get();
  const auto* in = reinterpret_cast<const Bytef*>(compressed.data());
  std::string out;
  out.resize(initial_output_size(compressed));
  std::size_t consumed = 0;
  std::size_t produced = 0;
  for (;;) {
    if (produced == out.size()) out.resize(out.size() * 2);
    zs.next_in = const_cast<Bytef*>(in + consumed);  // zlib's API is not const-correct
    zs.avail_in = static_cast<uInt>(std::min(compressed.size() - consumed, kMaxZlibSpan));
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(std::min(out.size() - produced, kMaxZlibSpan));
    const int rc = inflate(&zs, Z_NO_FLUSH);
    consumed = static_cast<std::size_t>(zs.next_in - in);
    produced = static_cast<std::size_t>(reinterpret_cast<char*>(zs.next_out) - out.data());

    if (rc == Z_STREAM_END) {
      if (consumed == compressed.size()) break;
      // Concatenated gzip files are one valid stream (gzip -c a b); anything else after a
      // member is not silently dropped.
      if (!is_gzip(compressed.substr(consumed))) {
        throw DataError(name, DataError::Where::ByteOffset, consumed,
                        "unexpected bytes after the end of the gzip stream");
      }
      inflateReset(&zs);
      continue;
    }
    if (rc == Z_OK || (rc == Z_BUF_ERROR && zs.avail_out == 0))
      continue;  // progress, or room needed
    if (rc == Z_BUF_ERROR) {
      throw DataError(name, DataError::Where::ByteOffset, compressed.size(),
                      "truncated gzip stream");
    }
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    throw DataError(name, DataError::Where::ByteOffset, consumed,
                    std::string("corrupt gzip data: ") + (zs.msg != nullptr ? zs.msg : zError(rc)));
  }
  out.resize(produced);
  return out;
}

std::string maybe_inflate(std::string bytes, const std::string& name) {
  if (!is_gzip(bytes)) return bytes;
  return inflate_gzip(bytes, name);
}

}  // namespace detail

std::string read_file(const std::string& path) {
  return detail::maybe_inflate(detail::read_raw(path), path);
}

}  // namespace dude
