//===- FusedKernel.h - QK-norm + RoPE + KV-cache write, one loop -*- C++
//-*-===//
//
// The fused kernel of `mrope-compile --fuse norm,cache`: RMSNorm of every q
// and k head over D (a weight per channel, eps), the rotation one rope.apply
// describes, and k written into a KV cache [B, Hkv, Smax, D] at an offset.
// Built on tensors (linalg RMSNorm producers, rope.apply, the cache as the
// destination of k), tiled by tokens with upstream tile-and-fuse
// (scf::tileConsumerAndFuseProducersUsingSCF), bufferized so that q is
// updated in place and k's tile is normalized and rotated inside the cache
// slot, then lowered by mrope-cpu-pipeline.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_COMPILE_FUSEDKERNEL_H
#define MROPE_COMPILE_FUSEDKERNEL_H

#include "mrope/Compile/CpuCompiler.h"
#include "mrope/Compile/RopeKernel.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LLVM.h"

#include <string>

namespace mrope {

/// A call whose whole k cache has at least this many bytes writes its slot
/// (k's rows written into the cache) with non-temporal stores
/// (docs/compile.md).
constexpr int64_t kStreamingMinBytes = 4 << 20;

/// The least q and k bytes a pooled thread of the fused kernel's wrapper
/// gets: the plain kernel's kMinBytesPerThread, measured for the fused
/// kernel too (docs/benchmarks.md "The fused kernel's floor": below 16 MiB
/// two threads were slower than one in every run).
constexpr int64_t kFusedMinBytesPerThread = 8 << 20;

struct FusedKernel {
  RopeKernel rope;   ///< q and k, f32, [B, H, S, D]
  double eps = 1e-6; ///< rounded to f32 in the kernel
  /// Checks what the fused kernel supports; the message names the flag.
  mlir::LogicalResult verify(std::string &error) const;
};

/// Tokens per tile and cos/sin block of the fused kernel: the target's
/// (CpuTarget::tokensPerBlock), at most what keeps two head blocks of rows in
/// 16 KiB each (the norm's sums run a head ahead of the rotation); an explicit
/// --tokens-per-block as given.
int64_t fusedTokensPerBlock(const FusedKernel &kernel, const CpuTarget &target);

/// `func.func @<name>_kernel(q, k, positions, q_weight, k_weight, slot)` on
/// strided memrefs: the tensor chain, tiled by `tokensPerTile` tokens of one
/// batch row with the norms fused into the loop, and still on tensors
/// inside (bufferization.to_tensor / materialize_in_destination at the
/// edges). Null and `error` set when tiling fails.
mlir::OwningOpRef<mlir::ModuleOp>
buildFusedKernelModule(mlir::MLIRContext &ctx, const FusedKernel &kernel,
                       int64_t tokensPerTile, std::string &error);

/// Empty-tensor elimination + one-shot bufferization, then
/// mrope-cpu-pipeline: the LLVM dialect.
mlir::LogicalResult lowerFusedToLLVMDialect(mlir::ModuleOp module,
                                            const FusedKernel &kernel,
                                            const CpuTarget &target);

/// The C header; with `target`, it also says how that target rounds bf16.
std::string emitFusedCHeader(const FusedKernel &kernel,
                             const CpuTarget *target = nullptr);
std::string emitFusedCWrapper(const FusedKernel &kernel,
                              const CpuTarget &target);

/// Writes `<outPath>` (.so) and its header (.h) as compileSharedLibrary.
mlir::LogicalResult compileFusedSharedLibrary(mlir::MLIRContext &ctx,
                                              const FusedKernel &kernel,
                                              llvm::StringRef outPath,
                                              llvm::StringRef cpu,
                                              std::string &error);

} // namespace mrope

#endif // MROPE_COMPILE_FUSEDKERNEL_H
