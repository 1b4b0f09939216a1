"""The zoo in real ONNX Runtime: correct models match the reference, bug models match their twins
on text and differ on multimodal positions."""

import json
from pathlib import Path

import numpy as np
import pytest

from mrope import ort
from mrope import reference as ref
from mrope.zoo import feeds as F
from mrope.zoo.spec import BY_NAME, ENTRIES

torch = pytest.importorskip("torch")
from mrope.zoo.evaluate import reference_model, torch_run  # noqa: E402
from mrope.zoo.generate import build  # noqa: E402

ZOO = Path(__file__).resolve().parents[2] / "test" / "models" / "zoo"

# ORT vs torch evaluation of the same network: f32 arithmetic in a different order (MatMul
# blocking, fused LayerNorm/Gemm, softmax), on logits of magnitude ~2: observed <= 1e-6.
ATOL_VS_TORCH = 1e-5
# A bug model and its twin on equal positions compute the same f32 cos/sin (three equal rows merge
# to the same table; same f32 products inv_freq * p) and then the same ops on the same weights:
# bit-equal in ONNX Runtime 1.30 CPU; the bound leaves room for a different kernel choice.
ATOL_TWIN = 1e-6
# What the bug does to multimodal tokens: observed 0.04 .. 0.2 on logits of magnitude ~2.
MIN_BUG_EFFECT = 1e-2

BUGS = [e.name for e in ENTRIES if e.twin]
DECODER_BUGS = [n for n in BUGS if BY_NAME[n].arch != "vision"]
WITH_SITES = [e.name for e in ENTRIES if e.sites]


def path(name):
    return ZOO / f"{name}.onnx"


def desc(name):
    return json.loads((ZOO / f"{name}.json").read_text())


def feeds(name, kind="multimodal", **kw):
    return F.feeds_for(desc(name), kind, **kw)


def maxdiff(a, b, keep=None):
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    if keep is not None:
        d = d[keep]
    return float(d.max())


@pytest.mark.parametrize("name", [e.name for e in ENTRIES])
def test_ort_matches_torch(ort_ready, name):
    """Every model runs in ONNX Runtime and agrees with its torch source on multimodal inputs."""
    f, _ = feeds(name)
    got = ort.run(path(name), f)
    want = torch_run(build(BY_NAME[name]), f)
    assert list(got) == desc(name)["outputs"]
    for k in want:
        assert got[k].shape == want[k].shape
        assert maxdiff(got[k], want[k]) <= ATOL_VS_TORCH, k


@pytest.mark.parametrize("name", WITH_SITES)
def test_ort_matches_numpy_rope(ort_ready, name):
    """The exported rotary embedding equals the numpy reference through the whole network:
    ORT's output vs the torch network whose cos/sin come from mrope.reference (inv_freq
    recomputed from theta, positions from rope_index / vision_positions)."""
    f, _ = feeds(name)
    got = ort.run(path(name), f)
    want = torch_run(reference_model(BY_NAME[name]), f)
    for k in want:
        assert maxdiff(got[k], want[k]) <= ATOL_VS_TORCH, k


def _pair(bug, kind, twin_positions="3d"):
    twin = BY_NAME[bug].twin
    fb, keep = feeds(bug, kind)
    ft, keep_t = feeds(twin, kind, padded=keep is not None and not keep.all(), positions=twin_positions)
    # same embeddings, mask and cache; only the positions differ
    for k in fb:
        if k != "position_ids":
            np.testing.assert_array_equal(fb[k], ft[k])
    return ort.run(path(bug), fb)["logits"], ort.run(path(twin), ft)["logits"], keep


@pytest.mark.parametrize("name", DECODER_BUGS)
def test_bug_equals_twin_on_text(ort_ready, name):
    a, b, keep = _pair(name, "text")
    assert maxdiff(a, b, keep) <= ATOL_TWIN


@pytest.mark.parametrize("name", DECODER_BUGS)
def test_bug_differs_from_twin_on_multimodal(ort_ready, name):
    a, b, keep = _pair(name, "multimodal")
    assert maxdiff(a, b, keep) > MIN_BUG_EFFECT
    # row 0 starts with text (1, 2, vision_start): causal attention keeps those tokens identical
    assert maxdiff(a[0, :3], b[0, :3]) <= ATOL_TWIN


@pytest.mark.parametrize("name", DECODER_BUGS)
def test_bug_is_twin_with_1d_positions(ort_ready, name):
    """The whole difference is the positions: the twin fed the bug's 1D positions as three equal
    rows reproduces the bug on the multimodal batch."""
    a, b, keep = _pair(name, "multimodal", twin_positions="1d-as-3d")
    assert maxdiff(a, b, keep) <= ATOL_TWIN


def test_qwen3_decoders_on_the_qwen3_video_layout(ort_ready):
    """On the Qwen3-VL per-frame video layout with Qwen3-VL positions, the correct decoder equals
    the numpy reference and its degenerate bug differs from it (and equals it on text tokens
    before the first image)."""
    f, keep = F.decoder_feeds(desc("qwen3vl_mrope"), arch="qwen3-vl")
    got = ort.run(path("qwen3vl_mrope"), f)["logits"]
    want = torch_run(reference_model(BY_NAME["qwen3vl_mrope"]), f)["logits"]
    assert maxdiff(got, want) <= ATOL_VS_TORCH
    fb, _ = F.decoder_feeds(desc("qwen3vl_expand_bug"), arch="qwen3-vl")
    bug = ort.run(path("qwen3vl_expand_bug"), fb)["logits"]
    assert maxdiff(bug, got, keep) > MIN_BUG_EFFECT
    assert maxdiff(bug[0, :3], got[0, :3]) <= ATOL_TWIN


def test_vision_bug_vs_twin(ort_ready):
    f = feeds("vision_rope2d")[0]
    a = ort.run(path("vision_rope1d_bug"), {"hidden_states": f["hidden_states"]})["last_hidden_state"]
    b = ort.run(path("vision_rope2d"), f)["last_hidden_state"]
    assert maxdiff(a, b) > MIN_BUG_EFFECT
    # one patch at (0, 0): position 0 either way, the rotation is the identity in both
    one = {"hidden_states": f["hidden_states"][:1], "vision_position_ids": np.zeros((1, 2), np.int64)}
    a1 = ort.run(path("vision_rope1d_bug"), {"hidden_states": one["hidden_states"]})["last_hidden_state"]
    b1 = ort.run(path("vision_rope2d"), one)["last_hidden_state"]
    assert maxdiff(a1, b1) <= ATOL_TWIN


GRID_TOWERS = [e.name for e in ENTRIES if getattr(e.config, "positions", None) == "grid"]


@pytest.mark.parametrize("name", GRID_TOWERS)
@pytest.mark.parametrize("grid", [(1, 4, 6), (2, 6, 4), (1, 10, 14), (3, 2, 2)])
def test_grid_towers_compute_hw_for_any_grid(ort_ready, name, grid):
    """The stock towers compute (h, w) (and follow the window order) in the graph: on grids other
    than the one traced at export, ORT equals the torch network with reference tables."""
    f = F.vision_feeds(desc(name), grid, seed=5)
    got = ort.run(path(name), f)["last_hidden_state"]
    want = torch_run(reference_model(BY_NAME[name]), f)["last_hidden_state"]
    assert maxdiff(got, want) <= ATOL_VS_TORCH


def test_window_tower_vs_flat_bug(ort_ready):
    """qwen25vl_vision_window_flat_bug differs from its twin; the twin without the reordering (the
    same blocks on the same patches: full attention is order-free) gives the same output, so the
    window order of the rotary table follows the patches."""
    f = feeds("qwen25vl_vision_window")[0]
    twin = ort.run(path("qwen25vl_vision_window"), f)["last_hidden_state"]
    bug = ort.run(path("qwen25vl_vision_window_flat_bug"),
                  {k: f[k] for k in ("hidden_states", "window_index")})["last_hidden_state"]
    assert maxdiff(bug, twin) > MIN_BUG_EFFECT
    identity = dict(f, window_index=np.arange(f["window_index"].shape[0], dtype=np.int64))
    same = ort.run(path("qwen25vl_vision_window"), identity)["last_hidden_state"]
    assert not np.array_equal(f["window_index"], identity["window_index"])
    assert maxdiff(same, twin) <= ATOL_VS_TORCH


def test_kv_cache_decoding_matches_full_sequence(ort_ready):
    """qwen2vl_mrope_kv: prefill 3 text tokens with an empty cache, then the multimodal batch with
    that cache, equals qwen2vl_mrope on the whole sequence at once."""
    rng = np.random.default_rng(3)
    ids, mask, grids = F.batch("multimodal", padded=False)
    B, S = ids.shape
    P = F.PAST
    full_ids = np.concatenate([np.tile(F.PAST_IDS, (B, 1)), ids], axis=1)
    pos, _ = ref.rope_index(full_ids, **grids)
    x = rng.standard_normal((B, P + S, 32)).astype(np.float32)
    whole = ort.run(path("qwen2vl_mrope"), {"inputs_embeds": x, "attention_mask": np.ones((B, P + S), np.int64),
                                            "position_ids": pos})["logits"]
    empty = {f"past_key_values.{i}.{k}": np.zeros((B, 1, 0, 128), np.float32) for i in range(2)
             for k in ("key", "value")}
    first = ort.run(path("qwen2vl_mrope_kv"), {"inputs_embeds": x[:, :P], "attention_mask": np.ones((B, P), np.int64),
                                               "position_ids": pos[:, :, :P].copy(), **empty})
    cache = {f"past_key_values.{i}.{k}": first[f"present.{i}.{k}"] for i in range(2) for k in ("key", "value")}
    second = ort.run(path("qwen2vl_mrope_kv"), {"inputs_embeds": x[:, P:],
                                                "attention_mask": np.ones((B, P + S), np.int64),
                                                "position_ids": pos[:, :, P:].copy(), **cache})
    assert second["present.0.key"].shape == (B, 1, P + S, 128)
    assert maxdiff(first["logits"], whole[:, :P]) <= ATOL_VS_TORCH
    assert maxdiff(second["logits"], whole[:, P:]) <= ATOL_VS_TORCH


def test_decoys_ignore_positions_or_have_none(ort_ready):
    """The rotate-half decoys have no position input: their output depends on content only."""
    for name in ("decoy_rotate_half_const", "decoy_rotate_half_activation"):
        assert "position_ids" not in desc(name)["inputs"]
        f, _ = feeds(name)
        out = ort.run(path(name), f)["logits"]
        assert np.isfinite(out).all()


def test_cli_flow_for_lit(ort_ready, tmp_path):
    """What a lit test does: standard feeds to .npz, run a model, compare with another's outputs."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    py = [sys.executable, "-m"]

    def sh(*args):
        return subprocess.run(py + list(args), env=env, capture_output=True, text=True)

    twin_json = str(ZOO / "qwen2vl_mrope.json")
    assert sh("mrope.zoo.feeds", twin_json, "--out", str(tmp_path / "f3.npz")).returncode == 0
    assert sh("mrope.zoo.feeds", twin_json, "--positions", "1d-as-3d", "--out", str(tmp_path / "f1.npz")).returncode == 0
    assert sh("mrope.zoo.feeds", str(ZOO / "qwen2vl_1d_bug.json"), "--out", str(tmp_path / "fb.npz")).returncode == 0
    assert sh("mrope.ort", str(path("qwen2vl_mrope")), "--feeds", str(tmp_path / "f3.npz"),
              "--out", str(tmp_path / "want.npz")).returncode == 0
    # the twin on 1D positions (what the bug computes) is far from the correct output ...
    far = sh("mrope.ort", str(path("qwen2vl_mrope")), "--feeds", str(tmp_path / "f1.npz"),
             "--compare", str(tmp_path / "want.npz"), "--atol", "1e-3")
    assert far.returncode == 1, far.stdout
    # ... and so is the bug model on its own inputs
    bug = sh("mrope.ort", str(path("qwen2vl_1d_bug")), "--feeds", str(tmp_path / "fb.npz"),
             "--compare", str(tmp_path / "want.npz"), "--atol", "1e-3")
    assert bug.returncode == 1 and "logits: max abs diff" in bug.stdout
