"""The proof's evaluator (mrope/Analysis/Evaluate.h) against ONNX Runtime:
builds constant-only graphs spelling positions and tables the ways
exporters do (torch.outer as Einsum, Range over ReduceMax of a grid, an
[N, 2] Gather + Flatten + Concat(x, x), Tile, Expand, Split, negative-step
Slice, GatherElements, ScatterND, Where, MatMul broadcasting, Reshape with
0/-1, Shape, ConstantOfShape, CumSum), at opset 17 (axes/split... as the opset
says) and 18 (ReduceMax axes input, Split num_outputs), evaluates every
output with `mrope-fix --debug-evaluate` and compares with ONNX Runtime:
integers exactly, floats within 1e-6. An op the evaluator does not know
must say so (Softmax).

usage: check_evaluate.py MROPE_FIX WORKDIR
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper as H, numpy_helper

from mrope import ort


def const(name, value, dtype):
    return H.make_node("Constant", [], [name], name=name + "_c",
                       value=numpy_helper.from_array(np.array(value, dtype)))


INTS = {"hw", "maxhw", "rng", "casted", "shp", "cos_shape", "counted"}


def build(opset):
    f32, i64 = np.float32, np.int64
    n = [
        const("inv", [1.0, 0.1, 0.01, 0.001], f32),
        const("zero_f", 0.0, f32), const("six_f", 6.0, f32), const("one_f", 1.0, f32),
        H.make_node("Range", ["zero_f", "six_f", "one_f"], ["pos_f"], name="range_f"),
        # torch.outer(pos, inv) as TorchScript writes it.
        H.make_node("Einsum", ["pos_f", "inv"], ["outer"], name="einsum", equation="i,j->ij"),
        # Range(ReduceMax(grid[:, 1:])).
        const("grid", [[1, 4, 6], [2, 2, 4]], i64),
        const("s1", [1], i64), const("e1", [3], i64), const("ax1", [1], i64),
        H.make_node("Slice", ["grid", "s1", "e1", "ax1"], ["hw"], name="slice_grid"),
        const("zero_i", 0, i64), const("one_i", 1, i64),
        # [N, 2] Gather of a table, Flatten, Concat(x, x), Cos/Sin.
        const("idx", [[0, 1], [2, 3], [5, 1]], i64),
        H.make_node("Gather", ["outer", "idx"], ["g"], name="gather_hw", axis=0),
        H.make_node("Flatten", ["g"], ["flat"], name="flatten", axis=1),
        H.make_node("Concat", ["flat", "flat"], ["emb"], name="concat", axis=-1),
        H.make_node("Cos", ["emb"], ["cos"], name="cos"),
        H.make_node("Sin", ["emb"], ["sin"], name="sin"),
        # Views and moves.
        const("reps", [2, 1], i64),
        H.make_node("Tile", ["outer", "reps"], ["tiled"], name="tile"),
        const("eshape", [3, 1, 4], i64),
        const("inv2", [[1.0, 2.0, 3.0, 4.0]], f32),
        H.make_node("Expand", ["inv2", "eshape"], ["expanded"], name="expand"),
        H.make_node("Transpose", ["expanded"], ["tr"], name="transpose", perm=[2, 0, 1]),
        const("s_neg", [-1], i64), const("e_neg", [-100], i64), const("st_neg", [-2], i64),
        const("ax0", [0], i64),
        H.make_node("Slice", ["pos_f", "s_neg", "e_neg", "ax0", "st_neg"], ["rev"], name="slice_rev"),
        const("ge_idx", [[3, 0], [1, 1], [0, 2]], i64),
        H.make_node("GatherElements", ["outer", "ge_idx"], ["ge"], name="gather_el", axis=1),
        const("cond", [True, False, True, False], np.bool_),
        H.make_node("Where", ["cond", "inv", "inv2"], ["where"], name="where"),
        const("mat", [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]], f32),
        H.make_node("MatMul", ["outer", "mat"], ["mm"], name="matmul"),
        H.make_node("Div", ["mm", "six_f"], ["div"], name="div"),
        H.make_node("Neg", ["div"], ["neg"], name="neg"),
        H.make_node("Sub", ["neg", "one_f"], ["sub"], name="sub"),
        H.make_node("Cast", ["sub"], ["casted"], name="cast", to=TensorProto.INT64),
        const("rshape", [0, -1, 2], i64),
        H.make_node("Reshape", ["expanded", "rshape"], ["reshaped"], name="reshape"),
        H.make_node("Shape", ["reshaped"], ["shp"], name="shape", start=1),
        H.make_node("ConstantOfShape", ["shp"], ["cos_shape"], name="cofs",
                    value=numpy_helper.from_array(np.array([7], i64))),
        const("sc_idx", [[1], [4]], i64), const("sc_upd", [[9.0, 9.5, 9.25, 9.75], [-1.0, -2.0, -3.0, -4.0]], f32),
        H.make_node("ScatterND", ["outer", "sc_idx", "sc_upd"], ["scattered"], name="scatter"),
        H.make_node("Unsqueeze", ["inv", "ax0"], ["unsq"], name="unsqueeze"),
        H.make_node("Squeeze", ["unsq", "ax0"], ["sq"], name="squeeze"),
        H.make_node("Softmax", ["inv"], ["softmax"], name="softmax"),
        # Positions counted as exporters write them: cumsum(mask) - 1 (int64), and a float
        # CumSum backwards, exclusive, along the inner axis.
        const("mask", [[0, 1, 1, 1, 0, 1], [1, 1, 1, 1, 1, 1]], i64),
        H.make_node("CumSum", ["mask", "one_i"], ["csum"], name="cumsum_i"),
        H.make_node("Sub", ["csum", "one_i"], ["counted"], name="count_pos"),
        H.make_node("CumSum", ["outer", "one_i"], ["csum_f"], name="cumsum_f", exclusive=1, reverse=1),
    ]
    if opset >= 18:
        n += [H.make_node("ReduceMax", ["hw", "ax0"], ["maxhw"], name="reducemax", keepdims=0),
              H.make_node("Split", ["outer"], ["sp0", "sp1"], name="split", axis=1, num_outputs=2)]
    else:
        n += [H.make_node("ReduceMax", ["hw"], ["maxhw"], name="reducemax", axes=[0], keepdims=0),
              const("sizes", [1, 3], i64),
              H.make_node("Split", ["outer", "sizes"], ["sp0", "sp1"], name="split", axis=1)]
    n += [const("idx1", [1], i64),
          H.make_node("Gather", ["maxhw", "idx1"], ["wmax"], name="gather_w", axis=0),
          H.make_node("Squeeze", ["wmax"], ["wmax_s"], name="squeeze_w"),
          H.make_node("Range", ["zero_i", "wmax_s", "one_i"], ["rng"], name="range_i")]
    outs = ["outer", "hw", "maxhw", "rng", "cos", "sin", "tiled", "tr", "rev", "ge", "where", "mm",
            "casted", "reshaped", "shp", "cos_shape", "scattered", "sq", "sp0", "sp1", "counted", "csum_f"]
    g = H.make_graph(n, f"evaluate_op{opset}", [],
                     [H.make_tensor_value_info(o, TensorProto.INT64 if o in INTS else TensorProto.FLOAT, None)
                      for o in outs])
    m = H.make_model(g, opset_imports=[H.make_opsetid("", opset)])
    m.ir_version = 8
    return m, outs


def parse(line):
    name, rest = line.split(": ", 1)
    shape_text, *vals = rest.split(" ")
    shape = [int(d) for d in shape_text.strip("[]").split(",") if d]
    return name, shape, vals


def main():
    tool, work = sys.argv[1], Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    ok = True
    for opset in (17, 18):
        model, outs = build(opset)
        path = work / f"evaluate_op{opset}.onnx"
        onnx.save(model, path)
        want = ort.run(path, {}, optimization="disabled")
        res = subprocess.run([tool, str(path), "--debug-evaluate", ",".join(outs + ["softmax"])],
                             capture_output=True, text=True)
        if res.returncode:
            print(f"FAIL opset {opset}: {res.stderr.strip()}")
            return 1
        for line in res.stdout.splitlines():
            if ": " not in line or line.startswith("mrope-fix"):
                continue
            if line.startswith("softmax: "):
                print(f"opset {opset}: {line}")
                continue
            if "cannot evaluate" in line:
                print(f"FAIL opset {opset}: {line}")
                ok = False
                continue
            name, shape, vals = parse(line)
            w = np.asarray(want[name])
            got = np.array([float(v) for v in vals]).reshape(shape)
            if list(w.shape) != shape:
                print(f"FAIL opset {opset} {name}: shape {shape} vs ORT {list(w.shape)}")
                ok = False
            elif np.issubdtype(w.dtype, np.integer):
                if not np.array_equal(got.astype(np.int64), w):
                    print(f"FAIL opset {opset} {name}: {got} vs ORT {w}")
                    ok = False
            elif np.max(np.abs(got - w), initial=0) > 1e-6:
                print(f"FAIL opset {opset} {name}: max diff {np.max(np.abs(got - w))}")
                ok = False
        print(f"opset {opset}: {len(outs)} outputs compared with ONNX Runtime")
    print("ok" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
