"""Writes a 1D RoPE model (q and k rotated by inv_freq @ position_ids,
rotate-half) whose q is declared [1, 2, 16, 8] while position_ids is
[1, 8]: the raised rope.apply fails its verifier (seq 16 vs 8).

usage: make_verifier_case.py OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper as H, numpy_helper


def c(name, values, dtype=np.int64):
    return numpy_helper.from_array(np.array(values, dtype), name)


inits = [c("inv_freq", [[1.0], [0.1], [0.01], [0.001]], np.float32), c("ax1", [1]),
         c("zero", [0]), c("half", [4]), c("full", [8]), c("last", [-1])]
nodes = [
    H.make_node("Unsqueeze", ["position_ids", "ax1"], ["pu"], name="/pu"),
    H.make_node("Cast", ["pu"], ["pf"], name="/pf", to=TensorProto.FLOAT),
    H.make_node("MatMul", ["inv_freq", "pf"], ["freqs"], name="/freqs"),
    H.make_node("Transpose", ["freqs"], ["ft"], name="/ft", perm=[0, 2, 1]),
    H.make_node("Concat", ["ft", "ft"], ["emb"], name="/emb", axis=-1),
    H.make_node("Cos", ["emb"], ["c"], name="/Cos"),
    H.make_node("Sin", ["emb"], ["s"], name="/Sin"),
    H.make_node("Unsqueeze", ["c", "ax1"], ["cu"], name="/cu"),
    H.make_node("Unsqueeze", ["s", "ax1"], ["su"], name="/su"),
]
for x in "qk":
    nodes += [
        H.make_node("Slice", [x, "zero", "half", "last"], [x + "1"], name=f"/{x}1"),
        H.make_node("Slice", [x, "half", "full", "last"], [x + "2"], name=f"/{x}2"),
        H.make_node("Neg", [x + "2"], [x + "n"], name=f"/{x}n"),
        H.make_node("Concat", [x + "n", x + "1"], [x + "rot"], name=f"/{x}rot", axis=-1),
        H.make_node("Mul", [x, "cu"], [x + "a"], name=f"/{x}a"),
        H.make_node("Mul", [x + "rot", "su"], [x + "b"], name=f"/{x}b"),
        H.make_node("Add", [x + "a", x + "b"], ["y" + x], name=f"/{x}Add"),
    ]
g = H.make_graph(
    nodes, "verifier_case",
    [H.make_tensor_value_info("q", TensorProto.FLOAT, [1, 2, 16, 8]),
     H.make_tensor_value_info("k", TensorProto.FLOAT, ["batch", 2, "seq", 8]),
     H.make_tensor_value_info("position_ids", TensorProto.INT64, [1, 8])],
    [H.make_tensor_value_info("yq", TensorProto.FLOAT, [1, 2, 16, 8]),
     H.make_tensor_value_info("yk", TensorProto.FLOAT, ["batch", 2, "seq", 8])],
    initializer=inits)
m = H.make_model(g, opset_imports=[H.make_opsetid("", 17)])
m.ir_version = 8
onnx.save(m, sys.argv[1])
