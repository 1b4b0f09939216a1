//===- RmsNormProducer.h - an RMSNorm feeding a memref rope.apply -*- C++
//-*-===//
//
// After tile-and-fuse and bufferization, the fused kernel's tile holds, for
// each rope.apply input x, an RMSNorm written into x by four linalg ops:
//
//   linalg.fill 0 -> ss
//   linalg.generic  ss[b,h,s] += src[b,h,s,d] * src[b,h,s,d]   (reduction)
//   linalg.generic  rs = rsqrt(ss / D + eps)
//   linalg.generic  x[b,h,s,d] = src[b,h,s,d] * rs[b,h,s] * w[d]
//
// (f16/bf16 src and x: widened to f32 in the sum and the scale, the scaled
// value rounded to x's type.)
//
// Lowered one by one they read each row of src twice and x once more for
// the rotation. convert-rope-to-loops absorbs such a producer into its row
// loop instead: each row is read from memory once, normalized in registers,
// rotated and written once (docs/lowering.md).
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_CONVERSION_ROPETOLOOPS_RMSNORMPRODUCER_H
#define MROPE_CONVERSION_ROPETOLOOPS_RMSNORMPRODUCER_H

#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace mrope {

/// The RMSNorm whose result a rope.apply input holds, as the loop lowering
/// needs it: x[row] = src[row] * rsqrt(sum(src[row]^2) / divisor + eps) * w.
struct RmsNormProducer {
  mlir::Value source;  ///< memref read, shaped like the rope.apply input
  mlir::Value weight;  ///< memref<D x f32>, one weight per channel
  mlir::Value divisor; ///< f32: the mean's denominator (D)
  mlir::Value eps;     ///< f32
  /// fill, sum of squares, rsqrt, scale: replaced by the row loop.
  llvm::SmallVector<mlir::Operation *, 4> ops;
};

/// The RMSNorm producers of `op`'s inputs (std::nullopt where an input has
/// none, or where absorbing one could change what the program computes):
/// the four ops must stand in `op`'s block before it, their temporaries must
/// have no other users, and everything between the first of them and `op`
/// must be another matched producer or free of memory effects.
llvm::SmallVector<std::optional<RmsNormProducer>>
findRmsNormProducers(rope::ApplyOp op);

} // namespace mrope

#endif // MROPE_CONVERSION_ROPETOLOOPS_RMSNORMPRODUCER_H
