#!/usr/bin/env bash
# Checks the layering of the source tree (docs/DESIGN.md §9) from its #include "…" lines:
# - core/src/LAYER/ may include its own layer, the layers below it (common < data < model <
#   engine < train < mpi), the public headers "dude/…" and nothing else; mpi, the optional
#   MPI backend, is the top, so that nothing of the shared-memory library includes it;
# - the public headers core/include/dude/ include only "dude/…";
# - kernels/ (below every layer) includes only its own files and "dude/kernels.hpp".
# Usage: check_layers.sh ROOT    (exit 0 when every include points down, 1 otherwise)
set -uo pipefail
root=${1:?usage: check_layers.sh ROOT}
layers=(common data model engine train mpi)

rank_of() {
  local i
  for i in "${!layers[@]}"; do
    if [ "${layers[$i]}" = "$1" ]; then echo "$i"; return; fi
  done
  echo -1
}

violations=0
report() {
  echo "$1:$2: $3" >&2
  violations=$((violations + 1))
}

# Prints "line<TAB>target" for each quoted include of a file.
includes_of() {
  grep -n -E '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "$1" |
    sed -E 's/^([0-9]+):[^"]*"([^"]*)".*/\1\t\2/'
}

check_core_file() {
  local file=$1 layer=$2 own line target rank
  own=$(rank_of "$layer")
  while IFS=$'\t' read -r line target; do
    [ -n "$line" ] || continue
    case $target in
      dude/*) continue ;;
    esac
    rank=$(rank_of "${target%%/*}")
    if [ "$rank" -lt 0 ] || [ "$target" = "${target#*/}" ]; then
      report "$file" "$line" "\"$target\" names no layer (write \"LAYER/file\" or \"dude/file\")"
    elif [ "$rank" -gt "$own" ]; then
      report "$file" "$line" "$layer includes \"$target\" from the higher layer ${target%%/*}"
    fi
  done < <(includes_of "$file")
}

check_only_prefix() {  # FILE WHAT ALLOWED-REGEX
  local file=$1 what=$2 allowed=$3 line target
  while IFS=$'\t' read -r line target; do
    [ -n "$line" ] || continue
    [[ $target =~ $allowed ]] || report "$file" "$line" "$what may not include \"$target\""
  done < <(includes_of "$file")
}

[ -d "$root/core/src" ] || { echo "check_layers: $root/core/src: no such directory" >&2; exit 2; }
checked=0
for dir in "$root"/core/src/*/; do
  layer=$(basename "$dir")
  if [ "$(rank_of "$layer")" -lt 0 ]; then
    report "$dir" 0 "folder '$layer' is not a layer (${layers[*]})"
    continue
  fi
  while IFS= read -r -d '' file; do
    check_core_file "$file" "$layer"
    checked=$((checked + 1))
  done < <(find "$dir" -type f \( -name '*.hpp' -o -name '*.cpp' \) -print0)
done
for file in "$root"/core/src/*.hpp "$root"/core/src/*.cpp; do
  [ -e "$file" ] && report "$file" 0 "a source file outside every layer folder"
done
while IFS= read -r -d '' file; do
  check_only_prefix "$file" "a public header" '^dude/'
  checked=$((checked + 1))
done < <(find "$root/core/include" -type f -print0)
check_kernel_file() {
  local file=$1 line target
  while IFS=$'\t' read -r line target; do
    [ -n "$line" ] || continue
    [ "$target" = dude/kernels.hpp ] || [ -e "$(dirname "$file")/$target" ] ||
      report "$file" "$line" "kernels/ may include only its own files and dude/kernels.hpp, not \"$target\""
  done < <(includes_of "$file")
}
while IFS= read -r -d '' file; do
  check_kernel_file "$file"
  checked=$((checked + 1))
done < <(find "$root/kernels" -type f \( -name '*.hpp' -o -name '*.cpp' \) -print0)

if [ "$violations" -gt 0 ]; then
  echo "check_layers: $violations include(s) break the layering" >&2
  exit 1
fi
echo "check_layers: $checked files, every include points down"
