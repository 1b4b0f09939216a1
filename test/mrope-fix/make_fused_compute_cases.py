"""Models that `mrope-fix --positions compute` must refuse on fused sites,
written from the fused zoo into OUT_DIR:

- int32_positions.onnx: fused_ms_mrotary (correct) whose [3, B, S]
  position_ids input is int32; the computation gives int64;
- mixed.onnx: fused_ms_rotary_bug plus one unfused 1D RoPE (Cos/Sin of the
  same [B, S] positions, rotate-half) on a tensor added to the output: one
  fused and one unfused bug site, which would each compute positions of
  their own.

usage: make_fused_compute_cases.py FUSED_ZOO_DIR OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    zoo, out = sys.argv[1:3]
    os.makedirs(out, exist_ok=True)

    m = onnx.load(os.path.join(zoo, "fused_ms_mrotary.onnx"))
    for i in m.graph.input:
        if i.name == "position_ids":
            i.type.tensor_type.elem_type = TensorProto.INT32
    onnx.save(m, os.path.join(out, "int32_positions.onnx"))

    # One unfused 1D RoPE of the same positions on the model's output.
    m = onnx.load(os.path.join(zoo, "fused_ms_rotary_bug.onnx"))
    g = m.graph
    F = 16
    inv = (1e6 ** (-np.arange(0, 2 * F, 2, dtype=np.float64) / (2 * F))).astype(np.float32)
    g.initializer.extend([
        numpy_helper.from_array(inv, "u_inv_freq"),
        numpy_helper.from_array(np.array([-1], np.int64), "u_last"),
        numpy_helper.from_array(np.array([0], np.int64), "u_zero"),
        numpy_helper.from_array(np.array([F], np.int64), "u_half"),
        numpy_helper.from_array(np.array([2 * F], np.int64), "u_full"),
    ])
    old_out = g.output[0].name
    for n in g.node:
        for k, o in enumerate(n.output):
            if o == old_out:
                n.output[k] = "u_x"
    nodes = [
        helper.make_node("Cast", ["position_ids"], ["u_pf"], name="/u/Cast", to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["u_pf", "u_last"], ["u_p3"], name="/u/Unsqueeze"),
        helper.make_node("Mul", ["u_p3", "u_inv_freq"], ["u_freqs"], name="/u/Mul"),
        helper.make_node("Concat", ["u_freqs", "u_freqs"], ["u_emb"], name="/u/Concat", axis=-1),
        helper.make_node("Cos", ["u_emb"], ["u_cos"], name="/u/Cos"),
        helper.make_node("Sin", ["u_emb"], ["u_sin"], name="/u/Sin"),
        helper.make_node("Slice", ["u_x", "u_zero", "u_half", "u_last"], ["u_x1"], name="/u/Slice"),
        helper.make_node("Slice", ["u_x", "u_half", "u_full", "u_last"], ["u_x2"], name="/u/Slice_1"),
        helper.make_node("Neg", ["u_x2"], ["u_nx2"], name="/u/Neg"),
        helper.make_node("Concat", ["u_nx2", "u_x1"], ["u_rot"], name="/u/Concat_1", axis=-1),
        helper.make_node("Mul", ["u_x", "u_cos"], ["u_xc"], name="/u/Mul_1"),
        helper.make_node("Mul", ["u_rot", "u_sin"], ["u_rs"], name="/u/Mul_2"),
        helper.make_node("Add", ["u_xc", "u_rs"], [old_out], name="/u/Add"),
    ]
    g.node.extend(nodes)
    onnx.save(m, os.path.join(out, "mixed.onnx"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
