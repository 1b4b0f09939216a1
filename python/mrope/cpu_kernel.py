"""Load a kernel built by ``mrope-compile --target cpu`` and run it on numpy arrays.

The library exports one C function (see the generated header):

    int NAME(T *q, [T *k,] int64_t q_heads, [int64_t kv_heads,]
             const int64_t *positions, int64_t batch, int64_t seq, int num_threads)

rotating q (and k) in place.  This module compiles such a library into a
temporary folder (or loads an existing one) and calls it through ctypes.
"""
from __future__ import annotations

import ctypes
import os
import subprocess
import tempfile
from typing import Optional, Sequence

import numpy as np

_DTYPES = {"f32": np.float32, "f16": np.float16}


def _find_tool(name: str) -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    build = os.environ.get("MROPE_BUILD_DIR",
                           os.path.join(here, "..", "..", "build"))
    path = os.path.join(build, "bin", name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: build mrope first (scripts/build.sh)")
    return path


class CpuKernel:
    """A compiled fused RoPE kernel: ``kernel(q, k, positions, threads=1)``."""

    def __init__(self, *, sections: Sequence[int], head_dim: int, theta: float,
                 layout: str = "neox", interleaved: bool = False,
                 per_section_freqs: bool = False, q_heads: int = 0,
                 kv_heads: int = 0, dtype: str = "f32", name: str = "mrope_rope",
                 library: Optional[str] = None, workdir: Optional[str] = None):
        self.sections = list(sections)
        self.head_dim = head_dim
        self.two = kv_heads >= 0
        self.dtype = dtype
        if library is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mrope-kernel-", dir=workdir)
            library = os.path.join(self._tmp.name, f"lib{name}.so")
            cmd = [_find_tool("mrope-compile"), "--target", "cpu", "--name", name,
                   "--sections", ",".join(map(str, sections)), "--head-dim", str(head_dim),
                   "--theta", repr(float(theta)), "--layout", layout,
                   "--q-heads", str(q_heads), "--kv-heads", str(kv_heads),
                   "--dtype", dtype, "-o", library]
            if interleaved:
                cmd.append("--interleaved")
            if per_section_freqs:
                cmd.append("--per-section-freqs")
            subprocess.run(cmd, check=True, capture_output=True, text=True)
        self.library = library
        self._lib = ctypes.CDLL(library)
        self._fn = getattr(self._lib, name)
        self._fn.restype = ctypes.c_int

    def __call__(self, q: np.ndarray, k: Optional[np.ndarray], positions: np.ndarray,
                 threads: int = 1) -> None:
        """Rotates q (and k) in place; positions are [axes, B, S] int64."""
        want = np.float32 if self.dtype == "f32" else np.uint16
        arrays = [q] + ([k] if self.two else [])
        for a in arrays:
            if a.dtype != want or not a.flags.c_contiguous or a.ndim != 4:
                raise ValueError(f"tensors must be contiguous [B,H,S,D] {want.__name__}")
        positions = np.ascontiguousarray(positions, dtype=np.int64)
        if positions.ndim == 2:
            positions = positions[None]
        batch, _, seq, _ = q.shape
        if positions.shape != (len(self.sections), batch, seq):
            raise ValueError(f"positions must be [{len(self.sections)}, {batch}, {seq}]")
        ptr = lambda a: a.ctypes.data_as(ctypes.c_void_p)
        args = [ptr(q)] + ([ptr(k)] if self.two else [])
        args += [ctypes.c_int64(q.shape[1])] + ([ctypes.c_int64(k.shape[1])] if self.two else [])
        args += [ptr(positions), ctypes.c_int64(batch), ctypes.c_int64(seq), ctypes.c_int(threads)]
        if self._fn(*args) != 0:
            raise ValueError("kernel rejected the sizes (head counts differ from the compiled ones?)")
