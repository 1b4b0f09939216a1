//===- FusedGpuKernel.h - QK-norm + RoPE + KV-cache write for CUDA -*- C++ -*-//
//
// The kernel of `mrope-compile --fuse norm,cache --target cuda`: RMSNorm of
// every q and k head over D (a weight per channel, eps), the rotation one
// rope.apply describes, and k written into a KV cache [B, Hkv, Smax, D] at a
// token offset, in one CUDA kernel. It is the rope.apply GPU lowering
// (convert-rope-to-gpu's kernel) with the norm as a prologue of each row and
// the cache as the destination of k's rows (RopeGpuFusion): one rotation,
// shared with the plain kernel. See docs/gpu.md.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_COMPILE_FUSEDGPUKERNEL_H
#define MROPE_COMPILE_FUSEDGPUKERNEL_H

#include "mrope/Compile/GpuCompiler.h"
#include "mrope/Compile/RopeKernel.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>

namespace mrope {

struct FusedGpuKernel {
  RopeKernel rope;   ///< q and k, [B, H, S, D], rotary_dim == D
  double eps = 1e-6; ///< rounded to f32 in the kernel
  /// Checks what the fused CUDA kernel supports; the message names the flag.
  mlir::LogicalResult verify(std::string &error) const;
};

/// The host function `@<name>(q, k, positions, q_weight, k_weight, k_cache,
/// cache_offset)` whose body is the fused kernel as one gpu.launch: q, k
/// `[B, H, S, D]`, positions `[A, B, S]` i64, weights `[D]` and the cache
/// `[B, Hkv, Smax, D]` in the element type, cache_offset an index. Sets the
/// launch shape in `info`. Null and `error` set on failure.
mlir::OwningOpRef<mlir::ModuleOp>
buildFusedGpuModule(mlir::MLIRContext &ctx, const FusedGpuKernel &kernel,
                    const GpuTarget &target, GpuKernelInfo &info,
                    std::string &error);

/// The JSON document of the entry point (as emitKernelJson).
std::string emitFusedGpuJson(const FusedGpuKernel &kernel,
                             const GpuTarget &target,
                             const GpuKernelInfo &info);

/// A C header saying what the kernel computes, its launch shape and its
/// parameters, with an inline function packing them for cuLaunchKernel.
std::string emitFusedGpuHeader(const FusedGpuKernel &kernel,
                               const GpuTarget &target,
                               const GpuKernelInfo &info);

/// Writes `outPath` (PTX, or a cubin when `cubin`), `<stem>.json` and
/// `<stem>.h`, each through a temporary file renamed on success.
mlir::LogicalResult compileFusedGpuKernel(mlir::MLIRContext &ctx,
                                          const FusedGpuKernel &kernel,
                                          const GpuTarget &target,
                                          llvm::StringRef outPath, bool cubin,
                                          std::string &error);

} // namespace mrope

#endif // MROPE_COMPILE_FUSEDGPUKERNEL_H
