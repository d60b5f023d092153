#!/usr/bin/env bash
# Checks that every C++ file git tracks is laid out as .clang-format says,
# with clang-format 14 (Debian 12's; other versions lay some constructs out
# differently). Prints the files that are not and exits 1.
#
#   scripts/check-format.sh          check (CI's format stage)
#   scripts/check-format.sh --fix    rewrite them in place
set -euo pipefail
cd "$(dirname "$0")/.."
clang_format=clang-format-14
command -v "$clang_format" >/dev/null || {
  echo "check-format: $clang_format is missing (scripts/setup.sh format)" >&2
  exit 2
}
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h')
if [ "${1:-}" = --fix ]; then
  "$clang_format" -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  "$clang_format" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  printf 'check-format: not laid out as .clang-format says:\n' >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "check-format: run scripts/check-format.sh --fix" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files laid out as .clang-format says"
