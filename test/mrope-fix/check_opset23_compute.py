#!/usr/bin/env python3
"""mrope-fix --positions compute on an opset-23 model writes what opset 23
means, and ONNX Runtime (the checker the project trusts above opset 17)
loads and runs it:

    check_opset23_compute.py MROPE_FIX ZOO

Takes qwen2vl_1d_bug.onnx (opset 14), makes an opset-23 copy (Reduce* axes
attributes become inputs, as opset 18 requires), fixes both in compute mode
and runs both in ONNX Runtime on the same multimodal batch. The opset-23 fix
must use ReduceMax with an axes input (opset 18+), the opset-14 fix the axes
attribute; both must give the same outputs (same kernels: 1e-6 for floats
allows a different ReduceMean kernel choice, rope_deltas exactly). Also
prints what libonnx 1.12's checker says about the opset-23 output (it judges
opset 23 by opset-17 schemas, which is why the writer leaves that to ORT).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, TensorProto

from mrope import ort
from mrope.zoo import feeds as zoo_feeds


def to_opset23(src, dst):
    m = onnx.load(src)
    m.opset_import[0].version = 23
    m.ir_version = 10
    for n in m.graph.node:
        axes = [a for a in n.attribute if a.name == "axes"]
        if n.op_type.startswith("Reduce") and axes:
            name = n.name + "/axes"
            m.graph.initializer.append(helper.make_tensor(name, TensorProto.INT64,
                                                          [len(axes[0].ints)], list(axes[0].ints)))
            n.input.append(name)
            n.attribute.remove(axes[0])
    onnx.save(m, dst)


def reduce_max_form(path):
    m = onnx.load(path)
    forms = set()
    for n in m.graph.node:
        if n.op_type == "ReduceMax" and "mrope_index" in n.name:
            forms.add("axes input" if len(n.input) == 2 else "axes attribute")
    return ", ".join(sorted(forms)) or "none"


def main():
    tool, zoo = sys.argv[1:3]
    with tempfile.TemporaryDirectory() as tmp:
        src14 = os.path.join(zoo, "qwen2vl_1d_bug.onnx")
        src23 = os.path.join(tmp, "op23.onnx")
        to_opset23(src14, src23)
        outs = {}
        for tag, src in (("14", src14), ("23", src23)):
            out = os.path.join(tmp, f"fixed{tag}.onnx")
            subprocess.run([tool, src, "--arch", "qwen2-vl", "--positions", "compute", "-q",
                            "-o", out], check=True)
            outs[tag] = out
            print(f"opset {tag}: ReduceMax of mrope_index with {reduce_max_form(out)}")
        ids, mask, grids = zoo_feeds.batch("multimodal", padded=True)
        rng = np.random.default_rng(0)
        embeds = rng.standard_normal((ids.shape[0], ids.shape[1], 32)).astype(np.float32)
        feeds = dict(inputs_embeds=embeds, input_ids=ids, attention_mask=mask, **grids)
        got = {tag: ort.run(path, feeds) for tag, path in outs.items()}
        worst = max(float(np.max(np.abs(got["14"][k].astype(np.float64) - got["23"][k])))
                    for k in got["14"] if k != "rope_deltas")
        same_deltas = np.array_equal(got["14"]["rope_deltas"], got["23"]["rope_deltas"])
        ok = worst <= 1e-6 and same_deltas
        print(f"{'ok' if ok else 'FAIL'} ORT runs both: max |opset 23 - opset 14| = {worst:.1e}, "
              f"rope_deltas {'equal' if same_deltas else 'DIFFER'}")
        # It refuses IR version 10 outright; at IR 8 it judges the nodes.
        m = onnx.load(outs["23"])
        m.ir_version = 8
        try:
            onnx.checker.check_model(m)
            print("libonnx 1.12 checker: accepts the opset-23 output")
        except Exception as e:  # onnx 1.12 raises ValidationError
            print("libonnx 1.12 checker: rejects the opset-23 output: "
                  + str(e).splitlines()[0][:160])
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
