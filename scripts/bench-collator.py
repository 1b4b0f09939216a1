#!/usr/bin/env python3
"""What mrope.MRopeCollator adds to a 4096-token training step's data time.

    PYTHONPATH=python /usr/bin/python3 scripts/bench-collator.py [--repeats 30]

The baseline is the collate_fn of a padding-free Qwen2-VL data pipeline, in
three depths: "jpeg" decodes each image and video frame from in-memory JPEG
bytes with PIL, resizes it (bicubic), runs the Qwen2-VL image-processor
arithmetic (rescale, normalize, 14x14 patches with temporal patch 2, into
[patches, 1176] float32) and packs the samples into one 4096-token row with
segment ids, labels and torch tensors: the step's data time short of disk
reads; "pixels" starts from decoded frames; "tokens" from ready patches (the
token side alone, the strictest denominator). The wrapped collator runs the
same function, then computes (mode="fix") or checks (mode="check", on the
[4, B, L] position_ids the collate_fn wrote) the positions.

Prints the host CPU and, per mode and baseline, --repeats pairs of (one
baseline call, the wrapper's own work alone 5 times on a collated batch), in
wall and CPU (process) time: the medians of the baseline and of one wrapper
call, and the median of the per-pair ratios (a pair sees about the same
load: this host is shared, and its memory-bound pixel work varies by
several times between runs).
"""
import argparse
import io
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
from PIL import Image  # noqa: E402

VS, VE, IMG, VID = ref.VISION_START_TOKEN_ID, ref.VISION_END_TOKEN_ID, ref.IMAGE_TOKEN_ID, ref.VIDEO_TOKEN_ID
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


def jpeg(rng, h, w):
    """A JPEG of smooth random content (noise would not compress like a photo)."""
    small = rng.integers(0, 256, (h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((w, h), Image.BILINEAR)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90)
    return out.getvalue()


def make_samples(rng, total):
    """Samples of 40-200 text tokens and one image (a 640x480 JPEG resized to 392x308 px: 28x22
    patches of 14 px, 154 tokens) or one 4-frame video (320x240 JPEG frames resized to 224x224 px:
    2 frame groups of 16x16 patches, 128 tokens), until ``total`` tokens."""
    samples, n = [], 0
    while True:
        s = {"text": rng.integers(1, 150000, int(rng.integers(40, 200))).tolist()}
        if rng.random() < 0.7:
            s["image"] = [jpeg(rng, 480, 640)]
            s["size"], tokens = (308, 392), 22 * 28 // 4
        else:
            s["video"] = [jpeg(rng, 240, 320) for _ in range(4)]
            s["size"], tokens = (224, 224), 2 * 16 * 16 // 4
        s["len"] = len(s["text"]) + tokens + 2
        if n + s["len"] > total:
            return samples
        s["frames"] = decode(s)
        samples.append(s)
        n += s["len"]


def decode(s):
    """JPEG decode and resize (bicubic, as the Qwen2-VL image processor does), to [T, H, W, 3] uint8."""
    h, w = s["size"]
    return np.stack([np.asarray(Image.open(io.BytesIO(b)).convert("RGB").resize((w, h), Image.BICUBIC))
                     for b in s.get("image", s.get("video"))])


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


def collate(samples, seq=4096, with_positions=False, stage="jpeg"):
    """``stage``: "jpeg" decodes, resizes and patches every image (the full data time short of disk
    reads), "pixels" starts from decoded frames, "tokens" from ready patches (the token side alone)."""
    ids = np.zeros((1, seq), np.int64)
    seg = np.zeros((1, seq), np.int64)
    pix, vpix, igrid, vgrid = [], [], [], []
    off = 0
    for k, s in enumerate(samples, 1):
        if stage == "tokens":
            p, g = s["patches"]
        else:
            p, g = patches(decode(s) if stage == "jpeg" else s["frames"])
        (pix if "image" in s else vpix).append(p)
        (igrid if "image" in s else vgrid).append(g)
        toks = [VS] + [IMG if "image" in s else VID] * (g[0] * g[1] * g[2] // 4) + [VE]
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


def cpu_ms(fn, samples, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn(samples)
        times.append(time.process_time() - t0)
    return 1e3 * sorted(times)[repeats // 2]


def paired(base, guard, samples, repeats, clock):
    """``repeats`` pairs of (one baseline call, the guard alone 5 times) on ``clock``: medians in ms of the
    baseline and of one guard call, and the median of the per-pair ratios (each pair sees about the same
    load, which matters on a shared host)."""
    bases, owns, ratios = [], [], []
    for _ in range(repeats):
        t0 = clock()
        base(samples)
        t1 = clock()
        for _ in range(5):
            guard()
        t2 = clock()
        bases.append(1e3 * (t1 - t0))
        owns.append(1e3 * (t2 - t1) / 5)
        ratios.append(owns[-1] / bases[-1])
    med = lambda x: sorted(x)[len(x) // 2]
    return med(bases), med(owns), med(ratios)


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
        s["patches"] = patches(s["frames"])
    print("baselines: jpeg = decode, resize, patch, pack (the step's data time short of disk reads); "
          "pixels = from decoded frames; tokens = the token side alone (patches ready)")
    # Warm-up: the first calls of the pixel stages map fresh memory for their float arrays (page faults,
    # counted as CPU time) until the allocator keeps the pages; a training run is past that.
    for stage in ("jpeg", "pixels", "tokens"):
        for _ in range(5):
            collate(samples, stage=stage)
    # One baseline (the collate_fn without positions) for both modes; the check mode's collate_fn also
    # writes [4, B, L] positions, which this leaves out (it is the wrapper's own work in fix mode).
    base = {st: (lambda s, st=st: collate(s, stage=st)) for st in ("jpeg", "pixels", "tokens")}
    guards = {}
    for mode in ("fix", "check"):
        first = collate if mode == "fix" else (lambda s: collate(s, with_positions=True))
        wrapped = mrope.MRopeCollator(first, arch="qwen2-vl", mode=mode)
        wrapped(samples)  # warm-up; also proves the check passes
        batch = first(samples)  # the guard alone on a collated batch: the wrapper's own work
        guards[mode] = (lambda w, b: (lambda: w._guard(b)))(wrapped, batch)
    for round_ in (1, 2):  # twice, in turn: this host's load changes between minutes
        for mode, guard in guards.items():
            print(f"round {round_}, mode={mode}:")
            for st, fn in base.items():
                parts = []
                for name, clock in (("wall", time.perf_counter), ("CPU", time.process_time)):
                    t_base, t_own, ratio = paired(fn, guard, samples, args.repeats, clock)
                    parts.append(f"{name}: baseline {t_base:.1f} ms, wrapper {t_own:.2f} ms, +{100 * ratio:.2f}%")
                print(f"    {st:6s}  " + "; ".join(parts))


if __name__ == "__main__":
    main()
