"""Standard numpy inputs for zoo models (numpy only, no torch).

Everything is derived from a model's JSON description (``inputs``), so the same
feeds work for a zoo model, its twin, and a rewritten ("fixed") copy.

Batches (token ids only decide the positions; the decoders take ``inputs_embeds``):

* ``multimodal``: row 0 = the worked example of mrope-semantics.md §3 (3 text,
  image grid [1,4,6] -> 6 tokens, 2 text) + 3 text; row 1 = 2 left-padding
  slots, 1 text, vision_start, video grid [2,4,4] -> 8 tokens, 2 text.
  S = 14.  Left padding is used only for models that take explicit positions
  and have no KV cache (an in-graph ``arange`` ignores padding by design).
* ``text``: the same shapes with text tokens only.
* ``packed`` / ``packed_text``: the packed batch of the packed-batch zoo
  (:func:`packed_batch`, ``python/mrope/zoo/packed.py``): row 0 packs the
  image sample above and a 3-token text sample, row 1 a 2-token text sample
  and the video sample, then one padding token; S = 15. ``segment_ids [B,S]``
  (0 = padding, 1..k = the samples) says which sample a token belongs to.
* ``arch="qwen3-vl"`` (opt-in) writes row 1's video as the Qwen3-VL processor does: per frame a
  timestamp token, vision_start, the frame, vision_end: 2 pads, 1 text, [t0, VS, 2 tokens, VE],
  [t1, VS, 2 tokens, VE], 1 text, with video grid [2,2,4]; positions then follow Qwen3-VL's
  rule (``rope_index(arch="qwen3-vl")``: one block per frame).  ``arch="qwen2.5-vl"`` keeps the
  batch and applies Qwen2.5-VL's temporal scaling (2 tokens per second, 1 s per grid).

Positions fed to a decoder depend on its ``position_ids`` input:
``[3,B,S]`` -> :func:`mrope.reference.rope_index` (the correct 3D positions);
``[B,S]`` -> the 1D positions a text pipeline would pass (``cumsum(mask)-1``);
absent -> nothing.  In a packed batch positions are per sample, as if each
sample were alone (:func:`mrope.positions.position_ids` with ``segment_ids``;
1D: each token's index in its sample).  A model that takes ``segment_ids``
gets them: the packed batch's for the packed kinds, one sample per row
(``segment_ids`` = the attention mask) for the others.  With a KV cache (past length 3, three earlier text tokens),
positions are those of the whole sequence sliced to the new tokens.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np

from .. import positions as mpos
from .. import reference as ref

V, I, VS = ref.VIDEO_TOKEN_ID, ref.IMAGE_TOKEN_ID, ref.VISION_START_TOKEN_ID
IMAGE_GRIDS = np.array([[1, 4, 6]], np.int64)
VIDEO_GRIDS = np.array([[2, 4, 4]], np.int64)
PAST = 3
PAST_IDS = [11, 12, 13]


QWEN3_VIDEO_GRIDS = np.array([[2, 2, 4]], np.int64)
VE = ref.VISION_END_TOKEN_ID


def batch(kind: str = "multimodal", padded: bool = True, arch: Optional[str] = None
          ) -> Tuple[np.ndarray, np.ndarray, dict]:
    """(input_ids [2,14], attention_mask [2,14], grids kwargs for rope_index)."""
    row0 = [1, 2, VS] + [I] * 6 + [3, 4] + [9, 9, 9]
    lead = [0, 0] if padded else [5, 5]
    if arch == "qwen3-vl":
        row1 = lead + [5, 30, VS, V, V, VE, 31, VS, V, V, VE, 7]
        videos = QWEN3_VIDEO_GRIDS
    else:
        row1 = lead + [5, VS] + [V] * 8 + [7, 8]
        videos = VIDEO_GRIDS
    ids = np.array([row0, row1], np.int64)
    mask = np.ones_like(ids)
    if padded:
        mask[1, :2] = 0
    grids = {"image_grid_thw": IMAGE_GRIDS, "video_grid_thw": videos}
    if kind == "text":
        ids = np.where((ids == I) | (ids == V) | (ids == VS), 42, ids)
        grids = {}
    elif kind != "multimodal":
        raise ValueError(f"unknown batch kind {kind!r}")
    return ids, mask, grids


def packed_batch(kind: str = "packed") -> Tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """(input_ids [2,15], attention_mask, segment_ids, grids) of the packed batch (module doc).

    The same batch as ``mrope.zoo.packed.packed_batch`` (which needs torch to import);
    ``packed_text``: the vision tokens replaced by text, no grids."""
    row0 = [1, 2, VS] + [I] * 6 + [3, 4] + [9, 9, 9] + [10]
    seg0 = [1] * 11 + [2] * 4
    row1 = [5, 6] + [5, VS] + [V] * 8 + [7, 8] + [0]
    seg1 = [1] * 2 + [2] * 12 + [0]
    ids = np.array([row0, row1], np.int64)
    seg = np.array([seg0, seg1], np.int64)
    mask = (seg > 0).astype(np.int64)
    grids = {"image_grid_thw": IMAGE_GRIDS, "video_grid_thw": VIDEO_GRIDS}
    if kind == "packed_text":
        ids = np.where((ids == I) | (ids == V) | (ids == VS), 42, ids)
        grids = {}
    elif kind != "packed":
        raise ValueError(f"unknown packed batch kind {kind!r}")
    return ids, mask, seg, grids


def load_desc(desc: Union[str, Path, dict]) -> dict:
    if isinstance(desc, dict):
        return desc
    return json.loads(Path(desc).read_text())


def positions_3d(kind: str, padded: bool, kv: bool, arch: Optional[str] = None
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """Correct 3D positions [3,B,S] of the batch (and the attention mask of the new tokens)."""
    ids, mask, grids = batch(kind, padded, arch)
    if arch is not None:
        grids = dict(grids, arch=arch)
    if kv:
        B = ids.shape[0]
        full_ids = np.concatenate([np.tile(PAST_IDS, (B, 1)), ids], axis=1)
        full_mask = np.concatenate([np.ones((B, PAST), np.int64), mask], axis=1)
        pos, _ = ref.rope_index(full_ids, attention_mask=full_mask, **grids)
        return pos[:, :, PAST:].copy(), mask
    pos, _ = ref.rope_index(ids, attention_mask=mask, **grids)
    return pos, mask


def positions_1d(kind: str, padded: bool, kv: bool, arch: Optional[str] = None) -> np.ndarray:
    """The 1D positions [B,S] a text pipeline passes (ignores vision blocks)."""
    ids, mask, _ = batch(kind, padded, arch)
    if kv:
        full_mask = np.concatenate([np.ones((ids.shape[0], PAST), np.int64), mask], axis=1)
        return ref.text_positions(full_mask)[0][:, PAST:].copy()
    return ref.text_positions(mask)[0]


def decoder_feeds(desc, kind: str = "multimodal", *, padded: Optional[bool] = None,
                  positions: str = "auto", seed: int = 0, arch: Optional[str] = None
                  ) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
    """Inputs for a decoder described by ``desc`` (JSON path or dict).

    ``positions``: ``"auto"`` (by the model's position input, see module doc),
    ``"3d"`` (force rope_index positions into a ``[3,B,S]`` input), ``"1d-as-3d"``
    (1D positions broadcast to three identical rows: what the bug computes).
    ``arch``: see the module doc (default: the Qwen2-VL batch and rule).
    ``kind``: ``multimodal``, ``text``, ``packed`` or ``packed_text`` (module doc).
    Returns ``(feeds, keep)`` where ``keep [B,S]`` marks unpadded tokens.
    """
    d = load_desc(desc)
    ins = d["inputs"]
    hidden = int(ins["inputs_embeds"][2])
    pos_shape = ins.get("position_ids")
    past_names = sorted(n for n in ins if n.startswith("past_key_values."))
    kv = bool(past_names)
    packed = kind.startswith("packed")
    if packed and kv:
        raise ValueError("a packed batch has no KV-cache feeds")
    if padded is None:
        padded = pos_shape is not None and not kv
    if packed:
        ids, mask, seg, grids = packed_batch(kind)
    else:
        ids, mask, _ = batch(kind, padded, arch)
        seg = mask
    B, S = ids.shape
    rng = np.random.default_rng(seed)
    feeds = {"inputs_embeds": rng.standard_normal((B, S, hidden)).astype(np.float32)}
    feeds["attention_mask"] = (np.concatenate([np.ones((B, PAST), np.int64), mask], axis=1) if kv else mask)
    if "segment_ids" in ins:
        feeds["segment_ids"] = seg.astype(np.int64)
    if pos_shape is not None:
        if positions == "auto":
            positions = "3d" if len(pos_shape) == 3 else "1d"
        if packed:   # per sample, as if each were alone in its row
            p3 = np.asarray(mpos.position_ids(ids, arch=arch or "qwen2-vl", attention_mask=mask,
                                              segment_ids=seg, **grids)[0])
            p1 = mpos.text_row(mask, seg)
        if positions == "3d":
            p = p3 if packed else positions_3d(kind, padded, kv, arch)[0]
        elif positions == "1d":
            p = p1 if packed else positions_1d(kind, padded, kv, arch)
        elif positions == "1d-as-3d":
            p = np.broadcast_to(p1 if packed else positions_1d(kind, padded, kv, arch), (3, B, S)).copy()
        else:
            raise ValueError(positions)
        if len(pos_shape) == 2 and p.ndim == 3:
            raise ValueError("model takes [B,S] positions")
        feeds["position_ids"] = p.astype(np.int64)
    for n in past_names:
        shp = [B if s == "batch" else PAST if s == "past_sequence" else int(s) for s in ins[n]]
        feeds[n] = (0.5 * rng.standard_normal(shp)).astype(np.float32)
    return feeds, mask.astype(bool)


# Qwen2.5-VL window of the tiny towers: 56 px windows of 14 px patches, 2x2 merge -> 2x2 merge units
# per window (the released 112 px would put the whole 4x6 test image in one window: no reordering).
WINDOW_SIZE, PATCH_SIZE = 56, 14


def vision_feeds(desc, grid=(1, 4, 6), *, seed: int = 0) -> Dict[str, np.ndarray]:
    """Inputs for a vision model: patch embeddings of one image and, by what the model takes,
    (h,w) per patch, its grid_thw [1,3] and its window_index (Qwen2.5-VL window order)."""
    d = load_desc(desc)
    ins = d["inputs"]
    hw = ref.vision_positions([list(grid)])
    rng = np.random.default_rng(seed)
    feeds = {"hidden_states": rng.standard_normal((hw.shape[0], int(ins["hidden_states"][1]))).astype(np.float32)}
    if "vision_position_ids" in ins:
        feeds["vision_position_ids"] = hw
    if "grid_thw" in ins:
        feeds["grid_thw"] = np.array([list(grid)], np.int64)
    if "window_index" in ins:
        feeds["window_index"] = ref.vision_window_index([list(grid)], window_size=WINDOW_SIZE,
                                                        patch_size=PATCH_SIZE)
    return feeds


def feeds_for(desc, kind: str = "multimodal", **kw):
    d = load_desc(desc)
    if "hidden_states" in d["inputs"]:
        return vision_feeds(d, **kw), None
    return decoder_feeds(d, kind, **kw)


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(description="write standard inputs of a zoo model to an .npz")
    ap.add_argument("json", help="the model's JSON description")
    ap.add_argument("--kind", default="multimodal", choices=["multimodal", "text", "packed", "packed_text"])
    ap.add_argument("--positions", default="auto", choices=["auto", "3d", "1d", "1d-as-3d"])
    ap.add_argument("--padded", choices=["auto", "yes", "no"], default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--arch", choices=list(ref.ARCHS), help="get_rope_index rules and video layout "
                    "(default: the Qwen2-VL batch and rule)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    d = load_desc(a.json)
    if "hidden_states" in d["inputs"]:
        f = vision_feeds(d, seed=a.seed)
    else:
        padded = None if a.padded == "auto" else a.padded == "yes"
        f, _ = decoder_feeds(d, a.kind, padded=padded, positions=a.positions, seed=a.seed, arch=a.arch)
    np.savez(a.out, **f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
