"""Insert an Identity and a same-type Cast on inputs of every node of one op
type: a spelling change that keeps the model's meaning.

The Cast's `to` is the input's element type found from its producers
(mrope.zoo.elemtype: graph inputs, initializers, each op's typing rule), not
from shape inference, which types nothing a contrib op (com.microsoft
RotaryEmbedding / MRotaryEmbedding / GroupQueryAttention) reads after another
one, nor anything of an opset it does not know. An input whose type the walk
cannot tell is left alone (never a guess).

INPUTS: `0` (the default: the first input), `all`, or indices `1,2`.

usage: insert_transparent.py IN.onnx OUT.onnx OP_TYPE [INPUTS]
"""
import sys

import onnx
from onnx import helper

from mrope.zoo import elemtype


def main(src, dst, op_type, which="0"):
    model = onnx.load(src)
    graph = model.graph
    types = elemtype.elem_types(model)
    taken = {n.name for n in graph.node} | {o for n in graph.node for o in n.output}
    taken |= {i.name for i in graph.input} | {t.name for t in graph.initializer}
    nodes = []
    count = 0
    serial = 0
    for node in graph.node:
        if node.op_type == op_type:
            picks = range(len(node.input)) if which == "all" else [int(i) for i in which.split(",")]
            for i in picks:
                name = node.input[i] if i < len(node.input) else ""
                if not name or name not in types:
                    continue
                # Fresh names: the model may have been through this script before.
                while {f"{name}__identity{serial}", f"{name}__cast{serial}", f"insert/Identity_{serial}",
                       f"insert/Cast_{serial}"} & taken:
                    serial += 1
                ident, cast = f"{name}__identity{serial}", f"{name}__cast{serial}"
                taken |= {ident, cast, f"insert/Identity_{serial}", f"insert/Cast_{serial}"}
                nodes.append(helper.make_node("Identity", [name], [ident], name=f"insert/Identity_{serial}"))
                nodes.append(helper.make_node("Cast", [ident], [cast], name=f"insert/Cast_{serial}",
                                              to=types[name]))
                serial += 1
                node.input[i] = cast
                count += 1
        nodes.append(node)
    if not count:
        sys.exit(f"no {op_type} node with a typed input")
    del graph.node[:]
    graph.node.extend(nodes)
    # onnx's checker knows the opsets up to its own (1.12: 17): check what it can.
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset <= onnx.defs.onnx_opset_version():
        onnx.checker.check_model(model)
    onnx.save(model, dst)


if __name__ == "__main__":
    main(*sys.argv[1:5])
