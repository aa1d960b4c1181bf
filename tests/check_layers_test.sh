#!/usr/bin/env bash
# The layering check must fail on a tree that breaks the rules: a tree with one planted
# violation of each kind fails with one message for each, and the same tree without them
# passes. Usage: check_layers_test.sh path/to/check_layers.sh
set -uo pipefail
check=${1:?usage: check_layers_test.sh check_layers.sh}
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree"/core/src/{common,data,engine,mpi} "$tree"/core/include/dude "$tree"/kernels/src
echo '#include "common/rng.hpp"' >"$tree/core/src/data/ok.cpp"
echo '#include "dude/errors.hpp"' >"$tree/core/include/dude/api.hpp"
echo '#include "gemm.hpp"' >"$tree/kernels/src/k.cpp"
echo '#include "engine/policy.hpp"' >"$tree/core/src/mpi/ok.cpp"
touch "$tree/kernels/src/gemm.hpp" "$tree/core/src/common/rng.hpp"
failures=0
if ! bash "$check" "$tree" >/dev/null 2>&1; then
  echo "FAIL: the clean tree was rejected"; failures=$((failures + 1))
fi
echo '#include "engine/server.hpp"' >"$tree/core/src/data/up.cpp"      # points up
echo '#include "rng.hpp"' >"$tree/core/src/common/bare.cpp"            # names no layer
echo '#include "data/x.hpp"' >"$tree/core/include/dude/leak.hpp"       # public -> internal
echo '#include "common/rng.hpp"' >"$tree/kernels/src/up.cpp"           # kernels -> core
echo '#include "mpi/wire.hpp"' >"$tree/core/src/engine/mpi.cpp"        # shared memory -> MPI
touch "$tree/core/src/flat.cpp"                                        # outside the layers
out=$(bash "$check" "$tree" 2>&1); rc=$?
[ "$rc" -eq 1 ] || { echo "FAIL: exit $rc on the planted tree, expected 1"; failures=$((failures + 1)); }
for expected in 'up.cpp:1: data includes "engine/server.hpp"' 'bare.cpp:1: "rng.hpp" names no layer' \
                'leak.hpp:1: a public header may not include' 'kernels/src/up.cpp:1: kernels/' \
                'engine/mpi.cpp:1: engine includes "mpi/wire.hpp"' \
                'flat.cpp:0: a source file outside' 'check_layers: 6 include(s)'; do
  grep -qF "$expected" <<<"$out" || { echo "FAIL: no '$expected' in: $out"; failures=$((failures + 1)); }
done
[ "$failures" -eq 0 ] && echo "check_layers_test: the planted violations were all reported"
exit $((failures > 0))
