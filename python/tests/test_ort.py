"""The ONNX Runtime harness (onnxruntime-node through ort_run.js)."""

import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper

from mrope import ort

DTYPES = [(np.float32, T.FLOAT), (np.float16, T.FLOAT16), (np.int64, T.INT64), (np.int32, T.INT32),
          (np.bool_, T.BOOL), (np.float64, T.DOUBLE), (np.uint8, T.UINT8)]


@pytest.fixture(scope="module")
def identity_model(tmp_path_factory):
    nodes, ins, outs = [], [], []
    for i, (_, et) in enumerate(DTYPES):
        nodes.append(helper.make_node("Identity", [f"x{i}"], [f"y{i}"]))
        ins.append(helper.make_tensor_value_info(f"x{i}", et, None))
        outs.append(helper.make_tensor_value_info(f"y{i}", et, None))
    nodes.append(helper.make_node("Sin", ["a"], ["sin_a"]))
    ins.append(helper.make_tensor_value_info("a", T.FLOAT, ["n"]))
    outs.append(helper.make_tensor_value_info("sin_a", T.FLOAT, ["n"]))
    m = helper.make_model(helper.make_graph(nodes, "ids", ins, outs), opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    p = tmp_path_factory.mktemp("ort") / "identity.onnx"
    onnx.save(m, p)
    return p


def _feeds(rng, shape):
    f = {}
    for i, (dt, _) in enumerate(DTYPES):
        if dt == np.bool_:
            f[f"x{i}"] = rng.integers(0, 2, shape).astype(bool)
        elif np.issubdtype(dt, np.integer):
            info = np.iinfo(dt)
            f[f"x{i}"] = rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True)
        else:
            f[f"x{i}"] = rng.standard_normal(shape).astype(dt)
    f["a"] = np.array([0.5, 32768.0, 131072.0], np.float32)
    return f


def test_version(ort_ready):
    assert ort.version() == "1.30.0"


@pytest.mark.parametrize("shape", [(2, 3), (4,), (1, 0, 3), ()])
def test_dtype_round_trip(ort_ready, identity_model, shape):
    feeds = _feeds(np.random.default_rng(0), shape)
    out = ort.run(identity_model, feeds)
    for i, (dt, _) in enumerate(DTYPES):
        y = out[f"y{i}"]
        assert y.dtype == np.dtype(dt) and y.shape == tuple(shape)
        np.testing.assert_array_equal(y, feeds[f"x{i}"])
    # the bundled linux-x64 CPU library really computes: sin of large f32 arguments
    np.testing.assert_allclose(out["sin_a"], np.sin(feeds["a"].astype(np.float64)), atol=1e-6)


def test_run_many_and_output_selection(ort_ready, identity_model):
    rng = np.random.default_rng(1)
    fs = [_feeds(rng, (2,)), _feeds(rng, (5,))]
    outs = ort.run_many(identity_model, fs, outputs=["y2", "sin_a"])
    assert [sorted(o) for o in outs] == [["sin_a", "y2"]] * 2
    for f, o in zip(fs, outs):
        np.testing.assert_array_equal(o["y2"], f["x2"])


def test_runtime_errors_are_reported(ort_ready, identity_model):
    with pytest.raises(ort.OrtError):
        ort.run(identity_model, {"nope": np.zeros(1, np.float32)})


def test_missing_install_message(tmp_path, monkeypatch):
    monkeypatch.setattr(ort, "node_modules", lambda: None)
    with pytest.raises(ort.OrtNotInstalled, match="scripts/setup.sh"):
        ort.run(__file__, {})
    # the node script alone, away from any node_modules
    script = tmp_path / "ort_run.js"
    shutil.copy(os.path.join(os.path.dirname(ort.__file__), "ort_run.js"), script)
    env = dict(os.environ, MROPE_NODE_MODULES=str(tmp_path / "empty"))
    p = subprocess.run(["node", str(script), str(tmp_path)], capture_output=True, text=True, env=env)
    assert p.returncode == 2 and "scripts/setup.sh" in p.stderr


def test_cli(ort_ready, identity_model, tmp_path):
    feeds = _feeds(np.random.default_rng(2), (3,))
    np.savez(tmp_path / "in.npz", **feeds)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(ort.__file__)))
    cmd = [sys.executable, "-m", "mrope.ort", str(identity_model), "--feeds", str(tmp_path / "in.npz"),
           "--out", str(tmp_path / "out.npz")]
    assert subprocess.run(cmd, env=env).returncode == 0
    with np.load(tmp_path / "out.npz") as z:
        np.testing.assert_array_equal(z["y0"], feeds["x0"])
        np.savez(tmp_path / "want.npz", y0=z["y0"] + 1e-3)
    ok = subprocess.run(cmd[:-2] + ["--compare", str(tmp_path / "want.npz"), "--atol", "1e-2"], env=env)
    bad = subprocess.run(cmd[:-2] + ["--compare", str(tmp_path / "want.npz"), "--atol", "1e-4"], env=env,
                         capture_output=True)
    assert ok.returncode == 0 and bad.returncode == 1
