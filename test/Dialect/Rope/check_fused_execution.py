"""Tiled + fused against unfused, executed: QK-norm (RMSNorm over D) ->
rope.apply (Qwen3-VL interleaved M-RoPE, 8 q heads, 2 kv heads, GQA) -> k
written into a KV cache at an offset.

One module holds the chain twice: @unfused as written, and @fused, whose
rope.apply the transform schedule tiles by token blocks (scf.for) with both
norms fused into the loop (structured.fuse). Both are lowered the same way:
mrope-cpu-pipeline (empty-tensor elimination, so the fused loop writes
straight into the cache slot, one-shot bufferize, linalg -> loops, the rope
lowering and the standard conversions; see LOWERING); JIT-run
by mlir-runner. Outputs are printed as their f32 bit patterns (exact).

Checks, and their tolerances:
- fused vs unfused, q and the whole cache: <= 2e-6 (the issue's bound). Both
  run the same f32 operations in the same order per element, so the max seen
  is expected to be 0; it is reported.
- unfused vs numpy (RMSNorm in f32, mrope.reference.apply_rope): <= 1e-5.
  The sum of squares is accumulated in a different order (numpy pairwise,
  the loop sequential): relative error of the norm factor <~ 128 ulp(1) =
  1.5e-5 worst case, ~1e-6 typical, on values |y| < 4; the rotation adds
  <= 4e-6 (see test/Conversion/RopeToLoops/check_cpu_kernel.py).
- cache rows outside the written slot keep their bits exactly.

usage: check_fused_execution.py BIN_DIR LLVM_TOOLS_DIR LIB_DIR [--seq S] [--tile T] [--forall]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

from mrope import reference

SECTIONS = (24, 20, 20)
THETA = 5.0e6
HQ, HK, D, CACHE, OFFSET = 8, 2, 128, 64, 5
EPS = 1e-6
FUSED_TOL = 2e-6
REF_TOL = 1e-5
SEM = ("#rope.semantics<sections = [24, 20, 20], rotary_dim = 128, "
       "theta = 5.000000e+06, order = interleaved>")


def dense(a, elem):
    shape = "x".join(str(d) for d in a.shape) + "x" + elem
    fmt = (lambda v: repr(float(v))) if elem == "f32" else (lambda v: str(int(v)))
    body = np.array2string(a, separator=", ", threshold=10**9, max_line_width=10**9,
                           formatter={"all": fmt})
    return f"dense<{body}> : tensor<{shape}>"


def rms(h, name):
    """RMSNorm over D of a [1, h, ?, D] tensor, as linalg ops."""
    t4, t3 = f"tensor<1x{h}x?x{D}xf32>", f"tensor<1x{h}x?xf32>"
    return f"""
func.func private @{name}(%x: {t4}, %w: tensor<{D}xf32>) -> {t4} {{
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %dim = arith.constant {float(D)} : f32
  %eps = arith.constant {EPS:.6e} : f32
  %s = tensor.dim %x, %c2 : {t4}
  %e3 = tensor.empty(%s) : {t3}
  %acc = linalg.fill ins(%zero : f32) outs(%e3 : {t3}) -> {t3}
  %ss = linalg.generic {{indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}}
      ins(%x : {t4}) outs(%acc : {t3}) {{
  ^bb0(%a: f32, %o: f32):
    %sq = arith.mulf %a, %a : f32
    %r = arith.addf %o, %sq : f32
    linalg.yield %r : f32
  }} -> {t3}
  %e4 = tensor.empty(%s) : {t4}
  %y = linalg.generic {{indexing_maps = [#id, #row, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}}
      ins(%x, %ss, %w : {t4}, {t3}, tensor<{D}xf32>) outs(%e4 : {t4}) {{
  ^bb0(%a: f32, %sum: f32, %g: f32, %o: f32):
    %m = arith.divf %sum, %dim : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %z = arith.mulf %n, %g : f32
    linalg.yield %z : f32
  }} -> {t4}
  return %y : {t4}
}}"""


def chain(name, attr):
    tq, tk = f"tensor<1x{HQ}x?x{D}xf32>", f"tensor<1x{HK}x?x{D}xf32>"
    tc = f"tensor<1x{HK}x{CACHE}x{D}xf32>"
    return f"""
func.func @{name}(%q: {tq}, %k: {tk}, %wq: tensor<{D}xf32>, %wk: tensor<{D}xf32>,
                  %pos: tensor<3x1x?xi64>, %cache: {tc}) -> ({tq}, {tc}) {{
  %c2 = arith.constant 2 : index
  %off = arith.constant {OFFSET} : index
  %qn = call @rms_q(%q, %wq) : ({tq}, tensor<{D}xf32>) -> {tq}
  %kn = call @rms_k(%k, %wk) : ({tk}, tensor<{D}xf32>) -> {tk}
  %q2, %k2 = rope.apply %qn, %kn by %pos : {tq}, {tk} by tensor<3x1x?xi64>
      with {SEM}{attr}
  %s = tensor.dim %k, %c2 : {tk}
  %c = tensor.insert_slice %k2 into %cache[0, 0, %off, 0] [1, {HK}, %s, {D}] [1, 1, 1, 1]
      : {tk} into {tc}
  return %q2, %c : {tq}, {tc}
}}"""


def print_bits(value, shape):
    """Prints a f32 tensor as its i32 bit patterns."""
    rank = len(shape)
    ty = "tensor<" + "x".join(str(d) for d in shape) + "x{}>"
    maps = "affine_map<(" + ", ".join(f"d{i}" for i in range(rank)) + ") -> (" + \
        ", ".join(f"d{i}" for i in range(rank)) + ")>"
    iters = ", ".join(['"parallel"'] * rank)
    v = value.strip("%")
    return f"""
  %{v}_e = tensor.empty() : {ty.format('i32')}
  %{v}_bits = linalg.generic {{indexing_maps = [{maps}, {maps}], iterator_types = [{iters}]}}
      ins(%{v} : {ty.format('f32')}) outs(%{v}_e : {ty.format('i32')}) {{
  ^bb0(%a: f32, %o: i32):
    %b = arith.bitcast %a : f32 to i32
    linalg.yield %b : i32
  }} -> {ty.format('i32')}
  %{v}_m = bufferization.to_buffer %{v}_bits : {ty.format('i32')} to memref<{"x".join(str(d) for d in shape)}xi32>
  %{v}_u = memref.cast %{v}_m : memref<{"x".join(str(d) for d in shape)}xi32> to memref<*xi32>
  call @printMemrefI32(%{v}_u) : (memref<*xi32>) -> ()"""


def module(q, k, wq, wk, pos, cache):
    S = q.shape[2]
    tq, tk = f"tensor<1x{HQ}x?x{D}xf32>", f"tensor<1x{HK}x?x{D}xf32>"
    tc = f"tensor<1x{HK}x{CACHE}x{D}xf32>"
    lines = ["#id = affine_map<(b, h, s, d) -> (b, h, s, d)>",
             "#row = affine_map<(b, h, s, d) -> (b, h, s)>",
             "#ch = affine_map<(b, h, s, d) -> (d)>",
             "func.func private @printMemrefI32(memref<*xi32>)",
             rms(HQ, "rms_q"), rms(HK, "rms_k"),
             chain("unfused", ""), chain("fused", " {fuse}"),
             "func.func @main() {",
             f"  %q0 = arith.constant {dense(q, 'f32')}",
             f"  %k0 = arith.constant {dense(k, 'f32')}",
             f"  %wq = arith.constant {dense(wq, 'f32')}",
             f"  %wk = arith.constant {dense(wk, 'f32')}",
             f"  %p0 = arith.constant {dense(pos, 'i64')}",
             f"  %cache = arith.constant {dense(cache, 'f32')}",
             f"  %q = tensor.cast %q0 : tensor<1x{HQ}x{S}x{D}xf32> to {tq}",
             f"  %k = tensor.cast %k0 : tensor<1x{HK}x{S}x{D}xf32> to {tk}",
             f"  %p = tensor.cast %p0 : tensor<3x1x{S}xi64> to tensor<3x1x?xi64>"]
    for fn in ("unfused", "fused"):
        lines += [f"  %{fn}_q, %{fn}_c = call @{fn}(%q, %k, %wq, %wk, %p, %cache)"
                  f" : ({tq}, {tk}, tensor<{D}xf32>, tensor<{D}xf32>, tensor<3x1x?xi64>, {tc})"
                  f" -> ({tq}, {tc})",
                  f"  %{fn}_qs = tensor.cast %{fn}_q : {tq} to tensor<1x{HQ}x{S}x{D}xf32>"]
        lines.append(print_bits(f"%{fn}_qs", (1, HQ, S, D)))
        lines.append(print_bits(f"%{fn}_c", (1, HK, CACHE, D)))
    lines += ["  return", "}"]
    return "\n".join(lines)


# The real pipeline: it eliminates the empty tensors (so the fused loop
# writes straight into the cache slot), bufferizes, runs scf.forall as
# scf.for, lowers linalg to loops and the tiles' dynamic-offset subviews
# (lower-affine after expand-strided-metadata).
LOWERING = ["--mrope-cpu-pipeline"]

# --forall: scf.forall over token blocks, norms fused through its shared_outs.
SCHEDULE_FORALL = """
module attributes {{transform.with_named_sequence}} {{
  transform.named_sequence @__transform_main(%root: !transform.any_op {{transform.readonly}}) {{
    %apply = transform.structured.match ops{{["rope.apply"]}} attributes{{fuse}} in %root
        : (!transform.any_op) -> !transform.any_op
    %func = transform.get_parent_op %apply {{op_name = "func.func"}}
        : (!transform.any_op) -> !transform.any_op
    %tiled, %forall = transform.structured.tile_using_forall %apply tile_sizes [0, {tile}]
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %producers = transform.structured.match ops{{["linalg.generic", "linalg.fill"]}} in %func
        : (!transform.any_op) -> !transform.any_op
    %fused, %new = transform.structured.fuse_into_containing_op %producers into %forall
        : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.yield
  }}
}}
"""

SCHEDULE = """
module attributes {{transform.with_named_sequence}} {{
  transform.named_sequence @__transform_main(%root: !transform.any_op {{transform.readonly}}) {{
    %apply = transform.structured.match ops{{["rope.apply"]}} attributes{{fuse}} in %root
        : (!transform.any_op) -> !transform.any_op
    %fused, %loops = transform.structured.fuse %apply tile_sizes [0, {tile}]
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.yield
  }}
}}
"""


def rms_ref(x, w):
    ss = np.sum(x.astype(np.float32) ** 2, axis=-1, keepdims=True, dtype=np.float32)
    return (x * (1.0 / np.sqrt(ss / np.float32(D) + np.float32(EPS))).astype(np.float32)
            * w).astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bindir")
    ap.add_argument("llvm_tools")
    ap.add_argument("libdir")
    ap.add_argument("--seq", type=int, default=37)
    ap.add_argument("--tile", type=int, default=16)
    ap.add_argument("--forall", action="store_true",
                    help="tile with scf.forall + fuse_into_containing_op")
    a = ap.parse_args()
    S = a.seq
    rng = np.random.default_rng(22)
    q = rng.uniform(-2, 2, size=(1, HQ, S, D)).astype(np.float32)
    k = rng.uniform(-2, 2, size=(1, HK, S, D)).astype(np.float32)
    wq = rng.uniform(0.5, 1.5, size=(D,)).astype(np.float32)
    wk = rng.uniform(0.5, 1.5, size=(D,)).astype(np.float32)
    pos = rng.integers(0, 32768, size=(3, 1, S), dtype=np.int64)
    cache = rng.uniform(-1, 1, size=(1, HK, CACHE, D)).astype(np.float32)

    opt = os.path.join(a.bindir, "mrope-opt")
    with tempfile.TemporaryDirectory() as tmp:
        sched = os.path.join(tmp, "schedule.mlir")
        with open(sched, "w") as f:
            f.write((SCHEDULE_FORALL if a.forall else SCHEDULE).format(tile=a.tile))
        tiled = subprocess.run(
            [opt, "--inline", f"--transform-preload-library=transform-library-paths={sched}",
             "--transform-interpreter", "--canonicalize", "--cse"],
            input=module(q, k, wq, wk, pos, cache), capture_output=True, text=True)
        if tiled.returncode != 0:
            print("FAIL transform:", tiled.stderr)
            return 1
    # The fused function must really be one loop nest with the norms inside.
    fused_fn = tiled.stdout.split("func.func @fused", 1)[1].split("func.func", 1)[0]
    loop = "scf.forall" if a.forall else "scf.for"
    loop_body = fused_fn.split(loop, 1)[1] if loop in fused_fn else ""
    structure_ok = ("linalg.generic" in loop_body and "rope.apply" in loop_body
                    and "linalg.generic" not in fused_fn.split(loop, 1)[0])
    print(f"{'ok' if structure_ok else 'FAIL'} fused: norms and rope.apply in one token loop"
          f" ({loop})")

    lowered = subprocess.run([opt] + LOWERING, input=tiled.stdout, capture_output=True,
                             text=True)
    if lowered.returncode != 0:
        print("FAIL lowering:", lowered.stderr[:4000])
        return 1
    libs = ",".join(os.path.join(a.libdir, f) for f in
                    ("libmlir_runner_utils.so", "libmlir_c_runner_utils.so"))
    run = subprocess.run([os.path.join(a.llvm_tools, "mlir-runner"), "-e", "main",
                          "-entry-point-result=void", f"-shared-libs={libs}"],
                         input=lowered.stdout, capture_output=True, text=True)
    if run.returncode != 0:
        print("FAIL run:", run.stderr[:4000])
        return 1
    printed = run.stdout.split("Unranked Memref")[1:]
    got = [np.array([int(v) for v in re.findall(r"-?\d+", p.split("data =", 1)[1])],
                    dtype=np.int64).astype(np.int32).view(np.float32) for p in printed]
    uq, uc, fq, fc = got
    uq, fq = uq.reshape(q.shape), fq.reshape(q.shape)
    uc, fc = uc.reshape(cache.shape), fc.reshape(cache.shape)

    fused_err = max(np.abs(fq - uq).max(), np.abs(fc - uc).max())
    want_q = reference.apply_rope(rms_ref(q, wq), pos, sections=SECTIONS, theta=THETA,
                                  interleaved=True)
    want_k = reference.apply_rope(rms_ref(k, wk), pos, sections=SECTIONS, theta=THETA,
                                  interleaved=True)
    slot = slice(OFFSET, OFFSET + S)
    ref_err = max(np.abs(uq - want_q).max(), np.abs(uc[:, :, slot] - want_k).max())
    outside = np.ones(CACHE, bool)
    outside[slot] = False
    kept = (np.array_equal(uc[:, :, outside], cache[:, :, outside]) and
            np.array_equal(fc[:, :, outside], cache[:, :, outside]))
    checks = [
        (structure_ok, "structure"),
        (fused_err <= FUSED_TOL,
         f"fused vs unfused: max |diff| = {fused_err:.2e} (tol {FUSED_TOL:g})"),
        (ref_err <= REF_TOL,
         f"unfused vs numpy norm+rope: max |diff| = {ref_err:.2e} (tol {REF_TOL:g})"),
        (kept, "cache rows outside the slot unchanged"),
    ]
    for ok, what in checks[1:]:
        print(f"{'ok' if ok else 'FAIL'} S={S} tile={a.tile}: {what}")
    failed = sum(not ok for ok, _ in checks)
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
