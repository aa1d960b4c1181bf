#!/usr/bin/env bash
# Fails unless CTest registers exactly one test per TEST_CASE of tests/api and tests/internal:
# a name CTest splits (a ';' in it) or a test file left out of the build shows as a difference.
# Usage: check_test_count.sh CTEST BUILD_DIR TESTS_SOURCE_DIR
set -uo pipefail
ctest=${1:?usage: check_test_count.sh CTEST BUILD_DIR TESTS_SOURCE_DIR}
build=${2:?build dir}
sources=${3:?tests source dir}
registered=$("$ctest" --test-dir "$build" -N -L '^catch-' | grep -c 'Test *#')
declared=$(cat "$sources"/api/*.cpp "$sources"/internal/*.cpp | grep -c '^TEST_CASE(')
if [ "$registered" -ne "$declared" ]; then
  echo "check_test_count: CTest registers $registered Catch tests, the sources declare $declared TEST_CASEs" >&2
  exit 1
fi
echo "check_test_count: $declared TEST_CASEs, $registered CTest tests"
