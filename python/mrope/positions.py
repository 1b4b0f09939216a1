"""``mrope.position_ids``: correct M-RoPE positions for padded or packed batches.

Every architecture of :mod:`mrope.archs` is laid out by one of three layout
functions below, each following one upstream ``get_rope_index`` rule by rule
(see the table's docstring for the files). Packed rows (``segment_ids``) are
split into their samples and each sample is laid out as if it were alone in
its own unpadded row: positions restart at every segment and each segment has
its own ``rope_delta``. Grids (and ``second_per_grid_ts``, ``audio_seqlens``)
are consumed in order: row by row, and inside a row segment by segment, as
the processor emitted them.

Depends on numpy only; torch tensors are accepted (and returned as numpy).
"""
from __future__ import annotations

import numpy as np

from .archs import ArchSpec, arch_spec

__all__ = ["position_ids", "text_row", "segments_of"]

# Keyword arguments of position_ids that are inputs, not table overrides.
_INPUT_KEYS = ("second_per_grid_ts", "audio_seqlens", "use_audio_in_video", "mm_token_type_ids")


def _np(x, name, integer=True):
    if x is None:
        return None
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if integer and x.dtype.kind not in "iub":
        raise TypeError(f"{name} must be an integer tensor, got dtype {x.dtype}")
    return x


def _grids(g, name):
    if g is None:
        return np.zeros((0, 3), np.int64)
    g = _np(g, name).astype(np.int64)
    if g.size % 3:
        raise ValueError(f"{name} must be [N, 3], got shape {list(g.shape)}")
    g = g.reshape(-1, 3)
    if (g < 0).any():
        raise ValueError(f"{name} has a negative entry")
    return g


class _Cursor:
    """Grids, video seconds and audio lengths, consumed in order across the batch."""

    def __init__(self, spec: ArchSpec, images, videos, second_per_grid_ts, audio_seqlens):
        self.images = images
        seconds = None if second_per_grid_ts is None else \
            np.asarray(_np(second_per_grid_ts, "second_per_grid_ts", integer=False), np.float32).reshape(-1)
        if spec.split_video_frames and len(videos):
            # Qwen3-VL / Qwen3.5: one [1,h,w] block per frame (timestamps sit between frames).
            frames = videos[:, 0]
            videos = np.repeat(videos, frames, axis=0)
            videos[:, 0] = 1
            if seconds is not None:
                seconds = np.repeat(seconds, frames)
        if seconds is not None and len(seconds) < len(videos):
            raise ValueError(f"second_per_grid_ts has {len(seconds)} entries for {len(videos)} video grids")
        self.videos, self.seconds = videos, seconds
        self.audios = None if audio_seqlens is None else _np(audio_seqlens, "audio_seqlens").reshape(-1)
        self.i_image = self.i_video = self.i_audio = 0

    def image(self):
        if self.i_image >= len(self.images):
            raise ValueError("more image blocks in input_ids than rows in image_grid_thw")
        self.i_image += 1
        return self.images[self.i_image - 1]

    def video(self):
        if self.i_video >= len(self.videos):
            raise ValueError("more video blocks in input_ids than rows in video_grid_thw")
        self.i_video += 1
        k = self.i_video - 1
        return self.videos[k], (np.float32(1.0) if self.seconds is None else self.seconds[k])

    def audio(self, tokens_of):
        """The next audio's token count, ``tokens_of(mel frames)``."""
        if self.audios is None or self.i_audio >= len(self.audios):
            raise ValueError("more audio spans in input_ids than entries in audio_seqlens")
        self.i_audio += 1
        frames = int(self.audios[self.i_audio - 1])
        length = tokens_of(frames)
        if length < 1:
            raise ValueError(f"audio {self.i_audio - 1} of {frames} mel frames gives {length} tokens")
        return length


def _grid_block(grid, m, start, t_index=None, dtype=np.int64):
    """(3, t*gh*gw) positions of one grid: row t = ``t_index`` per frame group, rows h, w the patch
    row/column, all offset by ``start`` (frame-major, then row-major: the merger's token order)."""
    t, h, w = (int(v) for v in grid)
    gh, gw = h // m, w // m
    k = np.arange(t * gh * gw, dtype=np.int64)
    frame = k // (gh * gw) if gh * gw else k
    tt = frame if t_index is None else np.asarray(t_index)[frame]
    out = np.empty((3, len(k)), dtype)
    out[0] = tt
    out[1] = (k // gw) % gh if gw else k
    out[2] = k % gw if gw else k
    out += start
    return out


def _line(length, start, dtype=np.int64):
    """A text (or audio, bos, eos) block: the same consecutive positions on the three rows."""
    out = np.empty((3, int(length)), dtype)
    out[:] = np.arange(int(length), dtype=dtype) + start
    return out


def _scaled_t(t, seconds, per_second):
    """The scaled temporal row of ``t`` frame groups (see :func:`_scale`)."""
    return _scale(np.arange(t, dtype=np.int64), seconds, per_second)


# --------------------------------------------------------------------------
# Layouts: the run layout takes all samples at once; the Omni layouts one
# sample (an unpadded token sequence) at a time -> positions (3, n)
# --------------------------------------------------------------------------

def _layout_runs(tok, typ, sid, spec, cur):
    """Qwen2-VL / Qwen2.5-VL / Qwen3-VL / Qwen3.5 / GLM-4V, for all samples at once.

    Token types (given ``mm_token_type_ids``, or from the token ids by the
    arch's front end: 1 image, 2 video) cut each sample into runs; a vision
    run holds the next grid(s) of its kind in order (GLM-4V and the Qwen3
    family: one ``[1, h, w]`` grid per video frame). Every unit (a text run,
    or one grid's block) starts at the previous unit's maximum + 1 (0 for a
    sample's first unit); a text run
    is the same consecutive positions on the three rows, a block is
    (t, h, w) + start, t the frame group (Qwen2.5-VL: scaled by
    ``second_per_grid_t * tokens_per_second``, 0 for images). A unit's
    maximum is its start + its extent - 1, with extent = length for text and
    max(t of the last frame, h - 1, w - 1) + 1 for a block, so the starts are
    a running sum of extents per sample, done here in numpy for the whole
    batch (the data loader pays for this on every batch).

    ``tok``/``typ``/``sid``: the tokens of all samples one after the other,
    their types (or None) and their sample number. Returns (positions
    ``(3, n)``, each unit's extent, each unit's sample number).
    """
    n, m = len(tok), spec.spatial_merge_size
    if typ is None:
        typ = _TOKEN_TYPES[spec.token_types](tok, sid, spec)
    elif n and not np.isin(typ, (0, 1, 2)).all():
        bad = int(typ[~np.isin(typ, (0, 1, 2))][0])
        raise ValueError(f"token type {bad} is not text (0), image (1) or video (2) for {spec.name}")
    new = np.ones(n, bool)
    new[1:] = (typ[1:] != typ[:-1]) | (sid[1:] != sid[:-1])
    rs = np.flatnonzero(new)
    rl = np.diff(np.append(rs, n))
    rk = typ[rs]
    text = rk == 0
    # Units: text runs, then one block per grid; per unit: first token, tokens, extent, gh, gw, seconds.
    units = [(rs[text], rl[text], rl[text], np.ones(text.sum(), np.int64), np.ones(text.sum(), np.int64),
              np.zeros(text.sum(), np.float32))]
    seconds_of = {1: lambda g: np.zeros(len(g), np.float32),
                  2: lambda g: np.ones(len(g), np.float32) if cur.seconds is None else cur.seconds[:len(g)]}
    for kind, grids, name in ((1, cur.images, "image"), (2, cur.videos, "video")):
        mine = rk == kind
        if not mine.any():
            continue
        starts, lens = rs[mine], rl[mine]
        gh, gw = grids[:, 1] // m, grids[:, 2] // m
        ng = grids[:, 0] * gh * gw
        cs, cr = np.cumsum(ng), np.cumsum(lens)
        if not len(cs) or cr[-1] > cs[-1]:
            raise ValueError(f"more {name} blocks in input_ids than rows in {name}_grid_thw")
        at = np.searchsorted(cs, cr)
        off = cs[at] != cr
        if off.any():
            r = int(np.argmax(off))
            raise ValueError(f"a run of {lens[r]} {name} tokens does not match its grids "
                             f"({cs[at[r]] - (cr[r] - lens[r])} tokens)")
        G = int(at[-1]) + 1
        gh, gw, ng, first_k = gh[:G], gw[:G], ng[:G], cs[:G] - ng[:G]
        r = np.minimum(np.searchsorted(cr, first_k, side="right"), len(cr) - 1)
        first = starts[r] + first_k - (cr[r] - lens[r])
        secs = seconds_of[kind](grids[:G]).astype(np.float32)
        t_last = np.maximum(grids[:G, 0] - 1, 0)
        if spec.tokens_per_second is not None:
            t_last = _scale(t_last, secs, spec.tokens_per_second)
        extent = np.where(ng > 0, np.maximum(np.maximum(t_last, gh - 1), gw - 1) + 1, 0)
        units.append((first, ng, extent, gh, gw, secs))
        if kind == 2:
            cur.i_video = G
        else:
            cur.i_image = G
    first, length, extent, gh, gw, secs = (np.concatenate(c) for c in zip(*units))
    order = np.argsort(first, kind="stable")
    first, length, extent, gh, gw, secs = first[order], length[order], extent[order], gh[order], gw[order], \
        secs[order]
    is_text = np.concatenate([np.ones(text.sum(), bool)] + [np.zeros(len(u[0]), bool) for u in units[1:]])[order]
    # Unit starts: a running sum of extents, restarting at each sample.
    usid = sid[first] if n else first
    before = np.cumsum(extent) - extent
    head = np.ones(len(first), bool)
    head[1:] = usid[1:] != usid[:-1]
    start = before - before[head][np.cumsum(head) - 1]
    # Per token: its unit, the offset inside it, then (t, h, w) (two integer divisions per token: this
    # runs on every batch of a data loader).
    unit = np.repeat(np.arange(len(first)), length)
    o = np.arange(n) - first[unit]
    tgh, tgw = np.maximum(gh, 1)[unit], np.maximum(gw, 1)[unit]
    row = o // tgw
    frame = row // tgh
    t = frame if spec.tokens_per_second is None else _scale(frame, secs[unit], spec.tokens_per_second)
    txt = is_text[unit]
    pos = np.empty((3, n), np.int64)
    pos[0] = np.where(txt, o, t)
    pos[1] = np.where(txt, o, row - frame * tgh)
    pos[2] = np.where(txt, o, o - row * tgw)
    pos += start[unit]
    return pos, extent, usid


def _scale(frames, seconds, per_second):
    """``int64(f32(f32(i * seconds) * per_second))`` elementwise: torch's f32 chain, truncated toward zero."""
    prod = np.asarray(frames).astype(np.float32) * np.asarray(seconds, np.float32)
    return np.trunc((prod * np.float32(per_second)).astype(np.float32)).astype(np.int64)


def _types_from_ids(tok, sid, spec):
    """Qwen-VL front end: image tokens are type 1, video tokens type 2, everything else text."""
    typ = np.zeros(len(tok), np.int64)
    typ[tok == spec.image_token_id] = 1
    typ[tok == spec.video_token_id] = 2
    return typ


def _types_glm4v(tok, sid, spec):
    """GLM-4V front end: image (or video) tokens between ``<video_start>`` and ``<video_end>`` are video
    frames (2), other image tokens images (1); the flag starts off in every sample."""
    n = len(tok)
    if not n:
        return np.zeros(0, np.int64)
    idx = 2 * np.arange(n)
    first = np.ones(n, bool)
    first[1:] = sid[1:] != sid[:-1]
    # Event times: a start/end at its token (2i), a sample boundary just before its first token (2i - 1).
    last_start = np.maximum.accumulate(np.where(tok == spec.video_start_token_id, idx, -2))
    last_end = np.maximum.accumulate(np.maximum(np.where(tok == spec.video_end_token_id, idx, -2),
                                                np.where(first, idx - 1, -2)))
    vision = (tok == spec.image_token_id) | (tok == spec.video_token_id)
    return np.where(vision, np.where(last_start > last_end, 2, 1), 0)


_TOKEN_TYPES = {"ids": _types_from_ids, "glm4v": _types_glm4v}


def _audio_len_pooled(n):
    """Qwen2.5-Omni: two stride-2 convolutions, then a stride-2 pooler."""
    return ((n - 1) // 2 + 1 - 2) // 2 + 1


def _audio_len_windowed(n, window):
    """Qwen3-Omni: three stride-2 convolutions over ``2*window``-frame windows, 13 tokens per full window."""
    chunk = 2 * window
    feat = (n % chunk - 1) // 2 + 1
    return ((feat - 1) // 2 + 1 - 1) // 2 + 1 + (n // chunk) * 13


def _chunks(t_row, per_chunk, origin):
    """Cut a temporal row into successive ``per_chunk`` ranges (at most one boundary per token, as upstream)."""
    out, start, k = [], 0, 1
    for i, v in enumerate(t_row):
        if v - origin >= k * per_chunk:
            out.append((start, i))
            start, k = i, k + 1
    out.append((start, len(t_row)))
    return out


def _span_counts(tokens, spec, aiv):
    vs = np.flatnonzero(tokens[:-1] == spec.vision_start_token_id) if len(tokens) else np.zeros(0, int)
    after = tokens[vs + 1]
    images = int((after == spec.image_token_id).sum())
    videos = int((after == (spec.audio_start_token_id if aiv else spec.video_token_id)).sum())
    audios = int((tokens == spec.audio_start_token_id).sum())
    return images, videos, audios


def _index(toks, value, start, remain):
    if remain <= 0:
        return len(toks) + 1
    try:
        return toks.index(value, start)
    except ValueError:
        return len(toks) + 1


def _layout_omni_chunked(tokens, types, spec, cur, opts):
    """Qwen2.5-Omni: the nearest image / video / audio placeholder opens the next span.

    A span is text, a one-position bos block, the modality's positions, a
    one-position eos block, each starting one past the previous block's
    maximum. Audio is 1D; row t of an image is ``i * position_id_per_seconds``,
    of a video ``int(f32(i * second_per_grid) * position_id_per_seconds)``.
    Audio in video (``use_audio_in_video``): doubled bos/eos at one position,
    video and audio cut into ``seconds_per_chunk`` chunks and interleaved
    (video chunk, then audio chunk).
    """
    aiv = bool(opts.get("use_audio_in_video", False))
    toks = tokens.tolist()
    n, m, pps = len(toks), spec.spatial_merge_size, spec.position_id_per_seconds
    images, videos, audios = _span_counts(tokens, spec, aiv)
    blocks = []

    def nxt():
        return int(blocks[-1].max()) + 1 if blocks else 0

    st = 0
    for _ in range(images + audios if aiv else images + videos + audios):
        ed_i = _index(toks, spec.image_token_id, st, images)
        ed_v = _index(toks, spec.video_token_id, st, videos)
        ed_a = _index(toks, spec.audio_token_id, st, audios)
        ed = min(ed_i, ed_v, ed_a)
        if ed > n:
            raise ValueError(f"{spec.name}: a span start has no placeholder tokens after it")
        two = ed == ed_v and aiv and ed != ed_a and ed != ed_i
        text_len = ed - st - (2 if two else 1)
        if text_len:
            blocks.append(_line(text_len, nxt()))
        if ed == ed_a:
            blocks.append(_line(1, nxt()))
            length = cur.audio(_audio_len_pooled)
            blocks.append(_line(length, nxt()))
            blocks.append(_line(1, nxt()))
            st += text_len + 2 + length
            audios -= 1
        elif ed == ed_i:
            blocks.append(_line(1, nxt()))
            grid = cur.image()
            blocks.append(_grid_block(grid, m, nxt(), np.arange(int(grid[0]), dtype=np.int64) * int(pps)))
            blocks.append(_line(1, nxt()))
            st += text_len + 2 + int(np.prod(grid)) // (m * m)
            images -= 1
        elif not aiv:
            blocks.append(_line(1, nxt()))
            grid, seconds = cur.video()
            blocks.append(_grid_block(grid, m, nxt(), _scaled_t(int(grid[0]), seconds, pps)))
            blocks.append(_line(1, nxt()))
            st += text_len + 2 + int(np.prod(grid)) // (m * m)
            videos -= 1
        else:
            bos = nxt()
            blocks += [_line(1, bos), _line(1, bos)]
            start = nxt()
            length = cur.audio(_audio_len_pooled)
            audio = _line(length, start)
            grid, seconds = cur.video()
            video = _grid_block(grid, m, start, _scaled_t(int(grid[0]), seconds, pps))
            per = int(pps * spec.seconds_per_chunk)
            vch, ach = _chunks(video[0], per, start), _chunks(audio[0], per, start)
            for j in range(max(len(vch), len(ach))):
                if j < len(vch):
                    blocks.append(video[:, vch[j][0]:vch[j][1]])
                if j < len(ach):
                    blocks.append(audio[:, ach[j][0]:ach[j][1]])
            eos = nxt()
            blocks += [_line(1, eos), _line(1, eos)]
            st += text_len + 4 + length + video.shape[1]
            videos -= 1
            audios -= 1
    if st < n:
        blocks.append(_line(n - st, nxt()))
    return blocks


def _layout_omni_merged(tokens, types, spec, cur, opts):
    """Qwen3-Omni: spans open at their start tokens; float positions.

    Text up to the ``<vision_start>`` / ``<audio_start>`` token, a bos block
    (2 positions when ``<vision_start><audio_start>`` opens audio in video),
    the span, an eos block one past the last block's maximum. Row t of an
    image is ``i * position_id_per_seconds``, of a video
    ``f32(f32(i * second_per_grid) * position_id_per_seconds)`` (not
    truncated). Audio in video: video and audio merged token by token by
    row t, video first on a tie.
    """
    f = np.float32
    toks = tokens.tolist()
    n, m, pps = len(toks), spec.spatial_merge_size, spec.position_id_per_seconds
    aiv_flag = bool(opts.get("use_audio_in_video", False))
    images, videos, audios = _span_counts(tokens, spec, aiv_flag)
    has_vision = spec.image_token_id in toks or spec.video_token_id in toks
    has_audio = spec.audio_token_id in toks
    blocks, st = [], 0

    def line(length, start):
        return _line(length, f(start), dtype=f)

    for _ in range(images + audios if aiv_flag else images + videos + audios):
        start = float(blocks[-1].max()) + 1 if blocks else 0.0
        ed_v = _index(toks, spec.vision_start_token_id, st, (images + videos) if has_vision else 0)
        ed_a = _index(toks, spec.audio_start_token_id, st, audios if has_audio else 0)
        ed = min(ed_v, ed_a)
        if ed > n:
            raise ValueError(f"{spec.name}: fewer span start tokens than spans")
        text_len = ed - st
        if text_len:
            blocks.append(line(text_len, start))
            start += text_len
        aiv = ed == ed_v and ed_v + 1 == ed_a
        bos = eos = 2 if aiv else 1
        blocks.append(line(bos, start))
        start += bos
        if ed == ed_a:
            length = cur.audio(lambda frames: _audio_len_windowed(frames, spec.audio_window))
            blocks.append(line(length, start))
            span = length
            audios -= 1
        elif ed + 1 < n and toks[ed + 1] == spec.image_token_id:
            grid = cur.image()
            t_index = np.arange(int(grid[0]), dtype=np.int64).astype(f) * f(pps)
            blocks.append(_vision_float(grid, m, start, t_index))
            span = int(np.prod(grid)) // (m * m)
            images -= 1
        elif ed + 1 < n and toks[ed + 1] == spec.video_token_id:
            grid, seconds = cur.video()
            blocks.append(_vision_float(grid, m, start, _float_t(int(grid[0]), seconds, pps)))
            span = int(np.prod(grid)) // (m * m)
            videos -= 1
        elif aiv:
            length = cur.audio(lambda frames: _audio_len_windowed(frames, spec.audio_window))
            audio = line(length, start)
            grid, seconds = cur.video()
            video = _vision_float(grid, m, start, _float_t(int(grid[0]), seconds, pps))
            # Merge by row t, video first on a tie (both rows are sorted): a stable sort of (t, stream).
            # Upstream appends one token at a time until a stream runs out, then the rest of the other
            # stream as one slice; the eos after it starts at that slice's maximum + 1, so keep it apart.
            stream = np.concatenate([np.zeros(video.shape[1], np.int64), np.ones(length, np.int64)])
            order = np.lexsort((stream, np.concatenate([video[0], audio[0]])))
            merged = np.concatenate([video, audio], axis=1)[:, order]
            stream = stream[order]
            other = np.flatnonzero(stream != stream[-1]) if len(stream) else np.zeros(0, int)
            cut = int(other[-1]) + 1 if len(other) else 0
            if cut:
                blocks.append(merged[:, :cut])
            blocks.append(merged[:, cut:])
            span = length + video.shape[1]
            videos -= 1
            audios -= 1
        else:
            raise ValueError(f"{spec.name}: a <vision_start> is not followed by an image, video or audio token")
        blocks.append(line(eos, float(blocks[-1].max()) + 1))
        st += text_len + bos + span + eos
    if st < n:
        blocks.append(line(n - st, float(blocks[-1].max()) + 1 if blocks else 0.0))
    return blocks


def _float_t(t, seconds, per_second):
    """``f32(f32(i * seconds) * per_second)``: Qwen3-Omni's temporal row, not truncated."""
    prod = np.arange(t, dtype=np.int64).astype(np.float32) * np.float32(seconds)
    return (prod * np.float32(per_second)).astype(np.float32)


def _vision_float(grid, m, start, t_index):
    block = _grid_block(grid, m, 0, t_index, dtype=np.float32).astype(np.float32)
    block[0] += np.float32(start)
    block[1:] += np.float32(start)
    return block


# Per-sample layouts (the run layout works on the whole batch at once, see _laid_out).
_LAYOUTS = {"omni-chunked": _layout_omni_chunked, "omni-merged": _layout_omni_merged}


def segments_of(segment_ids_row):
    """(id, token indices) of each segment of one row, ordered by first token; id 0 (padding) skipped."""
    row = np.asarray(segment_ids_row)
    if len(row) == 0:
        return []
    cut = np.flatnonzero(row[1:] != row[:-1]) + 1
    starts = np.concatenate([[0], cut]).tolist()
    ends = cut.tolist() + [len(row)]
    pieces = {}
    for s, e in zip(starts, ends):
        k = int(row[s])
        if k:
            pieces.setdefault(k, []).append(np.arange(s, e))
    # dicts keep insertion order: ids ordered by their first token.
    return [(k, p[0] if len(p) == 1 else np.concatenate(p)) for k, p in pieces.items()]


def text_row(attention_mask=None, segment_ids=None, shape=None):
    """The text row of the ``[4, B, L]`` form: each token's index among the kept (mask 1) tokens of its
    sample, 1 on padding (mask 0 or segment 0)."""
    if segment_ids is None and attention_mask is None:
        B, L = shape
        return np.broadcast_to(np.arange(L, dtype=np.int64), (B, L)).copy()
    if segment_ids is None:
        mask = np.asarray(attention_mask).astype(np.int64)
        pos = np.cumsum(mask, axis=-1) - 1
        pos[mask == 0] = 1
        return pos
    seg = np.asarray(segment_ids)
    if attention_mask is not None:   # a masked token belongs to no sample, as in the position rows
        seg = np.where(np.asarray(attention_mask) == 1, seg, 0)
    out = np.ones(seg.shape, np.int64)
    for b in range(seg.shape[0]):
        for _, idx in segments_of(seg[b]):
            out[b, idx] = np.arange(len(idx))
    return out


def _sample(spec, tokens, types, cur, opts):
    blocks = _LAYOUTS[spec.layout](tokens, types, spec, cur, opts)
    pos = np.concatenate(blocks, axis=1) if blocks else np.zeros((3, 0), spec.dtype)
    if pos.shape[1] != len(tokens):
        raise ValueError(f"{spec.name}: the spans cover {pos.shape[1]} positions but the sample has "
                         f"{len(tokens)} tokens (grid sizes and token counts disagree)")
    return pos.astype(spec.dtype)


def position_ids(input_ids, *, arch: str, attention_mask=None, segment_ids=None, image_grid_thw=None,
                 video_grid_thw=None, with_text_row: bool = False, **arch_inputs):
    """M-RoPE position ids of a padded or packed batch, as upstream ``get_rope_index`` gives them.

    ``input_ids`` ``[B, L]``; ``attention_mask`` ``[B, L]`` (1 = token);
    ``segment_ids`` ``[B, L]``: 0 = padding, 1..k = the packed samples of a
    row (each laid out as if alone in its own row); grids ``[N, 3]`` in
    order. ``arch_inputs``: ``second_per_grid_ts`` (Qwen2.5-VL, Omni),
    ``audio_seqlens`` (Omni: mel frames per audio), ``use_audio_in_video``
    (Omni), ``mm_token_type_ids`` ``[B, L]`` (0 text, 1 image, 2 video;
    replaces the token-id front end of the run layouts), and any
    :class:`mrope.archs.ArchSpec` field to override (token ids,
    ``spatial_merge_size``, ``tokens_per_second``, ...).

    Returns ``(positions, rope_deltas)``: positions ``[3, B, L]`` (``[4, B, L]``
    with the text row first when ``with_text_row``), int64 (float32 for
    qwen3-omni, whose upstream positions are float); rope_deltas ``[B, 1]``
    without ``segment_ids``, else ``[B, K]`` with column ``k - 1`` for
    segment ``k`` (0 where a row has no segment ``k``).
    """
    opts = {k: arch_inputs.pop(k) for k in _INPUT_KEYS if k in arch_inputs}
    if "audio_feature_lengths" in arch_inputs:
        opts["audio_seqlens"] = arch_inputs.pop("audio_feature_lengths")
    spec = arch_spec(arch, **arch_inputs)
    ids = _np(input_ids, "input_ids")
    if ids is None or ids.ndim != 2:
        raise ValueError("input_ids must be [batch, seq]")
    B, L = ids.shape
    mask = _np(attention_mask, "attention_mask")
    seg = _np(segment_ids, "segment_ids")
    for name, x in (("attention_mask", mask), ("segment_ids", seg)):
        if x is not None and x.shape != (B, L):
            raise ValueError(f"{name} must be [{B}, {L}], got {list(x.shape)}")
    if seg is not None and (seg < 0).any():
        raise ValueError("segment_ids must be >= 0 (0 = padding)")
    types = _np(opts.get("mm_token_type_ids"), "mm_token_type_ids")
    images, videos = _grids(image_grid_thw, "image_grid_thw"), _grids(video_grid_thw, "video_grid_thw")

    if seg is None and image_grid_thw is None and video_grid_thw is None:
        pos, deltas = _text_only(spec, mask, B, L)
    else:
        pos, deltas = _laid_out(spec, ids, mask, seg, types, images, videos, opts)
    if with_text_row:
        pos = np.concatenate([text_row(mask, seg, (B, L))[None].astype(pos.dtype), pos])
    return pos, deltas


def _text_only(spec, mask, B, L):
    """Upstream's branch for a batch without grids: ``cumsum(mask) - 1``, padded slots 1, rows equal."""
    if mask is None:
        pos = np.broadcast_to(np.arange(L, dtype=np.int64), (3, B, L)).astype(spec.dtype)
        return pos, np.zeros((B, 1), spec.dtype)
    m = mask.astype(np.int64)
    row = np.cumsum(m, axis=-1) - 1
    row[m == 0] = 1
    # The max runs over the padded slots too (upstream does the same).
    length = L if spec.delta_len == "padded" else m.sum(-1, keepdims=True)
    deltas = row.max(-1, keepdims=True) + 1 - length
    return np.broadcast_to(row, (3, B, L)).astype(spec.dtype), deltas.astype(spec.dtype)


def _laid_out(spec, ids, mask, seg, types, images, videos, opts):
    B, L = ids.shape
    cur = _Cursor(spec, images, videos, opts.get("second_per_grid_ts"), opts.get("audio_seqlens"))
    if seg is None:
        keep = np.ones((B, L), bool) if mask is None else (mask == 1)
        rows = [[(1, np.flatnonzero(keep[b]))] for b in range(B)]
        deltas = np.zeros((B, 1), spec.dtype)
    else:
        if mask is not None:
            seg = np.where(mask == 1, seg, 0)
        rows = [segments_of(seg[b]) for b in range(B)]
        K = max([k for r in rows for k, _ in r], default=0)
        deltas = np.zeros((B, max(K, 1)), spec.dtype)
    # All samples one after the other: flat indices into [B*L], sample numbers, lengths.
    where = [(b, k) for b, r in enumerate(rows) for k, _ in r]
    lin = [b * L + idx for b, r in enumerate(rows) for _, idx in r]
    lengths = np.array([len(i) for i in lin], np.int64)
    lin = np.concatenate(lin) if lin else np.zeros(0, np.int64)
    sid = np.repeat(np.arange(len(lengths)), lengths)
    tok = ids.reshape(-1)[lin]
    typ = None if types is None else types.reshape(-1)[lin]
    if spec.layout == "runs":
        flat, extent, usid = _layout_runs(tok, typ, sid, spec, cur)
        # A sample's largest position is the sum of its units' extents - 1 (-1: no tokens).
        tops = (np.bincount(usid, weights=extent, minlength=len(lengths)).astype(np.int64) - 1).tolist()
    else:
        ends = np.cumsum(lengths)
        pieces = [_sample(spec, tok[e - n:e], None if typ is None else typ[e - n:e], cur, opts)
                  for n, e in zip(lengths.tolist(), ends.tolist())]
        flat = np.concatenate(pieces, axis=1) if pieces else np.zeros((3, 0), spec.dtype)
        tops = [p.max() if p.size else -1 for p in pieces]
    pos = np.full((3, B * L), spec.pad_value, spec.dtype)
    pos[:, lin] = flat
    for (b, k), n, top in zip(where, lengths.tolist(), tops):
        length = n if (seg is not None or spec.delta_len == "unpadded") else L
        deltas[b, k - 1] = top + 1 - length
    return pos.reshape(3, B, L), deltas
