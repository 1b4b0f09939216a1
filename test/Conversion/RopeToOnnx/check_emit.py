"""rope.apply lowered by convert-rope-to-onnx{emit=plain|ort|onnx23}, run in
ONNX Runtime, against the numpy reference (python/mrope/reference.py).

Each case is one onnx.graph of two "layers" under one #rope.semantics: q
[2, 4, S, D] and k [2, 2, S, D] rotated by positions in one rope.apply, then
the rotated q rotated again by a second rope.apply on the same positions (the
lowering shares one set of tables between them). Every case runs in two
layouts: `bhsd` feeds q and k as [B, H, S, D]; `bshd` feeds them as
[B, S, H, D] through the usual Transpose (the fused forms then rotate the
[B, S, H * D] view). Every form of every case and layout must equal the
reference (q once, k once, q twice) within 1e-5.

The reference takes cos/sin of the same f32 angle in float64; ORT's fused
kernels and Cos/Sin take them in f32 (error about 1 ulp of values <= 1, so
~1.2e-7 per factor), and each output channel is x * cos + x' * sin of
|x| <= ~4 inputs, about 1e-6 at worst (q twice: two such roundings, about
2e-6): 1e-5 leaves ~5x headroom and is far below what a wrong frequency,
row or pair (differences of order 1) gives. Each lowered graph
must also hold exactly one set of tables (the two layers share it).
Positions reach 5000, so the caches ORT gets are 5001 rows deep. The
`_f32` cases feed f32 positions with quarter fractions (one of them 2.5).

usage: check_emit.py MROPE_OPT MROPE_TRANSLATE WORKDIR
"""
import os
import subprocess
import sys

import numpy as np

from mrope import ort, reference as ref

TOL = 1e-5
B, S = 2, 7

# name, sections, rotary_dim, head_dim, layout, order, freqs, theta
CASES = [
    ("text_neox", [16], 32, 32, "neox", "contiguous", "global", 1e6),
    ("text_gptj_partial", [8], 16, 32, "gptj", "contiguous", "global", 1e4),
    ("mrope", [4, 6, 6], 32, 32, "neox", "contiguous", "global", 1e6),
    ("mrope_gptj_partial", [2, 3, 3], 16, 24, "gptj", "contiguous", "global", 1e6),
    ("mrope_interleaved", [6, 5, 5], 32, 32, "neox", "interleaved", "global", 5e6),
    ("vision_2d", [4, 4], 16, 16, "neox", "contiguous", "per_section", 1e4),
    # Positions below the sequence length, as M-RoPE gives a prompt with an
    # image (ONNX Runtime's kernels still want a cache row per token).
    ("mrope_low_positions", [4, 6, 6], 32, 32, "neox", "contiguous", "global", 1e6),
    # Positions of one sequence ([A, 1, S], e.g. a Range) broadcast over a
    # dynamic batch, 2 at run time (ONNX Runtime's fused kernels want one
    # row per batch row).
    ("text_broadcast_batch", [16], 32, 32, "neox", "contiguous", "global", 1e6),
    ("mrope_broadcast_batch", [4, 6, 6], 32, 32, "neox", "contiguous", "global", 1e6),
    # f32 positions with fractional parts (Qwen3-Omni's time rows): used as
    # they are, so 2.5 rotates by 2.5 * inv_freq. 1D too: emit=ort cannot
    # index position caches by them and takes per-token caches instead.
    ("text_f32", [16], 32, 32, "neox", "contiguous", "global", 1e6),
    ("mrope_interleaved_f32", [6, 5, 5], 32, 32, "neox", "interleaved", "global", 1e6),
]


def is_f32(name):
    return name.endswith("_f32")


def pos_batch(name):
    return 1 if name.endswith("broadcast_batch") else B


def semantics(sections, rotary, layout, order, freqs, theta):
    text = f"sections = [{', '.join(map(str, sections))}], rotary_dim = {rotary}, theta = {theta:e}"
    if layout != "neox":
        text += f", layout = {layout}"
    if order != "contiguous":
        text += f", order = {order}"
    if freqs != "global":
        text += f", freqs = {freqs}"
    return f"#rope.semantics<{text}>"


LAYOUTS = ("bhsd", "bshd")


def module(case, opset, order_in):
    name, sections, rotary, head, layout, order, freqs, theta = case
    A = len(sections)
    # rope.apply broadcasts positions over a batch it does not know.
    b = B if pos_batch(name) == B else "?"
    q, k = f"tensor<{b}x4x{S}x{head}xf32>", f"tensor<{b}x2x{S}x{head}xf32>"
    p = f"tensor<{A}x{pos_batch(name)}x{S}x{'f32' if is_f32(name) else 'i64'}>"
    qs, ks = f"tensor<{b}x{S}x4x{head}xf32>", f"tensor<{b}x{S}x2x{head}xf32>"
    sem = semantics(sections, rotary, layout, order, freqs, theta)
    perm = "{attrs = {perm = array<i64: 0, 2, 1, 3>}"
    if order_in == "bhsd":
        args = f"%q: {q} {{onnx.name = \"q\"}}, %k: {k} {{onnx.name = \"k\"}}"
        body = f"""    %q1, %k1 = rope.apply %q, %k by %pos : {q}, {k} by {p} with {sem}
    %q1b = onnx.node "Identity"(%q1) {{name = "q1/Identity"}} : ({q}) -> {q}
"""
    else:
        # Token-major inputs and a Transpose pair between the layers, as a
        # decoder has them: every fused op can read the [B, S, H * D] view.
        args = f"%qs: {qs} {{onnx.name = \"q\"}}, %ks: {ks} {{onnx.name = \"k\"}}"
        body = f"""    %q = onnx.node "Transpose"(%qs) {perm}, name = "q/Transpose"}} : ({qs}) -> {q}
    %k = onnx.node "Transpose"(%ks) {perm}, name = "k/Transpose"}} : ({ks}) -> {k}
    %q1, %k1 = rope.apply %q, %k by %pos : {q}, {k} by {p} with {sem}
    %q1t = onnx.node "Transpose"(%q1) {perm}, name = "q1/Transpose"}} : ({q}) -> {qs}
    %q1b = onnx.node "Transpose"(%q1t) {perm}, name = "q1/Transpose_1"}} : ({qs}) -> {q}
"""
    return f"""module attributes {{onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", {opset}>]}} {{
  onnx.graph @main({args}, %pos: {p} {{onnx.name = "positions"}}) -> ({q} {{onnx.name = "q_out"}}, {k} {{onnx.name = "k_out"}}, {q} {{onnx.name = "q_twice"}}) {{
{body}    %q2 = rope.apply %q1b by %pos : {q} by {p} with {sem}
    onnx.return %q1, %k1, %q2 : {q}, {k}, {q}
  }}
}}
"""


def expected(case, x, pos):
    name, sections, rotary, head, layout, order, freqs, theta = case
    if freqs == "global":
        return ref.apply_rope(x, pos, sections=sections, theta=theta, layout=layout,
                              interleaved=order == "interleaved", rotary_dim=rotary)
    # Per-section frequencies (vision tower): axis a owns frequencies
    # [a*n, (a+1)*n), each restarting the n-entry table of theta^(-j/n).
    n = sections[0]
    table = ref.inv_freq(2 * n, theta)
    F = rotary // 2
    axis = np.repeat(np.arange(len(sections)), sections)
    inv = table[np.arange(F) % n]
    ang = (np.moveaxis(pos.astype(np.float32)[axis], 0, -1) * inv).astype(np.float32)
    emb = np.concatenate([ang, ang], -1) if layout == "neox" else np.repeat(ang, 2, -1)
    e = emb.astype(np.float64)
    return ref.rotate(x, np.cos(e).astype(np.float32), np.sin(e).astype(np.float32), layout=layout)


def main():
    opt, translate, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(0)
    failed = passed = 0
    for case in CASES:
        name, sections, rotary, head = case[:4]
        A = len(sections)
        q = rng.standard_normal((B, 4, S, head)).astype(np.float32)
        k = rng.standard_normal((B, 2, S, head)).astype(np.float32)
        top = 3 if name.endswith("low_positions") else 5000
        pos = rng.integers(0, top + 1, (A, pos_batch(name), S)).astype(np.int64)
        pos[:, 0, 0] = top
        if is_f32(name):
            # Quarter steps (exact in f32); a truncating lowering is off by
            # up to 0.75 rad on the first frequency, far above TOL.
            pos = (pos + rng.integers(0, 4, pos.shape) * 0.25).astype(np.float32)
            pos[:, 0, 1] = 2.5
        full = np.ascontiguousarray(np.broadcast_to(pos, (A, B, S)))
        q1 = expected(case, q, full)
        want = {"q_out": q1, "k_out": expected(case, k, full), "q_twice": expected(case, q1, full)}
        for emit in ("plain", "ort", "onnx23"):
            for order_in in LAYOUTS:
                stem = os.path.join(work, f"{name}.{emit}.{order_in}")
                with open(stem + ".mlir", "w") as f:
                    f.write(module(case, 23 if emit == "onnx23" else 17, order_in))
                feeds = {"q": q, "k": k, "positions": pos}
                if order_in == "bshd":
                    feeds.update(q=np.ascontiguousarray(q.transpose(0, 2, 1, 3)),
                                 k=np.ascontiguousarray(k.transpose(0, 2, 1, 3)))
                try:
                    lowered = subprocess.run([opt, stem + ".mlir", f"--convert-rope-to-onnx=emit={emit}"],
                                             capture_output=True, text=True, check=True).stdout
                    subprocess.run([translate, "--export-onnx", "-o", stem + ".onnx"], input=lowered,
                                   text=True, check=True, capture_output=True)
                    out = ort.run(stem + ".onnx", feeds)
                    diff = max(float(np.max(np.abs(out[n] - want[n]))) for n in want)
                    tables = lowered.count('/tables/Cos"')
                    ok = diff <= TOL and tables == 1
                    if tables != 1:
                        print(f"  {tables} sets of tables for two layers on the same positions")
                except (subprocess.CalledProcessError, ort.OrtError) as e:
                    diff, ok = float("nan"), False
                    print(f"  {getattr(e, 'stderr', '') or e}".strip()[:400])
                print(f"{'ok' if ok else 'FAIL'} {name} emit={emit} {order_in}: "
                      f"max |onnx - reference| = {diff:.1e}")
                passed += ok
                failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
