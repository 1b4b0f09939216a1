#!/usr/bin/env python3
"""How long mrope.check_positions takes on a 4k-token batch (numpy and torch
inputs), to show it is cheap enough for every training batch.

    /usr/bin/python3 scripts/bench-check-positions.py

Prints the median of 20 calls per case and the host CPU.
"""
import os
import platform
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from mrope import check_positions, reference as ref  # noqa: E402

VS, I, V, VE = ref.VISION_START_TOKEN_ID, ref.IMAGE_TOKEN_ID, ref.VIDEO_TOKEN_ID, 151653


def batch(B, S, rng):
    """B rows of S tokens: text, two 28x28-patch images (196 tokens each), one
    4-frame 16x16-patch video (256 tokens), text; left padding of 0..31."""
    images, videos, rows, pads = [], [], [], []
    for _ in range(B):
        toks = []
        for grid, tok, out in (([1, 28, 28], I, images), ([1, 28, 28], I, images),
                               ([4, 16, 16], V, videos)):
            toks += list(rng.integers(1, 1000, 40)) + [VS] + [tok] * (grid[0] * grid[1] * grid[2] // 4) + [VE]
            out.append(grid)
        pad = int(rng.integers(0, 32))
        toks += list(rng.integers(1, 1000, S - pad - len(toks)))
        rows.append([0] * pad + toks)
        pads.append(pad)
    ids = np.array(rows, np.int64)
    mask = np.ones((B, S), np.int64)
    for b, pad in enumerate(pads):
        mask[b, :pad] = 0
    return ids, mask, np.array(images, np.int64), np.array(videos, np.int64)


def median_ms(fn, n=20):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * sorted(times)[n // 2]


def main():
    rng = np.random.default_rng(0)
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("Model name")),
                 platform.processor())
    print(f"host: {model}, python {platform.python_version()}, numpy {np.__version__}")
    for B, S in ((1, 4096), (4, 1024), (8, 4096)):
        ids, mask, images, videos = batch(B, S, rng)
        pos, _ = ref.rope_index(ids, images, videos, mask)
        assert check_positions(pos, ids, mask, images, videos).verdict == "ok"
        t_np = median_ms(lambda: check_positions(pos, ids, mask, images, videos))
        line = f"batch {B} x {S} ({B * S} tokens): numpy {t_np:.1f} ms"
        try:
            import torch
            tp, ti, tm, tim, tv = (torch.from_numpy(a) for a in (pos, ids, mask, images, videos))
            t_t = median_ms(lambda: check_positions(tp, ti, tm, tim, tv))
            line += f", torch (CPU tensors) {t_t:.1f} ms"
        except ImportError:
            pass
        print(line)


if __name__ == "__main__":
    main()
