/*===- mrope_cuda_launch.h - run mrope-compile's CUDA kernels ------*- C -*-===*
 *
 * A small launcher on the CUDA driver API (Debian ships no
 * libmlir_cuda_runtime). It loads the PTX (JIT-compiled by the driver, with
 * the JIT error log returned on failure) or cubin that
 * `mrope-compile --target cuda` writes, and launches its one entry point on
 * device buffers, packing the expanded memref descriptors the kernel takes
 * (see KERNEL.json and docs/gpu.md):
 *
 *   q [batch, q_heads, seq, head_dim], k [batch, kv_heads, seq, head_dim]
 *   (contiguous, rotated in place), positions [axes, batch, seq] int64.
 *
 * The module is loaded into the device's primary context, the one the CUDA
 * runtime (and PyTorch) use, so device pointers and streams from either work.
 *===----------------------------------------------------------------------===*/
#ifndef MROPE_CUDA_LAUNCH_H
#define MROPE_CUDA_LAUNCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mrope_cuda_kernel mrope_cuda_kernel;

/* Loads `path` (PTX text or cubin) on `device` and looks up `entry`.
 * Returns NULL on failure with the reason (and the PTX JIT error log) in
 * `log`; on success `log` holds the JIT info log (may be empty). */
mrope_cuda_kernel *mrope_cuda_load(const char *path, const char *entry,
                                   int device, char *log, size_t log_size);

/* Launches the kernel on `stream` (a CUstream / cudaStream_t, 0: default).
 * `k` is ignored when num_tensors == 1. block_x/block_y must be the JSON's
 * "block" (the kernel's block size is fixed). Returns 0, or a CUresult (or
 * -1 for bad arguments) with a message in `err`. Asynchronous. */
int mrope_cuda_launch(mrope_cuda_kernel *kernel, uint64_t q, uint64_t k,
                      uint64_t positions, int64_t batch, int64_t seq,
                      int64_t q_heads, int64_t kv_heads, int64_t head_dim,
                      int64_t axes, int num_tensors, int block_x, int block_y,
                      void *stream, char *err, size_t err_size);

/* Launches the kernel with `num_words` 64-bit parameters as they are (every
 * parameter of mrope-compile's kernels is 64-bit; the fused kernel's are
 * listed in its JSON and packed by its header) on a (grid_x, 1, 1) grid of
 * (block_x, block_y, 1) blocks. Returns 0, or a CUresult (or -1 for bad
 * arguments) with a message in `err`. Asynchronous. */
int mrope_cuda_launch_words(mrope_cuda_kernel *kernel, int64_t grid_x,
                            int block_x, int block_y, const uint64_t *words,
                            int num_words, void *stream, char *err,
                            size_t err_size);

void mrope_cuda_unload(mrope_cuda_kernel *kernel);

#ifdef __cplusplus
}
#endif

#endif /* MROPE_CUDA_LAUNCH_H */
