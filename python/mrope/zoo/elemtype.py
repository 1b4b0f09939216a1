"""The element type of every tensor of an ONNX graph, from its producers.

Shape inference (onnx 1.12 here) types nothing a contrib op
(``com.microsoft.RotaryEmbedding`` / ``MRotaryEmbedding`` /
``GroupQueryAttention``) or an op newer than it knows (``RotaryEmbedding``-23)
produces, nor anything after it; so a missing ``value_info`` says nothing about
a tensor's type.  :func:`elem_types` walks the graph forward instead: graph
inputs, initializers and ``Constant`` nodes are typed; each op's outputs take
the type its definition gives them (``Cast``'s ``to``, ``Shape``'s int64, a
comparison's bool, ...) or the type of the input the definition ties them to
(``Reshape``'s data, a fused rotary op's ``x``, ``GroupQueryAttention``'s
query).  An op not listed here leaves its outputs untyped: never a guess.

    from mrope.zoo import elemtype
    types = elemtype.elem_types(model)        # {name: TensorProto elem type}
"""

from __future__ import annotations

from typing import Dict, Optional

import onnx
from onnx import TensorProto, helper

# Outputs have the type of input 0 (data movement, elementwise arithmetic,
# reductions, normalizations, the fused rotary ops and attention).
SAME_AS_INPUT0 = {
    "Identity", "Reshape", "Transpose", "Slice", "Gather", "GatherElements", "GatherND", "Concat",
    "Split", "Squeeze", "Unsqueeze", "Expand", "Tile", "Flatten", "Pad", "Neg", "Abs", "Add", "Sub",
    "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "MatMul", "Einsum", "Gemm", "Cos", "Sin",
    "Sqrt", "Exp", "Log", "Reciprocal", "Relu", "Sigmoid", "Tanh", "Erf", "Softmax", "LogSoftmax",
    "Floor", "Ceil", "Round", "Sign", "Clip", "CumSum", "Trilu", "ReduceSum", "ReduceMean",
    "ReduceMax", "ReduceMin", "ReduceProd", "LayerNormalization", "SimplifiedLayerNormalization",
    "SkipSimplifiedLayerNormalization", "SkipLayerNormalization", "RMSNormalization", "Gelu",
    "FastGelu", "QuickGelu", "Dropout", "Resize", "ScatterND", "ScatterElements", "Range",
    "RotaryEmbedding", "MRotaryEmbedding", "GroupQueryAttention", "MultiHeadAttention", "Attention",
}
INT64_OUT = {"Shape", "Size", "NonZero", "ArgMax", "ArgMin"}
BOOL_OUT = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor",
            "IsNaN", "IsInf"}


def _attr(node: onnx.NodeProto, name: str):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return None


def _constant_type(node: onnx.NodeProto) -> Optional[int]:
    for a in node.attribute:
        if a.name == "value":
            return a.t.data_type
        if a.name in ("value_float", "value_floats"):
            return TensorProto.FLOAT
        if a.name in ("value_int", "value_ints"):
            return TensorProto.INT64
        if a.name in ("value_string", "value_strings"):
            return TensorProto.STRING
    return None


def _output_types(node: onnx.NodeProto, types: Dict[str, int]) -> Optional[list]:
    """One type (or None) per output of ``node``, or None when nothing is known yet."""
    op = node.op_type
    first = types.get(node.input[0]) if node.input and node.input[0] else None
    n = len(node.output)
    if op == "Constant":
        return [_constant_type(node)]
    if op == "Cast":
        return [_attr(node, "to")]
    if op == "CastLike":
        return [types.get(node.input[1])] if len(node.input) > 1 else None
    if op in INT64_OUT:
        return [TensorProto.INT64] * n
    if op in BOOL_OUT:
        return [TensorProto.BOOL] * n
    if op == "ConstantOfShape":
        v = _attr(node, "value")
        return [v.data_type if v is not None else TensorProto.FLOAT]
    if op == "Where":
        t = types.get(node.input[1]) if len(node.input) > 1 else None
        return [t] if t else None
    if op == "TopK":
        return [first, TensorProto.INT64] if first else None
    if op == "Dropout":
        return [first, TensorProto.BOOL][:n] if first else None
    if op in SAME_AS_INPUT0:
        # Concat, Max, Min, Sum, Mean: every input has one type; take the first typed one.
        if first is None and op in ("Concat", "Max", "Min", "Sum", "Mean"):
            first = next((types[x] for x in node.input if x in types), None)
        return [first] * n if first else None
    return None


def elem_types(model: onnx.ModelProto) -> Dict[str, int]:
    """{tensor name: TensorProto element type} for every tensor whose type follows
    from the graph's inputs, initializers and producers (not from ``value_info``)."""
    g = model.graph
    types: Dict[str, int] = {}
    for i in g.input:
        if i.type.tensor_type.elem_type:
            types[i.name] = i.type.tensor_type.elem_type
    for t in g.initializer:
        types[t.name] = t.data_type
    pending = list(g.node)
    while pending:                      # a fixpoint: node order need not be topological
        rest = []
        for node in pending:
            outs = _output_types(node, types)
            if outs is None:
                rest.append(node)
                continue
            for o, t in zip(node.output, outs):
                if o and t:
                    types[o] = t
        if len(rest) == len(pending):
            break
        pending = rest
    return types
