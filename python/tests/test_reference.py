"""Unit and property tests of mrope.reference against mrope-semantics.md."""

import numpy as np
import pytest

from mrope import reference as ref
from mrope.reference import IMAGE_TOKEN_ID as I, VIDEO_TOKEN_ID as V, VISION_START_TOKEN_ID as VS


# ---------------------------------------------------------------------------
# rope_index: worked examples
# ---------------------------------------------------------------------------

def test_worked_example():
    ids = np.array([[1, 2, VS] + [I] * 6 + [3, 4]])
    pos, delta = ref.rope_index(ids, image_grid_thw=[[1, 4, 6]])
    assert pos.dtype == np.int64 and delta.dtype == np.int64
    assert pos.shape == (3, 1, 11) and delta.shape == (1, 1)
    np.testing.assert_array_equal(pos[0, 0], [0, 1, 2, 3, 3, 3, 3, 3, 3, 6, 7])
    np.testing.assert_array_equal(pos[1, 0], [0, 1, 2, 3, 3, 3, 4, 4, 4, 6, 7])
    np.testing.assert_array_equal(pos[2, 0], [0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7])
    assert delta[0, 0] == -3


def test_left_padding():
    ids = np.array([[0, 0, 1, 2, VS] + [I] * 6 + [3, 4]])
    mask = np.array([[0, 0] + [1] * 11])
    pos, delta = ref.rope_index(ids, image_grid_thw=[[1, 4, 6]], attention_mask=mask)
    plain, _ = ref.rope_index(ids[:, 2:], image_grid_thw=[[1, 4, 6]])
    np.testing.assert_array_equal(pos[:, :, :2], 1)          # padded slots get 1 on all rows
    np.testing.assert_array_equal(pos[:, :, 2:], plain)
    assert delta[0, 0] == 8 - 13                               # S includes the padding


def test_images_and_video_across_batch_in_order():
    # row 0: text, image A [1,2,2] (1 token), text, video [2,2,4] (4 tokens), text
    # row 1 (4 left pads): vision_start, image B [1,4,4] (4 tokens), text
    ids = np.array([[7, VS, I, 8, VS, V, V, V, V, 9],
                    [0, 0, 0, 0, VS, I, I, I, I, 6]])
    mask = np.array([[1] * 10, [0] * 4 + [1] * 6])
    pos, delta = ref.rope_index(ids, image_grid_thw=[[1, 2, 2], [1, 4, 4]], video_grid_thw=[[2, 2, 4]],
                                attention_mask=mask)
    np.testing.assert_array_equal(pos[:, 0], [[0, 1, 2, 3, 4, 5, 5, 6, 6, 7],
                                              [0, 1, 2, 3, 4, 5, 5, 5, 5, 7],
                                              [0, 1, 2, 3, 4, 5, 6, 5, 6, 7]])
    np.testing.assert_array_equal(pos[:, 1], [[1, 1, 1, 1, 0, 1, 1, 1, 1, 3],
                                              [1, 1, 1, 1, 0, 1, 1, 2, 2, 3],
                                              [1, 1, 1, 1, 0, 1, 2, 1, 2, 3]])
    np.testing.assert_array_equal(delta, [[8 - 10], [4 - 10]])
    # Grids are consumed in order across the batch: swapping them changes the result (no check
    # of token counts happens in get_rope_index, so it does not fail).
    swapped, _ = ref.rope_index(ids, image_grid_thw=[[1, 4, 4], [1, 2, 2]], video_grid_thw=[[2, 2, 4]],
                                attention_mask=mask)
    assert not np.array_equal(swapped, pos)
    # More blocks than grids is an error.
    with pytest.raises(ValueError):
        ref.rope_index(ids, image_grid_thw=[[1, 2, 2]], video_grid_thw=[[2, 2, 4]], attention_mask=mask)


def test_video_before_image_in_one_row():
    ids = np.array([[VS, V, V, 5, VS, I, 6]])
    pos, delta = ref.rope_index(ids, image_grid_thw=[[1, 2, 2]], video_grid_thw=[[2, 2, 2]])
    np.testing.assert_array_equal(pos[:, 0], [[0, 1, 2, 3, 4, 5, 6],
                                              [0, 1, 1, 3, 4, 5, 6],
                                              [0, 1, 1, 3, 4, 5, 6]])
    assert delta[0, 0] == 0


def test_qwen25_temporal_scaling_truncates_in_f32():
    # video [6,2,2] -> 6 tokens, one per frame group; 0.7 s per grid, 2 tokens per second:
    # t = int64(f32(f32(ti * 0.7) * 2)) = 0 1 2 4 5 7 (f64 would give 6 for ti=5).
    ids = np.array([[3, VS] + [V] * 6 + [4]])
    pos, delta = ref.rope_index(ids, video_grid_thw=[[6, 2, 2]], second_per_grid_ts=[0.7], tokens_per_second=2)
    np.testing.assert_array_equal(pos[0, 0], [0, 1, 2, 3, 4, 6, 7, 9, 10])
    np.testing.assert_array_equal(pos[1, 0], [0, 1, 2, 2, 2, 2, 2, 2, 10])
    np.testing.assert_array_equal(pos[2, 0], [0, 1, 2, 2, 2, 2, 2, 2, 10])
    assert delta[0, 0] == 11 - 9


def test_qwen25_half_second_grid_is_not_collapsed():
    # 0.5 s per grid * 2 tokens/s = 1 position per grid step (the int-cast bug would give all 0).
    ids = np.array([[VS] + [V] * 4])
    pos, _ = ref.rope_index(ids, video_grid_thw=[[4, 2, 2]], second_per_grid_ts=[0.5], tokens_per_second=2)
    np.testing.assert_array_equal(pos[0, 0], [0, 1, 2, 3, 4])
    pos, _ = ref.rope_index(ids, video_grid_thw=[[4, 2, 2]], second_per_grid_ts=[0.3], tokens_per_second=2)
    np.testing.assert_array_equal(pos[0, 0], [0, 1, 1, 2, 2])     # 0, 0.6, 1.2, 1.8 truncated
    # Without second_per_grid_ts a video uses 1.0 s per grid.
    pos, _ = ref.rope_index(ids, video_grid_thw=[[4, 2, 2]], tokens_per_second=2)
    np.testing.assert_array_equal(pos[0, 0], [0, 1, 3, 5, 7])


def test_qwen25_images_have_flat_time_and_text_resumes_after_max():
    ids = np.array([[VS, I, I, 7, VS, V, V, 8]])
    pos, _ = ref.rope_index(ids, image_grid_thw=[[2, 2, 2]], video_grid_thw=[[2, 2, 2]],
                            second_per_grid_ts=[2.0], tokens_per_second=2)
    # image: t row 0 for both temporal steps; video: t = 0, 4 (+offset); text resumes at max + 1.
    np.testing.assert_array_equal(pos[:, 0], [[0, 1, 1, 2, 3, 4, 8, 9],
                                              [0, 1, 1, 2, 3, 4, 4, 9],
                                              [0, 1, 1, 2, 3, 4, 4, 9]])


def test_text_only_batches():
    ids = np.array([[5, 6, 7, 8], [0, 0, 7, 8]])
    pos, delta = ref.rope_index(ids)
    np.testing.assert_array_equal(pos, np.broadcast_to(np.arange(4), (3, 2, 4)))
    np.testing.assert_array_equal(delta, 0)
    mask = np.array([[1, 1, 1, 1], [0, 0, 1, 1]])
    pos, delta = ref.rope_index(ids, attention_mask=mask)
    np.testing.assert_array_equal(pos[:, 0], [[0, 1, 2, 3]] * 3)
    np.testing.assert_array_equal(pos[:, 1], [[1, 1, 0, 1]] * 3)
    np.testing.assert_array_equal(delta, [[0], [-2]])     # max over the row, padding's 1 included


def test_row_without_vision_in_multimodal_batch():
    ids = np.array([[VS, I, 5], [5, 6, 7]])
    pos, delta = ref.rope_index(ids, image_grid_thw=[[1, 2, 2]])
    np.testing.assert_array_equal(pos[:, 1], [[0, 1, 2]] * 3)
    np.testing.assert_array_equal(delta, [[0], [0]])


# ---------------------------------------------------------------------------
# rope_index: property tests on random batches (seeded numpy RNG)
# ---------------------------------------------------------------------------

def _random_batch(rng, B, m=2, arch="qwen2-vl", tps=2):
    """Random rows of text / image / video segments, left padded; expected positions built
    segment by segment, independently of rope_index's walk over tokens.

    qwen3-vl videos are written as the Qwen3-VL processor writes them: per frame a timestamp
    (1-3 text tokens), vision_start, the frame's tokens, vision_end.  qwen2.5-vl videos get a
    random seconds-per-grid and temporal rows ``int(f32(f32(ti * s) * tps))``."""
    rows, expects, images, videos, seconds = [], [], [], [], []

    def text(toks, exp, nxt, words):
        toks += words
        exp += [[nxt + k] * 3 for k in range(len(words))]
        return nxt + len(words)

    def block(toks, exp, start, token, frames, gh, gw, tscale=None):
        for ti in range(frames):
            t = ti if tscale is None else int(np.float32(np.float32(ti * np.float32(tscale)) * np.float32(tps)))
            for hi in range(gh):
                for wi in range(gw):
                    toks.append(token)
                    exp.append([start + t, start + hi, start + wi])
        return max(max(e) for e in exp) + 1

    for _ in range(B):
        toks, exp, nxt = [], [], 0
        for _ in range(rng.integers(0, 4)):
            nxt = text(toks, exp, nxt, [int(x) for x in rng.integers(0, 1000, rng.integers(0, 4))])
            is_video = bool(rng.integers(0, 2))
            t = int(rng.integers(1, 4)) if is_video else 1
            h, w = 2 * int(rng.integers(1, 4)), 2 * int(rng.integers(1, 4))
            (videos if is_video else images).append([t, h, w])
            if is_video and arch == "qwen3-vl":
                for f in range(t):
                    if f:
                        nxt = text(toks, exp, nxt, [ref.VISION_END_TOKEN_ID])
                    nxt = text(toks, exp, nxt, [int(x) for x in rng.integers(0, 1000, rng.integers(1, 4))] + [VS])
                    nxt = block(toks, exp, nxt, V, 1, h // m, w // m)
                continue
            nxt = text(toks, exp, nxt, [VS])
            tscale = None
            if arch == "qwen2.5-vl":
                tscale = 0.0
                if is_video:
                    tscale = float(rng.choice([0.5, 0.7, 1.0, 2.0, 0.3]))
                    seconds.append(tscale)
            nxt = block(toks, exp, nxt, V if is_video else I, t, h // m, w // m, tscale)
        text(toks, exp, nxt, [int(x) for x in rng.integers(0, 1000, rng.integers(0, 4))])
        if not toks:
            toks, exp = [5], [[0, 0, 0]]
        rows.append(toks)
        expects.append(exp)
    S = max(len(r) for r in rows) + int(rng.integers(0, 3))
    ids = np.zeros((B, S), np.int64)
    mask = np.zeros((B, S), np.int64)
    want = np.ones((3, B, S), np.int64)
    for b, (r, e) in enumerate(zip(rows, expects)):
        ids[b, S - len(r):] = r
        mask[b, S - len(r):] = 1
        want[:, b, S - len(r):] = np.array(e).T
    return (ids, mask, np.array(images).reshape(-1, 3), np.array(videos).reshape(-1, 3), want,
            np.array(seconds, np.float32))


@pytest.mark.parametrize("arch", ["qwen2-vl", "qwen2.5-vl", "qwen3-vl"])
@pytest.mark.parametrize("seed", range(40))
def test_random_batches(seed, arch):
    rng = np.random.default_rng(seed)
    B = int(rng.integers(1, 4))
    ids, mask, images, videos, want, seconds = _random_batch(rng, B, arch=arch)
    kw = {"second_per_grid_ts": seconds} if arch == "qwen2.5-vl" and len(seconds) else {}
    pos, delta = ref.rope_index(ids, images if len(images) else None, videos if len(videos) else None, mask,
                                arch=arch, **kw)
    if not len(images) and not len(videos):
        want, _ = ref.text_positions(mask)
        want = np.broadcast_to(want, pos.shape)
    np.testing.assert_array_equal(pos, want)
    S = ids.shape[1]
    keep = mask.astype(bool)
    for b in range(B):
        np.testing.assert_array_equal(pos[:, b, ~keep[b]], 1)
        if len(images) or len(videos):
            assert delta[b, 0] == pos[:, b, keep[b]].max() + 1 - S
        # text tokens have three equal rows; positions never decrease along a row's text
        text = keep[b] & (ids[b] != I) & (ids[b] != V)
        assert (pos[0, b, text] == pos[1, b, text]).all() and (pos[0, b, text] == pos[2, b, text]).all()
        assert (np.diff(pos[0, b, text]) > 0).all()
    if arch == "qwen2-vl":
        # the default (arch=None) is the Qwen2-VL rule
        legacy, legacy_delta = ref.rope_index(ids, images if len(images) else None,
                                              videos if len(videos) else None, mask)
        np.testing.assert_array_equal(legacy, pos)
        np.testing.assert_array_equal(legacy_delta, delta)


# ---------------------------------------------------------------------------
# rope_index: per-architecture rules, hand-worked
# ---------------------------------------------------------------------------

VE = ref.VISION_END_TOKEN_ID


def test_qwen3_video_is_one_block_per_frame():
    # text 1, timestamp 20 21, [VS, 4 tokens of frame 0 (2x2 units), VE], timestamp 22 23,
    # [VS, frame 1, VE], text 2.  Each frame is a [1,4,4] block starting above what precedes it.
    ids = np.array([[1, 20, 21, VS, V, V, V, V, VE, 22, 23, VS, V, V, V, V, VE, 2]])
    pos, delta = ref.rope_index(ids, video_grid_thw=[[2, 4, 4]], arch="qwen3-vl")
    np.testing.assert_array_equal(pos[:, 0], [
        [0, 1, 2, 3, 4, 4, 4, 4, 6, 7, 8, 9, 10, 10, 10, 10, 12, 13],
        [0, 1, 2, 3, 4, 4, 5, 5, 6, 7, 8, 9, 10, 10, 11, 11, 12, 13],
        [0, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 10, 11, 10, 11, 12, 13]])
    assert delta[0, 0] == 14 - 18
    # Qwen2-VL's rule finds two video blocks for one grid row: an error, not a guess
    with pytest.raises(ValueError):
        ref.rope_index(ids, video_grid_thw=[[2, 4, 4]], arch="qwen2-vl")


def test_qwen3_frames_are_consumed_in_order_across_the_batch():
    # video A [2,2,4] (2 frames of 1x2 units) in row 0, video B [1,2,2] then an image in row 1
    # (left padded): the split grid rows are A0 A1 B0, consumed in that order.
    ids = np.array([[7, VS, V, V, VE, 8, VS, V, V, VE],
                    [0, 0, 0, VS, V, VE, VS, I, I, 9]])
    mask = np.array([[1] * 10, [0] * 3 + [1] * 7])
    pos, delta = ref.rope_index(ids, image_grid_thw=[[1, 2, 4]], video_grid_thw=[[2, 2, 4], [1, 2, 2]],
                                attention_mask=mask, arch="qwen3-vl")
    np.testing.assert_array_equal(pos[:, 0], [[0, 1, 2, 2, 4, 5, 6, 7, 7, 9],
                                              [0, 1, 2, 2, 4, 5, 6, 7, 7, 9],
                                              [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]])
    np.testing.assert_array_equal(pos[:, 1], [[1, 1, 1, 0, 1, 2, 3, 4, 4, 6],
                                              [1, 1, 1, 0, 1, 2, 3, 4, 4, 6],
                                              [1, 1, 1, 0, 1, 2, 3, 4, 5, 6]])
    np.testing.assert_array_equal(delta, [[10 - 10], [7 - 10]])


def test_qwen3_images_follow_the_qwen2_rule():
    ids = np.array([[1, 2, VS] + [I] * 6 + [3, 4]])
    a = ref.rope_index(ids, image_grid_thw=[[1, 4, 6]], arch="qwen3-vl")
    b = ref.rope_index(ids, image_grid_thw=[[1, 4, 6]], arch="qwen2-vl")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_qwen3_on_the_qwen2_video_layout():
    # One vision_start before all 8 tokens of a 2-frame video (the Qwen2-VL layout): Qwen3-VL's
    # rule sees one frame block (4 tokens) and treats the other 4 as text, like upstream.
    ids = np.array([[5, 5, 5, VS] + [V] * 8 + [7, 8]])
    pos, delta = ref.rope_index(ids, video_grid_thw=[[2, 4, 4]], arch="qwen3-vl")
    np.testing.assert_array_equal(pos[0, 0], [0, 1, 2, 3, 4, 4, 4, 4, 6, 7, 8, 9, 10, 11])
    assert delta[0, 0] == 12 - 14
    q2, q2_delta = ref.rope_index(ids, video_grid_thw=[[2, 4, 4]], arch="qwen2-vl")
    assert q2_delta[0, 0] == 8 - 14


def test_split_video_grids():
    np.testing.assert_array_equal(ref.split_video_grids([[2, 4, 4], [1, 2, 6], [3, 2, 2]]),
                                  [[1, 4, 4], [1, 4, 4], [1, 2, 6], [1, 2, 2], [1, 2, 2], [1, 2, 2]])
    assert ref.split_video_grids(np.zeros((0, 3), np.int64)).shape == (0, 3)


def test_qwen25_arch_defaults_to_two_tokens_per_second():
    # video [3,2,2] (one unit per frame), 1 s per grid by default: t = 0, 2, 4; the image [1,2,2]
    # has t = 0
    ids = np.array([[3, VS, V, V, V, 4, VS, I, 5]])
    grids = dict(image_grid_thw=[[1, 2, 2]], video_grid_thw=[[3, 2, 2]])
    pos, delta = ref.rope_index(ids, **grids, arch="qwen2.5-vl")
    np.testing.assert_array_equal(pos[0, 0], [0, 1, 2, 4, 6, 7, 8, 9, 10])
    np.testing.assert_array_equal(pos[1, 0], [0, 1, 2, 2, 2, 7, 8, 9, 10])
    assert delta[0, 0] == 11 - 9
    legacy, _ = ref.rope_index(ids, **grids, tokens_per_second=2)
    np.testing.assert_array_equal(legacy, pos)
    half, _ = ref.rope_index(ids, **grids, arch="qwen2.5-vl", second_per_grid_ts=[0.5])
    np.testing.assert_array_equal(half[0, 0], [0, 1, 2, 3, 4, 5, 6, 7, 8])
    q2, _ = ref.rope_index(ids, **grids, arch="qwen2-vl")
    np.testing.assert_array_equal(q2, half)      # 0.5 s x 2 tokens/s is the Qwen2-VL frame index


def test_arch_argument_is_checked():
    ids = np.array([[VS, V, 5]])
    with pytest.raises(ValueError, match="unknown arch"):
        ref.rope_index(ids, video_grid_thw=[[1, 2, 2]], arch="qwen2vl")
    for arch in ("qwen2-vl", "qwen3-vl"):
        with pytest.raises(ValueError, match="second_per_grid_ts"):
            ref.rope_index(ids, video_grid_thw=[[1, 2, 2]], arch=arch, tokens_per_second=2)


# ---------------------------------------------------------------------------
# frequencies, cos/sin, apply_rope
# ---------------------------------------------------------------------------

def test_inv_freq_values():
    f = ref.inv_freq(128, 1e6)
    assert f.dtype == np.float32 and f.shape == (64,)
    np.testing.assert_allclose(f, 1.0 / (1e6 ** (np.arange(0, 128, 2) / 128.0)), rtol=3e-7)
    assert f[0] == 1.0


def _rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def test_rotation_formula_neox_and_partial():
    rng = np.random.default_rng(0)
    x = _rand(rng, 1, 2, 3, 12)
    pos = rng.integers(0, 50, (1, 1, 3))
    y = ref.apply_rope(x, pos, sections=[4], theta=100.0)            # R = 8 < D = 12
    c, s = ref.cos_sin(pos, sections=[4], theta=100.0)
    F = 4
    for i in range(F):
        ci, si = c[0, :, i], s[0, :, i]
        np.testing.assert_allclose(y[0, :, :, i], x[0, :, :, i] * ci - x[0, :, :, i + F] * si, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(y[0, :, :, i + F], x[0, :, :, i + F] * ci + x[0, :, :, i] * si, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y[..., 8:], x[..., 8:])            # pass-through channels
    np.testing.assert_array_equal(c[..., :F], c[..., F:])


def test_angle_is_f32_product():
    pos = np.array([[[1, 4096, 32768, 131071]]])
    c64, s64 = ref.cos_sin(pos, sections=[64], theta=1e6, dtype=np.float64)
    ang = (pos[0, 0].astype(np.float32)[:, None] * ref.inv_freq(128, 1e6)).astype(np.float32)
    np.testing.assert_array_equal(c64[0, :, :64], np.cos(ang.astype(np.float64)))
    np.testing.assert_array_equal(s64[0, :, 64:], np.sin(ang.astype(np.float64)))
    c32, _ = ref.cos_sin(pos, sections=[64], theta=1e6)
    np.testing.assert_array_equal(c32, c64.astype(np.float32))


def test_text_only_mrope_equals_1d_rope():
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 1000, (2, 9))
    mask = np.array([[1] * 9, [0, 0, 0] + [1] * 6])
    pos3, _ = ref.rope_index(ids, attention_mask=mask)
    x = _rand(rng, 2, 3, 9, 128)
    y3 = ref.apply_rope(x, pos3, sections=[16, 24, 24], theta=1e6)
    y1 = ref.apply_rope(x, pos3[:1], sections=[64], theta=1e6)
    np.testing.assert_array_equal(y3, y1)
    yi = ref.apply_rope(x, pos3, sections=[24, 20, 20], theta=1e6, interleaved=True)
    np.testing.assert_array_equal(yi, y1)


def test_mrope_differs_from_1d_on_vision_tokens():
    ids = np.array([[1, 2, VS] + [I] * 6 + [3, 4]])
    pos3, _ = ref.rope_index(ids, image_grid_thw=[[1, 4, 6]])
    p1 = np.arange(11)[None, None]
    x = _rand(np.random.default_rng(2), 1, 1, 11, 128)
    y3 = ref.apply_rope(x, pos3, sections=[16, 24, 24], theta=1e6)
    y1 = ref.apply_rope(x, p1, sections=[64], theta=1e6)
    np.testing.assert_array_equal(y3[..., :3, :], y1[..., :3, :])     # identical text prefix
    assert np.abs(y3[..., 4:9, :] - y1[..., 4:9, :]).max() > 0.1


def test_mrope_matches_hf_chunk_merge():
    """HF: cos [3,B,S,D] from every row, split into [16,24,24,16,24,24], chunk j from row j % 3."""
    rng = np.random.default_rng(3)
    pos = rng.integers(0, 3000, (3, 2, 5))
    c, s = ref.cos_sin(pos, sections=[16, 24, 24], theta=1e6)
    full = [ref.cos_sin(pos[r:r + 1], sections=[64], theta=1e6) for r in range(3)]
    bounds = np.cumsum([0, 16, 24, 24, 16, 24, 24])
    hc = np.concatenate([full[j % 3][0][..., bounds[j]:bounds[j + 1]] for j in range(6)], axis=-1)
    hs = np.concatenate([full[j % 3][1][..., bounds[j]:bounds[j + 1]] for j in range(6)], axis=-1)
    np.testing.assert_array_equal(c, hc)
    np.testing.assert_array_equal(s, hs)


def test_interleaved_mapping():
    rows = ref.frequency_rows([24, 20, 20], interleaved=True)
    want = [1 if (i % 3 == 1 and i < 60) else 2 if (i % 3 == 2 and i < 60) else 0 for i in range(64)]
    np.testing.assert_array_equal(rows, want)
    assert (rows == 0).sum() == 24 and (rows == 1).sum() == 20 and (rows == 2).sum() == 20
    np.testing.assert_array_equal(ref.frequency_rows([16, 24, 24]), [0] * 16 + [1] * 24 + [2] * 24)
    # Literal numpy port of Qwen3-VL's apply_interleaved_mrope on the frequencies.
    rng = np.random.default_rng(4)
    pos = rng.integers(0, 500, (3, 1, 6))
    f = ref.inv_freq(128, 1e6)
    freqs = (pos.astype(np.float32)[..., None] * f).astype(np.float32)   # [3,B,S,F]
    freqs_t = freqs[0].copy()
    for dim, offset in ((1, 1), (2, 2)):
        length = [24, 20, 20][dim] * 3
        freqs_t[..., offset:length:3] = freqs[dim, ..., offset:length:3]
    emb = np.concatenate([freqs_t, freqs_t], -1).astype(np.float64)
    c, s = ref.cos_sin(pos, sections=[24, 20, 20], theta=1e6, interleaved=True)
    np.testing.assert_array_equal(c, np.cos(emb).astype(np.float32))
    np.testing.assert_array_equal(s, np.sin(emb).astype(np.float32))


def test_gptj_is_neox_under_channel_permutation():
    rng = np.random.default_rng(5)
    D, F = 32, 16
    x = _rand(rng, 2, 2, 4, D)
    pos = rng.integers(0, 100, (1, 2, 4))
    # neox channel i <-> gptj channel 2i, neox i+F <-> gptj 2i+1
    perm = np.empty(D, np.int64)
    perm[:F] = np.arange(0, D, 2)
    perm[F:] = np.arange(1, D, 2)
    y_gptj = ref.apply_rope(x, pos, sections=[F], theta=1e4, layout="gptj")
    y_neox = ref.apply_rope(x[..., perm], pos, sections=[F], theta=1e4, layout="neox")
    inv = np.argsort(perm)
    np.testing.assert_array_equal(y_gptj, y_neox[..., inv])
    c, _ = ref.cos_sin(pos, sections=[F], theta=1e4, layout="gptj")
    np.testing.assert_array_equal(c[..., 0::2], c[..., 1::2])


def test_rope_is_relative_and_norm_preserving():
    rng = np.random.default_rng(6)
    q = rng.standard_normal((1, 1, 1, 64))
    k = rng.standard_normal((1, 1, 1, 64))

    def dot(m, n):
        a = ref.apply_rope(q, np.array([[[m]]]), sections=[32], theta=1e4, dtype=np.float64)
        b = ref.apply_rope(k, np.array([[[n]]]), sections=[32], theta=1e4, dtype=np.float64)
        return float((a * b).sum())

    # Exact in real arithmetic; the f32 angle rounding (|angle| ulp ~ 1e-5 at p=100) is the error.
    assert dot(7, 3) == pytest.approx(dot(104, 100), abs=1e-4)
    assert dot(7, 3) == pytest.approx(dot(12, 8), abs=1e-5)
    y = ref.apply_rope(q, np.array([[[1234]]]), sections=[32], theta=1e4, dtype=np.float64)
    assert np.linalg.norm(y) == pytest.approx(np.linalg.norm(q), rel=1e-12)


def test_float64_path_close_to_f32():
    rng = np.random.default_rng(7)
    x = _rand(rng, 1, 2, 5, 128)
    pos = rng.integers(0, 1 << 17, (3, 1, 5))
    y32 = ref.apply_rope(x, pos, sections=[16, 24, 24], theta=1e6)
    y64 = ref.apply_rope(x, pos, sections=[16, 24, 24], theta=1e6, dtype=np.float64)
    assert y64.dtype == np.float64
    np.testing.assert_allclose(y32, y64, atol=2e-6)


def test_rejects_bad_sections():
    with pytest.raises(ValueError):
        ref.cos_sin(np.zeros((2, 1, 3), np.int64), sections=[16, 24, 24], theta=1e6)
    with pytest.raises(ValueError):
        ref.cos_sin(np.zeros((3, 1, 3), np.int64), sections=[16, 24, 24], theta=1e6, rotary_dim=64)


# ---------------------------------------------------------------------------
# vision 2D RoPE
# ---------------------------------------------------------------------------

def test_vision_positions_merge_order():
    hw = ref.vision_positions([[1, 4, 6]])
    assert hw.shape == (24, 2)
    np.testing.assert_array_equal(hw[:8], [[0, 0], [0, 1], [1, 0], [1, 1], [0, 2], [0, 3], [1, 2], [1, 3]])
    np.testing.assert_array_equal(hw[12:16], [[2, 0], [2, 1], [3, 0], [3, 1]])
    hw2 = ref.vision_positions([[2, 2, 2], [1, 2, 4]])
    np.testing.assert_array_equal(hw2[:8], [[0, 0], [0, 1], [1, 0], [1, 1]] * 2)   # frames repeat
    np.testing.assert_array_equal(hw2[8:], [[0, 0], [0, 1], [1, 0], [1, 1], [0, 2], [0, 3], [1, 2], [1, 3]])


def test_vision_window_index_hand_worked():
    # grid [1,4,6] -> 2x3 merge units; 2x2-unit windows (56 px / 2 / 14 px): the width pads to 4,
    # windows (rows 0-1, cols 0-1) = units 0 1 3 4 and (rows 0-1, cols 2-3) = units 2 5.
    np.testing.assert_array_equal(ref.vision_window_index([[1, 4, 6]], window_size=56), [0, 1, 3, 4, 2, 5])
    # a second image is offset by the first one's units; two frames are windowed frame by frame
    got = ref.vision_window_index([[1, 4, 6], [2, 4, 4]], window_size=56)
    np.testing.assert_array_equal(got, [0, 1, 3, 4, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13])
    # 4x4 units in 2x2 windows
    np.testing.assert_array_equal(ref.vision_window_index([[1, 8, 8]], window_size=56),
                                  [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15])
    # the released 112 px window holds 4x4 units: a 4x4-unit image is one window
    np.testing.assert_array_equal(ref.vision_window_index([[1, 8, 8]]), np.arange(16))
    for grid in ([[3, 10, 6]], [[1, 14, 22], [2, 6, 6]]):
        idx = ref.vision_window_index(grid, window_size=56)
        assert sorted(idx) == list(range(len(idx)))          # a permutation of the merge units


def test_vision_rope_is_two_1d_ropes_on_h_and_w_channels():
    rng = np.random.default_rng(8)
    D, Q = 80, 20
    hw = ref.vision_positions([[1, 4, 6]])
    x = _rand(rng, hw.shape[0], 2, D)
    y = ref.apply_vision_rope(x, hw)
    c, s = ref.vision_cos_sin(hw, head_dim=D)
    np.testing.assert_array_equal(c[:, :40], c[:, 40:])
    f = ref.vision_inv_freq(D)
    assert f.shape == (Q,)
    np.testing.assert_array_equal(f, ref.inv_freq(40, 1e4))
    # channels [h 0:20 | w 20:40 | h 40:60 | w 60:80]: h channels pair (i, i+40), rotated by h
    hch = np.r_[0:20, 40:60]
    wch = np.r_[20:40, 60:80]
    xb = np.transpose(x, (1, 0, 2))[None]
    yh = ref.apply_rope(xb[..., hch], hw[None, None, :, 0], sections=[Q], theta=1e4, inv_freq=f)
    yw = ref.apply_rope(xb[..., wch], hw[None, None, :, 1], sections=[Q], theta=1e4, inv_freq=f)
    yb = np.transpose(y, (1, 0, 2))[None]
    np.testing.assert_array_equal(yb[..., hch], yh)
    np.testing.assert_array_equal(yb[..., wch], yw)
