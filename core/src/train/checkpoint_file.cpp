// Checkpoint files: a fixed header, the run's state, the caller's bytes, and an XXH3 checksum
// of all that; written through AtomicFile (temporary file, fsync, rename, folder fsync).
#include <xxhash.h>

#include <cstring>
#include <fstream>

#include "common/atomic_file.hpp"
#include "common/state_stream.hpp"
#include "dude/checkpoint.hpp"
#include "dude/errors.hpp"

namespace dude {
namespace {

constexpr char kMagic[8] = {'D', 'U', 'D', 'E', 'C', 'K', 'P', 'T'};
// 2: sparse DuDe keeps S on its active rows only (engine/lazy_dude.cpp).
constexpr std::uint32_t kVersion = 2;

struct Header {
  char magic[8];
  std::uint32_t version;
  std::uint32_t reserved;
  std::uint64_t steps;
  std::uint64_t state_bytes;
  std::uint64_t user_bytes;
};
static_assert(sizeof(Header) == 40);

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CheckpointError(path + ": cannot open the checkpoint");
  std::string bytes;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw CheckpointError(path + ": cannot read the checkpoint");
  bytes.resize(static_cast<std::size_t>(size));
  in.seekg(0);
  if (!in.read(bytes.data(), size)) throw CheckpointError(path + ": cannot read the checkpoint");
  return bytes;
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kVersion;
  h.steps = checkpoint.steps;
  h.state_bytes = checkpoint.state.size();
  h.user_bytes = checkpoint.user.size();
  XXH3_state_t* sum = XXH3_createState();
  XXH3_64bits_reset(sum);
  XXH3_64bits_update(sum, &h, sizeof h);
  XXH3_64bits_update(sum, checkpoint.state.data(), checkpoint.state.size());
  XXH3_64bits_update(sum, checkpoint.user.data(), checkpoint.user.size());
  const std::uint64_t checksum = XXH3_64bits_digest(sum);
  XXH3_freeState(sum);

  detail::AtomicFile<CheckpointError> file(path);
  file.write({reinterpret_cast<const char*>(&h), sizeof h});
  file.write(checkpoint.state);
  file.write(checkpoint.user);
  file.write({reinterpret_cast<const char*>(&checksum), sizeof checksum});
  file.commit();
}

Checkpoint load_checkpoint(const std::string& path) {
  const std::string bytes = read_whole(path);
  if (bytes.size() < sizeof(Header) + sizeof(std::uint64_t) ||
      std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    throw CheckpointError(path + ": not a dude checkpoint");
  }
  Header h;
  std::memcpy(&h, bytes.data(), sizeof h);
  if (h.version != kVersion) {
    throw CheckpointError(path + ": checkpoint version " + std::to_string(h.version) +
                          ", this build reads version " + std::to_string(kVersion));
  }
  const std::size_t body = bytes.size() - sizeof h - sizeof(std::uint64_t);
  if (h.state_bytes > body || h.user_bytes != body - h.state_bytes) {
    throw CheckpointError(path + ": the checkpoint's sizes do not match its length");
  }
  std::uint64_t checksum;
  std::memcpy(&checksum, bytes.data() + sizeof h + body, sizeof checksum);
  if (XXH3_64bits(bytes.data(), sizeof h + body) != checksum) {
    throw CheckpointError(path + ": the checkpoint's checksum fails (a damaged file)");
  }
  return Checkpoint{h.steps, bytes.substr(sizeof h, h.state_bytes),
                    bytes.substr(sizeof h + h.state_bytes, h.user_bytes)};
}

}  // namespace dude
