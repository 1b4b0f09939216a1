"""Python entry points of the mrope tools: ``analyze`` and ``fix``.

They run the ``mrope-fix`` binary of a build (``$MROPE_BUILD_DIR/bin``, the
repository's ``build/bin``, or ``mrope-fix`` on ``PATH``) and return its JSON
report as a dict, so Python users get exactly what the command line gives.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from typing import Optional, Sequence


class MRopeError(RuntimeError):
    """mrope-fix refused the model; the message is its error line."""


def _tool() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = []
    if os.environ.get("MROPE_BUILD_DIR"):
        candidates.append(os.path.join(os.environ["MROPE_BUILD_DIR"], "bin", "mrope-fix"))
    candidates.append(os.path.join(here, "..", "..", "build", "bin", "mrope-fix"))
    for path in candidates:
        if os.path.exists(path):
            return path
    found = shutil.which("mrope-fix")
    if found:
        return found
    raise FileNotFoundError("mrope-fix not found: build mrope (scripts/build.sh) "
                            "or set MROPE_BUILD_DIR")


def _run(args: Sequence[str]) -> dict:
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
