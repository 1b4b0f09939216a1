"""The C wrapper's work-size rule: how many threads a call uses.

A call uses at most num_threads threads, at most one per token, and at most
one per MIN_BYTES_PER_THREAD bytes of q and k (the header's constant), so
small calls (decode, short prompts) stay on the calling thread. Checked
through the library's NAME_threads query, and by running the kernel on one
thread and on the pool and comparing the results bit for bit (each token is
rotated by exactly one thread, so the split cannot change a value).
"""
import ctypes
import re
import sys

import numpy as np

lib_path, header_path, dtype = sys.argv[1], sys.argv[2], sys.argv[3]
header = open(header_path).read()
min_bytes = int(re.search(r"#define \w+_MIN_BYTES_PER_THREAD (\d+)", header).group(1))
lib = ctypes.CDLL(lib_path)
threads = lib.mrope_rope_threads
threads.restype = ctypes.c_int
threads.argtypes = [ctypes.c_int64] * 4 + [ctypes.c_int]

D, HQ, HK = 128, 32, 8
elem = {"f32": 4, "f16": 2}[dtype]
per_token = (HQ + HK) * D * elem


def expect(batch, seq, asked, want):
    got = threads(HQ, HK, batch, seq, asked)
    if got != want:
        sys.exit(f"FAIL: B={batch} S={seq} asked {asked}: {got} threads, want {want}")
    print(f"B={batch} S={seq} asked {asked}: {got}")


# Below one thread's worth of bytes: one thread, whatever is asked.
small = max(1, min_bytes // per_token - 1)
expect(1, small, 2, 1)
expect(1, small, 16, 1)
# Decode: one token per row, any batch up to 64: never more than one thread.
for b in (1, 8, 64):
    expect(b, 1, 16, 1)
# Exactly k threads' worth of bytes: k threads when asked for more.
for k in (2, 3):
    seq = -(-k * min_bytes // per_token)  # the fewest tokens with k threads' bytes
    expect(1, seq, 16, k)
    expect(1, seq, 2, 2)
# The batch counts towards the bytes.
expect(4, small, 16, min(16, (4 * small * per_token) // min_bytes))
# Bad sizes stay an error.
expect(1, -1, 2, -1)

# The pool splits the tokens; the results must not depend on how.
kernel = lib.mrope_rope
np_t = {"f32": np.float32, "f16": np.float16}[dtype]
ptr = ctypes.POINTER(ctypes.c_uint16 if dtype == "f16" else ctypes.c_float)
kernel.restype = ctypes.c_int
kernel.argtypes = [ptr, ptr, ctypes.c_int64, ctypes.c_int64,
                   ctypes.POINTER(ctypes.c_int64), ctypes.c_int64, ctypes.c_int64, ctypes.c_int]
seq = 2 * min_bytes // per_token + 7
assert threads(HQ, HK, 1, seq, 2) == 2
rng = np.random.default_rng(0)
q0 = rng.uniform(-1, 1, (1, HQ, seq, D)).astype(np_t)
k0 = rng.uniform(-1, 1, (1, HK, seq, D)).astype(np_t)
pos = np.ascontiguousarray(np.stack([np.arange(seq)] * 3)[:, None, :].astype(np.int64))
outs = []
for t in (1, 2):
    q, k = q0.copy(), k0.copy()
    rc = kernel(q.ctypes.data_as(ptr), k.ctypes.data_as(ptr), HQ, HK,
                pos.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)), 1, seq, t)
    assert rc == 0
    outs.append((q, k))
if not (np.array_equal(outs[0][0], outs[1][0]) and np.array_equal(outs[0][1], outs[1][1])):
    sys.exit("FAIL: one thread and two threads differ")
if np.array_equal(outs[0][0], q0):
    sys.exit("FAIL: the kernel did not rotate q")
print(f"S={seq}: 1 and 2 threads identical")
