"""Python entry points of the mrope tools: ``analyze``, ``fix`` and ``report``.

They run the ``mrope-fix`` binary and return its JSON report as a dict, so
Python users get exactly what the command line gives. The binary is looked up
in this order (:func:`find_tool`):

1. ``PATH`` (an ``apt install ./mrope_*.deb`` puts it in ``/usr/bin``);
2. an install prefix: ``$MROPE_PREFIX/bin`` (``cmake --install build --prefix P``);
3. a build tree: ``$MROPE_BUILD_DIR/bin``, else the ``build/bin`` of the
   source checkout this package was imported from.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from typing import List, Optional, Sequence


class MRopeError(RuntimeError):
    """mrope-fix refused the model; the message is its error line."""


def _build_dirs() -> List[str]:
    if os.environ.get("MROPE_BUILD_DIR"):
        return [os.environ["MROPE_BUILD_DIR"]]
    here = os.path.dirname(os.path.abspath(__file__))
    return [os.path.normpath(os.path.join(here, "..", "..", "build"))]


def find_tool(name: str = "mrope-fix") -> str:
    """Path of an mrope tool: PATH, then ``$MROPE_PREFIX/bin``, then the build tree."""
    found = shutil.which(name)
    if found:
        return found
    looked = [f"PATH ({name} not on it)"]
    prefix = os.environ.get("MROPE_PREFIX")
    if prefix:
        candidate = os.path.join(prefix, "bin", name)
        if os.access(candidate, os.X_OK):
            return candidate
        looked.append(f"MROPE_PREFIX ({candidate})")
    else:
        looked.append("MROPE_PREFIX (not set)")
    for build in _build_dirs():
        candidate = os.path.join(build, "bin", name)
        if os.access(candidate, os.X_OK):
            return candidate
        looked.append(f"the build tree ({candidate})")
    raise FileNotFoundError(
        f"{name} not found; looked in " + ", ".join(looked) +
        ". Install mrope (apt install ./mrope_*.deb, or cmake --install build --prefix P and "
        "set MROPE_PREFIX=P), or build it (scripts/build.sh) and set MROPE_BUILD_DIR")


def _tool() -> str:
    return find_tool("mrope-fix")


def _run(args: Sequence[str]) -> dict:
    """Runs mrope-fix with ``args`` and returns its JSON report."""
    with tempfile.TemporaryDirectory(prefix="mrope-") as tmp:
        report = os.path.join(tmp, "report.json")
        proc = subprocess.run([_tool(), *args, "--report", report, "-q"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise MRopeError(proc.stderr.strip() or f"mrope-fix exited {proc.returncode}")
        with open(report) as f:
            return json.load(f)


def analyze(path: str, *, arch: str = "auto") -> dict:
    """Find and classify the RoPE sites of an ONNX model.

    Returns the report: ``{"sites": [{"positions", "layout", "sections",
    "theta", "rotary_dim", "rotations", "nodes", "bug", "reason", ...}],
    "summary": {"sites", "rotations", "bugs"}}``.
    """
    return _run([str(path), "--arch", arch])


def fix(path: str, out: str, *, arch: str = "auto",
        sections: Optional[Sequence[int]] = None, positions: str = "input") -> dict:
    """Write a corrected copy of ``path`` to ``out`` and return the report of
    the input (what was found). With ``positions="input"`` the fixed model
    takes ``position_ids`` int64 ``[3, batch, seq]`` (see
    :func:`mrope.reference.rope_index`); with ``"compute"`` it computes them
    from ``input_ids``, ``attention_mask`` and the grids and outputs
    ``rope_deltas``."""
    args = [str(path), "-o", str(out), "--arch", arch, "--positions", positions]
    if sections:
        args += ["--sections", ",".join(str(int(s)) for s in sections)]
    return _run(args)


def report(path: str, html: str, *, arch: str = "auto",
           example_images: Optional[Sequence[Sequence[int]]] = None,
           example_videos: Optional[Sequence[Sequence[int]]] = None) -> dict:
    """Write the HTML report of ``path`` (verdict, sites, the positions
    picture, what the fix would rewrite) to ``html``; returns the JSON report.
    ``example_images`` / ``example_videos``: ``[t, h, w]`` grids (patches) of
    the example prompt drawn in the picture (default: one 1x4x6 image and one
    2x4x4 video)."""
    args = [str(path), "--arch", arch, "--html", str(html)]
    for flag, grids in (("--example-images", example_images), ("--example-videos", example_videos)):
        if grids:
            args += [flag, ",".join(str(int(v)) for g in grids for v in g)]
    return _run(args)
