"""Writes rewrites of a decoder whose positions input `position_ids` is
float32 [3, B, S] (Qwen3-Omni's get_rope_index), for
test/RunFix/float-positions.test:

- identity.onnx: an Identity on position_ids (keeps the meaning);
- cast.onnx: a Cast float32 -> float32 on position_ids (keeps the meaning);
- expand1d.onnx: position_ids float32 [B, S], Unsqueezed and Expanded to
  three equal rows in the graph (degenerate M-RoPE: the bug, in float).

usage: check_unfused_float.py MODEL OUT_DIR
"""
import sys
from pathlib import Path

import onnx
from onnx import TensorProto, helper


def rewire(graph, old, new):
    for n in graph.node:
        for i, x in enumerate(n.input):
            if x == old:
                n.input[i] = new


def variant(path, kind):
    m = onnx.load(path)
    g = m.graph
    pos = next(i for i in g.input if i.name == "position_ids")
    assert pos.type.tensor_type.elem_type == TensorProto.FLOAT
    view = "position_ids_view"
    rewire(g, "position_ids", view)
    if kind == "identity":
        nodes = [helper.make_node("Identity", ["position_ids"], [view], name="view/identity")]
    elif kind == "cast":
        nodes = [helper.make_node("Cast", ["position_ids"], [view], name="view/cast", to=TensorProto.FLOAT)]
    else:
        pos.type.tensor_type.shape.dim.pop(0)
        nodes = [
            helper.make_node("Constant", [], ["view/axes"], name="view/axes",
                             value=helper.make_tensor("axes", TensorProto.INT64, [1], [0])),
            helper.make_node("Constant", [], ["view/rows"], name="view/rows",
                             value=helper.make_tensor("rows", TensorProto.INT64, [3], [3, 1, 1])),
            helper.make_node("Unsqueeze", ["position_ids", "view/axes"], ["view/unsqueezed"], name="view/unsqueeze"),
            helper.make_node("Expand", ["view/unsqueezed", "view/rows"], [view], name="view/expand3"),
        ]
    rest = list(g.node)
    del g.node[:]
    g.node.extend(nodes + rest)
    onnx.checker.check_model(m)
    return m


def main(argv):
    model, out = argv[1], Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for kind in ("identity", "cast", "expand1d"):
        onnx.save(variant(model, kind), out / f"{kind}.onnx")
        print(f"wrote {kind}.onnx")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
