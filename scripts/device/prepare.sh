#!/usr/bin/env bash
# Run HERE (the machine with LLVM/MLIR): writes the PTX kernels and their
# JSON ABI files that gpu-check.sh needs into scripts/device/kernels/.
# The device machine has CUDA but no LLVM/MLIR, so the PTX travels with the
# working tree. Usage: scripts/device/prepare.sh [BUILD_DIR] (default build-gpu)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build-gpu}"
compile="$build/bin/mrope-compile"
out="$root/scripts/device/kernels"
mkdir -p "$out"
# Any number of heads (read at run time), so one kernel serves the odd
# correctness shapes and the Qwen2-VL-7B benchmark (28 q heads, 4 kv heads).
for chip in sm_90 sm_80; do
  for dtype in f32 bf16; do
    # Qwen2-VL / Qwen2.5-VL: contiguous sections, rotate-half.
    "$compile" --target cuda --chip "$chip" --dtype "$dtype" \
      --sections 16,24,24 --head-dim 128 --theta 1e6 \
      --name "mrope_contig_${dtype}" -o "$out/mrope_contig_${dtype}.${chip}.ptx"
    # Qwen3-VL-style interleaved sections, GPT-J pairs (the other layout).
    "$compile" --target cuda --chip "$chip" --dtype "$dtype" \
      --sections 24,20,20 --interleaved --layout gptj --head-dim 128 --theta 5e6 \
      --name "mrope_inter_${dtype}" -o "$out/mrope_inter_${dtype}.${chip}.ptx"
  done
done
# ptxas is not needed for the device run (the driver JITs the PTX), but
# check the PTX here when it is available.
ptxas="$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)"
if [ -x "$ptxas" ]; then
  for f in "$out"/*.ptx; do
    chip="${f%.ptx}"; chip="${chip##*.}"
    "$ptxas" -arch="$chip" "$f" -o /dev/null
  done
  echo "ptxas accepts all kernels"
fi
ls -1 "$out"
