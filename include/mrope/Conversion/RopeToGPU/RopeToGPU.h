//===- RopeToGPU.h - rope.apply -> one gpu.launch ---------------*- C++ -*-===//
#ifndef MROPE_CONVERSION_ROPETOGPU_ROPETOGPU_H
#define MROPE_CONVERSION_ROPETOGPU_ROPETOGPU_H

#include "mlir/IR/PatternMatch.h"

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

/// Replaces the in-place (memref) `op` by one gpu.launch (see the pass
/// description in Passes.td). Fails with the reason in `why`, leaving the IR
/// unchanged.
mlir::LogicalResult lowerRopeApplyToGPU(mlir::RewriterBase &rewriter,
                                        rope::ApplyOp op,
                                        const RopeToGPUOptions &options,
                                        std::string &why);

} // namespace mrope

#endif // MROPE_CONVERSION_ROPETOGPU_ROPETOGPU_H
