#!/usr/bin/env bash
# Fuzzes every harness of a DUDE_FUZZ=ON build for SECONDS each, starting from its committed
# corpus (tests/fuzz/corpus/TARGET, read only: new inputs go to a temporary directory), and
# prints the executions each managed. Fails on the first crash (ASan, UBSan, an escaped
# exception, a broken invariant), with libFuzzer's report and the input it saved.
#
# Inputs that run out of memory (over 2 GiB) or time (over 10 s) are counted and printed but
# do not stop the run: bounding the loaders' allocations and line lengths is work of its own,
# and libFuzzer can only go on past them in fork mode (-fork=1, one child process at a time).
# Usage: run_fuzz.sh BUILD_DIR [SECONDS]
set -euo pipefail
build=${1:?usage: run_fuzz.sh BUILD_DIR [SECONDS]}
seconds=${2:-60}
corpora=$(cd "$(dirname "$0")" && pwd)/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for dir in "$corpora"/*/; do
  target=$(basename "$dir")
  mkdir -p "$work/$target"
  log=$work/$target.log
  if ! "$build/tests/fuzz/fuzz_$target" -fork=1 -ignore_ooms=1 -ignore_timeouts=1 \
      -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$work/$target-" "$work/$target" "$dir" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz_$target: FAILED (report above; the input is $work/$target-crash-*, kept)" >&2
    trap - EXIT
    exit 1
  fi
  # Fork mode's last status line: "#EXECUTIONS: cov: ... oom/timeout/crash: O/T/C time: ..."
  status=$(grep '^#[0-9]*: cov:' "$log" | tail -n 1)
  executions=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$status")
  read -r ooms timeouts < <(sed -E 's|.*oom/timeout/crash: ([0-9]+)/([0-9]+)/.*|\1 \2|' <<<"$status")
  echo "fuzz_$target: ${executions:-0} executions in $seconds s" \
       "(out of memory: ${ooms:-0}, timeouts: ${timeouts:-0})"
done
