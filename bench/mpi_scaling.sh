#!/usr/bin/env bash
# Server updates per second and bytes per update of `dude train --backend mpi` (DuDe, one
# worker per rank, mpiexec on this machine) against the worker count, beside the same run with
# threads (--workers N). Each run trains for a fixed time; updates/s is its server steps over
# its wall time. A DuDe step applies one gradient: the worker sends its header and gradient
# (32 + 4d bytes) and gets the version and model back (8 + 4d bytes), d the parameter count.
# With more ranks than cores mpiexec oversubscribes them: say so next to the figures.
# Usage: bench/mpi_scaling.sh [dude] [Fashion-MNIST dir] [worker counts] [seconds] [models]
set -euo pipefail
dude=${1:-build/tools/dude}
data=${2:-/usr/share/datasets/fashion-mnist}
counts=${3:-2,4,8}
seconds=${4:-5}
models=${5:-softmax,mlp:128}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

train=(train --train "$data/train-images-idx3-ubyte.gz" --test "$data/t10k-images-idx3-ubyte.gz"
       --algo dude --seconds "$seconds" --quiet)

# Parameters of MODEL over FEATURES inputs and CLASSES outputs (logreg has one output).
params_of() {
  awk -v spec="$1" -v f="$2" -v c="$3" 'BEGIN {
    if (spec == "logreg") { print f + 1; exit }
    n = 0; inputs = f
    if (spec ~ /^mlp:/) {
      k = split(substr(spec, 5), widths, ",")
      for (i = 1; i <= k; ++i) { n += inputs * widths[i] + widths[i]; inputs = widths[i] }
    }
    print n + inputs * c + c }'
}

echo "| model | workers | backend | server updates/s | bytes per update | test accuracy |"
echo "| --- | --- | --- | --- | --- | --- |"
for model in ${models//,/ }; do
  for n in ${counts//,/ }; do
    for backend in mpi threads; do
      if [ "$backend" = mpi ]; then
        out=$(mpiexec --allow-run-as-root --oversubscribe -np $((n + 1)) "$dude" "${train[@]}" \
          --model "$model" --backend mpi)
      else
        out=$("$dude" "${train[@]}" --model "$model" --workers "$n")
      fi
      summary=$(grep '^train rows' <<<"$out")
      features=$(sed -E 's/.*features: ([0-9]+).*/\1/' <<<"$summary")
      classes=$(sed -E 's/.*classes: ([0-9]+).*/\1/' <<<"$summary")
      steps=$(sed -E 's/.*steps: ([0-9]+).*/\1/' <<<"$summary")
      time=$(sed -E 's/.*time: ([0-9.]+)s.*/\1/' <<<"$summary")
      accuracy=$(sed -n 's/^test accuracy: //p' <<<"$out")
      d=$(params_of "$model" "$features" "$classes")
      bytes=$([ "$backend" = mpi ] && echo $((32 + 4 * d + 8 + 4 * d)) || echo "-")
      rate=$(awk -v s="$steps" -v t="$time" 'BEGIN { printf "%.0f", s / t }')
      echo "| $model | $n | $backend | $rate | $bytes | $accuracy |"
    done
  done
done
