#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: install, build, then
# run lit (C++ tools, dialect, passes, models) and the Python tests.
# Exits non-zero on any failure.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${MROPE_BUILD_DIR:-$root/build}

"$root/scripts/setup.sh"
"$root/scripts/build.sh"

status=0
echo "== lit: C++ tools, dialects, passes, models"
LIT_OPTS="${LIT_OPTS:--sv}" cmake --build "$build" --target check-mrope || status=1

echo "== pytest: python/ reference, model zoo, ONNX Runtime harness"
if [ -d "$root/python/tests" ]; then
  (cd "$root/python" && /usr/bin/python3 -m pytest -q tests) || status=1
fi

if [ $status -ne 0 ]; then
  echo "mrope tests: FAILED" >&2
fi
exit $status
