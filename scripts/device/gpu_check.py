#!/usr/bin/env python3
"""Device-side checks of the mrope CUDA kernels (run by gpu-check.sh).

1. Correctness: every kernel in KERNELS_DIR (PTX from `mrope-compile --target
   cuda`, see prepare.sh) against a float64 reference of the same semantics
   (angle = f32(p[axis(i)]) * inv_freq[i] in f32, cos/sin and the rotation in
   float64), at odd shapes and positions up to 2^17. inv_freq and the axis of
   each frequency are read from the PTX's own tables (`__rope_inv_freq`,
   `__rope_axis_of_freq`), so the reference uses the kernel's exact bits.
2. Benchmark at Qwen2-VL-7B shapes (28 q heads, 4 kv heads, head dim 128,
   M-RoPE [16, 24, 24]) for S = 4096 and 32768: our kernel vs one
   device-to-device copy of the same bytes vs Hugging Face-style eager M-RoPE
   (Qwen2VLRotaryEmbedding + apply_multimodal_rotary_pos_emb) vs
   torch.compile of that function.

Writes OUT/gpu-check.json and OUT/gpu-check.md; exits 1 when a correctness
check fails. `--selftest-cpu` (no GPU needed) checks the reference against
the HF formulation and the PTX table parsing on the CPU.
"""
import argparse
import ctypes
import glob
import json
import os
import re
import statistics
import sys
import traceback

import torch

# ---------------------------------------------------------------------------
# Kernel metadata and tables
# ---------------------------------------------------------------------------


def ptx_table(text, name, dtype):
    """The bytes of `.global .align N .b8 NAME[n] = {...}` as a tensor."""
    m = re.search(r"\.global\s+\.align\s+\d+\s+\.b8\s+%s\[(\d+)\]\s*=\s*\{([^}]*)\}" % name, text)
    if not m:
        return None
    data = bytearray(int(x) for x in m.group(2).split(","))
    size = int(m.group(1))
    assert len(data) <= size, name
    data += bytearray(size - len(data))  # PTX zero-fills a short initializer
    return torch.frombuffer(data, dtype=dtype).clone()


class Kernel:
    def __init__(self, ptx_path):
        self.ptx = ptx_path
        self.meta = json.load(open(os.path.splitext(ptx_path)[0] + ".json"))
        text = open(ptx_path).read()
        m = self.meta
        self.entry = m["entry"]
        self.block = m["block"]
        self.dtype = {"f32": torch.float32, "bf16": torch.bfloat16,
                      "f16": torch.float16}[m["dtype"]]
        self.head_dim = m["head_dim"]
        self.axes = m["position_axes"]
        self.layout = "gptj" if "layout = gptj" in m["semantics"] else "neox"
        self.inv = ptx_table(text, "__rope_inv_freq", torch.float32)
        assert self.inv is not None, "no __rope_inv_freq table in " + ptx_path
        self.freqs = self.inv.numel()
        axis = ptx_table(text, "__rope_axis_of_freq", torch.int32)
        self.axis = (axis if axis is not None else torch.zeros(self.freqs, dtype=torch.int32)).long()
        self.handle = None

    @property
    def name(self):
        return os.path.basename(self.ptx)


class Launcher:
    """ctypes binding of libmrope_cuda_launch (mrope_cuda_launch.h)."""

    def __init__(self, path):
        lib = ctypes.CDLL(path)
        lib.mrope_cuda_load.restype = ctypes.c_void_p
        lib.mrope_cuda_load.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int,
                                        ctypes.c_char_p, ctypes.c_size_t]
        lib.mrope_cuda_launch.restype = ctypes.c_int
        lib.mrope_cuda_launch.argtypes = (
            [ctypes.c_void_p] + [ctypes.c_uint64] * 3 + [ctypes.c_int64] * 6
            + [ctypes.c_int] * 3 + [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t])
        self.lib = lib

    def load(self, kernel):
        log = ctypes.create_string_buffer(1 << 16)
        h = self.lib.mrope_cuda_load(kernel.ptx.encode(), kernel.entry.encode(),
                                     torch.cuda.current_device(), log, len(log))
        if not h:
            raise RuntimeError(log.value.decode(errors="replace"))
        kernel.handle = h
        return log.value.decode(errors="replace")

    def launch(self, kernel, q, k, pos):
        B, Hq, S, D = q.shape
        Hk = k.shape[1] if k is not None else 0
        err = ctypes.create_string_buffer(1024)
        rc = self.lib.mrope_cuda_launch(
            kernel.handle, q.data_ptr(), k.data_ptr() if k is not None else 0, pos.data_ptr(),
            B, S, Hq, Hk, D, pos.shape[0], 2 if k is not None else 1,
            kernel.block[0], kernel.block[1],
            ctypes.c_void_p(torch.cuda.current_stream().cuda_stream), err, len(err))
        if rc != 0:
            raise RuntimeError(err.value.decode(errors="replace"))


# ---------------------------------------------------------------------------
# Reference (float64) and the Hugging Face formulation
# ---------------------------------------------------------------------------


def reference(x, pos, inv, axis, layout):
    """x [B,H,S,D] (any float dtype), pos [A,B,S] int64 -> float64 result."""
    F = inv.numel()
    p = pos.cpu()[axis]                                   # [F, B, S]
    ang = p.to(torch.float32) * inv.view(F, 1, 1)         # the f32 product
    ang = ang.permute(1, 2, 0).double()                   # [B, S, F]
    c = torch.cos(ang)[:, None]
    s = torch.sin(ang)[:, None]
    x = x.cpu().double()
    y = x.clone()
    if layout == "neox":
        x1, x2 = x[..., :F], x[..., F:2 * F]
        y[..., :F] = x1 * c - x2 * s
        y[..., F:2 * F] = x2 * c + x1 * s
    else:
        x1, x2 = x[..., 0:2 * F:2], x[..., 1:2 * F:2]
        y[..., 0:2 * F:2] = x1 * c - x2 * s
        y[..., 1:2 * F:2] = x2 * c + x1 * s
    return y


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def hf_mrope(q, k, position_ids, inv_freq, mrope_section=(16, 24, 24)):
    """Qwen2VLRotaryEmbedding.forward + apply_multimodal_rotary_pos_emb
    (transformers 4.47+), position_ids [3, B, S]."""
    inv_freq_expanded = inv_freq[None, None, :, None].float().expand(3, position_ids.shape[1], -1, 1)
    position_ids_expanded = position_ids[:, :, None, :].float()
    freqs = (inv_freq_expanded @ position_ids_expanded).transpose(2, 3)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos = emb.cos().to(q.dtype)
    sin = emb.sin().to(q.dtype)
    sections = list(mrope_section) * 2
    cos = torch.cat([m[i % 3] for i, m in enumerate(cos.split(sections, dim=-1))], dim=-1).unsqueeze(1)
    sin = torch.cat([m[i % 3] for i, m in enumerate(sin.split(sections, dim=-1))], dim=-1).unsqueeze(1)
    q_embed = (q * cos) + (rotate_half(q) * sin)
    k_embed = (k * cos) + (rotate_half(k) * sin)
    return q_embed, k_embed


def tolerance(dtype, ref):
    # f32: cos/sin within ~1e-7, the rotation in f32 (maybe fused).
    # bf16/f16: one rounding of the f32 result to the storage type; an f32
    # result a hair from a rounding boundary may round the other way.
    if dtype == torch.float32:
        return 1e-5 * (1 + ref.abs())
    eps = {torch.bfloat16: 2.0 ** -7, torch.float16: 2.0 ** -10}[dtype]
    return eps * ref.abs() + 1e-6


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

ODD_SHAPES = [  # (B, S, q_heads, kv_heads)
    (1, 1, 1, 1), (3, 37, 5, 3), (2, 131, 28, 4), (1, 1000, 7, 1), (4, 9, 3, 2),
]


def check_kernel(launcher, kernel, results, seed=0):
    g = torch.Generator().manual_seed(seed)
    ok = True
    for (B, S, Hq, Hk) in ODD_SHAPES:
        D = kernel.head_dim
        q = torch.randn(B, Hq, S, D, generator=g).to(kernel.dtype)
        k = torch.randn(B, Hk, S, D, generator=g).to(kernel.dtype)
        pos = torch.randint(0, 2 ** 17, (kernel.axes, B, S), generator=g, dtype=torch.int64)
        pos[:, :, 0] = 2 ** 17  # the largest position the contract names
        want_q = reference(q, pos, kernel.inv, kernel.axis, kernel.layout)
        want_k = reference(k, pos, kernel.inv, kernel.axis, kernel.layout)
        dq, dk, dp = q.cuda(), k.cuda(), pos.cuda()
        launcher.launch(kernel, dq, dk, dp)
        torch.cuda.synchronize()
        errs = []
        for got, want in ((dq, want_q), (dk, want_k)):
            got = got.cpu().double()
            err = (got - want).abs()
            errs.append(float(err.max()))
            ok_t = bool((err <= tolerance(kernel.dtype, want)).all())
            ok &= ok_t
        results.append({"kernel": kernel.name, "shape": [B, S, Hq, Hk],
                        "max_abs_err_q": errs[0], "max_abs_err_k": errs[1],
                        "ok": ok})
    return ok


def time_cuda(fn, iters=20, repeats=5):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / iters * 1e3)  # microseconds
    return statistics.median(times)


def benchmark(launcher, kernel, seq, results):
    B, Hq, Hk, D = 1, 28, 4, 128
    dt = kernel.dtype
    q = torch.randn(B, Hq, seq, D, device="cuda").to(dt)
    k = torch.randn(B, Hk, seq, D, device="cuda").to(dt)
    # Text positions on all rows, then an image-like block: typical M-RoPE.
    pos = torch.arange(seq, device="cuda").expand(3, B, seq).contiguous()
    inv = kernel.inv.cuda()
    moved = 2 * (q.numel() + k.numel()) * q.element_size()  # read + write
    row = {"kernel": kernel.name, "dtype": str(dt).replace("torch.", ""), "S": seq,
           "bytes_moved": moved}

    row["ours_us"] = time_cuda(lambda: launcher.launch(kernel, q, k, pos))
    src = torch.empty(q.numel() + k.numel(), dtype=dt, device="cuda")
    dst = torch.empty_like(src)
    row["memcpy_d2d_us"] = time_cuda(lambda: dst.copy_(src))
    row["hf_eager_us"] = time_cuda(lambda: hf_mrope(q, k, pos, inv))
    try:
        compiled = torch.compile(hf_mrope)
        compiled(q, k, pos, inv)
        row["torch_compile_us"] = time_cuda(lambda: compiled(q, k, pos, inv))
    except Exception as e:  # noqa: BLE001 - report, do not stop the run
        row["torch_compile_us"] = None
        row["torch_compile_error"] = "".join(traceback.format_exception_only(type(e), e)).strip()[:500]
    for key in ("ours_us", "memcpy_d2d_us", "hf_eager_us", "torch_compile_us"):
        if row.get(key):
            row[key.replace("_us", "_GBps")] = moved / (row[key] * 1e-6) / 1e9
    results.append(row)


def write_summary(out, summary):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "gpu-check.json"), "w") as f:
        json.dump(summary, f, indent=2)
    lines = ["# mrope GPU check", "", "device: %s, torch %s, CUDA %s" % (
        summary["device"], summary["torch"], summary["cuda"]), ""]
    lines += ["## Correctness (vs float64 reference)", "",
              "| kernel | B, S, Hq, Hk | max err q | max err k | ok |", "|---|---|---|---|---|"]
    for r in summary["correctness"]:
        lines.append("| %s | %s | %.2e | %.2e | %s |" % (
            r["kernel"], r["shape"], r["max_abs_err_q"], r["max_abs_err_k"], r["ok"]))
    for e in summary["errors"]:
        lines.append("\nERROR: " + e)
    lines += ["", "## Benchmark (Qwen2-VL-7B: B=1, 28 q heads, 4 kv heads, D=128), microseconds", "",
              "| kernel | S | ours | memcpy D2D | HF eager | torch.compile | ours GB/s | memcpy GB/s |",
              "|---|---|---|---|---|---|---|---|"]
    fmt = lambda v: "%.1f" % v if v else "n/a"  # noqa: E731
    for r in summary["benchmark"]:
        lines.append("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
            r["kernel"], r["S"], fmt(r["ours_us"]), fmt(r["memcpy_d2d_us"]), fmt(r["hf_eager_us"]),
            fmt(r.get("torch_compile_us")), fmt(r.get("ours_GBps")), fmt(r.get("memcpy_d2d_GBps"))))
    with open(os.path.join(out, "gpu-check.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def selftest_cpu(kernels_dir):
    """No GPU: the reference agrees with the HF formulation (small positions,
    where f32 cos/sin are accurate) using the tables parsed from the PTX."""
    path = sorted(glob.glob(os.path.join(kernels_dir, "mrope_contig_f32.*.ptx")))[0]
    kern = Kernel(path)
    g = torch.Generator().manual_seed(1)
    q = torch.randn(2, 3, 17, 128, generator=g)
    k = torch.randn(2, 1, 17, 128, generator=g)
    pos = torch.randint(0, 50, (3, 2, 17), generator=g)
    hq, hk = hf_mrope(q, k, pos, kern.inv)
    err = max(float((hq.double() - reference(q, pos, kern.inv, kern.axis, "neox")).abs().max()),
              float((hk.double() - reference(k, pos, kern.inv, kern.axis, "neox")).abs().max()))
    inter = Kernel(sorted(glob.glob(os.path.join(kernels_dir, "mrope_inter_f32.*.ptx")))[0])
    want_axis = [(i % 3 if (i % 3 and i < 3 * (24, 20, 20)[i % 3]) else 0) for i in range(64)]
    ok = err < 1e-5 and inter.axis.tolist() == want_axis and kern.axis.tolist() == (
        [0] * 16 + [1] * 24 + [2] * 24) and inter.layout == "gptj"
    print("selftest-cpu: reference vs HF max err %.2e, tables %s" % (err, "ok" if ok else "WRONG"))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernels", default=os.path.join(os.path.dirname(__file__), "kernels"))
    ap.add_argument("--launcher", help="path of libmrope_cuda_launch.so")
    ap.add_argument("--chip", help="sm_90 / sm_80 (default: the device's)")
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    ap.add_argument("--seqs", default="4096,32768")
    ap.add_argument("--selftest-cpu", action="store_true")
    args = ap.parse_args()
    if args.selftest_cpu:
        return 0 if selftest_cpu(args.kernels) else 1

    major, minor = torch.cuda.get_device_capability()
    chip = args.chip or ("sm_90" if major >= 9 else "sm_80")
    summary = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
               "cuda": torch.version.cuda, "chip": chip,
               "correctness": [], "benchmark": [], "errors": [], "jit_logs": {}}
    launcher = Launcher(args.launcher)
    # fused_*: the fused norm + RoPE + cache kernels (another ABI;
    # gpu_check_fused.py checks them).
    kernels = [Kernel(p) for p in sorted(glob.glob(os.path.join(args.kernels, "*.%s.ptx" % chip)))
               if not os.path.basename(p).startswith("fused_")]
    if not kernels:
        summary["errors"].append("no *.%s.ptx kernels in %s (run prepare.sh)" % (chip, args.kernels))
    all_ok = bool(kernels)
    torch.cuda.init()
    for kern in kernels:
        try:
            summary["jit_logs"][kern.name] = launcher.load(kern)
            all_ok &= check_kernel(launcher, kern, summary["correctness"])
        except Exception as e:  # noqa: BLE001
            all_ok = False
            summary["errors"].append("%s: %s" % (kern.name, e))
    for kern in kernels:
        if kern.handle and kern.name.startswith("mrope_contig_"):
            for seq in [int(s) for s in args.seqs.split(",")]:
                try:
                    benchmark(launcher, kern, seq, summary["benchmark"])
                except Exception as e:  # noqa: BLE001
                    summary["errors"].append("benchmark %s S=%d: %s" % (kern.name, seq, e))
    summary["all_correct"] = all_ok
    write_summary(args.out, summary)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
