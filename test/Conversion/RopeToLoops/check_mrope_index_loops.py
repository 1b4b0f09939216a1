"""rope.mrope_index lowered to loops (mrope-cpu-pipeline), JIT-run by
mlir-runner, against mrope.reference.rope_index: the worked example and
random batches of check_mrope_index.py (left padding, several images and
videos per row, rows without vision), under the rules of --arch (the op's
arch attribute). Exact equality (integers).

usage: check_mrope_index_loops.py BIN_DIR LLVM_TOOLS_DIR LIB_DIR [--arch A] [--batches N]
"""
import argparse
import importlib.util
import os
import re
import subprocess
import sys

import numpy as np

from mrope import reference

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "gen", os.path.join(HERE, "..", "RopeToOnnx", "check_mrope_index.py"))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)


def dense(a, elem):
    shape = "x".join(str(d) for d in a.shape) + "x" + elem
    if a.size == 0:
        return f"dense<> : tensor<{shape}>"
    body = np.array2string(a, separator=", ", threshold=10**9, max_line_width=10**9,
                           formatter={"all": lambda v: repr(float(v)) if elem == "f32" else str(int(v))})
    return f"dense<{body}> : tensor<{shape}>"


ARCH_ATTR = {"qwen2-vl": "qwen2_vl", "qwen2.5-vl": "qwen2_5_vl", "qwen3-vl": "qwen3_vl"}


def case(k, ids, mask, img, vid, sec, arch):
    B, S = ids.shape
    ty = lambda a, e="i64": "tensor<" + "x".join(str(d) for d in a.shape) + "x" + e + ">"
    pos_t, delta_t = f"tensor<3x{B}x{S}xi64>", f"tensor<{B}x1xi64>"
    lines = [f"func.func @case{k}() {{",
             f"  %ids = arith.constant {dense(ids, 'i64')}",
             f"  %mask = arith.constant {dense(mask, 'i64')}",
             f"  %img = arith.constant {dense(img, 'i64')}",
             f"  %vid = arith.constant {dense(vid, 'i64')}"]
    operands = "%ids mask %mask images %img videos %vid"
    types = f"{ty(ids)}, {ty(mask)}, {ty(img)}, {ty(vid)}"
    # tokens_per_second is left to the qwen2_5_vl default (2)
    attrs = f" {{arch = #rope.index_arch<{ARCH_ATTR[arch]}>}}"
    if arch == "qwen2.5-vl":
        lines.append(f"  %sec = arith.constant {dense(sec, 'f32')}")
        operands += " seconds %sec"
        types += f", {ty(sec, 'f32')}"
    lines += [f"  %p, %d = rope.mrope_index {operands}{attrs} : ({types}) -> ({pos_t}, {delta_t})",
              f"  %pm = bufferization.to_buffer %p : {pos_t} to memref<3x{B}x{S}xi64>",
              f"  %pu = memref.cast %pm : memref<3x{B}x{S}xi64> to memref<*xi64>",
              "  call @printMemrefI64(%pu) : (memref<*xi64>) -> ()",
              f"  %dm = bufferization.to_buffer %d : {delta_t} to memref<{B}x1xi64>",
              f"  %du = memref.cast %dm : memref<{B}x1xi64> to memref<*xi64>",
              "  call @printMemrefI64(%du) : (memref<*xi64>) -> ()",
              "  return", "}"]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bindir")
    ap.add_argument("llvm_tools")
    ap.add_argument("libdir")
    ap.add_argument("--arch", choices=list(reference.ARCHS), default="qwen2-vl")
    ap.add_argument("--batches", type=int, default=40)
    a = ap.parse_args()
    cases = [gen.worked_example(a.arch)]
    rng = np.random.default_rng(7)
    cases += [gen.random_batch(rng, a.arch) for _ in range(a.batches)]
    module = ["func.func private @printMemrefI64(memref<*xi64>)"]
    module += [case(k, *c, a.arch) for k, c in enumerate(cases)]
    module += ["func.func @main() {"] + [f"  call @case{k}() : () -> ()" for k in range(len(cases))]
    module += ["  return", "}"]
    lowered = subprocess.run([os.path.join(a.bindir, "mrope-opt"), "--mrope-cpu-pipeline"],
                             input="\n".join(module), capture_output=True, text=True, check=True)
    libs = ",".join(os.path.join(a.libdir, f) for f in
                    ("libmlir_runner_utils.so", "libmlir_c_runner_utils.so"))
    run = subprocess.run([os.path.join(a.llvm_tools, "mlir-runner"), "-e", "main",
                          "-entry-point-result=void", f"-shared-libs={libs}"],
                         input=lowered.stdout, capture_output=True, text=True, check=True)
    printed = run.stdout.split("Unranked Memref")[1:]
    values = [np.array([int(v) for v in re.findall(r"-?\d+", p.split("data =", 1)[1])])
              for p in printed]
    bad = []
    for k, (ids, mask, img, vid, sec) in enumerate(cases):
        pos, delta = gen.reference_positions(ids, mask, img, vid, sec, a.arch)
        if not (np.array_equal(values[2 * k], pos.reshape(-1)) and
                np.array_equal(values[2 * k + 1], delta.reshape(-1))):
            bad.append(k)
    ok = not bad
    print(f"{'ok' if ok else 'FAIL'} {len(cases)} batches (worked example + random)"
          + (f": mismatches at {bad[:5]}" if bad else ""))
    print(f"{int(ok)} passed, {int(not ok)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
