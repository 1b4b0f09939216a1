"""rope.mrope_index lowered to loops (mrope-cpu-pipeline), JIT-run by
mlir-runner, against mrope.position_ids: the packed batches of
../RopeToOnnx/check_mrope_index_packed.py (segment_ids operand, rope_deltas
[B, K]) or, with --unpacked, its one-sample-per-row batches (no segment
ids, padding masked), under --arch. Exact equality (integers; qwen3-omni's
f32 results bit for bit, read as the i32 bits of its values). --text-row:
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
         "qwen2.5-omni": "{arch = #rope.index_arch<qwen2_5_omni>}",
         "qwen3-omni": "{arch = #rope.index_arch<qwen3_omni>}"}
# Archs whose results are f32: printed as their bits (printMemrefI32 of a
# bitcast), since printMemrefF32 rounds to 6 digits and equality is exact.
FLOAT = ("qwen3-omni",)


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
    if arch in FLOAT:
        return float_index_func(arch, packed, rows, args, operands, types)
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


def float_index_func(arch, packed, rows, args, operands, types):
    """index_func for f32 results: each printed as the i32 bits of its values (copied by a loop nest
    that bitcasts element by element)."""
    d2 = "?x?" if packed else "?x1"
    pos_t, delta_t = f"tensor<{rows}x?x?xf32>", f"tensor<{d2}xf32>"
    lines = [f"func.func @index({', '.join(args)}) {{",
             f"  %p, %d = rope.mrope_index {operands} {ATTRS[arch]} : ({types}) -> ({pos_t}, {delta_t})",
             "  %c0 = arith.constant 0 : index", "  %c1 = arith.constant 1 : index",
             "  %c2 = arith.constant 2 : index"]
    for name, shape, rank in (("p", f"{rows}x?x?", 3), ("d", d2, 2)):
        lines.append(f"  %{name}m = bufferization.to_buffer %{name} : tensor<{shape}xf32> to memref<{shape}xf32>")
        dims = [f"%{name}n{i}" for i in range(rank)]
        lines += [f"  {d} = memref.dim %{name}m, %c{i} : memref<{shape}xf32>" for i, d in enumerate(dims)]
        dyn = ", ".join(d for d, c in zip(dims, shape.split("x")) if c == "?")
        lines.append(f"  %{name}b = memref.alloc({dyn}) : memref<{shape}xi32>")
        iv = [f"%{name}i{i}" for i in range(rank)]
        for i in range(rank):
            lines.append(f"  scf.for {iv[i]} = %c0 to {dims[i]} step %c1 {{")
        idx = ", ".join(iv)
        lines += [f"  %{name}v = memref.load %{name}m[{idx}] : memref<{shape}xf32>",
                  f"  %{name}x = arith.bitcast %{name}v : f32 to i32",
                  f"  memref.store %{name}x, %{name}b[{idx}] : memref<{shape}xi32>"]
        lines += ["  }"] * rank
        lines += [f"  %{name}u = memref.cast %{name}b : memref<{shape}xi32> to memref<*xi32>",
                  f"  call @printMemrefI32(%{name}u) : (memref<*xi32>) -> ()"]
    return "\n".join(lines + ["  return", "}"])


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
              "func.func private @printMemrefI32(memref<*xi32>)",
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
    if a.arch in FLOAT:   # the bits of f32 values
        values = [v.astype(np.int32).view(np.float32) for v in values]
    pairs = [({"position_ids": values[2 * k], "rope_deltas": values[2 * k + 1]},
              gen.reference_positions(*c, a.arch, packed, a.text_row)) for k, c in enumerate(cases)]
    return gen.report(pairs, a.batches, packed, gen.summary(cases, a.arch), a.arch)


if __name__ == "__main__":
    sys.exit(main())
