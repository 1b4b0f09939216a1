"""Fused sites whose caches are spelled otherwise, same meaning (issue #20).

Each variant is one edit of a zoo model written with python/mrope/zoo/rewrite.py's
graph helpers (mrope.zoo.rewrite.G): the caches a fused RotaryEmbedding reads are
cut, merged or viewed differently, and the values stay the same. Per variant:

1. the variant equals the original in ONNX Runtime (graph optimizations off) on
   the model's equal feeds within mrope.zoo.rewrite.EQUAL_TOL (the edits are
   exact: observed 0);
2. ``mrope-fix --report --check`` under --arch auto and the declared arch says
   what it says of the original, by meaning (scripts/metamorphic.py's
   comparison: per-site kind, sections, rotary dim, theta, source, bug,
   rotations, --check exit code);
3. ``mrope-fix -o`` (scripts/metamorphic.py's check_fix): a bug model's fix
   equals its correct twin in ORT (<= 1e-5) on multimodal feeds (the spelling
   zoo adds positions >= B*S and Qwen2.5-VL time-scaled video), a correct
   model's ``-o`` makes no semantic change;
4. with ``--compute``: ``mrope-fix --positions compute -o`` passes
   test/mrope-fix/check_fused_compute.py's checks (mrope.zoo.fused_harness)
   under the first arch they list for the model.

``--kinds`` only prints what the report (under the declared arch) reads each
site as, for variants that change the meaning on purpose (a section merge
whose chunks are not consecutive channels of the gathered caches, caches
reshaped with batch and sequence swapped): the test says what must not be
read there.

usage: check_fusedxf_respelled.py [--compute] MROPE_FIX ZOO_DIR MODEL:VARIANT...
       check_fusedxf_respelled.py --kinds MROPE_FIX ZOO_DIR MODEL:VARIANT...
       check_fusedxf_respelled.py --write OUT.onnx ZOO_DIR MODEL:VARIANT
"""
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

from mrope.zoo import fused_harness as fh
from mrope.zoo import rewrite as rw

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location(
    "metamorphic", HERE.parent.parent / "scripts" / "metamorphic.py")
mm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mm)

INT64_MAX = np.iinfo(np.int64).max


def node(g, name):
    return next(n for n in g.g.node if n.name == name)


def identity_on(g, name, i):
    n = node(g, name)
    x = n.input[i]
    n.input[i] = g.node("Identity", [x]).output[0]
    return f"Identity on {x} -> {name} input {i}"


def set_const(g, name, i, values, base):
    n = node(g, name)
    n.input[i] = g.add_const(np.array(values, np.int64), base)


def split_as_slices(g, name, bounds, axis):
    """Split ``name`` -> one Slice per output, output k cut at bounds[k] = (start, end)."""
    n = node(g, name)
    ax = g.add_const(np.array([axis], np.int64), "axis")
    for out, (start, end) in zip(n.output, bounds):
        g.node("Slice", [n.input[0], g.add_const(np.array([start], np.int64), "start"),
                         g.add_const(np.array([end], np.int64), "end"), ax], outs=[out])
    g.g.node.remove(n)
    return f"Split {name} -> {len(n.output)} Slices {bounds} on axis {axis}"


def reshape_unknown(g, name, i, order=(0, 1)):
    """Input ``i`` of ``name`` (a [B, S, F] cache) reshaped to
    Concat(Shape(x)[order[0]], Shape(x)[order[1]], [-1]): with (0, 1) the
    same tensor, a shape onnx's shape inference cannot read (the cache turns
    unranked); with (1, 0) the tokens laid out [S, B] (another tensor)."""
    n = node(g, name)
    x = n.input[i]
    shape = g.node("Shape", [x]).output[0]
    dims = [g.node("Gather", [shape, g.add_const(np.array([k], np.int64), "dim")], axis=0).output[0]
            for k in order]
    target = g.node("Concat", dims + [g.add_const(np.array([-1], np.int64), "rest")], axis=0).output[0]
    n.input[i] = g.node("Reshape", [x, target]).output[0]
    return f"Reshape of {x} to a computed [{', '.join('BS'[k] for k in order)}, -1] -> {name} input {i}"


# dynamo_1d_bug: RotaryEmbedding-23 over per-token caches cut to D/2 by
# Slice(Cos(Concat(f, f)), [0], [16], [-1]) (node/Slice_11; sin: node/Slice_13).
def dyn_identity_ends(g):
    return identity_on(g, "node/Slice_11", 2)


def dyn_identity_bounds(g):
    return "; ".join([identity_on(g, "node/Slice_11", 1), identity_on(g, "node/Slice_11", 3),
                      identity_on(g, "node/Slice_13", 2)])


def dyn_negative_ends(g):
    for name in ("node/Slice_11", "node/Slice_13"):
        set_const(g, name, 2, [-16], "end")
    return "Slice ends 16 -> -16 (of 32) on node/Slice_11, node/Slice_13"


def dyn_second_half(g):
    # Concat(f, f): channels 16..31 are channels 0..15 again.
    for name in ("node/Slice_11", "node/Slice_13"):
        set_const(g, name, 1, [16], "start")
        set_const(g, name, 2, [INT64_MAX], "end")
    return "Slices take [16, INT64_MAX) (the second copy of f) on node/Slice_11, node/Slice_13"


def dyn_reshape_unknown(g):
    return "; ".join(reshape_unknown(g, n, i) for n, i in
                     (("node/RotaryEmbedding_17", 1), ("node/RotaryEmbedding_17", 2)))


def dyn_reshape_swapped(g):
    return "; ".join(reshape_unknown(g, n, i, (1, 0)) for n, i in
                     (("node/RotaryEmbedding_17", 1), ("node/RotaryEmbedding_17", 2)))


# fused_onnx23_mrope / fused_onnx23_partial_mrope: RotaryEmbedding-23 over
# Hugging Face's merge of caches gathered by [3, B, S] positions: Split
# (/Split_1 cos, /Split_7 sin) along the channels, row j of chunk j, Concat.
def _sections(g, name):
    n = node(g, name)
    return [int(s) for s in g.const(n.input[1])]


def _bounds(sections):
    out, start = [], 0
    for s in sections:
        out.append((start, start + s))
        start += s
    return out


def merge_slices(g):
    return "; ".join(split_as_slices(g, n, _bounds(_sections(g, n)), 3) for n in ("/Split_1", "/Split_7"))


def merge_slices_cos(g):
    return split_as_slices(g, "/Split_1", _bounds(_sections(g, "/Split_1")), 3)


def merge_slices_negative(g):
    # Bounds counted from the end, the last one past it; axis -1.
    done = []
    for n in ("/Split_1", "/Split_7"):
        sec = _sections(g, n)
        total = sum(sec)
        bounds = [(s - total, INT64_MAX if e == total else e - total) for s, e in _bounds(sec)]
        done.append(split_as_slices(g, n, bounds, -1))
    return "; ".join(done)


def merge_overlapping(g):
    # Not the same meaning: the last chunk starts 2 channels early, so its
    # channels take frequencies 2 lower than their place says.
    done = []
    for n in ("/Split_1", "/Split_7"):
        b = _bounds(_sections(g, n))
        b[-1] = (b[-1][0] - 2, b[-1][1] - 2)
        done.append(split_as_slices(g, n, b, 3))
    return "; ".join(done)


VARIANTS = {
    "identity_ends": dyn_identity_ends,
    "identity_bounds": dyn_identity_bounds,
    "negative_ends": dyn_negative_ends,
    "second_half": dyn_second_half,
    "reshape_unknown": dyn_reshape_unknown,
    "reshape_swapped": dyn_reshape_swapped,
    "merge_slices": merge_slices,
    "merge_slices_cos": merge_slices_cos,
    "merge_slices_negative": merge_slices_negative,
    "merge_overlapping": merge_overlapping,
}


def make(zoo, spec_):
    name, variant = spec_.split(":")
    m = mm.Model(Path(zoo), name + ".json")
    model = onnx.load(m.path)
    g = rw.G(model, {})
    what = VARIANTS[variant](g)
    rw.prune(model.graph)
    rw.toposort(model.graph)
    return m, model, what


def check(tool, zoo, spec_, compute):
    m, model, what = make(zoo, spec_)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "variant.onnx")
        onnx.save(model, path)
        sets = [m.feeds(k) for k in m.equal_kinds()]
        d = rw.max_diff_sets(rw.run_outputs(m.path, sets), rw.run_outputs(path, sets))
        if d > rw.EQUAL_TOL:
            return [f"rewriter: |variant - original| = {d:.3g}"], what
        problems = []
        for arch in ("auto", m.arch):
            problems += mm.meaning_diff(mm.report(tool, path, arch), mm.report(tool, m.path, arch),
                                        f"--arch {arch}")
        problems += mm.check_fix(tool, m, path, tmp, {})
        if compute and fh.compute_cases_of(m.name):
            problems += mm.check_compute(tool, m, path, 0, {})
            what += f"; compute mode under {fh.compute_cases_of(m.name)[0][3]}"
    return problems, what


def check_kinds(tool, zoo, spec_):
    m, model, what = make(zoo, spec_)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "variant.onnx")
        onnx.save(model, path)
        r = mm.report(tool, path, m.arch)
    if "error" in r:
        return [r["error"]], what
    kinds = [f"{s[0]} {list(s[2])}" for s in r["sites"]]
    return [], what + f"; read as {', '.join(kinds)}"


def main(argv):
    args = argv[1:]
    if args[0] == "--write":
        _, model, what = make(args[2], args[3])
        onnx.save(model, args[1])
        print(what)
        return 0
    mode = args.pop(0) if args[0] in ("--compute", "--kinds") else ""
    tool, zoo, specs = shutil.which(args[0]) or args[0], args[1], args[2:]
    if mode == "--kinds":
        jobs = ((s, check_kinds, (tool, zoo, s)) for s in specs)
    else:
        jobs = ((s, check, (tool, zoo, s, mode == "--compute")) for s in specs)
    return fh.run_cases(jobs)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
