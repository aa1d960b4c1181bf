#!/usr/bin/env bash
# Checkpoints through the CLI: a deterministic run killed with SIGKILL at random moments 50
# times while it checkpoints often, each time resumed from the newest checkpoint, ends with the
# same model and metrics, byte for byte, as a run never stopped; no checkpoint is ever
# half-written (each one loads). A checkpoint of other settings is refused naming the setting.
# Usage: test_checkpoint.sh path/to/dude
source "$(dirname "$0")/harness.sh" "$1"

run=(train --train digits --model mlp:32 --algo dude --workers 3 --slowdown 1,2,4 --deterministic
  --epochs 600 --eval-every 200 --quiet)
"$dude" "${run[@]}" --out whole.dude --metrics whole.jsonl >/dev/null 2>err.txt \
  || fail "the uninterrupted run: $(cat err.txt)"

RANDOM=7
kills=0
resumes=0
for _ in $(seq 50); do
  resume=()
  [ -e run.ckpt ] && resume=(--resume run.ckpt)
  "$dude" "${run[@]}" --out run.dude --metrics run.jsonl --checkpoint run.ckpt \
    --checkpoint-every 5 "${resume[@]}" >/dev/null 2>err.txt &
  pid=$!
  # Kill at a random moment after this run's first checkpoint (a new file: rename gives it a
  # new inode), so every run makes progress whatever the machine's speed.
  before=$(stat -c %i run.ckpt 2>/dev/null)
  for _ in $(seq 1000); do
    now=$(stat -c %i run.ckpt 2>/dev/null)
    [ -n "$now" ] && [ "$now" != "$before" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.005
  done
  sleep "0.00$((RANDOM % 5))"
  if kill -KILL $pid 2>/dev/null; then kills=$((kills + 1)); fi
  wait $pid
  code=$?
  [ ${#resume[@]} -gt 0 ] && resumes=$((resumes + 1))
  # 137: killed; 0: it finished before the kill. Anything else: a checkpoint did not load.
  if [ "$code" -ne 137 ] && [ "$code" -ne 0 ]; then fail "run exited $code: $(cat err.txt)"; break; fi
  [ "$code" -eq 0 ] && break
done
if [ "$kills" -ge 50 ] && [ "$resumes" -ge 49 ]; then ok; else fail "only $kills kills, $resumes resumes"; fi
# The last resume checkpoints too, rarely: its writes sweep what the last kill left.
"$dude" "${run[@]}" --out run.dude --metrics run.jsonl --resume run.ckpt --checkpoint run.ckpt \
  --checkpoint-every 1000 >/dev/null 2>err.txt \
  || fail "the last resume: $(cat err.txt)"
if cmp -s whole.dude run.dude && cmp -s whole.jsonl run.jsonl; then ok
else fail "killed $kills times and resumed: the model or the metrics differ from the uninterrupted run's"; fi
# The killed runs' temporary files were swept by the runs after them.
if ! ls ./*.tmp.* >/dev/null 2>&1; then ok; else fail "temporary files left: $(ls ./*.tmp.*)"; fi

"$dude" "${run[@]}" --lr 0.01 --resume run.ckpt >/dev/null 2>err.txt
code=$?
if [ "$code" -eq 1 ] && grep -q "checkpoint: it belongs to a run with lr=0.0666666701, not lr=0.00999999978" err.txt; then ok
else fail "another lr resumed: exit $code: $(cat err.txt)"; fi

echo "checkpoint: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
