"""Helpers for external-data.test (mrope-fix on a model whose weights are
external data).

  save IN.onnx OUT.onnx   IN with every initializer in OUT.onnx.data
  same A.onnx B.onnx      A and B compute the same in ONNX Runtime on one
                          feed (tolerance 0: the same graph, only where the
                          weights are stored differs); prints "same"
"""
import sys

import numpy as np
import onnx

from mrope import ort


def save(src, dst):
    m = onnx.load(src)
    onnx.save_model(m, dst, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=dst.rsplit("/", 1)[-1] + ".data", size_threshold=0)


def feed(model, batch=1, seq=8):
    rng = np.random.default_rng(0)
    out = {}
    for vi in model.graph.input:
        tt = vi.type.tensor_type
        shape = [d.dim_value or {"batch": batch}.get(d.dim_param, seq) for d in tt.shape.dim]
        if tt.elem_type == onnx.TensorProto.FLOAT:
            out[vi.name] = rng.standard_normal(shape).astype(np.float32)
        elif "mask" in vi.name:
            out[vi.name] = np.ones(shape, np.int64)
        else:  # positions: arange along the last axis, on every row
            out[vi.name] = np.broadcast_to(np.arange(shape[-1], dtype=np.int64), shape).copy()
    return out


def same(a, b):
    inputs = feed(onnx.load(a, load_external_data=False))
    ra, rb = ort.run(a, inputs), ort.run(b, inputs)
    for name in ra:
        diff = float(np.max(np.abs(ra[name] - rb[name])))
        if diff != 0.0:
            sys.exit(f"{name}: max diff {diff}")
    print("same")


if __name__ == "__main__":
    {"save": save, "same": same}[sys.argv[1]](*sys.argv[2:])
