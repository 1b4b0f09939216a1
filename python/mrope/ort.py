"""Run ONNX models in ONNX Runtime on numpy inputs.

The runtime is ``onnxruntime-node@1.30.0`` from npm (installed with
``npm install --ignore-scripts`` at the repository root by ``scripts/setup.sh``;
its bundled linux-x64 CPU library is used).  Python talks to it through the
small node script ``ort_run.js`` next to this file: tensors travel through a
temporary directory as raw little-endian bytes plus a JSON header.

    from mrope import ort
    out = ort.run("model.onnx", {"x": np.zeros((1, 4), np.float32)})
    outs = ort.run_many("model.onnx", [feeds0, feeds1])   # one session, several runs

Environment: ``MROPE_NODE_MODULES`` (a node_modules folder holding
onnxruntime-node; default: the nearest ``node_modules`` above this file),
``MROPE_NODE`` (the node binary; default ``node`` on PATH).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

__all__ = ["OrtNotInstalled", "OrtError", "available", "node_modules", "run", "run_many", "version"]

_SCRIPT = Path(__file__).with_name("ort_run.js")

_DTYPES = {
    np.dtype(np.float32): "float32", np.dtype(np.float64): "float64", np.dtype(np.float16): "float16",
    np.dtype(np.int64): "int64", np.dtype(np.int32): "int32", np.dtype(np.int16): "int16",
    np.dtype(np.int8): "int8", np.dtype(np.uint64): "uint64", np.dtype(np.uint32): "uint32",
    np.dtype(np.uint16): "uint16", np.dtype(np.uint8): "uint8", np.dtype(np.bool_): "bool",
}
_NP = {v: k for k, v in _DTYPES.items()}


class OrtNotInstalled(RuntimeError):
    """onnxruntime-node (or node itself) is missing."""


class OrtError(RuntimeError):
    """ONNX Runtime rejected the model or the inputs."""


def node_modules() -> Optional[Path]:
    """The node_modules folder holding onnxruntime-node, or None."""
    env = os.environ.get("MROPE_NODE_MODULES")
    cands = [Path(env)] if env else []
    cands += [p / "node_modules" for p in Path(__file__).resolve().parents]
    for c in cands:
        if (c / "onnxruntime-node" / "package.json").is_file():
            return c
    return None


def _node() -> str:
    node = os.environ.get("MROPE_NODE") or shutil.which("node")
    if not node:
        raise OrtNotInstalled("node is not on PATH (apt-get install nodejs), or set MROPE_NODE")
    return node


def available() -> bool:
    try:
        _node()
    except OrtNotInstalled:
        return False
    return node_modules() is not None


def version() -> str:
    nm = node_modules()
    if nm is None:
        raise OrtNotInstalled(_missing())
    return json.loads((nm / "onnxruntime-node" / "package.json").read_text())["version"]


def _missing() -> str:
    return ("onnxruntime-node is not installed: run scripts/setup.sh (it runs "
            "`npm install --ignore-scripts` at the repository root), or set MROPE_NODE_MODULES "
            "to a node_modules folder holding onnxruntime-node@1.30.0")


def run(model_path, inputs: Dict[str, np.ndarray], outputs: Optional[Sequence[str]] = None,
        *, optimization: str = "all", timeout: float = 300) -> Dict[str, np.ndarray]:
    """Run ``model_path`` once on ``inputs`` (name -> numpy array); return name -> array.

    ``outputs`` selects output names (default: all, in graph order).
    ``optimization`` is ONNX Runtime's graph optimization level:
    ``"disabled" | "basic" | "extended" | "all"`` (ORT's default is ``"all"``).
    """
    return run_many(model_path, [inputs], outputs, optimization=optimization, timeout=timeout)[0]


def run_many(model_path, feeds: Iterable[Dict[str, np.ndarray]], outputs: Optional[Sequence[str]] = None,
             *, optimization: str = "all", timeout: float = 300) -> List[Dict[str, np.ndarray]]:
    """Like :func:`run` for several input sets, with one session (one node process)."""
    feeds = list(feeds)
    model_path = Path(model_path).resolve()
    if not model_path.is_file():
        raise FileNotFoundError(model_path)
    nm = node_modules()
    if nm is None:
        raise OrtNotInstalled(_missing())
    node = _node()
    with tempfile.TemporaryDirectory(prefix="mrope-ort-") as tmp:
        tmpd = Path(tmp)
        runs = []
        k = 0
        for feed in feeds:
            ins = []
            for name, arr in feed.items():
                arr = np.asarray(arr)
                dt = _DTYPES.get(arr.dtype)
                if dt is None:
                    raise TypeError(f"input {name!r}: unsupported dtype {arr.dtype}")
                f = f"in{k}.bin"
                k += 1
                np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tofile(tmpd / f)
                ins.append({"name": name, "dtype": dt, "shape": [int(s) for s in arr.shape], "file": f})
            runs.append({"inputs": ins, "outputs": list(outputs) if outputs is not None else None})
        req = {"model": str(model_path), "runs": runs,
               "options": {"graphOptimizationLevel": optimization}}
        (tmpd / "request.json").write_text(json.dumps(req))
        env = dict(os.environ, MROPE_NODE_MODULES=str(nm))
        proc = subprocess.run([node, str(_SCRIPT), str(tmpd)], capture_output=True, text=True,
                              env=env, timeout=timeout)
        if proc.returncode == 2:
            raise OrtNotInstalled(proc.stderr.strip() or _missing())
        if proc.returncode != 0:
            raise OrtError(f"ONNX Runtime failed on {model_path}:\n{proc.stderr.strip()}")
        resp = json.loads((tmpd / "response.json").read_text())
        results = []
        for r in resp["runs"]:
            out = {}
            for o in r["outputs"]:
                dt = _NP.get(o["dtype"])
                if dt is None:
                    raise OrtError(f"output {o['name']!r}: unsupported dtype {o['dtype']}")
                a = np.fromfile(tmpd / o["file"], dtype=dt.newbyteorder("<")).astype(dt, copy=False)
                out[o["name"]] = a.reshape(o["shape"])
            results.append(out)
        return results


def main(argv=None) -> int:
    """``python -m mrope.ort MODEL --feeds in.npz [--out out.npz] [--compare ref.npz --atol A]``."""
    import argparse
    ap = argparse.ArgumentParser(prog="python -m mrope.ort", description="run an ONNX model in ONNX Runtime")
    ap.add_argument("model")
    ap.add_argument("--feeds", required=True, help=".npz with one array per input name")
    ap.add_argument("--out", help="write all outputs to this .npz")
    ap.add_argument("--outputs", nargs="*", help="output names (default: all)")
    ap.add_argument("--optimization", default="all", choices=["disabled", "basic", "extended", "all"])
    ap.add_argument("--compare", help=".npz of expected outputs: exit 1 if any differs by more than --atol")
    ap.add_argument("--atol", type=float, default=0.0)
    a = ap.parse_args(argv)
    with np.load(a.feeds) as z:
        feeds = {k: z[k] for k in z.files}
    out = run(a.model, feeds, a.outputs, optimization=a.optimization)
    if a.out:
        np.savez(a.out, **out)
    rc = 0
    if a.compare:
        with np.load(a.compare) as z:
            for k in z.files:
                if k not in out:
                    continue
                e = z[k]
                if e.shape != out[k].shape:
                    print(f"{k}: shape {out[k].shape} != expected {e.shape}")
                    rc = 1
                    continue
                diff = float(np.max(np.abs(out[k].astype(np.float64) - e.astype(np.float64)))) if e.size else 0.0
                ok = diff <= a.atol
                print(f"{k}: max abs diff {diff:.3g} {'<=' if ok else '>'} {a.atol:g}")
                rc |= 0 if ok else 1
    if not a.out and not a.compare:
        for k, v in out.items():
            print(f"{k}: {v.dtype} {list(v.shape)}")
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
