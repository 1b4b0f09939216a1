//===- GpuCompiler.h - rope kernels -> PTX / cubin for CUDA -----*- C++ -*-===//
//
// What `mrope-compile --target cuda` does: build the kernel module for the
// rotation one rope.apply describes (the same RopeKernel as the CPU target),
// lower it with mrope-gpu-pipeline to a gpu.binary holding PTX, and write the
// PTX (or a cubin made by the CUDA toolkit's ptxas) plus a JSON file describing
// the entry point's ABI and launch geometry. See docs/gpu.md.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_COMPILE_GPUCOMPILER_H
#define MROPE_COMPILE_GPUCOMPILER_H

#include "mrope/Compile/CpuCompiler.h"

#include "llvm/Support/JSON.h"

#include <optional>
#include <string>

namespace mrope {

struct GpuTarget {
  std::string chip = "sm_90";      ///< sm_80, sm_90, ...
  std::string features = "+ptx80"; ///< PTX ISA version for the NVPTX backend
  int64_t tokensPerBlock = 0;      ///< 0: convert-rope-to-gpu's default
  int64_t freqsPerThread = 0;      ///< 0: 16-byte vectors
  int64_t headsPerIteration = 4;
};

/// What a launcher needs to know about the generated kernel.
struct GpuKernelInfo {
  std::string entry;          ///< PTX .entry name
  int64_t blockX = 0;         ///< blockDim.x (frequency groups)
  int64_t blockY = 0;         ///< blockDim.y (tokens per block)
  int64_t freqsPerThread = 0; ///< V
  int64_t vectorAlignment = 0;
  int64_t numParams = 0; ///< .param count (expanded memref descriptors)
};

/// The kernel as MLIR before lowering: `func.func @<name>` (host side) on
/// contiguous memrefs `q [B, Hq, S, D]`, `k [B, Hk, S, D]` (unless q only) and
/// `positions [A, B, S]` (i64), rotating in place with one rope.apply.
mlir::OwningOpRef<mlir::ModuleOp>
buildGpuKernelModule(mlir::MLIRContext &ctx, const RopeKernel &kernel);

/// Runs mrope-gpu-pipeline on `module` (no bufferization). With `serialize`
/// false it stops at the NVVM/LLVM dialect. Fills `info` and checks that the
/// outlined kernel takes exactly the host function's arguments, in order.
mlir::LogicalResult lowerToGpuBinary(mlir::ModuleOp module,
                                     const RopeKernel &kernel,
                                     const GpuTarget &target, bool serialize,
                                     GpuKernelInfo &info, std::string &error);

/// The rest of mrope-gpu-pipeline after the one rope.apply of `module` became
/// a gpu.launch (convert-rope-to-gpu, or the fused lowering): outlining, NVVM,
/// PTX when `serialize`. Checks that the outlined kernel takes exactly the
/// host function's arguments, in order, and sets `info.entry` and
/// `info.numParams` (a memref's expanded descriptor, or 1 for a scalar).
mlir::LogicalResult finishGpuLowering(mlir::ModuleOp module,
                                      const GpuTarget &target, bool serialize,
                                      GpuKernelInfo &info, std::string &error);

/// Just convert-rope-to-gpu (for --emit gpu).
mlir::LogicalResult lowerToGpuDialect(mlir::ModuleOp module,
                                      const GpuTarget &target);

/// Writes the kernel of the serialized `module` to `outPath`: its PTX, or
/// the cubin `ptxas` makes of it when `ptxas` is not empty (--emit cubin);
/// `json` goes to OUT.json and, when given, `header` to OUT.h.
mlir::LogicalResult
writeGpuKernel(mlir::ModuleOp module, const GpuTarget &target,
               llvm::StringRef ptxas, llvm::StringRef outPath,
               llvm::StringRef json, std::optional<llvm::StringRef> header,
               std::string &error);

/// The PTX text of the (single) gpu.binary in `module`.
mlir::FailureOr<std::string> extractPtx(mlir::ModuleOp module,
                                        std::string &error);

/// The JSON description of a contiguous memref parameter: its expanded
/// descriptor (allocated and aligned pointer, offset 0, the sizes, the
/// strides as products of the later sizes), every field 64-bit.
llvm::json::Object memrefParamsJson(llvm::StringRef name,
                                    llvm::ArrayRef<std::string> sizes);

/// The fields every kernel's JSON document shares: the entry point, the
/// target, the launch shape and the parameter encoding.
llvm::json::Object launchJson(const GpuTarget &target,
                              const GpuKernelInfo &info);

/// The JSON document describing the entry point (ABI, launch shape,
/// semantics).
std::string emitKernelJson(const RopeKernel &kernel, const GpuTarget &target,
                           const GpuKernelInfo &info);

/// The CUDA toolkit's ptxas: $MROPE_PTXAS, PATH, $CUDA_HOME/bin,
/// /usr/local/cuda/bin; empty when none.
std::string findPtxas();
/// ptxas for `--emit cubin` (empty for `--emit ptx`); fails with a one-line
/// `error` saying where it looked when cubin is asked for and none is found.
mlir::FailureOr<std::string> ptxasForEmit(bool cubin, std::string &error);

/// Runs `ptxas` (-O3, -arch=target.chip) on `ptx`; the cubin's bytes, or
/// failure with ptxas's log in `error`.
mlir::FailureOr<std::string> runPtxas(llvm::StringRef ptxas,
                                      llvm::StringRef ptx,
                                      const GpuTarget &target,
                                      std::string &error);

/// Writes `contents` to `path` through a temporary file in the same folder,
/// renamed on success.
mlir::LogicalResult writeAtomically(llvm::StringRef path,
                                    llvm::StringRef contents,
                                    std::string &error);

/// Compiles the kernel and writes `outPath` (PTX, or a cubin when `cubin`)
/// and `<stem>.json` next to it, each via a temporary file renamed on
/// success.
mlir::LogicalResult compileGpuKernel(mlir::MLIRContext &ctx,
                                     const RopeKernel &kernel,
                                     const GpuTarget &target,
                                     llvm::StringRef outPath, bool cubin,
                                     std::string &error);

} // namespace mrope

#endif // MROPE_COMPILE_GPUCOMPILER_H
