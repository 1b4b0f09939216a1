#!/usr/bin/env python3
"""Writes models whose nodes fit or contradict their declared opset, for
opset-signatures.test (onnx 1.12 helpers; run at test time).

    make_opset_models.py OUTDIR

bad_*.onnx contradict their opset (refused); ok_*.onnx fit it.
"""
import os
import sys

import onnx
from onnx import TensorProto, helper as H


def save(name, nodes, opset, inits=(), inputs=None, outputs=None):
    inputs = inputs or [H.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])]
    outputs = outputs or [H.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    g = H.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = H.make_model(g, opset_imports=[H.make_opsetid("", opset)])
    m.ir_version = 8
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())


def i64(name, values):
    return H.make_tensor(name, TensorProto.INT64, [len(values)], values)


OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)

# ReduceMean: axes an attribute up to opset 17, an input from 18.
save("bad_reducemean_axes_attr_op23",
     [H.make_node("ReduceMean", ["x"], ["y"], name="rms/ReduceMean", axes=[-1])], 23)
save("ok_reducemean_axes_attr_op17",
     [H.make_node("ReduceMean", ["x"], ["y"], name="rms/ReduceMean", axes=[-1])], 17)
save("ok_reducemean_axes_input_op18",
     [H.make_node("ReduceMean", ["x", "axes"], ["y"], name="rms/ReduceMean")], 18,
     inits=[i64("axes", [-1])])
save("bad_reducemean_axes_input_op17",
     [H.make_node("ReduceMean", ["x", "axes"], ["y"], name="rms/ReduceMean")], 17,
     inits=[i64("axes", [-1])])
# Unsqueeze/Squeeze: axes an input from 13.
save("bad_unsqueeze_axes_attr_op13",
     [H.make_node("Unsqueeze", ["x"], ["y"], name="/Unsqueeze", axes=[0])], 13)
save("bad_squeeze_axes_attr_op21",
     [H.make_node("Squeeze", ["x"], ["y"], name="/Squeeze", axes=[0])], 21)
# Split: `split` an input from 13; num_outputs only from 18.
save("bad_split_attr_op17",
     [H.make_node("Split", ["x"], ["y", "z"], name="/Split", axis=1, split=[1, 2])], 17,
     outputs=[H.make_tensor_value_info("y", TensorProto.FLOAT, None),
              H.make_tensor_value_info("z", TensorProto.FLOAT, None)])
save("bad_split_num_outputs_op17",
     [H.make_node("Split", ["x"], ["y", "z"], name="/Split", axis=0, num_outputs=2)], 17,
     outputs=[H.make_tensor_value_info("y", TensorProto.FLOAT, None),
              H.make_tensor_value_info("z", TensorProto.FLOAT, None)])
save("ok_split_num_outputs_op18",
     [H.make_node("Split", ["x"], ["y", "z"], name="/Split", axis=0, num_outputs=2)], 18,
     outputs=[H.make_tensor_value_info("y", TensorProto.FLOAT, None),
              H.make_tensor_value_info("z", TensorProto.FLOAT, None)])
# Reshape's allowzero exists from 14; Cast's saturate from 19.
save("bad_reshape_allowzero_op13",
     [H.make_node("Reshape", ["x", "s"], ["y"], name="/Reshape", allowzero=0)], 13,
     inits=[i64("s", [3, 2])])
save("bad_cast_saturate_op18",
     [H.make_node("Cast", ["x"], ["y"], name="/Cast", to=TensorProto.FLOAT, saturate=1)], 18)
save("bad_cast_no_to_op20", [H.make_node("Cast", ["x"], ["y"], name="/Cast")], 20)
# Arity: Slice takes starts/ends as inputs; a required input left empty.
save("bad_slice_one_input_op22",
     [H.make_node("Slice", ["x"], ["y"], name="/Slice")], 22)
save("bad_expand_empty_shape_op20",
     [H.make_node("Expand", ["x", ""], ["y"], name="/Expand")], 20)
# RotaryEmbedding is new in opset 23.
save("bad_rotary_op22",
     [H.make_node("RotaryEmbedding", ["x", "c", "s"], ["y"], name="/rope")], 22,
     inputs=[H.make_tensor_value_info(n, TensorProto.FLOAT, [1, 2, 3, 4]) for n in "xcs"])
