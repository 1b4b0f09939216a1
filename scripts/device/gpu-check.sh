#!/usr/bin/env bash
# The GPU checks of the mrope CUDA kernels, in ONE call on the device machine
# (CUDA, nvcc, PyTorch; no LLVM/MLIR there):
#
#   here:   scripts/device/prepare.sh            # PTX + JSON -> scripts/device/kernels/
#   device: bash scripts/device/gpu-check.sh     # results -> $OUT
#
# It builds the driver-API launcher (tools/mrope-cuda-launch) with nvcc,
# smoke-runs every kernel for the device's chip with the CLI (the PTX JIT log
# is printed when the driver rejects a module), then runs gpu_check.py:
# correctness against a float64 reference at odd shapes (M-RoPE contiguous
# and interleaved, f32 and bf16) and the benchmark at Qwen2-VL-7B shapes
# (S = 4096, 32768) against a D2D memcpy, HF eager M-RoPE and torch.compile.
# Then gpu_check_fused.py: the fused QK-norm + RoPE + KV-cache kernels
# (fused_*), correctness against the float64 reference and the benchmark at
# Qwen3-VL-8B-like shapes against a D2D copy of the q and k bytes and torch
# eager norm + M-RoPE + cache write (FUSED_COMPILE=1 adds torch.compile).
# Writes $OUT/gpu-check.{md,json}, gpu-check-fused.{md,json}, smoke.txt,
# nvidia-smi.txt, build.log.
# Exit status: 0 when everything built and every correctness check passed.
#
# Not run end to end yet: written on a machine without a GPU (docs/gpu.md).
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${OUT:-$root/gpu-check-out}"
mkdir -p "$out"
work="$(mktemp -d)"
src="$root/tools/mrope-cuda-launch"
kernels="$root/scripts/device/kernels"
cuda="${CUDA_HOME:-/usr/local/cuda}"
nvcc="$(command -v nvcc || echo "$cuda/bin/nvcc")"
py="${PYTHON:-python3}"

nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true
cap="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')"
case "$cap" in
  9*|1[0-9]*) chip=sm_90 ;;   # sm_90 PTX also JITs on newer GPUs
  8*) chip=sm_80 ;;
  *) chip="${CHIP:-sm_90}" ;;
esac
echo "compute capability '$cap' -> kernels for $chip" | tee "$out/smoke.txt"

if ! ls "$kernels"/*."$chip".ptx > /dev/null 2>&1; then
  echo "no $kernels/*.$chip.ptx: run scripts/device/prepare.sh where LLVM/MLIR is" | tee -a "$out/smoke.txt"
  exit 1
fi

# The launcher: plain C++ on the driver API, compiled by nvcc's host compiler.
{
  "$nvcc" -O2 -std=c++17 -shared -Xcompiler -fPIC -I"$src" \
    "$src/mrope_cuda_launch.cpp" -L"$cuda/lib64/stubs" -lcuda \
    -o "$work/libmrope_cuda_launch.so" &&
  "$nvcc" -O2 -std=c++17 -I"$src" "$src/mrope-cuda-launch.cpp" \
    -L"$work" -lmrope_cuda_launch -L"$cuda/lib64/stubs" -lcuda \
    -Xlinker -rpath="$work" -o "$work/mrope-cuda-launch"
} > "$out/build.log" 2>&1
if [ $? -ne 0 ]; then
  echo "building the launcher failed:"; cat "$out/build.log"; exit 1
fi

status=0
for ptx in "$kernels"/*."$chip".ptx; do
  case "$(basename "$ptx")" in fused_*) continue ;; esac  # another ABI
  json="${ptx%.ptx}.json"
  read -r entry bx by bytes < <("$py" -c '
import json, sys
m = json.load(open(sys.argv[1]))
print(m["entry"], m["block"][0], m["block"][1], 4 if m["dtype"] == "f32" else 2)' "$json")
  if "$work/mrope-cuda-launch" "$ptx" --entry "$entry" --block "$bx,$by" \
       --elem-bytes "$bytes" --batch 2 --seq 37 --q-heads 28 --kv-heads 4 \
       >> "$out/smoke.txt" 2>&1; then
    echo "smoke ok: $(basename "$ptx")" | tee -a "$out/smoke.txt"
  else
    echo "smoke FAILED: $(basename "$ptx")" | tee -a "$out/smoke.txt"; status=1
  fi
done

"$py" "$root/scripts/device/gpu_check.py" --kernels "$kernels" --chip "$chip" \
  --launcher "$work/libmrope_cuda_launch.so" --out "$out" || status=1
"$py" "$root/scripts/device/gpu_check_fused.py" --kernels "$kernels" --chip "$chip" \
  --launcher "$work/libmrope_cuda_launch.so" --out "$out" \
  ${FUSED_COMPILE:+--torch-compile} || status=1
rm -rf "$work"
exit $status
