"""mrope-fix --arch qwen2-vl on RoPE spellings beyond the plain one, in ORT.

For each zoo decoder whose 1D RoPE uses another spelling (GPT-J pairs via a
sin|cos cache gathered by position, partial rotary; cos/sin caches held in
initializers, in Constant nodes, behind Identity, or sliced to the sequence
before the Gather: variants made here with onnx.helper), the fixed model, fed
true 3D positions (mrope.reference.rope_index of a multimodal batch), must
equal the zoo model's torch module with its rotary tables replaced by
mrope.reference.cos_sin M-RoPE tables of the same sections, pair layout and
rotary dim (the correct twin, built from the reference rather than read
from the graph). Tolerance 1e-5: the twin's tables come from the numpy
reference (f32 angle, f64 cos/sin rounded to f32), the fixed model's from
ORT's f32 Cos/Sin of the same f32 angle; the rest is the same f32 network.
The fixed model fed text-only positions as three equal rows must equal
the original on the 1D positions (text-only M-RoPE is 1D RoPE).

usage: check_layout_fix.py MROPE_FIX ZOO_DIR
"""
import dataclasses
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper

from mrope import ort
from mrope.zoo import evaluate, feeds as zoo_feeds, spec

TOL = 1e-5


def cache_constants(m):
    """The Constant nodes holding 2D float caches that Gathers read."""
    prod = {o: n for n in m.graph.node for o in n.output}
    out = []
    for n in m.graph.node:
        c = prod.get(n.input[0]) if n.op_type == "Gather" else None
        if c is not None and c.op_type == "Constant" and len(c.attribute[0].t.dims) == 2:
            out.append(c)
    return out


def as_initializers(m):
    for c in cache_constants(m):
        t = onnx.TensorProto()
        t.CopyFrom(c.attribute[0].t)
        t.name = c.output[0]
        m.graph.initializer.append(t)
        m.graph.node.remove(c)


def behind(op_type, extra_inputs):
    def edit(m):
        for i, (name, value) in enumerate(extra_inputs):
            m.graph.initializer.append(numpy_helper.from_array(value, name))
        nodes = list(m.graph.node)
        for c in cache_constants(m):
            out = c.output[0]
            view = helper.make_node(op_type, [out] + [n for n, _ in extra_inputs],
                                    [out + "_view"], name="view_" + out)
            for n in nodes:
                if n is not c:
                    n.input[:] = [out + "_view" if i == out else i for i in n.input]
            nodes.insert(nodes.index(c) + 1, view)
        del m.graph.node[:]
        m.graph.node.extend(nodes)
    return edit


VARIANTS = {
    None: None,
    "caches in initializers": as_initializers,
    "caches behind Identity": behind("Identity", []),
    "caches sliced to [0, 200)": behind("Slice", [
        ("view_starts", np.array([0], np.int64)), ("view_ends", np.array([200], np.int64)),
        ("view_axes", np.array([0], np.int64))]),
}
CASES = [("text_rope_gptj", "qwen2-vl", (2, 3, 3), None)] + [
    ("text_rope_cache", "qwen2-vl", (4, 6, 6), v) for v in VARIANTS]


def main():
    tool, zoo = sys.argv[1], sys.argv[2]
    entries = {e.name: e for e in spec.ENTRIES}
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, arch, sections, variant in CASES:
            model = os.path.join(zoo, name + ".onnx")
            if variant:
                m = onnx.load(model)
                VARIANTS[variant](m)
                onnx.checker.check_model(m)
                model = os.path.join(tmp, name + ".variant.onnx")
                onnx.save(m, model)
            fixed = os.path.join(tmp, name + ".fixed.onnx")
            proc = subprocess.run([tool, model, "--arch", arch, "-q", "-o", fixed],
                                  capture_output=True, text=True)
            if proc.returncode:
                print("FAIL %s: %s" % (name, proc.stderr.strip()))
                failed += 1
                continue
            entry = entries[name]
            site = dict(entry.sites[0], sections=list(sections), positions="mrope")
            twin = evaluate.reference_model(dataclasses.replace(entry, sites=[site]))
            desc = os.path.join(zoo, name + ".json")
            feeds1d, keep = zoo_feeds.decoder_feeds(desc, "multimodal", positions="1d")
            pos3d = zoo_feeds.positions_3d("multimodal", True, False)[0]
            feeds3d = dict(feeds1d, position_ids=pos3d.astype(np.int64))
            out = ort.run(fixed, feeds3d)["logits"]
            want = evaluate.torch_run(twin, feeds3d)["logits"]
            d3 = float(np.abs(out - want)[keep].max())
            text = dict(feeds1d, position_ids=np.broadcast_to(
                feeds1d["position_ids"], (3,) + feeds1d["position_ids"].shape).copy())
            dt = float(np.abs(ort.run(fixed, text)["logits"]
                              - ort.run(model, feeds1d)["logits"])[keep].max())
            bad = not (d3 <= TOL and dt <= TOL)
            failed += bad
            print("%s %s%s (--arch %s, M-RoPE %s %s, rotary_dim %d): |fixed - twin| = %.1e "
                  "on 3D positions, |fixed - original| = %.1e on text positions" % (
                      "FAIL" if bad else "ok", name, ", " + variant if variant else "", arch,
                      list(sections), site["layout"],
                      site["rotary_dim"], d3, dt))
    print("%d passed, %d failed" % (len(CASES) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
