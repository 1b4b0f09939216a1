"""mrope-fix on zoo models whose graph inputs and dims are renamed.

A model's names carry no meaning: the same graph with its inputs called
in0, in1, ... and its dims called s0, s1, ... (torch dynamo's spelling), n,
kv_len, d_17, ... (names no exporter uses), or names that say another dim's
meaning (the batch called past_len, the past batch_size, the tokens
batch_2) computes the same thing. For each
model of the zoos given (bug models with a correct twin, and correct models)
and each renaming, the renamed copy (and its renamed twin) must give:
1. the same report meaning (sites grouped by kind, sections, rotary dim,
   theta, layout, fused op, positions source read back through the renaming,
   bug verdict) and the same --check exit code as the original;
2. `-o` (bug models): a fix that is written (the in-tree proof passes), and
   that equals in ONNX Runtime the renamed twin fed true 3D positions
   (tolerance 1e-5, the zoo checks' bound: the fix and the twin run the same
   f32 ops but may order the table products differently) and the fix of the
   original-named model fed the same data (the same tolerance).
Correct models must be written unchanged by `-o` (same nodes), as before.

Only models whose names the probe used to read are worth this: the KV-cache
decoders (past_key_values.*, a past dim), the GenAI builder's spelling
(batch_size) and torch dynamo's (s0, s1). `--models` picks them by name.

With --compute, a KV-cache bug model is also fixed with --positions compute,
renamed and not, and the two fixes must agree on a prefill and a decode
step (the decode step reads the past length off the past cache, which the
fix must find by meaning).

usage: check_names_probe.py MROPE_FIX ZOO_DIR [ZOO_DIR...] [--models a,b] [--compute]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

from mrope import ort
from mrope.zoo import feeds as zoo_feeds
from mrope.zoo import spellings

TOL = 1e-5


def inputs_of(model):
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def rename_plan(model, style):
    """({old input name: new}, {old dim_param: new}) for `style`.

    The test knows what the zoo's dims mean (it wrote them) and picks names
    that say nothing, or say it wrongly: the tool must not care."""
    names = {i.name: f"in{k}" for k, i in enumerate(inputs_of(model))}
    params = []
    for vi in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        for d in vi.type.tensor_type.shape.dim:
            if d.dim_param and d.dim_param not in params:
                params.append(d.dim_param)
    dims = {}
    for k, p in enumerate(params):
        if style == "dynamo":
            dims[p] = f"s{k}"
        elif style == "lying":           # each name says another dim's meaning
            dims[p] = ("past_len" if "batch" in p else
                       "batch_size" if p.startswith("past") and "+" not in p else
                       "past_plus_batch" if p.startswith("past") else f"batch_{k}")
        elif "batch" in p:
            dims[p] = "n"
        elif p.startswith("past") and "+" not in p:
            dims[p] = "kv_len"
        elif p.startswith("past"):       # past + sequence: the attention mask's length
            dims[p] = "batch_len"         # a misleading name on purpose
        else:
            dims[p] = f"d_{17 + k}"
    return names, dims


def renamed(model, names, dims):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        if vi.name in names:
            vi.name = names[vi.name]
        for d in vi.type.tensor_type.shape.dim:
            if d.dim_param:
                d.dim_param = dims.get(d.dim_param, d.dim_param)
    for node in g.node:
        for k, x in enumerate(node.input):
            if x in names:
                node.input[k] = names[x]
    return m


def run_tool(tool, model, arch, *args):
    return subprocess.run([tool, model, "--arch", arch, "-q", *args], capture_output=True,
                          text=True)


def meaning(tool, model, arch, back):
    """(--check exit code, sorted site meanings) with input names read back."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "r.json")
        p = run_tool(tool, model, arch, "--check", "--report", path)
        if p.returncode not in (0, 3) or not os.path.exists(path):
            return p.returncode, p.stderr.strip()[:300]
        with open(path) as f:
            rep = json.load(f)
    sites = []
    for s in rep["sites"]:
        src = s.get("positions_source", "")
        for new, old in back.items():
            src = src.replace(f"'{new}'", f"'{old}'")
        sites.append((s["positions"], tuple(s["sections"]), s["rotary_dim"],
                      f"{float(s['theta']):.4g}", s.get("layout", "neox"),
                      bool(s.get("interleaved", False)), s.get("fused_op") or "", src,
                      bool(s["bug"]), s["rotations"]))
    return p.returncode, sorted(sites)


def feeds_for(path, base, back):
    """`base` (feeds by original input names) for the inputs of `path`."""
    out = {}
    for i in inputs_of(onnx.load(path, load_external_data=False)):
        name = back.get(i.name, i.name)
        dims = i.type.tensor_type.shape.dim
        if name not in base and len(dims) == 3 and dims[0].dim_value == 3:
            # an input the fix retyped to [3, B, S]: the twin's 3D positions
            name = next(k for k, v in base.items() if v.ndim == 3 and v.dtype == np.int64
                        and v.shape[0] == 3)
        if name not in base:
            raise KeyError(f"no feed for input {i.name!r} of {os.path.basename(path)}")
        out[i.name] = base[name]
    return out


def max_diff(a, b):
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def check(tool, zoo, desc, style, tmp, compute=False):
    arch = desc["declared_arch"]
    src = os.path.join(zoo, desc["model"])
    model = onnx.load(src)
    names, dims = rename_plan(model, style)
    back = {v: k for k, v in names.items()}
    ren = os.path.join(tmp, f"{style}_{desc['model']}")
    onnx.save(renamed(model, names, dims), ren)
    problems = []
    want, got = meaning(tool, src, arch, {}), meaning(tool, ren, arch, back)
    if got != want:
        problems.append(f"report/--check {got} != original's {want}")
    fixed_ren, fixed_src = ren + ".fixed.onnx", os.path.join(tmp, "orig.fixed.onnx")
    p = run_tool(tool, ren, arch, "-o", fixed_ren)
    if p.returncode != 0:
        problems.append(f"-o: exit {p.returncode}: {p.stderr.strip()[:300]}")
        return problems, ""
    if not desc.get("twin"):
        a, b = onnx.load(ren), onnx.load(fixed_ren)
        if [n.op_type for n in a.graph.node] != [n.op_type for n in b.graph.node] or \
                [i.name for i in a.graph.input] != [i.name for i in b.graph.input]:
            problems.append("-o changed a correct model")
        return problems, "written unchanged"
    twin_src = os.path.join(zoo, desc["twin"])
    twin_model = onnx.load(twin_src)
    # The twin renamed the same way (its extra position input keeps its name).
    tnames = {k: names.get(k, k) for k in (i.name for i in inputs_of(twin_model))}
    twin_ren = os.path.join(tmp, f"{style}_twin_{desc['twin']}")
    onnx.save(renamed(twin_model, tnames, dims), twin_ren)
    subprocess.run([tool, src, "--arch", arch, "-q", "-o", fixed_src], check=True,
                   capture_output=True)
    twin_desc = json.load(open(twin_src.replace(".onnx", ".json")))
    base = spellings.model_feeds(twin_desc, "multimodal", twin_src)
    tback = {v: k for k, v in tnames.items()}
    twin_out = ort.run(twin_ren, feeds_for(twin_ren, base, tback))
    fixed_out = ort.run(fixed_ren, feeds_for(fixed_ren, base, {**back, **tback}))
    orig_out = ort.run(fixed_src, feeds_for(fixed_src, base, {}))
    d_twin, d_orig = max_diff(fixed_out, twin_out), max_diff(fixed_out, orig_out)
    if d_twin > TOL:
        problems.append(f"fixed vs twin: {d_twin:.2e} > {TOL}")
    if d_orig > TOL:
        problems.append(f"fixed vs the original-named fix: {d_orig:.2e} > {TOL}")
    note = f"|fixed - twin| = {d_twin:.1e}, |fixed - original's fix| = {d_orig:.1e}"
    # (the zoo decoders that take a mask; GroupQueryAttention has its own feeds)
    if compute and "attention_mask" in names and \
            any(n.startswith("past_key_values.") for n in names):
        d, why = kv_compute(tool, src, ren, back, arch, tmp)
        if d is None:
            problems.append(why)
        elif d > TOL:
            problems.append(f"--positions compute vs the original-named fix: {d:.2e} > {TOL}")
        else:
            note += f", --positions compute (prefill + decode) {d:.1e}"
    return problems, note


def kv_compute(tool, src, ren, back, arch, tmp):
    """--positions compute on a KV-cache decoder: the renamed model's fix
    equals the original-named model's fix on a prefill (empty past) and on
    a decode step fed the prefill's cache: both must find the past cache
    (the decode step continues at past + arange + past_rope_deltas)."""
    fixed = {}
    for which, path in (("orig", src), ("ren", ren)):
        fixed[which] = os.path.join(tmp, f"compute_{which}.onnx")
        p = run_tool(tool, path, arch, "-o", fixed[which], "--positions", "compute")
        if p.returncode != 0:
            return None, f"--positions compute ({which}): {p.stderr.strip()[:300]}"
    model = onnx.load(src, load_external_data=False)
    ins = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in inputs_of(model)}
    ids, mask, grids = zoo_feeds.batch("multimodal", padded=False)
    B, S = ids.shape
    rng = np.random.default_rng(5)
    pasts = sorted(n for n in ins if n.startswith("past_key_values."))
    hidden = ins["inputs_embeds"][2]
    pool = {"inputs_embeds": rng.standard_normal((B, S, hidden)).astype(np.float32),
            "attention_mask": mask, "input_ids": ids,
            "past_rope_deltas": np.zeros((B, 1), np.int64), **grids}
    pool.update({n: np.zeros((B, ins[n][1], 0, ins[n][3]), np.float32) for n in pasts})
    got = {w: ort.run(f, feeds_for(f, pool, back)) for w, f in fixed.items()}
    diff = max_diff(got["ren"], got["orig"])
    # one decode step: a text token, the prefill's cache as the past
    step = dict(pool, inputs_embeds=rng.standard_normal((B, 1, hidden)).astype(np.float32),
                input_ids=np.full((B, 1), 77, np.int64),
                attention_mask=np.concatenate([mask, np.ones((B, 1), np.int64)], axis=1),
                past_rope_deltas=got["orig"]["rope_deltas"])
    step.update({n: got["orig"][n.replace("past_key_values", "present")] for n in pasts})
    got2 = {w: ort.run(f, feeds_for(f, step, back)) for w, f in fixed.items()}
    return max(diff, max_diff(got2["ren"], got2["orig"])), ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tool")
    ap.add_argument("zoos", nargs="+")
    ap.add_argument("--models", default="")
    ap.add_argument("--compute", action="store_true",
                    help="also --positions compute on the KV-cache decoders")
    a = ap.parse_args()
    pick = set(filter(None, a.models.split(",")))
    passed = failed = 0
    for zoo in a.zoos:
        with open(os.path.join(zoo, "index.json")) as f:
            index = json.load(f)["models"]
        for entry in index:
            if pick and entry["name"] not in pick:
                continue
            desc = json.load(open(os.path.join(zoo, entry["json"])))
            declared = desc.get("expected", {}).get("declared", {}).get("arch")
            desc["declared_arch"] = declared or entry.get("arch") or desc.get("arch", "auto")
            desc["twin"] = entry.get("twin", desc.get("twin"))
            for style in ("dynamo", "misleading", "lying"):
                with tempfile.TemporaryDirectory() as tmp:
                    try:
                        problems, note = check(a.tool, zoo, desc, style, tmp, a.compute)
                    except Exception as e:  # a failing tool or runtime fails the model
                        problems, note = [f"{type(e).__name__}: " + " ".join(str(e).split())[:400]], ""
                tag = f"{desc['model']} ({style} names)"
                if problems:
                    failed += 1
                    print(f"FAIL {tag}: " + "; ".join(problems))
                else:
                    passed += 1
                    print(f"ok {tag}: {note}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
