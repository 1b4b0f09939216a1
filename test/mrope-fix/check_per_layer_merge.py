"""Hugging Face exports of Qwen2-VL keep one M-RoPE section merge per layer
(apply_multimodal_rotary_pos_emb runs in every layer) and the inv_freq
broadcast to [3, 1, F, 1] folded into one constant. Builds that decoder
(scripts/bench-emit.py's build(), 3 layers, S = 16), as correct M-RoPE and
with the bug (build's 'bug' variant: one [1, S] positions input expanded to
the three rows), and checks that mrope-fix finds every layer's rotations and
that each --emit form of the fixed bug model equals the correct model in
ONNX Runtime.

usage: check_per_layer_merge.py MROPE_FIX WORKDIR
"""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx

from mrope import ort

ROOT = Path(__file__).resolve().parents[2]
SEQ, LAYERS = 16, 3


def bench_emit():
    spec = importlib.util.spec_from_file_location("bench_emit", ROOT / "scripts" / "bench-emit.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_emit"] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    fix, work = sys.argv[1], Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    bench = bench_emit()
    onnx.save(bench.build(SEQ, LAYERS, "original"), work / "correct.onnx")
    bug = bench.build(SEQ, LAYERS, "bug")
    onnx.checker.check_model(bug)
    onnx.save(bug, work / "bug.onnx")
    for name in ("correct", "bug"):
        report = subprocess.run([fix, str(work / f"{name}.onnx"), "--arch", "qwen2-vl"],
                                capture_output=True, text=True).stdout
        print(report.splitlines()[1])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, SEQ, 256)).astype(np.float32)
    t = np.arange(SEQ)
    pos = np.stack([t // 4, t % 3, t % 5])[:, None, :].astype(np.int64)
    want = ort.run(work / "correct.onnx", {"inputs_embeds": x, "position_ids": pos})["out"]
    failed = 0
    for emit in ("plain", "ort"):
        out_path = work / f"fixed-{emit}.onnx"
        subprocess.run([fix, str(work / "bug.onnx"), "--arch", "qwen2-vl", "--emit", emit,
                        "-q", "-o", str(out_path)], check=True)
        got = ort.run(out_path, {"inputs_embeds": x, "position_ids": pos})["out"]
        # plain recomputes the same f32 ops; ort's fused kernel may contract
        # x*cos + rot(x)*sin with an FMA: about one ulp of the rotated values,
        # carried through the projections (outputs of size ~10).
        err = float(np.abs(got - want).max())
        ok = err <= (0.0 if emit == "plain" else 1e-4)
        failed += not ok
        print(f"{'ok' if ok else 'FAIL'} --emit {emit}: |fixed - correct| = {err:.1e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
