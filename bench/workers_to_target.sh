#!/usr/bin/env bash
# Epochs to a target accuracy against the number of workers, on the deterministic replay (iid
# shards, every worker equally fast: Exp(1) compute times, no slowdown), so that only the
# statistics of stale gradients change with the workers, not the machine's cores. For each
# worker count n it runs dude and asgd at three learning-rate rules: 0.2 (the single-thread
# rate), 0.2/sqrt(n) and 0.2/n (a step that shrinks with the delay, which is about n - 1 steps
# for every gradient here), constant schedule, and prints the epochs each took to the target.
#
#   bench/workers_to_target.sh [DUDE_BINARY] [FASHION_MNIST_DIR] [RUNS_DIR]
#
# Defaults: build/tools/dude, /usr/share/datasets/fashion-mnist, build/workers-runs. Softmax to
# 84 % and mlp:128 to 87.5 % (the targets), 20 epochs each, one seed. About 10 minutes
# on 2 cores.
set -euo pipefail
dude=$(realpath "${1:-build/tools/dude}")
data=${2:-/usr/share/datasets/fashion-mnist}
runs=${3:-build/workers-runs}
mkdir -p "$runs"
train=$data/train-images-idx3-ubyte.gz
test=$data/t10k-images-idx3-ubyte.gz

echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
echo "| model | target | workers | algorithm | rule | lr | epochs to target | final accuracy |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for spec in softmax:0.84 mlp:128:0.875; do
  model=${spec%:*}
  target=${spec##*:}
  for n in 1 2 4 8 16; do
    lrs=$(awk -v n="$n" 'BEGIN { printf "%.6g,%.6g,%.6g", 0.2, 0.2 / sqrt(n), 0.2 / n }')
    [ "$n" = 1 ] && lrs=0.2
    out=$runs/$model-$n
    "$dude" compare --train "$train" --test "$test" --model "$model" --workers "$n" \
      --partition iid --deterministic --algos dude,asgd --lrs "$lrs" --seeds 0 --epochs 20 \
      --batch 32 --schedule constant --target "$target" --evals-per-epoch 2 --out "$out" \
      >"$out.log" 2>&1
    # summary.csv: algorithm,lr,...,final_accuracy_mean (6),...,epochs_to_target (13)
    awk -F, -v model="$model" -v target="$target" -v n="$n" 'NR > 1 {
      rule = ($2 + 0 == 0.2) ? "0.2" : (($2 * n > 0.199 && $2 * n < 0.201) ? "0.2/n" : "0.2/sqrt(n)")
      if (n == 1) rule = "all three"
      epochs = $13 == "" ? "not reached" : $13
      printf "| %s | %s | %s | %s | %s | %s | %s | %.4f |\n", model, target, n, $1, rule, $2, epochs, $6
    }' "$out/summary.csv"
  done
done
