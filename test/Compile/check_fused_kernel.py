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
The cache is placed at a chosen address: 64-byte aligned, so the calls
with caches of >= NAME_STREAMING_MIN_BYTES (S = 4096 and larger) take the
library's non-temporal-store path, and once 16 bytes off, where the same
call must take the plain path; the line says which. Both must match the reference.
The second thread comes from a pool the library keeps between calls: after
the 2-thread calls the process has exactly one thread more than before the
first call, and more calls do not add any (Linux /proc/self/task).

Tolerance: 2e-6 absolute (the issue's bound). The reference normalizes in
float64 and rotates in float32 like the kernel; the kernel's f32 sum of 128
squares is off by a few ulp relative, which moves outputs (|y| < ~3) by
~1e-7..1e-6; cos/sin of positions < 32768 are accurate to ~1e-7 relative
(see test/Conversion/RopeToLoops/check_cpu_kernel.py). The maximum seen is
printed. Cache rows outside the slot, and k itself, must keep their bits.

bf16 (third argument): q, k and the cache hold bf16 bits. The reference
widens them, normalizes in float64, rounds the normalized rows to bf16 (a
bf16 RMSNorm's output, which the kernel rounds too), rotates in float32
and rounds once. Tolerance: 2 bf16 units at |y| < 4 (2 * 2^-6): one for
the final rounding and one where the kernel's f32 sum of squares puts a
normalized value on the other side of a bf16 rounding boundary than the
float64 reference does. The share of bit-identical outputs is printed.

usage: check_fused_kernel.py LIB.so HEADER.h [f32|bf16]
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
dtype = sys.argv[3] if len(sys.argv) > 3 else "f32"
if dtype == "bf16":
    TOL = 2 * 2.0 ** -6
header = open(header_path).read()
eps = float(re.search(r"#define \w+_EPS ([0-9.e+-]+)f", header).group(1))
stream_min = int(re.search(r"#define \w+_STREAMING_MIN_BYTES (\d+)", header).group(1))
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


def widen(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def narrow(x):
    bits = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def storage(x):
    """x (f32) as the kernel stores it, and its value as f32."""
    if dtype == "f32":
        return x, x
    bits = narrow(x)
    return bits, widen(bits)


def value(a):
    return a if dtype == "f32" else widen(a)


def placed(a, shift):
    """A copy of `a` whose data starts `shift` bytes past a 64-byte boundary."""
    raw = np.empty(a.nbytes + 128, np.uint8)
    start = (shift - raw.ctypes.data) % 64
    out = raw[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def run(q, k, wq, wk, cache, off, pos, threads, shift=0):
    q, cache = q.copy(), placed(cache, shift)
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
CASES = [(1, 37, 64, 5, 0), (2, 16, 48, 0, 0), (1, 1, 64, 40, 0), (3, 1, 32, 31, 0),
         (1, 300, 512, 100, 0), (1, 4096, 4200, 50, 0), (1, 4096, 4200, 50, 16),
         (1, 16384, 16384, 0, 0)]
if dtype == "bf16":  # 2 bytes: twice the tokens for two threads' worth of bytes
    CASES = CASES[:5] + [(1, 8192, 8200, 8, 0), (1, 8192, 8200, 8, 16)]
same_bits = total = 0
for B, S, cache_len, off, shift in CASES:
    cache_bytes = B * HK * cache_len * D * (4 if dtype == "f32" else 2)
    path = "streaming" if cache_bytes >= stream_min and shift == 0 else "plain"
    q, qv = storage(rng.uniform(-2, 2, size=(B, HQ, S, D)).astype(np.float32))
    k, kv = storage(rng.uniform(-2, 2, size=(B, HK, S, D)).astype(np.float32))
    wq = rng.uniform(0.5, 1.5, size=(D,)).astype(np.float32)
    wk = rng.uniform(0.5, 1.5, size=(D,)).astype(np.float32)
    pos = np.ascontiguousarray(rng.integers(0, 32768, size=(3, B, S), dtype=np.int64))
    cache, cachev = storage(rng.uniform(-1, 1, size=(B, HK, cache_len, D)).astype(np.float32))
    want_q, want_k = (reference.apply_rope(value(storage(rms_ref(x, w))[0]), pos, sections=SECTIONS,
                                           theta=THETA, interleaved=True)
                      for x, w in ((qv, wq), (kv, wk)))
    want_q, want_k = value(storage(want_q)[0]), value(storage(want_k)[0])
    want_cache = cachev.copy()
    want_cache[:, :, off:off + S] = want_k
    results = []
    for threads in (1, 2):
        rc, got_q, got_cache = run(q, k, wq, wk, cache, off, pos, threads, shift)
        got_q, got_cachev = value(got_q), value(got_cache)
        err = max(np.abs(got_q - want_q).max(), np.abs(got_cachev - want_cache).max())
        if threads == 1:
            same_bits += int(np.count_nonzero(got_q == want_q))
            same_bits += int(np.count_nonzero(got_cachev[:, :, off:off + S] == want_k))
            total += got_q.size + want_k.size
        outside = np.ones(cache_len, bool)
        outside[off:off + S] = False
        kept = np.array_equal(got_cache[:, :, outside], cache[:, :, outside])
        ok = rc == 0 and err <= TOL and kept
        failed += not ok
        results.append((got_q, got_cache))
        print(f"{'ok' if ok else 'FAIL'} B={B} S={S} cache={cache_len} offset={off} "
              f"threads={threads} {path} stores: rc={rc} max |diff| = {err:.2e} (tol {TOL:g}), "
              f"other cache rows {'kept' if kept else 'CHANGED'}")
    same = all(np.array_equal(a, b) for a, b in zip(results[0], results[1]))
    failed += not same
    print(f"{'ok' if same else 'FAIL'} B={B} S={S} {path}: 1 and 2 threads identical")

# The pool: one worker alive between calls, none added by more calls.
pooled = [tasks()]
for _ in range(3):
    run(q, k, wq, wk, cache, off, pos, 2)
    pooled.append(tasks())
pool_ok = pooled == [tasks_before + 1] * 4
failed += not pool_ok
print(f"{'ok' if pool_ok else 'FAIL'} threads before the first call {tasks_before}, "
      f"after 2-thread calls {pooled}")

print(f"{dtype}: {same_bits}/{total} outputs bit-identical to the reference")

# Bad sizes: the slot would run past the cache.
elem = np.float32 if dtype == "f32" else np.uint16
q = np.zeros((1, HQ, 4, D), elem)
k = np.zeros((1, HK, 4, D), elem)
w = np.ones(D, np.float32)
cache = np.zeros((1, HK, 8, D), elem)
pos = np.zeros((3, 1, 4), np.int64)
rc = fn(ptr(q), ptr(k), ptr(w), ptr(w), ptr(cache), 8, 5, HQ, HK, ptr(pos), 1, 4, 1)
bad_ok = rc == -1 and not cache.any()
failed += not bad_ok
print(f"{'ok' if bad_ok else 'FAIL'} offset 5 + 4 tokens > cache 8: rc={rc}")
# fused_threads: the header's rule (one thread per MIN_BYTES_PER_THREAD
# bytes of q and k, at most the asked count, at most one per token).
min_bytes = int(re.search(r"#define \w+_MIN_BYTES_PER_THREAD (\d+)", header).group(1))
threads_fn = lib.fused_threads
threads_fn.restype = ctypes.c_int
threads_fn.argtypes = [I, I, I, I, ctypes.c_int]
esize = 4 if dtype == "f32" else 2
for B, S, asked in ((1, 1, 8), (64, 1, 16), (1, 4096, 2), (1, 4096, 64)):
    want = max(1, min(asked, S, int((HQ + HK) * B * S * D * esize / min_bytes)))
    got = threads_fn(HQ, HK, B, S, asked)
    failed += got != want
    print(f"{'ok' if got == want else 'FAIL'} fused_threads B={B} S={S} asked {asked}: {got} (want {want})")
got = threads_fn(HQ + 1, HK, 1, 1, 1)
failed += got != -1
print(f"{'ok' if got == -1 else 'FAIL'} fused_threads with the wrong q heads: {got}")
print(f"{'FAIL' if failed else 'ok'}: {failed} failed")
sys.exit(1 if failed else 0)
