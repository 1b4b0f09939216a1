"""The proof's evaluator (mrope/Analysis/Evaluate.h) on the fused rotary ops
against ONNX Runtime: com.microsoft.RotaryEmbedding (3D and 4D x, [B, S]
positions and a [1] offset, rotate-half and GPT-J pairs, partial rotary),
com.microsoft.MRotaryEmbedding (contiguous and interleaved sections) and
RotaryEmbedding-23 (with position_ids, and per-token [B, S, F] caches
without), on constant-only graphs, every output compared within 1e-6 (both
compute x1 * cos - x2 * sin in float32). A position past the caches is
refused, not read.

usage: evaluate_fused.py MROPE_FIX WORKDIR
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper as H, numpy_helper

from mrope import ort

RNG = np.random.default_rng(7)


def const(name, value, named=False):
    # A named tensor (as exporters write them) is kept opaque by the
    # importer; the evaluator decodes it.
    t = numpy_helper.from_array(value, name=name if named else None)
    return H.make_node("Constant", [], [name], name=name + "_c", value=t)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def caches(rows, width):
    ang = np.arange(rows, dtype=np.float32)[:, None] * (0.5 ** np.arange(width, dtype=np.float32))[None]
    return np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)


def build():
    B, S = 2, 5
    nodes, outs = [], []
    pos = np.array([[0, 3, 9, 1, 17], [4, 4, 2, 0, 11]], np.int64)
    pos3 = np.stack([pos, (pos * 3) % 7, (pos + 5) % 13])

    def case(name, op, inputs, domain="", named=False, **attrs):
        names = []
        for k, v in enumerate(inputs):
            if v is None:
                names.append("")
                continue
            n = f"{name}_in{k}"
            nodes.append(const(n, v, named))
            names.append(n)
        nodes.append(H.make_node(op, names, [name], name=name, domain=domain, **attrs))
        outs.append(name)

    c8, s8 = caches(20, 4)
    c4, s4 = caches(20, 2)
    case("ms_3d", "RotaryEmbedding", [f32(B, S, 16), pos, c8, s8], "com.microsoft", num_heads=2)
    case("ms_3d_noheads", "RotaryEmbedding", [f32(B, S, 16), pos, c8, s8], "com.microsoft")
    case("ms_gptj_partial", "RotaryEmbedding", [f32(B, S, 16), pos, c4, s4], "com.microsoft",
         num_heads=2, rotary_embedding_dim=4, interleaved=1)
    case("ms_offset", "RotaryEmbedding", [f32(B, S, 16), np.array([6], np.int64), c8, s8],
         "com.microsoft", num_heads=2)
    case("ms_4d", "RotaryEmbedding", [f32(B, 2, S, 8), pos, c8, s8], "com.microsoft")
    case("ms_mrope", "MRotaryEmbedding", [f32(B, S, 16), pos3, c8, s8], "com.microsoft",
         num_heads=2, mrope_section=[1, 2, 1])
    case("ms_mrope_interleaved", "MRotaryEmbedding", [f32(B, S, 16), pos3, c8, s8], "com.microsoft",
         num_heads=2, mrope_section=[2, 1, 1], mrope_layout=1)
    case("ms_mrope_4d_gptj", "MRotaryEmbedding", [f32(B, 2, S, 8), pos3, c8, s8], "com.microsoft",
         mrope_section=[2, 1, 1], interleaved=1)
    case("onnx23", "RotaryEmbedding", [f32(B, S, 16), c8, s8, pos], num_heads=2)
    case("onnx23_partial_gptj", "RotaryEmbedding", [f32(B, 2, S, 8), c4, s4, pos],
         rotary_embedding_dim=4, interleaved=1)
    tc, ts = (np.ascontiguousarray(t[pos]) for t in caches(20, 4))
    case("onnx23_per_token", "RotaryEmbedding", [f32(B, 2, S, 8), tc, ts, None])
    case("ms_named_constants", "RotaryEmbedding", [f32(B, S, 16), pos, c8, s8], "com.microsoft",
         named=True, num_heads=2)
    case("ms_past_cache", "RotaryEmbedding", [f32(B, S, 16), pos + 10, c8, s8], "com.microsoft",
         num_heads=2)
    g = H.make_graph(nodes, "evaluate_fused", [],
                     [H.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs])
    m = H.make_model(g, opset_imports=[H.make_opsetid("", 23), H.make_opsetid("com.microsoft", 1)])
    m.ir_version = 10
    return m, outs


def parse(line):
    name, rest = line.split(": ", 1)
    shape_text, *vals = rest.split(" ")
    shape = [int(d) for d in shape_text.strip("[]").split(",") if d]
    return name, shape, vals


def main():
    tool, work = sys.argv[1], Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    model, outs = build()
    ok = True
    # ORT refuses a position past the caches for the whole graph: run the
    # in-range cases without it.
    ort_model = onnx.ModelProto()
    ort_model.CopyFrom(model)
    for field, keep in ((ort_model.graph.output, lambda o: o.name != "ms_past_cache"),
                        (ort_model.graph.node, lambda n: n.name != "ms_past_cache")):
        kept = [x for x in field if keep(x)]
        del field[:]
        field.extend(kept)
    path, ort_path = work / "evaluate_fused.onnx", work / "evaluate_fused_ort.onnx"
    onnx.save(model, path)
    onnx.save(ort_model, ort_path)
    want = ort.run(ort_path, {}, optimization="disabled")
    res = subprocess.run([tool, str(path), "--debug-evaluate", ",".join(outs)],
                         capture_output=True, text=True)
    if res.returncode:
        print(f"FAIL: {res.stderr.strip()}")
        return 1
    compared = 0
    for line in res.stdout.splitlines():
        if ": " not in line or line.startswith("mrope-fix"):
            continue
        if line.startswith("ms_past_cache: "):
            print(line)
            continue
        if "cannot evaluate" in line:
            print(f"FAIL {line}")
            ok = False
            continue
        name, shape, vals = parse(line)
        w = np.asarray(want[name])
        got = np.array([float(v) for v in vals], np.float32).reshape(shape)
        if list(w.shape) != shape:
            print(f"FAIL {name}: shape {shape} vs ORT {list(w.shape)}")
            ok = False
            continue
        d = float(np.max(np.abs(got - w), initial=0))
        if d > 1e-6:
            print(f"FAIL {name}: max diff {d}")
            ok = False
        compared += 1
    print(f"{compared} fused rotary outputs compared with ONNX Runtime")
    print("ok" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
