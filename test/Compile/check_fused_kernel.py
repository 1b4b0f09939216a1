"""The fused kernel of `mrope-compile --fuse norm,cache`, run through its C
ABI (ctypes) against the unfused reference in numpy: RMSNorm of each q and
k head over D (weight per channel, eps), then M-RoPE
(mrope.reference.apply_rope), then k copied into the cache at the offset.

Seeded shapes (GQA 32/8 heads scaled down to 8/2, D = 128, Qwen3-VL
interleaved sections [24, 20, 20]): a prefill with a tail tile, a batch of
rows, S = 1 decode steps writing at a cache offset, and S = 4096 (20 MiB of
q and k: the only one big enough for the work-size rule to really use two
threads) and S = 16384 (1024 token blocks: the rotation's stack tables
must not grow the stack per block; they overflowed 8 MiB before the
pipeline hoisted them); each on 1 and on 2 threads, identical results.
The second thread comes from a pool the library keeps between calls: after
the 2-thread calls the process has exactly one thread more than before the
first call, and more calls do not add any (Linux /proc/self/task).

Tolerance: 2e-6 absolute (the issue's bound). The reference normalizes in
float64 and rotates in float32 like the kernel; the kernel's f32 sum of 128
squares is off by a few ulp relative, which moves outputs (|y| < ~3) by
~1e-7..1e-6; cos/sin of positions < 32768 are accurate to ~1e-7 relative
(see test/Conversion/RopeToLoops/check_cpu_kernel.py). The maximum seen is
printed. Cache rows outside the slot, and k itself, must keep their bits.

usage: check_fused_kernel.py LIB.so HEADER.h
"""
import ctypes
import os
import re
import sys

import numpy as np

from mrope import reference

SECTIONS = (24, 20, 20)
THETA = 5.0e6
HQ, HK, D = 8, 2, 128
TOL = 2e-6

lib_path, header_path = sys.argv[1], sys.argv[2]
header = open(header_path).read()
eps = float(re.search(r"#define \w+_EPS ([0-9.e+-]+)f", header).group(1))
lib = ctypes.CDLL(lib_path)
fn = lib.fused
fn.restype = ctypes.c_int
P = ctypes.c_void_p
I = ctypes.c_int64
fn.argtypes = [P, P, P, P, P, I, I, I, I, P, I, I, ctypes.c_int]


def ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


def rms_ref(x, w):
    x64 = x.astype(np.float64)
    r = 1.0 / np.sqrt(np.mean(x64 * x64, axis=-1, keepdims=True) + eps)
    return (x64 * r * w.astype(np.float64)).astype(np.float32)


def run(q, k, wq, wk, cache, off, pos, threads):
    q, cache = q.copy(), cache.copy()
    k_before = k.copy()
    B, _, S, _ = q.shape
    rc = fn(ptr(q), ptr(k), ptr(wq), ptr(wk), ptr(cache), cache.shape[2], off, HQ, HK,
            ptr(pos), B, S, threads)
    assert np.array_equal(k, k_before), "k was written"
    return rc, q, cache


def tasks():
    return len(os.listdir("/proc/self/task"))


tasks_before = tasks()
failed = 0
rng = np.random.default_rng(22)
for B, S, cache_len, off in [(1, 37, 64, 5), (2, 16, 48, 0), (1, 1, 64, 40), (3, 1, 32, 31),
                             (1, 300, 512, 100), (1, 4096, 4200, 50),
                             (1, 16384, 16384, 0)]:
    q = rng.uniform(-2, 2, size=(B, HQ, S, D)).astype(np.float32)
    k = rng.uniform(-2, 2, size=(B, HK, S, D)).astype(np.float32)
    wq = rng.uniform(0.5, 1.5, size=(D,)).astype(np.float32)
    wk = rng.uniform(0.5, 1.5, size=(D,)).astype(np.float32)
    pos = np.ascontiguousarray(rng.integers(0, 32768, size=(3, B, S), dtype=np.int64))
    cache = rng.uniform(-1, 1, size=(B, HK, cache_len, D)).astype(np.float32)
    want_q = reference.apply_rope(rms_ref(q, wq), pos, sections=SECTIONS, theta=THETA,
                                  interleaved=True)
    want_k = reference.apply_rope(rms_ref(k, wk), pos, sections=SECTIONS, theta=THETA,
                                  interleaved=True)
    want_cache = cache.copy()
    want_cache[:, :, off:off + S] = want_k
    results = []
    for threads in (1, 2):
        rc, got_q, got_cache = run(q, k, wq, wk, cache, off, pos, threads)
        err = max(np.abs(got_q - want_q).max(), np.abs(got_cache - want_cache).max())
        outside = np.ones(cache_len, bool)
        outside[off:off + S] = False
        kept = np.array_equal(got_cache[:, :, outside], cache[:, :, outside])
        ok = rc == 0 and err <= TOL and kept
        failed += not ok
        results.append((got_q, got_cache))
        print(f"{'ok' if ok else 'FAIL'} B={B} S={S} cache={cache_len} offset={off} "
              f"threads={threads}: rc={rc} max |diff| = {err:.2e} (tol {TOL:g}), "
              f"other cache rows {'kept' if kept else 'CHANGED'}")
    same = all(np.array_equal(a, b) for a, b in zip(results[0], results[1]))
    failed += not same
    print(f"{'ok' if same else 'FAIL'} B={B} S={S}: 1 and 2 threads identical")

# The pool: one worker alive between calls, none added by more calls.
pooled = [tasks()]
for _ in range(3):
    run(q, k, wq, wk, cache, off, pos, 2)
    pooled.append(tasks())
pool_ok = pooled == [tasks_before + 1] * 4
failed += not pool_ok
print(f"{'ok' if pool_ok else 'FAIL'} threads before the first call {tasks_before}, "
      f"after 2-thread calls {pooled}")

# Bad sizes: the slot would run past the cache.
q = np.zeros((1, HQ, 4, D), np.float32)
k = np.zeros((1, HK, 4, D), np.float32)
w = np.ones(D, np.float32)
cache = np.zeros((1, HK, 8, D), np.float32)
pos = np.zeros((3, 1, 4), np.int64)
rc = fn(ptr(q), ptr(k), ptr(w), ptr(w), ptr(cache), 8, 5, HQ, HK, ptr(pos), 1, 4, 1)
bad_ok = rc == -1 and not cache.any()
failed += not bad_ok
print(f"{'ok' if bad_ok else 'FAIL'} offset 5 + 4 tokens > cache 8: rc={rc}")
print(f"{'FAIL' if failed else 'ok'}: {failed} failed")
sys.exit(1 if failed else 0)
