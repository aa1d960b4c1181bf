#!/usr/bin/env bash
# How a run ends when it does not finish: a diverged run exits 3 naming its step and writes no
# model (or, with --keep-last-good, the last good one); SIGINT and SIGTERM end a run cleanly
# with its outputs written and exit 130 and 143; a second signal exits at once, leaving what is
# in place whole. Usage: test_stops.sh path/to/dude
source "$(dirname "$0")/harness.sh" "$1"

no_outputs() { [ ! -e model.dude ] && ! ls ./*.tmp.* >/dev/null 2>&1; }
loads() { "$dude" eval --model "$1" --data digits >/dev/null 2>&1; }

# A learning rate far too large: 50 on the replay (the training loss stays above its bound),
# 1e6 with threads (the parameters overflow whatever the interleaving, seen at an evaluation,
# or a worker's loss is already not finite before the first one; at 50 a threaded run may
# instead kill every unit, which leaves the loss where it started).
diverge=(train --train digits --model mlp:64 --algo dude --workers 4 --out model.dude)
for mode in threads replay; do
  extra=(--lr 1e6)
  [ "$mode" = replay ] && extra=(--lr 50 --deterministic)
  rm -f model.dude metrics.jsonl
  "$dude" "${diverge[@]}" "${extra[@]}" --quiet --metrics metrics.jsonl >out.txt 2>err.txt
  code=$?
  if [ "$code" -eq 3 ] && grep -qE "training diverged at step [0-9]+( \(worker [0-9]+\))?: (the training loss|parameter|the loss is not finite)" err.txt \
    && no_outputs && [ -e metrics.jsonl ]; then ok
  else fail "$mode: diverged run exited $code (want 3), or left a model: $(cat err.txt)"; fi
  "$dude" "${diverge[@]}" "${extra[@]}" --quiet --keep-last-good >out.txt 2>err.txt
  code=$?
  if [ "$code" -eq 3 ] && grep -q "kept the model of the last good evaluation" err.txt \
    && loads model.dude; then ok
  else fail "$mode: --keep-last-good exited $code, or its model does not load: $(cat err.txt)"; fi
done
"$dude" "${diverge[@]}" --lr 50 --quiet --no-divergence-check --deterministic >out.txt 2>err.txt
code=$?
if [ "$code" -eq 0 ] && [ -e model.dude ]; then ok
else fail "--no-divergence-check: exited $code: $(cat err.txt)"; fi

# A long run, to be stopped by a signal once it is training.
long_run() {
  rm -f model.dude err.txt
  "$dude" train --train digits --model mlp:128 --epochs 100000 --eval-every 1000000 --out model.dude \
    --metrics metrics.jsonl >out.txt 2>err.txt &
  pid=$!
  # The metrics file's temporary appears just before training starts.
  for _ in $(seq 200); do ls metrics.jsonl.tmp.* >/dev/null 2>&1 && break; sleep 0.05; done
  sleep 0.5
}
for sig in INT TERM; do
  want=$([ $sig = INT ] && echo 130 || echo 143)
  long_run
  kill -$sig $pid
  timeout 20 tail --pid=$pid -f /dev/null
  wait $pid
  code=$?
  if [ "$code" -eq "$want" ] && grep -q "stopped by SIG$sig at step [0-9]*; the model is in model.dude" err.txt \
    && loads model.dude && grep -q '"final":true' metrics.jsonl && grep -q "test accuracy" out.txt; then ok
  else fail "SIG$sig: exited $code (want $want), or its outputs are missing: $(cat err.txt)"; fi
done

# A second signal: out at once; the model from before stays whole.
cp model.dude before.dude
long_run
cp before.dude model.dude  # the file in place, which the run would replace at its end
kill -TERM $pid
kill -TERM $pid
wait $pid
code=$?
# Out before its outputs (no "stopped by" line): the old model is untouched. Had the run
# finished writing first, its new model would be whole; either way the file loads.
if [ "$code" -eq 143 ] && loads model.dude \
  && { grep -q "stopped by" err.txt || cmp -s model.dude before.dude; }; then ok
else fail "second SIGTERM: exited $code (want 143), or model.dude is neither the old one nor whole"; fi

# Outputs that cannot be written: a missing folder, and a file size limit (a full disk) hit
# part-way through the model. Each exits 1 naming the file and leaves nothing behind.
"$dude" train --train digits --epochs 1 --quiet --out missing/model.dude >out.txt 2>err.txt
code=$?
if [ "$code" -eq 1 ] && grep -q "missing/model.dude: cannot create" err.txt; then ok
else fail "--out in a missing folder: exit $code: $(cat err.txt)"; fi
rm -f big.dude
(ulimit -f 8 && "$dude" train --train digits --model mlp:512 --epochs 1 --quiet --out big.dude) \
  >out.txt 2>err.txt
code=$?
if [ "$code" -eq 1 ] && grep -q "big.dude: cannot write" err.txt && [ ! -e big.dude ] \
  && ! ls big.dude.tmp.* >/dev/null 2>&1; then ok
else fail "a file size limit: exit $code, or a file left: $(cat err.txt; ls big.dude*)"; fi

echo "stops: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
