#!/usr/bin/env bash
# Installs everything dude needs to build, test and train on a Debian 12 machine (as root, or
# with sudo). Idempotent: packages already present are left alone.
set -euo pipefail

packages=(
  g++ make cmake                 # compiler and build
  clang-format                   # the format check (tests/check_format.sh)
  clang libclang-rt-14-dev       # the clang build: ASan + UBSan and libFuzzer (.ci/run, tests/fuzz)
  libtbb-dev                     # oneTBB: parallel parsing and evaluation
  libeigen3-dev                  # Eigen: the MLP's matrix products
  libhwy-dev                     # Google Highway: SIMD kernels with run-time dispatch
  zlib1g-dev                     # gzip input (streamed)
  libdeflate-dev                 # libdeflate: gzip input inflated whole, several times faster
  libxxhash-dev                  # xxHash (XXH3): hashed features of fastText text
  libcli11-dev                   # CLI11: the command line
  nlohmann-json3-dev             # JSON Lines metrics
  catch2                         # Catch2 v2: tests
  relacy-dev                     # Relacy: model checks of the lock-free protocols
  libbenchmark-dev               # Google Benchmark: micro benchmarks
  libopenmpi-dev openmpi-bin     # Open MPI: the MPI backend (dude::mpi, --backend mpi) and its tests
  dataset-fashion-mnist          # Fashion-MNIST in IDX format, the main data set
  python3-matplotlib             # plots of dude compare (tools/plot_compare.py)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
