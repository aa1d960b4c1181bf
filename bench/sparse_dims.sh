#!/usr/bin/env bash
# Cost against the dimension on sparse data: samples/s and peak RSS of sgd, and of asgd, hogwild
# and dude with 2 workers, on the Brown POS data (bench/data/brown.sh) hashed into 2^16, 2^20
# and 2^24 features. One epoch, softmax, batch 8, lr 2 (cosine). Prints a Markdown table.
# Usage: bench/sparse_dims.sh [DUDE] [BROWN_DIR] [BITS...]
set -euo pipefail
dude=${1:-./build/tools/dude}
data=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/dude/brown}
shift $(( $# > 2 ? 2 : $# )) || true
bits=("$@")
[ ${#bits[@]} -gt 0 ] || bits=(16 20 24)
[ -s "$data/train.ft" ] || { echo "sparse_dims: no $data/train.ft (run bench/data/brown.sh)" >&2; exit 2; }
echo "| hash bits | algorithm | workers | train time (s) | samples/s | whole run (s) | peak RSS (MB) | test accuracy |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for b in "${bits[@]}"; do
  for run in "sgd 1" "asgd 2" "hogwild 2" "dude 2"; do
    set -- $run
    out=$( { /usr/bin/time -f "%e %M" "$dude" train --train "$data/train.ft" --test "$data/test.ft" \
      --model softmax --hash-bits "$b" --batch 8 --lr 2 --epochs 1 --algo "$1" --workers "$2" \
      --quiet; } 2>&1 )
    rows=$(sed -n 's/^train rows: \([0-9]*\).*/\1/p' <<<"$out")
    train=$(sed -n 's/.*time: \([0-9.]*\)s.*/\1/p' <<<"$out")
    acc=$(sed -n 's/^test accuracy: //p' <<<"$out")
    read -r wall rss < <(tail -1 <<<"$out")
    rate=$(awk -v n="$rows" -v t="$train" 'BEGIN { printf "%.2f M", n / t / 1e6 }')
    echo "| $b | $1 | $2 | $train | $rate | $wall | $((rss / 1024)) | $acc |"
  done
done
