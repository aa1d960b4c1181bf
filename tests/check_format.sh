#!/usr/bin/env bash
# Fails when a C++ file of the repository differs from what clang-format makes of it under the
# repository's .clang-format. Usage: check_format.sh ROOT [CLANG_FORMAT]
# To fix: clang-format -i on the files it names.
set -uo pipefail
root=${1:?usage: check_format.sh ROOT [CLANG_FORMAT]}
clang_format=${2:-clang-format}
cd "$root" || exit 2
[ -f .clang-format ] || { echo "check_format: $root/.clang-format is missing" >&2; exit 2; }
dirs=()
for dir in core kernels tools tests bench examples; do [ -d "$dir" ] && dirs+=("$dir"); done
mapfile -d '' files < <(find "${dirs[@]}" \( -name '*.cpp' -o -name '*.hpp' \) -print0 | sort -z)
[ "${#files[@]}" -gt 0 ] || { echo "check_format: no C++ files under $root" >&2; exit 2; }
bad=0
for file in "${files[@]}"; do
  if ! "$clang_format" --style=file --dry-run --Werror "$file" >/dev/null 2>&1; then
    echo "check_format: $file is not formatted (clang-format -i $file)" >&2
    bad=$((bad + 1))
  fi
done
if [ "$bad" -gt 0 ]; then
  echo "check_format: $bad of ${#files[@]} files differ from clang-format" >&2
  exit 1
fi
echo "check_format: ${#files[@]} files formatted"
