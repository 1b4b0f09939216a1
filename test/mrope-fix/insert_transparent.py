"""Insert an Identity and a same-type Cast on the input of every node of
one op type: a spelling change that keeps the model's meaning.

usage: insert_transparent.py IN.onnx OUT.onnx OP_TYPE
"""
import sys

import onnx
from onnx import helper


def main(src, dst, op_type):
    model = onnx.load(src)
    graph = model.graph
    inferred = onnx.shape_inference.infer_shapes(model).graph
    types = {v.name: v.type.tensor_type.elem_type
             for v in list(inferred.value_info) + list(inferred.input) + list(inferred.output)}
    nodes = []
    count = 0
    for node in graph.node:
        if node.op_type == op_type and node.input and node.input[0] in types:
            name = node.input[0]
            ident, cast = f"{name}__identity{count}", f"{name}__cast{count}"
            nodes.append(helper.make_node("Identity", [name], [ident], name=f"insert/Identity_{count}"))
            nodes.append(helper.make_node("Cast", [ident], [cast], name=f"insert/Cast_{count}",
                                          to=types[name]))
            node.input[0] = cast
            count += 1
        nodes.append(node)
    if not count:
        sys.exit(f"no {op_type} node with a typed input")
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, dst)


if __name__ == "__main__":
    main(*sys.argv[1:4])
