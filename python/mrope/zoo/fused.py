"""Zoo models whose RoPE is one fused ONNX Runtime op, built with onnx.helper.

``python -m mrope.zoo.fused --out test/models/zoo-fused`` writes ``NAME.onnx``
+ ``NAME.json`` for every entry below and an ``index.json`` (the format of the
torch zoo's). They live in their own folder: the torch zoo's checks feed
decoders by name and know nothing of GroupQueryAttention's inputs.

Each model is a small decoder (2 layers, hidden 32, 2 heads of 32 channels):
q/k/v projections, RoPE on q and k by a fused op, softmax attention, output
projection with a residual.  The cos/sin caches are ``[64, F]`` f32
initializers, ``cos(f32(p) * inv_freq)`` for p < 64 (Qwen2-VL text theta
1e6).  A bug model and its twin share every weight and cache; they differ
only in how the positions reach the rotation:

* ``fused_ms_rotary_bug``: ``com.microsoft.RotaryEmbedding`` with 1D
  ``position_ids [B, S]`` in a Qwen2-VL decoder (the bug in its most
  deployable spelling); twin ``fused_ms_mrotary`` (``MRotaryEmbedding``,
  ``position_ids [3, B, S]``, sections [4, 6, 6]).
* ``fused_ms_mrotary_expand_bug``: ``MRotaryEmbedding`` fed three rows
  Expanded from one ``[B, S]`` input (degenerate M-RoPE).
* ``fused_onnx23_bug``: opset-23 ``RotaryEmbedding`` with 1D positions; twin
  ``fused_onnx23_mrope``: the same op fed per-token caches merged in the
  graph the way Hugging Face merges sections (Gather by the three rows,
  Split into sections, row j of chunk j, Concat).
* ``fused_gqa_bug``: ``GroupQueryAttention`` with ``do_rotary = 1`` (positions
  implicit: past length + token index), KV cache inputs/outputs, 2 query and
  1 KV head; twin ``fused_gqa_mrope``: ``MRotaryEmbedding`` on query and key,
  then ``GroupQueryAttention`` without rotary.
* ``fused_qwen3_gptj_bug`` / ``fused_qwen3_mrotary``: Qwen3-VL interleaved
  sections [6, 5, 5] with GPT-J pairs; ``fused_onnx23_partial_bug`` /
  ``fused_onnx23_partial_mrope``: partial rotary (16 of 32 channels,
  sections [2, 3, 3]).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .. import reference as ref
from . import feeds as zoo_feeds

HIDDEN, HEADS, HEAD_DIM, LAYERS, MAX_POS = 32, 2, 32, 2, 64
THETA = 1e6


@dataclass
class Fused:
    name: str
    description: str
    arch: str
    rope: str                       # ms | ms_m | ms_m_expand | o23 | o23_mrope | gqa | gqa_mrope
    twin: Optional[str] = None
    sections: tuple = (4, 6, 6)
    interleaved: bool = False       # Qwen3-VL section order
    gptj: bool = False
    rotary_dim: int = HEAD_DIM
    kv_heads: int = HEADS
    seed: int = 1

    @property
    def opset(self) -> int:
        return 23 if self.rope.startswith("o23") else 17

    @property
    def is_bug(self) -> bool:
        return self.twin is not None

    @property
    def gqa(self) -> bool:
        return self.rope.startswith("gqa")

    @property
    def positions_kind(self) -> str:
        """positions input: '1d' [B,S], '3d' [3,B,S], or 'none'."""
        if self.rope == "gqa":
            return "none"
        return "1d" if self.rope in ("ms", "ms_m_expand", "o23") else "3d"

    def site(self) -> dict:
        F = self.rotary_dim // 2
        kind = {"ms": "1d", "o23": "1d", "gqa": "1d", "ms_m_expand": "mrope-degenerate"}.get(
            self.rope, "mrope-interleaved" if self.interleaved else "mrope")
        op = {"ms": "com.microsoft.RotaryEmbedding", "o23": "RotaryEmbedding",
              "o23_mrope": "RotaryEmbedding"}.get(
            self.rope, "com.microsoft.GroupQueryAttention" if self.rope == "gqa"
            else "com.microsoft.MRotaryEmbedding")
        return {"positions": kind, "layout": "gptj" if self.gptj else "neox",
                "sections": [F] if kind == "1d" else list(self.sections), "theta": THETA,
                "rotary_dim": self.rotary_dim, "rotations": 2 * LAYERS,
                "interleaved": kind == "mrope-interleaved", "fused_op": op}

    def expected(self) -> dict:
        kind = self.site()["positions"]
        auto = int(kind == "mrope-degenerate")
        declared = auto + int(kind == "1d" and self.arch in ("qwen2-vl", "qwen2.5-vl", "qwen3-vl"))
        return {"auto": {"bugs": auto}, "declared": {"arch": self.arch, "bugs": declared}}


ENTRIES: List[Fused] = [
    Fused("fused_ms_mrotary", "com.microsoft.MRotaryEmbedding with position_ids [3,B,S], sections "
          "[4,6,6]: correct M-RoPE by ONNX Runtime's fused op", "qwen2-vl", "ms_m"),
    Fused("fused_ms_rotary_bug", "the bug as a fused op: com.microsoft.RotaryEmbedding fed 1D "
          "position_ids [B,S] in a Qwen2-VL decoder; weights and caches of fused_ms_mrotary",
          "qwen2-vl", "ms", twin="fused_ms_mrotary"),
    Fused("fused_ms_mrotary_expand_bug", "degenerate M-RoPE by a fused op: MRotaryEmbedding fed "
          "position_ids [B,S] expanded to three identical rows in the graph",
          "qwen2-vl", "ms_m_expand", twin="fused_ms_mrotary"),
    Fused("fused_onnx23_mrope", "opset-23 RotaryEmbedding fed per-token M-RoPE caches merged in "
          "the graph (Gather by position_ids [3,B,S], Split [4,6,6], row j of chunk j, Concat)",
          "qwen2-vl", "o23_mrope"),
    Fused("fused_onnx23_bug", "the bug in standard ONNX: opset-23 RotaryEmbedding with 1D "
          "position_ids [B,S] and [64,16] caches; weights of fused_onnx23_mrope",
          "qwen2-vl", "o23", twin="fused_onnx23_mrope"),
    Fused("fused_gqa_mrope", "MRotaryEmbedding on query and key (position_ids [3,B,S]) before "
          "com.microsoft.GroupQueryAttention without rotary; KV cache, 2 query heads, 1 KV head",
          "qwen2-vl", "gqa_mrope", kv_heads=1),
    Fused("fused_gqa_bug", "the bug inside attention: GroupQueryAttention with do_rotary=1 "
          "(positions implicit from seqlens_k) in a Qwen2-VL decoder; weights of fused_gqa_mrope",
          "qwen2-vl", "gqa", twin="fused_gqa_mrope", kv_heads=1),
    Fused("fused_qwen3_mrotary", "Qwen3-VL interleaved M-RoPE [6,5,5] by MRotaryEmbedding "
          "(mrope_layout=1) with GPT-J pairs",
          "qwen3-vl", "ms_m", sections=(6, 5, 5), interleaved=True, gptj=True),
    Fused("fused_qwen3_gptj_bug", "com.microsoft.RotaryEmbedding with 1D positions and GPT-J pairs "
          "in a Qwen3-VL decoder; weights of fused_qwen3_mrotary",
          "qwen3-vl", "ms", twin="fused_qwen3_mrotary", sections=(6, 5, 5), interleaved=True,
          gptj=True),
    Fused("fused_onnx23_partial_mrope", "opset-23 RotaryEmbedding, partial rotary (16 of 32 "
          "channels), per-token M-RoPE caches [2,3,3] merged in the graph as Hugging Face does",
          "qwen2-vl", "o23_mrope", sections=(2, 3, 3), rotary_dim=16),
    Fused("fused_onnx23_partial_bug", "opset-23 RotaryEmbedding, partial rotary (16 of 32), 1D "
          "position_ids [B,S]; weights of fused_onnx23_partial_mrope",
          "qwen2-vl", "o23", twin="fused_onnx23_partial_mrope", sections=(2, 3, 3), rotary_dim=16),
]
BY_NAME: Dict[str, Fused] = {e.name: e for e in ENTRIES}


def caches(rotary_dim: int):
    """[MAX_POS, F] f32 cos/sin of f32(p) * inv_freq (the reference's angle)."""
    inv = ref.inv_freq(rotary_dim, THETA)
    ang = (np.arange(MAX_POS, dtype=np.float32)[:, None] * inv[None]).astype(np.float32)
    return np.cos(ang.astype(np.float64)).astype(np.float32), np.sin(ang.astype(np.float64)).astype(np.float32)


def build(e: Fused) -> onnx.ModelProto:
    rng = np.random.default_rng(e.seed)
    N, KV, H, R = HEADS, e.kv_heads, HEAD_DIM, e.rotary_dim
    F = R // 2
    nodes, inits = [], []

    def init(name, array):
        inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(op, ins, outs=None, domain="", **attrs):
        name = f"/{op}_{len(nodes)}"
        outs = outs or [name + "_out"]
        nodes.append(helper.make_node(op, ins, outs, name=name, domain=domain, **attrs))
        return outs[0] if len(outs) == 1 else outs

    def ints(name, values):
        return init(name, np.array(values, np.int64))

    cos, sin = caches(R)
    init("cos_cache", cos)
    init("sin_cache", sin)
    rot_attrs = {"interleaved": int(e.gptj)}
    if R != H:
        rot_attrs["rotary_embedding_dim"] = R
    m_attrs = {"mrope_section": list(e.sections), "mrope_layout": int(e.interleaved)}

    inputs = [helper.make_tensor_value_info("inputs_embeds", TensorProto.FLOAT, ["batch", "sequence", HIDDEN])]
    if e.positions_kind == "1d":
        inputs.append(helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "sequence"]))
    elif e.positions_kind == "3d":
        inputs.append(helper.make_tensor_value_info("position_ids", TensorProto.INT64, [3, "batch", "sequence"]))
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "sequence", HIDDEN])]

    pos3 = "position_ids"
    if e.rope == "ms_m_expand":
        shape = node("Shape", ["position_ids"])
        full = node("Concat", [ints("three", [3]), shape], axis=0)
        pos3 = node("Expand", [node("Unsqueeze", ["position_ids", ints("axis0", [0])]), full])
    merged = None
    if e.rope == "o23_mrope":
        def merge(cache):
            g = node("Gather", [cache, "position_ids"], axis=0)               # [3,B,S,F]
            chunks = node("Split", [g, ints(f"split_{cache}", list(e.sections))],
                          outs=[f"{cache}_chunk{j}" for j in range(3)], axis=-1)
            rows = [node("Gather", [c, init(f"row{j}_{cache}", np.array(j, np.int64))], axis=0)
                    for j, c in enumerate(chunks)]
            return node("Concat", rows, axis=-1)
        merged = (merge("cos_cache"), merge("sin_cache"))
    if e.gqa:
        inputs += [helper.make_tensor_value_info("seqlens_k", TensorProto.INT32, ["batch"]),
                   helper.make_tensor_value_info("total_sequence_length", TensorProto.INT32, [])]

    def rotate(x, heads):
        a = dict(rot_attrs, num_heads=heads)
        if e.rope == "ms":
            return node("RotaryEmbedding", [x, "position_ids", "cos_cache", "sin_cache"],
                        domain="com.microsoft", **a)
        if e.rope in ("ms_m", "ms_m_expand", "gqa_mrope"):
            return node("MRotaryEmbedding", [x, pos3, "cos_cache", "sin_cache"],
                        domain="com.microsoft", **a, **m_attrs)
        if e.rope == "o23":
            return node("RotaryEmbedding", [x, "cos_cache", "sin_cache", "position_ids"], **a)
        if e.rope == "o23_mrope":
            return node("RotaryEmbedding", [x, merged[0], merged[1]], **a)
        raise ValueError(e.rope)

    def heads4(x, heads):
        r = node("Reshape", [x, ints(f"shape{heads}", [0, 0, heads, H])])
        return node("Transpose", [r], perm=[0, 2, 1, 3])

    scale = init("scale", np.array(1.0 / np.sqrt(H), np.float32))
    h = "inputs_embeds"
    for l in range(LAYERS):
        w = {k: init(f"layers.{l}.{k}", (rng.standard_normal((HIDDEN, n)) / np.sqrt(HIDDEN)).astype(np.float32))
             for k, n in (("wq", N * H), ("wk", KV * H), ("wv", KV * H))}
        wo = init(f"layers.{l}.wo", (rng.standard_normal((N * H, HIDDEN)) / np.sqrt(N * H)).astype(np.float32))
        q, k, v = (node("MatMul", [h, w[n]]) for n in ("wq", "wk", "wv"))
        if e.gqa:
            pk, pv = f"past_key_values.{l}.key", f"past_key_values.{l}.value"
            inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", KV, "past", H])
                       for n in (pk, pv)]
            outs = [f"/attn_{l}", f"present.{l}.key", f"present.{l}.value"]
            outputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", KV, "total", H])
                        for n in outs[1:]]
            ga = {"num_heads": N, "kv_num_heads": KV}
            if e.rope == "gqa":
                ga.update(do_rotary=1, rotary_interleaved=int(e.gptj))
                ins = [q, k, v, pk, pv, "seqlens_k", "total_sequence_length", "cos_cache", "sin_cache"]
            else:
                ins = [rotate(q, N), rotate(k, KV), v, pk, pv, "seqlens_k", "total_sequence_length"]
            attn = node("GroupQueryAttention", ins, outs=outs, domain="com.microsoft", **ga)[0]
        else:
            q4, k4, v4 = heads4(rotate(q, N), N), heads4(rotate(k, KV), KV), heads4(v, KV)
            kt = node("Transpose", [k4], perm=[0, 1, 3, 2])
            p = node("Softmax", [node("Mul", [node("MatMul", [q4, kt]), scale])], axis=-1)
            o = node("Transpose", [node("MatMul", [p, v4])], perm=[0, 2, 1, 3])
            attn = node("Reshape", [o, ints("shape_out", [0, 0, N * H])])
        h = node("Add", [h, node("MatMul", [attn, wo])], outs=["logits"] if l == LAYERS - 1 else None)

    # Initializers are listed once even when reused (ints() may repeat a name).
    seen, unique = set(), []
    for t in inits:
        if t.name not in seen:
            seen.add(t.name)
            unique.append(t)
    graph = helper.make_graph(nodes, e.name, inputs, outputs, unique)
    opsets = [helper.make_opsetid("", e.opset)]
    if any(n.domain == "com.microsoft" for n in nodes):
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="mrope.zoo.fused")
    model.ir_version = 8
    model.doc_string = e.description
    return model


def describe(e: Fused, model: onnx.ModelProto) -> dict:
    def dims(vi):
        return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
    return {
        "model": f"{e.name}.onnx", "description": e.description, "arch": e.arch,
        "twin": f"{e.twin}.onnx" if e.twin else None, "opset": e.opset,
        "inputs": {i.name: dims(i) for i in model.graph.input},
        "outputs": [o.name for o in model.graph.output], "output": "logits",
        "bug": e.is_bug, "sites": [e.site()], "expected": e.expected(),
        "generator": "python -m mrope.zoo.fused (python/mrope/zoo/fused.py)",
    }


def decoder_feeds(inputs: Dict[str, list], B: int, S: int, seed: int = 0) -> Dict[str, np.ndarray]:
    """The decoder's own inputs among ``inputs`` (name -> dims), positions left out:
    embeddings, GroupQueryAttention's sequence lengths, empty past KV caches."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in inputs.items():
        if name == "inputs_embeds":
            out[name] = rng.standard_normal((B, S, HIDDEN)).astype(np.float32)
        elif name == "seqlens_k":
            out[name] = np.full((B,), S - 1, np.int32)
        elif name == "total_sequence_length":
            out[name] = np.array(S, np.int32)
        elif name.startswith("past_key_values"):
            out[name] = np.zeros((B, shape[1], 0, shape[3]), np.float32)
    return out


def feeds(desc: dict, kind: str = "multimodal", seed: int = 0) -> Dict[str, np.ndarray]:
    """Inputs for a model of this module (or a fixed copy) from its declared inputs.

    ``kind="multimodal"``: true 3D positions of the zoo's batch (unpadded:
    GroupQueryAttention's implicit positions ignore padding) for a
    ``[3,B,S]`` input, ``cumsum`` 1D positions for a ``[B,S]`` one.
    ``kind="text"``: the text-only batch, three equal rows for ``[3,B,S]``.
    """
    pos3, _ = zoo_feeds.positions_3d(kind, padded=False, kv=False)
    B, S = pos3.shape[1:]
    out = decoder_feeds(desc["inputs"], B, S, seed)
    for name, shape in desc["inputs"].items():
        if name.startswith("position_ids"):
            out[name] = pos3 if len(shape) == 3 else np.tile(np.arange(S, dtype=np.int64), (B, 1))
        elif name not in out:
            raise KeyError(f"no feed for input {name!r}")
    return out


def dumps(obj) -> str:
    from .generate import dumps as _dumps
    return _dumps(obj)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path)
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    for e in ENTRIES:
        model = build(e)
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
