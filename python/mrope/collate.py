"""``MRopeCollator``: check or fix the M-RoPE positions of every training batch.

Wraps the ``collate_fn`` of a torch ``DataLoader`` (any callable returning a
dict-like batch). ``mode="check"`` runs :func:`mrope.check_positions` on the
batch's ``position_ids`` and raises (or warns) on a wrong batch;
``mode="fix"`` writes :func:`mrope.position_ids` into the batch. Packed
batches carry ``segment_ids`` (0 = padding, 1..k = the samples of a row).

Runs in the data-loader workers, on CPU tensors, before the batch moves to
the GPU; the cost is measured by ``scripts/bench-collator.py`` (see
docs/benchmarks.md).
"""
from __future__ import annotations

import time
import warnings
from typing import Callable, Dict, Optional

import numpy as np

from .archs import arch_spec
from .check import check_positions
from .positions import position_ids

__all__ = ["MRopeCollator", "MRopePositionError"]

# Batch keys the wrapper reads, by role; rename with MRopeCollator(keys={...}).
DEFAULT_KEYS = {
    "input_ids": "input_ids", "attention_mask": "attention_mask", "segment_ids": "segment_ids",
    "position_ids": "position_ids", "rope_deltas": "rope_deltas",
    "image_grid_thw": "image_grid_thw", "video_grid_thw": "video_grid_thw",
    "second_per_grid_ts": "second_per_grid_ts", "audio_seqlens": "audio_seqlens",
    "mm_token_type_ids": "mm_token_type_ids",
}
_ARCH_INPUTS = ("second_per_grid_ts", "audio_seqlens", "mm_token_type_ids")


class MRopePositionError(ValueError):
    """A batch whose positions are wrong; ``.check`` is the :class:`mrope.PositionCheck`."""

    def __init__(self, check):
        super().__init__(f"bad M-RoPE positions: {check}")
        self.check = check


class MRopeCollator:
    """``MRopeCollator(collate_fn, arch=..., mode="check" | "fix")``: a collate_fn that guards positions.

    ``text_row``: emit / expect the ``[4, B, L]`` form (text row first). None
    (default): on packed batches only (a row with two or more segments), the
    transformers contract for packed M-RoPE. ``on_error``: ``"raise"``
    (:class:`MRopePositionError`) or ``"warn"`` (check mode). ``rope_deltas``:
    fix mode also stores the deltas under ``keys["rope_deltas"]``.
    ``drop_keys``: batch keys to remove after the guard (``["segment_ids"]``:
    a model's forward takes no segment ids; the ``[4, B, L]`` text row
    carries the packing). Other keyword arguments go to :func:`mrope.position_ids` (token ids,
    ``spatial_merge_size``, ``use_audio_in_video``...).

    Counters: ``batches``, ``failures``, ``skipped`` (check mode, unpacked
    batch without position_ids: the model computes its own), ``seconds``
    (time spent in the wrapper, collate_fn excluded), ``last`` (the last
    check).
    """

    def __init__(self, collate_fn: Callable, *, arch: str, mode: str = "check",
                 text_row: Optional[bool] = None, on_error: str = "raise", rope_deltas: bool = False,
                 keys: Optional[Dict[str, str]] = None, drop_keys=(), **arch_inputs):
        if mode not in ("check", "fix"):
            raise ValueError(f"mode must be 'check' or 'fix', got {mode!r}")
        if on_error not in ("raise", "warn"):
            raise ValueError(f"on_error must be 'raise' or 'warn', got {on_error!r}")
        arch_spec(arch)  # an unknown arch fails here, not on the first batch
        self.collate_fn, self.arch, self.mode = collate_fn, arch, mode
        self.text_row, self.on_error, self.rope_deltas = text_row, on_error, rope_deltas
        self.keys = dict(DEFAULT_KEYS, **(keys or {}))
        self.arch_inputs, self.drop_keys = arch_inputs, tuple(drop_keys)
        self.batches = self.failures = self.skipped = 0
        self.seconds = 0.0
        self.last = None

    def __call__(self, samples):
        batch = self.collate_fn(samples)
        t0 = time.perf_counter()
        try:
            batch = self._guard(batch)
            for key in self.drop_keys:
                batch.pop(key, None)
            return batch
        finally:
            self.seconds += time.perf_counter() - t0

    def _get(self, batch, role):
        key = self.keys[role]
        return batch[key] if key in batch else None

    def _guard(self, batch):
        self.batches += 1
        ids = self._get(batch, "input_ids")
        if ids is None:
            raise KeyError(f"batch has no {self.keys['input_ids']!r}")
        seg = self._get(batch, "segment_ids")
        inputs = dict(self.arch_inputs)
        for role in _ARCH_INPUTS:
            value = self._get(batch, role)
            if value is not None:
                inputs[role] = value
        common = dict(attention_mask=self._get(batch, "attention_mask"), segment_ids=seg,
                      image_grid_thw=self._get(batch, "image_grid_thw"),
                      video_grid_thw=self._get(batch, "video_grid_thw"))
        if self.mode == "fix":
            want_text = self._packed(seg) if self.text_row is None else self.text_row
            pos, deltas = position_ids(ids, arch=self.arch, with_text_row=want_text, **common, **inputs)
            batch[self.keys["position_ids"]] = _like(pos, ids)
            if self.rope_deltas:
                batch[self.keys["rope_deltas"]] = _like(deltas, ids)
            return batch
        pos = self._get(batch, "position_ids")
        if pos is None:
            if self._packed(seg):
                raise MRopePositionError("missing: a packed batch without position_ids (the model would "
                                         "compute one sample's positions over the whole row)")
            self.skipped += 1
            return batch
        check = check_positions(pos, ids, common.pop("attention_mask"), common.pop("image_grid_thw"),
                                common.pop("video_grid_thw"), arch=self.arch, text_row=self.text_row,
                                **common, **inputs)
        self.last = check
        if not check:
            self.failures += 1
            if self.on_error == "raise":
                raise MRopePositionError(check)
            warnings.warn(f"bad M-RoPE positions: {check}", RuntimeWarning, stacklevel=3)
        return batch

    @staticmethod
    def _packed(seg):
        if seg is None:
            return False
        seg = seg.detach().cpu().numpy() if hasattr(seg, "detach") else np.asarray(seg)
        return any(len(np.unique(r[r > 0])) > 1 for r in seg)


def _like(array, ref):
    """``array`` as a tensor of ``ref``'s kind: torch (on ref's device) when ref is one, else numpy."""
    if hasattr(ref, "detach"):
        import torch
        return torch.from_numpy(np.ascontiguousarray(array)).to(ref.device)
    return array
