#!/usr/bin/env bash
# The main job on the bundled example, from a fresh Debian 12 machine:
# install, build, then run the most complete end-to-end path there is.
#
# Today that is mrope-opt on examples/qwen2vl-attention.mlir: parse and verify
# the M-RoPE of one Qwen2-VL attention and decompose it into the cos/sin
# tables and rotations exported graphs spell. `mrope-fix` on an ONNX model
# replaces this once it exists (see README, "Status").
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${MROPE_BUILD_DIR:-$root/build}

"$root/scripts/setup.sh"
"$root/scripts/build.sh"

echo "== mrope-opt --rope-decompose examples/qwen2vl-attention.mlir"
"$build/bin/mrope-opt" --rope-decompose "$root/examples/qwen2vl-attention.mlir"
