"""The metamorphic suite's additions: the packed batch feeds (python/mrope/zoo/feeds.py) match
the packed zoo's batch and give per-sample positions; the slices_split rewrite
(mrope.zoo.rewrite) turns rotate_half's two Slices into one Split and keeps ONNX Runtime's
outputs bit for bit."""

import collections
import json

import numpy as np
import onnx

from mrope.positions import position_ids
from mrope.zoo import feeds as zoo_feeds
from mrope.zoo import rewrite as rw
from mrope.zoo import spellings as sp

from conftest import REPO

MODELS = REPO / "test" / "models"


def test_packed_batch_feeds():
    ids, mask, seg, grids = zoo_feeds.packed_batch()
    assert ids.shape == (2, 15) and (mask == (seg > 0)).all()
    packed = json.loads((MODELS / "zoo-packed" / "qwen2vl_packed_bug.json").read_text())
    f, _ = zoo_feeds.decoder_feeds(packed, "packed")
    assert set(f) == {"inputs_embeds", "attention_mask", "segment_ids"}
    assert (f["segment_ids"] == seg).all()
    # Outside the packed kinds a segment_ids model sees one sample per row.
    f, _ = zoo_feeds.decoder_feeds(packed, "multimodal")
    assert (f["segment_ids"] == f["attention_mask"]).all()
    # The twin (position_ids [3,B,S]) gets each sample's positions as if alone.
    twin = json.loads((MODELS / "zoo" / "qwen2vl_mrope.json").read_text())
    f, _ = zoo_feeds.decoder_feeds(twin, "packed")
    want, _ = position_ids(ids, arch="qwen2-vl", attention_mask=mask, segment_ids=seg, **grids)
    assert (f["position_ids"] == want).all()
    # Row 1's second sample (the video one) restarts at 0 after the 2-token sample.
    assert f["position_ids"][0, 1, 2] == 0
    f, _ = zoo_feeds.decoder_feeds(twin, "packed_text")
    assert (f["position_ids"][0] == f["position_ids"][1]).all()


def test_slices_split(ort_ready, tmp_path):
    desc = json.loads((MODELS / "zoo" / "qwen2vl_mrope.json").read_text())
    path = MODELS / "zoo" / "qwen2vl_mrope.onnx"
    feeds = [sp.model_feeds(desc, k, path) for k in ("multimodal", "text")]
    model = onnx.load(str(path))
    info = rw.probe(model, feeds[0])
    reference = rw.run_outputs(path, feeds)
    for seed in (0, 1):
        new, applied = rw.rewrite(model, ["slices_split"], feeds[0], seed=seed, info=info)
        assert applied[0].startswith("slices_split: 2 Slices of ") and applied[0].endswith("Split [64, 64]")
        before, after = collections.Counter(n.op_type for n in model.graph.node), \
            collections.Counter(n.op_type for n in new.graph.node)
        assert after["Split"] == before["Split"] + 1 and after["Slice"] == before["Slice"] - 2
        out = tmp_path / f"split_{seed}.onnx"
        out.write_bytes(new.SerializeToString())
        assert rw.check_equal(path, out, feeds, reference) == 0.0


def test_slices_split_needs_a_tiling(ort_ready):
    # The GenAI spelling's caches are Sliced to D/2 only (no second piece): nothing to split.
    desc = json.loads((MODELS / "zoo-spellings" / "genai_mrope.json").read_text())
    path = MODELS / "zoo-spellings" / "genai_mrope.onnx"
    feeds = sp.model_feeds(desc, "multimodal", path)
    try:
        rw.rewrite(onnx.load(str(path)), ["slices_split"], feeds, seed=0)
    except rw.NotApplicable:
        return
    raise AssertionError("slices_split found a place in genai_mrope")
