#include "data/byte_stream.hpp"

#include <fcntl.h>
#include <libdeflate.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <system_error>
#include <utility>

#include "data/text_parse.hpp"
#include "dude/errors.hpp"
#include "dude/io.hpp"

namespace dude {
namespace detail {
namespace {

// Files are read in blocks of this size: large enough that system calls cost nothing next to
// inflating, small enough not to matter next to the data.
constexpr std::size_t kBlockSize = std::size_t{1} << 20;

// The largest single read(2): Linux transfers at most about 2 GiB per call.
constexpr std::size_t kMaxReadSpan = std::size_t{1} << 30;

// zlib counts bytes in uInt; larger buffers are fed to it in pieces of at most this size.
constexpr std::size_t kMaxZlibSpan = std::numeric_limits<uInt>::max();

// A gzip trailer records the inflated size, but it is garbage once a file is cut short, so it
// is trusted only up to this ratio to the compressed size (text rarely compresses better);
// a stream that inflates to more grows its buffer as it goes.
constexpr std::size_t kMaxTrustedRatio = 16;

// The smallest gzip member: a 10-byte header and an 8-byte trailer.
constexpr std::size_t kMinGzipSize = 18;

std::string errno_message() { return std::generic_category().message(errno); }

bool is_gzip(std::string_view bytes) noexcept {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

// The inflated size the last 4 bytes of a gzip stream of `compressed_size` bytes record
// (modulo 2^32), within the ratio trusted.
std::size_t gzip_size_hint(const char* trailer_end, std::size_t compressed_size) {
  if (compressed_size < kMinGzipSize) return 0;
  const auto* tail = reinterpret_cast<const unsigned char*>(trailer_end) - 4;
  const std::size_t recorded = std::size_t{tail[0]} | std::size_t{tail[1]} << 8 |
                               std::size_t{tail[2]} << 16 | std::size_t{tail[3]} << 24;
  return std::min(recorded, compressed_size * kMaxTrustedRatio);
}

// Whole streams are read this many bytes at a time, each piece checked as it arrives.
constexpr std::size_t kPieceSize = std::size_t{1} << 20;

// Checks each piece of a stream read whole against ReadLimits as it arrives.
class PieceChecker {
 public:
  PieceChecker(const ReadLimits& limits, const std::string& name) : limits_(limits), name_(name) {}

  // Checks text[begin, end), the newest piece of `text`.
  void check(std::string_view text, std::size_t begin, std::size_t end) {
    const std::string_view piece = text.substr(begin, end - begin);
    if (limits_.nul_refused_in != nullptr) {
      if (const auto nul = piece.find('\0'); nul != std::string_view::npos) {
        throw DataError(name_, DataError::Where::Line, line_number(text, begin + nul),
                        "a NUL byte (byte " + std::to_string(begin + nul) + " of the text): not " +
                            limits_.nul_refused_in + " text");
      }
    }
    if (limits_.max_line_bytes == 0) return;
    // Only the line running on from the previous piece and the one left open can be long:
    // those in between are shorter than a piece.
    const auto first = piece.find('\n');
    if (end - line_start_ > limits_.max_line_bytes &&
        (first == std::string_view::npos || begin + first - line_start_ > limits_.max_line_bytes)) {
      throw DataError(name_, DataError::Where::Line, line_number(text, line_start_),
                      "a line longer than " + format_bytes(limits_.max_line_bytes) +
                          ", the most a line may hold");
    }
    if (first != std::string_view::npos) line_start_ = begin + piece.rfind('\n') + 1;
  }

 private:
  const ReadLimits& limits_;
  const std::string& name_;
  std::size_t line_start_ = 0;  // where the line left open by the pieces so far starts
};

[[noreturn]] void refuse_size(const ByteStream& stream, std::uint64_t bytes, std::uint64_t limit) {
  const bool exact = !stream.inflates();
  throw MemoryLimitError(stream.name(), DataError::Where::File, 0,
                         exact ? "the file" : "the inflated file", bytes, limit, !exact);
}

}  // namespace

void TextBuffer::Free::operator()(char* p) const noexcept { std::free(p); }

void TextBuffer::reserve(std::size_t capacity) {
  if (capacity <= capacity_) return;
  void* grown = std::realloc(data_.get(), capacity);
  if (grown == nullptr) throw std::bad_alloc();
  (void)data_.release();  // realloc freed or kept it
  data_.reset(static_cast<char*>(grown));
  capacity_ = capacity;
}

TextBuffer read_all(ByteStream& stream, const ReadLimits& limits) {
  // The size of a plain file is known: one larger than the limit is not read at all.
  if (!stream.inflates() && stream.size_hint() > limits.max_bytes) {
    refuse_size(stream, stream.size_hint(), limits.max_bytes);
  }
  constexpr std::size_t kMinimum = 64 * 1024;
  // One byte over the limit is all it takes to know it is broken.
  const std::size_t most = static_cast<std::size_t>(
      std::min<std::uint64_t>(limits.max_bytes, std::numeric_limits<std::size_t>::max() - 1) + 1);
  TextBuffer text;
  PieceChecker checker(limits, stream.name());
  if (stream.inflate_whole(text, most - 1)) {
    const std::size_t size = text.view().size();
    for (std::size_t begin = 0; begin < size; begin += kPieceSize) {
      checker.check(text.view(), begin, std::min(size, begin + kPieceSize));
    }
    return text;
  }
  // One spare byte lets the read that finds the end do so without asking for more room.
  text.reserve(std::min(std::max(stream.size_hint(), kMinimum) + 1, most));
  for (;;) {
    const std::size_t filled = text.view().size();
    if (text.room() == 0) {
      if (filled == most) refuse_size(stream, limits.max_bytes, limits.max_bytes);
      text.reserve(filled > most / 2 ? most : filled * 2);
    }
    const std::size_t want = std::min(text.room(), kPieceSize);
    const std::size_t got = stream.read(text.end(), want);
    text.grow(got);
    checker.check(text.view(), filled, filled + got);
    if (got < want) break;  // a short read: the end of the data
  }
  return text;
}

class ByteStream::Inflater {
 public:
  Inflater() {
    // 16 + MAX_WBITS: expect a gzip header and trailer, not a raw zlib stream.
    const int rc = inflateInit2(&stream_, 16 + MAX_WBITS);
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    if (rc != Z_OK) throw Error(std::string("zlib initialisation failed: ") + zError(rc));
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  ~Inflater() { inflateEnd(&stream_); }
  z_stream& get() noexcept { return stream_; }

 private:
  z_stream stream_{};
};

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

ByteStream::ByteStream(const std::string& path)
    : name_(path), file_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
  if (file_.get() < 0) throw DataError(path, "cannot open: " + errno_message());
  struct stat info {};
  if (::fstat(file_.get(), &info) != 0) throw DataError(path, "cannot open: " + errno_message());
  block_.resize(kBlockSize);
  next_ = end_ = block_.data();
  const bool regular = S_ISREG(info.st_mode);
  const auto file_size = static_cast<std::size_t>(info.st_size);
  if (regular) compressed_size_ = file_size;
  if (fill(2) && is_gzip(std::string_view(next_, 2))) {
    inflater_ = std::make_unique<Inflater>();
    // The trailer of a regular file can be read ahead; pipes and devices give no hint.
    char trailer[4];
    if (regular && file_size >= kMinGzipSize &&
        ::pread(file_.get(), trailer, sizeof trailer,
                static_cast<off_t>(file_size - sizeof trailer)) ==
            static_cast<ssize_t>(sizeof trailer)) {
      size_hint_ = gzip_size_hint(trailer + sizeof trailer, file_size);
    }
  } else if (regular) {
    size_hint_ = file_size;
  }
}

ByteStream::ByteStream(std::string_view bytes, std::string name, Encoding encoding)
    : name_(std::move(name)),
      next_(bytes.data()),
      end_(bytes.data() + bytes.size()),
      end_offset_(bytes.size()),
      compressed_size_(bytes.size()) {
  if (encoding == Encoding::Gzip) {
    inflater_ = std::make_unique<Inflater>();
    size_hint_ = gzip_size_hint(end_, bytes.size());
  } else {
    size_hint_ = bytes.size();
  }
}

ByteStream::~ByteStream() = default;

std::size_t ByteStream::read(char* dst, std::size_t n) {
  if (!started_ && inflater_) {
    auto whole = std::make_unique<TextBuffer>();
    if (inflate_whole(*whole, kWholeInflateBytes)) whole_ = std::move(whole);
  }
  started_ = true;
  if (whole_) {
    const std::string_view rest = whole_->view().substr(whole_next_);
    const std::size_t copied = std::min(n, rest.size());
    std::memcpy(dst, rest.data(), copied);
    whole_next_ += copied;
    return copied;
  }
  return inflater_ ? inflate_to(dst, n) : copy_to(dst, n);
}

bool ByteStream::inflate_whole(TextBuffer& text, std::size_t most) {
  if (!inflater_ || started_ || size_hint_ == 0 || compressed_size_ == 0 || size_hint_ > most ||
      compressed_size_ > most - size_hint_) {
    return false;
  }
  std::vector<char> owned;  // a file's compressed bytes, read beside the stream's own block
  std::string_view in(next_, static_cast<std::size_t>(end_ - next_));
  if (file_.get() >= 0) {
    owned.resize(compressed_size_);
    std::size_t got = 0;
    while (got < owned.size()) {
      const ssize_t n =
          ::pread(file_.get(), owned.data() + got, std::min(owned.size() - got, kMaxReadSpan),
                  static_cast<off_t>(got));
      if (n <= 0) return false;  // changed under us, or unreadable: the stream says which
      got += static_cast<std::size_t>(n);
    }
    in = std::string_view(owned.data(), owned.size());
  }
  text.reserve(size_hint_ + 1);
  libdeflate_decompressor* inflater = libdeflate_alloc_decompressor();
  if (inflater == nullptr) throw std::bad_alloc();
  std::size_t in_used = 0, out_used = 0;
  const libdeflate_result rc = libdeflate_gzip_decompress_ex(
      inflater, in.data(), in.size(), text.end(), size_hint_, &in_used, &out_used);
  libdeflate_free_decompressor(inflater);
  if (rc != LIBDEFLATE_SUCCESS || in_used != in.size() || out_used != size_hint_) return false;
  text.grow(out_used);
  gzip_state_ = GzipState::Done;  // read() hands out nothing more
  started_ = true;
  return true;
}

std::size_t ByteStream::copy_to(char* dst, std::size_t n) {
  const std::size_t buffered = std::min(n, static_cast<std::size_t>(end_ - next_));
  if (buffered != 0) std::memcpy(dst, next_, buffered);
  next_ += buffered;
  // The rest goes straight from the file to `dst`, not through the block.
  std::size_t copied = buffered;
  while (copied < n) {
    const std::size_t got = read_raw(dst + copied, n - copied);
    if (got == 0) break;
    copied += got;
  }
  return copied;
}

std::size_t ByteStream::inflate_to(char* dst, std::size_t n) {
  z_stream& zs = inflater_->get();
  std::size_t produced = 0;
  while (produced < n && gzip_state_ != GzipState::Done) {
    if (gzip_state_ == GzipState::AfterMember) {
      if (!fill(1)) {
        gzip_state_ = GzipState::Done;
        break;
      }
      // Concatenated gzip files are one valid stream (gzip -c a b); anything else after a
      // member is not silently dropped.
      if (!fill(2) || !is_gzip(std::string_view(next_, 2))) {
        throw DataError(name_, DataError::Where::ByteOffset, offset(),
                        "unexpected bytes after the end of the gzip stream");
      }
      inflateReset(&zs);
      gzip_state_ = GzipState::InMember;
    }
    if (next_ == end_ && !fill(1)) {
      throw DataError(name_, DataError::Where::ByteOffset, end_offset_, "truncated gzip stream");
    }
    // zlib's API is not const-correct: it never writes through next_in.
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(next_));
    zs.avail_in = static_cast<uInt>(std::min(static_cast<std::size_t>(end_ - next_), kMaxZlibSpan));
    zs.next_out = reinterpret_cast<Bytef*>(dst + produced);
    zs.avail_out = static_cast<uInt>(std::min(n - produced, kMaxZlibSpan));
    const int rc = inflate(&zs, Z_NO_FLUSH);
    next_ = reinterpret_cast<const char*>(zs.next_in);
    produced = static_cast<std::size_t>(reinterpret_cast<char*>(zs.next_out) - dst);

    if (rc == Z_STREAM_END) {
      gzip_state_ = GzipState::AfterMember;
      continue;
    }
    // Z_BUF_ERROR only says no progress was possible: more input is read above, more room is
    // the next call's.
    if (rc == Z_OK || (rc == Z_BUF_ERROR && (zs.avail_in == 0 || zs.avail_out == 0))) continue;
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    throw DataError(name_, DataError::Where::ByteOffset, offset(),
                    std::string("corrupt gzip data: ") + (zs.msg != nullptr ? zs.msg : zError(rc)));
  }
  return produced;
}

bool ByteStream::fill(std::size_t count) {
  while (static_cast<std::size_t>(end_ - next_) < count) {
    if (file_.get() < 0 || eof_) return false;
    // The few bytes left (fewer than `count`) move to the front of the block, and the rest
    // of it is read after them.
    const auto kept = static_cast<std::size_t>(end_ - next_);
    if (kept != 0) std::memmove(block_.data(), next_, kept);
    next_ = block_.data();
    end_ = next_ + kept;
    const std::size_t got = read_raw(block_.data() + kept, block_.size() - kept);
    end_ += got;
    end_offset_ += got;
  }
  return true;
}

std::size_t ByteStream::read_raw(char* dst, std::size_t n) {
  if (file_.get() < 0 || eof_) return 0;
  for (;;) {
    const ssize_t got = ::read(file_.get(), dst, std::min(n, kMaxReadSpan));
    if (got > 0) return static_cast<std::size_t>(got);
    if (got == 0) {
      eof_ = true;
      return 0;
    }
    if (errno != EINTR) throw DataError(name_, "cannot read: " + errno_message());
  }
}

std::string inflate_gzip(std::string_view compressed, const std::string& name) {
  ByteStream stream(compressed, name, Encoding::Gzip);
  return std::string(read_all(stream, {std::numeric_limits<std::uint64_t>::max()}).view());
}

}  // namespace detail

std::string read_file(const std::string& path, std::uint64_t max_memory) {
  detail::ByteStream stream(path);
  return std::string(detail::read_all(stream, {max_memory}).view());
}

}  // namespace dude
