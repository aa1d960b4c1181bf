#!/usr/bin/env bash
# Server updates per second and bytes per update of `dude train --backend mpi` (DuDe, one
# worker per rank, mpiexec on this machine) against the worker count, beside the same run with
# threads (--workers N). Each run trains for a fixed time; updates/s is its server steps over
# its wall time. A DuDe step applies one gradient: on dense data (Fashion-MNIST) the worker
# sends its header and gradient (32 + 4d bytes) and gets the version and model back (8 + 4d
# bytes), d the parameter count. On sparse data (the Brown corpus, fastText format, the
# README's recipe: one epoch) a post is its minibatch's non-zeros and a reply the model on
# them, sizes that vary with each minibatch: the bytes per update are measured, every rank's
# point-to-point bytes sent (Open MPI's pml monitoring) over the server's steps.
# With more ranks than cores mpiexec oversubscribes them: say so next to the figures.
# Usage: bench/mpi_scaling.sh [dude] [Fashion-MNIST dir] [worker counts] [seconds] [models]
#                             [Brown dir]
# models "none" skips Fashion-MNIST; a Brown dir without train.ft skips Brown.
set -euo pipefail
dude=${1:-build/tools/dude}
data=${2:-/usr/share/datasets/fashion-mnist}
counts=${3:-2,4,8}
seconds=${4:-5}
models=${5:-softmax,mlp:128}
brown=${6:-$HOME/.cache/dude/brown}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
on_ranks() { mpiexec --allow-run-as-root --oversubscribe -np "$@"; }

train=(train --train "$data/train-images-idx3-ubyte.gz" --test "$data/t10k-images-idx3-ubyte.gz"
       --algo dude --seconds "$seconds" --quiet)
brown_train=(train --train "$brown/train.ft" --test "$brown/test.ft" --model softmax
             --hash-bits 20 --batch 8 --lr 2 --epochs 1 --algo dude --quiet)

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
# A field of the summary line in $1 (dude train's output): features, classes, steps, time.
field() { grep '^train rows' <<<"$1" | sed -E "s/.*$2: ([0-9.]+).*/\1/"; }
# The table row of the run whose output is $4: model $1, $2 workers, backend $3, $5 bytes.
row() {
  local rate accuracy
  rate=$(awk -v s="$(field "$4" steps)" -v t="$(field "$4" time)" 'BEGIN { printf "%.0f", s / t }')
  accuracy=$(sed -n 's/^test accuracy: //p' <<<"$4")
  echo "| $1 | $2 | $3 | $rate | $5 | $accuracy |"
}

echo "| model | workers | backend | server updates/s | bytes per update | test accuracy |"
echo "| --- | --- | --- | --- | --- | --- |"
if [ "$models" != none ]; then
  for model in ${models//,/ }; do
    for n in ${counts//,/ }; do
      out=$(on_ranks $((n + 1)) "$dude" "${train[@]}" --model "$model" --backend mpi)
      d=$(params_of "$model" "$(field "$out" features)" "$(field "$out" classes)")
      row "$model" "$n" mpi "$out" $((32 + 4 * d + 8 + 4 * d))
      row "$model" "$n" threads "$("$dude" "${train[@]}" --model "$model" --workers "$n")" -
    done
  done
fi
if [ -f "$brown/train.ft" ]; then
  monitor=$(mktemp -d)
  trap 'rm -rf "$monitor"' EXIT
  for n in ${counts//,/ }; do
    rm -f "$monitor"/prof.*
    out=$(on_ranks $((n + 1)) --mca pml_monitoring_enable 1 --mca pml_monitoring_enable_output 3 \
      --mca pml_monitoring_filename "$monitor/prof" "$dude" "${brown_train[@]}" --backend mpi)
    sent=$(cat "$monitor"/prof.*.prof | awk '$1 == "E" { s += $4 } END { print s }')
    row "softmax (Brown)" "$n" mpi "$out" $((sent / $(field "$out" steps)))
    row "softmax (Brown)" "$n" threads "$("$dude" "${brown_train[@]}" --workers "$n")" -
  done
fi
