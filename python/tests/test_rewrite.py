"""The metamorphic rewriter (mrope.zoo.rewrite): every kind changes the spelling of a zoo
model's RoPE and keeps ONNX Runtime's outputs equal; the equality check catches a rewrite
that is wrong."""

import collections
import json

import numpy as np
import onnx
import pytest

from mrope.zoo import rewrite as rw
from mrope.zoo import spellings as sp

from conftest import REPO

MODELS = REPO / "test" / "models"

# One zoo model per kind where the kind has a place (the torch-exported decoder for the
# Neg+Concat rotate-half with shape-computed halves, the TorchScript tower for Einsum and
# Flatten, the GenAI builder spelling for Gather+Squeeze of a [1] index).
WHERE = {
    "fused_input": "zoo-fused/fused_gqa_mrope",
    "slices_split": "zoo/qwen2vl_mrope",
    "as_function": "zoo/qwen2vl_1d_bug",
    "identity": "zoo-spellings/genai_mrope", "cast_same": "zoo-spellings/dynamo_mrope",
    "commute": "zoo/qwen2vl_mrope", "unsqueeze_reshape": "zoo-spellings/genai_mrope",
    "gather_slice": "zoo-spellings/genai_mrope", "split_slices": "zoo-spellings/dynamo_mrope",
    "concat_tile": "zoo-spellings/ts_vision_2d", "init_constant": "zoo-fused/fused_onnx23_mrope",
    "rotate_half_sign": "zoo/qwen2vl_mrope", "rotate_half_sub": "zoo-spellings/mobile_mrope",
    "sub_neg": "zoo-spellings/mobile_mrope", "outer_product": "zoo-spellings/ts_vision_2d",
    "flatten_reshape": "zoo-spellings/ts_vision_2d", "cast_move": "zoo-spellings/genai_mrope",
}


def test_every_kind_has_a_model():
    assert set(WHERE) == set(rw.KINDS)
    assert len(rw.KINDS) >= 10


def _load(where):
    desc = json.loads((MODELS / f"{where}.json").read_text())
    path = MODELS / f"{where}.onnx"
    feeds = [sp.model_feeds(desc, k, path) for k in ("multimodal", "text")]
    return onnx.load(str(path)), path, feeds


def _ops(model):
    return collections.Counter(n.op_type for n in model.graph.node)


@pytest.mark.parametrize("kind", sorted(WHERE))
def test_kind_changes_spelling_keeps_outputs(ort_ready, tmp_path, kind):
    model, path, feeds = _load(WHERE[kind])
    info = rw.probe(model, feeds[0])
    reference = rw.run_outputs(path, feeds)
    for seed in (0, 1):
        new, applied = rw.rewrite(model, [kind], feeds[0], seed=seed, info=info)
        assert len(applied) == 1 and applied[0].startswith(kind + ":")
        # The spelling changed: another op mix, or (commute, init_constant, cast_move) other edges.
        assert new.SerializeToString() != model.SerializeToString(), applied
        out = tmp_path / f"{kind}_{seed}.onnx"
        out.write_bytes(new.SerializeToString())
        diff = rw.check_equal(path, out, feeds, reference)
        assert diff <= rw.EQUAL_TOL, f"{applied}: |rewritten - original| = {diff}"


def test_structural_effects(ort_ready):
    model, _, feeds = _load("zoo-spellings/ts_vision_2d")
    info = rw.probe(model, feeds[0])
    before = _ops(model)
    new, _ = rw.rewrite(model, ["flatten_reshape"], feeds[0], info=info)
    assert _ops(new)["Flatten"] == before["Flatten"] - 1
    new, _ = rw.rewrite(model, ["concat_tile"], feeds[0], info=info)
    assert _ops(new)["Tile"] == before["Tile"] + 1
    model, _, feeds = _load("zoo-spellings/mobile_mrope")
    info = rw.probe(model, feeds[0])
    new, _ = rw.rewrite(model, ["rotate_half_sub"], feeds[0], info=info)
    assert _ops(new)["Sub"] == _ops(model)["Sub"] + 1
    new, _ = rw.rewrite(model, ["split_slices"], feeds[0], info=info)
    assert _ops(new)["Split"] == _ops(model)["Split"] - 1


def test_not_applicable(ort_ready):
    model, _, feeds = _load("zoo-fused/fused_ms_mrotary")
    with pytest.raises(rw.NotApplicable):
        rw.rewrite(model, ["flatten_reshape"], feeds[0])


def test_combination_keeps_outputs(ort_ready, tmp_path):
    model, path, feeds = _load("zoo-spellings/genai_mrope")
    new, applied = rw.rewrite(model, ["gather_slice", "identity", "split_slices"], feeds[0], seed=5)
    assert len(applied) == 3
    out = tmp_path / "combo.onnx"
    out.write_bytes(new.SerializeToString())
    assert rw.check_equal(path, out, feeds) <= rw.EQUAL_TOL


def test_check_equal_catches_a_wrong_rewrite(ort_ready, tmp_path):
    """A 'rewrite' that swaps the operands of the rotation's Sub is not a rewrite: caught."""
    model, path, feeds = _load("zoo-spellings/mobile_mrope")
    new, _ = rw.rewrite(model, ["rotate_half_sub"], feeds[0], seed=0)
    sub = next(n for n in new.graph.node if n.op_type == "Sub")
    sub.input[0], sub.input[1] = sub.input[1], sub.input[0]
    out = tmp_path / "wrong.onnx"
    out.write_bytes(new.SerializeToString())
    assert rw.check_equal(path, out, feeds) > 1e-2


def test_max_diff_flags_missing_and_reshaped_outputs():
    a = {"y": np.zeros((2, 3), np.float32)}
    assert rw.max_diff(a, {"y": np.zeros((3, 2), np.float32)}) == float("inf")
    assert rw.max_diff(a, {"z": np.zeros((2, 3), np.float32)}) == float("inf")
    assert rw.max_diff(a, {"y": np.full((2, 3), 0.5, np.float32)}) == 0.5
