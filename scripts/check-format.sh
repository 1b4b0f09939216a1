#!/usr/bin/env bash
# Checks that every C++ file of the project is formatted as .clang-format
# (LLVM style) says, with Debian's clang-format-22; --fix formats them in
# place. The files: what git tracks when this is a git checkout, else every
# *.cpp/*.h under the source folders (a release tarball).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
clang_format=${CLANG_FORMAT:-clang-format-22}
mode=(--dry-run -Werror)
[ "${1:-}" = "--fix" ] && mode=(-i)
cd "$root"
command -v "$clang_format" >/dev/null ||
  { echo "check-format: $clang_format not found (scripts/setup.sh installs it)" >&2; exit 1; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z -- '*.cpp' '*.h' | xargs -0 -r "$clang_format" "${mode[@]}"
else
  find include lib tools fuzz test \( -name '*.cpp' -o -name '*.h' \) -print0 |
    xargs -0 -r "$clang_format" "${mode[@]}"
fi
