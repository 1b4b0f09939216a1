"""The per-architecture table behind :func:`mrope.position_ids`.

One :class:`ArchSpec` per architecture; every difference between the
``get_rope_index`` rules of the families lives here as data, and the layout
code in :mod:`mrope.positions` reads it (no ``if arch == ...`` elsewhere).

Where each row comes from (Hugging Face transformers, read, not copied):

* ``qwen2-vl``, ``qwen2.5-vl``, ``qwen3-vl``: ``Qwen2VLModel.get_rope_index``
  (models/qwen2_vl/modeling_qwen2_vl.py), Qwen2.5-VL's temporal scaling
  (models/qwen2_5_vl), Qwen3-VL's per-frame split (models/qwen3_vl), in the
  token-id form before the ``mm_token_type_ids`` refactor; identical to
  :func:`mrope.reference.rope_index` (the project's ground truth).
* ``qwen3.5``: ``Qwen3_5Model.get_rope_index`` (models/qwen3_5/modular_qwen3_5.py):
  Qwen3-VL's per-frame split over the token-type runs of the refactored
  ``Qwen2VLModel.get_rope_index``; deltas against the unpadded length.
* ``qwen2.5-omni``: ``Qwen2_5OmniPreTrainedModelForConditionalGeneration.get_rope_index``
  (models/qwen2_5_omni/modeling_qwen2_5_omni.py): bos/eos blocks around every
  span, audio 1D, temporal row in ``position_id_per_seconds`` units, audio in
  video interleaved in ``seconds_per_chunk`` chunks.
* ``qwen3-omni``: the Qwen3-Omni layout (the ``audio_merged`` layout of
  transformers' modeling_rope_utils.py M-RoPE section): spans found by their
  start tokens, audio-in-video merged token by token in time, float positions.
* ``glm4v``: ``Glm4vModel.get_rope_index`` (models/glm4v/modular_glm4v.py):
  image tokens inside ``<video_start> ... <video_end>`` are video frames, one
  frame per run, each run starting one past the previous block's maximum:
  the Qwen-VL run rule with one ``[1, h, w]`` grid per frame (upstream's
  frame counter is 1 at every frame, since text always separates frames)
  and its own token typing.

Token ids are the released configs' values; pass your config's as keyword
arguments when they differ (``image_token_id=...``). Qwen2.5-Omni's are its
thinker config class defaults. Qwen3-Omni's (audio 151675/151669/151670,
``position_id_per_seconds`` 13, audio window ``n_window`` 50) are the
released Qwen3-Omni-30B-A3B config as third-party copies give it; the
transformers config class defaults differ (audio 151646/151647,
``position_id_per_seconds`` 25).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

__all__ = ["ArchSpec", "ARCH_TABLE", "ARCHS", "arch_spec"]


@dataclass(frozen=True)
class ArchSpec:
    """Everything :mod:`mrope.positions` needs to lay out one architecture.

    ``layout``: which layout function builds a sample's positions
    (``"runs"`` Qwen-VL family and GLM-4V, ``"omni-chunked"`` Qwen2.5-Omni,
    ``"omni-merged"`` Qwen3-Omni). ``token_types``: how the run layout types
    tokens without ``mm_token_type_ids`` (``"ids"``: image/video token ids;
    ``"glm4v"``: image tokens inside ``<video_start>...<video_end>`` are video). ``split_video_frames``: each video grid
    ``[t,h,w]`` becomes ``t`` grids ``[1,h,w]`` (timestamps between frames).
    ``tokens_per_second``: Qwen2.5-VL's temporal scaling (None: row ``t`` is
    the frame-group index). ``position_id_per_seconds`` / ``seconds_per_chunk``
    / ``audio_window``: the Omni audio/time knobs. ``delta_len``: rope_deltas
    are ``max + 1 - len`` with len the padded row length (``"padded"``) or the
    unpadded token count (``"unpadded"``). ``pad_value``: what padded slots hold.
    """
    name: str
    layout: str
    upstream: str
    token_types: str = "ids"
    spatial_merge_size: int = 2
    split_video_frames: bool = False
    tokens_per_second: Optional[float] = None
    position_id_per_seconds: Optional[float] = None
    seconds_per_chunk: Optional[float] = None
    audio_window: Optional[int] = None
    delta_len: str = "padded"
    pad_value: int = 1
    dtype: type = np.int64
    has_audio: bool = False
    image_token_id: Optional[int] = None
    video_token_id: Optional[int] = None
    audio_token_id: Optional[int] = None
    vision_start_token_id: Optional[int] = None
    vision_end_token_id: Optional[int] = None
    audio_start_token_id: Optional[int] = None
    audio_end_token_id: Optional[int] = None
    video_start_token_id: Optional[int] = None
    video_end_token_id: Optional[int] = None

    def with_overrides(self, **kwargs) -> "ArchSpec":
        """A copy with some fields replaced (unknown names are an error)."""
        names = {f.name for f in dataclasses.fields(self)}
        bad = sorted(set(kwargs) - names)
        if bad:
            raise TypeError(f"{self.name}: unknown arch parameter(s) {', '.join(bad)}")
        return dataclasses.replace(self, **kwargs)


_QWEN_VL_IDS = dict(image_token_id=151655, video_token_id=151656,
                    vision_start_token_id=151652, vision_end_token_id=151653)

ARCH_TABLE: Dict[str, ArchSpec] = {spec.name: spec for spec in (
    ArchSpec("qwen2-vl", "runs", "qwen2_vl/modeling_qwen2_vl.py Qwen2VLModel.get_rope_index",
             **_QWEN_VL_IDS),
    ArchSpec("qwen2.5-vl", "runs", "qwen2_5_vl/modeling_qwen2_5_vl.py Qwen2_5_VLModel.get_rope_index",
             tokens_per_second=2, **_QWEN_VL_IDS),
    ArchSpec("qwen3-vl", "runs", "qwen3_vl/modeling_qwen3_vl.py Qwen3VLModel.get_rope_index",
             split_video_frames=True, **_QWEN_VL_IDS),
    ArchSpec("qwen3.5", "runs", "qwen3_5/modular_qwen3_5.py Qwen3_5Model.get_rope_index",
             split_video_frames=True, delta_len="unpadded", pad_value=0,
             image_token_id=248056, video_token_id=248057,
             vision_start_token_id=248053, vision_end_token_id=248054),
    ArchSpec("qwen2.5-omni", "omni-chunked",
             "qwen2_5_omni/modeling_qwen2_5_omni.py Qwen2_5OmniPreTrainedModelForConditionalGeneration.get_rope_index",
             position_id_per_seconds=25, seconds_per_chunk=2.0, delta_len="unpadded", has_audio=True,
             audio_token_id=151646, audio_start_token_id=151647, audio_end_token_id=151648,
             **_QWEN_VL_IDS),
    ArchSpec("qwen3-omni", "omni-merged",
             "qwen3_omni_moe/modeling_qwen3_omni_moe.py (modeling_rope_utils audio_merged layout)",
             position_id_per_seconds=13, audio_window=50, delta_len="unpadded", pad_value=0,
             dtype=np.float32, has_audio=True,
             audio_token_id=151675, audio_start_token_id=151669, audio_end_token_id=151670,
             **_QWEN_VL_IDS),
    ArchSpec("glm4v", "runs", "glm4v/modular_glm4v.py Glm4vModel.get_rope_index",
             token_types="glm4v", split_video_frames=True, image_token_id=151343, video_token_id=151344,
             video_start_token_id=151341, video_end_token_id=151342,
             # <|begin_of_image|> and <|end_of_image|>: around images and frames, not read by the rule.
             vision_start_token_id=151339, vision_end_token_id=151340),
)}

ARCHS = tuple(ARCH_TABLE)


def arch_spec(arch: str, **overrides) -> ArchSpec:
    """The table row of ``arch``, with keyword overrides (token ids, merge size, ...)."""
    if arch not in ARCH_TABLE:
        raise ValueError(f"unknown arch {arch!r} (expected one of {', '.join(ARCHS)})")
    spec = ARCH_TABLE[arch]
    return spec.with_overrides(**overrides) if overrides else spec
