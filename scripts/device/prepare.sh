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
# The fused QK-norm + RoPE + KV-cache kernel, Qwen3-VL-like (interleaved
# [24, 20, 20], rotate-half, D = 128): f32 and bf16, 4 rows in flight per
# thread (the default) and 2 (fewer registers; which is faster is measured,
# not known), plus GPT-J pairs for correctness only.
for chip in sm_90 sm_80; do
  for dtype in f32 bf16; do
    for h in 4 2; do
      "$compile" --fuse norm,cache --target cuda --chip "$chip" --dtype "$dtype" \
        --sections 24,20,20 --interleaved --theta 5e6 --head-dim 128 --eps 1e-6 \
        --heads-per-iteration "$h" --name "fused_${dtype}_h${h}" \
        -o "$out/fused_${dtype}_h${h}.${chip}.ptx"
    done
  done
  "$compile" --fuse norm,cache --target cuda --chip "$chip" --pairs gptj \
    --sections 16,24,24 --head-dim 128 --eps 1e-5 --name fused_gptj_f32 \
    -o "$out/fused_gptj_f32.${chip}.ptx"
done
# The fused kernels' reference (fused_ref.py, plain Python) against the CPU
# fused kernel built here: the GPU check compares the GPU kernel with it.
python3 "$root/scripts/device/fused_ref.py" --selftest-cpu --compile "$compile" \
  --ptx "$out/fused_f32_h4.sm_90.ptx" "$out/fused_gptj_f32.sm_90.ptx"
# ptxas is not needed for the device run (the driver JITs the PTX), but
# check the PTX here when it is available.
ptxas="$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)"
if [ -x "$ptxas" ]; then
  for f in "$out"/*.ptx; do
    chip="${f%.ptx}"; chip="${chip##*.}"
    if "$ptxas" -arch="$chip" -v "$f" -o /dev/null 2>&1 | grep -q " [1-9][0-9]* bytes spill"; then
      echo "ptxas: $f spills"; exit 1
    fi
  done
  echo "ptxas accepts all kernels, none spills"
fi
ls -1 "$out"
