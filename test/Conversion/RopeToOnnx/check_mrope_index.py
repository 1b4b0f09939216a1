"""rope.mrope_index lowered to ONNX (convert-rope-to-onnx) against
mrope.reference.rope_index, in ONNX Runtime, on the worked example of
mrope-semantics.md and on many random batches (left padding, several images
and videos per row, consumed in order across the batch, text between and
after blocks, rows without vision). Exact equality: integers.

usage: check_mrope_index.py MODEL.onnx [--qwen25] [--batches N]
"""
import argparse
import sys

import numpy as np

from mrope import ort, reference

IMG, VID, VS, VE = (reference.IMAGE_TOKEN_ID, reference.VIDEO_TOKEN_ID,
                    reference.VISION_START_TOKEN_ID, 151653)


def random_batch(rng, qwen25):
    B = int(rng.integers(1, 4))
    rows, images, videos, seconds = [], [], [], []
    for _ in range(B):
        toks = list(rng.integers(10, 1000, size=int(rng.integers(0, 4))))
        for _ in range(int(rng.integers(0, 3))):
            video = rng.random() < 0.4
            t = int(rng.integers(1, 4)) if video else 1
            h, w = 2 * int(rng.integers(1, 4)), 2 * int(rng.integers(1, 4))
            (videos if video else images).append([t, h, w])
            if video:
                seconds.append(float(rng.choice([0.5, 1.0, 0.7, 2.0])))
            toks += [VS] + [VID if video else IMG] * (t * h * w // 4) + [VE]
            toks += list(rng.integers(10, 1000, size=int(rng.integers(0, 3))))
        rows.append(toks)
    S = max(1, max(len(r) for r in rows)) + int(rng.integers(0, 3))
    ids = np.zeros((B, S), np.int64)
    mask = np.zeros((B, S), np.int64)
    for b, r in enumerate(rows):           # left padding
        ids[b, S - len(r):] = r
        mask[b, S - len(r):] = 1
    img = np.asarray(images, np.int64).reshape(-1, 3)
    vid = np.asarray(videos, np.int64).reshape(-1, 3)
    sec = np.asarray(seconds, np.float32)
    return ids, mask, img, vid, sec


def feeds_and_reference(ids, mask, img, vid, sec, qwen25):
    feeds = {"input_ids": ids, "attention_mask": mask, "image_grid_thw": img,
             "video_grid_thw": vid}
    kw = {}
    if qwen25:
        feeds["second_per_grid_ts"] = sec
        kw = dict(second_per_grid_ts=sec, tokens_per_second=2.0)
    return feeds, reference.rope_index(ids, img, vid, mask, **kw)


def matches(got, want):
    return (np.array_equal(got["position_ids"], want[0]) and
            np.array_equal(got["rope_deltas"], want[1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--qwen25", action="store_true")
    ap.add_argument("--batches", type=int, default=200)
    a = ap.parse_args()
    # The worked example: 3 text, image [1,4,6], 2 text.
    ids = np.array([[1, 2, VS] + [IMG] * 6 + [3, 4]], np.int64)
    example = feeds_and_reference(ids, np.ones_like(ids), np.array([[1, 4, 6]], np.int64),
                                  np.zeros((0, 3), np.int64), np.zeros(0, np.float32), a.qwen25)
    rng = np.random.default_rng(2024)
    cases = [example] + [feeds_and_reference(*random_batch(rng, a.qwen25), a.qwen25)
                         for _ in range(a.batches)]
    # One ONNX Runtime session runs every batch.
    outputs = ort.run_many(a.model, [feeds for feeds, _ in cases])
    results = [matches(got, want) for got, (_, want) in zip(outputs, cases)]
    ex = results[0]
    print(f"{'ok' if ex else 'FAIL'} worked example")
    bad = [i for i, r in enumerate(results[1:]) if not r]
    print(f"{'ok' if not bad else 'FAIL'} {a.batches} random batches"
          + (f": mismatches at {bad[:5]}" if bad else ""))
    ok = ex and not bad
    print(f"{int(ex) + int(not bad)} passed, {int(not ex) + int(bool(bad))} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
