//===- mrope-cuda-launch.cpp - load and smoke-run an mrope CUDA kernel ----===//
//
//   mrope-cuda-launch KERNEL.ptx [--entry NAME] [--block X,Y] [--batch B]
//       [--seq S] [--q-heads H] [--kv-heads H|-1] [--head-dim D] [--axes A]
//       [--elem-bytes 4|2]
//
// Loads the module (printing the PTX JIT log when the driver rejects it),
// runs the kernel once on zeroed device buffers and reports the launch and
// execution status. Correctness and speed are checked by
// scripts/device/gpu_check.py, which uses libmrope_cuda_launch.
//
//===----------------------------------------------------------------------===//
#include "mrope_cuda_launch.h"

#include <cuda.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

static int usage() {
  std::fprintf(
      stderr, "usage: mrope-cuda-launch KERNEL.ptx|KERNEL.cubin [--entry "
              "NAME] [--block X,Y] [--batch B] [--seq S] [--q-heads H] "
              "[--kv-heads H|-1] [--head-dim D] [--axes A] [--elem-bytes N]\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2)
    return usage();
  const char *path = argv[1];
  std::string entry = "mrope_rope_kernel";
  int blockX = 16, blockY = 8;
  long long batch = 1, seq = 37, qHeads = 28, kvHeads = 4, headDim = 128,
            axes = 3, elemBytes = 4;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc)
      return usage();
    const char *v = argv[++i];
    if (a == "--entry")
      entry = v;
    else if (a == "--block") {
      if (std::sscanf(v, "%d,%d", &blockX, &blockY) != 2)
        return usage();
    } else if (a == "--batch")
      batch = std::atoll(v);
    else if (a == "--seq")
      seq = std::atoll(v);
    else if (a == "--q-heads")
      qHeads = std::atoll(v);
    else if (a == "--kv-heads")
      kvHeads = std::atoll(v);
    else if (a == "--head-dim")
      headDim = std::atoll(v);
    else if (a == "--axes")
      axes = std::atoll(v);
    else if (a == "--elem-bytes")
      elemBytes = std::atoll(v);
    else
      return usage();
  }
  char log[32768] = {0};
  mrope_cuda_kernel *kernel =
      mrope_cuda_load(path, entry.c_str(), 0, log, sizeof(log));
  if (!kernel) {
    std::fprintf(stderr, "mrope-cuda-launch: %s\n", log);
    return 1;
  }
  if (*log)
    std::printf("JIT info log:\n%s\n", log);
  int numTensors = kvHeads < 0 ? 1 : 2;
  size_t qBytes = size_t(batch * qHeads * seq * headDim * elemBytes);
  size_t kBytes =
      numTensors == 2 ? size_t(batch * kvHeads * seq * headDim * elemBytes) : 0;
  size_t pBytes = size_t(axes * batch * seq * 8);
  CUdeviceptr q = 0, k = 0, p = 0;
  auto check = [&](CUresult rc, const char *what) {
    if (rc == CUDA_SUCCESS)
      return true;
    const char *text = nullptr;
    cuGetErrorString(rc, &text);
    std::fprintf(stderr, "mrope-cuda-launch: %s failed: %s\n", what,
                 text ? text : "?");
    return false;
  };
  bool ok =
      check(cuMemAlloc(&q, qBytes ? qBytes : 16), "cuMemAlloc(q)") &&
      (numTensors == 1 ||
       check(cuMemAlloc(&k, kBytes ? kBytes : 16), "cuMemAlloc(k)")) &&
      check(cuMemAlloc(&p, pBytes ? pBytes : 16), "cuMemAlloc(pos)") &&
      check(cuMemsetD8(q, 0, qBytes), "cuMemsetD8") &&
      (numTensors == 1 || check(cuMemsetD8(k, 0, kBytes), "cuMemsetD8")) &&
      check(cuMemsetD8(p, 0, pBytes), "cuMemsetD8");
  if (ok) {
    char err[1024] = {0};
    int rc = mrope_cuda_launch(
        kernel, q, k, p, batch, seq, qHeads, kvHeads < 0 ? 0 : kvHeads, headDim,
        axes, numTensors, blockX, blockY, nullptr, err, sizeof(err));
    if (rc != 0) {
      std::fprintf(stderr, "mrope-cuda-launch: %s\n", err);
      ok = false;
    } else {
      ok = check(cuCtxSynchronize(), "kernel execution");
    }
  }
  if (q)
    cuMemFree(q);
  if (k)
    cuMemFree(k);
  if (p)
    cuMemFree(p);
  mrope_cuda_unload(kernel);
  if (ok)
    std::printf("mrope-cuda-launch: %s: %s ran on %lld tokens\n", path,
                entry.c_str(), batch * seq);
  return ok ? 0 : 1;
}
