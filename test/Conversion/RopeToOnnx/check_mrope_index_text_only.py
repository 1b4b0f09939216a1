"""rope.mrope_index without grids (and without segments): upstream's text-only
branch of get_rope_index (cumsum(mask) - 1, padded slots 1 under every arch,
rope_deltas the row's largest value, padded slots included, + 1 - the arch's
length) against mrope.position_ids(ids, arch=A, attention_mask=mask), through
both lowerings: convert-rope-to-onnx run in ONNX Runtime, and
mrope-cpu-pipeline JIT-run by mlir-runner. Every arch, one batch of masks
that tell the pad value apart: full, left-padded, right-padded, one kept
token (its delta reads the padded 1s) and no kept token. Exact equality
(integers, or f32 holding small integers, printed exactly).

usage: check_mrope_index_text_only.py BIN_DIR LLVM_TOOLS_DIR LIB_DIR WORKDIR
"""
import os
import re
import subprocess
import sys

import numpy as np

import mrope
from mrope import ort
from mrope.archs import arch_spec

ARCHS = {"qwen2-vl": "qwen2_vl", "qwen2.5-vl": "qwen2_5_vl", "qwen3-vl": "qwen3_vl", "qwen3.5": "qwen3_5",
         "qwen2.5-omni": "qwen2_5_omni", "qwen3-omni": "qwen3_omni", "glm4v": "glm4v"}
MASK = np.array([[1, 1, 1, 1, 1, 1],
                 [0, 0, 1, 1, 1, 1],
                 [1, 1, 1, 1, 0, 0],
                 [0, 0, 0, 0, 0, 1],
                 [0, 0, 0, 0, 0, 0]], np.int64)
IDS = (np.arange(MASK.size, dtype=np.int64).reshape(MASK.shape) * 7) % 900 + 10   # text ids only
B, S = MASK.shape


def elem(arch):
    return "f32" if arch_spec(arch).dtype == np.float32 else "i64"


def onnx_module(arch):
    e = elem(arch)
    return f"""module attributes {{onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]}} {{
  onnx.graph @main(%ids: tensor<?x?xi64> {{onnx.name = "input_ids"}}, %mask: tensor<?x?xi64> {{onnx.name = "attention_mask"}})
      -> (tensor<3x?x?x{e}> {{onnx.name = "position_ids"}}, tensor<?x1x{e}> {{onnx.name = "rope_deltas"}}) {{
    %p, %d = rope.mrope_index %ids mask %mask {{arch = #rope.index_arch<{ARCHS[arch]}>}}
        : (tensor<?x?xi64>, tensor<?x?xi64>) -> (tensor<3x?x?x{e}>, tensor<?x1x{e}>)
    onnx.return %p, %d : tensor<3x?x?x{e}>, tensor<?x1x{e}>
  }}
}}
"""


def dense(a):
    return "dense<" + str(a.tolist()) + "> : tensor<" + "x".join(map(str, a.shape)) + "xi64>"


def loops_module(arch):
    e = elem(arch)
    pr = "printMemrefF32" if e == "f32" else "printMemrefI64"
    return f"""func.func private @{pr}(memref<*x{e}>)
func.func @main() {{
  %ids = arith.constant {dense(IDS)}
  %mask = arith.constant {dense(MASK)}
  %p, %d = rope.mrope_index %ids mask %mask {{arch = #rope.index_arch<{ARCHS[arch]}>}}
      : (tensor<{B}x{S}xi64>, tensor<{B}x{S}xi64>) -> (tensor<3x{B}x{S}x{e}>, tensor<{B}x1x{e}>)
  %pm = bufferization.to_buffer %p : tensor<3x{B}x{S}x{e}> to memref<3x{B}x{S}x{e}>
  %pu = memref.cast %pm : memref<3x{B}x{S}x{e}> to memref<*x{e}>
  call @{pr}(%pu) : (memref<*x{e}>) -> ()
  %dm = bufferization.to_buffer %d : tensor<{B}x1x{e}> to memref<{B}x1x{e}>
  %du = memref.cast %dm : memref<{B}x1x{e}> to memref<*x{e}>
  call @{pr}(%du) : (memref<*x{e}>) -> ()
  return
}}
"""


def compare(name, arch, pos, deltas, want_pos, want_deltas):
    ok = pos.shape == want_pos.shape and np.array_equal(pos, want_pos) and \
        deltas.shape == want_deltas.shape and np.array_equal(deltas, want_deltas)
    detail = "" if ok else (f": positions {pos.reshape(3, B, S)[0].tolist()} vs {want_pos[0].tolist()}, "
                            f"rope_deltas {deltas.ravel().tolist()} vs {want_deltas.ravel().tolist()}")
    print(f"{'ok' if ok else 'FAIL'} {arch} {name}{detail}", flush=True)
    return ok


def main():
    bindir, llvm_tools, libdir, work = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    opt = os.path.join(bindir, "mrope-opt")
    libs = ",".join(os.path.join(libdir, f) for f in ("libmlir_runner_utils.so", "libmlir_c_runner_utils.so"))
    passed = failed = 0
    for arch in ARCHS:
        want_pos, want_deltas = mrope.position_ids(IDS, arch=arch, attention_mask=MASK)
        dtype = np.float32 if elem(arch) == "f32" else np.int64
        want_pos, want_deltas = np.asarray(want_pos, dtype), np.asarray(want_deltas, dtype)
        stem = os.path.join(work, arch)
        try:
            lowered = subprocess.run([opt, "--convert-rope-to-onnx"], input=onnx_module(arch),
                                     capture_output=True, text=True, check=True).stdout
            subprocess.run([os.path.join(bindir, "mrope-translate"), "--export-onnx", "-o", stem + ".onnx"],
                           input=lowered, text=True, check=True, capture_output=True)
            out = ort.run(stem + ".onnx", {"input_ids": IDS, "attention_mask": MASK})
            ok = compare("onnx", arch, np.asarray(out["position_ids"]), np.asarray(out["rope_deltas"]),
                         want_pos, want_deltas)
        except (subprocess.CalledProcessError, ort.OrtError) as e:
            print(f"FAIL {arch} onnx: {(getattr(e, 'stderr', '') or str(e)).strip()[:300]}")
            ok = False
        passed += ok
        failed += not ok
        try:
            lowered = subprocess.run([opt, "--mrope-cpu-pipeline"], input=loops_module(arch),
                                     capture_output=True, text=True, check=True).stdout
            run = subprocess.run([os.path.join(llvm_tools, "mlir-runner"), "-e", "main",
                                  "-entry-point-result=void", f"-shared-libs={libs}"],
                                 input=lowered, capture_output=True, text=True, check=True)
            printed = run.stdout.split("Unranked Memref")[1:]
            values = [np.array([float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?",
                                                              p.split("data =", 1)[1])], dtype)
                      for p in printed]
            ok = compare("loops", arch, values[0].reshape(3, B, S), values[1].reshape(B, 1), want_pos,
                         want_deltas)
        except subprocess.CalledProcessError as e:
            print(f"FAIL {arch} loops: {e.stderr.strip()[:300]}")
            ok = False
        passed += ok
        failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
