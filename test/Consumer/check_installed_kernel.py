"""Loads a kernel that an installed mrope-compile built (ctypes dlopen) and
compares it with the numpy reference on random data.

Tolerance 4e-6, as test/Conversion/RopeToLoops/check_cpu_kernel.py argues:
the same f32 products as the reference, cos/sin within 1 ulp, |x| < 5.
"""
import sys

import numpy as np

from mrope import reference
from mrope.cpu_kernel import CpuKernel

TOL = 4e-6
library = sys.argv[1]
sections, head_dim, theta = [16, 24, 24], 128, 1.0e6
kern = CpuKernel(sections=sections, head_dim=head_dim, theta=theta, q_heads=4, kv_heads=2,
                 library=library)
rng = np.random.default_rng(0)
q = rng.uniform(-5, 5, size=(2, 4, 7, head_dim)).astype(np.float32)
k = rng.uniform(-5, 5, size=(2, 2, 7, head_dim)).astype(np.float32)
pos = rng.integers(0, 4096, size=(3, 2, 7), dtype=np.int64)
got_q, got_k = q.copy(), k.copy()
kern(got_q, got_k, pos)
err = max(np.abs(got_q - reference.apply_rope(q, pos, sections=sections, theta=theta)).max(),
          np.abs(got_k - reference.apply_rope(k, pos, sections=sections, theta=theta)).max())
print(f"{'ok' if err <= TOL else 'FAIL'}: installed kernel, max |kernel - reference| = {err:.2e} "
      f"(tol {TOL:g})")
sys.exit(0 if err <= TOL else 1)
