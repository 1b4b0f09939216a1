"""The exporter-spelling zoo (mrope.zoo.spellings): committed files are what the
generator writes, every model runs in ONNX Runtime, the correct models compute
the reference M-RoPE / vision 2D RoPE (numpy, mrope.reference), and every bug
model differs from its twin on multimodal positions but agrees on text."""

import json

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from mrope import reference as ref
from mrope.zoo import spellings as sp

from conftest import REPO

ZOO = REPO / "test" / "models" / "zoo-spellings"


def _desc(name):
    return json.loads((ZOO / f"{name}.json").read_text())


def _inits(name):
    m = onnx.load(str(ZOO / f"{name}.onnx"))
    return {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}


def test_committed_models_are_generated(tmp_path):
    sp.main(["--out", str(tmp_path)])
    for f in sorted(ZOO.iterdir()):
        assert (tmp_path / f.name).read_bytes() == f.read_bytes(), f.name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in ZOO.iterdir())


def _softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def _decoder_reference(name, feeds, pos3):
    """numpy forward of a correct decoder of the zoo with the reference M-RoPE."""
    w = _inits(name)
    inv = w["model.inv_freq"]
    h = feeds["inputs_embeds"].astype(np.float32)
    B, S, _ = h.shape
    N, H = sp.HEADS, sp.HEAD_DIM
    for l in range(sp.LAYERS):
        def heads(x):
            return x.reshape(B, S, N, H).transpose(0, 2, 1, 3)
        q, k, v = (heads(h @ w[f"layers.{l}.{n}"]) for n in ("wq", "wk", "wv"))
        q, k = (ref.apply_rope(x, pos3, sections=sp.SECTIONS, theta=sp.THETA, inv_freq=inv) for x in (q, k))
        p = _softmax((q @ k.transpose(0, 1, 3, 2)) / np.sqrt(H))
        o = (p @ v).transpose(0, 2, 1, 3).reshape(B, S, N * H)
        h = h + o @ w[f"layers.{l}.wo"]
    return h


def _vision_reference(name, feeds):
    w = _inits(name)
    inv = w["rotary_pos_emb.inv_freq"]
    hw = ref.vision_positions(feeds["grid_thw"])
    h = feeds["hidden_states"]
    N, D = sp.V_HEADS, sp.V_HEAD_DIM
    for b in range(sp.V_BLOCKS):
        qkv = (h @ w[f"blocks.{b}.attn.qkv.weight"] + w[f"blocks.{b}.attn.qkv.bias"]).reshape(-1, 3, N, D)
        q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]
        q, k = (ref.apply_vision_rope(x, hw, theta=sp.V_THETA, inv_freq=inv) for x in (q, k))
        p = _softmax(q.transpose(1, 0, 2) @ k.transpose(1, 2, 0) / np.sqrt(D))
        o = (p @ v.transpose(1, 0, 2)).transpose(1, 0, 2).reshape(-1, N * D)
        h = h + o @ w[f"blocks.{b}.attn.proj.weight"]
    return h


# The reference evaluates cos/sin in float64 on the f32 angle and multiplies in a
# different order than ONNX Runtime's f32 kernels; two attention layers of O(1)
# activations stay within 1e-4 of each other (observed: about 1e-6).
REF_TOL = 1e-4


@pytest.mark.parametrize("name", [e.name for e in sp.ENTRIES if not e.is_bug])
def test_correct_model_equals_reference(ort_ready, name):
    desc = _desc(name)
    for kind in ("multimodal", "qwen25", "late"):
        feeds = sp.feeds(desc, kind)
        got = ort_ready.run(ZOO / f"{name}.onnx", feeds)[desc["output"]]
        if "hidden_states" in feeds:
            want = _vision_reference(name, feeds)
        else:
            want = _decoder_reference(name, feeds, sp._positions(kind)[0])
        diff = float(np.max(np.abs(got - want)))
        assert diff <= REF_TOL, f"{name} {kind}: |ORT - reference| = {diff:.3g}"


@pytest.mark.parametrize("name", [e.name for e in sp.ENTRIES if e.is_bug])
def test_bug_differs_from_twin_on_multimodal_agrees_on_text(ort_ready, name):
    desc = _desc(name)
    twin = desc["twin"][:-len(".onnx")]
    tdesc = _desc(twin)
    out = desc["output"]

    def diff(kind):
        a = ort_ready.run(ZOO / f"{name}.onnx", sp.feeds(desc, kind))[out]
        b = ort_ready.run(ZOO / f"{twin}.onnx", sp.feeds(tdesc, kind))[out]
        return float(np.max(np.abs(a - b)))
    assert diff("multimodal") > 1e-2
    if "hidden_states" not in desc["inputs"]:
        # The bug is the text rule: on text-only positions it is right (1e-5: same
        # kernels, same weights, only the order of the table computation differs).
        assert diff("text") <= 1e-5
    else:
        # A vision tower has no "text" patches: the flat index is wrong for every image.
        assert diff("text") > 1e-2


def test_descriptions_say_what_to_expect():
    for e in sp.ENTRIES:
        d = _desc(e.name)
        assert d["expected"]["declared"]["arch"] in sp.QWEN_VL
        for s in d["sites"]:
            assert {"positions", "sections", "rotary_dim", "theta", "positions_source"} <= set(s)
        bugs = d["expected"]["declared"]["bugs"]
        assert (bugs > 0) == e.is_bug
        assert d["expected"]["declared"]["check_exit"] == (3 if bugs else 0)
