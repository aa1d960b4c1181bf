#!/usr/bin/env bash
# Fails unless CTest registers exactly one test per TEST_CASE of tests/api and tests/internal
# (and tests/mpi, when the build registers the MPI tests: pass `mpi`): a name CTest splits (a
# ';' in it) or a test file left out of the build shows as a difference. The MPI tests are
# listed through mpi/launch.sh on one rank, so that 3 ranks do not register each 3 times.
# Usage: check_test_count.sh CTEST BUILD_DIR TESTS_SOURCE_DIR [mpi]
set -uo pipefail
ctest=${1:?usage: check_test_count.sh CTEST BUILD_DIR TESTS_SOURCE_DIR}
build=${2:?build dir}
sources=${3:?tests source dir}
registered=$("$ctest" --test-dir "$build" -N -L '^catch-' | grep -c 'Test *#')
folders=(api internal)
if [ "${4:-}" = mpi ]; then folders+=(mpi); fi
declared=$(for folder in "${folders[@]}"; do cat "$sources/$folder"/*.cpp; done | grep -c '^TEST_CASE(')
if [ "$registered" -ne "$declared" ]; then
  echo "check_test_count: CTest registers $registered Catch tests, the sources declare $declared TEST_CASEs" >&2
  exit 1
fi
echo "check_test_count: $declared TEST_CASEs, $registered CTest tests"
