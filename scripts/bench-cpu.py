#!/usr/bin/env python3
"""CPU M-RoPE benchmark: our fused kernel against copies and against ONNX Runtime.

Run from the repository root with Debian's python (onnx, numpy):

    PYTHONPATH=python /usr/bin/python3 scripts/bench-cpu.py --build-dir build

In one run, for every S in --seqs, thread count in --threads and storage
layout in --layouts (bhsd: q [1,28,S,128], k [1,4,S,128]; bshd: q [1,S,28*128],
k [1,S,4*128]):

* ``mrope-bench --seq S --threads T --layout L --json`` (tools/mrope-bench):
  our kernel in place, memcpy of the same bytes, a non-temporal-store copy,
  max abs error against a float64 reference; its positions are dumped and
  checked against ``mrope.reference.rope_index`` on the same token sequence;
* ONNX Runtime (onnxruntime-node, ``python/mrope/ort_bench.js``; session made
  once, intraOpNumThreads = T) on the fused ops its CPU provider has, fed the
  same q/k in the same layout: ``com.microsoft.RotaryEmbedding`` with merged
  per-token caches and position_ids = arange(S) (how ONNX Runtime GenAI runs
  M-RoPE), ``com.microsoft.MRotaryEmbedding`` (positions [3,B,S]) and the
  ONNX ``RotaryEmbedding``-23 with merged per-token caches [B,S,64]. ORT's own
  kernel time (profiler, sum of node times) is what the targets use; the
  wall time of session.run through the node binding is shown too.
* --fuse norm,cache: instead of the above, the fused QK-norm + M-RoPE +
  KV-cache write (Qwen3-VL-8B-like shapes, ``mrope-bench --fuse norm,cache``:
  fused, our separate kernels, memcpy, NT copy) at --seqs (B = 1) and at
  S = 1 for --decode-batches, next to ORT's chain by its kernel time
  (SimplifiedLayerNormalization + com.microsoft.RotaryEmbedding + Concat of
  the past k; per node kind too). Its own section of docs/benchmarks.md.
* --small-seqs (default 1,256): the kernel and the copies only, for the
  per-call overhead (thread pool wake-up, decode-sized calls).
* --slow-peers: also PyTorch eager (the Hugging Face code) and the unfused
  ORT subgraph ([B,H,S,D] only).

Every peer's output is checked against the float64 reference (on token
chunks, so S = 32768 fits in memory). Bytes are counted alike for everyone:
2 x (size of q + size of k) (read once, written once).

Prints the host (CPU model, ISA level, L2/L3, LLVM CPU name, load average
before and after) and writes the section "CPU M-RoPE kernel: <host>" of
docs/benchmarks.md (sections of other hosts are kept), unless --no-docs.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

from mrope import reference  # noqa: E402

SECTIONS = [16, 24, 24]
HEAD_DIM = 128
THETA = 1.0e6
Q_HEADS = 28
KV_HEADS = 4



# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------

def layout_for(seq: int):
    """The token layout mrope-bench uses (see tools/mrope-bench --help)."""
    if seq < 48:
        return seq, 0, 0, 0
    prefix = 20
    budget = seq - 40
    gh = max(1, int(math.floor(math.sqrt(budget * 3.0 / 4))))
    gw = max(1, budget // gh)
    return prefix, 1, gh, gw


def reference_positions(seq: int) -> np.ndarray:
    """rope_index of: 19 text tokens + vision_start, the image tokens, text."""
    prefix, t, gh, gw = layout_for(seq)
    ids = np.full((1, seq), 1000, dtype=np.int64)
    if t:
        ids[0, prefix - 1] = reference.VISION_START_TOKEN_ID
        ids[0, prefix:prefix + t * gh * gw] = reference.IMAGE_TOKEN_ID
        pos, _ = reference.rope_index(ids, image_grid_thw=[[t, 2 * gh, 2 * gw]])
    else:
        pos, _ = reference.rope_index(ids)
    return pos


def run_mrope_bench(bench: Path, seq: int, threads: int, reps: int, layout: str,
                    dump: Path = None):
    cmd = [str(bench), "--seq", str(seq), "--threads", str(threads), "--reps", str(reps),
           "--layout", layout, "--json"]
    if dump is not None:
        cmd += ["--dump-positions", str(dump)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# --------------------------------------------------------------------------
# PyTorch eager, the Hugging Face code
# --------------------------------------------------------------------------

def torch_bench(q, k, pos, threads, reps, warmup=2):
    import torch

    torch.set_num_threads(threads)
    dim = HEAD_DIM
    # Qwen2VLRotaryEmbedding.__init__ (a buffer, made once).
    inv_freq = 1.0 / (THETA ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))

    def rotary(x, position_ids):  # Qwen2VLRotaryEmbedding.forward
        inv_freq_expanded = inv_freq[None, None, :, None].float().expand(3, position_ids.shape[1], -1, 1)
        position_ids_expanded = position_ids[:, :, None, :].float()
        freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(2, 3)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(x.dtype), emb.sin().to(x.dtype)

    def rotate_half(x):
        x1 = x[..., : x.shape[-1] // 2]
        x2 = x[..., x.shape[-1] // 2:]
        return torch.cat((-x2, x1), dim=-1)

    def apply_multimodal_rotary_pos_emb(q, k, cos, sin, mrope_section, unsqueeze_dim=1):
        mrope_section = mrope_section * 2
        cos = torch.cat([m[i % 3] for i, m in enumerate(cos.split(mrope_section, dim=-1))],
                        dim=-1).unsqueeze(unsqueeze_dim)
        sin = torch.cat([m[i % 3] for i, m in enumerate(sin.split(mrope_section, dim=-1))],
                        dim=-1).unsqueeze(unsqueeze_dim)
        return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)

    tq, tk, tp = torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(pos)

    def step():
        cos, sin = rotary(tq, tp)
        return apply_multimodal_rotary_pos_emb(tq, tk, cos, sin, SECTIONS)

    times = []
    with torch.no_grad():
        for _ in range(warmup):
            out = step()
        for _ in range(reps):
            t0 = time.perf_counter()
            out = step()
            times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times)), out[0].numpy(), out[1].numpy(), torch.__version__


# --------------------------------------------------------------------------
# ONNX models
# --------------------------------------------------------------------------

def _save(model, path):
    import onnx
    onnx.save(model, str(path))


def unfused_model(seq, path):
    """HF M-RoPE as exported: MatMul/Cos/Sin/Split/Gather/Concat + rotate-half."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    F = HEAD_DIM // 2
    nodes, inits = [], []
    inv = reference.inv_freq(HEAD_DIM, THETA).reshape(1, 1, F, 1)
    inits.append(numpy_helper.from_array(inv, "inv_freq"))

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    nodes += [
        helper.make_node("Cast", ["position_ids"], ["pos_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["pos_f", const("ax2", np.array([2], np.int64))], ["pos_u"]),
        helper.make_node("MatMul", ["inv_freq", "pos_u"], ["freqs"]),                 # [3,B,F,S]
        helper.make_node("Transpose", ["freqs"], ["freqs_t"], perm=[0, 1, 3, 2]),     # [3,B,S,F]
        helper.make_node("Concat", ["freqs_t", "freqs_t"], ["emb"], axis=-1),        # [3,B,S,D]
        helper.make_node("Cos", ["emb"], ["cos3"]),
        helper.make_node("Sin", ["emb"], ["sin3"]),
    ]
    split = const("split", np.array(SECTIONS * 2, np.int64))
    for trig in ("cos", "sin"):
        parts = [f"{trig}_part{i}" for i in range(6)]
        nodes.append(helper.make_node("Split", [f"{trig}3", split], parts, axis=-1))
        picked = []
        for i, p in enumerate(parts):
            idx = const(f"{trig}_row{i}", np.array(i % 3, np.int64))
            nodes.append(helper.make_node("Gather", [p, idx], [f"{p}_g"], axis=0))
            picked.append(f"{p}_g")
        nodes.append(helper.make_node("Concat", picked, [f"{trig}_m"], axis=-1))    # [B,S,D]
        nodes.append(helper.make_node("Unsqueeze", [f"{trig}_m", const(f"{trig}_ax1", np.array([1], np.int64))],
                                      [f"{trig}4"]))                                 # [B,1,S,D]
    st0, stF, stD = (const("s0", np.array([0], np.int64)), const("sF", np.array([F], np.int64)),
                     const("sD", np.array([HEAD_DIM], np.int64)))
    ax3 = const("ax3", np.array([3], np.int64))
    for x in ("q", "k"):
        nodes += [
            helper.make_node("Slice", [x, st0, stF, ax3], [f"{x}1"]),
            helper.make_node("Slice", [x, stF, stD, ax3], [f"{x}2"]),
            helper.make_node("Neg", [f"{x}2"], [f"{x}2n"]),
            helper.make_node("Concat", [f"{x}2n", f"{x}1"], [f"{x}_rh"], axis=3),
            helper.make_node("Mul", [x, "cos4"], [f"{x}_c"]),
            helper.make_node("Mul", [f"{x}_rh", "sin4"], [f"{x}_s"]),
            helper.make_node("Add", [f"{x}_c", f"{x}_s"], [f"{x}_out"]),
        ]
    graph = helper.make_graph(
        nodes, "mrope_unfused",
        [helper.make_tensor_value_info("q", TensorProto.FLOAT, [1, Q_HEADS, seq, HEAD_DIM]),
         helper.make_tensor_value_info("k", TensorProto.FLOAT, [1, KV_HEADS, seq, HEAD_DIM]),
         helper.make_tensor_value_info("position_ids", TensorProto.INT64, [3, 1, seq])],
        [helper.make_tensor_value_info("q_out", TensorProto.FLOAT, [1, Q_HEADS, seq, HEAD_DIM]),
         helper.make_tensor_value_info("k_out", TensorProto.FLOAT, [1, KV_HEADS, seq, HEAD_DIM])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    _save(model, path)


def qk_shapes(seq, layout):
    if layout == "bshd":
        return [1, seq, Q_HEADS * HEAD_DIM], [1, seq, KV_HEADS * HEAD_DIM]
    return [1, Q_HEADS, seq, HEAD_DIM], [1, KV_HEADS, seq, HEAD_DIM]


def _graph(nodes, name, seq, layout, extra_inputs, opsets, ir_version=8):
    from onnx import TensorProto, helper
    qs, ks = qk_shapes(seq, layout)
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("q", TensorProto.FLOAT, qs),
         helper.make_tensor_value_info("k", TensorProto.FLOAT, ks)] + extra_inputs,
        [helper.make_tensor_value_info("q_out", TensorProto.FLOAT, qs),
         helper.make_tensor_value_info("k_out", TensorProto.FLOAT, ks)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    model.ir_version = ir_version
    return model


def contrib_model(seq, layout, path, op, n_rows):
    """com.microsoft.RotaryEmbedding (position_ids [B,S]) or MRotaryEmbedding ([3,B,S])."""
    from onnx import TensorProto, helper
    F = HEAD_DIM // 2
    attrs = {"interleaved": 0}
    pos_shape = [1, seq]
    if op == "MRotaryEmbedding":
        attrs["mrope_section"] = SECTIONS
        pos_shape = [3, 1, seq]
    nodes = [helper.make_node(op, [x, "position_ids", "cos_cache", "sin_cache"], [f"{x}_out"],
                              domain="com.microsoft", num_heads=h, **attrs)
             for x, h in (("q", Q_HEADS), ("k", KV_HEADS))]
    extra = [helper.make_tensor_value_info("position_ids", TensorProto.INT64, pos_shape),
             helper.make_tensor_value_info("cos_cache", TensorProto.FLOAT, [n_rows, F]),
             helper.make_tensor_value_info("sin_cache", TensorProto.FLOAT, [n_rows, F])]
    _save(_graph(nodes, f"mrope_{op}", seq, layout, extra, [("", 17), ("com.microsoft", 1)]), path)


def rope23_model(seq, layout, path):
    """ONNX RotaryEmbedding (opset 23) with merged per-token caches [B,S,F], no position_ids."""
    from onnx import TensorProto, helper
    F = HEAD_DIM // 2
    nodes = [helper.make_node("RotaryEmbedding", [x, "cos_cache", "sin_cache"], [f"{x}_out"],
                              interleaved=0, **({"num_heads": h} if layout == "bshd" else {}))
             for x, h in (("q", Q_HEADS), ("k", KV_HEADS))]
    extra = [helper.make_tensor_value_info("cos_cache", TensorProto.FLOAT, [1, seq, F]),
             helper.make_tensor_value_info("sin_cache", TensorProto.FLOAT, [1, seq, F])]
    _save(_graph(nodes, "mrope_rope23", seq, layout, extra, [("", 23)], ir_version=11), path)


def identity_model(seq, layout, path):
    """q -> q_out, k -> k_out: what running any model through onnxruntime-node costs at least."""
    from onnx import helper
    nodes = [helper.make_node("Identity", [x], [f"{x}_out"]) for x in ("q", "k")]
    _save(_graph(nodes, "copy_floor", seq, layout, [], [("", 17)]), path)


def ort_bench(node, model, inputs, threads, reps, workdir, tag, warmup=3, out_shapes=None,
              node_groups=None):
    """inputs: name -> numpy array (q and k are written once per workdir, the
    others per `tag`). Returns (median ms, outputs dict, version,
    preallocated?, kernel-only median ms) or raises."""
    dtypes = {np.dtype(np.float32): "float32", np.dtype(np.int64): "int64"}
    shared = ("q", "k", "past_k", "q_weight", "k_weight")
    ins = []
    for name, arr in inputs.items():
        f = workdir / (f"{name}.in" if name in shared else f"{tag}_{name}.in")
        if not f.exists():
            np.ascontiguousarray(arr).tofile(f)
        ins.append({"name": name, "dtype": dtypes[arr.dtype], "shape": list(arr.shape), "file": f.name})
    req = {"model": str(model), "threads": threads, "warmup": warmup, "reps": reps,
           "inputs": ins, "save_outputs": True, "profile": True, "node_groups": node_groups or {},
           "outputs": [{"name": "q_out", "shape": list(inputs["q"].shape)},
                       {"name": "k_out", "shape": list((out_shapes or {}).get("k_out", inputs["k"].shape))}]}
    (workdir / "request.json").write_text(json.dumps(req))
    proc = subprocess.run([node, str(ROOT / "python" / "mrope" / "ort_bench.js"), str(workdir)],
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip() or f"ort_bench.js exited {proc.returncode}")
    resp = json.loads((workdir / "response.json").read_text())
    outs = {}
    for o in resp["outputs"]:
        outs[o["name"]] = np.fromfile(workdir / o["file"], dtype=np.float32).reshape(o["shape"])
    for f in workdir.glob("*.bin"):
        f.unlink()
    result = (resp["median_ms"], outs, resp["version"], resp["preallocated_outputs"],
              resp.get("kernel_median_ms"))
    return result + (resp.get("group_kernel_median_ms"),) if node_groups else result


def max_err(x_bhsd, pos, out, layout, chunk=2048):
    """max |out - float64 reference| over token chunks (out in `layout`)."""
    err = 0.0
    S = x_bhsd.shape[2]
    H = x_bhsd.shape[1]
    for s0 in range(0, S, chunk):
        s1 = min(S, s0 + chunk)
        want = reference.apply_rope(x_bhsd[:, :, s0:s1], pos[:, :, s0:s1], sections=SECTIONS,
                                    theta=THETA, dtype=np.float64)
        if layout == "bshd":
            got = out[:, s0:s1].reshape(1, s1 - s0, H, HEAD_DIM).transpose(0, 2, 1, 3)
        else:
            got = out[:, :, s0:s1]
        err = max(err, float(np.abs(got - want).max()))
    return err


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def fmt_ms(v):
    return f"{v:.2f}" if v >= 1 else f"{v:.3f}"


def write_docs(path, section, title):
    """Replaces this host's section of docs/benchmarks.md (others stay)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^" + re.escape(title) + r"\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n\n", text)
    else:  # new host: before the CPU sections of other hosts
        at = text.find("\n## CPU M-RoPE kernel")
        at = at if at >= 0 else text.find("\n## ONNX import/export")
        text = (text[:at + 1] + section.rstrip("\n") + "\n\n" + text[at + 1:] if at >= 0
                else text.rstrip("\n") + "\n\n" + section)
    path.write_text(text.rstrip("\n") + "\n")


def host_info():
    """CPU model, x86-64 ISA level, caches, cores, from lscpu and /proc/cpuinfo."""
    info = {"model": platform.processor() or "unknown", "isa": "?", "l2": "?", "l3": "?",
            "cores": os.cpu_count(), "flags": set()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for key, field in (("Model name", "model"), ("L2 cache", "l2"), ("L3 cache", "l3")):
            m = re.search(rf"^{key}:\s*(.+)$", out, re.M)
            if m:
                info[field] = m.group(1).strip()
    except OSError:
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                info["flags"] = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    f = info["flags"]
    if {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"} <= f:
        info["isa"] = "x86-64-v4"
    elif {"avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe"} <= f:
        info["isa"] = "x86-64-v3"
    elif {"sse4_2", "popcnt", "ssse3"} <= f:
        info["isa"] = "x86-64-v2"
    elif f:
        info["isa"] = "x86-64"
    info["bf16"] = "avx512_bf16" in f
    return info


def loadavg():
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


PEERS = ["ORT RotaryEmbedding (merged caches)", "ORT MRotaryEmbedding", "ORT RotaryEmbedding-23"]
SLOW_PEERS = ["torch eager (HF)", "ORT unfused subgraph"]


# --------------------------------------------------------------------------
# --fuse norm,cache: QK-norm + M-RoPE + KV-cache write (issue "RoPE for free")
# --------------------------------------------------------------------------
FUSED_Q_HEADS, FUSED_KV_HEADS = 32, 8  # Qwen3-VL-8B-like
FUSED_SECTIONS = [24, 20, 20]          # interleaved
FUSED_THETA = 5.0e6
FUSED_EPS = 1e-6
FUSED_CACHE = 32768


def ort_chain_model(batch, seq, past, path):
    """ORT's spelling of the chain on [B, H, S, D] tensors:
    SimplifiedLayerNormalization of q and k over D (weights q_weight,
    k_weight), com.microsoft.RotaryEmbedding (per-token merged cos/sin caches
    indexed by position_ids), and Concat(past_k, k) along S -> k_out."""
    from onnx import TensorProto, helper
    F = HEAD_DIM // 2
    qs = [batch, FUSED_Q_HEADS, seq, HEAD_DIM]
    ks = [batch, FUSED_KV_HEADS, seq, HEAD_DIM]
    nodes = []
    for x, h in (("q", FUSED_Q_HEADS), ("k", FUSED_KV_HEADS)):
        nodes.append(helper.make_node("SimplifiedLayerNormalization", [x, f"{x}_weight"], [f"{x}_norm"],
                                      name=f"{x}_norm", axis=-1, epsilon=FUSED_EPS))
        nodes.append(helper.make_node("RotaryEmbedding",
                                      [f"{x}_norm", "position_ids", "cos_cache", "sin_cache"],
                                      ["q_out" if x == "q" else "k_rot"], name=f"{x}_rope",
                                      domain="com.microsoft", num_heads=h, interleaved=0))
    nodes.append(helper.make_node("Concat", ["past_k", "k_rot"], ["k_out"], name="k_cache", axis=2))
    graph = helper.make_graph(
        nodes, "norm_rope_concat",
        [helper.make_tensor_value_info("q", TensorProto.FLOAT, qs),
         helper.make_tensor_value_info("k", TensorProto.FLOAT, ks),
         helper.make_tensor_value_info("q_weight", TensorProto.FLOAT, [HEAD_DIM]),
         helper.make_tensor_value_info("k_weight", TensorProto.FLOAT, [HEAD_DIM]),
         helper.make_tensor_value_info("position_ids", TensorProto.INT64, [batch, seq]),
         helper.make_tensor_value_info("cos_cache", TensorProto.FLOAT, [past + seq, F]),
         helper.make_tensor_value_info("sin_cache", TensorProto.FLOAT, [past + seq, F]),
         helper.make_tensor_value_info("past_k", TensorProto.FLOAT,
                                       [batch, FUSED_KV_HEADS, past, HEAD_DIM])],
        [helper.make_tensor_value_info("q_out", TensorProto.FLOAT, qs),
         helper.make_tensor_value_info("k_out", TensorProto.FLOAT,
                                       [batch, FUSED_KV_HEADS, past + seq, HEAD_DIM])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    _save(model, path)


def chain_reference(x, w, cos, sin):
    """RMSNorm (float64) then rotate-half with per-token caches [B, S, F]."""
    x64 = x.astype(np.float64)
    y = x64 / np.sqrt(np.mean(x64 * x64, axis=-1, keepdims=True) + FUSED_EPS) * w
    y = y.astype(np.float32).astype(np.float64)
    F = HEAD_DIM // 2
    c, s_ = cos[:, None].astype(np.float64), sin[:, None].astype(np.float64)
    return np.concatenate([y[..., :F] * c - y[..., F:] * s_, y[..., F:] * c + y[..., :F] * s_], -1)


def run_ort_chain(node, batch, seq, threads, reps, tmp, rng):
    """(ORT kernel ms of the chain, per-node-kind kernel ms, max abs err of k_out)."""
    past = FUSED_CACHE - seq
    F = HEAD_DIM // 2
    q = rng.uniform(-1, 1, size=(batch, FUSED_Q_HEADS, seq, HEAD_DIM)).astype(np.float32)
    k = rng.uniform(-1, 1, size=(batch, FUSED_KV_HEADS, seq, HEAD_DIM)).astype(np.float32)
    wq = rng.uniform(0.5, 1.5, size=HEAD_DIM).astype(np.float32)
    wk = rng.uniform(0.5, 1.5, size=HEAD_DIM).astype(np.float32)
    past_k = rng.uniform(-1, 1, size=(batch, FUSED_KV_HEADS, past, HEAD_DIM)).astype(np.float32)
    # The decode token sits after the past; a prefill's tokens at their index.
    # M-RoPE positions only change the caches' values, not ORT's work.
    pos = np.broadcast_to(np.arange(past, past + seq, dtype=np.int64), (batch, seq)).copy()
    rows = np.arange(past + seq, dtype=np.int64)
    c1, s1 = reference.cos_sin(rows[None, None], sections=[F], theta=FUSED_THETA)
    cos_cache = np.ascontiguousarray(c1[0, :, :F])
    sin_cache = np.ascontiguousarray(s1[0, :, :F])
    workdir = tmp / f"chain_b{batch}_s{seq}_t{threads}"
    workdir.mkdir()
    model = workdir / "chain.onnx"
    ort_chain_model(batch, seq, past, model)
    feeds = {"q": q, "k": k, "q_weight": wq, "k_weight": wk, "position_ids": pos,
             "cos_cache": cos_cache, "sin_cache": sin_cache, "past_k": past_k}
    groups = {"SimplifiedLayerNormalization": "_norm", "RotaryEmbedding": "_rope", "Concat": "k_cache"}
    ms, outs, ver, _, kms, gms = ort_bench(
        node, model, feeds, threads, reps, workdir, "chain",
        out_shapes={"k_out": [batch, FUSED_KV_HEADS, past + seq, HEAD_DIM]}, node_groups=groups)
    want_k = chain_reference(k, wk, cos_cache[pos], sin_cache[pos])
    got = outs["k_out"]
    err = max(float(np.abs(got[:, :, past:] - want_k).max()),
              0.0 if np.array_equal(got[:, :, :past], past_k) else float("inf"))
    shutil.rmtree(workdir, ignore_errors=True)
    return kms, gms, err, ver


def fused_main(a, bench, node, command):
    host = host_info()
    load_before = loadavg()
    started = datetime.datetime.now(datetime.timezone.utc)
    threads_list = [int(t) for t in a.threads.split(",")]
    points = [(1, int(x)) for x in a.seqs.split(",") if x]
    points += [(int(b), 1) for b in a.decode_batches.split(",") if b]
    rng = np.random.default_rng(0)
    tmp = Path(tempfile.mkdtemp(prefix="mrope-fused-"))
    rows, version = [], None
    try:
        for batch, seq in points:
            for t in threads_list:
                print(f"B={batch} S={seq} threads={t}: mrope-bench --fuse ...", flush=True)
                reps = a.kernel_reps if seq > 1 else a.small_reps
                cmd = [str(bench), "--fuse", "norm,cache", "--seq", str(seq), "--batch", str(batch),
                       "--threads", str(t), "--q-heads", str(FUSED_Q_HEADS),
                       "--kv-heads", str(FUSED_KV_HEADS), "--cache-len", str(FUSED_CACHE),
                       "--reps", str(reps), "--json"]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                mb = json.loads(out.strip().splitlines()[-1])
                row = {"batch": batch, "seq": seq, "threads": t, "bench": mb}
                # Concat copies the whole past: B x 8 x 32768 x 512 B (8.6 GB at B = 64).
                if node and batch * FUSED_KV_HEADS * FUSED_CACHE * HEAD_DIM * 4 <= a.max_past_bytes:
                    print(f"B={batch} S={seq} threads={t}: ORT chain ...", flush=True)
                    try:
                        kms, gms, err, version = run_ort_chain(node, batch, seq, t, a.peer_reps, tmp, rng)
                        row.update(ort_ms=kms, ort_groups=gms, ort_err=err)
                    except Exception as e:  # noqa: BLE001 - report and go on
                        row["ort_failed"] = str(e).splitlines()[-1] if str(e) else repr(e)
                        print(f"  ORT chain failed: {row['ort_failed']}", flush=True)
                rows.append(row)
                print("  fused %.3f ms, separate %.3f ms, memcpy %.3f ms, ORT chain %s ms" % (
                    mb["fused_ms"], mb["separate_ms"], mb["memcpy_ms"], row.get("ort_ms")), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    run = {"started": started.strftime("%Y-%m-%d %H:%M UTC"), "load_before": load_before,
           "load_after": loadavg(), "command": command}
    title = f"## Fused QK-norm + M-RoPE + KV-cache write: {host['model']} (`{rows[0]['bench']['llvm_cpu']}`)"
    L = [title, ""]
    L.append(f"Measured {run['started']} with `{run['command']}`; load average {run['load_before']} "
             f"before, {run['load_after']} after; {host['cores']} cores, L2 {host['l2']}, L3 {host['l3']}, "
             f"{host['isa']}. onnxruntime-node {version or '?'}.")
    L.append("")
    L.append(f"Qwen3-VL-8B-like: q [B, {FUSED_Q_HEADS}, S, {HEAD_DIM}], k [B, {FUSED_KV_HEADS}, S, "
             f"{HEAD_DIM}] f32, interleaved M-RoPE sections {FUSED_SECTIONS}, RMSNorm eps {FUSED_EPS:g}, "
             f"k written into a cache of {FUSED_CACHE} positions at offset {FUSED_CACHE} - S. "
             "(a) fused: `mrope-bench --fuse norm,cache`; (b) separate: RMSNorm in place, our RoPE "
             "kernel, k copied into the cache; (d) memcpy / non-temporal copy of the q and k bytes; "
             "(c) ORT chain: SimplifiedLayerNormalization + com.microsoft.RotaryEmbedding + "
             "Concat(past_k, k) by ORT's kernel time (profiler; Concat copies the past, which "
             "is what a Concat KV cache costs). Medians; targets: memcpy/fused >= 0.85, "
             "separate/fused >= 2 and ORT/fused >= 2 at every prefill point.")
    L.append("")
    L.append("| B | S | threads | fused ms | separate ms | memcpy ms | NT copy ms | memcpy/fused | "
             "separate/fused | ORT chain ms (norm + rope + concat) | ORT/fused | ORT norm+rope/fused | "
             "max abs err (ours; ORT k) |")
    L.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |")
    fmt_ms = lambda v: f"{v:.4f}" if v < 0.01 else (f"{v:.3f}" if v < 1 else f"{v:.2f}")  # noqa: E731
    for r in rows:
        mb = r["bench"]
        f = mb["fused_ms"]
        if "ort_ms" in r and r["ort_ms"]:
            g = r["ort_groups"]
            ort = "%s (%s + %s + %s)" % (fmt_ms(r["ort_ms"]), fmt_ms(g["SimplifiedLayerNormalization"]),
                                         fmt_ms(g["RotaryEmbedding"]), fmt_ms(g["Concat"]))
            ratio = "%.2f" % (r["ort_ms"] / f)
            no_concat = "%.2f" % ((g["SimplifiedLayerNormalization"] + g["RotaryEmbedding"]) / f)
            err = "%.1e; %.1e" % (mb["max_abs_err"], r["ort_err"])
        else:
            ort = r.get("ort_failed", "not run (past too big)" if node else "node not found")
            ratio, no_concat, err = "", "", "%.1e" % mb["max_abs_err"]
        L.append(f"| {r['batch']} | {r['seq']} | {r['threads']} | {fmt_ms(f)} | {fmt_ms(mb['separate_ms'])} | "
                 f"{fmt_ms(mb['memcpy_ms'])} | {fmt_ms(mb['nt_copy_ms'])} | {mb['fused_vs_memcpy']:.2f} | "
                 f"{mb['separate_vs_fused']:.2f} | {ort} | {ratio} | {no_concat} | {err} |")
    section = "\n".join(L) + "\n"
    print(section)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps({"rows": rows, "run": run}, indent=1))
    if not a.no_docs:
        write_docs(ROOT / "docs" / "benchmarks.md", section, title)
        print("wrote docs/benchmarks.md")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build", help="where bin/mrope-bench is (default build)")
    ap.add_argument("--seqs", default="4096,32768")
    ap.add_argument("--small-seqs", default="1,256", help="kernel and copies only ('' for none)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--layouts", default="bhsd,bshd")
    ap.add_argument("--kernel-reps", type=int, default=20, help="mrope-bench --reps")
    ap.add_argument("--small-reps", type=int, default=2000, help="mrope-bench --reps at --small-seqs")
    ap.add_argument("--peer-reps", type=int, default=10, help="timed runs of each ORT model")
    ap.add_argument("--slow-peers", action="store_true", help="also torch eager and the unfused ORT graph")
    ap.add_argument("--no-docs", action="store_true", help="print only; leave docs/ alone")
    ap.add_argument("--json-out", help="also write all results to this JSON file")
    ap.add_argument("--fuse", default="", help="norm,cache: the fused QK-norm + M-RoPE + cache "
                    "write (mrope-bench --fuse) against our separate kernels and ORT's chain")
    ap.add_argument("--decode-batches", default="1,8,64", help="--fuse: batches of the S = 1 points")
    ap.add_argument("--max-past-bytes", type=float, default=1.5e9,
                    help="--fuse: skip ORT's chain where past_k is bigger (Concat copies it)")
    a = ap.parse_args(argv)
    seqs = [int(x) for x in a.seqs.split(",") if x]
    small = [int(x) for x in a.small_seqs.split(",") if x]
    threads_list = [int(t) for t in a.threads.split(",")]
    layouts = a.layouts.split(",")
    bench = (ROOT / a.build_dir / "bin" / "mrope-bench").resolve()
    if not bench.exists():
        sys.exit(f"{bench} not found: ninja -C {a.build_dir} mrope-bench")
    node = shutil.which("node")
    command = "PYTHONPATH=python /usr/bin/python3 scripts/bench-cpu.py " + " ".join(
        (argv if argv is not None else sys.argv[1:]))
    if a.fuse:
        if a.fuse not in ("norm,cache", "cache,norm"):
            sys.exit("--fuse takes norm,cache")
        return fused_main(a, bench, node, command)
    host = host_info()
    load_before = loadavg()
    started = datetime.datetime.now(datetime.timezone.utc)

    results, notes, raw, failures = [], [], [], {}
    versions = {}
    rng = np.random.default_rng(0)
    tmp = Path(tempfile.mkdtemp(prefix="mrope-bench-"))
    try:
        for seq in small:
            for layout in layouts:
                for t in threads_list:
                    print(f"S={seq} {layout} threads={t}: mrope-bench ...", flush=True)
                    mb = run_mrope_bench(bench, seq, t, a.small_reps, layout)
                    raw.append(mb)
                    results.append({"seq": seq, "threads": t, "layout": layout, "bench": mb,
                                    "ms": {}, "kernel_only_ms": {}, "err": {}})
        for seq in seqs:
            dump = tmp / f"pos{seq}.bin"
            q = rng.uniform(-1, 1, size=(1, Q_HEADS, seq, HEAD_DIM)).astype(np.float32)
            k = rng.uniform(-1, 1, size=(1, KV_HEADS, seq, HEAD_DIM)).astype(np.float32)
            pos = None
            workdir = tmp / f"ort{seq}"
            workdir.mkdir()
            for layout in layouts:
                if layout == "bshd":
                    to_bshd = lambda x: np.ascontiguousarray(x.transpose(0, 2, 1, 3)).reshape(1, seq, -1)
                    fq, fk = to_bshd(q), to_bshd(k)
                else:
                    fq, fk = q, k
                models = None
                (workdir / layout).mkdir()
                for t in threads_list:
                    print(f"S={seq} {layout} threads={t}: mrope-bench ...", flush=True)
                    mb = run_mrope_bench(bench, seq, t, a.kernel_reps, layout, dump if pos is None else None)
                    raw.append(mb)
                    if pos is None:
                        pos = np.fromfile(dump, dtype=np.int64).reshape(3, 1, seq)
                        same = np.array_equal(pos, reference_positions(seq))
                        notes.append(f"S={seq}: {mb['positions']}; "
                                     f"{'identical to' if same else 'DIFFERENT from'} "
                                     "mrope.reference.rope_index on that token sequence.")
                    if models is None:
                        F = HEAD_DIM // 2
                        cos_m, sin_m = reference.cos_sin(pos, sections=SECTIONS, theta=THETA)  # [1,S,D]
                        # ORT refuses caches with fewer rows than S, so the per-position
                        # cache has max(S, max position + 1) rows.
                        maxp = max(int(pos.max()), seq - 1)
                        rows = np.arange(maxp + 1, dtype=np.int64)
                        c1, s1 = reference.cos_sin(rows[None, None], sections=[F], theta=THETA)
                        specs = {
                            "ORT Identity (floor, not a peer)": (identity_model, {}),
                            "ORT RotaryEmbedding (merged caches)": (
                                lambda s_, l_, p_: contrib_model(s_, l_, p_, "RotaryEmbedding", seq),
                                {"position_ids": np.arange(seq, dtype=np.int64)[None],
                                 "cos_cache": np.ascontiguousarray(cos_m[0, :, :F]),
                                 "sin_cache": np.ascontiguousarray(sin_m[0, :, :F])}),
                            "ORT MRotaryEmbedding": (
                                lambda s_, l_, p_: contrib_model(s_, l_, p_, "MRotaryEmbedding", maxp + 1),
                                {"position_ids": pos,
                                 "cos_cache": np.ascontiguousarray(c1[0, :, :F]),
                                 "sin_cache": np.ascontiguousarray(s1[0, :, :F])}),
                            "ORT RotaryEmbedding-23": (
                                rope23_model,
                                {"cos_cache": np.ascontiguousarray(cos_m[:, :, :F]),
                                 "sin_cache": np.ascontiguousarray(sin_m[:, :, :F])}),
                        }
                        if a.slow_peers and layout == "bhsd":
                            specs["ORT unfused subgraph"] = (lambda s_, l_, p_: unfused_model(s_, p_),
                                                             {"position_ids": pos})
                        models = {}
                        for i, (name, (build, feeds)) in enumerate(specs.items()):
                            mpath = tmp / f"model{seq}_{layout}_{i}.onnx"
                            build(seq, layout, mpath)
                            models[name] = (mpath, {"q": fq, "k": fk, **feeds})
                    row = {"seq": seq, "threads": t, "layout": layout, "bench": mb, "ms": {},
                           "kernel_only_ms": {}, "err": {}}
                    if a.slow_peers and layout == "bhsd":
                        print(f"S={seq} {layout} threads={t}: torch eager ...", flush=True)
                        ms, oq, ok_, tv = torch_bench(q, k, pos, t, a.peer_reps)
                        versions["torch"] = tv
                        row["ms"]["torch eager (HF)"] = ms
                        row["err"]["torch eager (HF)"] = max(max_err(q, pos, oq, "bhsd"),
                                                            max_err(k, pos, ok_, "bhsd"))
                    for name, (mpath, feeds) in models.items():
                        if node is None:
                            failures[name] = "node not found"
                            continue
                        print(f"S={seq} {layout} threads={t}: {name} ...", flush=True)
                        try:
                            ms, outs, ver, prealloc, kms = ort_bench(node, mpath, feeds, t, a.peer_reps,
                                                                      workdir / layout, mpath.stem)
                            versions["onnxruntime-node"] = ver
                            versions.setdefault("ort_prealloc", set()).add(prealloc)
                            row["ms"][name] = ms
                            if kms:
                                row["kernel_only_ms"][name] = kms
                            if name.startswith("ORT Identity"):
                                if not (np.array_equal(outs["q_out"], fq) and np.array_equal(outs["k_out"], fk)):
                                    raise RuntimeError("Identity did not return its inputs")
                            else:
                                row["err"][name] = max(max_err(q, pos, outs["q_out"], layout),
                                                       max_err(k, pos, outs["k_out"], layout))
                            del outs
                        except Exception as e:  # noqa: BLE001 - report and go on
                            msg = str(e).splitlines()[-1] if str(e) else repr(e)
                            row.setdefault("failed", {})[name] = msg
                            failures.setdefault(name, msg)
                            print(f"  {name} failed: {msg}", flush=True)
                    results.append(row)
                    print("  kernel %.3f ms, memcpy %.3f ms, peers %s" % (
                        mb["kernel_ms"], mb["memcpy_ms"],
                        json.dumps({n: round(v, 3) for n, v in row["kernel_only_ms"].items()})), flush=True)
                del fq, fk
                shutil.rmtree(workdir / layout, ignore_errors=True)
            del q, k
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if "ort_prealloc" in versions:
        versions["ort_prealloc"] = sorted(versions["ort_prealloc"])
    run = {"started": started.strftime("%Y-%m-%d %H:%M UTC"), "load_before": load_before,
           "load_after": loadavg(), "command": command}
    section, title = render(results, host, run, notes, versions, raw, a, failures)
    print(section)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps({"results": results, "notes": notes, "versions": versions,
                                                "host": {k: v for k, v in host.items() if k != "flags"},
                                                "run": run}, indent=1))
    if not a.no_docs:
        write_docs(ROOT / "docs" / "benchmarks.md", section, title)
        print("wrote docs/benchmarks.md")
    return 0


def fmt_row_ms(v):
    return "" if v is None else fmt_ms(v)


def render(results, host, run, notes, versions, raw, a, failures):
    b0 = raw[0]
    title = f"## CPU M-RoPE kernel: {host['model']} (`{b0['llvm_cpu']}`)"
    L = [title, ""]
    L.append(f"Generated by `scripts/bench-cpu.py` ({run['started']}); every figure below is what that run "
             "measured, nothing edited by hand.")
    L.append("")
    L.append(f"- Host: {host['model']}, LLVM CPU `{b0['llvm_cpu']}`, ISA level {host['isa']}"
             f"{', AVX-512 BF16' if host.get('bf16') else ', no AVX-512, no BF16 instructions' if host['isa'] != 'x86-64-v4' else ''}; "
             f"L2 {host['l2']}, L3 {host['l3']}; {host['cores']} cores (a shared KVM guest).")
    L.append(f"- Load average (1/5/15 min) before the run: {run['load_before']}; after: {run['load_after']} "
             "(other people compiled on the same 2 cores: absolute times are noisy; the kernel, memcpy and "
             "the NT copy are interleaved round by round, so their ratios are the reliable figures).")
    L.append(f"- Kernel: tokens per cos/sin block {b0.get('tokens_per_block', '?')} (from the host's L2), "
             "persistent thread pool; copies: memcpy and "
             f"`{b0['nt_copy_kind']}` + sfence, on threads kept for the whole run.")
    L.append(f"- Versions: onnxruntime-node {versions.get('onnxruntime-node', '?')} (CPU provider), "
             f"numpy {np.__version__}" + (f", torch {versions['torch']}" if "torch" in versions else "") + ".")
    L.append("")
    L.append("```sh")
    L.append("ninja -C build mrope-bench")
    L.append(run["command"].strip())
    L.append("```")
    L.append("")
    L.append("Shapes: Qwen2-VL-7B prefill, B = 1, 28 q heads, 4 kv heads, D = 128, f32, M-RoPE sections "
             "[16,24,24], theta 1e6, rotate-half; `bhsd`: q [1,28,S,128], k [1,4,S,128]; `bshd`: q "
             "[1,S,28*128], k [1,S,4*128]. " + " ".join(notes))
    L.append("")
    L.append("Bytes: 2 x (size of q + size of k) (read once, written once); GB/s = bytes / time. "
             "`kernel / memcpy` = memcpy time / kernel time (>= 0.85 is the target; > 1: faster than "
             "memcpy). ORT: `kernel ms` is ORT's own kernel time (profiler, sum over the nodes), `run ms` "
             "the wall time of `session.run` through the node binding; `x ours` = ORT kernel time / our "
             "kernel time (> 1: ours is faster). Errors: max |out - float64 reference| over q and k.")
    L.append("")
    L.append("| S | layout | threads | kernel ms | GB/s | memcpy ms | NT copy ms | kernel / memcpy | "
             "kernel / NT copy | max abs err | slowest-to-fastest ORT fused op: kernel ms (x ours) | "
             "targets |")
    L.append("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for r in results:
        b = r["bench"]
        peers = {n: r["kernel_only_ms"].get(n) for n in PEERS if n in r["ms"]}
        peer_txt = "; ".join(f"{n.replace('ORT ', '')}: {fmt_ms(v)} ({v / b['kernel_ms']:.2f})"
                             for n, v in sorted(peers.items(), key=lambda kv: -(kv[1] or 0)) if v)
        missing = [n for n in PEERS if n in r.get("failed", {})]
        if missing:
            peer_txt += ("; " if peer_txt else "") + ", ".join(n.replace("ORT ", "") for n in missing) + ": failed"
        ok_copy = b["ratio_vs_memcpy"] >= 0.85
        ok_peer = all(v and v > b["kernel_ms"] for v in peers.values()) if peers else None
        ok_err = b["max_abs_err"] <= 2e-6
        verdict = []
        verdict.append("memcpy met" if ok_copy else "memcpy **missed**")
        if ok_peer is not None:
            verdict.append("ORT met" if ok_peer else "ORT **missed**")
        verdict.append("err met" if ok_err else "err **missed**")
        L.append(f"| {r['seq']} | {r['layout']} | {r['threads']} | {fmt_ms(b['kernel_ms'])} | "
                 f"{b['kernel_gbps']:.1f} | {fmt_ms(b['memcpy_ms'])} | {fmt_ms(b['nt_copy_ms'])} | "
                 f"{b['ratio_vs_memcpy']:.2f} | {b['ratio_vs_nt_copy']:.2f} | {b['max_abs_err']:.2e} | "
                 f"{peer_txt or 'not run (small S)'} | {', '.join(verdict)} |")
    L.append("")
    rows = [r for r in results if r["ms"]]
    if rows:
        L.append("ONNX Runtime details (run ms = session.run wall time; kernel ms = ORT's profiler):")
        L.append("")
        L.append("| S | layout | threads | op | run ms | kernel ms | x ours (kernel ms) | max abs err |")
        L.append("| ---: | --- | ---: | --- | ---: | ---: | ---: | ---: |")
        for r in rows:
            base = r["bench"]["kernel_ms"]
            for n, ms in r["ms"].items():
                kms = r["kernel_only_ms"].get(n)
                err = r["err"].get(n)
                L.append(f"| {r['seq']} | {r['layout']} | {r['threads']} | {n} | {fmt_ms(ms)} | "
                         f"{fmt_row_ms(kms)} | {'' if not kms else f'{kms / base:.2f}'} | "
                         f"{'' if err is None else f'{err:.2e}'} |")
        L.append("")
    for n, m in failures.items():
        L.append(f"- {n}: did not run in onnxruntime-node {versions.get('onnxruntime-node', '?')}: `{m}`")
    L.append("- `ORT Identity (floor, not a peer)`: a model that only returns q and k, run the same way: "
             "what any model costs through onnxruntime-node (binding + one copy).")
    L.append("")
    L.append("<details><summary>raw mrope-bench JSON</summary>")
    L.append("")
    L.append("```json")
    for b in raw:
        L.append(json.dumps(b))
    L.append("```")
    L.append("")
    L.append("</details>")
    L.append("")
    return "\n".join(L), title


if __name__ == "__main__":
    raise SystemExit(main())
