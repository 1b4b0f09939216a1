//===- RopeRaise.h - marks rope-raise leaves on its ops ---------*- C++ -*-===//
//
// `rope-raise` turns every rotation of a RoPE site into `rope.apply` on
// tensors inside the onnx.graph (q and k of one layer in one op). Each op
// says which site it came from, so that the fix (`rope-fix`) and
// `mrope-compile --site N` can find the ops of a site:
//
//   mrope.site       i64: the site's index in findRopeSites order (the order
//                    `rope-classify` reports sites in);
//   mrope.rotations  array of strings: the labels of the graph nodes whose
//                    rotated outputs the op's results replace (the q/k Add
//                    nodes), one per result;
//   mrope.vision     unit: the rotations are a vision tower's [tokens, heads,
//                    dim] q/k, which the op sees as [1, heads, tokens, dim].
//
// Both are discardable: passes that rewrite the op may drop them.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_TRANSFORMS_ROPERAISE_H
#define MROPE_TRANSFORMS_ROPERAISE_H

#include "mlir/IR/Operation.h"
#include "llvm/ADT/StringRef.h"

#include <optional>

namespace mrope {

inline constexpr llvm::StringLiteral kRaisedSiteAttr = "mrope.site";
inline constexpr llvm::StringLiteral kRaisedRotationsAttr = "mrope.rotations";
inline constexpr llvm::StringLiteral kRaisedVisionAttr = "mrope.vision";
/// Neighbours a fused kernel can absorb (RopeNeighbours.h), one entry per
/// operand / result: `{eps, node}` of the RMSNorm producing the operand, and
/// `{axis, node, past}` of the KV-cache Concat appending the result; `{}`
/// where there is none. Absent when no rotation of the op has one.
inline constexpr llvm::StringLiteral kRaisedNormsAttr = "mrope.norms";
inline constexpr llvm::StringLiteral kRaisedCacheWritesAttr =
    "mrope.cache_writes";

/// The site index `rope-raise` put on `op`, if any.
inline std::optional<int64_t> raisedSiteIndex(mlir::Operation *op) {
  if (auto attr = op->getAttrOfType<mlir::IntegerAttr>(kRaisedSiteAttr))
    return attr.getInt();
  return std::nullopt;
}

} // namespace mrope

#endif // MROPE_TRANSFORMS_ROPERAISE_H
