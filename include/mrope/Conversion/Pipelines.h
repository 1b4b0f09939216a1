//===- Pipelines.h - rope ops -> LLVM dialect / PTX pipelines ---*- C++ -*-===//
//
// The two pipelines built from the conversions of Passes.h:
// `mrope-cpu-pipeline` (rope ops -> fused vector loops -> LLVM dialect) and
// `mrope-gpu-pipeline` (rope ops -> gpu kernel -> NVVM -> PTX). Their
// options and builders are public so that the compilers (lib/Compile) build
// them with typed options rather than pipeline strings.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_CONVERSION_PIPELINES_H
#define MROPE_CONVERSION_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

#include <string>

namespace mrope {

struct CpuPipelineOptions : mlir::PassPipelineOptions<CpuPipelineOptions> {
  Option<bool> bufferize{*this, "bufferize",
                         llvm::cl::desc("Bufferize tensor functions first "
                                        "(function boundaries included)"),
                         llvm::cl::init(true)};
  // Forwarded to convert-rope-to-loops (see its options).
  Option<int64_t> tokensPerBlock{
      *this, "tokens-per-block",
      llvm::cl::desc("tokens whose cos/sin are tabulated together"),
      llvm::cl::init(32)};
  Option<int64_t> vectorWidth{
      *this, "vector-width",
      llvm::cl::desc("f32 lanes per vector operation (4, 8, 16)"),
      llvm::cl::init(8)};
  Option<bool> nativeF16{
      *this, "native-f16",
      llvm::cl::desc("the target converts f16 <-> f32 in hardware"),
      llvm::cl::init(false)};
};

struct GpuPipelineOptions : mlir::PassPipelineOptions<GpuPipelineOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("NVIDIA GPU (sm_80, sm_90, ...)"),
                           llvm::cl::init("sm_90")};
  Option<std::string> features{
      *this, "features",
      llvm::cl::desc("NVPTX features; +ptx80 is the PTX ISA 8.0 (CUDA 12.0)"),
      llvm::cl::init("+ptx80")};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("gpu-module-to-binary format: isa (PTX text, default), "
                     "bin or fatbin (need a CUDA toolkit), llvm, offloading"),
      llvm::cl::init("isa")};
  Option<int> optLevel{*this, "opt-level",
                       llvm::cl::desc("LLVM optimization level of the kernel"),
                       llvm::cl::init(3)};
  Option<bool> bufferize{*this, "bufferize",
                         llvm::cl::desc("Bufferize tensor functions first "
                                        "(function boundaries included)"),
                         llvm::cl::init(true)};
  Option<bool> serialize{*this, "serialize",
                         llvm::cl::desc("Run gpu-module-to-binary (off: stop "
                                        "at the NVVM/LLVM dialect)"),
                         llvm::cl::init(true)};
  Option<int64_t> tokensPerBlock{*this, "tokens-per-block",
                                 llvm::cl::desc("See convert-rope-to-gpu"),
                                 llvm::cl::init(0)};
  Option<int64_t> freqsPerThread{*this, "freqs-per-thread",
                                 llvm::cl::desc("See convert-rope-to-gpu"),
                                 llvm::cl::init(0)};
  Option<int64_t> headsPerIteration{*this, "heads-per-iteration",
                                    llvm::cl::desc("See convert-rope-to-gpu"),
                                    llvm::cl::init(4)};
};

/// rope ops (on tensors or memrefs) -> LLVM dialect: bufferize, fused vector
/// loops, then the standard conversions.
void buildCpuPipeline(mlir::OpPassManager &pm,
                      const CpuPipelineOptions &options);

/// rope ops -> NVVM kernels serialized to PTX: bufferize, convert-rope-to-gpu,
/// outlining, convert-gpu-to-nvvm, gpu-module-to-binary.
void buildGpuPipeline(mlir::OpPassManager &pm,
                      const GpuPipelineOptions &options);

/// Registers `mrope-cpu-pipeline` and `mrope-gpu-pipeline`.
void registerConversionPipelines();

} // namespace mrope

#endif // MROPE_CONVERSION_PIPELINES_H
