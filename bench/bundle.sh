#!/usr/bin/env bash
# Packs the built binaries, the shared libraries they load and Fashion-MNIST into one folder
# that runs on a machine without dude's dependencies installed (a lent many-core machine has
# g++ and CMake but not oneTBB, Highway or Google Benchmark), with a script that measures what
# needs many cores: throughput against workers with and without the split fold, the roofline,
# and time to accuracy with many workers.
#
#   bench/bundle.sh [OUT_DIR] [--build DIR] [--data DIR]
#   then on the other machine:  OUT=/some/dir OUT_DIR/run.sh [WORKER_COUNTS]
#
# Defaults: OUT_DIR .device (ignored by git), --build build, --data /usr/share/datasets/fashion-mnist.
set -euo pipefail
out=.device
build=build
data=/usr/share/datasets/fashion-mnist
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    -*) echo "bundle.sh: unknown option $1" >&2; exit 2 ;;
    *) out=$1; shift ;;
  esac
done
binaries=("$build/tools/dude" "$build/bench/dude_bench_roofline" "$build/bench/dude_bench_engine"
          "$build/bench/dude_bench_kernels")
for b in "${binaries[@]}"; do
  [ -x "$b" ] || { echo "bundle.sh: $b is not built (cmake --build $build)" >&2; exit 1; }
done
rm -rf "$out/bin" "$out/lib" "$out/data"
mkdir -p "$out/bin" "$out/lib" "$out/data"
cp "${binaries[@]}" "$out/bin/"
# Every library the binaries load except the C library and the loader, which the other machine
# has in a matching version.
ldd "${binaries[@]}" | awk '/=> \// { print $3 }' | sort -u | while read -r lib; do
  case $(basename "$lib") in
    libc.so.*|libm.so.*|ld-linux*|libpthread.so.*|libdl.so.*|librt.so.*) ;;
    *) cp -L "$lib" "$out/lib/" ;;
  esac
done
cp "$data"/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz "$out/data/"
cp bench/scaling.sh bench/time_to_accuracy.sh "$out/"
# GNU time measures each run's peak RSS; the lent machine may not have it.
cp /usr/bin/time "$out/bin/time"
cat > "$out/run.sh" <<'EOF'
#!/usr/bin/env bash
# Made by bench/bundle.sh. Writes everything it prints to $OUT/many-cores.txt as well.
set -u
cd "$(dirname "$0")"
export LD_LIBRARY_PATH=$PWD/lib
out=${OUT:-/tmp}
workers=${1:-1,2,4,8,16}
{
  echo "== machine"; nproc; grep -m1 'model name' /proc/cpuinfo; date -u
  echo "== throughput against workers (the server and waiting workers fold; then dude with one fold helper)"
  bash scaling.sh bin/dude data "$workers" 2 2
  echo "== roofline (one core)"
  bin/dude_bench_roofline --benchmark_filter='limit|logreg|server_fold|mlp128/B32|gemm_nn/32'
  echo "== server fold split (FoldRound)"
  bin/dude_bench_engine --benchmark_filter=FoldRound --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true
  echo "== time to accuracy against workers"
  bash time_to_accuracy.sh --dude bin/dude --data data --workers "$workers" --time bin/time
} 2>&1 | tee "$out/many-cores.txt"
EOF
chmod +x "$out/run.sh"
echo "bundle.sh: wrote $out ($(du -sh "$out" | cut -f1)); run it with: OUT=DIR $out/run.sh [workers]"
