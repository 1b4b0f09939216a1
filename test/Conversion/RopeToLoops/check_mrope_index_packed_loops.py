"""rope.mrope_index lowered to loops (mrope-cpu-pipeline), JIT-run by
mlir-runner, against mrope.position_ids: the packed batches of
../RopeToOnnx/check_mrope_index_packed.py (segment_ids operand, rope_deltas
[B, K]) or, with --unpacked, its one-sample-per-row batches (no segment
ids, padding masked), under --arch. Exact equality (integers). --text-row:
[4, B, S] positions, the text row first.

usage: check_mrope_index_packed_loops.py BIN_DIR LLVM_TOOLS_DIR LIB_DIR --arch A [--batches N] [--unpacked] [--text-row]
"""
import argparse
import importlib.util
import os
import re
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "gen", os.path.join(HERE, "..", "RopeToOnnx", "check_mrope_index_packed.py"))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)

ATTRS = {"qwen2-vl": "",
         "qwen2.5-vl": "{arch = #rope.index_arch<qwen2_5_vl>}",
         "qwen3-vl": "{arch = #rope.index_arch<qwen3_vl>}",
         "qwen3.5": "{arch = #rope.index_arch<qwen3_5>, image_token = 248056 : i64, "
                    "video_token = 248057 : i64, vision_start = 248053 : i64}",
         "glm4v": "{arch = #rope.index_arch<glm4v>, image_token = 151343 : i64, "
                  "video_token = 151344 : i64}",
         "qwen2.5-omni": "{arch = #rope.index_arch<qwen2_5_omni>}"}


def dense(a, elem):
    shape = "x".join(str(d) for d in a.shape) + "x" + elem
    if a.size == 0:
        return f"dense<> : tensor<{shape}>"
    body = np.array2string(a, separator=", ", threshold=10**9, max_line_width=10**9,
                           formatter={"all": lambda v: repr(float(v)) if elem == "f32" else str(int(v))})
    return f"dense<{body}> : tensor<{shape}>"


def index_func(arch, packed, rows=3, token_types=False):
    """One lowered rope.mrope_index over dynamic shapes, printing its results: every batch calls it
    (one copy of the loops to JIT, not one per batch)."""
    dyn2, grid = "tensor<?x?xi64>", "tensor<?x3xi64>"
    args = [f"%ids: {dyn2}", f"%mask: {dyn2}"]
    operands, types = "%ids mask %mask", f"{dyn2}, {dyn2}"
    if packed:
        args.append(f"%seg: {dyn2}")
        operands += " segments %seg"
        types += f", {dyn2}"
    if token_types:
        args.append(f"%typ: {dyn2}")
        operands += " types %typ"
        types += f", {dyn2}"
    args += [f"%img: {grid}", f"%vid: {grid}"]
    operands += " images %img videos %vid"
    types += f", {grid}, {grid}"
    if arch in gen.SECONDS:
        args.append("%sec: tensor<?xf32>")
        operands += " seconds %sec"
        types += ", tensor<?xf32>"
    delta_t, delta_m = ("tensor<?x?xi64>", "memref<?x?xi64>") if packed else \
        ("tensor<?x1xi64>", "memref<?x1xi64>")
    pos_t = f"tensor<{rows}x?x?xi64>"
    return "\n".join([
        f"func.func @index({', '.join(args)}) {{",
        f"  %p, %d = rope.mrope_index {operands} {ATTRS[arch]} : ({types}) -> ({pos_t}, {delta_t})",
        f"  %pm = bufferization.to_buffer %p : {pos_t} to memref<{rows}x?x?xi64>",
        f"  %pu = memref.cast %pm : memref<{rows}x?x?xi64> to memref<*xi64>",
        "  call @printMemrefI64(%pu) : (memref<*xi64>) -> ()",
        f"  %dm = bufferization.to_buffer %d : {delta_t} to {delta_m}",
        f"  %du = memref.cast %dm : {delta_m} to memref<*xi64>",
        "  call @printMemrefI64(%du) : (memref<*xi64>) -> ()",
        "  return", "}"])


def case(k, ids, mask, seg, img, vid, sec, extra, arch, packed):
    ty = lambda a, e="i64": "tensor<" + "x".join(str(d) for d in a.shape) + "x" + e + ">"
    if not packed:
        mask = mask * (seg > 0)
    lines = [f"func.func @case{k}() {{"]
    args, types = [], []

    def arg(name, a, elem="i64", dyn="tensor<?x?xi64>"):
        lines.append(f"  %{name}c = arith.constant {dense(a, elem)}")
        lines.append(f"  %{name} = tensor.cast %{name}c : {ty(a, elem)} to {dyn}")
        args.append(f"%{name}")
        types.append(dyn)

    arg("ids", ids)
    arg("mask", mask)
    if packed:
        arg("seg", seg)
    if "mm_token_type_ids" in extra:
        arg("typ", extra["mm_token_type_ids"])
    arg("img", img, dyn="tensor<?x3xi64>")
    arg("vid", vid, dyn="tensor<?x3xi64>")
    if arch in gen.SECONDS:
        arg("sec", sec, "f32", "tensor<?xf32>")
    lines += [f"  call @index({', '.join(args)}) : ({', '.join(types)}) -> ()", "  return", "}"]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bindir")
    ap.add_argument("llvm_tools")
    ap.add_argument("libdir")
    ap.add_argument("--arch", required=True, choices=list(ATTRS))
    ap.add_argument("--batches", type=int, default=300)
    ap.add_argument("--unpacked", action="store_true")
    ap.add_argument("--text-row", action="store_true")
    ap.add_argument("--types", action="store_true")
    a = ap.parse_args()
    packed = not a.unpacked
    cases = gen.cases(a.arch, a.batches, 2026, packed, a.types)
    module = ["func.func private @printMemrefI64(memref<*xi64>)",
              index_func(a.arch, packed, 4 if a.text_row else 3, a.types)]
    module += [case(k, *c, a.arch, packed) for k, c in enumerate(cases)]
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
    shapes = [tuple(int(v) for v in re.search(r"sizes = \[([^\]]*)\]", p).group(1).split(","))
              for p in printed]
    values = [np.array([int(v) for v in re.findall(r"-?\d+", p.split("data =", 1)[1])]).reshape(s)
              for p, s in zip(printed, shapes)]
    pairs = [({"position_ids": values[2 * k], "rope_deltas": values[2 * k + 1]},
              gen.reference_positions(*c, a.arch, packed, a.text_row)) for k, c in enumerate(cases)]
    return gen.report(pairs, a.batches, packed, gen.summary(cases))


if __name__ == "__main__":
    sys.exit(main())
