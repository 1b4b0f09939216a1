//===- mrope_cuda_launch.cpp - run mrope-compile's CUDA kernels -----------===//
#include "mrope_cuda_launch.h"

#include <cuda.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

struct mrope_cuda_kernel {
  CUdevice device;
  CUcontext context; // the primary context (retained)
  CUmodule module;
  CUfunction function;
};

static void say(char *buf, size_t size, const std::string &text) {
  if (buf && size)
    std::snprintf(buf, size, "%s", text.c_str());
}

static std::string describe(CUresult rc) {
  const char *name = nullptr, *text = nullptr;
  cuGetErrorName(rc, &name);
  cuGetErrorString(rc, &text);
  return std::string(name ? name : "CUDA error") + " (" + std::to_string(rc) +
         "): " + (text ? text : "");
}

extern "C" mrope_cuda_kernel *mrope_cuda_load(const char *path,
                                              const char *entry, int device,
                                              char *log, size_t log_size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    say(log, log_size, std::string("cannot read ") + path);
    return nullptr;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string image = ss.str(); // PTX must be NUL-terminated: std::string is

  auto *k = new mrope_cuda_kernel();
  CUresult rc = cuInit(0);
  if (rc == CUDA_SUCCESS)
    rc = cuDeviceGet(&k->device, device);
  if (rc == CUDA_SUCCESS)
    rc = cuDevicePrimaryCtxRetain(&k->context, k->device);
  if (rc == CUDA_SUCCESS)
    rc = cuCtxSetCurrent(k->context);
  if (rc != CUDA_SUCCESS) {
    say(log, log_size, "CUDA initialization failed: " + describe(rc));
    delete k;
    return nullptr;
  }

  // The PTX JIT's logs: errors explain a rejected PTX (version, target).
  std::vector<char> errorLog(16384, 0), infoLog(16384, 0);
  CUjit_option options[] = {
      CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
      CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
      CU_JIT_LOG_VERBOSE};
  void *values[] = {
      errorLog.data(), reinterpret_cast<void *>(uintptr_t(errorLog.size())),
      infoLog.data(), reinterpret_cast<void *>(uintptr_t(infoLog.size())),
      reinterpret_cast<void *>(uintptr_t(1))};
  rc = cuModuleLoadDataEx(&k->module, image.c_str(), 5, options, values);
  if (rc != CUDA_SUCCESS) {
    say(log, log_size,
        std::string("cuModuleLoadDataEx(") + path +
            ") failed: " + describe(rc) + "\nJIT error log:\n" +
            errorLog.data() + "\nJIT info log:\n" + infoLog.data());
    cuDevicePrimaryCtxRelease(k->device);
    delete k;
    return nullptr;
  }
  rc = cuModuleGetFunction(&k->function, k->module, entry);
  if (rc != CUDA_SUCCESS) {
    say(log, log_size,
        std::string("no entry '") + entry + "' in " + path + ": " +
            describe(rc));
    cuModuleUnload(k->module);
    cuDevicePrimaryCtxRelease(k->device);
    delete k;
    return nullptr;
  }
  say(log, log_size, infoLog.data());
  return k;
}

/// Launches `kernel` on `grid` x 1 x 1 blocks of block_x x block_y threads
/// with `words` as its 64-bit parameters (kernelParams points into them).
static int launch(mrope_cuda_kernel *kernel, int64_t grid, int block_x,
                  int block_y, std::vector<uint64_t> &words, void *stream,
                  char *err, size_t err_size) {
  std::vector<void *> params;
  for (uint64_t &w : words)
    params.push_back(&w);
  CUresult rc = cuCtxSetCurrent(kernel->context);
  if (rc == CUDA_SUCCESS)
    rc = cuLaunchKernel(kernel->function, unsigned(grid), 1, 1,
                        unsigned(block_x), unsigned(block_y), 1, 0,
                        reinterpret_cast<CUstream>(stream), params.data(),
                        nullptr);
  if (rc != CUDA_SUCCESS) {
    say(err, err_size, "cuLaunchKernel failed: " + describe(rc));
    return int(rc);
  }
  return 0;
}

extern "C" int mrope_cuda_launch(mrope_cuda_kernel *kernel, uint64_t q,
                                 uint64_t k, uint64_t positions, int64_t batch,
                                 int64_t seq, int64_t q_heads, int64_t kv_heads,
                                 int64_t head_dim, int64_t axes,
                                 int num_tensors, int block_x, int block_y,
                                 void *stream, char *err, size_t err_size) {
  if (!kernel || batch < 0 || seq < 0 || q_heads < 0 || kv_heads < 0 ||
      head_dim <= 0 || axes <= 0 || block_x <= 0 || block_y <= 0 ||
      (num_tensors != 1 && num_tensors != 2)) {
    say(err, err_size, "bad arguments");
    return -1;
  }
  if (((q | (num_tensors == 2 ? k : 0)) & 15) != 0) {
    say(err, err_size, "q and k must be 16-byte aligned device pointers");
    return -1;
  }
  int64_t tokens = batch * seq;
  if (tokens == 0)
    return 0; // nothing to rotate; a zero-sized grid is an error for CUDA
  int64_t grid = (tokens + block_y - 1) / block_y;
  if (grid > 0x7fffffff) {
    say(err, err_size, "too many tokens for one launch");
    return -1;
  }

  // Expanded memref descriptors: allocated, aligned, offset, sizes, strides
  // (64-bit each), in the order q, [k,] positions.
  std::vector<uint64_t> words;
  auto descriptor = [&](uint64_t ptr, std::vector<int64_t> sizes) {
    words.push_back(ptr);
    words.push_back(ptr);
    words.push_back(0);
    for (int64_t s : sizes)
      words.push_back(uint64_t(s));
    for (size_t i = 0; i < sizes.size(); ++i) {
      int64_t stride = 1;
      for (size_t j = i + 1; j < sizes.size(); ++j)
        stride *= sizes[j];
      words.push_back(uint64_t(stride));
    }
  };
  descriptor(q, {batch, q_heads, seq, head_dim});
  if (num_tensors == 2)
    descriptor(k, {batch, kv_heads, seq, head_dim});
  descriptor(positions, {axes, batch, seq});
  return launch(kernel, grid, block_x, block_y, words, stream, err, err_size);
}

extern "C" int mrope_cuda_launch_words(mrope_cuda_kernel *kernel,
                                       int64_t grid_x, int block_x, int block_y,
                                       const uint64_t *words, int num_words,
                                       void *stream, char *err,
                                       size_t err_size) {
  if (!kernel || grid_x <= 0 || grid_x > 0x7fffffff || block_x <= 0 ||
      block_y <= 0 || num_words < 0 || (num_words > 0 && !words)) {
    say(err, err_size, "bad arguments");
    return -1;
  }
  std::vector<uint64_t> copy(words, words + num_words);
  return launch(kernel, grid_x, block_x, block_y, copy, stream, err, err_size);
}

extern "C" void mrope_cuda_unload(mrope_cuda_kernel *kernel) {
  if (!kernel)
    return;
  cuModuleUnload(kernel->module);
  cuDevicePrimaryCtxRelease(kernel->device);
  delete kernel;
}
