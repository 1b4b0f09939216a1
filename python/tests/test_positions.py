"""mrope.position_ids and check_positions on random padded and packed batches, per arch.

What is checked, per arch, on 300 seeded random batches (B = 1..3 rows of
1..3 packed samples, padding left/right/between, images, videos, audio and
timestamps where the arch has them):

(a) packed == alone: every segment's positions and rope_delta equal those of
    the same sample alone in its own unpadded row;
(b) qwen2-vl / qwen2.5-vl / qwen3-vl: unpacked left-padded batches equal
    mrope.reference.rope_index (positions on unpadded tokens, and deltas);
(c) check_positions says ok on correct ids ([4, B, L], and [3, B, L] where no
    text row is expected) and names the right verdict, shape and first wrong
    token for each failure shape: 1D ids, ids that do not restart per segment,
    ids that restart but lost the 3D part, a [3, B, L] tensor read as packing,
    one wrong value.

Edge cases the generator produces on purpose (see ``random_sample`` and
``packed_batch``): a segment id with no tokens (ids 1 and 3, no 2), a row
that is all padding, padding between segments, a segment of one token,
text-only and audio-only segments, an image first or last in a segment
(right after / before the segment boundary), back-to-back vision blocks with
no text between, videos of one frame, Qwen3-VL / Qwen3.5 / GLM-4V timestamp
text between frames, Qwen2.5-VL / Omni fractional seconds per grid, audio in
video (Omni, ``use_audio_in_video``), and vision tokens without their
start/end tokens (the token-type runs still lay them out).

Hand-worked examples per arch (``test_hand_worked``) pin the upstream rules
themselves: each expected row was derived by hand from the upstream
``get_rope_index`` named in mrope/archs.py, not from this code.
"""
import numpy as np
import pytest

from mrope import ARCHS, check_positions, position_ids, reference as ref
from mrope.archs import arch_spec
from mrope.positions import _audio_len_pooled, _audio_len_windowed

N_BATCHES = 300


# --------------------------------------------------------------------------
# Random samples in each processor's token layout
# --------------------------------------------------------------------------

def text(rng, lo, hi):
    return [int(x) for x in rng.integers(1, 1000, int(rng.integers(lo, hi + 1)))]


class Sample:
    def __init__(self):
        self.tokens, self.images, self.videos, self.seconds, self.audios = [], [], [], [], []


def _grid(rng, t=1):
    return [t, 2 * int(rng.integers(1, 4)), 2 * int(rng.integers(1, 4))]


def random_sample(rng, arch, aiv=False, bare=False, max_items=3):
    """One sample as the arch's processor writes it (``bare``: vision tokens without start/end)."""
    spec = arch_spec(arch)
    s = Sample()
    s.tokens += text(rng, 0, 3)
    for _ in range(int(rng.integers(0, max_items + 1))):
        kind = rng.choice(["image", "video", "audio"] if spec.has_audio else ["image", "video"])
        if kind == "image":
            g = _grid(rng)
            s.images.append(g)
            n = g[1] * g[2] // 4
            s.tokens += ([] if bare else [spec.vision_start_token_id]) + [spec.image_token_id] * n + \
                    ([] if bare else [spec.vision_end_token_id])
        elif kind == "video":
            g = _grid(rng, int(rng.integers(1, 4)))
            s.videos.append(g)
            s.seconds.append(float(rng.choice([0.5, 1.0, 2.0, 0.3])))
            per_frame = g[1] * g[2] // 4
            if spec.token_types == "glm4v":
                s.tokens.append(spec.video_start_token_id)
                for _ in range(g[0]):
                    s.tokens += [spec.vision_start_token_id] + [spec.image_token_id] * per_frame + \
                        [spec.vision_end_token_id] + text(rng, 1, 2)   # frame, timestamp
                s.tokens.append(spec.video_end_token_id)
            elif spec.split_video_frames:
                for _ in range(g[0]):
                    s.tokens += text(rng, 1, 2)                          # timestamp "<t seconds>"
                    s.tokens += ([] if bare else [spec.vision_start_token_id]) + \
                        [spec.video_token_id] * per_frame + ([] if bare else [spec.vision_end_token_id])
            elif aiv:
                length = int(rng.integers(5, 60))
                s.audios.append(length)
                na = _omni_audio_len(spec, length)
                # <vision_start><audio_start> video and audio tokens <audio_end><vision_end>
                s.tokens += [spec.vision_start_token_id, spec.audio_start_token_id] + \
                    [spec.video_token_id] * (g[0] * per_frame) + [spec.audio_token_id] * na + \
                    [spec.audio_end_token_id, spec.vision_end_token_id]
            else:
                s.tokens += ([] if bare else [spec.vision_start_token_id]) + \
                    [spec.video_token_id] * (g[0] * per_frame) + ([] if bare else [spec.vision_end_token_id])
        else:
            length = int(rng.integers(5, 250))
            s.audios.append(length)
            s.tokens += [spec.audio_start_token_id] + [spec.audio_token_id] * _omni_audio_len(spec, length) + \
                [spec.audio_end_token_id]
        s.tokens += text(rng, 0, 2)       # 0: back-to-back blocks
    if not s.tokens:
        s.tokens = text(rng, 1, 1)        # a one-token segment
    return s


def _omni_audio_len(spec, length):
    return _audio_len_pooled(length) if spec.layout == "omni-chunked" else \
        _audio_len_windowed(length, spec.audio_window)


def packed_batch(rng, arch, B=None):
    """Rows of 1..3 samples; segment ids with padding (0) left, right and between samples,
    sometimes skipping an id (an empty segment), sometimes a row of padding only."""
    spec = arch_spec(arch)
    aiv = spec.has_audio and bool(rng.integers(0, 2))
    # Bare vision tokens: the run layouts still lay them out (GLM-4V needs its image start/end
    # tokens to separate back-to-back images, as upstream's grouping does).
    bare = spec.token_types == "ids" and spec.layout == "runs" and rng.random() < 0.15
    B = int(rng.integers(1, 4)) if B is None else B
    rows, samples = [], []
    for _ in range(B):
        toks, seg, k = [], [], 0
        if rng.random() < 0.08:
            rows.append((toks, seg))
            continue
        for _ in range(int(rng.integers(1, 4))):
            pad = int(rng.integers(0, 3)) if rng.random() < 0.4 else 0
            toks += [0] * pad
            seg += [0] * pad
            k += 1 + int(rng.random() < 0.15)          # an empty segment id
            s = random_sample(rng, arch, aiv=aiv, bare=bare)
            samples.append(s)
            toks += s.tokens
            seg += [k] * len(s.tokens)
        rows.append((toks, seg))
    L = max([len(t) for t, _ in rows] + [1]) + int(rng.integers(0, 3))
    ids = np.zeros((B, L), np.int64)
    segs = np.zeros((B, L), np.int64)
    for b, (t, sg) in enumerate(rows):
        off = int(rng.integers(0, L - len(t) + 1))
        ids[b, off:off + len(t)] = t
        segs[b, off:off + len(sg)] = sg
    inputs = batch_inputs(arch, samples, aiv)
    return ids, segs, samples, inputs


def batch_inputs(arch, samples, aiv):
    spec = arch_spec(arch)
    grid = lambda key: (np.array([g for s in samples for g in getattr(s, key)], np.int64).reshape(-1, 3)
                        if any(getattr(s, key) for s in samples) else None)
    out = {"image_grid_thw": grid("images"), "video_grid_thw": grid("videos")}
    if spec.tokens_per_second is not None or spec.position_id_per_seconds is not None:
        sec = [x for s in samples for x in s.seconds]
        if sec:
            out["second_per_grid_ts"] = np.array(sec, np.float32)
    if spec.has_audio:
        aud = [x for s in samples for x in s.audios]
        if aud:
            out["audio_seqlens"] = np.array(aud, np.int64)
        out["use_audio_in_video"] = aiv
    return out


def alone(arch, s, aiv):
    return position_ids(np.array([s.tokens], np.int64), arch=arch, **batch_inputs(arch, [s], aiv))


# --------------------------------------------------------------------------
# (a) packed == alone, (c) check verdicts on packed batches
# --------------------------------------------------------------------------

def first_wrong(got3, want, keep):
    d = (got3 != want).any(axis=0) & keep
    return tuple(int(v) for v in np.argwhere(d)[0]) if d.any() else None


def per_segment_arange(segs):
    out = np.zeros(segs.shape, np.int64)
    for b in range(segs.shape[0]):
        for k in np.unique(segs[b][segs[b] > 0]):
            idx = np.flatnonzero(segs[b] == k)
            out[b, idx] = np.arange(len(idx))
    return out


@pytest.mark.parametrize("arch", ARCHS)
def test_packed_batches(arch):
    rng = np.random.default_rng(ARCHS.index(arch))
    for n in range(N_BATCHES):
        ids, segs, samples, inputs = packed_batch(rng, arch)
        aiv = inputs.get("use_audio_in_video", False)
        pos, deltas = position_ids(ids, arch=arch, segment_ids=segs, **inputs)
        keep = segs > 0

        # (a) each segment is its sample alone in its own row.
        i = 0
        for b in range(ids.shape[0]):
            for k in [int(v) for v in np.unique(segs[b][keep[b]])]:
                s = samples[i]
                i += 1
                want, want_delta = alone(arch, s, aiv)
                idx = np.flatnonzero(segs[b] == k)
                np.testing.assert_array_equal(pos[:, b, idx], want[:, 0], err_msg=f"{arch} batch {n}")
                assert deltas[b, k - 1] == want_delta[0, 0], (arch, n, b, k)
        assert i == len(samples)

        # (c) check_positions on the same batch.
        kw = dict(arch=arch, segment_ids=segs, **inputs)
        packed = any(len(np.unique(segs[b][keep[b]])) > 1 for b in range(len(segs)))
        pos4, _ = position_ids(ids, with_text_row=True, **kw)
        assert check_positions(pos4, ids, **kw).verdict == "ok"
        assert check_positions(pos, ids, text_row=False, **kw).verdict == "ok"
        text = per_segment_arange(segs)
        if not keep.any():
            continue
        vision = not (((pos[0] == pos[1]) & (pos[1] == pos[2])) | ~keep).all()

        # A [3, B, L] tensor on a packed batch: the model reads row t as the text row.
        res = check_positions(pos, ids, **kw)
        if packed and ((pos[0] != text) & keep).any():
            assert (res.verdict, res.shape) == ("mismatch", "3d-read-as-packing"), res
            assert (res.batch, res.token) == first_wrong(pos[None, 0], text[None], keep)
        else:
            assert res.verdict == "ok", res

        # Ids that restart per segment but lost the 3D part.
        res = check_positions(text, ids, **kw)
        if vision:
            assert (res.verdict, res.shape) == ("1d-degenerate", "lost-3d" if packed else "1d"), res
            assert (res.batch, res.token) == first_wrong(np.broadcast_to(text, pos.shape), pos, keep)
            assert res.segment == segs[res.batch, res.token]
            assert res.expected == tuple(pos[:, res.batch, res.token].tolist())
        else:  # (Qwen2.5-Omni's doubled bos/eos make even a 1D sample differ from arange)
            assert res.verdict == ("ok" if not ((text != pos[0]) & keep).any() else "mismatch"), res

        # 1D ids over the whole row (the trainer ignored the packing).
        row1d, _ = ref.text_positions(keep.astype(np.int64))
        res = check_positions(row1d, ids, **kw)
        if packed:
            assert res.verdict == "no-restart" and res.also_1d == vision, res
            assert (res.batch, res.token) == first_wrong(np.broadcast_to(row1d, pos.shape), pos, keep)
        elif vision:
            assert res.verdict == "1d-degenerate", res

        # Positions computed over the packed row as one sample (LLaMA-Factory-style): no restart.
        if packed:
            whole, _ = position_ids(ids, arch=arch, attention_mask=keep.astype(np.int64),
                                    **{k: v for k, v in inputs.items()})
            res = check_positions(whole, ids, text_row=False, **kw)
            assert res.verdict == "no-restart", res
            assert (res.batch, res.token) == first_wrong(whole, pos, keep)
            b, t = res.restart_at
            assert segs[b, t] > 0 and (segs[b, :t] > 0).any() and (segs[b, :t] != segs[b, t]).all()

        # One wrong value anywhere: a mismatch there.
        bad = pos.copy()
        b, t = np.argwhere(keep)[rng.integers(0, int(keep.sum()))]
        bad[rng.integers(0, 3), b, t] += 1
        res = check_positions(bad, ids, text_row=False, **kw)
        assert res.verdict == "mismatch" and (res.batch, res.token) == (b, t), res
        assert res.segment == segs[b, t]


# --------------------------------------------------------------------------
# (b) the three reference archs, unpacked and left padded
# --------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ["qwen2-vl", "qwen2.5-vl", "qwen3-vl"])
def test_unpacked_equals_reference(arch):
    rng = np.random.default_rng(100 + ARCHS.index(arch))
    for n in range(N_BATCHES):
        B = int(rng.integers(1, 4))
        samples = [random_sample(rng, arch) for _ in range(B)]
        L = max(len(s.tokens) for s in samples) + int(rng.integers(0, 3))
        ids = np.zeros((B, L), np.int64)
        mask = np.zeros((B, L), np.int64)
        for b, s in enumerate(samples):
            ids[b, L - len(s.tokens):] = s.tokens
            mask[b, L - len(s.tokens):] = 1
        inputs = batch_inputs(arch, samples, False)
        got, got_d = position_ids(ids, arch=arch, attention_mask=mask, **inputs)
        want, want_d = ref.rope_index(ids, inputs["image_grid_thw"], inputs["video_grid_thw"], mask,
                                      second_per_grid_ts=inputs.get("second_per_grid_ts"), arch=arch)
        keep = mask == 1
        np.testing.assert_array_equal(got[:, keep], want[:, keep], err_msg=f"{arch} batch {n}")
        np.testing.assert_array_equal(got_d, want_d, err_msg=f"{arch} batch {n}")
        # The same batch as segments: positions unchanged, deltas against each sample's own length.
        pos, deltas = position_ids(ids, arch=arch, segment_ids=mask, **inputs)
        np.testing.assert_array_equal(pos[:, keep], want[:, keep])
        own = [[want[:, b, keep[b]].max() + 1 - keep[b].sum()] for b in range(B)]
        np.testing.assert_array_equal(deltas, own)


def test_text_only_batches_follow_upstreams_text_branch():
    mask = np.array([[0, 0, 1], [1, 1, 1]])
    ids = np.ones((2, 3), np.int64)
    pos, d = position_ids(ids, arch="qwen2-vl", attention_mask=mask)
    want, want_d = ref.rope_index(ids, None, None, mask)
    np.testing.assert_array_equal(pos, want)
    np.testing.assert_array_equal(d, want_d)     # [[-1], [0]]: the max includes the padded 1s
    _, d = position_ids(ids, arch="qwen2.5-omni", attention_mask=mask)
    np.testing.assert_array_equal(d, [[1], [0]])  # Omni: against the unpadded length


# --------------------------------------------------------------------------
# Hand-worked examples of each upstream rule
# --------------------------------------------------------------------------

def _ids(arch, layout):
    s = arch_spec(arch)
    table = {"T": 7, "VS": s.vision_start_token_id, "VE": s.vision_end_token_id, "I": s.image_token_id,
             "V": s.video_token_id, "A": s.audio_token_id, "AS": s.audio_start_token_id,
             "AE": s.audio_end_token_id, "DS": s.video_start_token_id, "DE": s.video_end_token_id}
    return np.array([[table[x] for x in layout.split()]], np.int64)


HAND = [
    # qwen2-vl: T T <vs> image 1x4x4 (2x2 merged) <ve> T; text after resumes at the block max + 1.
    ("qwen2-vl", "T T VS I I I I VE T", dict(image_grid_thw=[[1, 4, 4]]),
     [[0, 1, 2, 3, 3, 3, 3, 5, 6], [0, 1, 2, 3, 3, 4, 4, 5, 6], [0, 1, 2, 3, 4, 3, 4, 5, 6]]),
    # qwen2-vl video 3x2x2 (one token per frame): t = 0, 1, 2 from 1 -> <ve> at the block max + 1 = 4.
    ("qwen2-vl", "VS V V V VE", dict(video_grid_thw=[[3, 2, 2]]),
     [[0, 1, 2, 3, 4], [0, 1, 1, 1, 4], [0, 1, 1, 1, 4]]),
    # qwen2.5-vl: t = int(i * 2.0 s/grid * 2 tokens/s) = 0, 4, 8, from 1.
    ("qwen2.5-vl", "VS V V V VE", dict(video_grid_thw=[[3, 2, 2]], second_per_grid_ts=[2.0]),
     [[0, 1, 5, 9, 10], [0, 1, 1, 1, 10], [0, 1, 1, 1, 10]]),
    # qwen3-vl: each frame its own block after a timestamp token.
    ("qwen3-vl", "T VS V VE T VS V VE", dict(video_grid_thw=[[2, 2, 2]]),
     [[0, 1, 2, 3, 4, 5, 6, 7]] * 3),
    # qwen3.5: same rule with its own token ids.
    ("qwen3.5", "T VS I I I I VE", dict(image_grid_thw=[[1, 4, 4]]),
     [[0, 1, 2, 2, 2, 2, 4], [0, 1, 2, 2, 3, 3, 4], [0, 1, 2, 3, 2, 3, 4]]),
    # glm4v: image run at max + 1 without text offset; video frames (image tokens inside
    # <video_start> ... <video_end>) each start one past the previous block.
    ("glm4v", "T DS VS I VE T VS I VE DE", dict(video_grid_thw=[[2, 2, 2]]),
     [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]] * 3),
    ("glm4v", "T VS I I I I VE", dict(image_grid_thw=[[1, 4, 4]]),
     [[0, 1, 2, 2, 2, 2, 4], [0, 1, 2, 2, 3, 3, 4], [0, 1, 2, 3, 2, 3, 4]]),
    # qwen2.5-omni: bos/eos blocks; image t = 0; video t = int(i * 1.0 s * 25) = 0, 25.
    ("qwen2.5-omni", "T VS V V VE T", dict(video_grid_thw=[[2, 2, 2]], second_per_grid_ts=[1.0]),
     [[0, 1, 2, 27, 28, 29], [0, 1, 2, 2, 28, 29], [0, 1, 2, 2, 28, 29]]),
    # qwen2.5-omni audio: 20 mel frames -> ((19//2+1-2)//2+1) = 5 tokens, 1D.
    ("qwen2.5-omni", "T AS A A A A A AE T", dict(audio_seqlens=[20], image_grid_thw=[[1, 2, 2]]),
     [[0, 1, 2, 3, 4, 5, 6, 7, 8]] * 3),
    # qwen3-omni: video t = i * 0.5 s * 13 = 0, 6.5 from 1 (float, not truncated); eos and text
    # one past the last block's maximum.
    ("qwen3-omni", "VS V V VE T", dict(video_grid_thw=[[2, 2, 2]], second_per_grid_ts=[0.5]),
     [[0, 1, 7.5, 8.5, 9.5], [0, 1, 1, 8.5, 9.5], [0, 1, 1, 8.5, 9.5]]),
]


@pytest.mark.parametrize("arch,layout,inputs,want", HAND, ids=[h[0] + ":" + h[1] for h in HAND])
def test_hand_worked(arch, layout, inputs, want):
    pos, _ = position_ids(_ids(arch, layout), arch=arch, **inputs)
    np.testing.assert_array_equal(pos[:, 0], np.array(want, pos.dtype))


def test_audio_in_video_omni25_chunks():
    """Qwen2.5-Omni, 1 video of 4 frames (1 token each) at 1.0 s/grid with 2 s chunks of 25 positions:
    frames t = 0, 25, 50, 75 -> chunks {0, 25}, {50, 75}; 17 mel frames -> 4 audio tokens at 0..3 -> one
    chunk. Order: video chunk 1, audio chunk 1, video chunk 2; bos and eos doubled at one position."""
    ids = _ids("qwen2.5-omni", "VS AS V V A A A A V V AE VE")
    pos, _ = position_ids(ids, arch="qwen2.5-omni", video_grid_thw=[[4, 2, 2]], second_per_grid_ts=[1.0],
                          audio_seqlens=[17], use_audio_in_video=True)
    s = 1  # bos at 0, 0; the span starts at 1
    t = [0, 0, s + 0, s + 25, s + 0, s + 1, s + 2, s + 3, s + 50, s + 75]
    assert pos[0, 0].tolist() == t + [s + 76, s + 76]  # eos: last block's max + 1
    assert pos[1, 0].tolist()[2:4] == [s, s]


def test_audio_in_video_qwen3_omni_merge():
    """Qwen3-Omni: video t = 0, 13 (1.0 s/grid, 13 positions/s), audio of 3 tokens at 0, 1, 2, both from
    the span start (2 after the two-token bos); merged by t, video first on a tie; eos from the last piece."""
    ids = _ids("qwen3-omni", "VS AS V A A A V AE VE")
    pos, _ = position_ids(ids, arch="qwen3-omni", video_grid_thw=[[2, 2, 2]], second_per_grid_ts=[1.0],
                          audio_seqlens=[17], use_audio_in_video=True)
    assert _audio_len_windowed(17, 50) == 3
    assert pos[0, 0].tolist() == [0, 1, 2, 2, 3, 4, 15, 16, 17]


def test_errors_are_one_clear_line():
    ids = _ids("qwen2-vl", "VS I I I I VE")
    with pytest.raises(ValueError, match="more image blocks"):
        position_ids(ids, arch="qwen2-vl", video_grid_thw=[[1, 2, 2]])
    with pytest.raises(ValueError, match="does not match its grids"):
        position_ids(ids, arch="qwen2-vl", image_grid_thw=[[1, 2, 2], [1, 4, 6]])
    with pytest.raises(ValueError, match="unknown arch"):
        position_ids(ids, arch="llava")
    with pytest.raises(ValueError, match="1 entries for 2 video grids"):
        position_ids(ids, arch="qwen2.5-vl", video_grid_thw=[[1, 2, 2], [1, 2, 2]], second_per_grid_ts=[1.0])
    with pytest.raises(TypeError, match="unknown arch parameter"):
        position_ids(ids, arch="qwen2-vl", image_token=3)
    with pytest.raises(ValueError, match="segment_ids must be"):
        position_ids(ids, arch="qwen2-vl", segment_ids=np.ones((1, 5), np.int64))


def test_mm_token_type_ids_replace_the_token_ids():
    ids = np.array([[5, 9, 9, 9, 9, 6]])
    types = np.array([[0, 1, 1, 1, 1, 0]])
    pos, _ = position_ids(ids, arch="qwen3.5", image_grid_thw=[[1, 4, 4]], mm_token_type_ids=types)
    assert pos[:, 0].tolist() == [[0, 1, 1, 1, 1, 3], [0, 1, 1, 2, 2, 3], [0, 1, 2, 1, 2, 3]]


def test_text_row_drops_masked_tokens_from_their_sample():
    """The [4, B, L] text row counts a sample's kept tokens only, as its t, h, w rows do: a masked slot
    inside segment 1 is 1 (padding) and the token after it continues at 2, not 3."""
    ids = np.array([[5, 6, 7, 8, 9, 10]], np.int64)
    seg = np.array([[1, 1, 1, 1, 2, 2]], np.int64)
    mask = np.array([[1, 1, 0, 1, 1, 1]], np.int64)
    pos, _ = position_ids(ids, arch="qwen2-vl", segment_ids=seg, attention_mask=mask, with_text_row=True)
    np.testing.assert_array_equal(pos[0], [[0, 1, 1, 2, 0, 1]])
    np.testing.assert_array_equal(pos[1], [[0, 1, 1, 2, 0, 1]])
