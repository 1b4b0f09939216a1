#!/usr/bin/env python3
"""Mutation fuzzing of the whole mrope-fix tool over the model zoo.

Each run takes a zoo model, applies 1-3 structural protobuf edits (nodes
deleted, duplicated or rewired incl. cycles, op types, domains, attributes,
Constant values broken, inputs retyped, opset imports removed or changed,
external data pointed elsewhere, raw_data truncated, Scan/Loop/If without
their graphs, huge Reshape shapes, initializers named like inputs, ...) and
runs

    mrope-fix M.onnx --arch qwen2-vl --report R.json -o OUT.onnx [--positions compute]

(compute mode on a quarter of the runs) under a timeout. A run fails on:
  crash      a signal, an exit code >= 128, or sanitizer / "LLVM ERROR" /
             stack-dump output;
  exit-code  any exit code but 0 and 1;
  hang       the timeout;
  leftover   a failed run (exit 1) that left OUT.onnx, its data file or a
             temporary file behind;
  no-output  exit 0 without OUT.onnx;
  multi-line an error (exit 1) that is not exactly one line on stderr.
Each failure is minimised (the fewest of its edits that still fail the same
way) and saved with its command and stderr under --failures. A crash is
classed by where it happened (import, libonnx, analysis, fix, mrope-index
lowering, export, oom, unknown) from the stack dump; --xfail CLASS keeps
known classes from failing the exit status (they are still reported).

Seeded and bounded: --seed, --runs and/or --seconds. Exit status 0 when no
failure (outside --xfail) was found, 1 otherwise.

  scripts/fuzz-fix.py --tool build/bin/mrope-fix --seed 1 --seconds 120
"""
import argparse
import concurrent.futures
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

import onnx
from onnx import AttributeProto, TensorProto

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
I64_MAX = 2**63 - 1
INTERESTING = [-5, -1, 0, 1, 2, 3, 7, 64, 1 << 20, 1 << 31, 1 << 40, I64_MAX, -(2**63)]
OPS = ["Identity", "Expand", "Reshape", "Constant", "Concat", "Unsqueeze", "Squeeze",
       "Where", "Gather", "Slice", "Mul", "Add", "Cos", "Sin", "Range", "Scan", "Loop",
       "If", "ReduceMax", "Cast", "Shape", "Tile", "ConstantOfShape", "Split",
       "Transpose", "MatMul", "Neg", "Div", "Pow", "Einsum", "CumSum", "Equal", "Not"]
DOMAINS = ["", "ai.onnx", "com.microsoft", "custom", "ai.onnx.ml"]
OPSETS = [-5, 0, 1, 7, 11, 12, 13, 14, 17, 18, 21, 23, 26, 27, 1000]
LOCATIONS = ["data.bin", "../data.bin", "/etc/passwd", "missing.bin", "data\0.bin",
             "sub/../data.bin", ".", ""]


# --- edits -------------------------------------------------------------------
# Each edit takes (model, rng) and returns a short description, or None when
# it did not apply to this model.

def _names(g):
    return ([i.name for i in g.input] + [t.name for t in g.initializer] +
            [o for n in g.node for o in n.output])


def _tensors(g):
    ts = list(g.initializer)
    for n in g.node:
        for a in n.attribute:
            if a.HasField("t"):
                ts.append(a.t)
    return ts


def _node(g, r, ops=None):
    if not g.node:
        return None
    if ops:
        cands = [n for n in g.node if n.op_type in ops]
        if cands:
            return r.choice(cands)
    return r.choice(g.node)


def _delete_one(field, r, what):
    if not field:
        return None
    i = r.randrange(len(field))
    name = field[i].name
    del field[i]
    return f"{what} {name} deleted"


def e_delete_node(m, r):
    return _delete_one(m.graph.node, r, "node")


def e_duplicate_node(m, r):
    n = _node(m.graph, r)
    if n is None:
        return None
    c = m.graph.node.add()
    c.CopyFrom(n)
    if r.random() < 0.5:
        for i in range(len(c.output)):
            c.output[i] += "_dup"
    return f"duplicate node {n.name}"


def e_rewire(m, r):
    g = m.graph
    n = _node(g, r)
    names = _names(g)
    if n is None or not n.input or not names:
        return None
    i = r.randrange(len(n.input))
    # Its own output or a later node's output makes a cycle.
    new = n.output[0] if (n.output and r.random() < 0.3) else r.choice(names)
    n.input[i] = new
    return f"rewire {n.name} input {i} to {new}"


def e_op_type(m, r):
    n = _node(m.graph, r)
    if n is None:
        return None
    old = n.op_type
    n.op_type = r.choice(OPS) if r.random() < 0.6 else r.choice(m.graph.node).op_type
    return f"op type of {n.name}: {old} -> {n.op_type}"


def e_domain(m, r):
    n = _node(m.graph, r, ["Constant", "Concat", "Unsqueeze", "Where", "Cos", "Sin", "Mul", "Gather"])
    if n is None:
        return None
    n.domain = r.choice(DOMAINS)
    return f"domain of {n.name} -> '{n.domain}'"


def e_attribute(m, r):
    n = _node(m.graph, r)
    if n is None or not n.attribute:
        return None
    i = r.randrange(len(n.attribute))
    a = n.attribute[i]
    k = r.randrange(4)
    if k == 0:
        del n.attribute[i]
        return f"drop attribute {a.name} of {n.name}"
    if k == 1:
        a.i = r.choice(INTERESTING)
        a.type = AttributeProto.INT
        return f"attribute {a.name} of {n.name} = {a.i}"
    if k == 2:
        del a.ints[:]
        a.ints.extend(r.choice(INTERESTING) for _ in range(r.randrange(4)))
        a.type = AttributeProto.INTS
        return f"attribute {a.name} of {n.name} = {list(a.ints)}"
    a.type = r.randrange(14)
    return f"attribute {a.name} of {n.name} type {a.type}"


def e_break_constant(m, r):
    ts = _tensors(m.graph)
    if not ts:
        return None
    t = r.choice(ts)
    k = r.randrange(5)
    if k == 0:
        if t.raw_data:
            n = r.choice([0, 1, 5, 7, 9]) if r.random() < 0.5 else r.randrange(len(t.raw_data) + 1)
            t.raw_data = t.raw_data[:n]
        else:
            del t.int64_data[:]
            del t.float_data[:]
        return f"truncate data of {t.name or 'a Constant'}"
    if k == 1:
        t.data_type = r.randrange(25)
        return f"data type of {t.name or 'a Constant'} -> {t.data_type}"
    if k == 2:
        if t.dims and r.random() < 0.5:
            t.dims[r.randrange(len(t.dims))] = r.choice(INTERESTING)
        else:
            t.dims.append(r.choice(INTERESTING))
        return f"dims of {t.name or 'a Constant'} -> {list(t.dims)}"
    if k == 3:  # a huge shape value
        t.ClearField("raw_data")
        del t.int64_data[:]
        del t.dims[:]
        t.data_type = TensorProto.INT64
        rank = 1 + r.randrange(3)
        t.dims.append(rank)
        vals = [I64_MAX if r.random() < 0.5 else r.choice(INTERESTING) for _ in range(rank)]
        t.int64_data.extend(vals)
        return f"value of {t.name or 'a Constant'} -> {vals}"
    t.data_type = TensorProto.INT32
    return f"data type of {t.name or 'a Constant'} -> int32"


def e_huge_reshape(m, r):
    """A Reshape/Expand whose shape operand is a huge constant."""
    g = m.graph
    cands = [n for n in g.node if n.op_type in ("Reshape", "Expand") and len(n.input) > 1]
    if not cands:
        return None
    n = r.choice(cands)
    name = n.input[1] + "_huge"
    vals = r.choice([[I64_MAX], [1 << 40, 1 << 40], [-1], [1 << 31, 2], [-7]])
    c = onnx.helper.make_node("Constant", [], [name], name=name, value=onnx.helper.make_tensor(
        name, TensorProto.INT64, [len(vals)], vals))
    n.input[1] = name
    # First, so that the graph stays sorted.
    nodes = [c] + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    return f"{n.op_type} {n.name} shape -> {vals}"


def e_retype_input(m, r):
    g = m.graph
    if not g.input:
        return None
    i = r.choice(g.input)
    tt = i.type.tensor_type
    k = r.randrange(3)
    if k == 0:
        tt.elem_type = r.randrange(25)
        return f"input {i.name} elem type -> {tt.elem_type}"
    if k == 1:
        if tt.shape.dim and r.random() < 0.5:
            del tt.shape.dim[-1]
        else:
            tt.shape.dim.add().dim_value = r.choice(INTERESTING) if r.random() < 0.5 else 1
        return f"input {i.name} rank -> {len(tt.shape.dim)}"
    i.ClearField("type")
    return f"input {i.name} untyped"


def e_opset(m, r):
    k = r.randrange(4)
    if k == 0:
        del m.opset_import[:]
        return "opset_import removed"
    if k == 1:
        if not m.opset_import:
            m.opset_import.add()
        m.opset_import[0].version = r.choice(OPSETS)
        return f"opset version -> {m.opset_import[0].version}"
    if k == 2:
        if not m.opset_import:
            return None
        o = m.opset_import.add()
        o.CopyFrom(m.opset_import[0])
        if r.random() < 0.5:
            o.domain = "ai.onnx"
        return "opset_import duplicated"
    if not m.opset_import:
        return None
    m.opset_import[0].domain = r.choice(["custom", "ai.onnx"])
    return f"opset domain -> {m.opset_import[0].domain}"


def e_external(m, r):
    g = m.graph
    if not g.initializer:
        return None
    t = r.choice(g.initializer)
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    del t.external_data[:]
    loc = r.choice(LOCATIONS)
    e = t.external_data.add()
    e.key, e.value = "location", loc
    if r.random() < 0.5:
        e = t.external_data.add()
        e.key = r.choice(["offset", "length"])
        e.value = str(r.choice(INTERESTING))
    return f"initializer {t.name} external data at {loc!r}"


def e_control_flow(m, r):
    n = _node(m.graph, r)
    if n is None:
        return None
    n.op_type = r.choice(["Scan", "Loop", "If"])
    del n.attribute[:]
    return f"{n.name} -> {n.op_type} without its graphs"


def e_init_like_input(m, r):
    g = m.graph
    if not g.initializer or not g.input:
        return None
    t = r.choice(g.initializer)
    t.name = r.choice(g.input).name
    return f"initializer renamed to input {t.name}"


def e_value_info(m, r):
    n = _node(m.graph, r)
    if n is None or not n.output:
        return None
    vi = m.graph.value_info.add()
    vi.name = n.output[0]
    tt = vi.type.tensor_type
    tt.elem_type = r.randrange(17)
    if r.random() < 0.5:
        for _ in range(r.randrange(4)):
            tt.shape.dim.add().dim_value = 1 if r.random() < 0.5 else r.choice(INTERESTING)
    return f"value_info {vi.name} elem type {tt.elem_type}"


def e_swap(m, r):
    g = m.graph
    if len(g.node) < 2:
        return None
    i, j = r.randrange(len(g.node)), r.randrange(len(g.node))
    a, b = onnx.NodeProto(), onnx.NodeProto()
    a.CopyFrom(g.node[i])
    b.CopyFrom(g.node[j])
    g.node[i].CopyFrom(b)
    g.node[j].CopyFrom(a)
    return f"swap nodes {i} and {j}"


def e_outputs(m, r):
    g = m.graph
    names = _names(g)
    if g.output and r.random() < 0.5:
        i = r.randrange(len(g.output))
        if r.random() < 0.5 or not names:
            del g.output[i]
            return f"graph output {i} removed"
        g.output[i].name = r.choice(names)
        return f"graph output {i} -> {g.output[i].name}"
    n = _node(g, r)
    if n is None or not n.output:
        return None
    n.output[r.randrange(len(n.output))] = "" if r.random() < 0.5 else "renamed"
    return f"output of {n.name} renamed"


def e_delete_initializer(m, r):
    return _delete_one(m.graph.initializer, r, "initializer")


def e_arity(m, r):
    g = m.graph
    n = _node(g, r)
    if n is None:
        return None
    if n.input and r.random() < 0.5:
        del n.input[-1]
        return f"{n.name} loses its last input"
    names = _names(g)
    n.input.append("" if (r.random() < 0.5 or not names) else r.choice(names))
    return f"{n.name} gets an extra input"


EDITS = [e_delete_node, e_duplicate_node, e_rewire, e_op_type, e_domain, e_attribute,
         e_break_constant, e_huge_reshape, e_retype_input, e_opset, e_external,
         e_control_flow, e_init_like_input, e_value_info, e_swap, e_outputs,
         e_delete_initializer, e_arity]


def apply_edits(model_bytes, edit_seeds):
    """The mutant: the model with one edit per seed, in order."""
    m = onnx.ModelProto()
    m.ParseFromString(model_bytes)
    done = []
    for s in edit_seeds:
        r = random.Random(s)
        edit = r.choice(EDITS)
        what = edit(m, r)
        done.append(f"{edit.__name__[2:]}: {what or '(did not apply)'}")
    return m.SerializeToString(), done


# --- running -----------------------------------------------------------------

CRASH_TEXT = re.compile(r"LLVM ERROR|AddressSanitizer|UndefinedBehaviorSanitizer|"
                        r"runtime error:|Stack dump|PLEASE submit|Segmentation fault|"
                        r"terminate called|Assertion .* failed")
# Stack frames that place a crash, most specific first.
CLASSES = [
    ("oom", re.compile(r"out of memory|bad_alloc")),
    ("libonnx", re.compile(r"onnx::(shape_inference|checker|ParseData|\w+InferenceFunction)|libonnx")),
    ("mrope-index", re.compile(r"MRopeIndex|mrope_index|LowerMRopeIndex")),
    ("fix", re.compile(r"fixRopeSites|FixSites|eraseDeadProducers|RopeToOnnx")),
    ("analysis", re.compile(r"findRopeSites|RopeSites|renderReport")),
    ("import", re.compile(r"Importer|importOnnxModel|Validate")),
    ("export", re.compile(r"Exporter|exportOnnxModel")),
]


def crash_class(stderr):
    for name, pattern in CLASSES:
        if pattern.search(stderr):
            return name
    return "unknown"


def run_tool(tool, workdir, model_bytes, compute, timeout):
    """Runs mrope-fix on the mutant in a fresh folder; returns the verdict."""
    d = tempfile.mkdtemp(prefix="run-", dir=workdir)
    try:
        with open(os.path.join(d, "data.bin"), "wb") as f:
            f.write(b"\1" * 4096)
        model = os.path.join(d, "M.onnx")
        with open(model, "wb") as f:
            f.write(model_bytes)
        cmd = [tool, "M.onnx", "--arch", "qwen2-vl", "--report", "R.json", "-o", "OUT.onnx", "-q"]
        if compute:
            cmd += ["--positions", "compute"]
        before = set(os.listdir(d))
        try:
            p = subprocess.run(cmd, cwd=d, capture_output=True, timeout=timeout,
                               env=dict(os.environ, LLVM_SYMBOLIZER_PATH="/usr/lib/llvm-22/bin/llvm-symbolizer"))
        except subprocess.TimeoutExpired:
            return "hang", None, "", cmd
        rc, err = p.returncode, p.stderr.decode(errors="replace")
        after = set(os.listdir(d))
        if rc < 0 or rc >= 128 or CRASH_TEXT.search(err):
            return "crash", crash_class(err), err, cmd
        if rc not in (0, 1):
            return "exit-code", None, err, cmd
        if rc == 0:
            if "OUT.onnx" not in after:
                return "no-output", None, err, cmd
            return "ok", None, err, cmd
        left = sorted((after - before) - {"R.json"})
        if left:
            return "leftover", None, err + "\nleft: " + " ".join(left), cmd
        lines = [line for line in err.splitlines() if line.strip()]
        if len(lines) != 1:
            return "multi-line", None, err, cmd
        return "error", None, err, cmd
    finally:
        shutil.rmtree(d, ignore_errors=True)


def one_run(args, models, run_index):
    r = random.Random(f"{args.seed}/{run_index}")
    name = r.choice(sorted(models))
    edit_seeds = [r.getrandbits(64) for _ in range(r.choice([1, 1, 2, 3]))]
    compute = r.random() < args.compute_share
    mutant, edits = apply_edits(models[name], edit_seeds)
    verdict, cls, err, cmd = run_tool(args.tool, args.workdir, mutant, compute, args.timeout)
    return dict(run=run_index, model=name, edit_seeds=edit_seeds, edits=edits,
                compute=compute, verdict=verdict, cls=cls, stderr=err, cmd=cmd)


def minimise(args, models, res):
    """The fewest of the run's edits that fail the same way."""
    seeds = res["edit_seeds"]
    best = res
    for k in range(1, len(seeds)):
        for start in range(0, len(seeds) - k + 1):
            subset = seeds[start:start + k]
            mutant, edits = apply_edits(models[res["model"]], subset)
            v, cls, err, cmd = run_tool(args.tool, args.workdir, mutant, res["compute"], args.timeout)
            if v == res["verdict"] and cls == res["cls"]:
                return dict(res, edit_seeds=subset, edits=edits, stderr=err, cmd=cmd)
    return best


def save(args, models, res):
    os.makedirs(args.failures, exist_ok=True)
    stem = f"{res['verdict']}-{res['cls'] or 'x'}-seed{args.seed}-run{res['run']}"
    mutant, _ = apply_edits(models[res["model"]], res["edit_seeds"])
    path = os.path.join(args.failures, stem + ".onnx")
    with open(path, "wb") as f:
        f.write(mutant)
    with open(os.path.join(args.failures, stem + ".txt"), "w") as f:
        f.write(f"model: {res['model']}\nedits:\n")
        for e in res["edits"]:
            f.write(f"  {e}\n")
        f.write("command: " + " ".join(res["cmd"]).replace("M.onnx", path) + "\n")
        f.write("stderr:\n" + res["stderr"][-6000:] + "\n")
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tool", default=os.path.join(ROOT, "build", "bin", "mrope-fix"))
    ap.add_argument("--zoo", default=os.path.join(ROOT, "test", "models", "zoo"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=0, help="stop after this many runs (0: no limit)")
    ap.add_argument("--seconds", type=float, default=0, help="stop after this long (0: no limit)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds one mrope-fix run may take")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--compute-share", type=float, default=0.25)
    ap.add_argument("--failures", default=os.path.join(ROOT, "build", "fuzz-fix-failures"),
                    help="where failing mutants (minimised) are saved")
    ap.add_argument("--xfail", action="append", default=[], metavar="CLASS",
                    help="crash class that does not fail the exit status (repeatable)")
    ap.add_argument("--no-minimise", action="store_true")
    args = ap.parse_args()
    if not args.runs and not args.seconds:
        ap.error("give --runs and/or --seconds")
    args.tool = os.path.abspath(args.tool)
    if not os.access(args.tool, os.X_OK):
        ap.error(f"{args.tool} is not an executable (build mrope-fix first)")
    models = {}
    for f in sorted(os.listdir(args.zoo)):
        if f.endswith(".onnx"):
            with open(os.path.join(args.zoo, f), "rb") as fh:
                models[f] = fh.read()
    if not models:
        ap.error(f"no .onnx models in {args.zoo}")

    args.workdir = tempfile.mkdtemp(prefix="mrope-fuzz-fix-")
    start = time.monotonic()
    counts, failures = {}, []
    i = 0
    try:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            pending = set()
            while True:
                out_of_time = args.seconds and time.monotonic() - start >= args.seconds
                out_of_runs = args.runs and i >= args.runs
                while not (out_of_time or out_of_runs) and len(pending) < args.jobs:
                    pending.add(pool.submit(one_run, args, models, i))
                    i += 1
                    out_of_runs = args.runs and i >= args.runs
                if not pending:
                    break
                done, pending = concurrent.futures.wait(
                    pending, return_when=concurrent.futures.FIRST_COMPLETED)
                for fut in done:
                    res = fut.result()
                    counts[res["verdict"]] = counts.get(res["verdict"], 0) + 1
                    if res["verdict"] not in ("ok", "error"):
                        failures.append(res)
    finally:
        pass
    elapsed = time.monotonic() - start
    runs = sum(counts.values())

    bad = 0
    for res in sorted(failures, key=lambda x: x["run"]):
        if not args.no_minimise:
            res = minimise(args, models, res)
        path = save(args, models, res)
        xfail = res["verdict"] == "crash" and res["cls"] in args.xfail
        bad += not xfail
        lines = [l.strip() for l in res["stderr"].splitlines() if l.strip()]
        # For a crash, the frame that placed it; else the first line.
        pattern = dict(CLASSES).get(res["cls"])
        first = next((l for l in lines if pattern and pattern.search(l)), lines[0] if lines else "")
        print(f"{'XFAIL' if xfail else 'FAIL'} {res['verdict']}"
              f"{' [' + res['cls'] + ']' if res['cls'] else ''} run {res['run']} "
              f"{res['model']}{' compute' if res['compute'] else ''}: "
              f"{'; '.join(res['edits'])}\n    {first[:200]}\n    saved: {path}")
    shutil.rmtree(args.workdir, ignore_errors=True)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"fuzz-fix: seed {args.seed}: {runs} runs in {elapsed:.0f} s "
          f"({runs / max(elapsed, 1e-9):.1f}/s): {summary}; "
          f"{bad} failing, {len(failures) - bad} xfail")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
