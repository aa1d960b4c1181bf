#!/usr/bin/env bash
# What the second core buys on sparse data: sgd on one thread against hogwild, asgd and dude
# with 2 workers, asgd and dude with a server thread and with workers that serve (--server), on
# the Brown POS data (bench/data/brown.sh). One epoch, softmax, 2^20 hashed features, batch 8,
# lr 2 (cosine); RUNS runs of each, alternating. Prints a Markdown table: the median and the
# fastest training time, the median whole run (GNU time wall, parsing included), the test
# accuracy of every run.
# Usage: bench/sparse_cores.sh [DUDE] [BROWN_DIR] [RUNS]
set -euo pipefail
dude=${1:-./build/tools/dude}
data=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/dude/brown}
runs=${3:-5}
[ -s "$data/train.ft" ] || { echo "sparse_cores: no $data/train.ft (run bench/data/brown.sh)" >&2; exit 2; }
configs=("sgd 1 auto" "hogwild 2 auto" "asgd 2 thread" "asgd 2 workers" "dude 2 thread" "dude 2 workers")
declare -A train wall acc
for ((r = 0; r < runs; ++r)); do
  for c in "${configs[@]}"; do
    set -- $c
    out=$( { /usr/bin/time -f "%e" "$dude" train --train "$data/train.ft" --test "$data/test.ft" \
      --model softmax --hash-bits 20 --batch 8 --lr 2 --epochs 1 --algo "$1" --workers "$2" \
      --server "$3" --quiet; } 2>&1 )
    train[$c]+="$(sed -n 's/.*time: \([0-9.]*\)s.*/\1/p' <<<"$out") "
    acc[$c]+="$(sed -n 's/^test accuracy: //p' <<<"$out") "
    wall[$c]+="$(tail -1 <<<"$out") "
  done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
fastest() { tr ' ' '\n' <<<"$1" | grep . | sort -g | head -1; }
base=$(median "${train["sgd 1 auto"]}")
echo "| algorithm | workers | --server | training (s), median | fastest | one thread / this | whole run (s), median | test accuracy |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for c in "${configs[@]}"; do
  set -- $c
  m=$(median "${train[$c]}")
  ratio=$(awk -v b="$base" -v m="$m" 'BEGIN { printf "%.2f", b / m }')
  echo "| $1 | $2 | $3 | $m | $(fastest "${train[$c]}") | $ratio | $(median "${wall[$c]}") | ${acc[$c]% } |"
done
