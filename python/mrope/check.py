"""``check_positions``: is this training batch rotated by the right positions?

The Qwen2-VL 1D-positions bug is born in training code: a collator or a
custom forward passes ``arange``-style 1D positions (or three copies of them)
where the model wants 3D M-RoPE positions, and the weights adapt to them.
One call per batch tells whether ``position_ids`` equal what
``get_rope_index`` computes from the same ``input_ids``, mask and grids
(:func:`mrope.reference.rope_index`, the project's ground truth).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from . import reference

ARCHS = ("qwen2-vl", "qwen2.5-vl", "qwen3-vl")
# Qwen2.5-VL's default vision_config.tokens_per_second.
_QWEN25_TOKENS_PER_SECOND = 2


@dataclass
class PositionCheck:
    """The verdict of :func:`check_positions`.

    ``verdict`` is ``"ok"``, ``"1d-degenerate"`` (the three rows are equal
    where M-RoPE needs them to differ: the bug) or ``"mismatch"``. For the
    last two, ``batch``/``token`` name the first differing (unpadded) token and
    ``expected``/``got`` its (t, h, w) positions. ``bool(check)`` is True
    only for ``ok``.
    """
    verdict: str
    batch: Optional[int] = None
    token: Optional[int] = None
    expected: Optional[Tuple[int, int, int]] = None
    got: Optional[Tuple[int, int, int]] = None

    def __bool__(self) -> bool:
        return self.verdict == "ok"

    def __str__(self) -> str:
        if self.verdict == "ok":
            return "ok"
        where = f"batch {self.batch}, token {self.token}: expected (t, h, w) = {self.expected}, got {self.got}"
        if self.verdict == "1d-degenerate":
            return ("1d-degenerate: the three position rows are equal (1D positions) but this "
                    "batch has image/video tokens; first differing token at " + where)
        return "mismatch: " + where


def _numpy(x, name):
    if x is None:
        return None
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.dtype.kind not in "iub":
        raise TypeError(f"{name} must be an integer tensor, got dtype {x.dtype}")
    return x


def expected_positions(input_ids, attention_mask=None, image_grid_thw=None,
                       video_grid_thw=None, *, arch: str = "qwen2-vl", **kwargs):
    """``[3, B, S]`` positions ``get_rope_index`` gives for ``arch``.

    Passes ``arch`` to :func:`mrope.reference.rope_index` when it takes one;
    otherwise maps it here: Qwen2.5-VL scales the temporal row
    (``tokens_per_second=2`` unless given), Qwen3-VL gives every video frame
    its own block (``t`` copies of the grid with ``t=1``, as its
    ``get_rope_index`` does).
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    params = inspect.signature(reference.rope_index).parameters
    if "arch" in params:
        kwargs["arch"] = arch
    elif arch == "qwen2.5-vl":
        kwargs.setdefault("tokens_per_second", _QWEN25_TOKENS_PER_SECOND)
    elif arch == "qwen3-vl" and video_grid_thw is not None:
        grids = np.asarray(video_grid_thw, np.int64).reshape(-1, 3)
        frames = np.repeat(grids, grids[:, 0], axis=0)
        frames[:, 0] = 1
        video_grid_thw = frames
    pos, _ = reference.rope_index(input_ids, image_grid_thw, video_grid_thw,
                                  attention_mask, **kwargs)
    return pos


def check_positions(position_ids, input_ids, attention_mask=None, image_grid_thw=None,
                    video_grid_thw=None, *, arch: str = "qwen2-vl", **kwargs) -> PositionCheck:
    """Check one batch's ``position_ids`` against ``get_rope_index``.

    ``position_ids``: ``[3, B, S]`` (t, h, w rows) or ``[B, S]`` (1D);
    ``input_ids`` ``[B, S]``; ``attention_mask`` ``[B, S]`` or None; grids
    ``[N, 3]`` or None. numpy arrays or torch tensors. Only unpadded tokens
    are compared (padded slots are masked out of attention, and trainers
    fill them differently). Extra keyword arguments (``spatial_merge_size``,
    token ids, ``second_per_grid_ts``...) go to ``rope_index``.
    """
    ids = _numpy(input_ids, "input_ids")
    if ids is None or ids.ndim != 2:
        raise ValueError("input_ids must be [batch, seq]")
    B, S = ids.shape
    got = _numpy(position_ids, "position_ids")
    if got.ndim == 2:
        got = np.broadcast_to(got, (3,) + got.shape)
    if got.shape != (3, B, S):
        raise ValueError(f"position_ids must be [3, {B}, {S}] or [{B}, {S}], got {list(got.shape)}")
    mask = _numpy(attention_mask, "attention_mask")
    expected = expected_positions(ids, mask, _numpy(image_grid_thw, "image_grid_thw"),
                                  _numpy(video_grid_thw, "video_grid_thw"), arch=arch, **kwargs)

    keep = np.ones((B, S), bool) if mask is None else (mask == 1)
    differs = (got != expected).any(axis=0) & keep
    if not differs.any():
        return PositionCheck("ok")
    b, s = np.argwhere(differs)[0]
    def one_row(p):
        return bool((((p[0] == p[1]) & (p[1] == p[2])) | ~keep).all())
    # The bug: 1D positions where the batch needs 3D ones. A text-only batch
    # with wrong 1D positions is a plain mismatch.
    degenerate = one_row(got) and not one_row(expected)
    return PositionCheck("1d-degenerate" if degenerate else "mismatch", int(b), int(s),
                         tuple(int(v) for v in expected[:, b, s]),
                         tuple(int(v) for v in got[:, b, s]))
