"""mrope.check_positions on random batches, per arch, against mrope.reference."""
import numpy as np
import pytest

from mrope import check_positions, reference as ref
from mrope.check import expected_positions

I, V, VS, VE = ref.IMAGE_TOKEN_ID, ref.VIDEO_TOKEN_ID, ref.VISION_START_TOKEN_ID, 151653
ARCHS = ["qwen2-vl", "qwen2.5-vl", "qwen3-vl"]


def random_batch(rng, B, arch, with_vision=True, m=2):
    """Rows of text and vision blocks, left padded. Qwen3-VL prompts give every
    video frame its own <vision_start> block (timestamps sit between frames);
    video_grid_thw still has one [t, h, w] row per video."""
    rows, images, videos = [], [], []
    for _ in range(B):
        toks = [int(x) for x in rng.integers(0, 1000, rng.integers(1, 4))]
        for _ in range(rng.integers(1, 3) if with_vision else 0):
            video = bool(rng.integers(0, 2))
            t = int(rng.integers(2, 4)) if video else 1
            h, w = 2 * int(rng.integers(1, 4)), 2 * int(rng.integers(1, 4))
            (videos if video else images).append([t, h, w])
            frames = t if (video and arch == "qwen3-vl") else 1
            for _ in range(frames):
                toks += [VS] + [V if video else I] * (t // frames * (h // m) * (w // m)) + [VE]
            toks += [int(x) for x in rng.integers(0, 1000, rng.integers(0, 3))]
        rows.append(toks)
    S = max(len(r) for r in rows) + int(rng.integers(0, 3))
    ids = np.zeros((B, S), np.int64)
    mask = np.zeros((B, S), np.int64)
    for b, r in enumerate(rows):
        ids[b, S - len(r):] = r
        mask[b, S - len(r):] = 1
    grid = lambda g: np.array(g, np.int64).reshape(-1, 3) if g else None
    return ids, mask, grid(images), grid(videos)


def first_diff(got, want, mask):
    differs = (got != want).any(axis=0) & (mask == 1)
    return tuple(int(v) for v in np.argwhere(differs)[0])


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("seed", range(10))
def test_random_batches(arch, seed):
    rng = np.random.default_rng(seed)
    ids, mask, images, videos = random_batch(rng, int(rng.integers(1, 4)), arch)
    want = expected_positions(ids, mask, images, videos, arch=arch)

    # Right positions pass, whatever sits in the padded slots.
    good = want.copy()
    good[:, mask == 0] = rng.integers(-5, 5, size=(3, int((mask == 0).sum())))
    assert check_positions(good, ids, mask, images, videos, arch=arch).verdict == "ok"

    # The bug: 1D positions (given as [B, S] or as three equal rows).
    pos1d, _ = ref.text_positions(mask)
    for given in (pos1d, np.stack([pos1d] * 3)):
        res = check_positions(given, ids, mask, images, videos, arch=arch)
        assert res.verdict == "1d-degenerate", res
        assert (res.batch, res.token) == first_diff(np.broadcast_to(pos1d, want.shape), want, mask)
        assert res.expected == tuple(want[:, res.batch, res.token])

    # One wrong value on a random unpadded token of a random row: a mismatch there.
    bad = want.copy()
    b, s = np.argwhere(mask == 1)[rng.integers(0, int(mask.sum()))]
    bad[rng.integers(0, 3), b, s] += 1
    res = check_positions(bad, ids, mask, images, videos, arch=arch)
    assert res.verdict == "mismatch" and (res.batch, res.token) == (b, s), res
    assert not res and "mismatch" in str(res)


def test_expected_positions_follow_the_reference_per_arch():
    rng = np.random.default_rng(0)
    ids, mask, images, videos = random_batch(rng, 3, "qwen2-vl")
    assert videos is not None and (videos[:, 0] > 1).any()
    np.testing.assert_array_equal(expected_positions(ids, mask, images, videos, arch="qwen2-vl"),
                                  ref.rope_index(ids, images, videos, mask)[0])
    # Qwen2.5-VL scales the temporal row: a Qwen2-VL batch with multi-frame videos is wrong there.
    want25 = ref.rope_index(ids, images, videos, mask, tokens_per_second=2)[0]
    np.testing.assert_array_equal(expected_positions(ids, mask, images, videos, arch="qwen2.5-vl"),
                                  want25)
    qwen2 = ref.rope_index(ids, images, videos, mask)[0]
    assert check_positions(qwen2, ids, mask, images, videos, arch="qwen2.5-vl").verdict == "mismatch"


def test_text_only_batch():
    rng = np.random.default_rng(1)
    ids, mask, images, videos = random_batch(rng, 2, "qwen2-vl", with_vision=False)
    pos, _ = ref.text_positions(mask)
    assert check_positions(pos, ids, mask, arch="qwen2-vl").verdict == "ok"
    # Three equal rows are right for text; shifted ones are a plain mismatch, not the bug.
    res = check_positions(pos + 1, ids, mask, arch="qwen2-vl")
    assert res.verdict == "mismatch"


def test_torch_tensors():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    ids, mask, images, videos = random_batch(rng, 2, "qwen2-vl")
    want = expected_positions(ids, mask, images, videos, arch="qwen2-vl")
    t = torch.from_numpy
    assert check_positions(t(want), t(ids), t(mask), t(images) if images is not None else None,
                           t(videos) if videos is not None else None).verdict == "ok"
    pos1d, _ = ref.text_positions(mask)
    assert check_positions(t(pos1d), t(ids), t(mask), t(images) if images is not None else None,
                           t(videos) if videos is not None else None).verdict == "1d-degenerate"


def test_bad_arguments():
    ids = np.zeros((1, 4), np.int64)
    with pytest.raises(ValueError, match="arch"):
        check_positions(np.zeros((3, 1, 4), np.int64), ids, arch="llava")
    with pytest.raises(ValueError, match=r"\[3, 1, 4\]"):
        check_positions(np.zeros((3, 1, 5), np.int64), ids)
    with pytest.raises(TypeError, match="integer"):
        check_positions(np.zeros((3, 1, 4), np.float32), ids)


# --------------------------------------------------------------------------
# Packed rows: the known failure shapes on one hand-made row (expected values worked out by hand)
# --------------------------------------------------------------------------

T = 7
# Sample 1: T <vs> image 1x4x4 (2x2 merged) <ve>  -> t: 0 1 2 2 2 2 4, h: 0 1 2 2 3 3 4, w: 0 1 2 3 2 3 4
# Sample 2: T T <vs> image <ve> T                 -> t: 0 1 2 3 3 3 3 5 6 (h, w likewise from 3)
# then one padding slot.
PACKED_IDS = np.array([[T, VS, I, I, I, I, VE, T, T, VS, I, I, I, I, VE, T, 0]])
PACKED_SEG = np.array([[1] * 7 + [2] * 9 + [0]])
PACKED_GRIDS = np.array([[1, 4, 4], [1, 4, 4]])
PACKED_WANT = np.array([
    [0, 1, 2, 2, 2, 2, 4, 0, 1, 2, 3, 3, 3, 3, 5, 6],
    [0, 1, 2, 2, 3, 3, 4, 0, 1, 2, 3, 3, 4, 4, 5, 6],
    [0, 1, 2, 3, 2, 3, 4, 0, 1, 2, 3, 4, 3, 4, 5, 6]])


def packed_check(pos, **kw):
    return check_positions(pos, PACKED_IDS, None, PACKED_GRIDS, None, arch="qwen2-vl",
                           segment_ids=PACKED_SEG, **kw)


def test_packed_row_by_hand():
    from mrope import position_ids
    pos, deltas = position_ids(PACKED_IDS, arch="qwen2-vl", segment_ids=PACKED_SEG, image_grid_thw=PACKED_GRIDS)
    np.testing.assert_array_equal(pos[:, 0, :16], PACKED_WANT)
    assert deltas.tolist() == [[4 + 1 - 7, 6 + 1 - 9]]
    text = np.array([list(range(7)) + list(range(9)) + [1]])
    pos4, _ = position_ids(PACKED_IDS, arch="qwen2-vl", segment_ids=PACKED_SEG, image_grid_thw=PACKED_GRIDS,
                           with_text_row=True)
    np.testing.assert_array_equal(pos4[0], text)
    assert packed_check(pos4).verdict == "ok"
    assert packed_check(pos, text_row=False).verdict == "ok"

    # 1D ids over the whole row: they run on into sample 2 (token 7) and are 1D; first wrong token 3.
    res = packed_check(np.arange(17)[None])
    assert (res.verdict, res.restart_at, res.also_1d, res.batch, res.token, res.segment) == \
        ("no-restart", (0, 7), True, 0, 3, 1), res
    assert "no-restart" in str(res) and "token 7" in str(res)
    # Ids that restart per sample but lost the 3D part.
    res = packed_check(text)
    assert (res.verdict, res.shape, res.token, res.expected, res.got) == \
        ("1d-degenerate", "lost-3d", 3, (2, 2, 3), (3, 3, 3)), res
    # get_rope_index over the packed row as one sample (what LLaMA-Factory-style packing feeds).
    whole = ref.rope_index(PACKED_IDS, PACKED_GRIDS, None, (PACKED_SEG > 0).astype(np.int64))[0]
    res = packed_check(whole, text_row=False)
    assert (res.verdict, res.token, res.segment, res.expected, res.got) == \
        ("no-restart", 7, 2, (0, 0, 0), (5, 5, 5)), res
    # Right 3D ids as [3, B, L]: the model reads row t as the text row; t = 2 where text = 3.
    res = packed_check(pos)
    assert (res.verdict, res.shape, res.token, res.expected, res.got) == \
        ("mismatch", "3d-read-as-packing", 3, (3,), (2,)), res
    # ... or t copied into the text row of a [4, B, L] tensor.
    res = packed_check(np.concatenate([pos[:1], pos]))
    assert (res.verdict, res.shape, res.token) == ("mismatch", "3d-read-as-packing", 3), res


def test_neat_packing_mask():
    """LLaMA-Factory's neat-packing attention mask [1, 1, 2, 2, 2, 0] (text only): positions restart."""
    from mrope import position_ids
    seg = np.array([[1, 1, 2, 2, 2, 0]])
    pos, deltas = position_ids(np.full((1, 6), T), arch="qwen2-vl", segment_ids=seg)
    assert pos[0, 0, :5].tolist() == [0, 1, 0, 1, 2] and deltas.tolist() == [[0, 0]]
    assert check_positions(np.arange(6)[None], np.full((1, 6), T), arch="qwen2-vl",
                           segment_ids=seg).verdict == "no-restart"
