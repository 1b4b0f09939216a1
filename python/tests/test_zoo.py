"""The committed model zoo: descriptions, twins, determinism, torch rotary vs the reference."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from mrope import reference as ref
from mrope.zoo.spec import BY_NAME, ENTRIES, QWEN_VL_ARCHS

ZOO = Path(__file__).resolve().parents[2] / "test" / "models" / "zoo"
NAMES = [e.name for e in ENTRIES]
POSITION_KINDS = {"1d", "2d", "mrope", "mrope-interleaved", "mrope-degenerate"}
MAX_BYTES = 400_000


def desc(name):
    return json.loads((ZOO / f"{name}.json").read_text())


def load(name):
    return onnx.load(str(ZOO / f"{name}.onnx"))


def test_index_lists_every_model():
    index = json.loads((ZOO / "index.json").read_text())
    assert [m["name"] for m in index["models"]] == NAMES
    on_disk = sorted(p.stem for p in ZOO.glob("*.onnx"))
    assert on_disk == sorted(NAMES)
    for m in index["models"]:
        assert (ZOO / m["model"]).is_file() and (ZOO / m["json"]).is_file()


@pytest.mark.parametrize("name", NAMES)
def test_description_matches_model(name):
    d = desc(name)
    m = load(name)
    onnx.checker.check_model(m)
    assert d["model"] == f"{name}.onnx"
    assert d["arch"] in {"qwen2-vl", "qwen2.5-vl", "qwen3-vl", "text", "vision"}
    assert {o.domain or "": o.version for o in m.opset_import}[""] == d["opset"]
    assert (ZOO / d["model"]).stat().st_size <= MAX_BYTES
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in m.graph.initializer)
    # inputs: names, order, ranks and static sizes
    graph_inputs = {i.name: i for i in m.graph.input}
    assert list(d["inputs"]) == [i.name for i in m.graph.input]
    for n, shape in d["inputs"].items():
        dims = graph_inputs[n].type.tensor_type.shape.dim
        assert len(dims) == len(shape), n
        for want, dim in zip(shape, dims):
            if isinstance(want, int):
                assert dim.dim_value == want, (n, shape)
            else:
                assert dim.dim_param, (n, shape)          # symbolic in the graph
    assert d["outputs"] == [o.name for o in m.graph.output]
    assert d["output"] in d["outputs"]


@pytest.mark.parametrize("name", NAMES)
def test_sites_and_expectations(name):
    d = desc(name)
    total_bugs_auto = 0
    for s in d["sites"]:
        assert s["positions"] in POSITION_KINDS and s["layout"] in {"neox", "gptj"}
        assert sum(s["sections"]) * 2 == s["rotary_dim"]
        assert s["rotations"] > 0 and s["rotations"] % 2 == 0          # q and k of every layer
        if s["positions"] in ("mrope", "mrope-interleaved", "mrope-degenerate"):
            assert len(s["sections"]) == 3
        if s["positions"] == "mrope-interleaved":
            assert s["interleaved"]
        total_bugs_auto += s["positions"] == "mrope-degenerate"
    exp = d["expected"]
    assert exp["auto"]["bugs"] == total_bugs_auto
    arch = exp["declared"]["arch"]
    ones = sum(s["positions"] == "1d" for s in d["sites"])
    assert exp["declared"]["bugs"] == total_bugs_auto + (ones if arch in QWEN_VL_ARCHS else 0)
    assert d["bug"] == (d["twin"] is not None)
    if d["bug"]:
        assert exp["declared"]["bugs"] > 0
    else:
        assert exp["declared"]["bugs"] == 0 and exp["auto"]["bugs"] == 0
    if name.startswith("decoy_"):
        assert d["sites"] == [] and not d["bug"]


@pytest.mark.parametrize("name", NAMES)
def test_checker_and_strict_shape_inference(name):
    """Every committed model passes the full checker and strict shape inference with its declared
    inputs (what a fixed model must also pass before it is written)."""
    m = load(name)
    onnx.checker.check_model(m, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
    out = {o.name: o for o in inferred.graph.output}
    assert out[desc(name)["output"]].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


@pytest.mark.parametrize("name", ["qwen2vl_const_table_mrope", "qwen2vl_const_table_1d_bug",
                                  "qwen2vl_gptj_mrope", "qwen2vl_gptj_1d_bug"])
def test_cos_sin_tables_live_in_constant_nodes(name):
    """The gathered cos/sin (or sin|cos) tables are Constant nodes, not initializers: the spelling
    torch.onnx.export writes for non-persistent buffers."""
    m = load(name)
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in m.graph.node
              if n.op_type == "Constant"}
    inits = {t.name for t in m.graph.initializer}
    tables = [n.input[0] for n in m.graph.node if n.op_type == "Gather" and n.input[1] == "position_ids"]
    assert tables, "no Gather by position_ids"
    for t in tables:
        assert t in consts and t not in inits
        assert consts[t].shape == (256, 32 if "const_table" in name else 16)


def _graph_position_rank(m):
    for i in m.graph.input:
        if i.name == "position_ids":
            return len(i.type.tensor_type.shape.dim)
    return None


@pytest.mark.parametrize("name", NAMES)
def test_position_inputs_match_site_kind(name):
    d = desc(name)
    rank = _graph_position_rank(load(name))
    kinds = {s["positions"] for s in d["sites"]}
    if kinds & {"mrope", "mrope-interleaved"}:
        assert rank == 3
    if "mrope-degenerate" in kinds:
        assert rank in (2, None)
    if d["arch"] == "text" and d["sites"]:
        assert rank in (2, None)


def _weights(m):
    """Learned weights: float initializers with at least 2 elements, as a sorted list of bytes."""
    out = []
    for t in m.graph.initializer:
        a = numpy_helper.to_array(t)
        if a.dtype == np.float32 and a.size >= 2:
            out.append(a.tobytes())
    return sorted(out)


@pytest.mark.parametrize("name", [e.name for e in ENTRIES if e.twin])
def test_twin_has_identical_weights(name):
    d = desc(name)
    twin = d["twin"][:-len(".onnx")]
    td = desc(twin)
    assert td["twin"] is None and not td["bug"]
    assert td["arch"] == d["arch"]
    assert td["outputs"] == d["outputs"]
    assert _weights(load(name)) == _weights(load(twin))


def test_generator_is_deterministic(tmp_path):
    """Regenerating the whole zoo reproduces every committed file byte for byte."""
    python_dir = Path(__file__).resolve().parents[1]
    p = subprocess.run([sys.executable, "-m", "mrope.zoo.generate", "--out", str(tmp_path)], cwd=python_dir,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    committed = sorted(f.name for f in ZOO.iterdir())
    assert sorted(f.name for f in tmp_path.iterdir()) == committed
    for f in committed:
        assert (tmp_path / f).read_bytes() == (ZOO / f).read_bytes(), f


# ---------------------------------------------------------------------------
# the torch rotary modules against the numpy reference
# ---------------------------------------------------------------------------

torch = pytest.importorskip("torch")


def _positions(rng, rows, B=2, S=7):
    return rng.integers(0, 4000, (rows, B, S)).astype(np.int64)


@pytest.mark.parametrize("name", ["qwen2vl_mrope", "qwen2vl_small_mrope", "qwen3vl_mrope"])
def test_torch_mrope_tables_equal_reference(name):
    from mrope.zoo.generate import build
    from mrope.zoo.models import merge_mrope_sections
    e = BY_NAME[name]
    s = e.sites[0]
    model = build(e)
    pos = _positions(np.random.default_rng(0), 3)
    x = torch.zeros(1)
    cos, sin = model.rotary_emb(x, torch.from_numpy(pos))
    if e.config.rope == "mrope":
        cos, sin = merge_mrope_sections(cos, sin, e.config.sections)
    inv = model.rotary_emb.inv_freq.numpy()
    rc, rs = ref.cos_sin(pos, sections=s["sections"], theta=s["theta"], interleaved=s["interleaved"], inv_freq=inv)
    # Same f32 angles bit for bit; torch's f32 cos/sin vs the correctly rounded value: <= 1 ulp.
    np.testing.assert_allclose(cos.numpy(), rc, rtol=0, atol=1.2e-7)
    np.testing.assert_allclose(sin.numpy(), rs, rtol=0, atol=1.2e-7)
    # ... and the reference's own inv_freq (no graph constant) is within 2 ulp of torch's.
    f = ref.inv_freq(s["rotary_dim"], s["theta"])
    assert np.max(np.abs(f.view(np.int32) - inv.view(np.int32))) <= 2


def test_torch_text_and_vision_tables_equal_reference():
    from mrope.zoo.generate import build
    rng = np.random.default_rng(1)
    pos = _positions(rng, 1)[0]
    m = build(BY_NAME["text_rope"])
    c, s = m.rotary_emb(torch.zeros(1), torch.from_numpy(pos))
    rc, rs = ref.cos_sin(pos[None], sections=[16], theta=1e6, inv_freq=m.rotary_emb.inv_freq.numpy())
    np.testing.assert_allclose(c.numpy(), rc, rtol=0, atol=1.2e-7)
    m = build(BY_NAME["text_rope_gptj"])
    c, s = m.rotary_emb(torch.zeros(1), torch.from_numpy(pos % 256))
    rc, rs = ref.cos_sin((pos % 256)[None], sections=[8], theta=1e6, layout="gptj",
                         inv_freq=m.rotary_emb.inv_freq.numpy())
    np.testing.assert_allclose(c.numpy(), rc[..., 0::2], rtol=0, atol=1.2e-7)
    np.testing.assert_allclose(s.numpy(), rs[..., 0::2], rtol=0, atol=1.2e-7)
    m = build(BY_NAME["vision_rope2d"])
    hw = ref.vision_positions([[1, 4, 6], [2, 6, 2]])
    c, s = m.rotary(torch.zeros(hw.shape[0], 80), torch.from_numpy(hw))
    rc, rs = ref.vision_cos_sin(hw, head_dim=80, inv_freq=m.rotary_pos_emb.inv_freq.numpy())
    np.testing.assert_allclose(c.numpy(), rc, rtol=0, atol=1.2e-7)
    np.testing.assert_allclose(s.numpy(), rs, rtol=0, atol=1.2e-7)


def test_qwen3_feeds_write_one_block_per_frame():
    """feeds.batch(arch="qwen3-vl"): row 1's video as the Qwen3-VL processor writes it, positions
    by rope_index(arch="qwen3-vl"); the default batch is unchanged by the arch argument's existence."""
    from mrope.zoo import feeds as F
    ids, mask, grids = F.batch("multimodal", True, "qwen3-vl")
    assert ids.shape == (2, 14) and grids["video_grid_thw"].tolist() == [[2, 2, 4]]
    pos, _ = F.positions_3d("multimodal", True, False, "qwen3-vl")
    np.testing.assert_array_equal(pos[:, 1], [[1, 1, 0, 1, 2, 3, 3, 5, 6, 7, 8, 8, 10, 11],
                                              [1, 1, 0, 1, 2, 3, 3, 5, 6, 7, 8, 8, 10, 11],
                                              [1, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]])
    legacy, _ = F.positions_3d("multimodal", True, False)
    np.testing.assert_array_equal(legacy[:, 1, 2:6], [[0, 1, 2, 2], [0, 1, 2, 2], [0, 1, 2, 3]])
