"""Runs kernels compiled by mrope-compile on random data and compares them with
the numpy reference (python/mrope/reference.py).

Tolerances, and why:
- Against the reference rotation: both do the same f32 products and sum
  (x1*c - x2*s, x2*c + x1*s, no FMA contraction); they differ only where the
  f32 cos/sin differ, by at most 1 ulp (both round an f64-accurate value).
  |x| < 5 here, so 2 ulp(1) * 5 * 2 terms < 3e-6; we allow 4e-6 and report
  the max seen.
- sin/cos alone (the issue's contract): rotating a unit vector returns cos
  and sin of the f32 angle; they must be within 2e-6 of float64 cos/sin of
  that same f32 angle, positions up to 2^17 and beyond.
"""
import argparse
import sys

import numpy as np

from mrope import reference
from mrope.cpu_kernel import CpuKernel

ROT_TOL = 4e-6
TRIG_TOL = 2e-6
CPU = None  # --cpu: the LLVM CPU every kernel is built for (None: the host)


def positions_for(rng, axes, batch, seq, high):
    return rng.integers(0, high, size=(axes, batch, seq), dtype=np.int64)


def check_rotation(name, *, sections, head_dim, theta, layout="neox",
                   interleaved=False, q_heads=3, kv_heads=2, batch=2, seq=5,
                   threads=1, high=4096, seed=0, tensor_layout="bhsd", tokens_per_block=0):
    rng = np.random.default_rng(seed)
    kern = CpuKernel(sections=sections, head_dim=head_dim, theta=theta, layout=layout,
                     interleaved=interleaved, q_heads=q_heads, kv_heads=kv_heads,
                     tensor_layout=tensor_layout, cpu=CPU, tokens_per_block=tokens_per_block)
    q = rng.uniform(-5, 5, size=(batch, q_heads, seq, head_dim)).astype(np.float32)
    k = rng.uniform(-5, 5, size=(batch, kv_heads, seq, head_dim)).astype(np.float32)
    pos = positions_for(rng, len(sections), batch, seq, high)
    want_q = reference.apply_rope(q, pos, sections=sections, theta=theta, layout=layout,
                                  interleaved=interleaved)
    want_k = reference.apply_rope(k, pos, sections=sections, theta=theta, layout=layout,
                                  interleaved=interleaved)
    if tensor_layout == "bshd":  # [B,S,H*D] storage, compared as [B,H,S,D]
        to_bshd = lambda x: np.ascontiguousarray(x.transpose(0, 2, 1, 3)).reshape(
            x.shape[0], x.shape[2], -1)
        sq, sk = to_bshd(q), to_bshd(k)
        kern(sq, sk, pos, threads=threads)
        got_q = sq.reshape(batch, seq, q_heads, head_dim).transpose(0, 2, 1, 3)
        got_k = sk.reshape(batch, seq, kv_heads, head_dim).transpose(0, 2, 1, 3)
    else:
        got_q, got_k = q.copy(), k.copy()
        kern(got_q, got_k, pos, threads=threads)
    err = max(np.abs(got_q - want_q).max(), np.abs(got_k - want_k).max())
    rotary = 2 * sum(sections)
    untouched = np.array_equal(got_q[..., rotary:], q[..., rotary:])
    ok = err <= ROT_TOL and untouched
    print(f"{'ok' if ok else 'FAIL'} rotation {name}: max |kernel - reference| = {err:.2e}"
          f" (tol {ROT_TOL:g}){'' if untouched else ', pass-through channels changed'}")
    return ok


def _bf16_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _f32_to_bf16(x):
    bits = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    rounded = bits + 0x7FFF + ((bits >> 16) & 1)          # round to nearest even
    return (rounded >> 16).astype(np.uint16)


def check_half(dtype, *, sections=(16, 24, 24), head_dim=128, theta=1e6, seq=9, seed=3):
    """f16/bf16 storage, f32 math, one rounding: equals the f32 reference on
    the widened inputs, rounded once (tolerance: 1 unit of the storage type)."""
    rng = np.random.default_rng(seed)
    kern = CpuKernel(sections=sections, head_dim=head_dim, theta=theta, kv_heads=-1,
                     dtype=dtype, cpu=CPU)
    x32 = rng.uniform(-5, 5, size=(1, 2, seq, head_dim)).astype(np.float32)
    if dtype == "f16":
        bits = x32.astype(np.float16).view(np.uint16)
        widen = lambda b: b.view(np.float16).astype(np.float32)
        narrow = lambda f: f.astype(np.float16).view(np.uint16)
        ulp = 2.0 ** -10
    else:
        bits = _f32_to_bf16(x32)
        widen, narrow, ulp = _bf16_to_f32, _f32_to_bf16, 2.0 ** -7
    pos = positions_for(rng, len(sections), 1, seq, 1 << 15)
    want_bits = narrow(reference.apply_rope(widen(bits), pos, sections=list(sections), theta=theta))
    want = widen(want_bits)
    got = bits.copy()
    kern(got, None, pos)
    err = np.abs(widen(got) - want).max()
    tol = ulp * 8  # one unit at |y| < 8
    same = int(np.count_nonzero(got == want_bits))
    ok = err <= tol
    print(f"{'ok' if ok else 'FAIL'} rotation {dtype} storage: max |kernel - rounded reference| "
          f"= {err:.2e} (tol {tol:g}); bit-identical {same}/{got.size}")
    return ok


def check_half_edges():
    """Every f16 and bf16 bit pattern through the kernel at position 0
    (cos 1, sin 0, partner channel 0): y = x * 1 - 0 * 0 must give back the
    same bits (subnormals, infinities, extremes), NaN must stay NaN."""
    ok_all = True
    for dtype in ("f16", "bf16"):
        kern = CpuKernel(sections=[64], head_dim=128, theta=1e6, kv_heads=-1, dtype=dtype,
                         cpu=CPU)
        x = np.zeros((1, 8, 128, 128), dtype=np.uint16)
        x[..., :64] = np.arange(65536, dtype=np.uint16).reshape(8, 128, 64)
        got = x.copy()
        kern(got, None, np.zeros((1, 1, 128), dtype=np.int64))
        widen = (lambda b: b.view(np.float16).astype(np.float32)) if dtype == "f16" else _bf16_to_f32
        nan = lambda b: np.isnan(widen(b))
        src, out = x[..., :64], got[..., :64]
        nan_ok = bool(np.all(nan(out) == nan(src)))
        same = bool(np.array_equal(src[~nan(src)], out[~nan(src)]))
        # The partner channel gets 0 * 1 + x * 0: zero where x is finite.
        zeros = bool(np.all(got[..., 64:][np.isfinite(widen(src))] == 0))
        ok = nan_ok and same and zeros
        ok_all &= ok
        print(f"{'ok' if ok else 'FAIL'} {dtype}: all 65536 bit patterns round-trip "
              f"(non-NaN identical: {same}, NaN stays NaN: {nan_ok})")
    return ok_all


def check_vision(*, head_dim=80, theta=1e4, seq=12, heads=2, seed=4):
    """Qwen2-VL vision tower: (h, w) positions, frequencies restart per axis."""
    rng = np.random.default_rng(seed)
    kern = CpuKernel(sections=[head_dim // 4] * 2, head_dim=head_dim, theta=theta,
                     per_section_freqs=True, kv_heads=-1, cpu=CPU)
    x = rng.uniform(-5, 5, size=(1, heads, seq, head_dim)).astype(np.float32)
    hw = rng.integers(0, 64, size=(seq, 2), dtype=np.int64)
    want = reference.apply_vision_rope(np.transpose(x[0], (1, 0, 2)), hw, theta=theta)
    got = x.copy()
    kern(got, None, np.transpose(hw)[:, None, :])
    err = np.abs(np.transpose(got[0], (1, 0, 2)) - want).max()
    ok = err <= ROT_TOL
    print(f"{'ok' if ok else 'FAIL'} rotation vision 2D [20,20] per-section d80: "
          f"max |kernel - reference| = {err:.2e} (tol {ROT_TOL:g})")
    return ok


def check_trig(*, high_positions):
    """cos/sin through the kernel: rotate e_i by the angle of frequency i."""
    sections, head_dim, theta = [64], 128, 1.0e6
    kern = CpuKernel(sections=sections, head_dim=head_dim, theta=theta, kv_heads=-1, cpu=CPU)
    F = head_dim // 2
    seq = len(high_positions)
    q = np.zeros((1, F, seq, head_dim), dtype=np.float32)
    for i in range(F):
        q[0, i, :, i] = 1.0          # head i carries e_i: y[i] = cos, y[i+F] = sin
    pos = np.asarray(high_positions, dtype=np.int64)[None, None, :]
    kern(q, None, pos)
    inv = reference.inv_freq(head_dim, theta)
    ang = (pos[0, 0][:, None].astype(np.float32) * inv[None, :]).astype(np.float32)
    want_cos = np.cos(ang.astype(np.float64))
    want_sin = np.sin(ang.astype(np.float64))
    got_cos = np.stack([q[0, i, :, i] for i in range(F)], axis=1).astype(np.float64)
    got_sin = np.stack([q[0, i, :, i + F] for i in range(F)], axis=1).astype(np.float64)
    err = max(np.abs(got_cos - want_cos).max(), np.abs(got_sin - want_sin).max())
    ok = err <= TRIG_TOL
    print(f"{'ok' if ok else 'FAIL'} sin/cos up to position {max(high_positions)}: "
          f"max error vs float64 of the same f32 angle = {err:.2e} (tol {TRIG_TOL:g})")
    return ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("which", choices=["shapes", "trig"])
    parser.add_argument("--cpu", help="LLVM CPU to build every kernel for (default: the host)")
    args = parser.parse_args()
    global CPU
    CPU = args.cpu
    print(f"kernels built for {CPU or 'the host CPU'}")
    results = []
    if args.which == "shapes":
        results += [
            check_rotation("mrope [16,24,24] d128 GQA 3/2", sections=[16, 24, 24], head_dim=128, theta=1e6),
            check_rotation("mrope S=1", sections=[16, 24, 24], head_dim=128, theta=1e6, seq=1, batch=1),
            check_rotation("mrope S=37 odd, 2 threads", sections=[16, 24, 24], head_dim=128, theta=1e6,
                           seq=37, threads=2),
            check_rotation("mrope small [4,6,6] d32", sections=[4, 6, 6], head_dim=32, theta=1e6, seq=9),
            check_rotation("qwen3-vl interleaved [24,20,20]", sections=[24, 20, 20], head_dim=128,
                           theta=5e6, interleaved=True, seq=11),
            check_rotation("text 1d [64]", sections=[64], head_dim=128, theta=1e6, seq=13),
            check_rotation("gptj 1d partial [8] d64", sections=[8], head_dim=64, theta=1e4,
                           layout="gptj", seq=7),
            check_rotation("neox partial rotary [12] d64", sections=[12], head_dim=64, theta=1e4, seq=3),
            check_rotation("2d positions [20,20] d80 (global freqs)", sections=[20, 20], head_dim=80,
                           theta=1e4, seq=6),
            check_rotation("large positions mrope", sections=[16, 24, 24], head_dim=128, theta=1e6,
                           seq=8, high=1 << 17),
            check_rotation("bshd mrope GQA 3/2, S=70 over 3 blocks of 32, 2 threads",
                           sections=[16, 24, 24], head_dim=128, theta=1e6, seq=70, threads=2,
                           tensor_layout="bshd", tokens_per_block=32),
            check_rotation("bshd gptj partial [8] d64", sections=[8], head_dim=64, theta=1e4,
                           layout="gptj", seq=7, tensor_layout="bshd"),
            check_rotation("bhsd S=45, blocks of 8, 3 threads", sections=[4, 6, 6], head_dim=40,
                           theta=1e6, seq=45, threads=3, tokens_per_block=8),
            # More heads (16) than tokens per block (8): after some heads no
            # row of the next block's table is due; two batch rows, the last
            # block partial.
            check_rotation("bhsd 12/4 heads, S=29, blocks of 8", sections=[4, 6, 6],
                           head_dim=32, theta=1e6, seq=29, q_heads=12, kv_heads=4,
                           tokens_per_block=8),
            check_vision(),
            check_half("f16"),
            check_half("bf16"),
            check_half_edges(),
        ]
    else:
        rng = np.random.default_rng(1)
        edge = [0, 1, 2, 3, 4095, 4096, 32767, 32768, 65535, 65536, 131071, 131072,
                (1 << 20) - 1, 1 << 20]
        results.append(check_trig(high_positions=edge + list(rng.integers(0, 1 << 17, size=50))))
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
