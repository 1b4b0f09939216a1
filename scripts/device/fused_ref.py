#!/usr/bin/env python3
"""The numerical contract of the fused QK-norm + RoPE + KV-cache kernels
(`mrope-compile --fuse norm,cache`, CPU and CUDA) in plain Python: no torch,
no numpy, so that it runs on the machine that builds the kernels as well as
on the device machine.

    y = x / sqrt(mean(x^2 over D) + f32(eps)) * weight      (float64)
    angle_i = f32(f32(p[axis(i)]) * inv_freq[i])           (the f32 product)
    y rotated by cos/sin(angle_i) in float64 (neox: channels i, i + F;
    gptj: 2i, 2i + 1)

inv_freq and the axis of each frequency are read from the kernel's PTX
(`__rope_inv_freq`, `__rope_axis_of_freq`), so the reference uses the
kernel's exact bits.

`python3 fused_ref.py --selftest-cpu --compile build/bin/mrope-compile
--ptx KERNEL.ptx` (no GPU): builds the CPU fused kernel (--fuse norm,cache
--target cpu) with the semantics in KERNEL.json, runs it through ctypes on
small random tensors and compares it with this reference. That ties the
reference the GPU check uses (gpu_check_fused.py) to the CPU kernel.
"""
import argparse
import ctypes
import json
import math
import os
import random
import re
import struct
import subprocess
import sys
import tempfile


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def ptx_table(text, name, fmt):
    """The values of `.global .align N .b8 NAME[n] = {...}` (struct format
    letter `fmt`, 4 bytes each), zero-filled to n bytes as PTX does."""
    m = re.search(r"\.global\s+\.align\s+\d+\s+\.b8\s+%s\[(\d+)\]\s*=\s*\{([^}]*)\}" % name, text)
    if not m:
        return None
    data = bytearray(int(x) for x in m.group(2).split(","))
    data += bytearray(int(m.group(1)) - len(data))
    return list(struct.unpack("<%d%s" % (len(data) // 4, fmt), bytes(data)))


def kernel_tables(ptx_path):
    """(inv_freq, axis of each frequency, meta) of a kernel from its PTX and
    JSON."""
    text = open(ptx_path).read()
    meta = json.load(open(os.path.splitext(ptx_path)[0] + ".json"))
    inv = ptx_table(text, "__rope_inv_freq", "f")
    if inv is None:
        raise ValueError("no __rope_inv_freq table in " + ptx_path)
    axis = ptx_table(text, "__rope_axis_of_freq", "i") or [0] * len(inv)
    return inv, axis, meta


def fused_reference(x, shape, weight, pos, inv, axis, layout, eps):
    """x: flat [B, H, S, D] floats; pos: flat [A, B, S] ints -> flat float64
    list: RMSNorm over D, then the rotation."""
    B, H, S, D = shape
    F = len(inv)
    eps32 = f32(eps)
    out = [0.0] * len(x)
    for b in range(B):
        for s in range(S):
            ang = [f32(f32(float(pos[(axis[i] * B + b) * S + s])) * inv[i]) for i in range(F)]
            cos = [math.cos(a) for a in ang]
            sin = [math.sin(a) for a in ang]
            for h in range(H):
                base = ((b * H + h) * S + s) * D
                row = x[base:base + D]
                r = 1.0 / math.sqrt(sum(v * v for v in row) / D + eps32)
                y = [row[c] * r * weight[c] for c in range(D)]
                for i in range(F):
                    i1, i2 = (i, i + F) if layout == "neox" else (2 * i, 2 * i + 1)
                    x1, x2 = y[i1], y[i2]
                    y[i1] = x1 * cos[i] - x2 * sin[i]
                    y[i2] = x2 * cos[i] + x1 * sin[i]
                out[base:base + D] = y
    return out


def tolerance_f32(want):
    # f32 arithmetic in the kernels (norm, cos/sin, rotation): a few ulp of
    # values of order one.
    return 1e-5 * (1.0 + abs(want))


def flags_of(meta):
    """mrope-compile flags that rebuild the rotation a kernel JSON names."""
    sem = meta["semantics"]
    sections = re.search(r"sections = \[([0-9, ]+)\]", sem).group(1).replace(" ", "")
    theta = re.search(r"theta = ([0-9.e+-]+)", sem).group(1)
    flags = ["--sections", sections, "--theta", theta, "--head-dim", str(meta["head_dim"]),
             "--pairs", "gptj" if "layout = gptj" in sem else "neox"]
    if "order = interleaved" in sem:
        flags.append("--interleaved")
    return flags


def selftest_cpu(compile_tool, ptx_path, seed=0):
    inv, axis, meta = kernel_tables(ptx_path)
    layout = "gptj" if "layout = gptj" in meta["semantics"] else "neox"
    eps = meta["eps"]
    D, A = meta["head_dim"], meta["position_axes"]
    with tempfile.TemporaryDirectory() as tmp:
        lib = os.path.join(tmp, "libfused.so")
        subprocess.run([compile_tool, "--fuse", "norm,cache", "--target", "cpu", "--cpu", "x86-64",
                        "--eps", repr(eps), "--name", "fused_ref_cpu", "--q-heads", "3",
                        "--kv-heads", "2", "-o", lib] + flags_of(meta),
                       check=True, stdout=subprocess.DEVNULL)
        so = ctypes.CDLL(lib)
    fn = so.fused_ref_cpu
    F32P, I64P, I64 = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int64), ctypes.c_int64
    fn.restype = ctypes.c_int
    fn.argtypes = [F32P, F32P, F32P, F32P, F32P, I64, I64, I64, I64, I64P, I64, I64, ctypes.c_int]
    rng = random.Random(seed)
    worst = 0.0
    ok = True
    # Static head counts: with "any" the CPU kernel calls memrefCopy from
    # MLIR's runner utils (a CPU-side issue, not this reference's).
    Hq, Hk = 3, 2
    for (B, S, cache_len, offset) in [(1, 1, 1, 0), (2, 5, 9, 4), (1, 9, 12, 3)]:
        q = [f32(rng.gauss(0, 1)) for _ in range(B * Hq * S * D)]
        k = [f32(rng.gauss(0, 1)) for _ in range(B * Hk * S * D)]
        wq = [f32(1 + 0.1 * rng.gauss(0, 1)) for _ in range(D)]
        wk = [f32(1 + 0.1 * rng.gauss(0, 1)) for _ in range(D)]
        pos = [rng.randrange(0, 2 ** 17) for _ in range(A * B * S)]
        cache = [7.0] * (B * Hk * cache_len * D)
        cq = (ctypes.c_float * len(q))(*q)
        ck = (ctypes.c_float * len(k))(*k)
        cwq = (ctypes.c_float * D)(*wq)
        cwk = (ctypes.c_float * D)(*wk)
        cc = (ctypes.c_float * len(cache))(*cache)
        cp = (ctypes.c_int64 * len(pos))(*pos)
        rc = fn(cq, ck, cwq, cwk, cc, cache_len, offset, Hq, Hk, cp, B, S, 1)
        if rc != 0:
            print("selftest-cpu: the CPU kernel returned", rc)
            return False
        want_q = fused_reference(q, (B, Hq, S, D), wq, pos, inv, axis, layout, eps)
        want_k = fused_reference(k, (B, Hk, S, D), wk, pos, inv, axis, layout, eps)
        for got, want in ((list(cq), want_q),):
            for g, w in zip(got, want):
                worst = max(worst, abs(g - w))
                ok &= abs(g - w) <= tolerance_f32(w)
        ok &= list(ck) == k  # k is only read
        for b in range(B):
            for h in range(Hk):
                for t in range(cache_len):
                    row = ((b * Hk + h) * cache_len + t) * D
                    s = t - offset
                    for c in range(D):
                        g = cc[row + c]
                        if 0 <= s < S:
                            w = want_k[((b * Hk + h) * S + s) * D + c]
                            worst = max(worst, abs(g - w))
                            ok &= abs(g - w) <= tolerance_f32(w)
                        else:
                            ok &= g == 7.0  # rows outside the slot untouched
    print("selftest-cpu: CPU fused kernel vs reference (%s, %s) max abs err %.2e: %s"
          % (os.path.basename(ptx_path), layout, worst, "ok" if ok else "WRONG"))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--selftest-cpu", action="store_true", required=True)
    ap.add_argument("--compile", required=True, help="path of mrope-compile")
    ap.add_argument("--ptx", required=True, nargs="+", help="f32 fused kernels (PTX + JSON)")
    args = ap.parse_args()
    ok = all([selftest_cpu(args.compile, p) for p in args.ptx])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
