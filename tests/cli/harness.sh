# harness.sh: what the CLI test scripts share, sourced with the dude binary as $1: the binary's
# absolute path in $dude, a fresh working directory (removed on exit) as the current one, and
# pass/fail counters with ok and fail.
set -u
dude=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
passed=0
failed=0

fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
ok() { passed=$((passed + 1)); }
