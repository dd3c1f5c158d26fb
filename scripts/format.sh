#!/usr/bin/env bash
# clang-format over every C/C++ source of ours, with the checked-in .clang-format.
#   scripts/format.sh           reformat in place
#   scripts/format.sh --check   change nothing; list the files that differ and exit 1 (CI)
# Debian 12's clang-format (14) is the reference: other versions may format differently.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: scripts/format.sh [--check]" >&2; exit 2 ;;
esac
tool=$(command -v clang-format-14 || command -v clang-format || true)
[ -n "$tool" ] || { echo "format.sh: clang-format not found (apt-get install clang-format)" >&2; exit 2; }

# Ours only: vendored code (third_party/) keeps its upstream form.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files -- '*.c' '*.cc' '*.cpp' '*.h' '*.hpp' ':!:third_party/**')
else
  mapfile -t files < <(find . -path ./third_party -prune -o -path './build*' -prune -o \
    -type f \( -name '*.c' -o -name '*.cc' -o -name '*.cpp' -o -name '*.h' -o -name '*.hpp' \) \
    -print | sed 's|^\./||' | sort)
fi
[ ${#files[@]} -gt 0 ] || { echo "format.sh: no sources found" >&2; exit 2; }

if [ $check = 0 ]; then
  "$tool" -i --style=file "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  "$tool" --style=file --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "not clang-formatted ($("$tool" --version | head -1)):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "fix: bash scripts/format.sh" >&2
  exit 1
fi
echo "format.sh: ${#files[@]} files clang-format clean"
