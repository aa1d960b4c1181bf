#!/usr/bin/env bash
# Runs an MPI test program on 3 ranks of this machine; catch_discover_tests uses it for both
# listing and running the tests. A listing (Catch's --list-…) runs on one rank, so that each
# TEST_CASE is registered once. --oversubscribe: CI has 2 cores; --allow-run-as-root: CI is
# root.
set -euo pipefail
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ranks=3
for arg in "$@"; do
  case $arg in --list*) ranks=1 ;; esac
done
exec mpiexec --allow-run-as-root --oversubscribe -np "$ranks" "$@"
