#!/usr/bin/env python3
"""What mrope.MRopeCollator adds to a 4096-token training step's data time.

    PYTHONPATH=python /usr/bin/python3 scripts/bench-collator.py [--repeats 30]

The baseline is the collate_fn of a padding-free Qwen2-VL data pipeline on
pre-decoded samples (uint8 HWC images and video frames in memory: no disk, no
JPEG decoding, no resizing, which would all make the baseline longer and the
overhead smaller): Qwen2-VL image-processor arithmetic on every image and
frame (rescale, normalize, 14x14 patches with temporal patch 2, into
[patches, 1176] float32), samples packed into rows of 4096 tokens with
segment ids, labels, torch tensors. The wrapped collators run the same
function, then check (mode="check", on position_ids the collate_fn wrote)
or compute (mode="fix") the positions. Also timed: the token side of the
baseline alone (patches made beforehand), the worst case for the ratio.
Prints the host CPU and, per case,
the median of --repeats calls: baseline ms, wrapped ms, the wrapper's own ms
(MRopeCollator.seconds) and that as a percentage of the baseline.
"""
import argparse
import os
import platform
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import mrope  # noqa: E402
from mrope import reference as ref  # noqa: E402

import torch  # noqa: E402

VS, VE, IMG, VID = ref.VISION_START_TOKEN_ID, ref.VISION_END_TOKEN_ID, ref.IMAGE_TOKEN_ID, ref.VIDEO_TOKEN_ID
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


def make_samples(rng, total):
    """Samples of ~40-200 text tokens and one image (392x392 px: 28x28 patches, 196 tokens) or one
    4-frame video (224x224 px: 16x16 patches, 2 frame groups, 128 tokens), until ``total`` tokens."""
    samples, n = [], 0
    while True:
        s = {"text": rng.integers(1, 150000, int(rng.integers(40, 200))).tolist()}
        if rng.random() < 0.7:
            s["image"] = rng.integers(0, 256, (392, 392, 3), dtype=np.uint8)
            tokens = 28 * 28 // 4
        else:
            s["video"] = rng.integers(0, 256, (4, 224, 224, 3), dtype=np.uint8)
            tokens = 2 * 16 * 16 // 4
        s["len"] = len(s["text"]) + tokens + 2
        if n + s["len"] > total:
            return samples
        samples.append(s)
        n += s["len"]


def patches(frames):
    """Qwen2-VL image processor after resizing: rescale, normalize, [t/2*h/14*w/14, 3*2*14*14] patches
    in merge-block order (spatial merge 2)."""
    x = (frames.astype(np.float32) / 255.0 - MEAN) / STD            # [T, H, W, C]
    if x.shape[0] % 2:
        x = np.concatenate([x, x[-1:]])
    T, H, W, C = x.shape
    gt, gh, gw = T // 2, H // 14, W // 14
    x = x.transpose(0, 3, 1, 2).reshape(gt, 2, C, gh // 2, 2, 14, gw // 2, 2, 14)
    x = x.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8).reshape(gt * gh * gw, C * 2 * 14 * 14)
    return np.ascontiguousarray(x), [gt, gh, gw]


def collate(samples, seq=4096, with_positions=False, pixels=True):
    ids = np.zeros((1, seq), np.int64)
    seg = np.zeros((1, seq), np.int64)
    pix, vpix, igrid, vgrid = [], [], [], []
    off = 0
    for k, s in enumerate(samples, 1):
        if not pixels:  # the token side alone: patches were made elsewhere (worst case for the ratio)
            p, g = s["patches"]
        if "image" in s:
            if pixels:
                p, g = patches(s["image"][None])
            pix.append(p)
            igrid.append(g)
            toks = [VS] + [IMG] * (g[0] * g[1] * g[2] // 4) + [VE]
        else:
            if pixels:
                p, g = patches(s["video"])
            vpix.append(p)
            vgrid.append(g)
            toks = [VS] + [VID] * (g[0] * g[1] * g[2] // 4) + [VE]
        row = s["text"][:len(s["text"]) // 2] + toks + s["text"][len(s["text"]) // 2:]
        ids[0, off:off + len(row)] = row
        seg[0, off:off + len(row)] = k
        off += len(row)
    labels = np.where(seg > 0, ids, -100)
    batch = {"input_ids": torch.from_numpy(ids), "segment_ids": torch.from_numpy(seg),
             "labels": torch.from_numpy(labels)}
    if pix:
        batch["pixel_values"] = torch.from_numpy(np.concatenate(pix))
        batch["image_grid_thw"] = torch.tensor(igrid)
    if vpix:
        batch["pixel_values_videos"] = torch.from_numpy(np.concatenate(vpix))
        batch["video_grid_thw"] = torch.tensor(vgrid)
    if with_positions:  # what a correct pipeline hands the model: the [4, B, L] packed form
        pos, _ = mrope.position_ids(ids, arch="qwen2-vl", segment_ids=seg, with_text_row=True,
                                    image_grid_thw=igrid or None, video_grid_thw=vgrid or None)
        batch["position_ids"] = torch.from_numpy(pos)
    return batch


def median_ms(fn, samples, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(samples)
        times.append(time.perf_counter() - t0)
    return 1e3 * sorted(times)[repeats // 2]


def host():
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("Model name")),
                 platform.processor())
    return f"{model}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    samples = make_samples(rng, 4096)
    n_tok = sum(s["len"] for s in samples)
    print(f"host: {host()}; python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}")
    print(f"step: 1 x 4096 packed row, {len(samples)} samples, {n_tok} tokens, "
          f"{sum('image' in s for s in samples)} images, {sum('video' in s for s in samples)} videos")

    for s in samples:
        s["patches"] = patches(s["image"][None] if "image" in s else s["video"])
    base_fix = lambda s: collate(s)
    base_check = lambda s: collate(s, with_positions=True)
    cases = (("fix", base_fix, mrope.MRopeCollator(base_fix, arch="qwen2-vl", mode="fix")),
             ("check", base_check, mrope.MRopeCollator(base_check, arch="qwen2-vl", mode="check")))
    for name, base, wrapped in cases:
        wrapped(samples)  # warm-up; also proves the check passes
        base(samples)
        t_base = median_ms(base, samples, args.repeats)
        wrapped.seconds, wrapped.batches = 0.0, 0
        own = []
        for _ in range(args.repeats):
            before = wrapped.seconds
            wrapped(samples)
            own.append(wrapped.seconds - before)
        t_own = 1e3 * sorted(own)[args.repeats // 2]
        t_wrapped = median_ms(wrapped, samples, args.repeats)
        t_tokens = median_ms(lambda s: collate(s, with_positions=name == "check", pixels=False),
                             samples, args.repeats)
        print(f"mode={name}: baseline collate {t_base:.1f} ms, wrapped {t_wrapped:.1f} ms, "
              f"wrapper's own {t_own:.2f} ms = {100 * t_own / t_base:.2f}% of the baseline; "
              f"token side alone {t_tokens:.1f} ms ({100 * t_own / t_tokens:.0f}% of it)")


if __name__ == "__main__":
    main()
