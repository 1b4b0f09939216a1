"""A kernel compiled from a model's RoPE site against the numpy reference
fed the model's own inv_freq constant (read back from the ONNX file).
Tolerance as in check_cpu_kernel.py (same arithmetic, cos/sin within 1 ulp).

usage: check_model_kernel.py LIB.so MODEL.onnx
"""
import os
import sys

import numpy as np
import onnx
import onnx.numpy_helper

from mrope import reference
from mrope.cpu_kernel import CpuKernel


def model_inv_freq(path):
    """The model's frequency table: the float constant that starts at 1 and decreases."""
    m = onnx.load(path)
    tensors = [onnx.numpy_helper.to_array(t) for t in m.graph.initializer]
    tensors += [onnx.numpy_helper.to_array(a.t) for n in m.graph.node if n.op_type == "Constant"
                for a in n.attribute if a.name == "value"]
    for t in tensors:
        v = t.reshape(-1)
        if v.dtype == np.float32 and v.size >= 2 and v[0] == 1 and np.all(np.diff(v) <= 0) \
                and np.all(v > 0):
            return v
    raise SystemExit("no inv_freq constant found")


def main():
    lib, model = sys.argv[1], sys.argv[2]
    inv = model_inv_freq(model)
    sections = [4, 6, 6]
    head_dim = 2 * inv.size
    kern = CpuKernel(sections=sections, head_dim=head_dim, theta=0, library=lib, name="small")
    rng = np.random.default_rng(7)
    q = rng.uniform(-5, 5, size=(2, 3, 9, head_dim)).astype(np.float32)
    k = rng.uniform(-5, 5, size=(2, 1, 9, head_dim)).astype(np.float32)
    pos = rng.integers(0, 1 << 15, size=(3, 2, 9), dtype=np.int64)
    want_q = reference.apply_rope(q, pos, sections=sections, theta=0, inv_freq=inv)
    want_k = reference.apply_rope(k, pos, sections=sections, theta=0, inv_freq=inv)
    kern(q, k, pos)
    err = max(np.abs(q - want_q).max(), np.abs(k - want_k).max())
    ok = err <= 4e-6
    print(f"{'ok' if ok else 'FAIL'} kernel from {os.path.basename(model)}: "
          f"max |kernel - reference with the model's inv_freq| = {err:.2e}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
