"""A kernel compiled from a model's RoPE site against the numpy reference fed
the model's own inv_freq constant (read back from the ONNX file) and the
site's configuration from the zoo's description (MODEL.json: sections, pair
layout, interleaving, rotary dim, theta), both independent of the compiler.
A model that stores cos/sin caches instead of inv_freq is checked against
the table theta gives (what the zoo built its caches from) at positions
inside the cache. Tolerance as in check_cpu_kernel.py (same f32 arithmetic,
cos/sin within 1 ulp): 4e-6 on |x| < 5.

usage: check_model_kernel.py LIB.so MODEL.onnx [--site N] [--name NAME]
"""
import argparse
import json
import os
import re
import sys

import numpy as np
import onnx
import onnx.numpy_helper

from mrope import reference
from mrope.cpu_kernel import CpuKernel

ROT_TOL = 4e-6


def model_tables(path, size):
    """The model's frequency table (the float constant of `size` entries that
    starts at 1 and decreases), or None and the rows of its cos/sin caches."""
    m = onnx.load(path)
    tensors = [onnx.numpy_helper.to_array(t) for t in m.graph.initializer]
    tensors += [onnx.numpy_helper.to_array(a.t) for n in m.graph.node if n.op_type == "Constant"
                for a in n.attribute if a.name == "value"]
    for t in tensors:
        v = t.reshape(-1)
        if v.dtype == np.float32 and v.size == size and v[0] == 1 and np.all(np.diff(v) <= 0) \
                and np.all(v > 0):
            return v, None
    caches = [t.shape[0] for t in tensors if t.dtype == np.float32 and t.ndim == 2]
    if not caches:
        raise SystemExit(f"no inv_freq constant of {size} entries and no cache found")
    return None, min(caches)


def header_facts(lib, name):
    """Head dim, and q/k head counts (0: any; kv -1: q only), from LIB.h."""
    text = open(os.path.splitext(lib)[0] + ".h").read()
    head_dim = int(re.search(rf"#define {name.upper()}_HEAD_DIM (\d+)", text).group(1))
    heads = lambda m: 0 if m is None or m.group(1) == "any number of" else int(m.group(1))
    q = heads(re.search(r"\* q with (\d+|any number of) heads", text))
    k = re.search(r"k with (\d+|any number of) heads", text)
    return head_dim, q, heads(k) if k else -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lib")
    ap.add_argument("model")
    ap.add_argument("--site", type=int, default=0)
    ap.add_argument("--name", default="mrope_rope")
    args = ap.parse_args()
    desc = json.load(open(os.path.splitext(args.model)[0] + ".json"))
    site = desc["sites"][args.site]
    sections = site["sections"]
    rotary_dim = site.get("rotary_dim") or 2 * sum(sections)
    layout = site.get("layout", "neox")
    interleaved = bool(site.get("interleaved"))
    inv, cache_rows = model_tables(args.model, rotary_dim // 2)
    theta = site["theta"] if inv is None else 0
    head_dim, q_heads, kv_heads = header_facts(args.lib, args.name)
    kern = CpuKernel(sections=sections, head_dim=head_dim, theta=theta, library=args.lib,
                     name=args.name, kv_heads=kv_heads)
    rng = np.random.default_rng(7)
    batch, seq = 2, 9
    q = rng.uniform(-5, 5, size=(batch, q_heads or 3, seq, head_dim)).astype(np.float32)
    k = rng.uniform(-5, 5, size=(batch, kv_heads or 1, seq, head_dim)).astype(np.float32) \
        if kv_heads >= 0 else None
    high = cache_rows or 1 << 15
    pos = rng.integers(0, high, size=(len(sections), batch, seq), dtype=np.int64)
    want = lambda x: reference.apply_rope(x, pos, sections=sections, theta=theta, layout=layout,
                                          interleaved=interleaved, rotary_dim=rotary_dim,
                                          inv_freq=inv)
    want_q = want(q)
    want_k = want(k) if k is not None else None
    kern(q, k, pos)
    err = np.abs(q - want_q).max()
    if k is not None:
        err = max(err, np.abs(k - want_k).max())
    ok = err <= ROT_TOL
    source = "the model's inv_freq" if inv is not None else "theta's table"
    print(f"{'ok' if ok else 'FAIL'} kernel from {os.path.basename(args.model)} site "
          f"{args.site} (sections {sections}, {layout}, rotary {rotary_dim} of {head_dim}"
          f"{', interleaved' if interleaved else ''}): max |kernel - reference with "
          f"{source}| = {err:.2e}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
