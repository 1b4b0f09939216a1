"""The GenAI model-builder spelling (genai_spelling.py) through mrope-fix and
ONNX Runtime.

1. The correct model computes true M-RoPE: its output equals a numpy
   reference (per token, channel c of section j rotates by position row j
   times inv_freq[c]) within 1e-5 (f32 angles up to 200 rad: cos/sin of
   them in f32 differ from float64 by a few 1e-6).
2. ``mrope-fix --check --arch qwen2-vl``: 0 on the correct model, 3 on both
   bug variants; the report line of each is printed for FileCheck.
3. ``mrope-fix -o``: the correct model comes out with the same outputs
   (nothing to fix); each bug model's fix equals the correct twin fed the
   same [3, B, S] positions within 1e-5, on positions far beyond B*S
   (text, image grid, Qwen2.5-VL time-scaled video), and the fixed model
   checks clean. The 1D variant's caches are recomputed from the true
   positions; the degenerate ones get them in place of the copied rows.

usage: check_genai.py MROPE_FIX OUT_DIR
"""
import os
import subprocess
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(__file__))
import genai_spelling as gs  # noqa: E402
from mrope import ort  # noqa: E402

TOL = 1e-5
B, S = 2, 5


def feeds_3d():
    """[3, B, S] positions: a text batch and an image+video batch whose
    values are far beyond B*S = 10."""
    text = np.broadcast_to(np.arange(S) + 3, (3, S))
    image = np.array([[7, 7, 7, 7, 7], [7, 7, 8, 8, 9], [7, 8, 7, 8, 7]])
    video = np.array([[0, 0, 50, 50, 100], [1, 2, 1, 2, 1], [1, 1, 2, 2, 1]]) + 120
    sets = []
    for second in (image, video):
        pos = np.stack([text, second], axis=1).astype(np.int64)
        sets.append(pos)
    return sets


def reference(x, pos):
    """True M-RoPE of x [B, S, 2 heads x 8] with sections [2, 1, 1]."""
    slots = np.repeat(np.arange(3), gs.SECTIONS)
    angle = pos[slots].transpose(1, 2, 0).astype(np.float64) * gs.INV_FREQ.astype(np.float64)
    cos, sin = np.cos(angle), np.sin(angle)
    h = x.reshape(B, S, gs.HEADS, gs.D).astype(np.float64)
    x1, x2 = h[..., :gs.F], h[..., gs.F:]
    c, s_ = cos[:, :, None, :], sin[:, :, None, :]
    out = np.concatenate([x1 * c - x2 * s_, x2 * c + x1 * s_], axis=-1)
    return out.reshape(B, S, -1)


def run(model, q, k, pos=None):
    feeds = {"q": q, "k": k}
    if pos is not None:
        feeds["position_ids"] = pos
    out = ort.run(model, feeds)
    return [np.asarray(v) for v in (out.values() if isinstance(out, dict) else out)]


def main():
    fix, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    q = rng.standard_normal((B, S, gs.HEADS * gs.D)).astype(np.float32)
    k = rng.standard_normal((B, S, gs.HEADS * gs.D)).astype(np.float32)
    failed = 0
    models = {}
    for v in gs.VARIANTS:
        path = os.path.join(out, f"genai_{v}.onnx")
        onnx.save(gs.build(v), path)
        models[v] = path

    correct = models["mrope"]
    worst = 0.0
    for pos in feeds_3d():
        got = run(correct, q, k, pos)
        worst = max(worst, float(np.abs(got[0] - reference(q, pos)).max()),
                    float(np.abs(got[1] - reference(k, pos)).max()))
    print(f"{'ok' if worst <= TOL else 'FAIL'} genai_mrope == numpy M-RoPE: max |diff| = {worst:.2e}")
    failed += worst > TOL

    for v, path in models.items():
        check = subprocess.run([fix, path, "--arch", "qwen2-vl", "--check"], capture_output=True, text=True)
        sites = [l.strip() for l in check.stdout.splitlines() if l.strip().startswith(("site", "ok:", "BUG:"))]
        print(f"{v}: --check exit {check.returncode}")
        for line in sites:
            print(f"  {line}")
        fixed = os.path.join(out, f"fixed_{v}.onnx")
        # (--sections: the 1D variant has no sections of its own; 4 frequencies
        # are below what the default sections scale to.)
        proc = subprocess.run([fix, path, "--arch", "qwen2-vl", "--sections", "2,1,1", "-q", "-o", fixed],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"FAIL {v}: mrope-fix -o exit {proc.returncode}: {proc.stderr.strip()}")
            failed += 1
            continue
        worst = 0.0
        for pos in feeds_3d():
            want = run(correct, q, k, pos)
            got = run(fixed, q, k, pos)
            worst = max(worst, *(float(np.abs(a - b).max()) for a, b in zip(want, got)))
        ok = worst <= TOL
        failed += not ok
        print(f"{'ok' if ok else 'FAIL'} fixed {v} == genai_mrope on 3D positions up to 220 (B*S = {B * S}):"
              f" max |diff| = {worst:.2e}")
        again = subprocess.run([fix, fixed, "--arch", "qwen2-vl", "--check", "-q"])
        failed += again.returncode != 0
        print(f"{'ok' if again.returncode == 0 else 'FAIL'} fixed {v} checks clean")
    print(f"{'FAIL' if failed else 'PASS'}: {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
