"""mrope-fix on every bug model of the zoo, checked in ONNX Runtime.

For each bug model with a correct twin (same weights):
1. `mrope-fix --arch <declared> -o FIXED.onnx` succeeds and FIXED.onnx takes
   position_ids [3, batch, seq];
2. FIXED fed true 3D positions (mrope.reference.rope_index) equals the twin
   fed the same positions: the fix computes what the correctly built model
   computes (tolerance 1e-5: both run the same f32 ops except the table
   construction, where FIXED forms each merged channel's angle with one f32
   product like the twin's K=1 MatMul; ORT's Cos/Sin then see equal angles.
   Observed differences are printed);
3. FIXED fed text-only positions as three equal rows equals the ORIGINAL
   model on the same text-only batch (text-only M-RoPE is 1D RoPE);
4. FIXED analysed again has no bug left and the same rotations (each
   rope.apply the fix lowers may get cos/sin tables of its own, so the
   site count may grow; it never shrinks);
6. every --emit form equals the twin on the multimodal batch (1e-5):
   `--emit ort` (ORT's fused MRotaryEmbedding / RotaryEmbedding over caches
   the graph computes with the same f32 angle product) and `--emit onnx23`
   (RotaryEmbedding-23, on an opset-23 copy of the bug model: the zoo is
   opset 14, where onnx23 must be refused). The fused kernels rotate in f32
   like the unfused ops, but may contract x*cos + rot(x)*sin differently (an
   FMA): about one f32 ulp per rotated value, well under 1e-5 at the zoo's
   magnitudes after two layers. Observed differences are printed.
And every correct model comes out of `mrope-fix -o` with its graph unchanged
(same nodes, inputs, outputs and initializer bytes).

usage: check_fixed_models.py MROPE_FIX ZOO_DIR
"""
import copy
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnx.numpy_helper

from mrope import ort, reference
from mrope.zoo import feeds as zoo_feeds

TOL = 1e-5


def fix(tool, model, arch, out, positions="input", emit="plain"):
    proc = subprocess.run([tool, model, "--arch", arch, "-o", out, "-q",
                           "--positions", positions, "--emit", emit],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip())


def report(tool, model, arch):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "r.json")
        subprocess.run([tool, model, "--arch", arch, "--report", path, "-q"], check=True)
        with open(path) as f:
            return json.load(f)


def input_shapes(path):
    m = onnx.load(path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    out = {}
    for i in m.graph.input:
        if i.name in inits:
            continue
        out[i.name] = [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
    return out


def max_diff(a, b):
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def bug_and_twin(zoo, desc):
    """(model file, declared arch, the twin's JSON description)."""
    twin_json = os.path.join(zoo, desc["twin"].replace(".onnx", ".json"))
    with open(twin_json) as f:
        twin = json.load(f)
    return desc["model"], desc["expected"]["declared"]["arch"], twin


def check_bug_model(tool, zoo, desc):
    name, arch, twin = bug_and_twin(zoo, desc)
    with tempfile.TemporaryDirectory() as tmp:
        fixed = os.path.join(tmp, "fixed.onnx")
        fix(tool, os.path.join(zoo, name), arch, fixed)
        shapes = input_shapes(fixed)
        problems = []
        if len(shapes.get("position_ids", [])) != 3 or shapes["position_ids"][0] != 3:
            problems.append(f"fixed model's position_ids is {shapes.get('position_ids')}")
        # 2. multimodal: fixed == twin on true 3D positions
        feeds, _ = zoo_feeds.decoder_feeds(twin, "multimodal", positions="3d")
        want = ort.run(os.path.join(zoo, twin["model"]), feeds)
        got = ort.run(fixed, {k: v for k, v in feeds.items() if k in shapes})
        d_twin = max_diff(got, want)
        if d_twin > TOL:
            problems.append(f"fixed vs twin on multimodal positions: {d_twin:.2e} > {TOL}")
        # 3. text-only: fixed (three equal rows) == original
        orig_feeds, _ = zoo_feeds.decoder_feeds(desc, "text")
        fixed_desc = copy.deepcopy(desc)
        fixed_desc["inputs"]["position_ids"] = [3, "batch", "sequence"]
        has_pos = "position_ids" in desc["inputs"]
        kv = any(n.startswith("past_key_values.") for n in desc["inputs"])
        fixed_feeds, _ = zoo_feeds.decoder_feeds(fixed_desc, "text", positions="1d-as-3d",
                                                 padded=has_pos and not kv)
        want = ort.run(os.path.join(zoo, name), orig_feeds)
        got = ort.run(fixed, {k: v for k, v in fixed_feeds.items() if k in shapes})
        d_text = max_diff(got, want)
        if d_text > TOL:
            problems.append(f"fixed vs original on text-only positions: {d_text:.2e} > {TOL}")
        # 4. the same sites, now true M-RoPE, nothing left to fix
        before = report(tool, os.path.join(zoo, name), arch)["summary"]
        after = report(tool, fixed, arch)["summary"]
        if after["bugs"]:
            problems.append(f"the fixed model still has {after['bugs']} bug(s)")
        if after["rotations"] != before["rotations"] or after["sites"] < before["sites"]:
            problems.append(f"sites/rotations {after['sites']}/{after['rotations']} after the "
                            f"fix, {before['sites']}/{before['rotations']} before")
        # 6. the fused forms
        emitted = check_emit_forms(tool, zoo, name, arch, twin, tmp, problems, before)
        # 5. --positions compute (prefill graphs): the fixed model
        # computes the positions from input_ids, the mask and the grids and
        # equals the twin fed reference positions; rope_deltas as reference.
        if not kv:
            computed = os.path.join(tmp, "computed.onnx")
            fix(tool, os.path.join(zoo, name), arch, computed, positions="compute")
            # Qwen3-VL lays a video out one frame block at a time, and its
            # get_rope_index follows that layout: the batch and the twin's
            # reference positions use the declared arch's rule.
            rule = "qwen3-vl" if arch == "qwen3-vl" else None
            ids, mask, grids = zoo_feeds.batch("multimodal", padded=True, arch=rule)
            tfeeds, _ = zoo_feeds.decoder_feeds(twin, "multimodal", positions="3d", arch=rule)
            cshapes = input_shapes(computed)
            cfeeds = {k: v for k, v in tfeeds.items() if k in cshapes}
            cfeeds.update(input_ids=ids, attention_mask=mask, **grids)
            got = ort.run(computed, cfeeds)
            want = ort.run(os.path.join(zoo, twin["model"]), tfeeds)
            d_compute = max_diff({k: got[k] for k in want}, want)
            _, want_deltas = reference.rope_index(ids, attention_mask=mask, **grids, arch=rule)
            if d_compute > TOL:
                problems.append(f"--positions compute vs twin: {d_compute:.2e} > {TOL}")
            if not np.array_equal(got["rope_deltas"], want_deltas):
                problems.append("--positions compute: rope_deltas differ from the reference")
        # 5b. KV-cache decoder in compute mode: the prefill (empty past)
        # computes positions and rope_deltas from the prompt; a decode step
        # (text) continues at past + arange + past_rope_deltas.
        if kv:
            d_compute = check_kv_compute(tool, zoo, name, arch, twin, tmp, problems)
    status = "FAIL" if problems else "ok"
    compute = f", compute mode {d_compute:.1e}"
    forms = "".join(f", --emit {e} {d:.1e} ({how})" for e, (d, how) in emitted.items())
    print(f"{status} {name} (--arch {arch}): |fixed - twin| = {d_twin:.1e} on multimodal, "
          f"|fixed - original| = {d_text:.1e} on text{compute}{forms}"
          + ("; " + "; ".join(problems) if problems else ""))
    return not problems


def to_opset23(src, dst):
    """The opset-23 copy test/mrope-fix/check_opset23_compute.py makes."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "mrope-fix"))
    from check_opset23_compute import to_opset23 as convert
    convert(src, dst)


def check_emit_forms(tool, zoo, name, arch, twin, tmp, problems, before):
    """--emit ort and --emit onnx23 vs the twin on true 3D positions; onnx23
    on the opset-14 model must be refused in one line, writing nothing."""
    feeds, _ = zoo_feeds.decoder_feeds(twin, "multimodal", positions="3d")
    want = ort.run(os.path.join(zoo, twin["model"]), feeds)
    refused = os.path.join(tmp, "refused.onnx")
    try:
        fix(tool, os.path.join(zoo, name), arch, refused, emit="onnx23")
        problems.append("--emit onnx23 on an opset-14 model was not refused")
    except RuntimeError as e:
        if len(str(e).splitlines()) != 1 or os.path.exists(refused):
            problems.append(f"--emit onnx23 refusal is not one line or left a file: {e}")
    op23 = os.path.join(tmp, "op23.onnx")
    to_opset23(os.path.join(zoo, name), op23)
    diffs = {}
    for emit, model in (("ort", os.path.join(zoo, name)), ("onnx23", op23)):
        out = os.path.join(tmp, f"fixed_{emit}.onnx")
        fix(tool, model, arch, out, emit=emit)
        shapes = input_shapes(out)
        got = ort.run(out, {k: v for k, v in feeds.items() if k in shapes})
        diffs[emit] = max_diff({k: got[k] for k in want}, want)
        if diffs[emit] > TOL:
            problems.append(f"--emit {emit} vs twin: {diffs[emit]:.2e} > {TOL}")
        after = report(tool, out, arch)["summary"]
        if after["bugs"] or after["rotations"] != before["rotations"]:
            problems.append(f"--emit {emit}: after the fix {after}, before {before}")
        # A site rope-raise leaves as ONNX nodes is fixed on its tables and
        # stays unfused whatever --emit says: say which it was.
        fused = any(n.op_type in ("RotaryEmbedding", "MRotaryEmbedding")
                    for n in onnx.load(out, load_external_data=False).graph.node)
        diffs[emit] = (diffs[emit], "fused" if fused else "unfused")
    return diffs


def attribute_value(a):
    """An attribute's value, independent of protobuf field presence."""
    if a.type == onnx.AttributeProto.TENSOR:
        t = onnx.numpy_helper.to_array(a.t)
        return (a.name, str(t.dtype), t.shape, t.tobytes())
    if a.type == onnx.AttributeProto.GRAPH:
        return (a.name, graph_signature_of(a.g))
    return (a.name, repr(onnx.helper.get_attribute_value(a)))


def check_kv_compute(tool, zoo, name, arch, twin, tmp, problems):
    computed = os.path.join(tmp, "computed.onnx")
    fix(tool, os.path.join(zoo, name), arch, computed, positions="compute")
    twin_model = os.path.join(zoo, twin["model"])
    ids, mask, grids = zoo_feeds.batch("multimodal", padded=False)
    B, S = ids.shape
    hidden = int(twin["inputs"]["inputs_embeds"][2])
    rng = np.random.default_rng(5)
    pasts = sorted(n for n in twin["inputs"] if n.startswith("past_key_values."))
    empty = {n: np.zeros([B if d == "batch" else 0 if d == "past_sequence" else int(d)
                          for d in twin["inputs"][n]], np.float32) for n in pasts}
    embeds = rng.standard_normal((B, S, hidden)).astype(np.float32)
    pos, deltas = reference.rope_index(ids, attention_mask=mask, **grids)
    # prefill
    want = ort.run(twin_model, {"inputs_embeds": embeds, "attention_mask": mask,
                                "position_ids": pos, **empty})
    got = ort.run(computed, {"inputs_embeds": embeds, "attention_mask": mask, "input_ids": ids,
                             "past_rope_deltas": np.zeros((B, 1), np.int64), **grids, **empty})
    diff = max_diff({k: got[k] for k in want}, want)
    if not np.array_equal(got["rope_deltas"], deltas):
        problems.append("KV compute prefill: rope_deltas differ from the reference")
    # one decode step with a text token, the prefill's cache as past
    past = {n: got[n.replace("past_key_values", "present")] for n in pasts}
    new_ids = np.full((B, 1), 77, np.int64)
    full_mask = np.concatenate([mask, np.ones((B, 1), np.int64)], axis=1)
    full_pos, _ = reference.rope_index(np.concatenate([ids, new_ids], axis=1),
                                       attention_mask=full_mask, **grids)
    step = rng.standard_normal((B, 1, hidden)).astype(np.float32)
    want = ort.run(twin_model, {"inputs_embeds": step, "attention_mask": full_mask,
                                "position_ids": full_pos[:, :, S:].copy(), **past})
    got2 = ort.run(computed, {"inputs_embeds": step, "attention_mask": full_mask,
                              "input_ids": new_ids, "past_rope_deltas": got["rope_deltas"],
                              **grids, **past})
    diff = max(diff, max_diff({k: got2[k] for k in want}, want))
    if diff > TOL:
        problems.append(f"KV compute mode vs twin (prefill + decode): {diff:.2e} > {TOL}")
    return diff


def pick(pool, model):
    """The entries of `pool` that `model` takes as inputs."""
    names = [i.name for i in onnx.load(model, load_external_data=False).graph.input]
    return {n: pool[n] for n in names if n in pool}


def check_vision_model(tool, zoo, desc):
    """The vision tower's flattened patch index fixed to (h, w) positions:
    the fixed model fed vision_position_ids (mrope.reference.vision_positions
    of the grid) equals its 2D twin."""
    name, arch, twin = bug_and_twin(zoo, desc)
    with tempfile.TemporaryDirectory() as tmp:
        fixed = os.path.join(tmp, "fixed.onnx")
        fix(tool, os.path.join(zoo, name), arch, fixed)
        feeds = zoo_feeds.vision_feeds(twin)
        # What each model takes, from one pool: the twin may compute (h, w)
        # from grid_thw where the fixed model takes vision_position_ids.
        pool = dict(feeds, vision_position_ids=reference.vision_positions([[1, 4, 6]]))
        want = ort.run(os.path.join(zoo, twin["model"]), feeds)
        got = ort.run(fixed, pick(pool, fixed))
        diff = max_diff(got, want)
        before = report(tool, os.path.join(zoo, name), arch)["summary"]
        after = report(tool, fixed, arch)["summary"]
        # --positions compute: (h, w) from grid_thw in the graph; two images,
        # one of two frames.
        computed = os.path.join(tmp, "computed.onnx")
        fix(tool, os.path.join(zoo, name), arch, computed, positions="compute")
        grid = np.array([[2, 4, 4], [1, 6, 2]], np.int64)
        if "window_index" in feeds:  # the window twin takes one image
            grid = np.array([[1, 4, 6]], np.int64)
        hw = reference.vision_positions(grid)
        x = np.random.default_rng(3).standard_normal(
            (hw.shape[0], feeds["hidden_states"].shape[1])).astype(np.float32)
        pool = {"hidden_states": x, "vision_position_ids": hw, "grid_thw": grid}
        if "window_index" in feeds:  # Qwen2.5-VL: the window order of this grid
            pool["window_index"] = reference.vision_window_index(
                [list(g) for g in grid], window_size=zoo_feeds.WINDOW_SIZE,
                patch_size=zoo_feeds.PATCH_SIZE)
        want = ort.run(os.path.join(zoo, twin["model"]),
                       pick(pool, os.path.join(zoo, twin["model"])))
        got = ort.run(computed, pick(pool, computed))
        d_compute = max_diff(got, want)
        after_compute = report(tool, computed, arch)["summary"]
    problems = []
    if diff > TOL:
        problems.append(f"fixed vs twin: {diff:.2e} > {TOL}")
    if d_compute > TOL:
        problems.append(f"compute mode vs twin: {d_compute:.2e} > {TOL}")
    if after_compute["bugs"]:
        problems.append(f"compute mode: {after_compute}")
    if after["bugs"] or after["rotations"] != before["rotations"] or \
            after["sites"] < before["sites"]:
        problems.append(f"after the fix: {after}")
    print(f"{'FAIL' if problems else 'ok'} {name} (--arch {arch}): |fixed - twin| = {diff:.1e} "
          f"on (h, w) positions, compute mode {d_compute:.1e}"
          + ("; " + "; ".join(problems) if problems else ""))
    return not problems


def graph_signature_of(g):
    return ([(n.op_type, n.name, list(n.input), list(n.output), n.domain,
              [attribute_value(a) for a in n.attribute]) for n in g.node],
            [i.SerializeToString() for i in g.input],
            [o.SerializeToString() for o in g.output],
            sorted((t.name, onnx.numpy_helper.to_array(t).tobytes()) for t in g.initializer))


def graph_signature(path):
    m = onnx.load(path)
    return (graph_signature_of(m.graph),
            sorted((o.domain or "", o.version) for o in m.opset_import))


def check_correct_model(tool, zoo, desc):
    name = desc["model"]
    arch = desc["expected"]["declared"]["arch"]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.onnx")
        fix(tool, os.path.join(zoo, name), arch, out)
        same = graph_signature(out) == graph_signature(os.path.join(zoo, name))
    print(f"{'ok' if same else 'FAIL'} {name} (--arch {arch}): "
          f"{'written unchanged' if same else 'graph changed although nothing was to fix'}")
    return same


# Bug models -o refuses with one error line and no file (docs/mrope-fix.md,
# "Not done yet"): none in the zoo today.
REFUSED = {}


def check_refused(tool, zoo, desc):
    name, arch = desc["model"], desc["expected"]["declared"]["arch"]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "fixed.onnx")
        proc = subprocess.run([tool, os.path.join(zoo, name), "--arch", arch, "-q", "-o", out],
                              capture_output=True, text=True)
        lines = proc.stderr.strip().splitlines()
        ok = (proc.returncode == 1 and len(lines) == 1 and REFUSED[name] in lines[0]
              and not os.path.exists(out))
    print(f"{'ok' if ok else 'FAIL'} {name} (--arch {arch}): refused in one line, "
          f"no file: {lines[0] if lines else '(no message)'}")
    return ok


def main():
    tool, zoo = sys.argv[1], sys.argv[2]
    index = json.load(open(os.path.join(zoo, "index.json")))["models"]
    results = []
    for entry in index:
        desc = json.load(open(os.path.join(zoo, entry["json"])))
        if desc["model"] in REFUSED:
            results.append(check_refused(tool, zoo, desc))
        elif desc["expected"]["declared"]["bugs"] and desc.get("twin") and \
                "inputs_embeds" in desc["inputs"]:
            results.append(check_bug_model(tool, zoo, desc))
        elif desc["expected"]["declared"]["bugs"] and desc.get("twin"):
            results.append(check_vision_model(tool, zoo, desc))
        elif not desc["expected"]["declared"]["bugs"]:
            results.append(check_correct_model(tool, zoo, desc))
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
