#!/usr/bin/env bash
# End-to-end check of `dude compare` on the built-in digits: the run files, summary.md,
# summary.csv and settings.json exist, the summary has a row per algorithm, a second run gives
# byte-identical run files (deterministic replay), a diverged run is recorded without failing
# the comparison, and bad flags exit 2 before anything is written.
# Usage: test_compare.sh path/to/dude
source "$(dirname "$0")/harness.sh" "$1"

args=(compare --train digits --model softmax --algos dude,asgd --workers 4 --partition label:2
      --slowdown 1,4 --lrs 0.05,0.2 --seeds 0,1 --deterministic --epochs 2 --evals-per-epoch 2
      --target 0.5 --quiet)

for out in first second; do
  if "$dude" "${args[@]}" --out "$out" >"$out.txt" 2>"$out.err"; then ok; else
    fail "dude compare --out $out exited $?: $(cat "$out.err")"
  fi
done

for algo in dude asgd; do
  for lr in 0.05 0.2; do
    for seed in 0 1; do
      run=runs/${algo}_lr${lr}_seed${seed}.jsonl
      if [ ! -s "first/$run" ]; then
        fail "first/$run is missing or empty"
      elif ! grep -q '"final":true' "first/$run" || ! grep -q '"test_accuracy"' "first/$run"; then
        fail "first/$run lacks the final point or test accuracy: $(tail -1 "first/$run")"
      elif ! cmp -s "first/$run" "second/$run"; then
        fail "$run differs between two identical runs"
      else
        ok
      fi
    done
  done
done
[ "$(find first/runs -type f | wc -l)" -eq 8 ] && ok || fail "first/runs has other files: $(ls first/runs)"

for f in summary.md summary.csv settings.json; do
  [ -s "first/$f" ] && ok || fail "first/$f is missing or empty"
done
# summary.csv: a header and one row per (algorithm, lr); exactly one best row per algorithm.
[ "$(wc -l <first/summary.csv)" -eq 5 ] && ok || fail "summary.csv: $(cat first/summary.csv)"
for algo in dude asgd; do
  best=$(awk -F, -v a="$algo" 'NR > 1 && $1 == a && $3 == 1' first/summary.csv | wc -l)
  [ "$best" -eq 1 ] && ok || fail "summary.csv: $best best rows for $algo"
  # summary.md and stdout: a row of the best-lr table and one of the grid for each algorithm.
  [ "$(grep -c "^| $algo " first/summary.md)" -eq 2 ] && ok || fail "summary.md rows for $algo: $(cat first/summary.md)"
  [ "$(grep -c "^| $algo " first.txt)" -eq 2 ] && ok || fail "stdout rows for $algo: $(cat first.txt)"
done
cmp -s first/summary.csv second/summary.csv && ok || fail "summary.csv differs between two identical runs"
ls first/*.tmp.* >/dev/null 2>&1 && fail "a temporary file was left behind" || ok

# A diverged run is a result, not a failure: its file ends with a marker, its rate is not chosen.
if "$dude" compare --train digits --model mlp:16 --algos dude --workers 4 --lrs 0.1,3e38 --seeds 0 \
    --deterministic --epochs 1 --quiet --out diverged >/dev/null 2>err.txt; then ok; else
  fail "dude compare with a diverging rate exited $?: $(cat err.txt)"
fi
grep -q '"diverged":true' diverged/runs/dude_lr3e+38_seed0.jsonl 2>/dev/null && ok ||
  fail "the diverged run lacks its marker"
grep -q '^dude,0.1,1,1,0,' diverged/summary.csv 2>/dev/null && ok ||
  fail "summary.csv does not choose the rate that did not diverge: $(cat diverged/summary.csv)"

# Usage errors exit 2 and write nothing.
bad() {
  "$dude" "${args[@]}" --out bad "$@" >/dev/null 2>err.txt
  local got=$?
  if [ "$got" -ne 2 ]; then
    fail "dude compare $* exited $got, expected 2: $(cat err.txt)"
  elif [ -e bad ]; then
    fail "dude compare $* created its output directory"
  else
    ok
  fi
}
bad --algos dude,nope
bad --lrs 0.1,-1
bad --seeds 1,1
bad --partition label:11
bad --target 2
bad --seconds 5
bad --plot-script no-such-script.py --plot

echo "test_compare: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
