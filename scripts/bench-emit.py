#!/usr/bin/env python3
"""What `--emit plain|ort|onnx23` costs in ONNX Runtime: RoPE kernel time per
layer and whole-model time of one decoder in five forms.

The decoder (onnx.helper, random weights): L layers (default 4; the issue's
28 do not fit the shared 2-core host's time: about 20 s per run at S = 4096
under load, 14 runs per form and thread count) of q/k projections from
hidden 256 to 28 query and 4 KV heads of 128 channels, M-RoPE [16, 24, 24]
(theta 1e6) on q and k by position_ids [3, 1, S], a per-head contraction of
the rotated q and k to 16 channels ([H, 128, 16] weights, in the head-major
[B, H, S, D] layout attention reads them in), and projections back with a
residual. Attention itself is left out: at S = 4096 its [28, S, S] scores
would not fit the host, and it is the same in every form; the per-head
contraction keeps what matters for RoPE's layout: its output is read per
head, as attention reads it, so ONNX Runtime cannot cancel the
[B, S, H, D] <-> [B, H, S, D] Transposes around it. The whole-model figures
are therefore of this RoPE-heavy decoder, not of a full one.

Forms:
* original: Hugging Face's unfused spelling (Qwen2-VL) fed true 3D positions
  [3, 1, S]: cos/sin [3, 1, S, 128] from an inv_freq MatMul once per model,
  the Split/Gather/Concat section merge and rotate_half (Slice, Neg, Concat,
  Mul, Add) in every layer; the reference every form is checked against;
* plain, ort, onnx23: what users get from the buggy export. The bug model is
  the same decoder with the Qwen2-VL bug (build(..., 'bug'): position_ids
  [1, S] expanded to the three rows in the graph by Unsqueeze + Expand, as
  transformers exports its degenerate path); each form is
  `mrope-fix BUG.onnx -o FORM.onnx --emit FORM -q` (the tool in --build).
  For onnx23 mrope-fix is given a copy of the bug model whose default-domain
  opset_import says 23 (it refuses onnx23 below 23; nothing else changes:
  the copy passes onnx.checker, which in onnx 1.12 checks each op against
  the newest schema it knows (opset 17), and ONNX Runtime gives it the bug
  model's output), so that form's other ops are also at opset 23;
* none: no RoPE at all (the baseline the RoPE time is measured against).

What is timed, per form and thread count (python/mrope/ort_bench.js, one
process each): a session (all graph optimizations, intra-op threads T, one
inter-op thread, sequential) runs the model 2 times untimed, then --reps
times: `session.run ms` is the median wall time of those session.run calls
(model load, session creation and the inputs' preparation are not timed). A
second session with ORT's profiler on does the same 2 + reps runs; per timed
run the per-node kernel times (`*_kernel_time` events) are summed over all
nodes (`kernels ms`) and over the RoPE nodes; the figures are medians over
the timed runs.

The RoPE nodes are found by name: the original's /rope_tables/ and
/layers.L/rope/, the fixed forms' mrope_fix/rope_N/ (N the site: mrope-fix
lowers rope.apply under that prefix, tables/ once per site, apply_I/ per
rotation op), plus the node ORT's transpose optimizer makes of the
original's /rope_tables/Transpose when it moves it below the Concat (ORT
names it just "Transpose"). Of them, the tables (/rope_tables/,
mrope_fix/rope_N/tables/, that Transpose) are built once per model and also
shown on their own. The names are checked before anything is timed, by one
untimed run per form (the same session options, 1 thread) that writes the
graph ORT runs after its optimizations (the names its profiler reports) and
gives the output: every node must be a RoPE node or a node of the decoder's
layers, a bare "Transpose" must read only /rope_tables/ outputs, every form
but `none` has RoPE nodes and `none` has none; each form's output must match
the original's. RoPE ms/layer = RoPE kernel time / L; cross-check: (kernel
time of the form - that of `none`) / L, which does not depend on names.

Before the decoder, the fused ops alone (one site, q and k, caches fed as
inputs): com.microsoft.MRotaryEmbedding, com.microsoft.RotaryEmbedding over
merged per-token caches and RotaryEmbedding-23, each on [B, H, S, D] and
[B, S, H * D] inputs: the figures `emit=ort` was chosen by.

usage: scripts/bench-emit.py [--seq 4096] [--layers 4] [--threads 1 2]
                              [--reps 5] [--docs docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
from mrope import ort, reference as ref  # noqa: E402

HIDDEN, QH, KVH, D = 256, 28, 4, 128
SECTIONS, THETA = (16, 24, 24), 1e6
FORMS = ("original", "plain", "ort", "onnx23", "none")
# Node names (see the docstring; ORT keeps them in its profile, whose events
# are NAME_kernel_time): RoPE nodes, of them the tables built once per
# model, and the decoder's other nodes.
MOVED_TRANSPOSE = "Transpose"
ROPE_NODES = rf"^(/rope_tables/|/layers\.\d+/rope/|mrope_fix/rope_\d+/)|^{MOVED_TRANSPOSE}_kernel_time$"
TABLE_NODES = rf"^(/rope_tables/|mrope_fix/rope_\d+/tables/)|^{MOVED_TRANSPOSE}_kernel_time$"
LAYER_NODES = r"^(/layers\.\d+/(q|k)/|/layers\.\d+/Add(_1)?_kernel_time$|/out_kernel_time$)"
CONTRACT = 16


def build(seq: int, layers: int, rope: str) -> onnx.ModelProto:
    """rope: 'original' (Hugging Face's spelling, position_ids [3, 1, S]),
    'bug' (the same with the Qwen2-VL bug: position_ids [1, S] expanded to
    the three rows in the graph, what transformers exports when it is given
    1D positions) or 'none'."""
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    F = D // 2

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(op, ins, name, n_out=1, domain="", **attrs):
        outs = [f"{name}_out{i}" for i in range(n_out)]
        nodes.append(helper.make_node(op, ins, outs, name=name, domain=domain, **attrs))
        return outs[0] if n_out == 1 else outs

    ints = lambda name, v: init(name, np.array(v, np.int64))
    hf = rope in ("original", "bug")
    positions = "position_ids"
    if rope == "bug":
        # Qwen2VLRotaryEmbedding.forward on 2D positions:
        # position_ids[None, ...].expand(3, B, S).
        row = node("Unsqueeze", [positions, ints("bug_axis", [0])], "/bug/Unsqueeze")
        positions = node("Expand", [row, ints("bug_shape", [3, 1, seq])], "/bug/Expand")
    if hf:
        # Qwen2VLRotaryEmbedding: [3, 1, F, 1] @ [3, 1, 1, S] -> [3, 1, F, S].
        inv = np.broadcast_to(ref.inv_freq(D, THETA)[None, None, :, None], (3, 1, F, 1)).copy()
        p = node("Cast", [positions], "/rope_tables/Cast", to=TensorProto.FLOAT)
        p = node("Unsqueeze", [p, ints("axis2", [2])], "/rope_tables/Unsqueeze")
        freqs = node("MatMul", [init("inv_freq", inv), p], "/rope_tables/MatMul")
        freqs = node("Transpose", [freqs], "/rope_tables/Transpose", perm=[0, 1, 3, 2])
        emb = node("Concat", [freqs, freqs], "/rope_tables/Concat", axis=-1)
        cos = node("Cos", [emb], "/rope_tables/Cos")
        sin = node("Sin", [emb], "/rope_tables/Sin")
        split = ints("split", list(SECTIONS) * 2)
    for l in range(layers):
        x = "inputs_embeds" if l == 0 else f"/layers.{l - 1}/Add_1_out0"
        wq = init(f"layers.{l}.wq", (rng.standard_normal((HIDDEN, QH * D)) * 0.05).astype(np.float32))
        wk = init(f"layers.{l}.wk", (rng.standard_normal((HIDDEN, KVH * D)) * 0.05).astype(np.float32))
        woq = init(f"layers.{l}.woq", (rng.standard_normal((QH * CONTRACT, HIDDEN)) * 0.05).astype(np.float32))
        wok = init(f"layers.{l}.wok", (rng.standard_normal((KVH * CONTRACT, HIDDEN)) * 0.05).astype(np.float32))
        P = f"/layers.{l}"

        def heads(v, h, tag):
            r = node("Reshape", [v, ints(f"shape{h}", [1, seq, h, D])], f"{P}/{tag}/Reshape")
            return node("Transpose", [r], f"{P}/{tag}/Transpose", perm=[0, 2, 1, 3])

        q = heads(node("MatMul", [x, wq], f"{P}/q/MatMul"), QH, "q")
        k = heads(node("MatMul", [x, wk], f"{P}/k/MatMul"), KVH, "k")
        if hf:
            def merged(table, tag):
                chunks = node("Split", [table, split], f"{P}/rope/{tag}/Split", n_out=6, axis=-1)
                rows = [node("Gather", [c, init(f"row{i % 3}", np.array(i % 3, np.int64))],
                             f"{P}/rope/{tag}/Gather_{i}", axis=0) for i, c in enumerate(chunks)]
                m = node("Concat", rows, f"{P}/rope/{tag}/Concat", axis=-1)
                return node("Unsqueeze", [m, ints("axis1", [1])], f"{P}/rope/{tag}/Unsqueeze")
            c, s = merged(cos, "cos"), merged(sin, "sin")

            def rotate(v, tag):
                lo = node("Slice", [v, ints("zero", [0]), ints("half", [F]), ints("axis3", [3])],
                          f"{P}/rope/{tag}/Slice")
                hi = node("Slice", [v, ints("half", [F]), ints("full", [D]), ints("axis3", [3])],
                          f"{P}/rope/{tag}/Slice_1")
                rh = node("Concat", [node("Neg", [hi], f"{P}/rope/{tag}/Neg"), lo],
                          f"{P}/rope/{tag}/Concat", axis=-1)
                return node("Add", [node("Mul", [v, c], f"{P}/rope/{tag}/Mul"),
                                    node("Mul", [rh, s], f"{P}/rope/{tag}/Mul_1")], f"{P}/rope/{tag}/Add")
            q, k = rotate(q, "q"), rotate(k, "k")

        def back(v, h, w, tag):
            # Per head, as attention reads q and k: [B, H, S, D] @ [H, D, C].
            wc = init(f"layers.{l}.{tag}c", (rng.standard_normal((h, D, CONTRACT)) * 0.05).astype(np.float32))
            c = node("MatMul", [v, wc], f"{P}/{tag}/heads/MatMul")
            t = node("Transpose", [c], f"{P}/{tag}/Transpose_1", perm=[0, 2, 1, 3])
            r = node("Reshape", [t, ints(f"flat{h}", [1, seq, h * CONTRACT])], f"{P}/{tag}/Reshape_1")
            return node("MatMul", [r, w], f"{P}/{tag}/MatMul_1")

        o = node("Add", [back(q, QH, woq, "q"), back(k, KVH, wok, "k")], f"{P}/Add")
        node("Add", [x, o], f"{P}/Add_1")
    nodes.append(helper.make_node("Identity", [f"/layers.{layers - 1}/Add_1_out0"], ["out"], name="/out"))
    seen, unique = set(), []
    for t in inits:
        if t.name not in seen:
            seen.add(t.name)
            unique.append(t)
    graph = helper.make_graph(
        nodes, "bench_emit",
        [helper.make_tensor_value_info("inputs_embeds", TensorProto.FLOAT, [1, seq, HIDDEN]),
         helper.make_tensor_value_info("position_ids", TensorProto.INT64,
                                       [1, seq] if rope == "bug" else [3, 1, seq])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, seq, HIDDEN])], unique)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="bench-emit")
    model.ir_version = 8
    return model


SPELLINGS = (("MRotaryEmbedding", "com.microsoft.MRotaryEmbedding, [M, F] caches, positions [3, B, S]"),
             ("RotaryEmbedding (merged)", "com.microsoft.RotaryEmbedding, merged caches [B*S, F], ids b*S+s"),
             ("RotaryEmbedding-23", "RotaryEmbedding-23, per-token caches [B, S, F]"))


def spelling(op: str, seq: int, layout: str) -> onnx.ModelProto:
    """One site: q and k rotated by one fused op each, caches fed as inputs
    (what the kernels alone cost). layout: 'bhsd' [B, H, S, D] or 'bshd'
    [B, S, H * D] (num_heads given)."""
    F = D // 2
    nodes, ins = [], []
    for name, h in (("q", QH), ("k", KVH)):
        ins.append(helper.make_tensor_value_info(name, TensorProto.FLOAT,
                                                 [1, h, seq, D] if layout == "bhsd" else [1, seq, h * D]))
        attrs = {} if layout == "bhsd" else {"num_heads": h}
        if op == "MRotaryEmbedding":
            nodes.append(helper.make_node(op, [name, "pos3", "cos", "sin"], [f"{name}_out"], name=f"/rope/{name}",
                                          domain="com.microsoft", mrope_section=list(SECTIONS), **attrs))
        elif op == "RotaryEmbedding (merged)":
            nodes.append(helper.make_node("RotaryEmbedding", [name, "ids", "cos", "sin"], [f"{name}_out"],
                                          name=f"/rope/{name}", domain="com.microsoft", **attrs))
        else:
            nodes.append(helper.make_node("RotaryEmbedding", [name, "cos3", "sin3"], [f"{name}_out"],
                                          name=f"/rope/{name}", **attrs))
    caches = {"MRotaryEmbedding": [("pos3", TensorProto.INT64, [3, 1, seq]), ("cos", TensorProto.FLOAT, [seq, F]),
                                   ("sin", TensorProto.FLOAT, [seq, F])],
              "RotaryEmbedding (merged)": [("ids", TensorProto.INT64, [1, seq]), ("cos", TensorProto.FLOAT, [seq, F]),
                                           ("sin", TensorProto.FLOAT, [seq, F])],
              "RotaryEmbedding-23": [("cos3", TensorProto.FLOAT, [1, seq, F]), ("sin3", TensorProto.FLOAT, [1, seq, F])]}
    ins += [helper.make_tensor_value_info(*c) for c in caches[op]]
    outs = [helper.make_tensor_value_info(f"{n}_out", TensorProto.FLOAT, None) for n in ("q", "k")]
    model = helper.make_model(helper.make_graph(nodes, "spelling", ins, outs),
                              opset_imports=[helper.make_opsetid("", 23), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 10
    return model


def spelling_feeds(model: onnx.ModelProto, pos: np.ndarray, rng) -> dict:
    """Inputs of a spelling model: random q/k, positions within the caches
    (the kernels' cost does not depend on which rows they read)."""
    seq = pos.shape[-1]
    feeds = {}
    for i in model.graph.input:
        shape = [d.dim_value for d in i.type.tensor_type.shape.dim]
        if i.name == "pos3":
            feeds[i.name] = pos.astype(np.int64)
        elif i.name == "ids":
            feeds[i.name] = np.arange(seq, dtype=np.int64)[None]
        else:
            feeds[i.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def at_opset23(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of model whose default-domain opset_import says 23 (what
    `--emit onnx23` needs; the ops used mean the same at 17 and 23)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    for o in out.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = 23
    onnx.checker.check_model(out)
    return out


def fixed(bug: Path, emit: str, build_dir: Path, out: Path) -> Path:
    """What a user gets: `mrope-fix BUG.onnx -o FORM.onnx --emit FORM -q`."""
    subprocess.run([str(build_dir / "bin" / "mrope-fix"), str(bug), "-o", str(out), "--emit", emit, "-q"],
                   check=True)
    return out


def check_names(form: str, optimized: Path) -> None:
    """The RoPE accounting's names against the graph ORT runs (see the
    docstring); raises on a node that is neither RoPE nor a layer's."""
    graph = onnx.load(str(optimized), load_external_data=False).graph
    producer = {o: n.name for n in graph.node for o in n.output}
    rope_re, layer_re = re.compile(ROPE_NODES), re.compile(LAYER_NODES)
    rope, stray = [], []
    for n in graph.node:
        event = f"{n.name}_kernel_time"
        if n.name == MOVED_TRANSPOSE and not all(
                producer.get(i, "").startswith("/rope_tables/") for i in n.input):
            stray.append(f"{n.op_type} {n.name!r} (reads {list(n.input)})")
        elif rope_re.search(event):
            rope.append(n.name)
        elif not layer_re.search(event):
            stray.append(f"{n.op_type} {n.name!r}")
    if stray:
        raise RuntimeError(f"{form}: ORT runs nodes the RoPE accounting cannot place: {', '.join(stray)}")
    if bool(rope) != (form != "none"):
        raise RuntimeError(f"{form}: {len(rope)} RoPE nodes found by name in the graph ORT runs")


def bench(model: Path, feeds: dict, threads: int, reps: int, workdir: Path, groups: dict = None,
          warmup: int = 2, optimized: Path = None) -> dict:
    """python/mrope/ort_bench.js on model: with groups ({name: regex on
    profiler event names}), profiled runs and the kernel time per group;
    with optimized, no profile, the outputs saved and the graph ORT runs
    written there."""
    workdir.mkdir(parents=True, exist_ok=True)
    inputs = []
    for i, (name, arr) in enumerate(feeds.items()):
        f = f"in{i}.bin"
        arr.tofile(workdir / f)
        inputs.append({"name": name, "dtype": str(arr.dtype), "shape": list(arr.shape), "file": f})
    request = {"model": str(model), "threads": threads, "warmup": warmup, "reps": reps, "inputs": inputs}
    if groups:
        request.update(profile=True, node_groups=groups)
    if optimized:
        request.update(optimized_model=str(optimized), save_outputs=True)
    (workdir / "request.json").write_text(json.dumps(request))
    env = {"MROPE_NODE_MODULES": str(ort.node_modules())}
    subprocess.run(["node", str(ROOT / "python" / "mrope" / "ort_bench.js"), str(workdir)],
                   check=True, env=dict(os.environ, **env))
    response = json.loads((workdir / "response.json").read_text())
    response["outputs"] = {o["name"]: np.fromfile(workdir / o["file"], o["dtype"]).reshape(o["shape"])
                           for o in response["outputs"]}
    return response


def host() -> str:
    """lscpu's model name and CPU count."""
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return f"{fields.get('Model name', 'unknown CPU').strip()}, {fields.get('CPU(s)', '?').strip()} CPUs"


def load() -> str:
    return "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())


def median(values):
    return float(np.median(values))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seq", type=int, default=4096)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--build", type=Path, default=ROOT / "build")
    ap.add_argument("--docs", type=Path, help="replace the section of this markdown file")
    a = ap.parse_args(argv)
    rng = np.random.default_rng(1)
    S, L = a.seq, a.layers
    cpu, load_start = host(), load()
    print(f"host: {cpu}; load average (1/5/15 min) at start: {load_start}", flush=True)
    # True 3D positions of a long multimodal prompt: text, a 64x64-patch image
    # (32x32 merged tokens), text up to S.
    n_img = 32 * 32 if S >= 2048 else 4
    ids = np.full((1, S), 9, np.int64)
    ids[0, 10] = ref.VISION_START_TOKEN_ID
    ids[0, 11:11 + n_img] = ref.IMAGE_TOKEN_ID
    pos, _ = ref.rope_index(ids, image_grid_thw=np.array([[1, 64, 64] if S >= 2048 else [1, 4, 4]], np.int64))
    feeds = {"inputs_embeds": rng.standard_normal((1, S, HIDDEN)).astype(np.float32),
             "position_ids": pos.astype(np.int64)}
    with tempfile.TemporaryDirectory(prefix="bench-emit-") as tmpname:
        tmp = Path(tmpname)
        # The fused ops alone, one site.
        spell = {}
        for t in a.threads:
            for op, _ in SPELLINGS:
                for layout in ("bhsd", "bshd"):
                    model = spelling(op, S, layout)
                    path = tmp / f"spelling-{len(spell)}.onnx"
                    onnx.save(model, path)
                    r = bench(path, spelling_feeds(model, pos, rng), t, a.reps, tmp / f"spell-{len(spell)}",
                              {"rope": "^/rope/"})
                    spell[(op, layout, t)] = r["group_kernel_median_ms"]["rope"]
                    print(f"{op:26s} {layout} threads {t}: {spell[(op, layout, t)]:.1f} ms per site", flush=True)
        models = {}
        for form in ("original", "none"):
            models[form] = tmp / f"{form}.onnx"
            onnx.save(build(S, L, form), models[form])
        # What users get from the buggy export.
        bug, bug23 = tmp / "bug.onnx", tmp / "bug-opset23.onnx"
        onnx.save(build(S, L, "bug"), bug)
        onnx.save(at_opset23(build(S, L, "bug")), bug23)
        bug_feeds = {"inputs_embeds": feeds["inputs_embeds"], "position_ids": pos[0].astype(np.int64)}
        d23 = float(np.max(np.abs(ort.run(bug23, bug_feeds)["out"] - ort.run(bug, bug_feeds)["out"])))
        print(f"bug model at opset 23: max |out - bug model's| = {d23:.2e}", flush=True)
        if d23 > 1e-3:
            print("error: the opset-23 copy of the bug model does not compute what it does", file=sys.stderr)
            return 1
        for emit in ("plain", "ort", "onnx23"):
            models[emit] = fixed(bug23 if emit == "onnx23" else bug, emit, a.build, tmp / f"{emit}.onnx")
        # One untimed run per form: its output, and the graph ORT runs for
        # the names the RoPE time is summed over.
        outs = {}
        for form in FORMS:
            optimized = tmp / f"{form}.ort.onnx"
            outs[form] = bench(models[form], feeds, 1, 1, tmp / f"check-{form}", warmup=0,
                               optimized=optimized)["outputs"]["out"]
            check_names(form, optimized)
        want = outs["original"]
        scale = float(np.max(np.abs(want)))
        diffs = {f: float(np.max(np.abs(outs[f] - want))) for f in ("plain", "ort", "onnx23")}
        for f, d in diffs.items():
            print(f"{f}: max |out - original| = {d:.2e} (max |out| {scale:.1f})", flush=True)
            # A sanity check that the forms compute the same (each form's
            # exactness is check_emit.py's): the rotation's float order
            # differs, then the projections sum thousands of such products.
            if d > 1e-3:
                print(f"error: the {f} form does not compute what the original does", file=sys.stderr)
                return 1
        results = {}
        for t in a.threads:
            for form in FORMS:
                r = bench(models[form], feeds, t, a.reps, tmp / f"run-{form}-{t}",
                          {"rope": ROPE_NODES, "tables": TABLE_NODES})
                results[(form, t)] = r
                print(f"{form:8s} threads {t}: model {r['median_ms']:.1f} ms, kernels "
                      f"{r['kernel_median_ms']:.1f} ms, RoPE {r['group_kernel_median_ms']['rope']:.1f} ms",
                      flush=True)
        version = r["version"]
    load_end = load()
    print(f"load average at end: {load_end}", flush=True)
    spell_rows = []
    for t in a.threads:
        base = spell[("MRotaryEmbedding", "bhsd", t)]
        for op, what in SPELLINGS:
            spell_rows.append(f"| {what} | {t} | {spell[(op, 'bhsd', t)]:.1f} | {spell[(op, 'bshd', t)]:.1f} | "
                              f"{spell[(op, 'bhsd', t)] / base:.2f} | {spell[(op, 'bshd', t)] / base:.2f} |")
    rows = []
    for t in a.threads:
        base = results[("none", t)]["kernel_median_ms"]
        named = {f: results[(f, t)]["group_kernel_median_ms"]["rope"] / L for f in FORMS[:-1]}
        tables = {f: results[(f, t)]["group_kernel_median_ms"]["tables"] for f in FORMS[:-1]}
        for form in FORMS[:-1]:
            r = results[(form, t)]
            diff = (r["kernel_median_ms"] - base) / L
            rows.append(f"| {form} | {t} | {named[form]:.2f} | {tables[form]:.1f} | "
                        f"{named[form] / named['plain']:.2f} | {diff:.1f} | {r['kernel_median_ms']:.1f} | "
                        f"{r['median_ms']:.1f} | {r['median_ms'] / results[('plain', t)]['median_ms']:.2f} |")
        rows.append(f"| none (no RoPE) | {t} | - | - | - | - | {base:.1f} | "
                    f"{results[('none', t)]['median_ms']:.1f} | "
                    f"{results[('none', t)]['median_ms'] / results[('plain', t)]['median_ms']:.2f} |")
    section = "\n".join([
        "## `--emit`: RoPE in ONNX Runtime as plain ops, fused com.microsoft ops or RotaryEmbedding-23",
        "",
        f"`scripts/bench-emit.py --seq {S} --layers {L}` on {cpu}, load average (1/5/15 min) "
        f"{load_start} at the start and {load_end} at the end (a shared host: other jobs ran), "
        f"ONNX Runtime {version} (CPU, onnxruntime-node), median of {a.reps} profiled runs after 2 "
        "warm-up runs, every figure from one run of the script.",
        "",
        f"The fused ops alone, one site (q 28 heads, k 4 heads, D 128, S = {S}), caches fed as "
        "inputs: ORT profiler kernel time in ms per site, on [B, H, S, D] inputs and on "
        "[B, S, H * D] inputs, and both relative to MRotaryEmbedding on [B, H, S, D]:",
        "",
        "| op | threads | [B, H, S, D] ms | [B, S, H * D] ms | vs MRotary | vs MRotary ([B, S, H * D]) |",
        "| --- | --- | --- | --- | --- | --- |",
        *spell_rows,
        "",
        f"The decoder: {L} layers, q 28 heads and k 4 heads of 128 channels, hidden 256, M-RoPE "
        "[16, 24, 24] by true 3D positions of a prompt with a 64x64-patch image, a per-head "
        "contraction standing in for attention (see the script). `original` is Hugging Face's "
        "spelling fed true 3D positions, the reference; plain / ort / onnx23 are what "
        "`mrope-fix BUG.onnx -o FORM.onnx --emit FORM` writes for the same decoder exported with "
        "the Qwen2-VL bug (position_ids [1, S] expanded to the three rows in the graph; for "
        "onnx23 a copy of it importing opset 23, so that form's other ops are at opset 23 too). "
        "RoPE ms/layer: ORT profiler kernel time of the RoPE nodes (tables, merge, rotation; "
        "found by name: the original's, and the `mrope_fix/rope_N/` nodes mrope-fix writes, "
        "checked against the graph ORT runs) / layers; `tables ms`: of it, the tables built once "
        "per model (the original's cos/sin, the fixed forms' per-site tables); `vs plain`: RoPE "
        "time relative to plain at the same thread count; `minus none`: "
        "(kernel time of the whole form - that of the decoder without RoPE) / layers, a "
        "cross-check that survives renaming but carries the noise of two totals; `model vs "
        "plain`: session.run time relative to plain.",
        "",
        "| form | threads | RoPE ms/layer | tables ms (once) | vs plain | minus none ms/layer | "
        "kernels ms (model) | session.run ms (model) | model vs plain |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        "Outputs of plain / ort / onnx23 against the original: "
        + ", ".join(f"{f} {d:.1e}" for f, d in diffs.items()) + f" (max abs; outputs up to {scale:.1f}).",
        "",
    ])
    print(section)
    if a.docs:
        text = a.docs.read_text() if a.docs.exists() else ""
        head = section.splitlines()[0]
        if head in text:
            start = text.index(head)
            nxt = text.find("\n## ", start + 1)
            rest = text[nxt + 1:] if nxt >= 0 else ""
            text = text[:start] + section + rest
        else:
            text = text.rstrip("\n") + "\n\n" + section
        a.docs.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
