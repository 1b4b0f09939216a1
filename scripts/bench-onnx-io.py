#!/usr/bin/env python3
"""Benchmark of mrope-translate's ONNX import/export (not a timed test).

    scripts/bench-onnx-io.py [--build build] [--weights-mb 1024] [--nodes 100000] [--work DIR]

1. A model with --weights-mb MB of external weights (16 MB-ish float32
   initializers in one data file, a MatMul/Add chain using them):
   `cp` of model + data vs `mrope-translate --onnx-to-onnx` (import+export in
   one process) vs import to .mlir + export from .mlir; wall time and peak
   RSS (/usr/bin/time -v) of each, measured in the same run, warm cache.
2. A graph of --nodes nodes (Add/Mul chain, small initializers): import to
   .mlir, export from .mlir, and --onnx-to-onnx.

Prints a Markdown table (the figures in docs/benchmarks.md come from it).
"""
import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_weights_model(path, total_mb):
    """Writes path and path.data without holding the weights in memory."""
    n = 2048  # 2048x2048 f32 = 16 MiB per weight
    per = n * n * 4
    count = max(1, (total_mb << 20) // per)
    data_name = os.path.basename(path) + ".data"
    inits, nodes = [], []
    rng = np.random.default_rng(0)
    with open(path + ".data", "wb") as f:
        for i in range(count):
            block = rng.standard_normal((n, n), dtype=np.float32)
            offset = f.tell()
            f.write(block.tobytes())
            t = TensorProto(name=f"w{i}", data_type=TensorProto.FLOAT, dims=[n, n])
            t.data_location = TensorProto.EXTERNAL
            for k, v in (("location", data_name), ("offset", str(offset)), ("length", str(per))):
                t.external_data.add(key=k, value=v)
            inits.append(t)
            prev = "x" if i == 0 else f"h{i - 1}"
            nodes.append(helper.make_node("MatMul", [prev, f"w{i}"], [f"h{i}"], name=f"/layers.{i}/MatMul"))
    g = helper.make_graph(nodes, "weights", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", n])],
                          [helper.make_tensor_value_info(f"h{count - 1}", TensorProto.FLOAT, ["b", n])],
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    return count * per


def make_big_graph(path, nodes):
    c = helper.make_tensor("c", TensorProto.FLOAT, [4], [1.0, 2.0, 3.0, 4.0])
    ns = []
    prev = "x"
    for i in range(nodes):
        op = "Add" if i % 2 == 0 else "Mul"
        out = f"/layers.{i // 100}/{op}_{i}_output_0"
        ns.append(helper.make_node(op, [prev, "c"], [out], name=f"/layers.{i // 100}/{op}_{i}"))
        prev = out
    g = helper.make_graph(ns, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
                          [helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["n", 4])], initializer=[c])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    with open(path, "wb") as f:
        f.write(m.SerializeToString())


def timed(cmd):
    """Runs cmd under /usr/bin/time -v; returns (seconds, peak RSS MiB)."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) / 1024
    return dt, rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("MROPE_BUILD_DIR", os.path.join(ROOT, "build")))
    ap.add_argument("--weights-mb", type=int, default=1024)
    ap.add_argument("--nodes", type=int, default=100000)
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one, removed)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is reported")
    args = ap.parse_args()
    tool = os.path.join(args.build, "bin", "mrope-translate")
    work = args.work or tempfile.mkdtemp(prefix="mrope-bench-")
    os.makedirs(work, exist_ok=True)
    rows = []

    def best(cmd, cleanup=None):
        res = []
        for _ in range(args.repeat):
            if cleanup:
                cleanup()
            res.append(timed(cmd))
        return min(r[0] for r in res), max(r[1] for r in res)

    try:
        src = os.path.join(work, "in")
        dst = os.path.join(work, "out")
        os.makedirs(src, exist_ok=True)
        os.makedirs(dst, exist_ok=True)
        model = os.path.join(src, "weights.onnx")
        size = make_weights_model(model, args.weights_mb)
        subprocess.run(["cat", model + ".data"], stdout=subprocess.DEVNULL, check=True)  # warm cache

        def clean():
            for f in os.listdir(dst):
                os.remove(os.path.join(dst, f))

        cp = best(["cp", model, model + ".data", dst], clean)
        rt = best([tool, "--onnx-to-onnx", model, "-o", os.path.join(dst, "weights.onnx")], clean)
        imp = best([tool, "--import-onnx", model, "-o", os.path.join(work, "weights.mlir")])
        exp = best([tool, "--export-onnx", os.path.join(work, "weights.mlir"), "-o", os.path.join(dst, "weights.onnx")], clean)
        gb = size / (1 << 30)
        rows.append((f"{gb:.2f} GiB external weights", "cp model + data", cp))
        rows.append(("", "--onnx-to-onnx (import+export)", rt))
        rows.append(("", "--import-onnx → .mlir", imp))
        rows.append(("", "--export-onnx .mlir → .onnx", exp))
        ratio_rt = rt[0] / cp[0]
        shutil.rmtree(src)
        shutil.rmtree(dst)

        big = os.path.join(work, "big.onnx")
        make_big_graph(big, args.nodes)
        imp2 = best([tool, "--import-onnx", big, "-o", os.path.join(work, "big.mlir")])
        imp3 = best([tool, "--import-onnx", "--no-shape-inference", big, "-o", os.path.join(work, "big.mlir")])
        exp2 = best([tool, "--export-onnx", os.path.join(work, "big.mlir"), "-o", os.path.join(work, "big.rt.onnx")])
        rt2 = best([tool, "--onnx-to-onnx", big, "-o", os.path.join(work, "big.rt.onnx")])
        rows.append((f"{args.nodes} nodes", "--import-onnx → .mlir (with shape inference)", imp2))
        rows.append(("", "--import-onnx --no-shape-inference", imp3))
        rows.append(("", "--export-onnx .mlir → .onnx", exp2))
        rows.append(("", "--onnx-to-onnx", rt2))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"best of {args.repeat} runs, warm page cache\n")
    print("| input | command | wall s | peak RSS MiB |")
    print("| --- | --- | ---: | ---: |")
    for a, b, (t, r) in rows:
        print(f"| {a} | {b} | {t:.2f} | {r:.0f} |")
    print(f"\nimport+export / cp = {ratio_rt:.2f}x")


if __name__ == "__main__":
    main()
