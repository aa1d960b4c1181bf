#!/usr/bin/env bash
# Heterogeneous-shard experiments on Fashion-MNIST (bench/HETEROGENEITY.md): `dude compare` over
# eight settings, each algorithm at its own best learning rate of a grid, with summaries and
# plots copied into bench/heterogeneity/<setting>/.
#
#   [SETTINGS=REGEX] bench/heterogeneity.sh [DUDE_BINARY] [FASHION_MNIST_DIR] [RUNS_DIR]
#
# Defaults: build/tools/dude, /usr/share/datasets/fashion-mnist, build/heterogeneity-runs (the
# per-run JSON Lines files, not committed). Runs one setting after another; the replay trains
# on one thread (evaluation uses every core), the threaded settings run 10 worker threads.
# SETTINGS runs only the settings whose name matches (grep -E), e.g. SETTINGS='^s' for the
# successors' settings. About 10 minutes on 2 cores for the baselines' settings (a-g) and 25 for
# the successors' (s1-s7).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dude=$(realpath "${1:-build/tools/dude}")
data=${2:-/usr/share/datasets/fashion-mnist}
runs=${3:-build/heterogeneity-runs}
pages=$here/heterogeneity
mkdir -p "$runs" "$pages"

train=$data/train-images-idx3-ubyte.gz
test=$data/t10k-images-idx3-ubyte.gz
# 20,000 arrivals of batch 32 = 640,000 samples = 10.667 epochs of the 60,000 training rows:
# the budget of the numpy simulation the policies were first calibrated against, here counted
# in samples so that sync (a step is a round of 10 gradients) and fedbuff:4 (a flush of 4) get
# the same data.
common=(--train "$train" --test "$test" --workers 10 --epochs 10.6667 --batch 32
        --target 0.80 --plot)
constant=(--schedule constant)
grid=(--lrs 0.005,0.01,0.02,0.05 --seeds 0,1,2)
# With --deterministic, hogwild replays asgd's rule exactly (each update lands whole at its
# arrival): its runs would be byte-identical to asgd's, so the deterministic settings leave it out.
det=(--deterministic --algos dude,asgd,fedbuff:4,sync --evals-per-epoch 4 "${constant[@]}")
threads=(--algos dude,asgd,fedbuff:4,sync,hogwild --evals-per-epoch 4 "${constant[@]}")

echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
started=$(date +%s)

run() {  # run NAME ARGS...: one comparison, then its small files copied next to the page
  local name=$1
  shift
  if [ -n "${SETTINGS:-}" ] && ! grep -qE "$SETTINGS" <<<"$name"; then return; fi
  local t0
  t0=$(date +%s)
  echo
  echo "== $name"
  "$dude" compare "${common[@]}" --out "$runs/$name" "$@"
  mkdir -p "$pages/$name"
  for f in summary.md summary.csv settings.json compare.png; do
    if [ -e "$runs/$name/$f" ]; then cp "$runs/$name/$f" "$pages/$name/$f"; fi
  done
  echo "== $name: $(($(date +%s) - t0)) s"
}

run a-label1-slow10 --model softmax --partition label:1 --slowdown 1,10 "${det[@]}" "${grid[@]}"
run b-label1-slow4 --model softmax --partition label:1 --slowdown 1,4 "${det[@]}" "${grid[@]}"
run c-iid-slow10 --model softmax --partition iid --slowdown 1,10 "${det[@]}" "${grid[@]}"
run d-dirichlet0.1-slow10 --model softmax --partition dirichlet:0.1 --slowdown 1,10 "${det[@]}" "${grid[@]}"
# The MLP costs about 10x the softmax per gradient: dude and asgd only, two seeds, and the lower
# three rates of the grid (at 0.05 dude's MLP collapses to chance accuracy).
run e-mlp128-label1-slow10 --model mlp:128 --partition label:1 --slowdown 1,10 --deterministic \
  --algos dude,asgd --evals-per-epoch 2 --lrs 0.005,0.01,0.02 --seeds 0,1 "${constant[@]}"
# (a) beyond the grid: sync and fedbuff:4 peak at its largest rate, 0.05; do larger ones help?
run a2-label1-slow10-lr0.1-0.2 --model softmax --partition label:1 --slowdown 1,10 "${det[@]}" \
  --lrs 0.1,0.2 --seeds 0,1,2
# Real threads (10 workers on this machine's cores): (a), and (c) as its reference.
run f-threads-label1-slow10 --model softmax --partition label:1 --slowdown 1,10 "${threads[@]}" "${grid[@]}"
run g-threads-iid-slow10 --model softmax --partition iid --slowdown 1,10 "${threads[@]}" "${grid[@]}"

# The successors (ringleader, malenia, asgd-da) beside the baselines on the replay, under harder
# heterogeneity: stragglers 100x slower, heavy-tailed compute times, and the cosine schedule.
# Their averaged steps want larger rates than the baselines, so the grid reaches 0.2.
grid_succ=(--deterministic --algos dude,asgd,asgd-da,ringleader,malenia,fedbuff:4,sync
           --evals-per-epoch 4 --lrs 0.005,0.01,0.02,0.05,0.1,0.2 --seeds 0,1,2)
succ=("${grid_succ[@]}" "${constant[@]}")
run s1-label1-slow10 --model softmax --partition label:1 --slowdown 1,10 "${succ[@]}"
run s2-label1-slow100 --model softmax --partition label:1 --slowdown 1,100 "${succ[@]}"
run s3-iid-slow100 --model softmax --partition iid --slowdown 1,100 "${succ[@]}"
run s4-dirichlet0.1-slow10 --model softmax --partition dirichlet:0.1 --slowdown 1,10 "${succ[@]}"
run s5-dirichlet0.1-slow100 --model softmax --partition dirichlet:0.1 --slowdown 1,100 "${succ[@]}"
run s6-label1-lognormal1.5 --model softmax --partition label:1 --compute-time lognormal:1.5 \
  "${succ[@]}"
run s7-label1-slow10-cosine --model softmax --partition label:1 --slowdown 1,10 \
  "${grid_succ[@]}" --schedule cosine

# The issue's pass criteria, each algorithm at its best lr of the grid: dude under label:1 +
# slowdown 1,10 ends within 3 points of its own iid accuracy and at least 3 points above asgd.
best() {  # best SETTING ALGO: mean final accuracy at the algorithm's best lr
  awk -F, -v algo="$2" 'NR > 1 && $1 == algo && $3 == 1 { print $6 }' "$pages/$1/summary.csv"
}
check() {  # check MODE HETERO IID
  awk -v mode="$1" -v d="$(best "$2" dude)" -v a="$(best "$2" asgd)" -v i="$(best "$3" dude)" 'BEGIN {
    gap_iid = (i - d) * 100; gap_asgd = (d - a) * 100
    near = gap_iid <= 3 ? "PASS" : "FAIL"
    above = gap_asgd >= 3 ? "PASS" : "FAIL"
    printf "%-13s dude %.4f, dude iid %.4f (%.1f points below: %s), asgd %.4f (dude %+.1f points: %s)\n",
      mode, d, i, gap_iid, near, a, gap_asgd, above
  }'
}
successors() {  # successors SETTING: each successor against dude, at their best rates
  local algo
  for algo in ringleader malenia asgd-da; do
    awk -v s="$1" -v algo="$algo" -v d="$(best "$1" dude)" -v x="$(best "$1" "$algo")" 'BEGIN {
      printf "%-26s %-10s %.4f, dude %.4f: %+.1f points\n", s, algo, x, d, (x - d) * 100 }'
  done
}
if [ -z "${SETTINGS:-}" ] || grep -qE "$SETTINGS" <<<"a-label1-slow10"; then
  echo
  echo "pass criteria (label:1 + slowdown 1,10; each algorithm at its best lr, 3 seeds):"
  check deterministic a-label1-slow10 c-iid-slow10
  check threads f-threads-label1-slow10 g-threads-iid-slow10
fi
if [ -z "${SETTINGS:-}" ] || grep -qE "$SETTINGS" <<<"s2-label1-slow100"; then
  echo
  echo "successors against dude (each at its best lr of the grid, 3 seeds; issue 15 asks for a"
  echo "successor >= +2 points at 1,100 and none below -1 point at 1,10):"
  successors s1-label1-slow10
  successors s2-label1-slow100
  successors s4-dirichlet0.1-slow10
  successors s5-dirichlet0.1-slow100
  successors s6-label1-lognormal1.5
  successors s7-label1-slow10-cosine
fi
echo
echo "total: $(($(date +%s) - started)) s"
