//===- RopeToGPU.h - rope.apply -> one gpu.launch ---------------*- C++ -*-===//
#ifndef MROPE_CONVERSION_ROPETOGPU_ROPETOGPU_H
#define MROPE_CONVERSION_ROPETOGPU_ROPETOGPU_H

#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/SmallVector.h"

#include <string>

namespace mrope {
namespace rope {
class ApplyOp;
} // namespace rope

/// Shape of the kernel convert-rope-to-gpu builds.
struct RopeToGPUOptions {
  /// Tokens per thread block (blockDim.y); 0: 256 threads per block.
  int64_t tokensPerBlock = 0;
  /// Consecutive frequencies per thread (blockDim.x = F / this); 0: 16 bytes
  /// of the element type, halved until it divides F.
  int64_t freqsPerThread = 0;
  /// Rows (one head of one token) each thread rotates per loop iteration,
  /// all loads issued before the stores.
  int64_t headsPerIteration = 4;
};

/// The launch geometry chosen for `op` (what a launcher must use, since the
/// kernel's block size is static).
struct RopeLaunchShape {
  int64_t freqsPerThread;  ///< V
  int64_t blockX;          ///< F / V
  int64_t tokensPerBlock;  ///< blockDim.y
  int64_t vectorAlignment; ///< bytes asserted on the vector accesses (0: none)
};

/// Computes the launch shape for `op`, or fails with the reason in `why`.
mlir::FailureOr<RopeLaunchShape>
chooseRopeLaunchShape(rope::ApplyOp op, const RopeToGPUOptions &options,
                      std::string &why);

/// Work the kernel does around the rotation of each row, so that
/// neighbours of the rotation cost no extra pass over memory (the kernel of
/// `mrope-compile --fuse norm,cache --target cuda`, docs/gpu.md). Both lists
/// are empty or have one entry per rotated input of the op.
struct RopeGpuFusion {
  /// RMSNorm of each row over D before the rotation: x / sqrt(mean(x^2) +
  /// eps) * weight, with `weight` a [D] memref (f32 or the input's element
  /// type); null: no norm for that input. The sum of squares is combined
  /// across the threads of a row with warp shuffles.
  llvm::SmallVector<mlir::Value> normWeights;
  double eps = 1e-6;
  /// Where the rotated rows of each input go: null, in place; otherwise a
  /// [B, H, Smax, D] memref of the input's element type whose token
  /// `outputSeqOffset + s` receives token s (the KV-cache slot). Rows past
  /// Smax are not written.
  llvm::SmallVector<mlir::Value> outputs;
  /// An index value (0 when null).
  mlir::Value outputSeqOffset;

  bool empty() const { return normWeights.empty() && outputs.empty(); }
};

/// Replaces the in-place (memref) `op` by one gpu.launch (see the pass
/// description in Passes.td). Fails with the reason in `why`, leaving the IR
/// unchanged.
mlir::LogicalResult lowerRopeApplyToGPU(mlir::RewriterBase &rewriter,
                                        rope::ApplyOp op,
                                        const RopeToGPUOptions &options,
                                        std::string &why);

/// The same kernel with `fusion`'s norm before and its destinations after the
/// rotation. Needs [B, H, S, D] storage, rotary_dim == D (every channel is
/// normalized), a row held by at most one warp (F / V a power of two <= 32)
/// and whole warps per block. The fusion's values must dominate `op`.
mlir::LogicalResult lowerRopeApplyToGPU(mlir::RewriterBase &rewriter,
                                        rope::ApplyOp op,
                                        const RopeToGPUOptions &options,
                                        const RopeGpuFusion &fusion,
                                        std::string &why);

} // namespace mrope

#endif // MROPE_CONVERSION_ROPETOGPU_ROPETOGPU_H
