"""Exporter-spelling zoo: RoPE the way other tools write it, built with onnx.helper.

``python -m mrope.zoo.spellings --out test/models/zoo-spellings`` writes
``NAME.onnx`` + ``NAME.json`` for every entry below and an ``index.json`` (the
format of test/models/zoo-fused, so its checkers can read them).

The models follow written descriptions of what exporters emit (issue #20), not
any exporter's code.  Every bug model shares all weights with its correct twin;
the two differ only in how positions reach the rotary tables.

* ``genai_*``: the ONNX Runtime GenAI model builder's Qwen2.5-VL decoder.  Per
  layer: int64 ``position_ids [3,B,S]`` Unsqueezed and Cast, ``inv_freq``
  Unsqueezed and Expanded to ``[3,B,F,1]``, MatMul, Transpose, Concat(f, f),
  Cos/Sin; then per rotated tensor the caches are Sliced to ``D/2``, Split by
  ``mrope_section`` (a Constant node), chunk i taken from row i by Gather of a
  one-element index + Squeeze, Concat'ed and Reshaped to per-token caches
  ``[B*S, D/2]``; ``com.microsoft.RotaryEmbedding`` rotates ``[B,N,S,H]`` q and k
  by ``position_ids = Range(0, B*S)`` reshaped ``[B,S]``.  ``genai_mrope`` is
  correct; ``genai_expand_bug`` Expands a ``[B,S]`` input to three rows;
  ``genai_range_bug`` has no position input (three rows of ``Range(0,S)``).
* ``ts_vision_*``: a Qwen2-VL vision tower the way ``torch.onnx.export``
  (TorchScript, opset 17) writes the upstream ``rot_pos_emb``: ``grid_thw`` is
  an input, the (h, w) index ``[N,2]`` is computed in the graph (Range, Expand,
  Reshape to 2x2 merge blocks, Transpose, stack, Tile over t), the frequency
  table is ``Einsum "i,j->ij"`` of a float ``Range(ReduceMax(grid_thw[:,1:]))``
  and ``inv_freq``, Gathered by the index, ``Flatten(axis=1)``, Concat(x, x),
  Cos/Sin, rotate-half of q and k ``[N, heads, D]`` (with ``.float()`` casts).
  ``ts_vision_1d_bug`` indexes a whole-head-dim table by the flat patch number.
* ``dynamo_*``: what torch's dynamo exporter writes at opset 23 when the
  rotation is the standard ``RotaryEmbedding`` op: angles computed once from the
  positions (Reshape-as-unsqueeze, Expand, MatMul, Transpose, Concat), Cos/Sin,
  Hugging Face's section merge (Split by ``mrope_section * 2``, scalar Gather of
  row ``i % 3``, Concat), Sliced to ``[B,S,D/2]`` and fed to ``RotaryEmbedding``
  without position_ids.  ``dynamo_1d_bug`` computes the same from ``[B,S]``.
* ``mobile_*``: an unfused Hugging Face style M-RoPE decoder (Cos/Sin, section
  merge, rotate-half) whose positions come from a 1D ``cache_position [S]``
  input (what mobile exporters feed), expanded to ``[B,S]`` then to three
  rows; its twin ``mobile_mrope`` reads ``position_ids [3,B,S]``.

Decoders: 2 layers, hidden 32, 2 heads of 32 channels, sections [4,6,6],
theta 1e6 (inv_freq as Hugging Face computes it, mrope.reference.inv_freq).
Vision towers: hidden 80, 2 heads of 40, 2 blocks, theta 1e4.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .. import reference as ref
from . import feeds as zoo_feeds

HIDDEN, HEADS, HEAD_DIM, LAYERS = 32, 2, 32, 2
SECTIONS = (4, 6, 6)
THETA = 1e6
V_HIDDEN, V_HEADS, V_HEAD_DIM, V_BLOCKS, V_THETA = 80, 2, 40, 2, 1e4
QWEN_VL = ("qwen2-vl", "qwen2.5-vl", "qwen3-vl")
INT64_MAX = 2 ** 63 - 1     # what torch writes for an open slice end


@dataclass
class Spelling:
    name: str
    description: str
    family: str                      # genai | ts_vision | dynamo | mobile
    variant: str                     # mrope | expand_bug | range_bug | 2d | 1d_bug | cache_position_bug
    arch: str = "qwen2.5-vl"
    twin: Optional[str] = None
    sites: List[dict] = field(default_factory=list)

    @property
    def is_bug(self) -> bool:
        return self.twin is not None

    @property
    def opset(self) -> int:
        return 23 if self.family == "dynamo" else 17

    def expected(self) -> dict:
        auto = sum(1 for s in self.sites if s["positions"] == "mrope-degenerate")
        declared = auto + sum(1 for s in self.sites if s["positions"] == "1d")
        return {"auto": {"bugs": auto, "check_exit": 3 if auto else 0},
                "declared": {"arch": self.arch, "bugs": declared, "check_exit": 3 if declared else 0}}


def _site(positions, sections, theta, rotary_dim, rotations, source, fused_op=None):
    s = {"positions": positions, "layout": "neox", "sections": list(sections), "theta": float(theta),
         "rotary_dim": rotary_dim, "rotations": rotations, "interleaved": False,
         "positions_source": source}
    if fused_op:
        s["fused_op"] = fused_op
    return s


F = HEAD_DIM // 2
_MS = "com.microsoft.RotaryEmbedding"
ENTRIES: List[Spelling] = [
    Spelling("genai_mrope", "GenAI model builder Qwen2.5-VL spelling, correct: position_ids [3,B,S] "
             "input, per-layer angles (Expand inv_freq, MatMul, Transpose, Concat), caches Sliced to D/2, "
             "Split by mrope_section, row i of chunk i by Gather+Squeeze, Reshaped to [B*S,D/2], "
             "com.microsoft.RotaryEmbedding by Range(0,B*S) reshaped [B,S]", "genai", "mrope",
             sites=[_site("mrope", SECTIONS, THETA, HEAD_DIM, 2, "position_ids", _MS)] * LAYERS),
    Spelling("genai_expand_bug", "GenAI builder spelling fed position_ids [B,S] expanded to three "
             "identical rows in the graph; weights of genai_mrope", "genai", "expand_bug",
             twin="genai_mrope",
             sites=[_site("mrope-degenerate", SECTIONS, THETA, HEAD_DIM, 2, "position_ids", _MS)] * LAYERS),
    Spelling("genai_range_bug", "GenAI builder spelling without a position input: three rows of "
             "Range(0,S) expanded over the batch; weights of genai_mrope", "genai", "range_bug",
             twin="genai_mrope",
             sites=[_site("mrope-degenerate", SECTIONS, THETA, HEAD_DIM, 2, "Range", _MS)] * LAYERS),
    Spelling("ts_vision_2d", "TorchScript-style Qwen2-VL vision tower: grid_thw input, (h,w) [N,2] "
             "computed in the graph, Einsum i,j->ij table over Range(ReduceMax(grid_thw[:,1:])), "
             "Gather by (h,w), Flatten(axis=1), Concat(x,x), Cos/Sin, rotate-half of [N,heads,D]",
             "ts_vision", "2d", arch="qwen2-vl",
             sites=[_site("2d", (V_HEAD_DIM // 4,) * 2, V_THETA, V_HEAD_DIM, 2 * V_BLOCKS, "grid_thw")]),
    Spelling("ts_vision_1d_bug", "TorchScript-style vision tower with the 1D bug: an Einsum table over "
             "the whole head dim indexed by the flat patch number Range(N); weights of ts_vision_2d",
             "ts_vision", "1d_bug", arch="qwen2-vl", twin="ts_vision_2d",
             sites=[_site("1d", (V_HEAD_DIM // 2,), V_THETA, V_HEAD_DIM, 2 * V_BLOCKS, "Range")]),
    Spelling("dynamo_mrope", "dynamo-exporter style, opset 23: angles computed once from position_ids "
             "[3,B,S], Hugging Face section merge (Split by sections*2, scalar Gather row i%3, Concat), "
             "Sliced to [B,S,D/2] and fed to RotaryEmbedding-23 without position_ids", "dynamo", "mrope",
             arch="qwen2-vl",
             sites=[_site("mrope", SECTIONS, THETA, HEAD_DIM, 2 * LAYERS, "position_ids", "RotaryEmbedding")]),
    Spelling("dynamo_1d_bug", "dynamo-exporter style, opset 23, 1D bug: per-token caches [B,S,D/2] "
             "computed from position_ids [B,S] and fed to RotaryEmbedding-23; weights of dynamo_mrope",
             "dynamo", "1d_bug", arch="qwen2-vl", twin="dynamo_mrope",
             sites=[_site("1d", (F,), THETA, HEAD_DIM, 2 * LAYERS, "position_ids", "RotaryEmbedding")]),
    Spelling("mobile_mrope", "unfused Hugging Face style M-RoPE decoder (Cos/Sin, section merge, "
             "rotate-half) reading position_ids [3,B,S]", "mobile", "mrope", arch="qwen2-vl",
             sites=[_site("mrope", SECTIONS, THETA, HEAD_DIM, 2 * LAYERS, "position_ids")]),
    Spelling("mobile_cache_position_bug", "the mobile exporters' spelling: M-RoPE decoder whose "
             "positions are a 1D cache_position [S] input expanded to [B,S] and then to three identical "
             "rows; weights of mobile_mrope", "mobile", "cache_position_bug", arch="qwen2-vl",
             twin="mobile_mrope",
             sites=[_site("mrope-degenerate", SECTIONS, THETA, HEAD_DIM, 2 * LAYERS, "cache_position")]),
]
BY_NAME: Dict[str, Spelling] = {e.name: e for e in ENTRIES}


class Graph:
    """A small onnx.helper graph builder: unique node names, deduplicated initializers."""

    def __init__(self, prefix: str = ""):
        self.nodes, self.inits, self.inputs, self.outputs = [], {}, [], []
        self.prefix = prefix

    def init(self, name, array):
        if name not in self.inits:
            self.inits[name] = numpy_helper.from_array(np.asarray(array), name)
        return name

    def ints(self, values, name=None):
        arr = np.array(values, np.int64)
        return self.init(name or f"const_i64_{'_'.join(map(str, arr.reshape(-1)))}_{arr.ndim}d".replace("-", "m"),
                         arr)

    def floats(self, value, name):
        return self.init(name, np.array(value, np.float32))

    def node(self, op, ins, n_out=1, domain="", name=None, **attrs):
        name = name or f"{self.prefix}/{op}_{len(self.nodes)}"
        outs = [f"{name}/output_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op, ins, outs, name=name, domain=domain, **attrs))
        return outs[0] if n_out == 1 else outs

    def constant(self, array, name):
        out = f"{name}/output_0"
        self.nodes.append(helper.make_node("Constant", [], [out], name=name,
                                           value=numpy_helper.from_array(np.asarray(array), out)))
        return out

    def input(self, name, dtype, shape):
        self.inputs.append(helper.make_tensor_value_info(name, dtype, shape))
        return name

    def output(self, name, dtype, shape):
        self.outputs.append(helper.make_tensor_value_info(name, dtype, shape))

    def model(self, e: Spelling, producer: str) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, e.name, self.inputs, self.outputs, list(self.inits.values()))
        opsets = [helper.make_opsetid("", e.opset)]
        if any(n.domain == "com.microsoft" for n in self.nodes):
            opsets.append(helper.make_opsetid("com.microsoft", 1))
        m = helper.make_model(graph, opset_imports=opsets, producer_name=producer)
        m.ir_version = 8     # what the fused zoo writes; ONNX Runtime loads opset 23 at IR 8
        m.doc_string = e.description
        return m


def _decoder_weights(seed: int):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(LAYERS):
        w = {k: (rng.standard_normal((HIDDEN, HEADS * HEAD_DIM)) / np.sqrt(HIDDEN)).astype(np.float32)
             for k in ("wq", "wk", "wv")}
        w["wo"] = (rng.standard_normal((HEADS * HEAD_DIM, HIDDEN)) / np.sqrt(HEADS * HEAD_DIM)).astype(np.float32)
        out.append(w)
    return out


def _attention(g: Graph, l: int, q, k, v, h, last: bool):
    """Softmax attention of [B,S,N*H] q/k/v (no mask), output projection and residual."""
    def heads4(x):
        r = g.node("Reshape", [x, g.ints([0, 0, HEADS, HEAD_DIM])])
        return g.node("Transpose", [r], perm=[0, 2, 1, 3])
    q4, k4, v4 = heads4(q), heads4(k), heads4(v)
    kt = g.node("Transpose", [k4], perm=[0, 1, 3, 2])
    scale = g.floats(1.0 / np.sqrt(HEAD_DIM), "attn_scale")
    p = g.node("Softmax", [g.node("Mul", [g.node("MatMul", [q4, kt]), scale])], axis=-1)
    o = g.node("Transpose", [g.node("MatMul", [p, v4])], perm=[0, 2, 1, 3])
    attn = g.node("Reshape", [o, g.ints([0, 0, HEADS * HEAD_DIM])])
    add = g.node("MatMul", [attn, f"layers.{l}.wo"])
    if last:
        g.nodes.append(helper.make_node("Add", [h, add], ["logits"], name=f"/layers.{l}/residual/Add"))
        return "logits"
    return g.node("Add", [h, add])


def _positions_3d(g: Graph, e: Spelling) -> str:
    """The [3,B,S] int64 positions tensor of a decoder (input, or built in the graph by the bug)."""
    if e.variant in ("mrope",):
        return g.input("position_ids", TensorProto.INT64, [3, "batch_size", "sequence_length"])
    if e.variant == "expand_bug":
        pos = g.input("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"])
        full = g.node("Concat", [g.ints([3]), g.node("Shape", [pos])], axis=0)
        return g.node("Expand", [g.node("Unsqueeze", [pos, g.ints([0])]), full])
    shape = g.node("Shape", ["inputs_embeds"])
    B = g.node("Gather", [shape, g.ints([0])], axis=0)
    S = g.node("Gather", [shape, g.ints(1)], axis=0)
    if e.variant == "range_bug":
        r = g.node("Range", [g.ints(0), S, g.ints(1)])
        rows = g.node("Unsqueeze", [r, g.ints([0, 1])])                          # [1,1,S]
    elif e.variant == "cache_position_bug":
        cp = g.input("cache_position", TensorProto.INT64, ["sequence_length"])
        # position_ids = cache_position.unsqueeze(0).expand(B, -1), then [None].expand(3, B, -1)
        bs = g.node("Expand", [g.node("Unsqueeze", [cp, g.ints([0])]),
                               g.node("Concat", [B, g.node("Unsqueeze", [S, g.ints([0])])], axis=0)])
        rows = g.node("Unsqueeze", [bs, g.ints([0])])                            # [1,B,S]
    else:
        raise ValueError(e.variant)
    full = g.node("Concat", [g.ints([3]), B, g.node("Unsqueeze", [S, g.ints([0])])], axis=0)
    return g.node("Expand", [rows, full])


def _inv_freq(g: Graph) -> str:
    return g.init("model.inv_freq", ref.inv_freq(HEAD_DIM, THETA))


def build_genai(e: Spelling) -> onnx.ModelProto:
    g = Graph("/model")
    g.input("inputs_embeds", TensorProto.FLOAT, ["batch_size", "sequence_length", HIDDEN])
    pos = _positions_3d(g, e)
    inv = _inv_freq(g)
    for l, w in enumerate(_decoder_weights(20)):
        for k, a in w.items():
            g.init(f"layers.{l}.{k}", a)
    h = "inputs_embeds"
    for l in range(LAYERS):
        base = f"/model/layers.{l}/attn"
        # make_dynamic_rope_caches: [3,B,S,D] cos/sin of this layer
        g.prefix = f"{base}/mrope_dynamic_cache"
        B = g.node("Gather", [g.node("Shape", [pos]), g.ints([1])], axis=0)
        inv4 = g.node("Unsqueeze", [inv, g.ints([0, 1, 3])])
        inv_e = g.node("Expand", [inv4, g.node("Concat", [g.ints([3]), B, g.ints([F, 1])], axis=0)])
        pos_f = g.node("Cast", [g.node("Unsqueeze", [pos, g.ints([2])])], to=TensorProto.FLOAT)
        freqs = g.node("Transpose", [g.node("MatMul", [inv_e, pos_f])], perm=[0, 1, 3, 2])
        emb = g.node("Concat", [freqs, freqs], axis=-1)
        cos, sin = g.node("Cos", [emb]), g.node("Sin", [emb])
        q = g.node("MatMul", [h, f"layers.{l}.wq"])
        k = g.node("MatMul", [h, f"layers.{l}.wk"])
        v = g.node("MatMul", [h, f"layers.{l}.wv"])
        rotated = []
        for which, x in (("q", q), ("k", k)):
            g.prefix = f"{base}/{which}_mrope"
            flat = []
            for name, cache in (("cos", cos), ("sin", sin)):
                half = g.node("Slice", [cache, g.ints([0]), g.ints([F]), g.ints([-1])])
                sections = g.constant(np.array(SECTIONS, np.int64), f"{g.prefix}/{name}/mrope_sections/Constant")
                chunks = g.node("Split", [half, sections], n_out=3, axis=-1)
                rows = [g.node("Squeeze", [g.node("Gather", [c, g.ints([i])], axis=0), g.ints([0])])
                        for i, c in enumerate(chunks)]
                flat.append(g.node("Reshape", [g.node("Concat", rows, axis=-1), g.ints([-1, F])]))
            shape = g.node("Shape", [x])
            bs = g.node("Mul", [g.node("Gather", [shape, g.ints(0)], axis=0),
                                g.node("Gather", [shape, g.ints(1)], axis=0)])
            rng_ = g.node("Range", [g.ints(0), bs, g.ints(1)])
            pid = g.node("Reshape", [rng_, g.node("Slice", [shape, g.ints([0]), g.ints([2]), g.ints([0])])])
            x4 = g.node("Transpose", [g.node("Reshape", [x, g.ints([0, 0, HEADS, HEAD_DIM])])], perm=[0, 2, 1, 3])
            r = g.node("RotaryEmbedding", [x4, pid, flat[0], flat[1]], domain="com.microsoft",
                       rotary_embedding_dim=HEAD_DIM, num_heads=HEADS, interleaved=0)
            r = g.node("Transpose", [r], perm=[0, 2, 1, 3])
            rotated.append(g.node("Reshape", [r, g.ints([0, 0, HEADS * HEAD_DIM])]))
        g.prefix = base
        h = _attention(g, l, rotated[0], rotated[1], v, h, l == LAYERS - 1)
    g.output("logits", TensorProto.FLOAT, ["batch_size", "sequence_length", HIDDEN])
    return g.model(e, "mrope.zoo.spellings (GenAI builder spelling)")


def _hf_merge(g: Graph, table: str) -> str:
    """Hugging Face apply_multimodal_rotary_pos_emb: split [3,B,S,D] by sections*2, row i%3 of chunk i."""
    chunks = g.node("Split", [table, g.ints(list(SECTIONS) * 2)], n_out=6, axis=-1)
    rows = [g.node("Gather", [c, g.ints(i % 3)], axis=0) for i, c in enumerate(chunks)]
    return g.node("Concat", rows, axis=-1)


def _rotate_half(g: Graph, x: str, D: int) -> str:
    x1 = g.node("Slice", [x, g.ints([0]), g.ints([D // 2]), g.ints([-1])])
    x2 = g.node("Slice", [x, g.ints([D // 2]), g.ints([INT64_MAX]), g.ints([-1])])
    return g.node("Concat", [g.node("Neg", [x2]), x1], axis=-1)


def build_dynamo(e: Spelling) -> onnx.ModelProto:
    g = Graph("")
    g.prefix = "node"
    g.input("inputs_embeds", TensorProto.FLOAT, ["s0", "s1", HIDDEN])
    inv = _inv_freq(g)
    shape = g.node("Shape", ["inputs_embeds"])
    B = g.node("Gather", [shape, g.ints([0])], axis=0)
    if e.variant == "mrope":
        pos = g.input("position_ids", TensorProto.INT64, [3, "s0", "s1"])
        inv_r = g.node("Reshape", [inv, g.ints([1, 1, F, 1])])
        inv_e = g.node("Expand", [inv_r, g.node("Concat", [g.ints([3]), B, g.ints([F, 1])], axis=0)])
        pos_f = g.node("Cast", [g.node("Unsqueeze", [pos, g.ints([2])])], to=TensorProto.FLOAT)
        freqs = g.node("Transpose", [g.node("MatMul", [inv_e, pos_f])], perm=[0, 1, 3, 2])
    else:
        pos = g.input("position_ids", TensorProto.INT64, ["s0", "s1"])
        inv_r = g.node("Reshape", [inv, g.ints([1, F, 1])])
        inv_e = g.node("Expand", [inv_r, g.node("Concat", [B, g.ints([F, 1])], axis=0)])
        pos_f = g.node("Cast", [g.node("Unsqueeze", [pos, g.ints([1])])], to=TensorProto.FLOAT)
        freqs = g.node("Transpose", [g.node("MatMul", [inv_e, pos_f])], perm=[0, 2, 1])
    emb = g.node("Concat", [freqs, freqs], axis=-1)
    tables = []
    for op in ("Cos", "Sin"):
        t = g.node(op, [emb])
        if e.variant == "mrope":
            t = _hf_merge(g, t)
        tables.append(g.node("Slice", [t, g.ints([0]), g.ints([F]), g.ints([-1])]))
    for l, w in enumerate(_decoder_weights(30)):
        for k, a in w.items():
            g.init(f"layers.{l}.{k}", a)
    h = "inputs_embeds"
    for l in range(LAYERS):
        q = g.node("MatMul", [h, f"layers.{l}.wq"])
        k = g.node("MatMul", [h, f"layers.{l}.wk"])
        v = g.node("MatMul", [h, f"layers.{l}.wv"])
        q, k = (g.node("RotaryEmbedding", [x, tables[0], tables[1]], num_heads=HEADS, interleaved=0)
                for x in (q, k))
        h = _attention(g, l, q, k, v, h, l == LAYERS - 1)
    g.output("logits", TensorProto.FLOAT, ["s0", "s1", HIDDEN])
    return g.model(e, "mrope.zoo.spellings (dynamo exporter spelling)")


def build_mobile(e: Spelling) -> onnx.ModelProto:
    g = Graph("/model")
    g.input("inputs_embeds", TensorProto.FLOAT, ["batch_size", "sequence_length", HIDDEN])
    pos = _positions_3d(g, e)
    inv = _inv_freq(g)
    g.prefix = "/model/rotary_emb"
    B = g.node("Gather", [g.node("Shape", [pos]), g.ints([1])], axis=0)
    inv4 = g.node("Unsqueeze", [inv, g.ints([0, 1, 3])])
    inv_e = g.node("Expand", [inv4, g.node("Concat", [g.ints([3]), B, g.ints([F, 1])], axis=0)])
    pos_f = g.node("Cast", [g.node("Unsqueeze", [pos, g.ints([2])])], to=TensorProto.FLOAT)
    freqs = g.node("Transpose", [g.node("MatMul", [inv_e, pos_f])], perm=[0, 1, 3, 2])
    emb = g.node("Concat", [freqs, freqs], axis=-1)
    cos = g.node("Unsqueeze", [_hf_merge(g, g.node("Cos", [emb])), g.ints([1])])   # [B,1,S,D]
    sin = g.node("Unsqueeze", [_hf_merge(g, g.node("Sin", [emb])), g.ints([1])])
    for l, w in enumerate(_decoder_weights(40)):
        for k, a in w.items():
            g.init(f"layers.{l}.{k}", a)
    h = "inputs_embeds"
    for l in range(LAYERS):
        g.prefix = f"/model/layers.{l}/self_attn"
        q = g.node("MatMul", [h, f"layers.{l}.wq"])
        k = g.node("MatMul", [h, f"layers.{l}.wk"])
        v = g.node("MatMul", [h, f"layers.{l}.wv"])
        rot = []
        for x in (q, k):
            x4 = g.node("Transpose", [g.node("Reshape", [x, g.ints([0, 0, HEADS, HEAD_DIM])])], perm=[0, 2, 1, 3])
            y = g.node("Add", [g.node("Mul", [x4, cos]), g.node("Mul", [_rotate_half(g, x4, HEAD_DIM), sin])])
            rot.append(g.node("Reshape", [g.node("Transpose", [y], perm=[0, 2, 1, 3]),
                                          g.ints([0, 0, HEADS * HEAD_DIM])]))
        h = _attention(g, l, rot[0], rot[1], v, h, l == LAYERS - 1)
    g.output("logits", TensorProto.FLOAT, ["batch_size", "sequence_length", HIDDEN])
    return g.model(e, "mrope.zoo.spellings (mobile exporter spelling)")


def build_ts_vision(e: Spelling) -> onnx.ModelProto:
    g = Graph("")
    D, N = V_HEAD_DIM, V_HEADS
    x = g.input("hidden_states", TensorProto.FLOAT, ["patches", V_HIDDEN])
    rng = np.random.default_rng(50)
    g.prefix = "/rot_pos_emb"
    if e.variant == "2d":
        grid = g.input("grid_thw", TensorProto.INT64, [1, 3])
        row = g.node("Gather", [grid, g.ints(0)], axis=0)                     # for t, h, w in grid_thw
        t, hh, ww = (g.node("Gather", [row, g.ints(i)], axis=0) for i in range(3))
        two = g.ints(2)

        def coord(axis):
            r = g.node("Range", [g.ints(0), hh if axis == 0 else ww, g.ints(1)])
            r = g.node("Unsqueeze", [r, g.ints([1 - axis])])
            hw = g.node("Concat", [g.node("Unsqueeze", [hh, g.ints([0])]),
                                   g.node("Unsqueeze", [ww, g.ints([0])])], axis=0)
            r = g.node("Expand", [r, hw])
            blk = g.node("Concat", [g.node("Unsqueeze", [g.node("Div", [hh, two]), g.ints([0])]), g.ints([2]),
                                    g.node("Unsqueeze", [g.node("Div", [ww, two]), g.ints([0])]), g.ints([2])],
                         axis=0)
            r = g.node("Transpose", [g.node("Reshape", [r, blk])], perm=[0, 2, 1, 3])
            return g.node("Reshape", [r, g.ints([-1])])                        # .flatten()
        hpos, wpos = coord(0), coord(1)
        stacked = g.node("Concat", [g.node("Unsqueeze", [hpos, g.ints([-1])]),
                                    g.node("Unsqueeze", [wpos, g.ints([-1])])], axis=-1)
        pos_ids = g.node("Tile", [stacked, g.node("Concat", [g.node("Unsqueeze", [t, g.ints([0])]),
                                                           g.ints([1])], axis=0)])
        sub = g.node("Slice", [grid, g.ints([1]), g.ints([INT64_MAX]), g.ints([1])])
        seqlen = g.node("ReduceMax", [sub], keepdims=0)
        inv = g.init("rotary_pos_emb.inv_freq", ref.vision_inv_freq(D, V_THETA))     # [D/4]
    else:
        n = g.node("Gather", [g.node("Shape", [x]), g.ints(0)], axis=0)
        seqlen = n
        inv = g.init("rotary_pos_emb.inv_freq", ref.inv_freq(D, V_THETA))            # [D/2]
    seq = g.node("Range", [g.floats(0.0, "range_start"), g.node("Cast", [seqlen], to=TensorProto.FLOAT),
                           g.floats(1.0, "range_delta")])
    table = g.node("Einsum", [seq, inv], equation="i,j->ij")
    if e.variant == "2d":
        emb = g.node("Flatten", [g.node("Gather", [table, pos_ids], axis=0)], axis=1)   # [N, D/2]
    else:
        emb = table
    g.prefix = ""
    emb = g.node("Concat", [emb, emb], axis=-1, name="/Concat")
    cos = g.node("Cos", [emb], name="/Cos")
    sin = g.node("Sin", [emb], name="/Sin")
    h = x
    for b in range(V_BLOCKS):
        g.prefix = f"/blocks.{b}/attn"
        wqkv = g.init(f"blocks.{b}.attn.qkv.weight", (rng.standard_normal((V_HIDDEN, 3 * N * D)) /
                                                      np.sqrt(V_HIDDEN)).astype(np.float32))
        bqkv = g.init(f"blocks.{b}.attn.qkv.bias", (0.1 * rng.standard_normal(3 * N * D)).astype(np.float32))
        wo = g.init(f"blocks.{b}.attn.proj.weight", (rng.standard_normal((N * D, V_HIDDEN)) /
                                                     np.sqrt(N * D)).astype(np.float32))
        qkv = g.node("Add", [g.node("MatMul", [h, wqkv]), bqkv])
        qkv = g.node("Transpose", [g.node("Reshape", [qkv, g.ints([-1, 3, N, D])])], perm=[1, 0, 2, 3])
        parts = g.node("Split", [qkv, g.ints([1, 1, 1])], n_out=3, axis=0)
        q, k, v = (g.node("Squeeze", [p, g.ints([0])]) for p in parts)      # [N_patches, heads, D]
        c = g.node("Unsqueeze", [cos, g.ints([-2])])
        s = g.node("Unsqueeze", [sin, g.ints([-2])])
        rot = []
        for y in (q, k):
            y = g.node("Cast", [y], to=TensorProto.FLOAT)                      # q.float()
            r = g.node("Add", [g.node("Mul", [y, c]), g.node("Mul", [_rotate_half(g, y, D), s])])
            rot.append(r)
        q, k = rot
        qt = g.node("Transpose", [q], perm=[1, 0, 2])
        kt = g.node("Transpose", [k], perm=[1, 2, 0])
        vt = g.node("Transpose", [v], perm=[1, 0, 2])
        p = g.node("Softmax", [g.node("Mul", [g.node("MatMul", [qt, kt]),
                                               g.floats(1.0 / np.sqrt(D), "attn_scale")])], axis=-1)
        o = g.node("Reshape", [g.node("Transpose", [g.node("MatMul", [p, vt])], perm=[1, 0, 2]),
                               g.ints([-1, N * D])])
        out = g.node("MatMul", [o, wo])
        if b == V_BLOCKS - 1:
            g.nodes.append(helper.make_node("Add", [h, out], ["last_hidden_state"], name=f"/blocks.{b}/Add"))
            h = "last_hidden_state"
        else:
            h = g.node("Add", [h, out])
    g.output("last_hidden_state", TensorProto.FLOAT, ["patches", V_HIDDEN])
    return g.model(e, "mrope.zoo.spellings (TorchScript vision spelling)")


BUILDERS = {"genai": build_genai, "dynamo": build_dynamo, "mobile": build_mobile, "ts_vision": build_ts_vision}


def build(e: Spelling) -> onnx.ModelProto:
    return BUILDERS[e.family](e)


def _dims(vi):
    return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]


def describe(e: Spelling, model: onnx.ModelProto) -> dict:
    return {
        "model": f"{e.name}.onnx", "description": e.description, "arch": e.arch,
        "twin": f"{e.twin}.onnx" if e.twin else None, "opset": e.opset, "family": e.family,
        "inputs": {i.name: _dims(i) for i in model.graph.input},
        "outputs": [o.name for o in model.graph.output], "output": model.graph.output[0].name,
        "bug": e.is_bug, "sites": e.sites, "expected": e.expected(),
        "generator": "python -m mrope.zoo.spellings (python/mrope/zoo/spellings.py)",
    }


# --------------------------------------------------------------------------
# Feeds
# --------------------------------------------------------------------------

# Feed kinds: which positions the batch carries.  "late" adds LATE to every position (a later
# chunk of a long prompt) so that positions exceed B*S = 28; "qwen25" uses Qwen2.5-VL's
# time-scaled video positions (2 tokens per second, 2.5 s per grid: temporal rows 0 and 5).
LATE = 37
FEED_KINDS = ("text", "multimodal", "late", "text_late", "qwen25")


def _positions(kind: str):
    """(3D positions [3,B,S], 1D positions [B,S]) of an unpadded batch of this kind."""
    text = kind.startswith("text")
    arch = "qwen2.5-vl" if kind == "qwen25" else None
    ids, mask, grids = zoo_feeds.batch("text" if text else "multimodal", padded=False)
    if kind == "qwen25":
        pos3, _ = ref.rope_index(ids, attention_mask=mask, arch=arch, second_per_grid_ts=[2.5], **grids)
    else:
        pos3, _ = ref.rope_index(ids, attention_mask=mask, **grids)
    pos1 = ref.text_positions(mask)[0]
    if kind in ("late", "text_late"):
        pos3, pos1 = pos3 + LATE, pos1 + LATE
    return pos3.astype(np.int64), pos1.astype(np.int64)


VISION_GRIDS = {"text": (1, 4, 6), "multimodal": (1, 4, 6), "late": (2, 4, 6), "text_late": (2, 4, 6),
                "qwen25": (2, 6, 4)}


def feeds(desc: dict, kind: str = "multimodal", seed: int = 0) -> Dict[str, np.ndarray]:
    """Inputs for a model of this zoo (or a rewritten / fixed copy) from its declared inputs.

    A ``[3,B,S]`` position input gets the batch's true 3D positions, a ``[B,S]`` one
    the 1D positions a text pipeline passes, ``cache_position [S]`` the first row of
    those.  Vision towers get patches of one image (``late``/``qwen25``: a 2-frame
    video), its ``grid_thw`` and, when asked for, its (h, w) ``vision_position_ids``.
    """
    rng = np.random.default_rng(seed)
    ins = desc["inputs"]
    out = {}
    if "hidden_states" in ins:
        grid = VISION_GRIDS[kind]
        hw = ref.vision_positions([list(grid)])
        for name in ins:
            if name == "hidden_states":
                out[name] = rng.standard_normal((hw.shape[0], int(ins[name][1]))).astype(np.float32)
            elif name == "grid_thw":
                out[name] = np.array([list(grid)], np.int64)
            elif name == "vision_position_ids":
                out[name] = hw
            else:
                raise KeyError(f"no feed for input {name!r}")
        return out
    pos3, pos1 = _positions(kind)
    B, S = pos1.shape
    for name, shape in ins.items():
        if name == "inputs_embeds":
            out[name] = rng.standard_normal((B, S, int(shape[2]))).astype(np.float32)
        elif "position" in name:     # position_ids, cache_position (or a fixed copy's retyped input)
            out[name] = {3: pos3, 2: pos1, 1: pos1[0].copy()}[len(shape)]
        else:
            raise KeyError(f"no feed for input {name!r}")
    return out


def inputs_of(path) -> dict:
    m = onnx.load(str(path), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    return {"inputs": {i.name: _dims(i) for i in m.graph.input if i.name not in inits}}


def model_feeds(desc: dict, kind: str = "multimodal", path=None, seed: int = 0) -> Dict[str, np.ndarray]:
    """Feeds for a model of any of the three zoos (by its description's generator), for the
    inputs of ``path`` when given (a rewritten or fixed copy may take other inputs).

    ``kind``: ``multimodal`` / ``text`` everywhere; ``late`` / ``text_late`` / ``qwen25`` only
    for this zoo (positions >= B*S, Qwen2.5-VL time-scaled video); other zoos answer them
    with their multimodal batch.
    """
    d = dict(desc)
    if path is not None:
        d["inputs"] = inputs_of(path)["inputs"]
    gen = desc.get("generator", "")
    if "zoo.spellings" in gen:
        return feeds(d, kind, seed)
    base = "text" if kind.startswith("text") else "multimodal"
    if "zoo.fused" in gen:
        from . import fused
        return fused.feeds(d, base, seed)
    if "hidden_states" in d["inputs"]:
        return zoo_feeds.vision_feeds(d, seed=seed)
    return zoo_feeds.decoder_feeds(d, base, seed=seed)[0]


def dumps(obj) -> str:
    """JSON with two-space indent and lists of scalars on one line (the zoo's format)."""
    text = json.dumps(obj, indent=2)
    return re.sub(r"\[\s+([^\[\]{}]*?)\s+\]",
                  lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path)
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    for e in ENTRIES:
        model = build(e)
        if e.opset <= 17:          # the python onnx checker here knows no newer schemas
            onnx.checker.check_model(model, full_check=True)
        path = a.out / f"{e.name}.onnx"
        path.write_bytes(model.SerializeToString())
        (a.out / f"{e.name}.json").write_text(dumps(describe(e, model)))
        print(f"{path}  {path.stat().st_size} bytes")
    index = {"models": [{"name": e.name, "model": f"{e.name}.onnx", "json": f"{e.name}.json",
                         "arch": e.arch, "bug": e.is_bug, "twin": f"{e.twin}.onnx" if e.twin else None}
                        for e in ENTRIES]}
    (a.out / "index.json").write_text(dumps(index))
    return 0


if __name__ == "__main__":
    sys.exit(main())
