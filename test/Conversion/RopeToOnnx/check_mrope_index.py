"""rope.mrope_index lowered to ONNX (convert-rope-to-onnx) against
mrope.reference.rope_index(arch=ARCH), in ONNX Runtime, on a worked example
and on many random batches (left padding, several images and videos per row,
consumed in order across the batch, text between and after blocks, rows
without vision). Qwen2.5-VL batches carry seconds per grid; Qwen3-VL batches
write each video frame as the Qwen3-VL processor does (timestamp tokens,
vision_start, the frame, vision_end). Exact equality: integers.

usage: check_mrope_index.py MODEL.onnx [--arch qwen2-vl|qwen2.5-vl|qwen3-vl] [--batches N]
"""
import argparse
import sys

import numpy as np

from mrope import ort, reference

IMG, VID, VS, VE = (reference.IMAGE_TOKEN_ID, reference.VIDEO_TOKEN_ID,
                    reference.VISION_START_TOKEN_ID, reference.VISION_END_TOKEN_ID)


def random_batch(rng, arch):
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
            if video and arch == "qwen3-vl":
                for _ in range(t):      # <timestamp> VS frame VE, per frame
                    toks += list(rng.integers(10, 1000, size=int(rng.integers(1, 4))))
                    toks += [VS] + [VID] * (h * w // 4) + [VE]
            else:
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


def worked_example(arch):
    """mrope-semantics.md's image example; for Qwen3-VL a 2-frame video written per frame
    (positions hand-worked in python/tests/test_reference.py, rope_deltas -4)."""
    if arch == "qwen3-vl":
        ids = np.array([[1, 20, 21, VS] + [VID] * 4 + [VE, 22, 23, VS] + [VID] * 4 + [VE, 2]], np.int64)
        return (ids, np.ones_like(ids), np.zeros((0, 3), np.int64), np.array([[2, 4, 4]], np.int64),
                np.zeros(0, np.float32))
    ids = np.array([[1, 2, VS] + [IMG] * 6 + [3, 4]], np.int64)
    return (ids, np.ones_like(ids), np.array([[1, 4, 6]], np.int64), np.zeros((0, 3), np.int64),
            np.zeros(0, np.float32))


def reference_positions(ids, mask, img, vid, sec, arch):
    kw = dict(second_per_grid_ts=sec) if arch == "qwen2.5-vl" else {}
    return reference.rope_index(ids, img, vid, mask, arch=arch, **kw)


def feeds_and_reference(ids, mask, img, vid, sec, arch):
    feeds = {"input_ids": ids, "attention_mask": mask, "image_grid_thw": img,
             "video_grid_thw": vid}
    if arch == "qwen2.5-vl":
        feeds["second_per_grid_ts"] = sec
    return feeds, reference_positions(ids, mask, img, vid, sec, arch)


def matches(got, want):
    return (np.array_equal(got["position_ids"], want[0]) and
            np.array_equal(got["rope_deltas"], want[1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--arch", choices=list(reference.ARCHS), default="qwen2-vl")
    ap.add_argument("--batches", type=int, default=200)
    a = ap.parse_args()
    rng = np.random.default_rng(2024)
    cases = [feeds_and_reference(*worked_example(a.arch), a.arch)]
    cases += [feeds_and_reference(*random_batch(rng, a.arch), a.arch) for _ in range(a.batches)]
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
