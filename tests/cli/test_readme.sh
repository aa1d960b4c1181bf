#!/usr/bin/env bash
# The README's promises, each checked through the dude command as a user would run it.
# Usage: test_readme.sh path/to/dude quick|fashion
#   quick:   the digits row of the results table, predict's probabilities, eval's output,
#            hogwild equal to asgd on the replay, and compare's files, naming, chosen rates,
#            mean ± std and epochs to the target;
#   fashion: the two Fashion-MNIST rows of the results table (label long).
source "$(dirname "$0")/harness.sh" "$1"
mode=$2

# within VALUE LOW HIGH: LOW <= VALUE <= HIGH.
within() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }
accuracy() { sed -n 's/^test accuracy: //p' "$1"; }

# results_row LABEL README-VALUE TOLERANCE -- dude train args...
results_row() {
  local label=$1 value=$2 tolerance=$3
  shift 4
  "$dude" train "$@" --quiet >out.txt 2>err.txt
  local got
  got=$(accuracy out.txt)
  if within "${got:-0}" "$(awk -v v="$value" -v t="$tolerance" 'BEGIN { print v - t }')" \
    "$(awk -v v="$value" -v t="$tolerance" 'BEGIN { print v + t }')"; then ok
  else fail "README results, $label: test accuracy ${got:-none}, the README says $value (±$tolerance): $(cat err.txt)"; fi
}

if [ "$mode" = fashion ]; then
  F=/usr/share/datasets/fashion-mnist
  # One thread, seeded: the same binary gives the same figure; the tolerance covers other
  # SIMD targets' rounding.
  results_row "Fashion-MNIST softmax" 0.846 0.004 -- --train $F/train-images-idx3-ubyte.gz \
    --test $F/t10k-images-idx3-ubyte.gz --model softmax
  results_row "Fashion-MNIST mlp:128" 0.889 0.006 -- --train $F/train-images-idx3-ubyte.gz \
    --test $F/t10k-images-idx3-ubyte.gz --model mlp:128
  echo "readme (fashion): $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
fi

results_row "digits mlp:64" 0.958 0.006 -- --train digits --model mlp:64 --epochs 30 --out digits.dude

# predict --proba: one line per row, one probability per class, each line summing to 1.
if "$dude" predict --model digits.dude --data digits --proba --out p.txt 2>err.txt \
  && awk 'NF != 10 { exit 1 } { s = 0; for (i = 1; i <= NF; i++) { if ($i < 0 || $i > 1) exit 1; s += $i }
          if (s < 0.9999 || s > 1.0001) exit 1 } END { exit NR != 1797 }' p.txt; then ok
else fail "predict --proba: rows of 10 probabilities summing to 1: $(head -2 p.txt; cat err.txt)"; fi
# predict: one class id per row, the most probable one.
if "$dude" predict --model digits.dude --data digits --out c.txt 2>err.txt \
  && paste c.txt p.txt | awk '{ best = 2; for (i = 3; i <= NF; i++) if ($i > $best) best = i
          if ($1 != best - 2) exit 1 }'; then ok
else fail "predict: the class is not the most probable one: $(cat err.txt)"; fi
# eval: accuracy, loss and rows, and the confusion matrix for 10 classes (rows sum to the rows).
if "$dude" eval --model digits.dude --data digits >out.txt 2>err.txt && grep -q '^rows: 1797$' out.txt \
  && within "$(sed -n 's/^accuracy: //p' out.txt)" 0.9 1 && grep -q '^loss: ' out.txt; then ok
else fail "eval's output: $(cat out.txt err.txt)"; fi

# "With --deterministic, hogwild replays asgd's rule": the same model and records.
replay=(train --train digits --workers 3 --slowdown 1,2,3 --deterministic --epochs 3 --quiet)
"$dude" "${replay[@]}" --algo hogwild --out h.dude --metrics h.jsonl >/dev/null 2>err.txt \
  && "$dude" "${replay[@]}" --algo asgd --out a.dude --metrics a.jsonl >/dev/null 2>>err.txt
if cmp -s h.dude a.dude && cmp -s h.jsonl a.jsonl; then ok
else fail "hogwild and asgd differ on the replay: $(cat err.txt)"; fi

# compare: runs named with fedbuff-4, one chosen rate per algorithm (the highest mean final
# accuracy), mean ± std over the seeds, epochs to the target.
"$dude" compare --train digits --algos dude,fedbuff:4 --lrs 0.05,0.2 --seeds 0,1 --workers 2 \
  --deterministic --epochs 2 --target 0.8 --out cmp --quiet >cmp.txt 2>err.txt \
  || fail "compare exited $?: $(cat err.txt)"
if [ -s cmp/runs/fedbuff-4_lr0.2_seed1.jsonl ] && ! ls cmp/runs | grep -q ':'; then ok
else fail "compare's run files: $(ls cmp/runs)"; fi
# summary.csv: algorithm,lr,best,seeds,diverged,final_accuracy_mean,...
if awk -F, 'NR > 1 { if ($6 > top[$1]) top[$1] = $6; if ($3 == 1) chosen[$1] = $6; rows[$1]++ }
     END { for (a in rows) if (chosen[a] == "" || chosen[a] != top[a]) exit 1 }' cmp/summary.csv; then ok
else fail "compare did not choose the rate of the highest mean accuracy: $(cat cmp/summary.csv)"; fi
if grep -qE '^\| dude +\| 0\.[0-9]+ +\| 0\.[0-9]{4} ± 0\.[0-9]{4}' cmp/summary.md \
  && grep -q "^| algorithm | best lr .*| epochs to 0.8 |" cmp/summary.md \
  && grep -E '^\| fedbuff:4 ' cmp/summary.md | head -1 | grep -qE '\| ([0-9]+\.[0-9]+|—) +\|'; then ok
else fail "summary.md: mean ± std or epochs to the target missing: $(cat cmp/summary.md)"; fi

echo "readme: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
