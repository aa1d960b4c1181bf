#!/usr/bin/env bash
# Throughput scaling of the asynchronous engine: samples/s and server steps/s for 1..N workers,
# for dude, asgd and hogwild, on softmax and mlp:128 over Fashion-MNIST.
#   bench/scaling.sh [DUDE_BINARY] [FASHION_MNIST_DIR] [WORKER_COUNTS] [SECONDS] [SERVER_THREADS]
# Defaults: build/tools/dude, /usr/share/datasets/fashion-mnist, 1,2 (this machine's cores), 2,
# 1 (SERVER_THREADS > 1 adds dude rows with the fold split over that many threads).
set -euo pipefail
dude=${1:-build/tools/dude}
data=${2:-/usr/share/datasets/fashion-mnist}
workers=${3:-1,2}
seconds=${4:-2}
server_threads=${5:-1}
echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for model in softmax mlp:128; do
  for algo in dude asgd hogwild; do
    echo
    "$dude" bench --train "$data/train-images-idx3-ubyte.gz" --model "$model" --algo "$algo" \
      --workers "$workers" --seconds "$seconds"
  done
  if [ "$server_threads" -gt 1 ]; then
    echo
    "$dude" bench --train "$data/train-images-idx3-ubyte.gz" --model "$model" --algo dude \
      --workers "$workers" --seconds "$seconds" --server-threads "$server_threads"
  fi
done
