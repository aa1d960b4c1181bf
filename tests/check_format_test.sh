#!/usr/bin/env bash
# The format check must fail on an unformatted file: a copy of the repository's .clang-format
# with one well-formatted and one badly formatted file fails naming the bad one only, and
# passes once that file is formatted. Usage: check_format_test.sh ROOT [CLANG_FORMAT]
set -uo pipefail
root=${1:?usage: check_format_test.sh ROOT [CLANG_FORMAT]}
clang_format=${2:-clang-format}
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/core"
cp "$root/.clang-format" "$tree/"
printf 'int good() { return 1; }\n' >"$tree/core/good.cpp"
printf 'int   bad( ){return 2;}\n' >"$tree/core/bad.cpp"
check="$root/tests/check_format.sh"
failures=0
out=$(bash "$check" "$tree" "$clang_format" 2>&1); rc=$?
[ "$rc" -eq 1 ] || { echo "FAIL: exit $rc on an unformatted file, expected 1"; failures=$((failures + 1)); }
grep -q 'core/bad.cpp is not formatted' <<<"$out" || { echo "FAIL: bad.cpp not named: $out"; failures=$((failures + 1)); }
grep -q 'good.cpp' <<<"$out" && { echo "FAIL: good.cpp named: $out"; failures=$((failures + 1)); }
"$clang_format" --style=file -i "$tree/core/bad.cpp"
bash "$check" "$tree" "$clang_format" >/dev/null 2>&1 || { echo "FAIL: rejected after formatting"; failures=$((failures + 1)); }
[ "$failures" -eq 0 ] && echo "check_format_test: the unformatted file was reported, the formatted tree passed"
exit $((failures > 0))
