#!/usr/bin/env python3
"""Compare two ONNX models field by field (what `export(import(m)) == m` means).

    compare_onnx.py A.onnx B.onnx [--same-placement] [--ort | --ort-only]

Equal means: same model fields (ir_version, opset_import in order, producer,
domain, model_version, doc_string, metadata_props as a map, functions,
training_info); per graph (recursively through GRAPH/GRAPHS attributes): same
name, doc string, inputs/outputs (ValueInfoProto), value_info, initializers in
order with the same name/dims/data_type/doc string and bit-identical contents
(raw_data, typed fields or external data are all read back to bytes),
sparse initializers, quantization annotations, and the same nodes in the same
order (op_type, domain, name, inputs, outputs, doc string, attributes in order
with equal values). With --same-placement, inline-vs-external must match too.
With --ort, both run in ONNX Runtime (mrope.ort) on deterministic random
inputs and must give identical outputs (skipped, exit 0, with a message, when
ORT is missing). With --ort-only the fields are not compared, only the ORT
outputs (a rewrite that keeps the meaning, such as inlined functions).

Prints the first differences and exits 1, or prints "equal" and exits 0.
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, AttributeProto

# numpy views of the raw_data bytes per data type (little-endian).
_RAW = {
    TensorProto.FLOAT: np.float32, TensorProto.UINT8: np.uint8, TensorProto.INT8: np.int8,
    TensorProto.UINT16: np.uint16, TensorProto.INT16: np.int16, TensorProto.INT32: np.int32,
    TensorProto.INT64: np.int64, TensorProto.BOOL: np.uint8, TensorProto.FLOAT16: np.uint16,
    TensorProto.DOUBLE: np.float64, TensorProto.UINT32: np.uint32, TensorProto.UINT64: np.uint64,
    TensorProto.COMPLEX64: np.float32, TensorProto.COMPLEX128: np.float64, TensorProto.BFLOAT16: np.uint16,
}


class Diff(Exception):
    pass


def canon(msg):
    """A message as nested tuples, without fields set to their default value
    (proto2 presence of an empty string or 0 carries no meaning in ONNX)."""
    out = []
    for fd, value in msg.ListFields():
        if fd.label == fd.LABEL_REPEATED:
            if fd.type == fd.TYPE_MESSAGE:
                value = tuple(canon(v) for v in value)
            else:
                value = tuple(value)
        elif fd.type == fd.TYPE_MESSAGE:
            value = canon(value)
        elif value == fd.default_value:
            continue
        out.append((fd.name, value))
    return tuple(out)


def tensor_bytes(t, base_dir):
    """The tensor contents as canonical little-endian bytes (or a list of strings)."""
    if t.data_type == TensorProto.STRING:
        return list(t.string_data)
    if t.data_location == TensorProto.EXTERNAL:
        info = {e.key: e.value for e in t.external_data}
        path = os.path.join(base_dir, info["location"])
        with open(path, "rb") as f:
            f.seek(int(info.get("offset", 0)))
            n = int(info["length"]) if "length" in info else -1
            return f.read(n)
    if t.HasField("raw_data"):
        return t.raw_data
    dt = t.data_type
    if dt in (TensorProto.FLOAT, TensorProto.COMPLEX64):
        return np.array(t.float_data, np.float32).tobytes()
    if dt in (TensorProto.DOUBLE, TensorProto.COMPLEX128):
        return np.array(t.double_data, np.float64).tobytes()
    if dt == TensorProto.INT64:
        return np.array(t.int64_data, np.int64).tobytes()
    if dt == TensorProto.UINT32:
        return np.array(t.uint64_data, np.uint64).astype(np.uint32).tobytes()
    if dt == TensorProto.UINT64:
        return np.array(t.uint64_data, np.uint64).tobytes()
    if dt == TensorProto.INT32:
        return np.array(t.int32_data, np.int32).tobytes()
    if dt in (TensorProto.INT16, TensorProto.UINT16, TensorProto.FLOAT16, TensorProto.BFLOAT16):
        return np.array(t.int32_data, np.int64).astype(np.uint16).tobytes()
    return np.array(t.int32_data, np.int64).astype(np.uint8).tobytes()


def where(path, what):
    return f"{path}: {what}"


def cmp_tensor(a, b, da, db, path, same_placement):
    for f in ("name", "dims", "data_type", "doc_string"):
        va, vb = getattr(a, f), getattr(b, f)
        if list(va) != list(vb) if f == "dims" else va != vb:
            raise Diff(where(path, f"tensor {f}: {va!r} != {vb!r}"))
    ea = a.data_location == TensorProto.EXTERNAL
    eb = b.data_location == TensorProto.EXTERNAL
    if same_placement and ea != eb:
        raise Diff(where(path, f"placement: external={ea} vs external={eb}"))
    xa, xb = tensor_bytes(a, da), tensor_bytes(b, db)
    if xa != xb:
        n = min(len(xa), len(xb))
        first = next((i for i in range(n) if xa[i] != xb[i]), n)
        raise Diff(where(path, f"tensor contents differ (sizes {len(xa)} vs {len(xb)}, first difference at byte {first})"))


def cmp_attr(a, b, da, db, path, same_placement):
    if a.name != b.name or a.type != b.type:
        raise Diff(where(path, f"attribute {a.name}:{a.type} != {b.name}:{b.type}"))
    p = f"{path}/@{a.name}"
    if a.type == AttributeProto.TENSOR:
        cmp_tensor(a.t, b.t, da, db, p, same_placement)
    elif a.type == AttributeProto.TENSORS:
        if len(a.tensors) != len(b.tensors):
            raise Diff(where(p, "number of tensors"))
        for i, (x, y) in enumerate(zip(a.tensors, b.tensors)):
            cmp_tensor(x, y, da, db, f"{p}[{i}]", same_placement)
    elif a.type == AttributeProto.GRAPH:
        cmp_graph(a.g, b.g, da, db, p, same_placement)
    elif a.type == AttributeProto.GRAPHS:
        if len(a.graphs) != len(b.graphs):
            raise Diff(where(p, "number of graphs"))
        for i, (x, y) in enumerate(zip(a.graphs, b.graphs)):
            cmp_graph(x, y, da, db, f"{p}[{i}]", same_placement)
    else:
        if canon(a) != canon(b):
            raise Diff(where(p, f"attribute values differ:\n{a}\nvs\n{b}"))


def cmp_list(xs, ys, path, what, key=canon):
    if len(xs) != len(ys):
        raise Diff(where(path, f"{what}: {len(xs)} vs {len(ys)} entries"))
    for i, (x, y) in enumerate(zip(xs, ys)):
        if key(x) != key(y):
            raise Diff(where(path, f"{what}[{i}] differs:\n{x}\nvs\n{y}"))


def cmp_graph(a, b, da, db, path, same_placement):
    if a.name != b.name:
        raise Diff(where(path, f"graph name {a.name!r} != {b.name!r}"))
    if a.doc_string != b.doc_string:
        raise Diff(where(path, "graph doc_string"))
    cmp_list(a.input, b.input, path, "input")
    cmp_list(a.output, b.output, path, "output")
    cmp_list(a.value_info, b.value_info, path, "value_info")
    cmp_list(a.sparse_initializer, b.sparse_initializer, path, "sparse_initializer")
    cmp_list(a.quantization_annotation, b.quantization_annotation, path, "quantization_annotation")
    if len(a.initializer) != len(b.initializer):
        raise Diff(where(path, f"initializers: {len(a.initializer)} vs {len(b.initializer)}"))
    for x, y in zip(a.initializer, b.initializer):
        cmp_tensor(x, y, da, db, f"{path}/initializer {x.name}", same_placement)
    if len(a.node) != len(b.node):
        raise Diff(where(path, f"nodes: {len(a.node)} vs {len(b.node)}"))
    for i, (x, y) in enumerate(zip(a.node, b.node)):
        p = f"{path}/node[{i}] {x.name or x.op_type}"
        for f in ("op_type", "domain", "name", "doc_string"):
            if getattr(x, f) != getattr(y, f):
                raise Diff(where(p, f"{f}: {getattr(x, f)!r} != {getattr(y, f)!r}"))
        if list(x.input) != list(y.input):
            raise Diff(where(p, f"inputs {list(x.input)} != {list(y.input)}"))
        if list(x.output) != list(y.output):
            raise Diff(where(p, f"outputs {list(x.output)} != {list(y.output)}"))
        if [t.name for t in x.attribute] != [t.name for t in y.attribute]:
            raise Diff(where(p, f"attributes {[t.name for t in x.attribute]} != {[t.name for t in y.attribute]}"))
        for s, t in zip(x.attribute, y.attribute):
            cmp_attr(s, t, da, db, p, same_placement)


def cmp_model(a, b, da, db, same_placement):
    for f in ("ir_version", "producer_name", "producer_version", "domain", "model_version", "doc_string"):
        if getattr(a, f) != getattr(b, f):
            raise Diff(f"model {f}: {getattr(a, f)!r} != {getattr(b, f)!r}")
    cmp_list(a.opset_import, b.opset_import, "model", "opset_import")
    if {p.key: p.value for p in a.metadata_props} != {p.key: p.value for p in b.metadata_props}:
        raise Diff("model metadata_props differ")
    cmp_list(a.functions, b.functions, "model", "functions")
    cmp_list(a.training_info, b.training_info, "model", "training_info")
    cmp_graph(a.graph, b.graph, da, db, "graph", same_placement)


def random_feeds(model, seed=0):
    rng = np.random.default_rng(seed)
    feeds = {}
    inits = {t.name for t in model.graph.initializer}
    types = {TensorProto.FLOAT: np.float32, TensorProto.INT64: np.int64, TensorProto.INT32: np.int32,
             TensorProto.FLOAT16: np.float16, TensorProto.DOUBLE: np.float64, TensorProto.BOOL: np.bool_}
    for i in model.graph.input:
        if i.name in inits:
            continue
        tt = i.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else 2 for d in tt.shape.dim]
        dt = types[tt.elem_type]
        if dt in (np.int64, np.int32):
            feeds[i.name] = rng.integers(0, 4, size=shape).astype(dt)
        elif dt == np.bool_:
            feeds[i.name] = rng.integers(0, 2, size=shape).astype(dt)
        else:
            feeds[i.name] = rng.standard_normal(size=shape).astype(dt)
    return feeds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--same-placement", action="store_true")
    ap.add_argument("--ort", action="store_true", help="also run both in ONNX Runtime")
    ap.add_argument("--ort-only", action="store_true", help="only run both in ONNX Runtime")
    ap.add_argument("--feeds", help="a .npz of inputs for --ort (default: random)")
    ap.add_argument("--zoo-desc", help="a model zoo JSON description: its standard inputs for --ort")
    args = ap.parse_args(argv)
    a = onnx.load(args.a, load_external_data=False)
    b = onnx.load(args.b, load_external_data=False)
    da, db = os.path.dirname(os.path.abspath(args.a)), os.path.dirname(os.path.abspath(args.b))
    try:
        if not args.ort_only:
            cmp_model(a, b, da, db, args.same_placement)
    except Diff as d:
        print(f"DIFFERENT: {args.a} vs {args.b}: {d}")
        return 1
    if args.ort or args.ort_only:
        from mrope import ort
        if not ort.available():
            print("equal (ONNX Runtime not available: run comparison skipped)")
            return 0
        if args.feeds:
            feeds = dict(np.load(args.feeds))
        elif args.zoo_desc:
            from mrope.zoo import feeds as zoo_feeds
            feeds = zoo_feeds.feeds_for(args.zoo_desc)[0]
        else:
            feeds = random_feeds(a)
        ra, rb = ort.run(args.a, feeds), ort.run(args.b, feeds)
        if sorted(ra) != sorted(rb):
            print(f"DIFFERENT: ORT outputs {sorted(ra)} vs {sorted(rb)}")
            return 1
        for k in ra:
            if ra[k].dtype != rb[k].dtype or ra[k].shape != rb[k].shape or ra[k].tobytes() != rb[k].tobytes():
                print(f"DIFFERENT: ORT output {k} differs")
                return 1
        print(f"equal (and {len(ra)} ORT outputs identical)")
        return 0
    print("equal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
