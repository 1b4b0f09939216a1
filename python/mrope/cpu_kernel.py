"""Load a kernel built by ``mrope-compile --target cpu`` and run it on numpy arrays.

The library exports one C function (see the generated header):

    int NAME(T *q, [T *k,] int64_t q_heads, [int64_t kv_heads,]
             const int64_t *positions, int64_t batch, int64_t seq, int num_threads)

rotating q (and k) in place, stored [B, H, S, D] (``tensor_layout="bhsd"``)
or [B, S, H*D] (``"bshd"``).  This module compiles such a library into a
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
                 tensor_layout: str = "bhsd", cpu: Optional[str] = None,
                 tokens_per_block: int = 0,
                 library: Optional[str] = None, workdir: Optional[str] = None):
        self.sections = list(sections)
        self.head_dim = head_dim
        self.two = kv_heads >= 0
        self.dtype = dtype
        self.tensor_layout = tensor_layout
        if library is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mrope-kernel-", dir=workdir)
            library = os.path.join(self._tmp.name, f"lib{name}.so")
            cmd = [_find_tool("mrope-compile"), "--target", "cpu", "--name", name,
                   "--sections", ",".join(map(str, sections)), "--head-dim", str(head_dim),
                   "--theta", repr(float(theta)), "--pairs", layout,
                   "--layout", tensor_layout, "--tokens-per-block", str(tokens_per_block),
                   "--q-heads", str(q_heads), "--kv-heads", str(kv_heads),
                   "--dtype", dtype, "-o", library]
            if interleaved:
                cmd.append("--interleaved")
            if per_section_freqs:
                cmd.append("--per-section-freqs")
            if cpu:
                cmd += ["--cpu", cpu]
            subprocess.run(cmd, check=True, capture_output=True, text=True)
        self.library = library
        self._lib = ctypes.CDLL(library)
        self._fn = getattr(self._lib, name)
        self._fn.restype = ctypes.c_int

    def __call__(self, q: np.ndarray, k: Optional[np.ndarray], positions: np.ndarray,
                 threads: int = 1) -> None:
        """Rotates q (and k) in place; positions are [axes, B, S] int64.

        bhsd: q, k are [B, H, S, D]; bshd: [B, S, H, D] or [B, S, H*D]."""
        want = np.float32 if self.dtype == "f32" else np.uint16
        arrays = [q] + ([k] if self.two else [])
        token_major = self.tensor_layout == "bshd"
        heads = []
        for a in arrays:
            ok_rank = a.ndim == 4 or (token_major and a.ndim == 3)
            if a.dtype != want or not a.flags.c_contiguous or not ok_rank:
                shape = "[B,S,H*D]" if token_major else "[B,H,S,D]"
                raise ValueError(f"tensors must be contiguous {shape} {want.__name__}")
            if not token_major:
                heads.append(a.shape[1])
            elif a.ndim == 4:
                heads.append(a.shape[2])
            else:
                heads.append(a.shape[2] // self.head_dim)
        positions = np.ascontiguousarray(positions, dtype=np.int64)
        if positions.ndim == 2:
            positions = positions[None]
        batch, seq = (q.shape[0], q.shape[1]) if token_major else (q.shape[0], q.shape[2])
        if positions.shape != (len(self.sections), batch, seq):
            raise ValueError(f"positions must be [{len(self.sections)}, {batch}, {seq}]")
        ptr = lambda a: a.ctypes.data_as(ctypes.c_void_p)
        args = [ptr(q)] + ([ptr(k)] if self.two else [])
        args += [ctypes.c_int64(h) for h in heads]
        args += [ptr(positions), ctypes.c_int64(batch), ctypes.c_int64(seq), ctypes.c_int(threads)]
        if self._fn(*args) != 0:
            raise ValueError("kernel rejected the sizes (head counts differ from the compiled ones?)")
