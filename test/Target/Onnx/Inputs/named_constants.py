"""Constant nodes whose tensors carry a name (exporters name them).

``python named_constants.py OUT.onnx`` writes one model (opset 17 +
com.microsoft) with:

* ``cos_cache`` / ``sin_cache``: named Constant nodes holding per-position
  caches ``[16, 4]`` (theta 1e4, rotary dim 8), read by
  ``com.microsoft.RotaryEmbedding`` at ``position_ids [B, S]``;
* ``sections``: a named int64 Constant ``[2, 1, 1]`` (a Split's sizes);
* ``big``: a named Constant of 2^14 + 1 floats (above what is read);
* ``doc``: a named Constant with a doc string;
* ``custom``: a named Constant of another domain.

The last three must stay opaque; the first three are read as elements.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F, D, M, THETA = 4, 8, 16, 1e4
INV_FREQ = (1.0 / THETA ** (np.arange(F, dtype=np.float64) * 2 / D)).astype(np.float32)


def named(name, array, doc=""):
    t = numpy_helper.from_array(np.asarray(array), name)
    if doc:
        t.doc_string = doc
    return t


def main(out):
    ang = np.arange(M, dtype=np.float32)[:, None] * INV_FREQ[None, :]
    nodes = [
        helper.make_node("Constant", [], ["cos"], name="cos_cache", value=named("cos_t", np.cos(ang))),
        helper.make_node("Constant", [], ["sin"], name="sin_cache", value=named("sin_t", np.sin(ang))),
        helper.make_node("RotaryEmbedding", ["x", "position_ids", "cos", "sin"], ["y"], name="rot",
                         domain="com.microsoft", num_heads=2),
        helper.make_node("Constant", [], ["sizes"], name="sections",
                         value=named("sections_t", np.array([2, 1, 1], dtype=np.int64))),
        helper.make_node("Split", ["w", "sizes"], ["w0", "w1", "w2"], name="split", axis=0),
        helper.make_node("Constant", [], ["big"], name="big",
                         value=named("big_t", np.zeros(2 ** 14 + 1, dtype=np.float32))),
        helper.make_node("Constant", [], ["doc"], name="doc",
                         value=named("doc_t", np.array([1.0], dtype=np.float32), doc="a doc string")),
        helper.make_node("Constant", [], ["custom"], name="custom", domain="my.domain",
                         value=named("custom_t", np.array([2.0], dtype=np.float32))),
    ]
    graph = helper.make_graph(
        nodes, "named_constants",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16]),
         helper.make_tensor_value_info("position_ids", TensorProto.INT64, [1, 3]),
         helper.make_tensor_value_info("w", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
         for n in ("y", "w0", "w1", "w2", "big", "doc", "custom")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1),
                                                    helper.make_opsetid("my.domain", 1)])
    onnx.save(model, out)


if __name__ == "__main__":
    main(sys.argv[1])
