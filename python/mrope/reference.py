"""Numpy reference semantics of rotary position embeddings (RoPE) and M-RoPE.

This module is the project's ground truth; it follows
the numerical contract ``mrope-semantics.md`` (shared design docs) and
depends on numpy only.

Conventions
-----------
* ``D`` head dim, ``R`` rotary dim (``R <= D``, channels ``R..D`` pass
  through), ``F = R/2`` frequencies.
* ``sections`` lists how many frequencies each position row drives; they sum
  to ``F``.  ``[F]`` is plain 1D RoPE, ``[16, 24, 24]`` is Qwen2-VL M-RoPE
  (global frequency index: row t drives frequencies 0..15, row h 16..39, row w
  40..63), ``interleaved=True`` is the Qwen3-VL mapping (h on ``i % 3 == 1``
  for ``i < 3*sections[1]``, w on ``i % 3 == 2`` for ``i < 3*sections[2]``,
  otherwise t).
* ``layout="neox"`` pairs channel ``i`` with ``i + F`` (rotate-half),
  ``layout="gptj"`` pairs ``2i`` with ``2i + 1``.
* Default numerics are the f32 numerics of the Hugging Face code:
  ``inv_freq`` in f32, ``angle = f32(p) * inv_freq`` (one f32 multiply),
  cos/sin of that f32 angle (evaluated in float64, rounded to f32), rotation
  in f32.  ``dtype=np.float64`` keeps the same f32 angle but returns cos/sin
  and the rotation in float64 (the accuracy yardstick for kernels).
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

# Qwen VL special token ids: Python's one copy (C++ has its own in
# include/mrope/Dialect/Rope/IR/QwenTokens.h; one place per language).
IMAGE_TOKEN_ID = 151655
VIDEO_TOKEN_ID = 151656
VISION_START_TOKEN_ID = 151652
VISION_END_TOKEN_ID = 151653

# get_rope_index rules, by architecture (see rope_index).
ARCHS = ("qwen2-vl", "qwen2.5-vl", "qwen3-vl")
QWEN25_TOKENS_PER_SECOND = 2      # Qwen2.5-VL vision_config.tokens_per_second

__all__ = [
    "IMAGE_TOKEN_ID",
    "VIDEO_TOKEN_ID",
    "VISION_START_TOKEN_ID",
    "VISION_END_TOKEN_ID",
    "ARCHS",
    "rope_index",
    "split_video_grids",
    "text_positions",
    "inv_freq",
    "frequency_rows",
    "cos_sin",
    "apply_rope",
    "rotate",
    "vision_positions",
    "vision_window_index",
    "vision_inv_freq",
    "vision_cos_sin",
    "apply_vision_rope",
]


# --------------------------------------------------------------------------
# 3D position ids (get_rope_index)
# --------------------------------------------------------------------------

def text_positions(attention_mask: Optional[np.ndarray], batch: int = None,
                   seq: int = None) -> Tuple[np.ndarray, np.ndarray]:
    """1D positions of a text-only batch, as ``get_rope_index`` returns them.

    With a mask: ``cumsum(mask) - 1`` and 1 where ``mask == 0``;
    ``delta = max over the row (padding slots included) + 1 - S``.
    Without a mask: ``arange(S)`` and delta 0.
    Returns ``(positions [B,S] int64, deltas [B,1] int64)``.
    """
    if attention_mask is None:
        pos = np.broadcast_to(np.arange(seq, dtype=np.int64), (batch, seq)).copy()
        return pos, np.zeros((batch, 1), dtype=np.int64)
    mask = np.asarray(attention_mask).astype(np.int64)
    pos = np.cumsum(mask, axis=-1) - 1
    pos[mask == 0] = 1
    delta = pos.max(axis=-1, keepdims=True) + 1 - mask.shape[-1]
    return pos.astype(np.int64), delta.astype(np.int64)


def split_video_grids(video_grid_thw) -> np.ndarray:
    """Qwen3-VL: each video ``[t,h,w]`` row becomes ``t`` rows ``[1,h,w]`` (one block per frame).

    The Qwen3-VL processor writes every frame as its own block, a timestamp
    (ordinary text tokens such as ``<0.5 seconds>``) before each:
    ``<t1> vision_start frame1 vision_end <t2> vision_start frame2 vision_end``.
    """
    videos = np.asarray(video_grid_thw, np.int64).reshape(-1, 3)
    if (videos[:, 0] < 0).any():
        raise ValueError("video_grid_thw has a negative frame count")
    rows = np.repeat(videos, videos[:, 0], axis=0)
    rows[:, 0] = 1
    return rows


def rope_index(input_ids, image_grid_thw=None, video_grid_thw=None,
               attention_mask=None, *, spatial_merge_size: int = 2,
               second_per_grid_ts=None, tokens_per_second=None,
               image_token_id: int = IMAGE_TOKEN_ID,
               video_token_id: int = VIDEO_TOKEN_ID,
               vision_start_token_id: int = VISION_START_TOKEN_ID,
               arch: Optional[str] = None):
    """3D M-RoPE position ids of a batch (``get_rope_index`` of Qwen2-VL, Qwen2.5-VL, Qwen3-VL).

    ``input_ids`` ``[B,S]``; ``image_grid_thw`` ``[Ni,3]`` and
    ``video_grid_thw`` ``[Nv,3]`` are consumed in order across the whole
    batch; ``attention_mask`` ``[B,S]`` (padding anywhere, typically left).

    ``arch`` picks the rules:

    * ``"qwen2-vl"``: a block's temporal row is the frame-group index ``ti``;
      ``second_per_grid_ts`` / ``tokens_per_second`` are refused (not Qwen2-VL inputs).
    * ``"qwen2.5-vl"``: temporal scaling always on, ``tokens_per_second``
      defaulting to 2 (the released vision config): the temporal row becomes
      ``int64(f32(f32(ti * second_per_grid_t) * tokens_per_second))`` (truncation
      toward zero) with ``second_per_grid_t`` 0 for images and
      ``second_per_grid_ts[video]`` (1.0 if not given) for videos.
    * ``"qwen3-vl"``: videos are split into one ``[1,h,w]`` block per frame
      (:func:`split_video_grids`); each frame block needs its own vision_start,
      as the Qwen3-VL processor writes them; otherwise the Qwen2-VL rule.
    * ``None`` (default, the original behaviour): Qwen2-VL, with Qwen2.5-VL
      scaling switched on by passing ``tokens_per_second``.

    Returns ``(position_ids [3,B,S] int64, rope_deltas [B,1] int64)``.
    Padded slots get position 1 on all rows.
    """
    if arch is not None and arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r} (expected one of {', '.join(ARCHS)})")
    if arch in ("qwen2-vl", "qwen3-vl") and (tokens_per_second is not None or second_per_grid_ts is not None):
        raise ValueError(f"{arch} get_rope_index takes no second_per_grid_ts / tokens_per_second")
    if arch == "qwen2.5-vl" and tokens_per_second is None:
        tokens_per_second = QWEN25_TOKENS_PER_SECOND
    if arch == "qwen3-vl" and video_grid_thw is not None:
        video_grid_thw = split_video_grids(video_grid_thw)
    input_ids = np.asarray(input_ids)
    if input_ids.ndim != 2:
        raise ValueError(f"input_ids must be [B,S], got shape {input_ids.shape}")
    B, S = input_ids.shape
    if image_grid_thw is None and video_grid_thw is None:
        pos, delta = text_positions(attention_mask, B, S)
        return np.broadcast_to(pos, (3, B, S)).copy(), delta

    if attention_mask is None:
        attention_mask = np.ones((B, S), dtype=np.int64)
    attention_mask = np.asarray(attention_mask)
    if attention_mask.shape != (B, S):
        raise ValueError(f"attention_mask shape {attention_mask.shape} != {(B, S)}")
    images = np.zeros((0, 3), np.int64) if image_grid_thw is None else np.asarray(image_grid_thw, np.int64).reshape(-1, 3)
    videos = np.zeros((0, 3), np.int64) if video_grid_thw is None else np.asarray(video_grid_thw, np.int64).reshape(-1, 3)
    if second_per_grid_ts is not None:
        second_per_grid_ts = np.asarray(second_per_grid_ts, dtype=np.float32).reshape(-1)
    m = int(spatial_merge_size)

    position_ids = np.ones((3, B, S), dtype=np.int64)
    deltas = np.zeros((B, 1), dtype=np.int64)
    image_index = video_index = 0
    for b in range(B):
        keep = attention_mask[b] == 1
        tokens = [int(t) for t in input_ids[b][keep]]
        n = len(tokens)
        # Blocks = vision_start tokens followed by an image / video token.
        image_nums = video_nums = 0
        for k in range(n - 1):
            if tokens[k] == vision_start_token_id:
                if tokens[k + 1] == image_token_id:
                    image_nums += 1
                elif tokens[k + 1] == video_token_id:
                    video_nums += 1
        chunks = []
        st = 0
        next_start = 0  # max position so far + 1
        remain_images, remain_videos = image_nums, video_nums
        for _ in range(image_nums + video_nums):
            ed_image = _index(tokens, image_token_id, st) if remain_images > 0 else n + 1
            ed_video = _index(tokens, video_token_id, st) if remain_videos > 0 else n + 1
            if ed_image < ed_video:
                if image_index >= len(images):
                    raise ValueError("more image blocks in input_ids than rows in image_grid_thw")
                t, h, w = (int(v) for v in images[image_index])
                image_index += 1
                remain_images -= 1
                ed = ed_image
                second_per_grid_t = np.float32(0.0)
            else:
                if ed_video > n:
                    raise ValueError("vision_start not followed by a findable image/video token")
                if video_index >= len(videos):
                    raise ValueError("more video blocks in input_ids than rows in video_grid_thw")
                t, h, w = (int(v) for v in videos[video_index])
                second_per_grid_t = (np.float32(1.0) if second_per_grid_ts is None
                                     else second_per_grid_ts[video_index])
                video_index += 1
                remain_videos -= 1
                ed = ed_video
            gt, gh, gw = t, h // m, w // m
            text_len = ed - st
            st_idx = next_start
            chunks.append(np.broadcast_to(np.arange(text_len, dtype=np.int64) + st_idx, (3, text_len)))
            ti, hi, wi = np.meshgrid(np.arange(gt, dtype=np.int64), np.arange(gh, dtype=np.int64),
                                     np.arange(gw, dtype=np.int64), indexing="ij")
            ti, hi, wi = ti.reshape(-1), hi.reshape(-1), wi.reshape(-1)
            if tokens_per_second is not None:
                # torch: int64 index * f32 0-d tensor -> f32, then * python number -> f32.
                prod = ti.astype(np.float32) * np.float32(second_per_grid_t)
                prod = (prod * np.float32(tokens_per_second)).astype(np.float32)
                ti = np.trunc(prod).astype(np.int64)
            block = np.stack([ti, hi, wi]) + text_len + st_idx
            chunks.append(block)
            # HF: st_idx = llm_pos_ids_list[-1].max() + 1; blocks start above the text before them,
            # so this is the max over everything so far.
            if text_len:
                next_start = st_idx + text_len
            if block.size:
                next_start = max(next_start, int(block.max()) + 1)
            st = ed + gt * gh * gw
        if st < n:
            text_len = n - st
            chunks.append(np.broadcast_to(np.arange(text_len, dtype=np.int64) + next_start, (3, text_len)))
        llm = np.concatenate(chunks, axis=1) if chunks else np.zeros((3, 0), np.int64)
        if llm.shape[1] != n:
            raise ValueError(
                f"row {b}: vision blocks cover {llm.shape[1]} positions but the row has {n} "
                "unpadded tokens (grid sizes and token counts disagree)")
        position_ids[:, b, keep] = llm
        # HF: llm_positions.max() + 1 - len(row) (max over unpadded tokens).
        deltas[b, 0] = (int(llm.max()) if n else -1) + 1 - S
    return position_ids, deltas


def _index(tokens, value, start):
    try:
        return tokens.index(value, start)
    except ValueError:
        return len(tokens) + 1


# --------------------------------------------------------------------------
# Frequencies and cos/sin tables
# --------------------------------------------------------------------------

def inv_freq(rotary_dim: int, theta: float) -> np.ndarray:
    """``1 / theta ** (arange(0, R, 2) / R)`` in f32, as Hugging Face computes it.

    The exponent ``i/R`` is an f32 division, the power is evaluated in float64
    and rounded to f32 (a correctly rounded f32 pow), the reciprocal is an f32
    division.  torch's own f32 ``pow`` is not correctly rounded everywhere and
    can differ from this by 1 ulp (1 of 64 entries at R=128, theta=1e6);
    when checking a concrete graph, pass its ``inv_freq`` constant instead.
    """
    if rotary_dim % 2:
        raise ValueError(f"rotary_dim must be even, got {rotary_dim}")
    expo = np.arange(0, rotary_dim, 2, dtype=np.int64).astype(np.float32) / np.float32(rotary_dim)
    power = (np.float64(theta) ** expo.astype(np.float64)).astype(np.float32)
    return (np.float32(1.0) / power).astype(np.float32)


def frequency_rows(sections: Sequence[int], interleaved: bool = False) -> np.ndarray:
    """For each frequency index i in [0, F): which position row drives it."""
    sections = [int(s) for s in sections]
    F = sum(sections)
    rows = np.zeros(F, dtype=np.int64)
    if not interleaved or len(sections) == 1:
        rows = np.repeat(np.arange(len(sections)), sections)
        return rows.astype(np.int64)
    if len(sections) != 3:
        raise ValueError("interleaved M-RoPE needs exactly three sections (t, h, w)")
    i = np.arange(F)
    rows[(i % 3 == 1) & (i < 3 * sections[1])] = 1
    rows[(i % 3 == 2) & (i < 3 * sections[2])] = 2
    return rows


def _angles(positions, sections, theta, interleaved, rotary_dim, inv_freq_arr):
    positions = np.asarray(positions)
    sections = [int(s) for s in sections]
    if positions.ndim == 2 and len(sections) == 1:
        positions = positions[None]
    if positions.ndim != 3 or positions.shape[0] != len(sections):
        raise ValueError(f"positions must be [{len(sections)},B,S], got {positions.shape}")
    F = sum(sections)
    R = 2 * F if rotary_dim is None else int(rotary_dim)
    if R != 2 * F:
        raise ValueError(f"sections {sections} sum to {F} frequencies but rotary_dim is {R}")
    freq = inv_freq(R, theta) if inv_freq_arr is None else np.asarray(inv_freq_arr, dtype=np.float32).reshape(-1)
    if freq.shape[0] != F:
        raise ValueError(f"inv_freq has {freq.shape[0]} entries, expected {F}")
    rows = frequency_rows(sections, interleaved)
    p = positions.astype(np.float32)                      # [n, B, S] f32(p)
    sel = p[rows]                                          # [F, B, S]
    ang = (np.moveaxis(sel, 0, -1) * freq).astype(np.float32)   # [B, S, F], one f32 multiply
    return ang


def cos_sin(positions, *, sections, theta, layout: str = "neox", interleaved: bool = False,
            rotary_dim: Optional[int] = None, inv_freq=None, dtype=np.float32):
    """Merged per-token cos/sin tables ``[B,S,R]`` for positions ``[len(sections),B,S]``.

    ``layout="neox"``: channel c uses frequency ``c % F``; ``"gptj"``: ``c // 2``.
    ``inv_freq`` overrides the table computed from ``theta`` (use the exact
    constant from a graph).  cos/sin are evaluated in float64 on the f32 angle
    and rounded to ``dtype``.
    """
    ang = _angles(positions, sections, theta, interleaved, rotary_dim, inv_freq)
    if layout == "neox":
        emb = np.concatenate([ang, ang], axis=-1)
    elif layout == "gptj":
        emb = np.repeat(ang, 2, axis=-1)
    else:
        raise ValueError(f"unknown layout {layout!r}")
    e = emb.astype(np.float64)
    return np.cos(e).astype(dtype), np.sin(e).astype(dtype)


def rotate(x, cos, sin, *, layout: str = "neox", dtype=np.float32):
    """Rotate ``x [B,H,S,D]`` by per-token tables ``cos/sin [B,S,R]`` (R <= D)."""
    x = np.asarray(x)
    R = cos.shape[-1]
    D = x.shape[-1]
    if R > D or R % 2:
        raise ValueError(f"rotary dim {R} invalid for head dim {D}")
    xf = x.astype(dtype)
    c = np.asarray(cos, dtype)[:, None]
    s = np.asarray(sin, dtype)[:, None]
    xr, xp = xf[..., :R], xf[..., R:]
    F = R // 2
    if layout == "neox":
        rot = np.concatenate([-xr[..., F:], xr[..., :F]], axis=-1)
    elif layout == "gptj":
        ev, od = xr[..., 0::2], xr[..., 1::2]
        rot = np.stack([-od, ev], axis=-1).reshape(xr.shape)
    else:
        raise ValueError(f"unknown layout {layout!r}")
    y = (xr * c + rot * s).astype(dtype)
    return np.concatenate([y, xp], axis=-1)


def apply_rope(x, positions, *, sections, theta, layout: str = "neox", interleaved: bool = False,
               rotary_dim: Optional[int] = None, inv_freq=None, dtype=np.float32):
    """Apply (M-)RoPE to ``x [B,H,S,D]`` with ``positions [len(sections),B,S]``.

    ``sections=[D/2]`` with ``positions [1,B,S]`` (or ``[B,S]``) is plain 1D
    RoPE; ``[16,24,24]`` is Qwen2-VL M-RoPE; ``interleaved=True`` Qwen3-VL.
    The rotary dim is ``2*sum(sections)``; channels beyond it pass through.
    """
    c, s = cos_sin(positions, sections=sections, theta=theta, layout=layout,
                   interleaved=interleaved, rotary_dim=rotary_dim, inv_freq=inv_freq, dtype=dtype)
    return rotate(x, c, s, layout=layout, dtype=dtype)


# --------------------------------------------------------------------------
# Vision tower 2D RoPE (Qwen2-VL ViT)
# --------------------------------------------------------------------------

def vision_positions(grid_thw, spatial_merge_size: int = 2) -> np.ndarray:
    """(h, w) position of every patch, ``[N,2]`` int64, in merge-block order.

    Patches are ordered frame by frame, then by ``m x m`` merge block
    (row-major over blocks), then row-major inside a block, as
    ``Qwen2VisionTransformer.rot_pos_emb`` does.
    """
    m = int(spatial_merge_size)
    out = []
    for t, h, w in np.asarray(grid_thw, np.int64).reshape(-1, 3):
        t, h, w = int(t), int(h), int(w)
        if h % m or w % m:
            raise ValueError(f"grid {(t, h, w)} not divisible by spatial_merge_size {m}")
        hpos = np.broadcast_to(np.arange(h)[:, None], (h, w))
        wpos = np.broadcast_to(np.arange(w)[None, :], (h, w))
        hpos = hpos.reshape(h // m, m, w // m, m).transpose(0, 2, 1, 3).reshape(-1)
        wpos = wpos.reshape(h // m, m, w // m, m).transpose(0, 2, 1, 3).reshape(-1)
        out.append(np.tile(np.stack([hpos, wpos], axis=-1), (t, 1)))
    if not out:
        return np.zeros((0, 2), np.int64)
    return np.concatenate(out, axis=0).astype(np.int64)


def vision_window_index(grid_thw, *, window_size: int = 112, patch_size: int = 14,
                        spatial_merge_size: int = 2) -> np.ndarray:
    """Qwen2.5-VL window order of the merge units (``spatial_merge_size**2`` patches each).

    Per image, the ``(h/m) x (w/m)`` merge units are cut into square windows of
    ``vw = window_size // spatial_merge_size // patch_size`` units, row-major over
    windows, row-major inside a window; the grid is padded to whole windows
    (upstream pads by ``vw - n % vw``, a whole empty window when ``vw`` divides ``n``,
    which changes nothing) and padding units are dropped.  Images follow each other with
    their unit numbers offset.  Returns ``[units]`` int64 (a permutation).
    """
    m = int(spatial_merge_size)
    vw = int(window_size) // m // int(patch_size)
    if vw < 1:
        raise ValueError(f"window of {window_size} px holds no merge unit of {m}x{patch_size} px")
    out, offset = [], 0
    for t, h, w in np.asarray(grid_thw, np.int64).reshape(-1, 3):
        gt, gh, gw = int(t), int(h) // m, int(w) // m
        index = np.arange(gt * gh * gw, dtype=np.int64).reshape(gt, gh, gw)
        ph, pw = vw - gh % vw, vw - gw % vw
        padded = np.pad(index, ((0, 0), (0, ph), (0, pw)), constant_values=-1)
        nh, nw = (gh + ph) // vw, (gw + pw) // vw
        order = padded.reshape(gt, nh, vw, nw, vw).transpose(0, 1, 3, 2, 4).reshape(-1)
        out.append(order[order >= 0] + offset)
        offset += gt * gh * gw
    return np.concatenate(out) if out else np.zeros((0,), np.int64)


def vision_inv_freq(head_dim: int, theta: float = 10000.0) -> np.ndarray:
    """``VisionRotaryEmbedding(head_dim // 2)``: ``head_dim/4`` frequencies over dim ``head_dim/2``."""
    return inv_freq(head_dim // 2, theta)


def vision_cos_sin(hw, *, head_dim: int, theta: float = 10000.0, inv_freq=None, dtype=np.float32):
    """cos/sin ``[N, head_dim]`` of the vision 2D RoPE: channels [h | w | h | w].

    Frequencies restart in each section (h and w use the same table).
    """
    hw = np.asarray(hw)
    freq = vision_inv_freq(head_dim, theta) if inv_freq is None else np.asarray(inv_freq, np.float32)
    ang = (hw.astype(np.float32)[:, :, None] * freq).astype(np.float32)   # [N,2,Q]
    ang = ang.reshape(hw.shape[0], -1)                                    # [N, D/2] = [h | w]
    emb = np.concatenate([ang, ang], axis=-1).astype(np.float64)
    return np.cos(emb).astype(dtype), np.sin(emb).astype(dtype)


def apply_vision_rope(x, hw, *, theta: float = 10000.0, inv_freq=None, dtype=np.float32):
    """Vision 2D RoPE of ``x [N,H,D]`` (tokens, heads, head dim) with ``hw [N,2]``."""
    x = np.asarray(x)
    N, H, D = x.shape
    c, s = vision_cos_sin(hw, head_dim=D, theta=theta, inv_freq=inv_freq, dtype=dtype)
    # rotate() wants [B,H,S,D] and [B,S,R]: view tokens as the sequence of one batch.
    y = rotate(np.transpose(x, (1, 0, 2))[None], c[None], s[None], layout="neox", dtype=dtype)
    return np.transpose(y[0], (1, 0, 2))
