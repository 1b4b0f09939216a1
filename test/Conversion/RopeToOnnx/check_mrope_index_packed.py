"""rope.mrope_index with segment ids (packed rows) lowered to ONNX
(convert-rope-to-onnx), in ONNX Runtime, against the Python reference
mrope.position_ids(..., segment_ids=...) on a worked example and many seeded
random packed batches. Exact equality: integers.

A random batch: 1 to 3 rows, each 1 to 3 samples packed one after the
other (segment ids 1..k in order), each sample text with 0 to 2 images or
videos (so a block may sit right at a segment's start or end, next to the
neighbour sample's block), padding (segment 0) between samples and at the
end at random, and rows with differing k (rope_deltas [B, K], 0 where a row
has no segment k). Half the batches also pass an attention_mask that is 0
on a random padded or kept slot (mask 0 drops a token from its segment, as
the reference does). Grids are consumed in order across the batch.

qwen2.5-omni also draws audio spans (<audio_start> audio <audio_end>, 5 to
449 mel frames: 1 to 112 tokens) and, in half the batches, writes every
video with its audio (use_audio_in_video: <vision_start><audio_start>, the
frame and audio tokens interleaved in 2-second chunks as the processor
does, <audio_end><vision_end>), so a span may end with its frames or with
its audio, and an image's time row is scaled too (seed 2026: 23 spans end
with frames, 141 with audio, 10 of them with the eos below the span's
largest position + 1, upstream's last-chunk rule). The audio lengths go to
the reference only: the op reads them from the tokens.

--text-row: the op's positions are [4, B, S] (the text row first), compared
with mrope.position_ids(..., with_text_row=True).

--types: the op reads token types (mm_token_type_ids: 1 image, 2 video, as
the arch's front end types the tokens) and every vision token's id is
replaced by a text id, so a lowering that still typed tokens by id would
lay them out as text; the reference gets the same ids and types.

usage: check_mrope_index_packed.py MODEL.onnx --arch A [--batches N] [--unpacked] [--text-row] [--types]
"""
import argparse
import sys

import numpy as np

import mrope
from mrope import ort
from mrope.archs import arch_spec
from mrope.positions import _TOKEN_TYPES, _audio_len_pooled, _audio_len_windowed, _chunks, _float_t, _scaled_t

# Archs whose videos take seconds per grid.
SECONDS = ("qwen2.5-vl", "qwen2.5-omni", "qwen3-omni")
# Archs with f32 positions: their cases start with rounding_example.
ROUNDING = ("qwen3-omni",)
# Seconds per grid the random videos draw; Qwen3-Omni's time rows
# f32(f32(i * sec) * 13) are then fractional for 0.5, 0.7, 1.3 and 0.3.
VIDEO_SECONDS = {"qwen3-omni": [0.5, 1.0, 0.7, 2.0, 1.3, 0.3]}


def audio_tokens(spec, frames):
    """Audio tokens of `frames` mel frames: Qwen3-Omni's windowed encoder, else Qwen2.5-Omni's."""
    if spec.audio_window:
        return _audio_len_windowed(frames, spec.audio_window)
    return _audio_len_pooled(frames)


def omni3_video(rng, spec, grid, sec, aiv, audios):
    """A Qwen3-Omni video span; with audio, frame and audio tokens merged one by one by time row (video
    first on a tie), as its processor writes them. The draws keep every frame's time row either an
    integer or at least 0.09 away from one (t <= 3 frames, the seconds above), so the order by the raw
    rows is the reference's order by the rows plus the span's start (f32 rounding of the sum can only
    turn a gap below one ulp into a tie)."""
    n = grid[0] * grid[1] * grid[2] // 4
    if not aiv:
        return [spec.vision_start_token_id] + [spec.video_token_id] * n + [spec.vision_end_token_id]
    frames = int(rng.integers(5, 450))
    audios.append(frames)
    na = audio_tokens(spec, frames)
    t_row = np.repeat(_float_t(grid[0], np.float32(sec), spec.position_id_per_seconds), n // grid[0])
    near = np.abs(t_row - np.round(t_row))
    assert ((near == 0) | (near > 0.05)).all(), "a time row too close to an integer"
    rows = np.concatenate([t_row.astype(np.float64), np.arange(na, dtype=np.float64)])
    stream = np.concatenate([np.zeros(n, np.int64), np.ones(na, np.int64)])
    merged = stream[np.lexsort((stream, rows))]
    toks = [spec.vision_start_token_id, spec.audio_start_token_id]
    toks += [spec.audio_token_id if s else spec.video_token_id for s in merged.tolist()]
    return toks + [spec.audio_end_token_id, spec.vision_end_token_id]


def omni_video(rng, spec, grid, sec, aiv, audios):
    """A Qwen2.5-Omni video span; with audio, its frames and audio interleaved by 2-second chunk."""
    n = grid[0] * grid[1] * grid[2] // 4
    if not aiv:
        return [spec.vision_start_token_id] + [spec.video_token_id] * n + [spec.vision_end_token_id]
    frames = int(rng.integers(5, 450))
    audios.append(frames)
    na = _audio_len_pooled(frames)
    per = int(spec.position_id_per_seconds * spec.seconds_per_chunk)
    t_row = np.repeat(_scaled_t(grid[0], np.float32(sec), spec.position_id_per_seconds), n // grid[0])
    vch, ach = _chunks(t_row, per, 0), _chunks(np.arange(na), per, 0)
    toks = [spec.vision_start_token_id, spec.audio_start_token_id]
    for j in range(max(len(vch), len(ach))):
        if j < len(vch):
            toks += [spec.video_token_id] * (vch[j][1] - vch[j][0])
        if j < len(ach):
            toks += [spec.audio_token_id] * (ach[j][1] - ach[j][0])
    return toks + [spec.audio_end_token_id, spec.vision_end_token_id]


def sample(rng, spec, arch, aiv=False, audios=None):
    """One sample: tokens, image grids, video grids, seconds per video (audio mel frames into `audios`)."""
    img_t, vid_t = spec.image_token_id, spec.video_token_id
    vs, ve = spec.vision_start_token_id, spec.vision_end_token_id
    toks = list(rng.integers(10, 1000, size=int(rng.integers(0, 4))))
    images, videos, seconds = [], [], []
    for _ in range(int(rng.integers(0, 3))):
        if spec.has_audio and rng.random() < 0.3:
            frames = int(rng.integers(5, 450))
            audios.append(frames)
            toks += [spec.audio_start_token_id] + [spec.audio_token_id] * audio_tokens(spec, frames) + \
                [spec.audio_end_token_id]
            toks += list(rng.integers(10, 1000, size=int(rng.integers(0, 3))))
            continue
        video = rng.random() < 0.4
        t = int(rng.integers(1, 4)) if video else 1
        h, w = 2 * int(rng.integers(1, 4)), 2 * int(rng.integers(1, 4))
        (videos if video else images).append([t, h, w])
        if video:
            seconds.append(float(rng.choice(VIDEO_SECONDS.get(arch, [0.5, 1.0, 0.7, 2.0]))))
        if video and spec.token_types == "glm4v":
            # <video_start> (<timestamp> <image_start> frame <image_end>)* <video_end>,
            # the frame written with image or video tokens
            frame_tok = img_t if rng.random() < 0.5 else vid_t
            toks += [spec.video_start_token_id]
            for _ in range(t):
                toks += list(rng.integers(10, 1000, size=int(rng.integers(1, 3))))
                toks += [vs] + [frame_tok] * (h * w // 4) + [ve]
            toks += [spec.video_end_token_id]
        elif video and spec.audio_window:
            toks += omni3_video(rng, spec, [t, h, w], seconds[-1], aiv, audios)
        elif video and spec.has_audio:
            toks += omni_video(rng, spec, [t, h, w], seconds[-1], aiv, audios)
        elif video and spec.split_video_frames:
            for _ in range(t):      # <timestamp> VS frame VE, per frame
                toks += list(rng.integers(10, 1000, size=int(rng.integers(1, 4))))
                toks += [vs] + [vid_t] * (h * w // 4) + [ve]
        else:
            toks += [vs] + [vid_t if video else img_t] * (t * h * w // 4) + [ve]
        toks += list(rng.integers(10, 1000, size=int(rng.integers(0, 3))))
    if not toks:
        toks = [int(rng.integers(10, 1000))]
    return toks, images, videos, seconds


def random_batch(rng, arch, packed=True):
    spec = arch_spec(arch)
    aiv = spec.has_audio and rng.random() < 0.5
    B = int(rng.integers(1, 4))
    rows, images, videos, seconds, audios = [], [], [], [], []
    for _ in range(B):
        toks, segs = [], []
        for k in range(1, (int(rng.integers(1, 4)) if packed else 1) + 1):
            if k > 1 and rng.random() < 0.3:      # padding between samples
                n = int(rng.integers(1, 3))
                toks += [0] * n
                segs += [0] * n
            t, i, v, s = sample(rng, spec, arch, aiv, audios)
            toks += t
            segs += [k] * len(t)
            images += i
            videos += v
            seconds += s
        rows.append((toks, segs))
    S = max(len(t) for t, _ in rows) + int(rng.integers(0, 3))
    ids = np.zeros((B, S), np.int64)
    seg = np.zeros((B, S), np.int64)
    for b, (t, s) in enumerate(rows):          # padding at the end
        ids[b, :len(t)] = t
        seg[b, :len(s)] = s
    mask = np.ones((B, S), np.int64)
    if rng.random() < 0.5 and (ids < 1000).any():
        # 0 on a random slot: a padded one, or a plain text token's (never a
        # vision token, which would no longer match its grid, nor a marker)
        text = np.argwhere(ids < 1000)
        b, s = text[int(rng.integers(0, len(text)))]
        mask[b, s] = 0
    img = np.asarray(images, np.int64).reshape(-1, 3)
    vid = np.asarray(videos, np.int64).reshape(-1, 3)
    sec = np.asarray(seconds, np.float32)
    extra = dict(audio_seqlens=np.asarray(audios, np.int64), use_audio_in_video=aiv) if spec.has_audio else {}
    return ids, mask, seg, img, vid, sec, extra


def worked_example(arch):
    """Two samples in one row, the second an image at its very start: positions restart at 0."""
    spec = arch_spec(arch)
    img_t, vs, ve = spec.image_token_id, spec.vision_start_token_id, spec.vision_end_token_id
    ids = np.array([[5, 6, vs, img_t, img_t, ve, 7, img_t, img_t, img_t, img_t, 8, 0]], np.int64)
    seg = np.array([[1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 0]], np.int64)
    if spec.has_audio:
        # Omni's rule reads a bos before every span: the second sample opens with <vision_start>.
        ids = np.array([[5, 6, vs, img_t, img_t, ve, 7, vs, img_t, img_t, img_t, img_t, ve, 0]], np.int64)
        seg = np.array([[1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0]], np.int64)
    img = np.array([[1, 2, 4], [1, 4, 4]], np.int64)
    return (ids, np.ones_like(ids), seg, img, np.zeros((0, 3), np.int64), np.zeros(0, np.float32), {})


def rounding_example(arch):
    """Qwen3-Omni: two rows where f32 rounding order shows (found by search against the reference):
    after a video of fractional time rows (0.37 s per grid: f32(f32(i * 0.37) * 13)), the text after
    it crosses a power of two, so f32(f32(m + 1) + j) (the reference) differs from f32(m + 1 + j) at
    one token of row 1, and the bos of the image after 192 text tokens sits at f32(m + 1 + 192), not
    at f32(f32(m + 1) + 192) (row 0). A lowering that adds in another order fails here (the random
    batches' positions are too small to show it)."""
    spec = arch_spec(arch)
    vs, ve, img_t, vid_t = (spec.vision_start_token_id, spec.vision_end_token_id, spec.image_token_id,
                            spec.video_token_id)
    rows = [[7] * 28 + [vs] + [vid_t] * 8 + [ve] + [7] * 192 + [vs, img_t, ve],
            [7] + [vs] + [vid_t] * 2 + [ve] + [7] * 30]
    S = max(len(r) for r in rows)
    ids = np.zeros((2, S), np.int64)
    seg = np.zeros((2, S), np.int64)
    for b, r in enumerate(rows):
        ids[b, :len(r)] = r
        seg[b, :len(r)] = 1
    extra = dict(audio_seqlens=np.zeros(0, np.int64), use_audio_in_video=False)
    return (ids, np.ones_like(ids), seg, np.array([[1, 2, 2]], np.int64),
            np.array([[8, 2, 2], [2, 2, 2]], np.int64), np.array([0.37, 0.37], np.float32), extra)


def with_types(case, arch):
    """The case with mm_token_type_ids (the arch's front end, per row, segments as samples) in `extra`
    and its vision tokens' ids replaced by a text id."""
    ids, mask, seg, img, vid, sec, extra = case
    spec = arch_spec(arch)
    types = np.stack([_TOKEN_TYPES[spec.token_types](row, s, spec) for row, s in zip(ids, seg)])
    return np.where(types > 0, 7, ids), mask, seg, img, vid, sec, dict(extra, mm_token_type_ids=types)


def reference_positions(ids, mask, seg, img, vid, sec, extra, arch, packed=True, text_row=False):
    """Packed: segment_ids as given; else one sample per row, its padding masked."""
    kw = dict(second_per_grid_ts=sec) if arch in SECONDS else {}
    if not packed:
        mask, seg = mask * (seg > 0), None
    return mrope.position_ids(ids, arch=arch, attention_mask=mask, segment_ids=seg,
                              image_grid_thw=img, video_grid_thw=vid, with_text_row=text_row, **kw, **extra)


def cases(arch, batches, seed, packed=True, types=False):
    rng = np.random.default_rng(seed)
    out = [worked_example(arch)] if packed else []
    out += [rounding_example(arch)] if arch in ROUNDING else []
    out += [random_batch(rng, arch, packed) for _ in range(batches)]
    return [with_types(c, arch) for c in out] if types else out


def feeds(ids, mask, seg, img, vid, sec, extra, arch, packed=True):
    f = {"input_ids": ids, "image_grid_thw": img, "video_grid_thw": vid}
    if packed:
        f.update(attention_mask=mask, segment_ids=seg)
    else:
        f["attention_mask"] = mask * (seg > 0)
    if arch in SECONDS:
        f["second_per_grid_ts"] = sec
    if "mm_token_type_ids" in extra:
        f["token_types"] = extra["mm_token_type_ids"]
    return f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--arch", required=True)
    ap.add_argument("--batches", type=int, default=300)
    ap.add_argument("--unpacked", action="store_true",
                    help="one sample per row, no segment_ids input (padding masked)")
    ap.add_argument("--text-row", action="store_true", help="[4, B, S] positions (text row first)")
    ap.add_argument("--types", action="store_true", help="token types input, vision ids replaced")
    a = ap.parse_args()
    packed = not a.unpacked
    cs = cases(a.arch, a.batches, 2026, packed, a.types)
    outputs = ort.run_many(a.model, [feeds(*c, a.arch, packed) for c in cs])  # one session
    return report([(got, reference_positions(*c, a.arch, packed, a.text_row)) for got, c in zip(outputs, cs)],
                  a.batches, packed, summary(cs, a.arch), a.arch)


def summary(cs, arch="qwen2.5-omni"):
    """What the random batches held (so a run shows it exercised audio, audio in video, ...)."""
    n = dict(batches=0, images=0, videos=0, audios=0, aiv=0, aiv_ending_with_frames=0,
             aiv_ending_with_audio=0, masked=0, packed=0)
    for ids, mask, seg, img, vid, sec, extra in cs:
        n["batches"] += 1
        n["images"] += len(img)
        n["videos"] += len(vid)
        n["audios"] += len(extra.get("audio_seqlens", ()))
        n["aiv"] += int(bool(extra.get("use_audio_in_video")) and len(vid) > 0)
        if extra.get("use_audio_in_video"):
            spec = arch_spec(arch)
            # <audio_end><vision_end> closes a span: the token before it is the span's last.
            ends = np.argwhere((ids[:, 1:-1] == spec.audio_end_token_id) &
                               (ids[:, 2:] == spec.vision_end_token_id))
            last = ids[ends[:, 0], ends[:, 1]]
            n["aiv_ending_with_frames"] += int((last == spec.video_token_id).sum())
            n["aiv_ending_with_audio"] += int((last == spec.audio_token_id).sum())
        n["masked"] += int((mask == 0).any())
        n["packed"] += int(any(len(set(r[r > 0].tolist())) > 1 for r in seg))
    return n


def report(pairs, batches, packed, counts=None, arch=None):
    """pairs: (got {position_ids, rope_deltas}, reference (positions, deltas)); prints the verdicts."""
    if counts:
        print("cases: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if pairs and pairs[0][1][0].dtype == np.float32:
        # Float positions (qwen3-omni): how many batches hold a non-integer one.
        print(f"fractional positions in {sum(bool((p % 1 != 0).any()) for _, (p, _) in pairs)} batches")

    def same(x, y):  # exact: the same dtype and the same values (f32 bit for bit but the sign of 0)
        x = np.asarray(x)
        return x.dtype == y.dtype and np.array_equal(x, y)
    bad = [k for k, (got, (pos, delta)) in enumerate(pairs)
           if not (same(got["position_ids"], pos) and same(got["rope_deltas"], delta))]
    checks = []
    if packed:
        checks.append(("worked example", 0 not in bad))
        bad = [k - 1 for k in bad if k]
    if arch in ROUNDING:
        checks.append(("rounding example", 0 not in bad))
        bad = [k - 1 for k in bad if k]
    kind = "packed" if packed else "padded"
    checks.append((f"{batches} random {kind} batches" + (f": mismatches at {bad[:5]}" if bad else ""),
                   not bad))
    for name, ok in checks:
        print(f"{'ok' if ok else 'FAIL'} {name}")
    n_ok = sum(ok for _, ok in checks)
    print(f"{n_ok} passed, {len(checks) - n_ok} failed")
    return 0 if n_ok == len(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
