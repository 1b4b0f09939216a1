#!/usr/bin/env python3
"""Device-side checks of the fused QK-norm + RoPE + KV-cache CUDA kernels
(`mrope-compile --fuse norm,cache --target cuda`, see prepare.sh; run by
gpu-check.sh).

1. Correctness of every fused_*.CHIP.ptx at odd shapes, positions up to 2^17
   and a cache slot that runs past the end of the cache: q against the
   float64 reference of fused_ref.py (RMSNorm, then the rotation with the
   kernel's own inv_freq / axis tables), k unchanged, the cache slot against
   k's reference, every other cache row untouched. The torch reference used
   here is first checked against fused_ref.py's plain-Python one, which
   prepare.sh checks against the CPU fused kernel.
2. Benchmark at Qwen3-VL-8B-like shapes (32 q heads, 8 kv heads, D = 128,
   interleaved M-RoPE [24, 20, 20]): prefill B = 1, S = 4096 and 32768
   (cache of S tokens), decode S = 1, B = 1 and 64 (cache of 32768 tokens):
   the fused kernel vs one device-to-device copy of the q and k bytes vs
   torch eager RMSNorm (Qwen3RMSNorm) + interleaved M-RoPE (Qwen3-VL's
   apply_interleaved_mrope + rotate-half) + the cache write; with
   --torch-compile also torch.compile of that chain. CUDA-event medians in
   microseconds, and GB/s over the bytes the fused kernel must move (q and k
   read, q and the cache slot written).

Writes OUT/gpu-check-fused.{json,md}; exits 1 when a correctness check fails.
"""
import argparse
import ctypes
import glob
import json
import os
import sys
import traceback

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fused_ref  # noqa: E402
from gpu_check import Launcher, reference, rotate_half, time_cuda, tolerance  # noqa: E402

DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}
PARAM_NAMES = ["q", "k", "positions", "q_weight", "k_weight", "k_cache", "cache_offset"]


class FusedKernel:
    def __init__(self, ptx_path):
        self.ptx = ptx_path
        inv, axis, meta = fused_ref.kernel_tables(ptx_path)
        assert meta.get("fused") == ["norm", "cache"], ptx_path + " is not a fused kernel"
        names = [p["name"] for p in meta["params"]]
        assert names == PARAM_NAMES, "unexpected ABI %s" % names
        self.meta = meta
        self.entry = meta["entry"]
        self.block = meta["block"]
        self.num_params = meta["num_params"]
        self.dtype = DTYPES[meta["dtype"]]
        self.head_dim = meta["head_dim"]
        self.axes = meta["position_axes"]
        self.eps = meta["eps"]
        self.layout = "gptj" if "layout = gptj" in meta["semantics"] else "neox"
        self.inv = torch.tensor(inv, dtype=torch.float32)
        self.axis = torch.tensor(axis, dtype=torch.long)
        self.handle = None

    @property
    def name(self):
        return os.path.basename(self.ptx)


def descriptor(t):
    """The expanded memref descriptor of a contiguous tensor."""
    assert t.is_contiguous()
    ptr = t.data_ptr()
    return [ptr, ptr, 0] + list(t.shape) + list(t.stride())


def prepare_launch(launcher, kern, q, k, pos, wq, wk, cache, offset):
    """A function launching the kernel on these tensors: the parameter words
    are packed once, so that a timed call costs one ctypes call and one
    cuLaunchKernel on the host."""
    B, _, S, _ = q.shape
    if B * S == 0:
        return lambda: None
    words = (descriptor(q) + descriptor(k) + descriptor(pos) + descriptor(wq) + descriptor(wk)
             + descriptor(cache) + [offset])
    assert len(words) == kern.num_params, (len(words), kern.num_params)
    arr = (ctypes.c_uint64 * len(words))(*[w & 0xFFFFFFFFFFFFFFFF for w in words])
    err = ctypes.create_string_buffer(1024)
    grid = (B * S + kern.block[1] - 1) // kern.block[1]
    stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
    fn = launcher.lib.mrope_cuda_launch_words

    def run():
        if fn(kern.handle, grid, kern.block[0], kern.block[1], arr, len(words), stream, err, len(err)):
            raise RuntimeError(err.value.decode(errors="replace"))
    return run


def bind_words(launcher):
    fn = launcher.lib.mrope_cuda_launch_words
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int, ctypes.c_int,
                   ctypes.POINTER(ctypes.c_uint64), ctypes.c_int, ctypes.c_void_p,
                   ctypes.c_char_p, ctypes.c_size_t]


def torch_reference(x, w, pos, kern):
    """fused_ref.fused_reference in float64 torch (the same formulas)."""
    xd = x.cpu().double()
    eps32 = float(torch.tensor(kern.eps, dtype=torch.float32))
    y = xd / torch.sqrt((xd * xd).mean(-1, keepdim=True) + eps32) * w.cpu().double()
    return reference(y, pos, kern.inv, kern.axis, kern.layout)


def check_reference_agrees(kern):
    """The torch reference against the plain-Python one on a small case."""
    g = torch.Generator().manual_seed(3)
    B, H, S, D = 2, 2, 3, kern.head_dim
    x = torch.randn(B, H, S, D, generator=g)
    w = 1 + 0.1 * torch.randn(D, generator=g)
    pos = torch.randint(0, 2 ** 17, (kern.axes, B, S), generator=g)
    want = fused_ref.fused_reference(x.flatten().tolist(), (B, H, S, D), w.tolist(),
                                     pos.flatten().tolist(), kern.inv.tolist(), kern.axis.tolist(),
                                     kern.layout, kern.eps)
    got = torch_reference(x, w, pos, kern).flatten()
    return float((got - torch.tensor(want, dtype=torch.float64)).abs().max())


ODD = [  # (B, S, Hq, Hk, cache_len, offset): the last one runs past the cache
    (1, 1, 1, 1, 1, 0), (3, 37, 5, 3, 50, 13), (2, 131, 32, 8, 131, 0), (1, 1000, 7, 1, 1200, 200),
    (4, 9, 3, 2, 12, 6),
]


def check_kernel(launcher, kern, results, seed=0):
    g = torch.Generator().manual_seed(seed)
    ok = True
    D, dt = kern.head_dim, kern.dtype
    for (B, S, Hq, Hk, L, off) in ODD:
        q = torch.randn(B, Hq, S, D, generator=g).to(dt)
        k = torch.randn(B, Hk, S, D, generator=g).to(dt)
        wq = (1 + 0.1 * torch.randn(D, generator=g)).to(dt)
        wk = (1 + 0.1 * torch.randn(D, generator=g)).to(dt)
        pos = torch.randint(0, 2 ** 17, (kern.axes, B, S), generator=g, dtype=torch.int64)
        pos[:, :, 0] = 2 ** 17
        cache = torch.full((B, Hk, L, D), 7.0).to(dt)
        want_q = torch_reference(q, wq, pos, kern)
        want_k = torch_reference(k, wk, pos, kern)
        dq, dk, dp, dwq, dwk, dc = (t.cuda() for t in (q, k, pos, wq, wk, cache))
        prepare_launch(launcher, kern, dq, dk, dp, dwq, dwk, dc, off)()
        torch.cuda.synchronize()
        got_q, got_k, got_c = dq.cpu(), dk.cpu(), dc.cpu()
        err_q = (got_q.double() - want_q).abs()
        ok_q = bool((err_q <= tolerance(dt, want_q)).all())
        ok_k = bool(torch.equal(got_k, k))
        n = max(0, min(S, L - off))  # tokens that fit in the cache
        slot = got_c[:, :, off:off + n].double()
        err_c = (slot - want_k[:, :, :n]).abs()
        ok_c = bool((err_c <= tolerance(dt, want_k[:, :, :n])).all())
        outside = torch.cat([got_c[:, :, :off], got_c[:, :, off + n:]], dim=2)
        ok_o = bool((outside == 7.0).all())
        row_ok = ok_q and ok_k and ok_c and ok_o
        ok &= row_ok
        results.append({"kernel": kern.name, "shape": [B, S, Hq, Hk], "cache_len": L,
                        "offset": off, "max_abs_err_q": float(err_q.max()),
                        "max_abs_err_cache": float(err_c.max()) if n else 0.0,
                        "k_unchanged": ok_k, "other_cache_rows_untouched": ok_o, "ok": row_ok})
    return ok


# ---------------------------------------------------------------------------
# torch eager: Qwen3RMSNorm + Qwen3-VL interleaved M-RoPE + cache write
# ---------------------------------------------------------------------------


def rms_norm(x, w, eps):
    dt = x.dtype
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return w * h.to(dt)


def eager_chain(q, k, wq, wk, pos, inv, cache, offset, eps, section=(24, 20, 20)):
    qn, kn = rms_norm(q, wq, eps), rms_norm(k, wk, eps)
    B = pos.shape[1]
    freqs = (inv[None, None, :, None].float().expand(3, B, -1, 1)
             @ pos[:, :, None, :].float()).transpose(2, 3)  # [3, B, S, F]
    freqs_t = freqs[0].clone()
    for dim, start in ((1, 1), (2, 2)):
        idx = slice(start, section[dim] * 3, 3)
        freqs_t[..., idx] = freqs[dim, ..., idx]
    emb = torch.cat((freqs_t, freqs_t), dim=-1)
    cos, sin = emb.cos().to(q.dtype)[:, None], emb.sin().to(q.dtype)[:, None]
    q_embed = qn * cos + rotate_half(qn) * sin
    k_embed = kn * cos + rotate_half(kn) * sin
    cache[:, :, offset:offset + k.shape[2]] = k_embed
    return q_embed


BENCH = [  # (B, S, cache_len, offset)
    (1, 4096, 4096, 0), (1, 32768, 32768, 0), (1, 1, 32768, 20000), (64, 1, 32768, 20000),
]


def benchmark(launcher, kern, shape, results, use_compile):
    B, S, L, off = shape
    Hq, Hk, D, dt = 32, 8, kern.head_dim, kern.dtype
    q = torch.randn(B, Hq, S, D, device="cuda").to(dt)
    k = torch.randn(B, Hk, S, D, device="cuda").to(dt)
    wq = torch.ones(D, device="cuda", dtype=dt)
    wk = torch.ones(D, device="cuda", dtype=dt)
    pos = torch.arange(S, device="cuda").expand(3, B, S).contiguous() + off
    cache = torch.zeros(B, Hk, L, D, device="cuda", dtype=dt)
    inv = kern.inv.cuda()
    moved = 2 * (q.numel() + k.numel()) * q.element_size()
    row = {"kernel": kern.name, "dtype": kern.meta["dtype"], "B": B, "S": S, "cache_len": L,
           "bytes_moved": moved}
    # q is normalized and rotated in place on every call: the values drift,
    # the work does not.
    row["fused_us"] = time_cuda(prepare_launch(launcher, kern, q, k, pos, wq, wk, cache, off))
    src = torch.empty(q.numel() + k.numel(), dtype=dt, device="cuda")
    dst = torch.empty_like(src)
    row["memcpy_d2d_us"] = time_cuda(lambda: dst.copy_(src))
    row["torch_eager_us"] = time_cuda(lambda: eager_chain(q, k, wq, wk, pos, inv, cache, off, kern.eps))
    if use_compile:
        try:
            compiled = torch.compile(eager_chain)
            compiled(q, k, wq, wk, pos, inv, cache, off, kern.eps)
            row["torch_compile_us"] = time_cuda(
                lambda: compiled(q, k, wq, wk, pos, inv, cache, off, kern.eps))
        except Exception as e:  # noqa: BLE001 - report, do not stop the run
            row["torch_compile_error"] = "".join(
                traceback.format_exception_only(type(e), e)).strip()[:500]
    for key in ("fused_us", "memcpy_d2d_us", "torch_eager_us", "torch_compile_us"):
        if row.get(key):
            row[key.replace("_us", "_GBps")] = moved / (row[key] * 1e-6) / 1e9
    row["fused_over_memcpy"] = row["memcpy_d2d_us"] / row["fused_us"]
    row["eager_over_fused"] = row["torch_eager_us"] / row["fused_us"]
    results.append(row)


def write_summary(out, s):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "gpu-check-fused.json"), "w") as f:
        json.dump(s, f, indent=2)
    lines = ["# mrope fused norm + RoPE + cache: GPU check", "",
             "device: %s, torch %s, CUDA %s, chip %s" % (s["device"], s["torch"], s["cuda"], s["chip"]),
             "", "torch reference vs plain-Python reference: max diff %s" % s.get("reference_agreement"),
             "", "## Correctness (vs float64 reference)", "",
             "| kernel | B, S, Hq, Hk | cache, offset | max err q | max err cache | k kept | rest kept | ok |",
             "|---|---|---|---|---|---|---|---|"]
    for r in s["correctness"]:
        lines.append("| %s | %s | %d, %d | %.2e | %.2e | %s | %s | %s |" % (
            r["kernel"], r["shape"], r["cache_len"], r["offset"], r["max_abs_err_q"],
            r["max_abs_err_cache"], r["k_unchanged"], r["other_cache_rows_untouched"], r["ok"]))
    for e in s["errors"]:
        lines.append("\nERROR: " + e)
    fmt = lambda v: "%.1f" % v if v else "n/a"  # noqa: E731
    lines += ["", "## Benchmark (32 q heads, 8 kv heads, D = 128), microseconds", "",
              "| kernel | B | S | fused | memcpy D2D | torch eager | torch.compile | fused GB/s | "
              "memcpy GB/s | memcpy/fused | eager/fused |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in s["benchmark"]:
        lines.append("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %.2f | %.2f |" % (
            r["kernel"], r["B"], r["S"], fmt(r["fused_us"]), fmt(r["memcpy_d2d_us"]),
            fmt(r["torch_eager_us"]), fmt(r.get("torch_compile_us")), fmt(r.get("fused_GBps")),
            fmt(r.get("memcpy_d2d_GBps")), r["fused_over_memcpy"], r["eager_over_fused"]))
    with open(os.path.join(out, "gpu-check-fused.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernels", default=os.path.join(os.path.dirname(__file__), "kernels"))
    ap.add_argument("--launcher", required=True, help="path of libmrope_cuda_launch.so")
    ap.add_argument("--chip", help="sm_90 / sm_80 (default: the device's)")
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    ap.add_argument("--torch-compile", action="store_true",
                    help="also time torch.compile of the eager chain (slow to compile)")
    args = ap.parse_args()
    major, _ = torch.cuda.get_device_capability()
    chip = args.chip or ("sm_90" if major >= 9 else "sm_80")
    s = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "cuda": torch.version.cuda,
         "chip": chip, "correctness": [], "benchmark": [], "errors": []}
    launcher = Launcher(args.launcher)
    bind_words(launcher)
    paths = sorted(glob.glob(os.path.join(args.kernels, "fused_*.%s.ptx" % chip)))
    if not paths:
        s["errors"].append("no fused_*.%s.ptx in %s (run prepare.sh)" % (chip, args.kernels))
    ok = bool(paths)
    kernels = []
    torch.cuda.init()
    for p in paths:
        try:
            kern = FusedKernel(p)
            launcher.load(kern)
            kernels.append(kern)
            if "reference_agreement" not in s:
                s["reference_agreement"] = check_reference_agrees(kern)
                ok &= s["reference_agreement"] < 1e-9
            ok &= check_kernel(launcher, kern, s["correctness"])
        except Exception as e:  # noqa: BLE001
            ok = False
            s["errors"].append("%s: %s" % (os.path.basename(p), e))
    for kern in (k for k in kernels if k.layout == "neox"):  # eager is rotate-half
        for shape in BENCH:
            try:
                benchmark(launcher, kern, shape, s["benchmark"], args.torch_compile)
            except Exception as e:  # noqa: BLE001
                s["errors"].append("benchmark %s %s: %s" % (kern.name, shape, e))
            torch.cuda.empty_cache()
    s["all_correct"] = ok
    write_summary(args.out, s)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
