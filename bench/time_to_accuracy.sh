#!/usr/bin/env bash
# Whole-run time to a target test accuracy on Fashion-MNIST against the number of workers:
# for each model, algorithm and worker count, `dude train` runs with a growing epoch budget
# (a ladder) until the final test accuracy reaches the target; the row is that first run:
# its epochs, accuracy, whole-run seconds (loading, training, evaluation) and peak RSS.
# Learning rates are dude's defaults (default_learning_rate: 0.2 for one thread, 0.2/n for dude,
# 0.2/sqrt(n) for asgd and hogwild).
#
#   bench/time_to_accuracy.sh [--dude BIN] [--data DIR] [--workers 1,2,4,8,16]
#                             [--algos dude,asgd,hogwild] [--models softmax,mlp:128]
#                             [--time BIN] [-- TRAIN_ARGS...]
#
# Targets: 84.0 % for softmax and logreg, 87.5 % for MLPs (issue 5). Ladders: 2,3,5,10,20,30
# epochs for softmax, 2,3,5,10,20 for MLPs (many workers need more epochs: staleness). Every
# model also gets a one-thread `--algo sgd` row; "× sgd" is its whole-run time over this row's. --time names GNU time
# (default /usr/bin/time), which measures the wall time and the peak RSS. Arguments after --
# go to every multi-worker run, e.g. `--workers 10 -- --partition label:1` for one class per
# worker (Fashion-MNIST has 10 classes).
set -euo pipefail
dude=build/tools/dude
data=/usr/share/datasets/fashion-mnist
workers=1,2,4,8,16
algos=dude,asgd,hogwild
models=softmax,mlp:128
gnu_time=/usr/bin/time
while [ $# -gt 0 ]; do
  case $1 in
    --dude) dude=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --algos) algos=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --time) gnu_time=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "time_to_accuracy.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$dude" ] || { echo "time_to_accuracy.sh: no dude binary at $dude" >&2; exit 1; }
[ -x "$gnu_time" ] || { echo "time_to_accuracy.sh: no GNU time at $gnu_time (apt-get install time)" >&2; exit 1; }
train=(--train "$data/train-images-idx3-ubyte.gz" --test "$data/t10k-images-idx3-ubyte.gz")
extra=("$@")
scratch=$(mktemp -d "${TMPDIR:-/tmp}/dude-tta.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# run_ladder MODEL TARGET LADDER ARGS...: prints "epochs accuracy wall_s rss_mb reached" of
# the first rung whose final accuracy reaches TARGET (or of the last rung).
run_ladder() {
  local model=$1 target=$2 ladder=$3; shift 3
  local epochs accuracy wall rss reached=no
  for epochs in ${ladder//,/ }; do
    "$gnu_time" -f '%e %M' -o "$scratch/time" \
      "$dude" train "${train[@]}" --model "$model" --epochs "$epochs" --quiet "$@" >"$scratch/out" 2>&1 ||
      { echo "time_to_accuracy.sh: dude train failed:" >&2; cat "$scratch/out" >&2; exit 1; }
    accuracy=$(awk '/^test accuracy:/ { print $3 }' "$scratch/out")
    read -r wall rss <"$scratch/time"
    if awk -v a="$accuracy" -v t="$target" 'BEGIN { exit !(a >= t) }'; then reached=yes; break; fi
  done
  echo "$epochs $accuracy $wall $((rss / 1000)) $reached"
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# whole-run time to target accuracy, Fashion-MNIST, batch 32, default learning rates${extra[*]:+; workers: ${extra[*]}}"
printf '%-8s %-8s %7s %6s %9s %8s %8s %7s %s\n' model algo workers epochs accuracy "wall s" "× sgd" "RSS MB" reached
for model in ${models//,/ }; do
  case $model in
    mlp*) target=0.875 ladder=2,3,5,10,20 ;;
    *) target=0.840 ladder=2,3,5,10,20,30 ;;
  esac
  read -r epochs accuracy sgd_wall rss reached < <(run_ladder "$model" "$target" "$ladder" --threads 1)
  printf '%-8s %-8s %7s %6s %9s %8s %8s %7s %s\n' "$model" sgd 1 "$epochs" "$accuracy" "$sgd_wall" 1.00 "$rss" "$reached"
  for algo in ${algos//,/ }; do
    for n in ${workers//,/ }; do
      read -r epochs accuracy wall rss reached < <(run_ladder "$model" "$target" "$ladder" --algo "$algo" --workers "$n" "${extra[@]}")
      printf '%-8s %-8s %7s %6s %9s %8s %8s %7s %s\n' "$model" "$algo" "$n" "$epochs" "$accuracy" "$wall" \
        "$(awk -v a="$sgd_wall" -v b="$wall" 'BEGIN { printf "%.2f", a / b }')" "$rss" "$reached"
    done
  done
done
