"""Small decoders' RoPE in ONNX Runtime GenAI's model-builder spelling.

``python genai_spelling.py OUT_DIR`` writes three ONNX models (opset 17 +
com.microsoft), each rotating q and k ``[batch, seq, 2 heads x 8]`` with
``com.microsoft.RotaryEmbedding`` over per-token caches ``[B*S, 4]`` read
through ``position_ids = Range(0, B*S)`` reshaped ``[B, S]``. The caches are
built in the graph the way the builder builds them: inv_freq (theta 1e4)
unsqueezed and expanded to ``[3, B, 4, 1]``, MatMul'ed with the cast
positions ``[3, B, 1, S]``, Transposed, ``Concat(f, f)``, Cos/Sin, Sliced to
D/2, Split by mrope_section ``[2, 1, 1]``, chunk i taken from row i by
Gather + Squeeze, Concat'ed and Reshaped to ``[B*S, 4]``. They differ only
in the ``[3, B, S]`` positions the caches are built from:

* ``genai_mrope``: the graph input ``position_ids`` int64 [3, B, S]
  (correct);
* ``genai_expand_bug``: a ``[B, S]`` input Unsqueezed and Expanded to three
  rows (the bug);
* ``genai_range_bug``: ``Range(0, S)`` Unsqueezed and Expanded to three rows
  (the bug, no positions input);
* ``genai_1d_bug``: plain 1D RoPE: the caches are built from a ``[B, S]``
  input without rows or sections (the bug; same rotation on text).
"""
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F, D, HEADS, THETA = 4, 8, 2, 1e4
SECTIONS = [2, 1, 1]
INV_FREQ = (1.0 / THETA ** (np.arange(F, dtype=np.float64) * 2 / D)).astype(np.float32)


def build(variant):
    nodes, inits = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op, ins, outs, domain="", **attrs):
        nodes.append(helper.make_node(op, ins, outs, name=outs[0], domain=domain, **attrs))
        return outs[0]

    hidden = HEADS * D
    inputs = [helper.make_tensor_value_info("q", TensorProto.FLOAT, ["batch", "seq", hidden]),
              helper.make_tensor_value_info("k", TensorProto.FLOAT, ["batch", "seq", hidden])]
    const("inv_freq", INV_FREQ)
    const("i0", np.array([0], np.int64))
    const("i1", np.array([1], np.int64))
    const("i2", np.array([2], np.int64))
    const("i3", np.array([3], np.int64))
    const("s0", np.array(0, np.int64))
    const("s1", np.array(1, np.int64))
    node("Shape", ["q"], ["q_shape"])
    batch = node("Slice", ["q_shape", "i0", "i1"], ["batch_dim"])
    bs = node("Slice", ["q_shape", "i0", "i2"], ["bs_shape"])
    if variant == "mrope":
        inputs.append(helper.make_tensor_value_info("position_ids", TensorProto.INT64, [3, "batch", "seq"]))
        pos3 = "position_ids"
    elif variant == "expand_bug":
        inputs.append(helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "seq"]))
        node("Unsqueeze", ["position_ids", "i0"], ["pos_u"])
        pos3 = node("Expand", ["pos_u", const("rows3", np.array([3, 1, 1], np.int64))], ["pos3"])
    elif variant == "1d_bug":
        inputs.append(helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "seq"]))
        pos3 = None
    else:
        seq = node("Gather", ["q_shape", "s1"], ["seq_len"], axis=0)
        node("Range", ["s0", seq, "s1"], ["arange"])
        node("Unsqueeze", ["arange", const("u01", np.array([0, 1], np.int64))], ["arange_u"])
        node("Concat", ["i3", bs], ["pos3_shape"], axis=0)
        pos3 = node("Expand", ["arange_u", "pos3_shape"], ["pos3"])
    if pos3 is None:
        # [B, 1, S] positions x [B, F, 1] frequencies -> [B, F, S] -> [B, S, F].
        node("Cast", ["position_ids"], ["pos_f"], to=TensorProto.FLOAT)
        node("Unsqueeze", ["pos_f", "i1"], ["pos_u1"])
        node("Unsqueeze", ["inv_freq", const("u02", np.array([0, 2], np.int64))], ["inv_u"])
        node("Concat", [batch, const("f1", np.array([F, 1], np.int64))], ["inv_shape"], axis=0)
        node("Expand", ["inv_u", "inv_shape"], ["inv_e"])
        node("MatMul", ["inv_e", "pos_u1"], ["freqs"])
        node("Transpose", ["freqs"], ["freqs_t"], perm=[0, 2, 1])
        node("Concat", ["freqs_t", "freqs_t"], ["emb"], axis=-1)
        caches = []
        for fn in ("Cos", "Sin"):
            t = fn.lower()
            node(fn, ["emb"], [t])
            node("Slice", [t, "i0", const(t + "_half", np.array([F], np.int64)),
                           const(t + "_axis", np.array([-1], np.int64))], [t + "_sliced"])
            caches.append(node("Reshape", [t + "_sliced", const(t + "_flat", np.array([-1, F], np.int64))],
                               [t + "_cache"]))
        return finish(variant, nodes, inits, inputs, caches, bs, hidden, node)
    node("Cast", [pos3], ["pos_f"], to=TensorProto.FLOAT)
    node("Unsqueeze", ["pos_f", "i2"], ["pos_u2"])
    node("Unsqueeze", ["inv_freq", const("u013", np.array([0, 1, 3], np.int64))], ["inv_u"])
    node("Concat", ["i3", batch, const("f1", np.array([F, 1], np.int64))], ["inv_shape"], axis=0)
    node("Expand", ["inv_u", "inv_shape"], ["inv_e"])
    node("MatMul", ["inv_e", "pos_u2"], ["freqs"])
    node("Transpose", ["freqs"], ["freqs_t"], perm=[0, 1, 3, 2])
    node("Concat", ["freqs_t", "freqs_t"], ["emb"], axis=-1)
    caches = []
    for fn in ("Cos", "Sin"):
        t = fn.lower()
        node(fn, ["emb"], [t])
        node("Slice", [t, "i0", const(t + "_half", np.array([F], np.int64)),
                       const(t + "_axis", np.array([-1], np.int64))], [t + "_sliced"])
        parts = [f"{t}_part{i}" for i in range(3)]
        node("Split", [t + "_sliced", const(t + "_split", np.array(SECTIONS, np.int64))], parts, axis=-1)
        rows = []
        for i, part in enumerate(parts):
            node("Gather", [part, ["i0", "i1", "i2"][i]], [f"{t}_row{i}"], axis=0)
            rows.append(node("Squeeze", [f"{t}_row{i}", "i0"], [f"{t}_row{i}_sq"]))
        node("Concat", rows, [t + "_merged"], axis=-1)
        caches.append(node("Reshape", [t + "_merged", const(t + "_flat", np.array([-1, F], np.int64))],
                           [t + "_cache"]))
    return finish(variant, nodes, inits, inputs, caches, bs, hidden, node)


def finish(variant, nodes, inits, inputs, caches, bs, hidden, node):
    """The per-token read: Range(0, B*S) reshaped [B, S] as position_ids."""
    node("Gather", ["q_shape", "s0"], ["b_scalar"], axis=0)
    node("Gather", ["q_shape", "s1"], ["s_scalar"], axis=0)
    node("Mul", ["b_scalar", "s_scalar"], ["bs_count"])
    node("Range", ["s0", "bs_count", "s1"], ["token_index"])
    node("Reshape", ["token_index", bs], ["token_ids"])
    outs = []
    for x in ("q", "k"):
        outs.append(node("RotaryEmbedding", [x, "token_ids", caches[0], caches[1]], [x + "_rot"],
                         domain="com.microsoft", num_heads=HEADS))
    outputs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["batch", "seq", hidden]) for o in outs]
    graph = helper.make_graph(nodes, "genai_" + variant, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return model


VARIANTS = ("mrope", "expand_bug", "range_bug", "1d_bug")

if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for v in VARIANTS:
        onnx.save(build(v), str(out / f"genai_{v}.onnx"))
