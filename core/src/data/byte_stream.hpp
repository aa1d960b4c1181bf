// byte_stream.hpp: byte streams over files and memory with transparent gzip decompression, for the
// loaders (internal).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dude::detail {

/// Owns an open file descriptor (-1: none) and closes it.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd = -1) noexcept : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor();
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

class TextBuffer;

/// How the bytes a ByteStream reads from memory are encoded.
enum class Encoding { Plain, Gzip };

/// The bytes of a file or of a buffer in memory, handed out in order; gzip data (one or more
/// members) is inflated on the way. Files are read in blocks, so neither their compressed nor
/// their inflated bytes are held whole, but by inflate_whole. Throws DataError naming the file when
/// it cannot be read, and with the compressed byte offset when the gzip stream is truncated,
/// corrupt, or followed by bytes that are not another gzip member.
class ByteStream {
 public:
  /// Opens `path` (a DataError if it cannot); its bytes are inflated when they start with the
  /// gzip magic 1f 8b.
  explicit ByteStream(const std::string& path);
  /// Reads `bytes`, which must outlive the stream; `name` is the name used in errors.
  ByteStream(std::string_view bytes, std::string name, Encoding encoding);
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;
  ~ByteStream();

  /// Copies the next `n` bytes to `dst` and returns how many it copied: fewer than `n` only
  /// at the end of the data, 0 from then on. A gzip stream of at most kWholeInflateBytes is
  /// inflated whole at the first read (inflate_whole), then handed out from memory.
  std::size_t read(char* dst, std::size_t n);
  static constexpr std::size_t kWholeInflateBytes = std::size_t{1} << 30;

  /// How many bytes the stream is expected to hand out in all, 0 when unknown: the size of the
  /// file or buffer, or for gzip the size the last member's trailer records (exact for the
  /// usual single-member file), within what deflate can produce. A hint, not a promise.
  std::size_t size_hint() const noexcept { return size_hint_; }
  /// Whether the bytes are inflated, so that size_hint() is only a hint.
  bool inflates() const noexcept { return inflater_ != nullptr; }
  /// The name used in errors.
  const std::string& name() const noexcept { return name_; }

  /// Inflates all of a single-member gzip stream in one call (libdeflate, several times zlib's
  /// speed) into `text`, when nothing has been read yet and the trailer gives a size of at most
  /// `most` bytes, the compressed bytes fitting beside it. Returns false, having consumed
  /// nothing, when the stream is not such a one or does not inflate to exactly the size the
  /// trailer records (several members, a cut or corrupt file): read() then goes on as if this
  /// had not been called, and reports what is wrong.
  bool inflate_whole(TextBuffer& text, std::size_t most);

 private:
  class Inflater;
  enum class GzipState { InMember, AfterMember, Done };

  std::size_t copy_to(char* dst, std::size_t n);
  std::size_t inflate_to(char* dst, std::size_t n);
  /// Makes at least `count` raw bytes available in [next_, end_), reading blocks of the file
  /// as needed; false when the data ends first.
  bool fill(std::size_t count);
  /// One read(2) of at most `n` raw bytes of the file; 0 at its end (or for memory).
  std::size_t read_raw(char* dst, std::size_t n);
  /// The raw (compressed) byte offset of next_.
  std::uint64_t offset() const noexcept {
    return end_offset_ - static_cast<std::uint64_t>(end_ - next_);
  }

  std::string name_;
  FileDescriptor file_;         // -1 for memory
  bool eof_ = false;            // the file's end has been read
  std::vector<char> block_;     // raw bytes read from the file
  const char* next_ = nullptr;  // the raw bytes read but not yet used: [next_, end_)
  const char* end_ = nullptr;
  std::uint64_t end_offset_ = 0;        // the raw byte offset of end_
  std::unique_ptr<Inflater> inflater_;  // null for plain data
  GzipState gzip_state_ = GzipState::InMember;
  std::size_t size_hint_ = 0;
  std::size_t compressed_size_ = 0;    // a regular file's or the buffer's size; 0: unknown
  bool started_ = false;               // read() or inflate_whole() has been called
  std::unique_ptr<TextBuffer> whole_;  // the bytes inflate_whole() gave read(), if it did
  std::size_t whole_next_ = 0;         // the first of them not yet handed out
};

/// What reading a whole stream refuses, as soon as it has read it.
struct ReadLimits {
  std::uint64_t max_bytes;  // more is a MemoryLimitError
  /// 0: lines are not looked at; otherwise a longer line (without its '\n') is a DataError.
  std::size_t max_line_bytes = 0;
  /// The format whose text a NUL byte can never be ("LIBSVM"), named in the DataError; null:
  /// NUL bytes are allowed.
  const char* nul_refused_in = nullptr;
};

/// Bytes read whole into memory. Their room comes from malloc, which leaves the pages of a large
/// buffer untouched (costing no memory) until the bytes reach them and grows it by remapping
/// (realloc), so that room reserved from a size hint costs nothing where the hint is wrong.
class TextBuffer {
 public:
  std::string_view view() const noexcept { return {data_.get(), size_}; }
  /// Room for at least `capacity` bytes, keeping the bytes held; throws std::bad_alloc.
  void reserve(std::size_t capacity);
  char* end() noexcept { return data_.get() + size_; }
  std::size_t room() const noexcept { return capacity_ - size_; }
  /// Counts `n` more bytes, written at end(), as held.
  void grow(std::size_t n) noexcept { size_ += n; }

 private:
  struct Free {
    void operator()(char* p) const noexcept;
  };
  std::unique_ptr<char, Free> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

/// Reads all of a stream within `limits`. The bytes are checked as they arrive, so that a
/// file that breaks a limit is refused after reading little more than the limit allows.
TextBuffer read_all(ByteStream& stream, const ReadLimits& limits);

/// Inflates a gzip stream of one or more members held in memory. Throws DataError naming
/// `name` and the compressed byte offset when the stream is truncated, corrupt, or followed by
/// other bytes.
std::string inflate_gzip(std::string_view compressed, const std::string& name);

}  // namespace dude::detail
