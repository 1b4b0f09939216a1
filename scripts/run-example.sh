#!/usr/bin/env bash
# The main job on the bundled example, from a fresh Debian 12 machine:
# install, build, then run mrope-fix on a Qwen2-VL-style decoder exported by
# torch whose M-RoPE gets its three position rows from one 1D tensor (the
# bug), print the report, write the corrected model and an HTML report, and
# check the result.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${MROPE_BUILD_DIR:-$root/build}
model=${1:-$root/test/models/zoo/qwen2vl_expand_bug.onnx}
out=$build/example

"$root/scripts/setup.sh"
"$root/scripts/build.sh"
mkdir -p "$out"

echo "== mrope-fix $(basename "$model") --report --html --arch qwen2-vl -o fixed.onnx"
"$build/bin/mrope-fix" "$model" --arch qwen2-vl --report "$out/report.json" \
    --html "$out/report.html" -o "$out/fixed.onnx"
echo "== report ($out/report.json)"
cat "$out/report.json"
echo "== the fixed model, analysed again"
"$build/bin/mrope-fix" "$out/fixed.onnx" --arch qwen2-vl --check
echo "== HTML report (open it in a browser): $out/report.html"
