"""``check_positions``: is this training batch rotated by the right positions?

The Qwen2-VL 1D-positions bug is born in training code: a collator, a
packing step or a custom forward passes ``arange``-style 1D positions (or
three copies of them), positions that run on across packed samples, or a
``[3, B, L]`` tensor where the model reads the first row as the text
positions of a packed batch. One call per batch tells whether
``position_ids`` equal what upstream ``get_rope_index`` gives for the same
``input_ids``, mask, segments and grids (:func:`mrope.position_ids`; for
qwen2-vl, qwen2.5-vl and qwen3-vl that is :func:`mrope.reference.rope_index`,
the project's ground truth), and if not, which known failure it is.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from . import positions as _positions
from .archs import ARCHS, arch_spec

VERDICTS = ("ok", "1d-degenerate", "mismatch", "no-restart")
# The finer failure shapes (PositionCheck.shape).
SHAPES = ("1d", "lost-3d", "no-restart", "3d-read-as-packing", "text-row", "other")


@dataclass
class PositionCheck:
    """The verdict of :func:`check_positions`.

    ``verdict``: ``"ok"``, ``"1d-degenerate"`` (the three rows are equal
    where M-RoPE needs them to differ: the bug), ``"no-restart"`` (positions
    run on from one packed sample into the next instead of restarting) or
    ``"mismatch"``. ``shape`` names the known failure: ``"1d"`` (1D ids),
    ``"lost-3d"`` (ids restart per segment but lost the 3D part),
    ``"no-restart"``, ``"3d-read-as-packing"`` (a ``[3, B, L]`` tensor on a
    packed batch, whose t row the model reads as text positions, or a text
    row that is a copy of t), ``"text-row"`` (the text row of a ``[4, B, L]``
    tensor is wrong otherwise), ``"other"``. ``batch``/``token`` name the
    first wrong unpadded token, ``segment`` its packed sample (1 when not
    packed), ``expected``/``got`` its (t, h, w) positions (a 1-tuple for
    text-row shapes). ``restart_at`` is the first segment start that does not
    restart (``no-restart`` only); ``also_1d`` says the ids are 1D as well.
    ``bool(check)`` is True only for ``ok``.
    """
    verdict: str
    batch: Optional[int] = None
    token: Optional[int] = None
    expected: Optional[Tuple] = None
    got: Optional[Tuple] = None
    segment: Optional[int] = None
    shape: Optional[str] = None
    restart_at: Optional[Tuple[int, int]] = None
    also_1d: bool = False

    def __bool__(self) -> bool:
        return self.verdict == "ok"

    def __str__(self) -> str:
        if self.verdict == "ok":
            return "ok"
        rows = "text position" if self.expected is not None and len(self.expected) == 1 else "(t, h, w)"
        where = (f"batch {self.batch}, token {self.token} (segment {self.segment}): "
                 f"expected {rows} = {self.expected}, got {self.got}")
        if self.verdict == "1d-degenerate":
            what = ("the ids restart per packed sample but lost the 3D part"
                    if self.shape == "lost-3d" else "the three position rows are equal (1D positions)")
            return f"1d-degenerate: {what} but this batch has image/video tokens; first wrong token at {where}"
        if self.verdict == "no-restart":
            b, i = self.restart_at
            one_d = " (and they are 1D)" if self.also_1d else ""
            return (f"no-restart: positions run on across packed samples{one_d}; segment starting at "
                    f"batch {b}, token {i} does not restart at 0; first wrong token at {where}")
        if self.shape == "3d-read-as-packing":
            return ("mismatch (3d-read-as-packing): on a packed batch the model reads the first row as the "
                    "text positions, and the t row is not one (pass the [4, B, L] form: "
                    "mrope.position_ids(..., with_text_row=True)); first wrong token at " + where)
        if self.shape == "text-row":
            return "mismatch (text-row): the text row of the [4, B, L] ids is wrong; first wrong token at " + where
        return "mismatch: " + where


def _numpy(x, name, floats=False):
    if x is None:
        return None
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.dtype.kind not in ("iubf" if floats else "iub"):
        raise TypeError(f"{name} must be an integer tensor, got dtype {x.dtype}")
    return x


def expected_positions(input_ids, attention_mask=None, image_grid_thw=None,
                       video_grid_thw=None, *, arch: str = "qwen2-vl", segment_ids=None, **kwargs):
    """``[3, B, S]`` positions ``get_rope_index`` gives for ``arch`` (:func:`mrope.position_ids`).

    Extra keyword arguments are :func:`mrope.position_ids`'s ``arch_inputs``
    (``second_per_grid_ts``, ``audio_seqlens``, token ids, ``spatial_merge_size``,
    ``tokens_per_second``, ...).
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    pos, _ = _positions.position_ids(input_ids, arch=arch, attention_mask=attention_mask,
                                     segment_ids=segment_ids, image_grid_thw=image_grid_thw,
                                     video_grid_thw=video_grid_thw, **kwargs)
    return pos


def _split_rows(got, B, S):
    """(the three M-RoPE rows [3, B, S], the text row [B, S] or None) of a position tensor."""
    if got.ndim == 3 and got.shape[0] == 1:
        got = got[0]
    if got.shape == (B, S):
        return np.broadcast_to(got, (3, B, S)), None
    if got.shape == (3, B, S):
        return got, None
    if got.shape == (4, B, S):
        return got[1:], got[0]
    raise ValueError(f"position_ids must be [3, {B}, {S}], [4, {B}, {S}] or [{B}, {S}], got {list(got.shape)}")


def _first(mask):
    b, s = np.argwhere(mask)[0]
    return int(b), int(s)


def _one_row(p, keep):
    return bool((((p[0] == p[1]) & (p[1] == p[2])) | ~keep).all())


def _value(v):
    return float(v) if isinstance(v, np.floating) else int(v)


def _run_on(got, seg, keep):
    """First (b, i) where a packed sample starts above the previous sample's last position on every row."""
    for b in range(seg.shape[0]):
        segs = _positions.segments_of(np.where(keep[b], seg[b], 0))
        for (_, prev), (_, idx) in zip(segs, segs[1:]):
            if (got[:, b, idx[0]] > got[:, b, prev[-1]]).all():
                return b, int(idx[0])
    return None


def check_positions(position_ids, input_ids, attention_mask=None, image_grid_thw=None,
                    video_grid_thw=None, *, arch: str = "qwen2-vl", segment_ids=None,
                    text_row: Optional[bool] = None, **kwargs) -> PositionCheck:
    """Check one batch's ``position_ids`` against ``get_rope_index``.

    ``position_ids``: ``[3, B, S]`` (t, h, w), ``[4, B, S]`` (text row, then
    t, h, w: the packed-batch contract of transformers) or ``[B, S]`` (1D);
    ``input_ids`` ``[B, S]``; ``attention_mask`` ``[B, S]`` or None;
    ``segment_ids`` ``[B, S]`` (0 padding, 1..k the packed samples of a row)
    or None; grids ``[N, 3]`` or None. numpy arrays or torch tensors. Only
    unpadded tokens are compared (padded slots are masked out of attention,
    and trainers fill them differently).

    ``text_row``: whether the model needs a text row (the first of four). By
    default (None) it is expected on packed batches (a row with two or more
    segments), the transformers contract for packed M-RoPE: versions that
    take ``position_ids[0]`` of a ``[3, B, S]`` tensor as the text positions
    build the sample boundaries from its t row, which is the
    ``3d-read-as-packing`` failure when the batch has vision tokens (later
    versions ignore the packing of a ``[3, B, S]`` tensor). ``False``: the
    model takes ``[3, B, S]`` as is.
    Extra keyword arguments go to :func:`mrope.position_ids`
    (``spatial_merge_size``, token ids, ``second_per_grid_ts``, ``audio_seqlens``...).
    """
    ids = _numpy(input_ids, "input_ids")
    if ids is None or ids.ndim != 2:
        raise ValueError("input_ids must be [batch, seq]")
    B, S = ids.shape
    spec = arch_spec(arch)
    got = _numpy(position_ids, "position_ids", floats=np.issubdtype(spec.dtype, np.floating))
    got3, text_given = _split_rows(got, B, S)
    mask = _numpy(attention_mask, "attention_mask")
    seg = _numpy(segment_ids, "segment_ids")
    expected = expected_positions(ids, mask, _numpy(image_grid_thw, "image_grid_thw"),
                                  _numpy(video_grid_thw, "video_grid_thw"), arch=arch,
                                  segment_ids=seg, **kwargs)
    keep = np.ones((B, S), bool) if mask is None else (mask == 1)
    if seg is not None:
        keep &= seg > 0
        seg_of = seg
    else:
        seg_of = keep.astype(np.int64)
    packed = seg is not None and any(len(np.unique(seg[b][keep[b]])) > 1 for b in range(B))

    differs = (got3 != expected).any(axis=0) & keep
    if differs.any():
        b, s = _first(differs)
        res = PositionCheck("mismatch", b, s, tuple(_value(v) for v in expected[:, b, s]),
                            tuple(_value(v) for v in got3[:, b, s]), int(seg_of[b, s]), "other")
        one_d = _one_row(got3, keep) and not _one_row(expected, keep)
        run_on = _run_on(got3, seg, keep) if seg is not None else None
        if run_on is not None:
            res.verdict, res.shape, res.restart_at, res.also_1d = "no-restart", "no-restart", run_on, one_d
        elif one_d:
            res.verdict, res.shape = "1d-degenerate", "lost-3d" if packed else "1d"
        return res

    want_text = packed if text_row is None else bool(text_row)
    if text_given is None and not want_text:
        return PositionCheck("ok")
    exp_text = _positions.text_row(mask, seg, (B, S))
    read = got3[0] if text_given is None else text_given
    wrong = (read != exp_text) & keep
    if not wrong.any():
        return PositionCheck("ok")
    b, s = _first(wrong)
    res = PositionCheck("mismatch", b, s, (int(exp_text[b, s]),), (_value(read[b, s]),),
                        int(seg_of[b, s]), "text-row")
    if text_given is None or ((text_given == expected[0]) | ~keep).all():
        res.shape = "3d-read-as-packing"
    elif seg is not None:
        run_on = _run_on(np.broadcast_to(text_given, (3, B, S)), seg, keep)
        if run_on is not None:
            res.verdict, res.shape, res.restart_at = "no-restart", "no-restart", run_on
    return res
