"""mrope-fix --positions compute on zoo decoders whose token-id and mask
inputs are renamed.

Compute mode computes the 3D positions in the graph (get_rope_index) from
the token ids, the attention mask and the grids. It must find the ids and
the mask the model already has by what the graph does with them (the ids
index the rows of the embedding table, the mask becomes the attention
bias), not by the names input_ids and attention_mask: a model that is the
same in meaning must get the same interface, not a second mask or ids input
the user has to feed with the same data.

For each model (zoo decoders compute mode supports: 1D bug, KV-cache range
bug, a correct M-RoPE decoder, GLM-4V, a packed batch; and the first two with
their inputs_embeds replaced by an embedding Gather of an `input_ids` input,
so that there are token ids to find) and each renaming (neutral names; the
mask called input_ids_2; the ids and the mask swapping names; and on two
models a bool mask called pad_mask, fed the same mask as bool), the renamed
copy fixed with `--positions compute -o` must:
1. be written (exit 0);
2. have as many inputs as the original-named model's fix, the original
   inputs in the same places under their new names (no second mask or ids
   input was added next to the renamed one);
3. equal the original-named fix in ONNX Runtime on the same feeds, fed
   input by input in the same places: every output exactly (0.0; the two
   fixed graphs are the same nodes reading differently named inputs). KV
   decoders are run on a prefill (empty past) and a step with a past.

And the vision tower: the 1D vision bug given an integer [N, 3] input `thw`
fixes to a model reading it, equal in ORT to the fix that adds `grid_thw`.

--write-cases DIR writes the refusals the lit test checks: a decoder with two
inputs both read as the attention mask (two_masks.onnx), one with two
inputs both indexing the embedding table (two_ids.onnx), and one with an
[N, 3] grid input whose name says neither image nor video (unnamed_grid.onnx);
and the 1D bug decoder with its mask called input_ids (swapped.onnx).

usage: check_compute_names.py MROPE_FIX MODELS_DIR [--write-cases DIR]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mrope import ort
from mrope.zoo import feeds as zoo_feeds

# (zoo model, arch, with an embedding of input_ids in place of inputs_embeds)
MODELS = [
    ("zoo/qwen2vl_1d_bug", "qwen2-vl", False),
    ("zoo/qwen2vl_range_kv_bug", "qwen2-vl", False),
    ("zoo/qwen2vl_mrope", "qwen2-vl", False),
    ("zoo-newarch/glm4v_expand_bug", "glm4v", False),
    ("zoo-packed/qwen2vl_packed_bug", "qwen2-vl", False),
    ("zoo/qwen2vl_1d_bug", "qwen2-vl", True),
    ("zoo/qwen2vl_range_kv_bug", "qwen2-vl", True),
]

# old name -> new name; names an input does not have are ignored.
RENAMINGS = {
    "neutral names": {"attention_mask": "mask", "input_ids": "tokens"},
    "mask named input_ids_2": {"attention_mask": "input_ids_2", "input_ids": "ids"},
    "names swapped": {"attention_mask": "input_ids", "input_ids": "attention_mask"},
}
# A bool mask (the zoo graphs Cast it to bool first, so ORT takes either):
# compute mode reads it as int64 0/1.
BOOL_MASK = ("bool mask named pad_mask", {"attention_mask": "pad_mask"})
BOOL_MODELS = [("zoo/qwen2vl_1d_bug", "qwen2-vl"), ("zoo/qwen2vl_range_kv_bug", "qwen2-vl")]

# Every token id of the zoo batch (vision tokens near 151656) has a row.
VOCAB = 151680


def graph_inputs(model):
    inits = {i.name for i in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits]


def inputs_of(path):
    return graph_inputs(onnx.load(path, load_external_data=False))


def rename(model, mapping, bool_mask=False):
    """The model with its graph inputs renamed, and every node input that
    reads them (and with a bool attention_mask)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    mapping = {k: v for k, v in mapping.items() if k in graph_inputs(m)}
    for i in m.graph.input:
        if bool_mask and i.name == "attention_mask":
            i.type.tensor_type.elem_type = TensorProto.BOOL
        i.name = mapping.get(i.name, i.name)
    for n in m.graph.node:
        for k, x in enumerate(n.input):
            n.input[k] = mapping.get(x, x)
    return m, mapping


def with_embedding(model, hidden):
    """inputs_embeds [B, S, H] made in the graph: Gather(table [V, H],
    input_ids [B, S])."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    rng = np.random.default_rng(3)
    table = (0.5 * rng.standard_normal((VOCAB, hidden))).astype(np.float32)
    g.initializer.append(numpy_helper.from_array(table, "embed_tokens.weight"))
    for i in g.input:
        if i.name == "inputs_embeds":
            dims = [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
            i.CopyFrom(helper.make_tensor_value_info("input_ids", TensorProto.INT64, dims[:2]))
    g.node.insert(0, helper.make_node("Gather", ["embed_tokens.weight", "input_ids"],
                                      ["inputs_embeds"], name="/embed_tokens/Gather"))
    return m


def fix(tool, model, arch, out):
    p = subprocess.run([tool, model, "--arch", arch, "--positions", "compute", "-q", "-o", out],
                       capture_output=True, text=True)
    return p.returncode, p.stderr.strip()


def feeds_for(desc, fixed_inputs, embedded):
    """Feeds by the original-named fix's input names: one run, or a prefill
    and a step with a past for a KV decoder."""
    d = zoo_feeds.load_desc(desc)
    packed = "segment_ids" in d["inputs"]
    kv = any(n.startswith("past_key_values.") for n in d["inputs"])
    base, _ = zoo_feeds.decoder_feeds(d, "packed" if packed else "multimodal")
    if packed:
        ids, _, _, grids = zoo_feeds.packed_batch("packed")
    else:
        ids, _, grids = zoo_feeds.batch("multimodal", padded=not kv)
    B, S = ids.shape
    extra = {"input_ids": ids, **grids,
             "past_rope_deltas": np.array([[5], [-2]], np.int64)[:B]}
    runs = [dict(base, **extra)]
    if kv:  # the prefill: an empty past, the mask of the new tokens only
        pre = dict(runs[0])
        for n in pre:
            if n.startswith("past_key_values."):
                shp = list(pre[n].shape)
                shp[2] = 0
                pre[n] = np.zeros(shp, np.float32)
        pre["attention_mask"] = pre["attention_mask"][:, zoo_feeds.PAST:].copy()
        runs.insert(0, pre)
    out = []
    for r in runs:
        missing = [n for n in fixed_inputs if n not in r]
        if missing:
            raise KeyError(f"no feed for {missing}")
        out.append({n: r[n] for n in fixed_inputs})
    return out


def check(tool, models_dir, name, arch, embedded, style, mapping, tmp, cache, bool_mask=False):
    path = os.path.join(models_dir, name + ".onnx")
    desc = os.path.join(models_dir, name + ".json")
    original = onnx.load(path)
    if embedded:
        hidden = int(zoo_feeds.load_desc(desc)["inputs"]["inputs_embeds"][2])
        original = with_embedding(original, hidden)
    key = (name, embedded)
    tag = os.path.basename(name) + ("+embedding" if embedded else "")
    if key not in cache:
        src = os.path.join(tmp, tag + ".onnx")
        onnx.save(original, src)
        out = os.path.join(tmp, tag + ".fixed.onnx")
        rc, err = fix(tool, src, arch, out)
        if rc:
            raise RuntimeError(f"the original-named fix failed: {err}")
        fixed_in = inputs_of(out)
        feeds = feeds_for(desc, fixed_in, embedded)
        cache[key] = (out, fixed_in, feeds, ort.run_many(out, feeds))
    ref_out, ref_in, feeds, want = cache[key]

    renamed, applied = rename(original, mapping, bool_mask)
    src = os.path.join(tmp, tag + ".renamed.onnx")
    onnx.save(renamed, src)
    out = os.path.join(tmp, tag + ".renamed.fixed.onnx")
    rc, err = fix(tool, src, arch, out)
    if rc:
        return [f"not written: {err}"], ""
    got_in = inputs_of(out)
    problems = []
    if len(got_in) != len(ref_in):
        added = [n for n in got_in if n not in graph_inputs(renamed)]
        problems.append(f"{len(got_in)} inputs instead of {len(ref_in)} (added {added})")
        return problems, ""
    kept = set(graph_inputs(original))
    for a, b in zip(ref_in, got_in):
        if a in kept and applied.get(a, a) != b:
            problems.append(f"input '{b}' where '{applied.get(a, a)}' was")
    def cast(name, v):
        return v.astype(bool) if bool_mask and name == applied["attention_mask"] else v
    got = ort.run_many(out, [{n: cast(n, v) for n, v in zip(got_in, f.values())} for f in feeds])
    diff = 0.0
    for w, g in zip(want, got):
        if set(w) != set(g):
            problems.append(f"outputs {sorted(g)} instead of {sorted(w)}")
            continue
        for k in w:
            diff = max(diff, float(np.abs(w[k].astype(np.float64) - g[k].astype(np.float64)).max(initial=0.0)))
    if diff != 0.0:
        problems.append(f"|renamed fix - original's fix| = {diff:.1e}")
    runs = "prefill + past step" if len(feeds) > 1 else "1 batch"
    named = ", ".join(f"{a} -> {b}" for a, b in applied.items())
    return problems, f"|renamed fix - original's fix| = {diff:.1e} ({runs}; {named})"


def check_vision(tool, models_dir, tmp):
    """The vision tower's grid is its integer [N, 3] input whatever its
    name: the 1D vision bug with an input `thw` fixes to the same graph as
    with none (where compute mode adds `grid_thw`), equal in ORT."""
    path = os.path.join(models_dir, "zoo", "vision_rope1d_bug.onnx")
    desc = os.path.join(models_dir, "zoo", "vision_rope1d_bug.json")
    base = onnx.load(path)
    named = onnx.ModelProto()
    named.CopyFrom(base)
    named.graph.input.append(helper.make_tensor_value_info("thw", TensorProto.INT64, ["n", 3]))
    src = os.path.join(tmp, "vision_thw.onnx")
    onnx.save(named, src)
    ref_out, out = os.path.join(tmp, "vision.fixed.onnx"), os.path.join(tmp, "vision_thw.fixed.onnx")
    for model, fixed in ((path, ref_out), (src, out)):
        rc, err = fix(tool, model, "qwen2-vl", fixed)
        if rc:
            return [f"{os.path.basename(model)} not written: {err}"], ""
    ref_in, got_in = inputs_of(ref_out), inputs_of(out)
    if len(got_in) != len(ref_in):
        return [f"inputs {got_in} instead of {ref_in}"], ""
    grid = np.array([[1, 4, 6]], np.int64)
    feeds = {"hidden_states": zoo_feeds.vision_feeds(desc)["hidden_states"], "grid_thw": grid}
    want = ort.run(ref_out, {n: feeds[n] for n in ref_in})
    got = ort.run(out, dict(zip(got_in, (feeds[n] for n in ref_in))))
    diff = max(float(np.abs(want[k] - got[k]).max()) for k in want)
    if diff != 0.0:
        return [f"|thw fix - grid_thw fix| = {diff:.1e}"], ""
    return [], f"|fix reading thw - fix adding grid_thw| = {diff:.1e} (inputs {got_in})"


def write_cases(models_dir, out_dir):
    """Two inputs with one meaning: refused, naming both."""
    os.makedirs(out_dir, exist_ok=True)
    base = onnx.load(os.path.join(models_dir, "zoo", "qwen2vl_1d_bug.onnx"))
    # A second [B, S] mask multiplied into the first before the masked fill.
    m = onnx.ModelProto()
    m.CopyFrom(base)
    g = m.graph
    g.input.append(helper.make_tensor_value_info("mask_b", TensorProto.INT64, ["batch", "sequence"]))
    for n in g.node:
        for k, x in enumerate(n.input):
            if x == "attention_mask":
                n.input[k] = "mask_product"
    g.node.insert(0, helper.make_node("Mul", ["attention_mask", "mask_b"], ["mask_product"],
                                      name="/mask_product/Mul"))
    onnx.save(m, os.path.join(out_dir, "two_masks.onnx"))
    # Two token-id inputs, each indexing the embedding table, added up.
    hidden = 32
    m = with_embedding(base, hidden)
    g = m.graph
    for n in g.node:
        if n.output and n.output[0] == "inputs_embeds":
            n.output[0] = "embeds_a"
    g.input.append(helper.make_tensor_value_info("type_ids", TensorProto.INT64, ["batch", "sequence"]))
    g.node.insert(1, helper.make_node("Gather", ["embed_tokens.weight", "type_ids"], ["embeds_b"],
                                      name="/embed_types/Gather"))
    g.node.insert(2, helper.make_node("Add", ["embeds_a", "embeds_b"], ["inputs_embeds"],
                                      name="/embed_sum/Add"))
    onnx.save(m, os.path.join(out_dir, "two_ids.onnx"))
    # The mask called input_ids (the change lines name it).
    onnx.save(rename(base, {"attention_mask": "input_ids"})[0], os.path.join(out_dir, "swapped.onnx"))
    # An [N, 3] grid input whose name says neither image nor video.
    m = onnx.ModelProto()
    m.CopyFrom(base)
    m.graph.input.append(helper.make_tensor_value_info("grids", TensorProto.INT64, ["n", 3]))
    onnx.save(m, os.path.join(out_dir, "unnamed_grid.onnx"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tool")
    ap.add_argument("models_dir")
    ap.add_argument("--write-cases")
    args = ap.parse_args()
    if args.write_cases:
        write_cases(args.models_dir, args.write_cases)
        return 0
    passed = failed = 0
    cache = {}
    with tempfile.TemporaryDirectory() as tmp:
        cases = [(name, arch, embedded, style, mapping, False)
                 for name, arch, embedded in MODELS for style, mapping in RENAMINGS.items()]
        cases += [(name, arch, False, *BOOL_MASK, True) for name, arch in BOOL_MODELS]
        for name, arch, embedded, style, mapping, bool_mask in cases:
            tag = os.path.basename(name) + ("+embedding" if embedded else "")
            try:
                problems, detail = check(args.tool, args.models_dir, name, arch, embedded,
                                         style, mapping, tmp, cache, bool_mask)
            except Exception as e:  # one line per case, whatever broke
                problems, detail = [f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"], ""
            if problems:
                failed += 1
                print(f"FAIL {tag} ({style}): {'; '.join(problems)}")
            else:
                passed += 1
                print(f"ok {tag} ({style}): {detail}")
            sys.stdout.flush()
        try:
            problems, detail = check_vision(args.tool, args.models_dir, tmp)
        except Exception as e:
            problems, detail = [f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"], ""
        failed += bool(problems)
        passed += not problems
        print(f"FAIL vision_rope1d_bug (grid named thw): {'; '.join(problems)}" if problems
              else f"ok vision_rope1d_bug (grid named thw): {detail}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
